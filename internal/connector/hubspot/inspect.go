package hubspot

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/hubspot/hubspothttp"
)

var _ connector.Inspector = (*Conn)(nil)

// standardObjects are the object types Inspect lists besides the portal's
// custom objects, with their labels.
var standardObjects = []struct{ name, label string }{
	{"companies", "Companies"},
	{"contacts", "Contacts"},
	{"deals", "Deals"},
	{"line_items", "Line items"},
	{"products", "Products"},
}

// Inspect implements connector.Inspector: the standard object types Concord
// maps (companies, contacts, deals, line items, products) and the portal's
// custom object types, each with its properties (GET
// /crm/v3/properties/{objectType}). A property's Type is HubSpot's type and
// field type ("string/text", "enumeration/select"); Unique is hasUniqueValue;
// ReadOnly is set for calculated and read-only properties. Rows is -1. A
// token that may not read custom object schemas lists the standard types only.
// It works on a Conn opened with no entities mapped.
func (c *Conn) Inspect(ctx context.Context) (connector.Catalog, error) {
	if c.closed.Load() {
		return connector.Catalog{}, errClosed
	}
	type objType struct{ name, label string }
	types := make([]objType, 0, len(standardObjects))
	for _, o := range standardObjects {
		types = append(types, objType(o))
	}
	schemas, err := c.api.ListSchemas(ctx)
	switch st := hubspothttp.StatusOf(err); {
	case err == nil:
		for _, s := range schemas {
			name := s.FullyQualifiedName
			if name == "" {
				name = s.Name
			}
			types = append(types, objType{name: name, label: s.Labels.Plural})
		}
	case st == http.StatusForbidden || st == http.StatusNotFound:
		c.log.InfoContext(ctx, "custom object schemas not readable; listing standard objects", "status", st)
	default:
		return connector.Catalog{}, fmt.Errorf("inspect hubspot %s: list custom objects: %w", c.system, c.callErr(err))
	}
	var cat connector.Catalog
	for _, t := range types {
		props, err := c.api.ListProperties(ctx, t.name)
		if err != nil {
			return connector.Catalog{}, fmt.Errorf("inspect hubspot %s: properties of %s: %w", c.system, t.name, c.callErr(err))
		}
		cat.Objects = append(cat.Objects, connector.Object{Name: t.name, Label: t.label, Columns: columns(props), Rows: -1})
	}
	slices.SortFunc(cat.Objects, func(a, b connector.Object) int { return strings.Compare(a.Name, b.Name) })
	return cat, nil
}

// columns turns property definitions into catalog columns, sorted by name.
func columns(props []hubspothttp.Property) []connector.Column {
	out := make([]connector.Column, 0, len(props))
	for _, p := range props {
		typ := p.Type
		if p.FieldType != "" {
			typ += "/" + p.FieldType
		}
		out = append(out, connector.Column{
			Name: p.Name, Label: p.Label, Type: typ, Nullable: true,
			ReadOnly: p.ReadOnly(), Unique: p.HasUniqueValue || p.Name == propID,
		})
	}
	slices.SortFunc(out, func(a, b connector.Column) int { return strings.Compare(a.Name, b.Name) })
	return out
}

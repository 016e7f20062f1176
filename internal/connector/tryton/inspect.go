package tryton

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/tryton/trytonrpc"
)

var _ connector.Inspector = (*Conn)(nil)

// Inspect implements connector.Inspector: every model of the database
// (ir.model) with its fields (ir.model.field), sorted by name. A field's Type
// is Tryton's (char, many2one, one2many ...), Ref the related model of a
// relation field; Label is the model's or field's description. Rows is -1.
// It reads the two models only; the user needs read access to them (every
// user has it).
func (c *Conn) Inspect(ctx context.Context) (connector.Catalog, error) {
	models, fields, err := c.modelCatalog(ctx)
	if err != nil {
		return connector.Catalog{}, fmt.Errorf("inspect tryton: %w", err)
	}
	var cat connector.Catalog
	for name, label := range models {
		o := connector.Object{Name: name, Label: label, Rows: -1}
		for _, f := range fields[name] {
			o.Columns = append(o.Columns, f)
		}
		slices.SortFunc(o.Columns, func(a, b connector.Column) int { return strings.Compare(a.Name, b.Name) })
		cat.Objects = append(cat.Objects, o)
	}
	slices.SortFunc(cat.Objects, func(a, b connector.Object) int { return strings.Compare(a.Name, b.Name) })
	return cat, nil
}

// modelCatalog reads ir.model and ir.model.field: model -> label, and model ->
// field name -> column.
func (c *Conn) modelCatalog(ctx context.Context) (map[string]string, map[string]map[string]connector.Column, error) {
	ms, err := c.rpc.SearchRead(ctx, "ir.model", nil, []string{"model", "name"}, trytonrpc.SearchOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("read models: %w", err)
	}
	models := make(map[string]string, len(ms))
	byID := make(map[int64]string, len(ms))
	for _, m := range ms {
		models[m.String("model")] = m.String("name")
		byID[m.ID()] = m.String("model")
	}
	fs, err := c.rpc.SearchRead(ctx, "ir.model.field", nil, []string{"name", "field_description", "ttype", "relation", "model"}, trytonrpc.SearchOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("read model fields: %w", err)
	}
	fields := make(map[string]map[string]connector.Column, len(ms))
	for _, f := range fs {
		model := byID[f.Int("model")]
		if model == "" {
			continue
		}
		if fields[model] == nil {
			fields[model] = map[string]connector.Column{}
		}
		name := f.String("name")
		fields[model][name] = connector.Column{
			Name: name, Label: f.String("field_description"), Type: f.String("ttype"), Ref: f.String("relation"),
			Nullable: true, ReadOnly: name == "id" || name == "create_date" || name == "write_date" || name == "create_uid" || name == "write_uid" || name == "rec_name",
			Unique: name == "id",
		}
	}
	return models, fields, nil
}

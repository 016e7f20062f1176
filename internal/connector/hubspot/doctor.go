package hubspot

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/hubspot/hubspothttp"
	"github.com/concord-sync/concord/internal/model"
)

var _ connector.Doctor = (*Conn)(nil)

// Diagnose implements connector.Doctor. For each mapped entity it checks, with
// reads only, that the object type exists, that every mapped property exists
// (and is writable unless the mapping says read_only), that the link property
// exists and is unique (hasUniqueValue), and that the token has the read and
// write scopes of the object type. The scopes come from HubSpot's
// access-token-info endpoint; for a token it does not describe (not a
// private-app token), a one-record read shows whether reading is allowed and
// writing is not checked. Problems name the setting at fault and the fix. A
// call that fails for another reason (network, 5xx) is returned as an error.
func (c *Conn) Diagnose(ctx context.Context) ([]connector.Problem, error) {
	if c.closed.Load() {
		return nil, errClosed
	}
	var probs []connector.Problem
	scopes, haveScopes := c.tokenScopes(ctx)
	props := map[string]map[string]*hubspothttp.Property{} // object type -> name -> definition; nil: no such type
	load := func(objectType string) (map[string]*hubspothttp.Property, error) {
		if m, done := props[objectType]; done {
			return m, nil
		}
		list, err := c.api.ListProperties(ctx, objectType)
		switch st := hubspothttp.StatusOf(err); {
		case st == http.StatusNotFound || st == http.StatusBadRequest:
			props[objectType] = nil
			return nil, nil
		case err != nil:
			return nil, c.callErr(err)
		}
		m := make(map[string]*hubspothttp.Property, len(list))
		for i := range list {
			m[list[i].Name] = &list[i]
		}
		props[objectType] = m
		return m, nil
	}
	for _, e := range c.sortedEntities() {
		o := c.cfg.entities[e]
		path := SettingEntities + "." + string(e)
		byName, err := load(o.name)
		if hubspothttp.StatusOf(err) == http.StatusForbidden || hubspothttp.StatusOf(err) == http.StatusUnauthorized {
			probs = append(probs, connector.Problem{Setting: SettingToken, Entity: e,
				Msg: fmt.Sprintf("the token may not read the properties of %s (%s)", o.name, e),
				Fix: fmt.Sprintf("give the private app the scope %s", schemaScope(o.name))})
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("diagnose hubspot %s: properties of %s: %w", c.system, o.name, err)
		}
		if byName == nil {
			probs = append(probs, connector.Problem{Setting: path + ".object", Entity: e,
				Msg: fmt.Sprintf("object type %s (%s) does not exist in the portal", o.name, e),
				Fix: "set object to a standard object type (companies, contacts, deals, products, line_items) or a custom object's name"})
			continue
		}
		probs = append(probs, c.linkProblems(o, path, byName)...)
		for _, f := range o.fields {
			fpath := path + ".fields." + f.name
			if f.property != "" {
				probs = append(probs, propertyProblem(o, e, f, fpath, f.property, byName)...)
			}
			if f.currencyProp != "" {
				probs = append(probs, propertyProblem(o, e, f, fpath+".currency_property", f.currencyProp, byName)...)
			}
			if f.association != "" {
				m, err := load(f.association)
				if err != nil && hubspothttp.StatusOf(err) != http.StatusForbidden {
					return nil, fmt.Errorf("diagnose hubspot %s: properties of %s: %w", c.system, f.association, err)
				}
				if err == nil && m == nil {
					probs = append(probs, connector.Problem{Setting: fpath + ".association", Entity: e,
						Msg: fmt.Sprintf("field %s of %s is associated with object type %s, which does not exist in the portal", f.name, e, f.association),
						Fix: "set association to an object type the portal has (companies, contacts, deals, line_items)"})
				}
			}
		}
		rights, err := c.rightsProblems(ctx, o, scopes, haveScopes)
		if err != nil {
			return nil, err
		}
		probs = append(probs, rights...)
	}
	return probs, nil
}

// linkProblems checks o's link property.
func (c *Conn) linkProblems(o *object, path string, byName map[string]*hubspothttp.Property) []connector.Problem {
	lp := byName[o.link]
	switch {
	case lp == nil && c.cfg.createLink:
		return []connector.Problem{{Setting: path + ".link_property", Entity: o.entity, Warning: true,
			Msg: fmt.Sprintf("link property %s.%s does not exist yet; it is created when Concord opens the portal for a sync (create_link_property)", o.name, o.link)}}
	case lp == nil:
		return []connector.Problem{{Setting: path + ".link_property", Entity: o.entity, Writes: true,
			Msg: fmt.Sprintf("link property %s.%s does not exist: creates of %s fail", o.name, o.link, o.entity),
			Fix: fmt.Sprintf("create a single-line text property %s on %s with \"Require unique values\" (hasUniqueValue), or set %s: true", o.link, o.name, SettingCreateLinkProperty)}}
	case !lp.HasUniqueValue:
		return []connector.Problem{{Setting: path + ".link_property", Entity: o.entity, Writes: true,
			Msg: fmt.Sprintf("link property %s.%s is not unique (hasUniqueValue is false): a retried create could make a duplicate, so creates of %s fail", o.name, o.link, o.entity),
			Fix: fmt.Sprintf("HubSpot cannot make an existing property unique: create a new single-line text property on %s with \"Require unique values\" and set link_property to it", o.name)}}
	case lp.ReadOnly():
		return []connector.Problem{{Setting: path + ".link_property", Entity: o.entity, Writes: true,
			Msg: fmt.Sprintf("link property %s.%s is read-only in HubSpot: creates of %s fail", o.name, o.link, o.entity),
			Fix: "set link_property to a writable unique property"}}
	}
	return nil
}

// propertyProblem checks that property name, mapped by field f at setting
// path, exists on o and can be written unless f is read-only.
func propertyProblem(o *object, e model.Entity, f *field, path, name string, byName map[string]*hubspothttp.Property) []connector.Problem {
	p := byName[name]
	if p == nil {
		known := make([]string, 0, len(byName))
		for n := range byName {
			known = append(known, n)
		}
		slices.Sort(known)
		fix := fmt.Sprintf("create the property %s on %s (Settings > Properties) or map field %s to an existing property", name, o.name, f.name)
		if near := nearestName(name, known); near != "" {
			fix = fmt.Sprintf("did you mean %s? (or create the property %s on %s)", near, name, o.name)
		}
		return []connector.Problem{{Setting: path, Entity: e,
			Msg: fmt.Sprintf("property %s.%s (field %s of %s) does not exist", o.name, name, f.name, e), Fix: fix}}
	}
	if p.ReadOnly() && !f.readOnly && name != o.link {
		return []connector.Problem{{Setting: path, Entity: e, Writes: true,
			Msg: fmt.Sprintf("property %s.%s (field %s of %s) is read-only in HubSpot (calculated): writing it fails", o.name, name, f.name, e),
			Fix: "add read_only: true to the field's mapping, or leave the field out of flows into HubSpot"}}
	}
	return nil
}

// nearestName returns the known property name got is most probably a
// misspelling of, or "".
func nearestName(got string, known []string) string {
	s := connector.Suggest(got, known)
	if name, ok := strings.CutPrefix(s, "; did you mean \""); ok {
		return strings.TrimSuffix(name, "\"?")
	}
	return ""
}

// tokenScopes returns the token's scopes, and false when HubSpot does not say
// (a token other than a private app's, or an older portal).
func (c *Conn) tokenScopes(ctx context.Context) (map[string]bool, bool) {
	info, err := c.api.TokenInfo(ctx)
	if err != nil {
		c.log.InfoContext(ctx, "token scopes unknown", "err", err)
		return nil, false
	}
	out := make(map[string]bool, len(info.Scopes))
	for _, s := range info.Scopes {
		out[s] = true
	}
	return out, true
}

// rightsProblems checks that the token may read and write o.
func (c *Conn) rightsProblems(ctx context.Context, o *object, scopes map[string]bool, haveScopes bool) ([]connector.Problem, error) {
	if !haveScopes {
		_, err := c.api.List(ctx, o.name, "", 1, nil, false)
		switch st := hubspothttp.StatusOf(err); {
		case st == http.StatusForbidden || st == http.StatusUnauthorized:
			return []connector.Problem{{Setting: SettingToken, Entity: o.entity,
				Msg: fmt.Sprintf("the token may not read %s (%s)", o.name, o.entity),
				Fix: "give the private app the scope " + objectScopes(o.name, "read")[0]}}, nil
		case err != nil:
			return nil, fmt.Errorf("diagnose hubspot %s: read %s: %w", c.system, o.name, c.callErr(err))
		}
		return nil, nil
	}
	var probs []connector.Problem
	for _, op := range []string{"read", "write"} {
		need := objectScopes(o.name, op)
		if slices.ContainsFunc(need, func(s string) bool { return scopes[s] }) {
			continue
		}
		probs = append(probs, connector.Problem{Setting: SettingToken, Entity: o.entity, Writes: op == "write",
			Msg: fmt.Sprintf("the token may not %s %s (%s): it lacks the scope %s", op, o.name, o.entity, strings.Join(need, " or ")),
			Fix: fmt.Sprintf("add the scope %s to the private app (Settings > Integrations > Private Apps > Scopes) and use its new token", need[0])})
	}
	return probs, nil
}

// objectScopes lists the scopes any one of which allows op (read or write) on
// objectType.
func objectScopes(objectType, op string) []string {
	switch objectType {
	case "companies", "contacts", "deals":
		return []string{"crm.objects." + objectType + "." + op}
	case "products", "line_items":
		return []string{"crm.objects." + objectType + "." + op, "e-commerce"}
	}
	return []string{"crm.objects.custom." + op}
}

// schemaScope is the scope that allows reading objectType's properties.
func schemaScope(objectType string) string {
	switch objectType {
	case "companies", "contacts", "deals":
		return "crm.schemas." + objectType + ".read"
	case "products", "line_items":
		return "e-commerce"
	}
	return "crm.schemas.custom.read"
}

package tryton

import (
	"context"
	"fmt"
	"strings"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/tryton/trytonrpc"
	"github.com/concord-sync/concord/internal/model"
)

var _ connector.Doctor = (*Conn)(nil)

// Diagnose implements connector.Doctor, with reads only. The Tryton mapping is
// fixed (see docs/connectors/tryton.md), so it checks the database against
// it: every model and field the connector reads exists (a missing one means a
// module is not activated), the user may read every model (ir.model.access)
// and may create and write the ones Concord writes, and the party identifier
// type that holds links (link_identifier_type) is one Tryton knows.
func (c *Conn) Diagnose(ctx context.Context) ([]connector.Problem, error) {
	defs := make([]*entityDef, 0, len(entityOrder))
	for _, e := range entityOrder {
		if d := entities[e]; d != nil {
			defs = append(defs, d)
		}
	}
	return c.diagnose(ctx, defs)
}

// diagnose is Diagnose for the mapping defs.
func (c *Conn) diagnose(ctx context.Context, defs []*entityDef) ([]connector.Problem, error) {
	models, fields, err := c.modelCatalog(ctx)
	if err != nil {
		return nil, fmt.Errorf("diagnose tryton: %w", err)
	}
	var probs []connector.Problem
	need := map[string]model.Entity{} // models to check access of -> their entity
	var order []string
	for _, d := range defs {
		e := d.entity
		if _, ok := models[d.model]; !ok {
			probs = append(probs, connector.Problem{Entity: e,
				Msg: fmt.Sprintf("model %s (%s) does not exist in database %s", d.model, e, c.database),
				Fix: "activate the Tryton module that provides it (party, product, sale, account_invoice; scripts/tryton.sh setup activates them all)"})
			continue
		}
		for _, m := range []string{d.model, d.createModel, d.writeModel} {
			if m != "" && need[m] == "" {
				need[m] = e
				order = append(order, m)
			}
		}
		for _, f := range d.read {
			if miss := missingField(fields, d.model, f); miss != "" {
				probs = append(probs, connector.Problem{Entity: e,
					Msg: fmt.Sprintf("field %s of model %s (%s reads %s) does not exist", miss, d.model, e, f),
					Fix: "activate the Tryton module that adds it; Concord supports Tryton 6.0 with the modules scripts/tryton.sh activates"})
			}
		}
		for _, child := range d.children {
			col, ok := fields[d.model][child]
			if ok && col.Ref != "" && need[col.Ref] == "" {
				need[col.Ref] = e
				order = append(order, col.Ref)
			}
		}
	}
	access, err := c.access(ctx, order)
	if err != nil {
		return nil, fmt.Errorf("diagnose tryton: %w", err)
	}
	for _, m := range order {
		a, e := access[m], need[m]
		switch {
		case !a["read"]:
			probs = append(probs, connector.Problem{Setting: SettingUsername, Entity: e,
				Msg: fmt.Sprintf("user %s may not read %s (%s)", c.username, m, e),
				Fix: fmt.Sprintf("give user %s a group with read access to %s (Administration > Users > Groups)", c.username, m)})
		case !a["create"] || !a["write"]:
			var miss []string
			for _, op := range []string{"create", "write"} {
				if !a[op] {
					miss = append(miss, op)
				}
			}
			probs = append(probs, connector.Problem{Setting: SettingUsername, Entity: e, Writes: true,
				Msg: fmt.Sprintf("user %s may not %s %s (%s)", c.username, strings.Join(miss, " or "), m, e),
				Fix: fmt.Sprintf("give user %s a group with %s access to %s (for example Party Administration, Product Administration, Sales)", c.username, strings.Join(miss, " and "), m)})
		}
	}
	if c.linkType != "" {
		ok, err := c.identifierTypeKnown(ctx, c.linkType)
		if err != nil {
			return nil, fmt.Errorf("diagnose tryton: %w", err)
		}
		if !ok {
			probs = append(probs, connector.Problem{Setting: SettingLinkIdentifierType,
				Msg: fmt.Sprintf("party identifier type %q is not one Tryton knows: creates of accounts fail", c.linkType),
				Fix: "leave link_identifier_type empty (an identifier without type) or use a type of the party identifier's Type list"})
		}
	}
	return probs, nil
}

// missingField follows a dotted field path from model and returns the first
// part that does not exist ("" when all do).
func missingField(fields map[string]map[string]connector.Column, model, path string) string {
	cur := model
	for part := range strings.SplitSeq(path, ".") {
		col, ok := fields[cur][part]
		if !ok {
			return part
		}
		cur = col.Ref
	}
	return ""
}

// access asks ir.model.access which operations the user may do on models.
func (c *Conn) access(ctx context.Context, models []string) (map[string]map[string]bool, error) {
	out := make(map[string]map[string]bool, len(models))
	if len(models) == 0 {
		return out, nil
	}
	res, err := c.rpc.Call(ctx, "model.ir.model.access.get_access", models)
	if err != nil {
		return nil, fmt.Errorf("read model access: %w", err)
	}
	m, _ := res.(map[string]any)
	for _, name := range models {
		r, _ := m[name].(map[string]any)
		rec := trytonrpc.Record(r)
		out[name] = map[string]bool{}
		for _, op := range []string{"read", "write", "create", "delete"} {
			out[name][op] = rec.Bool(op)
		}
	}
	return out, nil
}

// identifierTypeKnown reports whether typ is a value of party.identifier's
// type selection.
func (c *Conn) identifierTypeKnown(ctx context.Context, typ string) (bool, error) {
	res, err := c.rpc.Call(ctx, "model.party.identifier.fields_get", []string{"type"})
	if err != nil {
		return false, fmt.Errorf("read identifier types: %w", err)
	}
	f, _ := res.(map[string]any)["type"].(map[string]any)
	sel, isList := f["selection"].([]any)
	if !isList {
		// A selection computed by a method: ask it.
		res, err = c.rpc.Call(ctx, "model.party.identifier.get_types")
		if err != nil {
			// Not callable: do not guess.
			c.log.InfoContext(ctx, "identifier types unknown", "err", err)
			return true, nil
		}
		sel, _ = res.([]any)
	}
	for _, it := range sel {
		if pair, ok := it.([]any); ok && len(pair) > 0 && pair[0] == typ {
			return true, nil
		}
	}
	return false, nil
}

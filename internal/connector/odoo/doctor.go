package odoo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/odoo/odoorpc"
	"github.com/concord-sync/concord/internal/model"
)

var (
	_ connector.Doctor    = (*Conn)(nil)
	_ connector.Inspector = (*Conn)(nil)
)

// moduleOf names the Odoo app that provides a model, for the fix.
var moduleOf = map[string]string{
	"res.partner": "Contacts", "product.product": "Sales (sale_management)", "sale.order": "Sales (sale_management)",
	"sale.order.line": "Sales (sale_management)", "sale.advance.payment.inv": "Sales (sale_management)",
	"account.move": "Invoicing (account)", "stock.warehouse": "Inventory (stock)",
}

// groupFor names the group that grants an access, for the fix.
var groupFor = map[string]string{
	"res.partner": "Contacts: Contact Creation", "product.product": "Sales: Administrator",
	"sale.order": "Sales: User or Administrator", "sale.order.line": "Sales: User or Administrator",
	"sale.advance.payment.inv": "Sales: User and Invoicing: Billing", "account.move": "Invoicing: Billing",
	"stock.warehouse": "Inventory: User",
}

// Diagnose implements connector.Doctor, with reads only. The Odoo mapping is
// fixed (see docs/connectors/odoo.md), so it checks the database against it:
// every model and field the connector reads exists (a missing one means an
// app is not installed), and the user may read every model and may create
// and write the ones Concord writes (check_access_rights), including the
// invoicing wizard and posting when invoice_orders asks for them.
func (c *Conn) Diagnose(ctx context.Context) ([]connector.Problem, error) {
	defs := make([]*entityDef, 0, len(entityOrder))
	for _, e := range entityOrder {
		defs = append(defs, entities[e])
	}
	return c.diagnose(ctx, defs)
}

type need struct {
	model  string
	entity model.Entity
	ops    []string // read, create, write
	writes bool     // matters only when a flow writes entity
}

func (c *Conn) diagnose(ctx context.Context, defs []*entityDef) ([]connector.Problem, error) {
	var probs []connector.Problem
	var needs []need
	for _, d := range defs {
		fields, err := c.fieldsOf(ctx, d.model)
		if err != nil {
			return nil, fmt.Errorf("diagnose odoo: %w", err)
		}
		if fields == nil {
			probs = append(probs, connector.Problem{Entity: d.entity,
				Msg: fmt.Sprintf("model %s (%s) does not exist in database %s", d.model, d.entity, c.database),
				Fix: fmt.Sprintf("install the %s app in Odoo (Apps)", appOf(d.model))})
			continue
		}
		canRead, err := c.mayDo(ctx, d.model, "read")
		if err != nil {
			return nil, fmt.Errorf("diagnose odoo: %w", err)
		}
		want := slices.Clone(d.read)
		if d.linkField != nil {
			want = append(want, d.linkField(c))
		}
		for _, f := range want {
			if _, ok := fields[f]; !ok && canRead {
				// fields_get leaves out the fields a group restricts.
				probs = append(probs, connector.Problem{Entity: d.entity,
					Msg: fmt.Sprintf("field %s of model %s (%s) does not exist, or user %s may not see it", f, d.model, d.entity, c.username),
					Fix: fmt.Sprintf("install the Odoo app that adds it (Sales, Invoicing, Inventory, Contacts; Concord supports Odoo 17.0), or give user %s the group %s", c.username, groupFor[d.model])})
			}
		}
		needs = append(needs, need{model: d.model, entity: d.entity, ops: []string{"read"}})
		if len(d.readOnly) < len(d.fields) {
			needs = append(needs, need{model: d.model, entity: d.entity, ops: []string{"create", "write"}, writes: true})
		}
		if d.entity == model.Order {
			needs = append(needs, need{model: "sale.order.line", entity: d.entity, ops: []string{"create"}, writes: true})
			if c.invoiceOrders != InvoiceNone {
				needs = append(needs, need{model: "sale.advance.payment.inv", entity: d.entity, ops: []string{"create"}, writes: true},
					need{model: "account.move", entity: d.entity, ops: []string{"create", "write"}, writes: true})
			}
		}
	}
	for _, n := range needs {
		var denied []string
		for _, op := range n.ops {
			ok, err := c.mayDo(ctx, n.model, op)
			if err != nil {
				return nil, fmt.Errorf("diagnose odoo: %w", err)
			}
			if !ok {
				denied = append(denied, op)
			}
		}
		if len(denied) == 0 {
			continue
		}
		probs = append(probs, connector.Problem{Setting: SettingUsername, Entity: n.entity, Writes: n.writes,
			Msg: fmt.Sprintf("user %s may not %s %s (%s)", c.username, strings.Join(denied, " or "), n.model, n.entity),
			Fix: fmt.Sprintf("give user %s the group %s (Settings > Users & Companies > Users)", c.username, groupFor[n.model])})
	}
	return probs, nil
}

func appOf(m string) string {
	if a, ok := moduleOf[m]; ok {
		return a
	}
	return "app that provides " + m
}

// fieldsOf returns the fields of a model by name, nil when the model does
// not exist.
func (c *Conn) fieldsOf(ctx context.Context, m string) (map[string]map[string]any, error) {
	// ir.model needs Administration rights; fields_get of a model that does
	// not exist answers "Object ... doesn't exist".
	res, err := c.rpc.ExecuteKw(ctx, m, "fields_get", []any{}, odoorpc.Kwargs{"attributes": []string{"type", "string", "relation", "required", "readonly"}})
	var oe *odoorpc.Error
	if errors.As(err, &oe) && strings.Contains(oe.Message, "doesn't exist") {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read fields of %s: %w", m, err)
	}
	raw, _ := res.(map[string]any)
	out := make(map[string]map[string]any, len(raw))
	for name, v := range raw {
		attrs, _ := v.(map[string]any)
		out[name] = attrs
	}
	return out, nil
}

// mayDo asks Odoo whether the user may do op (read, create, write, unlink)
// on model.
func (c *Conn) mayDo(ctx context.Context, m, op string) (bool, error) {
	res, err := c.rpc.ExecuteKw(ctx, m, "check_access_rights", []any{op}, odoorpc.Kwargs{"raise_exception": false})
	if err != nil {
		return false, fmt.Errorf("check %s access to %s: %w", op, m, err)
	}
	ok, _ := res.(bool)
	return ok, nil
}

// modelLabels are Odoo's own names of the inspected models (ir.model, which
// holds them, is for administrators only).
var modelLabels = map[string]string{"res.partner": "Contact", "product.product": "Product Variant",
	"sale.order": "Sales Order", "sale.order.line": "Sales Order Line", "account.move": "Journal Entry"}

// inspected are the models Inspect lists: those the mapping uses.
var inspected = []string{"res.partner", "product.product", "sale.order", "sale.order.line", "account.move"}

// Inspect implements connector.Inspector: the models the connector maps, with
// their fields (type, label, relation, required).
func (c *Conn) Inspect(ctx context.Context) (connector.Catalog, error) {
	var cat connector.Catalog
	for _, m := range inspected {
		fields, err := c.fieldsOf(ctx, m)
		if err != nil {
			return cat, fmt.Errorf("inspect odoo: %w", mapErr(err))
		}
		if fields == nil {
			continue
		}
		obj := connector.Object{Name: m, Label: modelLabels[m], Rows: -1}
		names := make([]string, 0, len(fields))
		for n := range fields {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			a := fields[n]
			typ, _ := a["type"].(string)
			lbl, _ := a["string"].(string)
			rel, _ := a["relation"].(string)
			req, _ := a["required"].(bool)
			ro, _ := a["readonly"].(bool)
			obj.Columns = append(obj.Columns, connector.Column{Name: n, Label: lbl, Type: typ, Ref: rel, Nullable: !req, ReadOnly: ro, Unique: n == "id"})
		}
		cat.Objects = append(cat.Objects, obj)
	}
	return cat, nil
}

package odoo

import (
	"context"
	"fmt"
	"strings"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/odoo/odoorpc"
	"github.com/concord-sync/concord/internal/model"
)

// entityDef maps one canonical entity to an Odoo model.
type entityDef struct {
	entity   model.Entity
	model    string
	fields   []string
	readOnly []string
	// read lists the Odoo fields toFields needs (write_date, active and the
	// link field are added).
	read []string
	// labels maps Odoo field names (as errors name them) to canonical fields.
	labels map[string]string
	// messages maps texts of Odoo refusals that name no field (SQL
	// constraints) to the canonical field at fault.
	messages map[string]string
	// linkField returns the field holding the link key; nil when the entity
	// is only read (invoices: the engine links them through their order).
	linkField func(c *Conn) string
	// domain restricts what the entity covers (companies only, say).
	domain func(c *Conn) odoorpc.Domain
	// context adds read context keys (the warehouse for stock).
	context  func(c *Conn) odoorpc.Context
	toFields func(c *Conn, r odoorpc.Record) model.Fields
	// values translates the given canonical fields (only those) to Odoo values;
	// cur is the record's current fields for an update, nil for a create.
	values func(c *Conn, f, cur model.Fields) (odoorpc.Values, error)
	// createExtra are values every create sets unless the op sets them.
	createExtra odoorpc.Values
	// needsCurrent makes Write read the records an update changes first, for
	// values (a contact's name is first and last name together).
	needsCurrent bool
	// template is true when the record's product template's write_date counts
	// as a change of the record (product.product).
	template bool
	// noActive is true for models without an active field (orders,
	// invoices): records are never archived.
	noActive bool
	// expand reads what toFields needs beyond the record's own fields (an
	// order's lines, an invoice's order), for all rows in one call.
	expand func(ctx context.Context, c *Conn, rows []odoorpc.Record) error
	// write replaces the generic Write (orders: confirm and invoice).
	write func(ctx context.Context, c *Conn, d *entityDef, ops []connector.Op) ([]connector.Result, error)
}

var entities = map[model.Entity]*entityDef{
	model.Account: accountDef(),
	model.Contact: contactDef(),
	model.Product: productDef(),
	model.Order:   orderDef(),
	model.Invoice: invoiceDef(),
}

// fieldError is a refusal by the connector itself (an unknown country code, a
// currency other than the company's), naming the canonical field.
type fieldError struct {
	field string
	msg   string
}

func (e *fieldError) Error() string { return fmt.Sprintf("field %s: %s", e.field, e.msg) }

func text(v model.Value) any {
	if v.IsNull() {
		return false
	}
	return v.String()
}

func textOf(r odoorpc.Record, name string) model.Value {
	if s := r.String(name); s != "" {
		return model.Text(s)
	}
	return model.Null
}

func accountDef() *entityDef {
	plain := map[string]string{"name": "name", "email": "email", "phone": "phone", "street": "street",
		"city": "city", "zip": "zip", "vat": "vat"}
	labels := map[string]string{"country_id": "country", "active": "active"}
	for k, v := range plain {
		labels[k] = v
	}
	return &entityDef{
		entity:    model.Account,
		model:     "res.partner",
		fields:    []string{"name", "email", "phone", "street", "city", "zip", "country", "vat", "active"},
		read:      []string{"name", "email", "phone", "street", "city", "zip", "country_id", "vat"},
		labels:    labels,
		messages:  map[string]string{"Contacts require a name": "name"},
		linkField: func(c *Conn) string { return c.partnerLink },
		domain: func(c *Conn) odoorpc.Domain {
			return odoorpc.Domain{odoorpc.Leaf("is_company", "=", true), odoorpc.Leaf("id", "!=", c.companyPartner)}
		},
		createExtra: odoorpc.Values{"is_company": true, "customer_rank": 1},
		toFields: func(c *Conn, r odoorpc.Record) model.Fields {
			f := model.Fields{"active": model.Bool(r.Bool("active"))}
			for odoo, canon := range plain {
				f[canon] = textOf(r, odoo)
			}
			f["country"] = model.Null
			if code := c.countryByID[r.Int("country_id")]; code != "" {
				f["country"] = model.Text(code)
			}
			return f
		},
		values: func(c *Conn, f, _ model.Fields) (odoorpc.Values, error) {
			v := odoorpc.Values{}
			for odoo, canon := range plain {
				if val, ok := f[canon]; ok {
					v[odoo] = text(val)
				}
			}
			if val, ok := f["country"]; ok {
				if val.IsNull() {
					v["country_id"] = false
				} else {
					id, ok := c.countryByCode[strings.ToUpper(val.String())]
					if !ok {
						return nil, &fieldError{field: "country", msg: fmt.Sprintf("no country with code %q in Odoo", val.String())}
					}
					v["country_id"] = id
				}
			}
			if val, ok := f["active"]; ok && val.Kind == model.KindBool {
				v["active"] = val.Bool
			}
			return v, nil
		},
	}
}

func productDef() *entityDef {
	plain := map[string]string{"default_code": "sku", "name": "name", "description_sale": "description"}
	labels := map[string]string{"list_price": "list_price", "standard_price": "cost_price", "uom_id": "unit",
		"categ_id": "category", "active": "active", "product_tmpl_id": "name"}
	for k, v := range plain {
		labels[k] = v
	}
	return &entityDef{
		entity:   model.Product,
		model:    "product.product",
		fields:   []string{"sku", "name", "description", "list_price", "cost_price", "stock", "unit", "category", "active"},
		readOnly: []string{"stock", "category"},
		read: []string{"default_code", "name", "description_sale", "list_price", "standard_price", "qty_available",
			"uom_id", "categ_id", "product_tmpl_id"},
		labels:    labels,
		linkField: func(c *Conn) string { return c.productLink },
		context: func(c *Conn) odoorpc.Context {
			if c.warehouse != 0 {
				return odoorpc.Context{"warehouse": c.warehouse}
			}
			return nil
		},
		// Storable, so that stock on hand means something.
		createExtra: odoorpc.Values{"detailed_type": "product"},
		template:    true,
		toFields: func(c *Conn, r odoorpc.Record) model.Fields {
			f := model.Fields{"active": model.Bool(r.Bool("active"))}
			for odoo, canon := range plain {
				f[canon] = textOf(r, odoo)
			}
			for odoo, canon := range map[string]string{"list_price": "list_price", "standard_price": "cost_price"} {
				if d, ok := r.Decimal(odoo); ok {
					f[canon] = model.Money(model.RoundMoney(d, c.currency), c.currency)
				}
			}
			if d, ok := r.Rounded("qty_available", 6); ok {
				f["stock"] = model.Decimal(d)
			}
			_, unit := r.Many2one("uom_id")
			f["unit"] = model.Text(unit)
			_, cat := r.Many2one("categ_id")
			f["category"] = model.Text(cat)
			return f
		},
		values: func(c *Conn, f, _ model.Fields) (odoorpc.Values, error) {
			v := odoorpc.Values{}
			for odoo, canon := range plain {
				if val, ok := f[canon]; ok {
					v[odoo] = text(val)
				}
			}
			for odoo, canon := range map[string]string{"list_price": "list_price", "standard_price": "cost_price"} {
				val, ok := f[canon]
				if !ok {
					continue
				}
				switch {
				case val.IsNull():
					v[odoo] = 0
				case val.Kind != model.KindMoney && val.Kind != model.KindDecimal:
					return nil, &fieldError{field: canon, msg: "want an amount, got " + val.Kind.String()}
				case val.Kind == model.KindMoney && val.Currency != "" && val.Currency != c.currency:
					return nil, &fieldError{field: canon, msg: fmt.Sprintf("amount in %s; Odoo keeps product prices in the company currency %s", val.Currency, c.currency)}
				default:
					v[odoo] = val.Num
				}
			}
			if val, ok := f["unit"]; ok && !val.IsNull() {
				id, ok := c.uomByName[strings.ToLower(val.String())]
				if !ok {
					return nil, &fieldError{field: "unit", msg: fmt.Sprintf("no unit of measure %q in Odoo", val.String())}
				}
				v["uom_id"], v["uom_po_id"] = id, id
			}
			if val, ok := f["active"]; ok && val.Kind == model.KindBool {
				v["active"] = val.Bool
			}
			return v, nil
		},
	}
}

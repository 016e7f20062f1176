package tryton

import (
	"context"
	"fmt"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/tryton/trytonrpc"
	"github.com/concord-sync/concord/internal/model"
)

var (
	productFields   = []string{"sku", "name", "description", "list_price", "cost_price", "stock", "unit", "category", "active"}
	productReadOnly = []string{"stock"}
	// templateFields are the canonical product fields stored on the template;
	// the others live on the variant.
	templateFields = map[string]bool{"sku": true, "name": true, "list_price": true, "unit": true, "category": true}
)

// productDef maps product <-> product.product (the variant, which sale lines
// reference) and its template. A create makes the template with one variant
// in one call; an update writes the template with the variant nested, so
// both change in one transaction. The CRM id is a product.identifier without
// type on the variant.
func productDef() *entityDef {
	return &entityDef{
		entity:    model.Product,
		model:     "product.product",
		fields:    productFields,
		readOnly:  productReadOnly,
		hasActive: true,
		read: []string{"code", "name", "description", "list_price", "cost_price", "quantity",
			"default_uom", "account_category", "account_category.name", "template", "template.active",
			"identifiers", "identifiers.type", "identifiers.code"},
		children: []string{"template", "identifiers"},
		context: func(c *Conn) trytonrpc.Context {
			// Without locations the quantity reads 0.
			return trytonrpc.Context{"locations": []int64{c.warehouse}}
		},
		linkDomain: func(_ *Conn, keys []string) trytonrpc.Domain {
			return trytonrpc.Domain{
				trytonrpc.Leaf("identifiers.code", "in", keys),
				trytonrpc.Leaf("identifiers.type", "=", nil),
			}
		},
		linkKey:     productLinkKey,
		toFields:    productToFields,
		createModel: "product.template",
		created:     variantsOf,
		writeModel:  "product.template",
		writeID:     func(cur trytonrpc.Record) int64 { return cur.Int("template") },
		create:      productCreate,
		update:      productUpdate,
		// Not lazyVersion: Tryton writes the variant right after creating it
		// (its code is synchronised from the template), so it is never "as created".
		labels: map[string]string{
			"Product Template.Name": "name", "Product Template.Code": "sku", "Product Template.List Price": "list_price",
			"Product Template.Default UOM": "unit", "Product Template.Account Category": "category",
			"Variant.Cost Price": "cost_price", "Variant.Description": "description",
			"Name": "name", "List Price": "list_price", "Cost Price": "cost_price", "Default UOM": "unit",
		},
	}
}

func productLinkKey(_ *Conn, r trytonrpc.Record) string {
	for _, id := range r.RelatedList("identifiers") {
		if id.String("type") == "" {
			return id.String("code")
		}
	}
	return ""
}

func productToFields(c *Conn, r trytonrpc.Record) model.Fields {
	f := model.Fields{
		"sku":         textValue(r.String("code")),
		"name":        textValue(r.String("name")),
		"description": textValue(r.String("description")),
		"unit":        textValue(c.uomByID[r.Int("default_uom")]),
		"category":    textValue(r.Related("account_category").String("name")),
		"active":      model.Bool(r.Bool("active") && r.Related("template").Bool("active")),
		"list_price":  model.Null,
		"cost_price":  model.Null,
		"stock":       model.Null,
	}
	if d, ok := r.Decimal("list_price"); ok {
		f["list_price"] = model.Money(d, c.currency)
	}
	if d, ok := r.Decimal("cost_price"); ok {
		f["cost_price"] = model.Money(d, c.currency)
	}
	if d, ok := r.Decimal("quantity"); ok {
		f["stock"] = model.Decimal(d)
	}
	return f
}

// variantsOf maps created template ids to their (single) variant ids.
func variantsOf(ctx context.Context, c *Conn, templates []int64) ([]int64, error) {
	rows, err := c.rpc.SearchRead(ctx, "product.product", trytonrpc.Domain{trytonrpc.Leaf("template", "in", templates)},
		[]string{"template"}, trytonrpc.SearchOptions{Context: trytonrpc.Context{"active_test": false}, Order: []trytonrpc.Order{{Field: "id"}}})
	if err != nil {
		return nil, fmt.Errorf("find variants: %w", err)
	}
	byTemplate := make(map[int64]int64, len(rows))
	for _, r := range rows {
		if _, ok := byTemplate[r.Int("template")]; !ok {
			byTemplate[r.Int("template")] = r.ID()
		}
	}
	out := make([]int64, len(templates))
	for i, t := range templates {
		id, ok := byTemplate[t]
		if !ok {
			return nil, fmt.Errorf("find variants: template %d has none", t)
		}
		out[i] = id
	}
	return out, nil
}

// money returns the amount of a money field in the company currency.
func (c *Conn) money(field string, v model.Value) (*decimal.Decimal, error) {
	if v.IsNull() {
		return nil, nil
	}
	switch v.Kind {
	case model.KindMoney:
		if v.Currency != c.currency {
			return nil, badField(field, "field %s: amount in %s, tryton prices are in %s", field, v.Currency, c.currency)
		}
	case model.KindDecimal:
	default:
		return nil, badField(field, "field %s: want money, got %s", field, v.Kind)
	}
	d := v.Num
	return &d, nil
}

func (c *Conn) uom(field string, v model.Value) (int64, error) {
	s, err := text(field, v)
	if err != nil || s == "" {
		return 0, err
	}
	id, ok := c.uomByName[strings.ToLower(s)]
	if !ok {
		return 0, badField(field, "field %s: no unit of measure %q in tryton", field, s)
	}
	return id, nil
}

func (c *Conn) category(v model.Value) (int64, error) {
	s, err := text("category", v)
	if err != nil || s == "" {
		return 0, err
	}
	id, ok := c.categoryByName[strings.ToLower(s)]
	if !ok {
		return 0, badField("category", "field category: no accounting product category %q in tryton", s)
	}
	return id, nil
}

// productValues splits op's fields into template and variant values.
func (c *Conn) productValues(op connector.Op) (tmpl, variant trytonrpc.Values, err error) {
	if err := checkFields(model.Product, productFields, productReadOnly, op.Fields); err != nil {
		return nil, nil, err
	}
	tmpl, variant = trytonrpc.Values{}, trytonrpc.Values{}
	for _, name := range op.Fields.Names() {
		v := op.Fields[name]
		dst := variant
		if templateFields[name] {
			dst = tmpl
		}
		switch name {
		case "sku", "name", "description":
			s, err := text(name, v)
			if err != nil {
				return nil, nil, err
			}
			native := map[string]string{"sku": "code", "name": "name", "description": "description"}[name]
			dst[native] = nullIfEmpty(s)
		case "list_price", "cost_price":
			d, err := c.money(name, v)
			if err != nil {
				return nil, nil, err
			}
			if d == nil {
				zero := decimal.Zero // both are required by Tryton
				d = &zero
			}
			dst[name] = *d
		case "unit":
			id, err := c.uom(name, v)
			if err != nil {
				return nil, nil, err
			}
			if id != 0 {
				tmpl["default_uom"], tmpl["sale_uom"] = id, id
			}
		case "category":
			id, err := c.category(v)
			if err != nil {
				return nil, nil, err
			}
			tmpl["account_category"] = nullIfZero(id)
		case "active":
			if v.IsNull() {
				continue
			}
			if v.Kind != model.KindBool {
				return nil, nil, badField(name, "field active: want bool, got %s", v.Kind)
			}
			tmpl["active"], variant["active"] = v.Bool, v.Bool
		}
	}
	return tmpl, variant, nil
}

func nullIfZero(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

func productCreate(_ context.Context, c *Conn, op connector.Op) (trytonrpc.Values, error) {
	tmpl, variant, err := c.productValues(op)
	if err != nil {
		return nil, err
	}
	if _, ok := tmpl["name"]; !ok || tmpl["name"] == nil {
		return nil, badField("name", "field name: a product needs a name")
	}
	tmpl["type"] = "goods"
	tmpl["salable"] = true
	if _, ok := tmpl["default_uom"]; !ok {
		tmpl["default_uom"], tmpl["sale_uom"] = c.unit, c.unit
	}
	if _, ok := tmpl["account_category"]; !ok && c.productCategory != 0 {
		tmpl["account_category"] = c.productCategory
	}
	if _, ok := tmpl["list_price"]; !ok {
		tmpl["list_price"] = decimal.Zero
	}
	if op.LinkKey != "" {
		variant["identifiers"] = []any{[]any{"create", []trytonrpc.Values{{"code": op.LinkKey}}}}
	}
	tmpl["products"] = []any{[]any{"create", []trytonrpc.Values{variant}}}
	return tmpl, nil
}

func productUpdate(_ context.Context, c *Conn, op connector.Op, cur trytonrpc.Record) (trytonrpc.Values, error) {
	tmpl, variant, err := c.productValues(op)
	if err != nil {
		return nil, err
	}
	if op.LinkKey != "" && productLinkKey(c, cur) != op.LinkKey {
		variant["identifiers"] = []any{[]any{"create", []trytonrpc.Values{{"code": op.LinkKey}}}}
	}
	if len(variant) > 0 {
		tmpl["products"] = []any{[]any{"write", []int64{cur.ID()}, variant}}
	}
	return tmpl, nil
}

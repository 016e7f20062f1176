package tryton

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/tryton/trytonrpc"
	"github.com/concord-sync/concord/internal/model"
)

var (
	orderFields   = []string{"reference", "number", "state", "account", "contact", "order_date", "currency", "lines", "total", "untaxed"}
	orderReadOnly = []string{"number", "state", "total", "untaxed"}
	lineFields    = []string{"product", "description", "quantity", "unit", "unit_price", "discount", "amount"}
)

// priceDigits is the precision of sale.line unit_price that scripts/tryton.sh
// configures ([product] price_decimal = 8; Tryton's default is 4, which loses
// cents when a discount is folded into the unit price of a large quantity).
const priceDigits = 8

// orderDef maps order <-> sale.sale with its lines. A create sends every
// line value itself (create runs no on_change): unit from the product's sale
// unit, unit price from the product when not given, taxes from the product's
// accounting category; then quotes and confirms the sale and checks that
// Tryton invoiced it. The CRM deal id is the sale's reference.
func orderDef() *entityDef {
	return &entityDef{
		entity:   model.Order,
		model:    "sale.sale",
		fields:   orderFields,
		readOnly: orderReadOnly,
		read: []string{"reference", "number", "state", "party", "contact", "sale_date", "currency", "currency.code",
			"total_amount", "untaxed_amount", "invoice_state", "invoices",
			"lines", "lines.type", "lines.product", "lines.description", "lines.quantity", "lines.unit",
			"lines.unit_price", "lines.amount"},
		children: []string{"lines"},
		linkDomain: func(_ *Conn, keys []string) trytonrpc.Domain {
			return trytonrpc.Domain{trytonrpc.Leaf("reference", "in", keys)}
		},
		linkKey:     func(_ *Conn, r trytonrpc.Record) string { return r.String("reference") },
		toFields:    saleToFields,
		create:      saleCreate,
		update:      saleUpdate,
		afterCreate: saleWorkflow,
		afterUpdate: saleFinish,
		labels: map[string]string{
			"Sale.Party": "account", "Sale.Contact": "contact", "Sale.Invoice Address": "account", "Sale.Shipment Address": "account",
			"Sale.Currency": "currency", "Sale.Sale Date": "order_date", "Sale.Reference": "reference",
			"Sale Line.Product": "lines", "Sale Line.Quantity": "lines", "Sale Line.Unit": "lines",
			"Sale Line.Unit Price": "lines", "Sale Line.Taxes": "lines", "Sale Line.Description": "lines",
		},
	}
}

func saleToFields(c *Conn, r trytonrpc.Record) model.Fields {
	cur := r.Related("currency").String("code")
	if cur == "" {
		cur = c.currency
	}
	f := model.Fields{
		"reference":  textValue(r.String("reference")),
		"number":     textValue(r.String("number")),
		"state":      textValue(r.String("state")),
		"account":    model.Null,
		"contact":    model.Null,
		"order_date": model.Null,
		"currency":   model.Text(cur),
		"total":      model.Null,
		"untaxed":    model.Null,
	}
	if id := r.Int("party"); id != 0 {
		f["account"] = model.Ref(model.Account, strconv.FormatInt(id, 10))
	}
	if id := r.Int("contact"); id != 0 {
		f["contact"] = model.Ref(model.Contact, strconv.FormatInt(id, 10))
	}
	if d, ok := r.Date("sale_date"); ok {
		f["order_date"] = model.Date(d.Time())
	}
	if d, ok := r.Decimal("total_amount"); ok {
		f["total"] = model.Money(d, cur)
	}
	if d, ok := r.Decimal("untaxed_amount"); ok {
		f["untaxed"] = model.Money(d, cur)
	}
	byID := map[int64]trytonrpc.Record{}
	for _, l := range r.RelatedList("lines") {
		byID[l.ID()] = l
	}
	var lines []model.Record
	for _, id := range r.IDs("lines") { // Tryton's order: sequence, id
		l, ok := byID[id]
		if !ok || (l.String("type") != "" && l.String("type") != "line") {
			continue // subtotals, titles and comments are not order lines
		}
		lf := model.Fields{
			"product":     model.Null,
			"description": textValue(l.String("description")),
			"quantity":    model.Null,
			"unit":        textValue(c.uomByID[l.Int("unit")]),
			"unit_price":  model.Null,
			"discount":    model.Null,
			"amount":      model.Null,
		}
		if p := l.Int("product"); p != 0 {
			lf["product"] = model.Ref(model.Product, strconv.FormatInt(p, 10))
		}
		if d, ok := l.Decimal("quantity"); ok {
			lf["quantity"] = model.Decimal(d)
		}
		if d, ok := l.Decimal("unit_price"); ok {
			lf["unit_price"] = model.Money(d, cur)
		}
		if d, ok := l.Decimal("amount"); ok {
			lf["amount"] = model.Money(d, cur)
		}
		lines = append(lines, model.Record{Entity: model.OrderLine, ID: strconv.FormatInt(id, 10), Fields: lf})
	}
	f["lines"] = model.Lines(lines)
	return f
}

// refID returns the Tryton id of a reference to entity.
func refID(field string, entity model.Entity, v model.Value) (int64, error) {
	if v.IsNull() {
		return 0, nil
	}
	if v.Kind != model.KindRef || (v.Entity != "" && v.Entity != entity) {
		return 0, badField(field, "field %s: want a reference to %s, got %s", field, entity, v.Kind)
	}
	id, err := strconv.ParseInt(v.Str, 10, 64)
	if err != nil || id <= 0 {
		return 0, badField(field, "field %s: %q is not a tryton %s id", field, v.Str, entity)
	}
	return id, nil
}

// saleHeader translates the header fields of op (not lines). curParty is the
// party of the sale updated (0 for a create).
func (c *Conn) saleHeader(ctx context.Context, op connector.Op, curParty int64) (trytonrpc.Values, error) {
	vals := trytonrpc.Values{}
	if v, ok := op.Fields["account"]; ok {
		party, err := refID("account", model.Account, v)
		if err != nil {
			return nil, err
		}
		if party == 0 {
			return nil, badField("account", "field account: a sale needs a customer")
		}
		// quote refuses a sale without invoice and shipment addresses.
		rows, err := c.rpc.SearchRead(ctx, "party.party", trytonrpc.Domain{trytonrpc.Leaf("id", "=", party)}, []string{"addresses"},
			trytonrpc.SearchOptions{Context: trytonrpc.Context{"active_test": false}})
		if err != nil {
			return nil, fmt.Errorf("read party %d: %w", party, err)
		}
		if len(rows) == 0 {
			return nil, badField("account", "field account: no tryton party %d", party)
		}
		addrs := rows[0].IDs("addresses")
		if len(addrs) == 0 {
			return nil, badField("account", "field account: tryton party %d has no address (a sale needs one)", party)
		}
		vals["party"], vals["invoice_address"], vals["shipment_address"] = party, addrs[0], addrs[0]
	}
	if v, ok := op.Fields["contact"]; ok {
		party := curParty
		if p, ok := vals["party"].(int64); ok {
			party = p
		}
		id, err := c.saleContact(ctx, v, party)
		if err != nil {
			return nil, err
		}
		vals["contact"] = nil
		if id != 0 {
			vals["contact"] = id
		}
	}
	if v, ok := op.Fields["order_date"]; ok {
		switch {
		case v.IsNull():
			vals["sale_date"] = nil
		case v.Kind == model.KindDate || v.Kind == model.KindTime:
			vals["sale_date"] = trytonrpc.DateOf(v.Time)
		default:
			return nil, badField("order_date", "field order_date: want a date, got %s", v.Kind)
		}
	}
	if v, ok := op.Fields["currency"]; ok {
		s, err := text("currency", v)
		if err != nil {
			return nil, err
		}
		if s != "" {
			id, ok := c.currencyByCode[strings.ToUpper(s)]
			if !ok {
				return nil, badField("currency", "field currency: no currency %q in tryton", s)
			}
			vals["currency"] = id
		}
	}
	if v, ok := op.Fields["reference"]; ok {
		s, err := text("reference", v)
		if err != nil {
			return nil, err
		}
		vals["reference"] = nullIfEmpty(s)
	}
	if op.LinkKey != "" {
		vals["reference"] = op.LinkKey
	}
	return vals, nil
}

// saleLines returns the create values of the canonical lines.
func (c *Conn) saleLines(ctx context.Context, v model.Value) ([]trytonrpc.Values, error) {
	if v.IsNull() || (v.Kind == model.KindLines && len(v.Lines) == 0) {
		return nil, nil
	}
	if v.Kind != model.KindLines {
		return nil, badField("lines", "field lines: want lines, got %s", v.Kind)
	}
	ids := make([]int64, len(v.Lines))
	for i, l := range v.Lines {
		for _, name := range l.Fields.Names() {
			if !containsStr(lineFields, name) {
				return nil, badField("lines", "field lines: line %d: field %s is not mapped", i+1, name)
			}
		}
		id, err := refID("lines", model.Product, l.Fields["product"])
		if err != nil {
			return nil, badField("lines", "field lines: line %d: %v", i+1, err)
		}
		if id == 0 {
			return nil, badField("lines", "field lines: line %d has no product", i+1)
		}
		ids[i] = id
	}
	// Search first: read refuses unknown ids for the whole call.
	rows, err := c.rpc.SearchRead(ctx, "product.product", trytonrpc.Domain{trytonrpc.Leaf("id", "in", ids)},
		[]string{"default_uom", "sale_uom", "list_price", "account_category.customer_taxes_used"},
		trytonrpc.SearchOptions{Context: trytonrpc.Context{"active_test": false}})
	if err != nil {
		return nil, fmt.Errorf("read products: %w", err)
	}
	products := map[int64]trytonrpc.Record{}
	for _, r := range rows {
		products[r.ID()] = r
	}
	out := make([]trytonrpc.Values, len(v.Lines))
	for i, l := range v.Lines {
		p, ok := products[ids[i]]
		if !ok {
			return nil, badField("lines", "field lines: line %d: no tryton product %d", i+1, ids[i])
		}
		lv := trytonrpc.Values{"type": "line", "product": ids[i], "sequence": i + 1}
		q := l.Fields["quantity"]
		switch {
		case q.IsNull():
			lv["quantity"] = 1.0
		case q.Kind == model.KindDecimal:
			lv["quantity"] = q.Num.InexactFloat64()
		default:
			return nil, badField("lines", "field lines: line %d: quantity: want decimal, got %s", i+1, q.Kind)
		}
		unit := p.Int("sale_uom")
		if unit == 0 {
			unit = p.Int("default_uom")
		}
		if u := l.Fields["unit"]; !u.IsNull() {
			id, err := c.uom("lines", u)
			if err != nil {
				return nil, badField("lines", "field lines: line %d: %v", i+1, err)
			}
			unit = id
		}
		lv["unit"] = unit
		price, err := c.money("lines", l.Fields["unit_price"])
		if err != nil {
			return nil, badField("lines", "field lines: line %d: %v", i+1, err)
		}
		if price == nil {
			lp, _ := p.Decimal("list_price")
			price = &lp
		}
		net := *price
		if d := l.Fields["discount"]; !d.IsNull() {
			if d.Kind != model.KindDecimal || d.Num.IsNegative() || d.Num.GreaterThan(decimal.NewFromInt(1)) {
				return nil, badField("lines", "field lines: line %d: discount must be a fraction between 0 and 1", i+1)
			}
			qty := decimal.NewFromInt(1)
			if q.Kind == model.KindDecimal {
				qty = q.Num
			}
			net = netUnitPrice(qty, *price, d.Num, c.currency)
		}
		lv["unit_price"] = net
		if taxes := p.Related("account_category").IDs("customer_taxes_used"); len(taxes) > 0 {
			lv["taxes"] = []any{[]any{"add", taxes}}
		}
		if s, err := text("lines", l.Fields["description"]); err == nil && s != "" {
			lv["description"] = s
		}
		out[i] = lv
	}
	return out, nil
}

func containsStr(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func saleCreate(ctx context.Context, c *Conn, op connector.Op) (trytonrpc.Values, error) {
	if err := checkFields(model.Order, orderFields, orderReadOnly, op.Fields); err != nil {
		return nil, err
	}
	if _, ok := op.Fields["account"]; !ok {
		return nil, badField("account", "field account: a sale needs a customer")
	}
	vals, err := c.saleHeader(ctx, op, 0)
	if err != nil {
		return nil, err
	}
	lines, err := c.saleLines(ctx, op.Fields["lines"])
	if err != nil {
		return nil, err
	}
	if len(lines) == 0 {
		return nil, badField("lines", "field lines: a sale needs at least one line")
	}
	vals["lines"] = []any{[]any{"create", lines}}
	return vals, nil
}

// saleUpdate changes a draft sale (header, and lines replaced as a whole).
// Tryton makes a quoted or confirmed sale read-only, so updates to those are
// refused; a sale is a financial record Concord never deletes.
func saleUpdate(ctx context.Context, c *Conn, op connector.Op, cur trytonrpc.Record) (trytonrpc.Values, error) {
	if err := checkFields(model.Order, orderFields, orderReadOnly, op.Fields); err != nil {
		return nil, err
	}
	if st := cur.String("state"); st != "draft" {
		same, err := c.saleIsAsAsked(ctx, op, cur)
		if err != nil {
			return nil, err
		}
		if same {
			// A sale an interrupted handoff created: it is what the deal asks.
			return nil, errAlreadyAsked
		}
		return nil, connector.Permanent("", fmt.Errorf("sale %s is %s: tryton accepts changes to draft sales only", cur.String("number"), st))
	}
	vals, err := c.saleHeader(ctx, op, cur.Int("party"))
	if err != nil {
		return nil, err
	}
	if v, ok := op.Fields["lines"]; ok {
		lines, err := c.saleLines(ctx, v)
		if err != nil {
			return nil, err
		}
		cmds := []any{}
		if old := cur.IDs("lines"); len(old) > 0 {
			cmds = append(cmds, []any{"delete", old})
		}
		if len(lines) > 0 {
			cmds = append(cmds, []any{"create", lines})
		}
		vals["lines"] = cmds
	}
	return vals, nil
}

// saleIsAsAsked reports whether a sale already holds what op asks, compared the
// way the connector writes it: the customer, and per line the product, the
// quantity and the unit price net of the discount; the billing contact.
func (c *Conn) saleIsAsAsked(ctx context.Context, op connector.Op, cur trytonrpc.Record) (bool, error) {
	for name, v := range op.Fields {
		switch name {
		case "account", "lines":
		case "contact":
			id, err := refID("contact", model.Contact, v)
			if err != nil || id != cur.Int("contact") {
				return false, nil
			}
		case "reference":
			if v.Str != cur.String("reference") {
				return false, nil
			}
		case "currency":
			if code := cur.Related("currency").String("code"); code != "" && v.Str != code {
				return false, nil
			}
		default:
			return false, nil // not compared: treated as a change
		}
	}
	if v, ok := op.Fields["account"]; ok {
		id, err := refID("account", model.Account, v)
		if err != nil || id != cur.Int("party") {
			return false, nil
		}
	}
	v, ok := op.Fields["lines"]
	if !ok {
		return true, nil
	}
	want, err := c.saleLines(ctx, v)
	if err != nil {
		return false, err
	}
	byID := map[int64]trytonrpc.Record{}
	for _, l := range cur.RelatedList("lines") {
		byID[l.ID()] = l
	}
	var have []trytonrpc.Record
	for _, id := range cur.IDs("lines") {
		if l, ok := byID[id]; ok && (l.String("type") == "" || l.String("type") == "line") {
			have = append(have, l)
		}
	}
	if len(have) != len(want) {
		return false, nil
	}
	for i, w := range want {
		h := have[i]
		price, _ := h.Decimal("unit_price")
		qty, _ := h.Decimal("quantity")
		wantPrice, _ := w["unit_price"].(decimal.Decimal)
		wantQty, _ := w["quantity"].(float64)
		if h.Int("product") != w["product"] || !price.Equal(wantPrice) || !qty.Equal(decimal.NewFromFloat(wantQty)) {
			return false, nil
		}
	}
	return true, nil
}

// saleFinish takes sales an interrupted handoff left in draft or quotation
// through quote and confirm, as a create would; others are left alone.
func saleFinish(ctx context.Context, c *Conn, ids []int64) []error {
	errs := make([]error, len(ids))
	if len(ids) == 0 {
		return errs
	}
	rows, err := c.rpc.Read(ctx, "sale.sale", ids, []string{"state"}, nil)
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	state := map[int64]string{}
	for _, r := range rows {
		state[r.ID()] = r.String("state")
	}
	for i, id := range ids {
		switch state[id] {
		case "draft":
			errs[i] = c.pushSale(ctx, id)
		case "quotation":
			errs[i] = c.confirmSale(ctx, id)
		}
	}
	return errs
}

// ErrNotInvoiced is the error of a confirmed sale Tryton did not invoice when
// its processing step gave no error either.
var ErrNotInvoiced = errors.New("tryton confirmed the sale but created no invoice")

// saleWorkflow quotes and confirms each new sale, then checks that Tryton
// processed it: the step that creates the invoice runs after confirm's
// transaction and fails silently (the sale stays confirmed, without invoice).
// A stuck sale is processed again in the request, which returns the real
// error. The sale exists in every case; the error is per sale.
func saleWorkflow(ctx context.Context, c *Conn, ids []int64) []error {
	errs := make([]error, len(ids))
	for i, id := range ids {
		errs[i] = c.pushSale(ctx, id)
	}
	return errs
}

// pushSale quotes and confirms a draft sale and checks that Tryton processed it.
func (c *Conn) pushSale(ctx context.Context, id int64) error {
	if err := c.rpc.Button(ctx, "sale.sale", "quote", []int64{id}, nil); err != nil {
		return fmt.Errorf("quote: %w", err)
	}
	return c.confirmSale(ctx, id)
}

// confirmSale confirms a quoted sale and checks that Tryton processed it.
func (c *Conn) confirmSale(ctx context.Context, id int64) error {
	read := func() (trytonrpc.Record, error) {
		rows, err := c.rpc.Read(ctx, "sale.sale", []int64{id}, []string{"state", "number", "invoice_method", "invoices"}, nil)
		if err != nil {
			return nil, err
		}
		if len(rows) == 0 {
			return nil, fmt.Errorf("sale %d: %w", id, connector.ErrNotFound)
		}
		return rows[0], nil
	}
	if err := c.rpc.Button(ctx, "sale.sale", "confirm", []int64{id}, nil); err != nil {
		return fmt.Errorf("confirm: %w", err)
	}
	s, err := read()
	if err != nil {
		return err
	}
	if !saleStuck(s) {
		return nil
	}
	// Run the processing step again, in this request: it raises the error the
	// server only logged.
	if err := c.rpc.Button(ctx, "sale.sale", "process", []int64{id}, nil); err != nil {
		if strings.Contains(err.Error(), "is not allowed") {
			// The user lacks Sales Administrator: the reason stays in the log.
			return connector.Permanent("", fmt.Errorf("sale %s (%s): %w; the reason is in trytond's log (the user may not call process: %w)",
				s.String("number"), s.String("state"), ErrNotInvoiced, err))
		}
		return fmt.Errorf("sale %s confirmed but not invoiced: %w", s.String("number"), err)
	}
	if s, err = read(); err != nil {
		return err
	}
	if saleStuck(s) {
		return connector.Permanent("", fmt.Errorf("sale %s (%s): %w", s.String("number"), s.String("state"), ErrNotInvoiced))
	}
	c.log.InfoContext(ctx, "tryton sale processed on second attempt", "sale_id", id)
	return nil
}

// saleStuck reports whether a sale confirmed for invoicing on order has no
// invoice, or never left the confirmed state.
func saleStuck(s trytonrpc.Record) bool {
	switch s.String("state") {
	case "confirmed":
		return true
	case "processing", "done":
		return s.String("invoice_method") == "order" && len(s.IDs("invoices")) == 0
	}
	return false
}

// saleContact checks the billing contact of a sale: a Tryton contact mechanism
// (entity contact) of the sale's party. It returns 0 for null.
func (c *Conn) saleContact(ctx context.Context, v model.Value, party int64) (int64, error) {
	id, err := refID("contact", model.Contact, v)
	if err != nil || id == 0 {
		return 0, err
	}
	rows, err := c.rpc.SearchRead(ctx, "party.contact_mechanism", trytonrpc.Domain{trytonrpc.Leaf("id", "=", id)}, []string{"party"},
		trytonrpc.SearchOptions{Context: trytonrpc.Context{"active_test": false}})
	if err != nil {
		return 0, fmt.Errorf("read contact %d: %w", id, err)
	}
	if len(rows) == 0 {
		return 0, badField("contact", "field contact: no tryton contact %d", id)
	}
	if p := rows[0].Int("party"); p != party {
		return 0, badField("contact", "field contact: tryton contact %d belongs to party %d, not to the sale's party %d", id, p, party)
	}
	return id, nil
}

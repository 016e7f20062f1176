package odoo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/odoo/odoorpc"
	"github.com/concord-sync/concord/internal/model"
)

var (
	orderFields   = []string{"reference", "number", "state", "account", "contact", "order_date", "currency", "lines", "total", "untaxed"}
	orderReadOnly = []string{"number", "state", "total", "untaxed"}
	lineFields    = []string{"product", "description", "quantity", "unit", "unit_price", "discount", "amount"}
)

// Invoicing of handed-off orders (setting invoice_orders).
const (
	InvoiceNone   = "none"   // confirm only; finance invoices in Odoo
	InvoiceDraft  = "draft"  // confirm and create the invoice, left in draft
	InvoicePosted = "posted" // confirm, create the invoice and post it
)

// orderStates maps sale.order states to the canonical ones; a locked
// confirmed order is done.
var orderStates = map[string]string{"draft": "draft", "sent": "quotation", "sale": "confirmed", "cancel": "cancelled"}

// orderDef maps order <-> sale.order with its lines. The CRM deal id is the
// order's client_order_ref (the customer reference, which Odoo copies onto
// the invoice). A create is confirmed and, per invoice_orders, invoiced
// through Odoo's own wizard; see writeOrders.
func orderDef() *entityDef {
	return &entityDef{
		entity:   model.Order,
		model:    "sale.order",
		fields:   orderFields,
		readOnly: orderReadOnly,
		read: []string{"name", "state", "locked", "partner_id", "partner_invoice_id", "date_order", "currency_id",
			"amount_total", "amount_untaxed", "order_line"},
		noActive: true,
		labels: map[string]string{
			"partner_id": "account", "partner_invoice_id": "contact", "partner_shipping_id": "account",
			"date_order": "order_date", "currency_id": "currency", "pricelist_id": "currency",
			"order_line": "lines", "client_order_ref": "reference",
			"product_id": "lines", "product_uom_qty": "lines", "product_uom": "lines", "price_unit": "lines",
			"discount": "lines", "tax_id": "lines", "name": "lines",
		},
		messages: map[string]string{
			"lock date": "invoice_date",
		},
		linkField: func(*Conn) string { return "client_order_ref" },
		expand:    expandOrderLines,
		toFields:  orderToFields,
		write:     writeOrders,
	}
}

// expandOrderLines reads the lines of the orders in rows, one call, and
// attaches them under "_lines" in the order Odoo keeps them (sequence, id).
func expandOrderLines(ctx context.Context, c *Conn, rows []odoorpc.Record) error {
	var ids []int64
	for _, r := range rows {
		ids = append(ids, r.IDs("order_line")...)
	}
	if len(ids) == 0 {
		return nil
	}
	lines, err := c.rpc.Read(ctx, "sale.order.line", ids,
		[]string{"product_id", "name", "product_uom_qty", "product_uom", "price_unit", "discount", "price_subtotal", "display_type"},
		odoorpc.Context{"active_test": false})
	if err != nil {
		return fmt.Errorf("read order lines: %w", err)
	}
	byID := make(map[int64]odoorpc.Record, len(lines))
	for _, l := range lines {
		byID[l.ID()] = l
	}
	for _, r := range rows {
		var own []odoorpc.Record
		for _, id := range r.IDs("order_line") {
			if l, ok := byID[id]; ok {
				own = append(own, l)
			}
		}
		r["_lines"] = own
	}
	return nil
}

func orderToFields(c *Conn, r odoorpc.Record) model.Fields {
	_, cur := r.Many2one("currency_id")
	if cur == "" {
		cur = c.currency
	}
	state := orderStates[r.String("state")]
	if state == "confirmed" && r.Bool("locked") {
		state = "done"
	}
	f := model.Fields{
		"reference":  textOf(r, "client_order_ref"),
		"number":     textOf(r, "name"),
		"state":      textValue(state),
		"account":    model.Null,
		"contact":    model.Null,
		"order_date": model.Null,
		"currency":   model.Text(cur),
		"total":      model.Null,
		"untaxed":    model.Null,
	}
	if id := r.Int("partner_id"); id != 0 {
		f["account"] = model.Ref(model.Account, strconv.FormatInt(id, 10))
	}
	if id := r.Int("partner_invoice_id"); id != 0 && id != r.Int("partner_id") {
		f["contact"] = model.Ref(model.Contact, strconv.FormatInt(id, 10))
	}
	if t := r.Time("date_order"); !t.IsZero() {
		f["order_date"] = model.Date(t)
	}
	if d, ok := r.Decimal("amount_total"); ok {
		f["total"] = model.Money(d, cur)
	}
	if d, ok := r.Decimal("amount_untaxed"); ok {
		f["untaxed"] = model.Money(d, cur)
	}
	lines, _ := r["_lines"].([]odoorpc.Record)
	out := make([]model.Record, 0, len(lines))
	for _, l := range lines {
		if l.Has("display_type") {
			continue // sections and notes are not order lines
		}
		lf := model.Fields{
			"product":     model.Null,
			"description": textOf(l, "name"),
			"quantity":    model.Null,
			"unit":        model.Null,
			"unit_price":  model.Null,
			"discount":    model.Null,
			"amount":      model.Null,
		}
		if id := l.Int("product_id"); id != 0 {
			lf["product"] = model.Ref(model.Product, strconv.FormatInt(id, 10))
		}
		if _, u := l.Many2one("product_uom"); u != "" {
			lf["unit"] = model.Text(u)
		}
		if d, ok := l.Rounded("product_uom_qty", 6); ok {
			lf["quantity"] = model.Decimal(d)
		}
		if d, ok := l.Decimal("price_unit"); ok {
			lf["unit_price"] = model.Money(d, cur)
		}
		if d, ok := l.Rounded("discount", 6); ok && !d.IsZero() {
			lf["discount"] = model.Decimal(d.Div(decimal.NewFromInt(100)))
		}
		if d, ok := l.Decimal("price_subtotal"); ok {
			lf["amount"] = model.Money(d, cur)
		}
		out = append(out, model.Record{Entity: model.OrderLine, ID: strconv.FormatInt(l.ID(), 10), Fields: lf})
	}
	f["lines"] = model.Lines(out)
	return f
}

// orderRefs are the records the orders of one Write refer to, read in one
// call per model: customers and contacts (res.partner) and products.
type orderRefs struct {
	partners map[int64]odoorpc.Record
	products map[int64]odoorpc.Record
}

func refID(field string, entity model.Entity, v model.Value) (int64, error) {
	if v.IsNull() {
		return 0, nil
	}
	if v.Kind != model.KindRef || (v.Entity != "" && v.Entity != entity) {
		return 0, &fieldError{field: field, msg: fmt.Sprintf("want a reference to %s, got %s", entity, v.Kind)}
	}
	id, err := strconv.ParseInt(v.Str, 10, 64)
	if err != nil || id <= 0 {
		return 0, &fieldError{field: field, msg: fmt.Sprintf("%q is not an Odoo %s id", v.Str, entity)}
	}
	return id, nil
}

// readRefs reads what the ops refer to; references that do not parse are
// left for the per-op checks to report.
func (c *Conn) readRefs(ctx context.Context, ops []connector.Op) (orderRefs, error) {
	refs := orderRefs{partners: map[int64]odoorpc.Record{}, products: map[int64]odoorpc.Record{}}
	var partners, products []int64
	for _, op := range ops {
		for _, name := range []string{"account", "contact"} {
			if v := op.Fields[name]; v.Kind == model.KindRef {
				partners = append(partners, parseIDs([]string{v.Str})...)
			}
		}
		for _, l := range op.Fields["lines"].Lines {
			if id, err := refID("lines", model.Product, l.Fields["product"]); err == nil && id != 0 {
				products = append(products, id)
			}
		}
	}
	read := func(model string, ids []int64, fields []string, into map[int64]odoorpc.Record) error {
		if len(ids) == 0 {
			return nil
		}
		slices.Sort(ids)
		ids = slices.Compact(ids)
		// search_read: read refuses the whole call for one unknown id.
		rows, err := c.rpc.SearchRead(ctx, model, odoorpc.Domain{odoorpc.Leaf("id", "in", ids)}, fields,
			odoorpc.SearchOptions{Context: odoorpc.Context{"active_test": false}})
		if err != nil {
			return mapErr(fmt.Errorf("read %s: %w", model, err))
		}
		for _, r := range rows {
			into[r.ID()] = r
		}
		return nil
	}
	if err := read("res.partner", partners, []string{"is_company", "parent_id", "active", "name"}, refs.partners); err != nil {
		return refs, err
	}
	return refs, read("product.product", products, []string{"active", "display_name", "sale_ok"}, refs.products)
}

// orderValues translates a create (cur nil) or an update of a draft order.
func (c *Conn) orderValues(op connector.Op, refs orderRefs, cur odoorpc.Record) (odoorpc.Values, error) {
	for _, name := range op.Fields.Names() {
		switch {
		case !slices.Contains(orderFields, name):
			return nil, &fieldError{field: name, msg: "is not a field of an Odoo order"}
		case slices.Contains(orderReadOnly, name):
			return nil, &fieldError{field: name, msg: "is read-only in Odoo (Odoo computes it)"}
		}
	}
	v := odoorpc.Values{}
	partner := int64(0)
	if cur != nil {
		partner = cur.Int("partner_id")
	}
	if a, ok := op.Fields["account"]; ok {
		id, err := refID("account", model.Account, a)
		if err != nil {
			return nil, err
		}
		if id == 0 {
			return nil, &fieldError{field: "account", msg: "an Odoo order needs a customer"}
		}
		p, ok := refs.partners[id]
		switch {
		case !ok:
			return nil, &fieldError{field: "account", msg: fmt.Sprintf("no Odoo partner %d", id)}
		case !p.Bool("active"):
			return nil, &fieldError{field: "account", msg: fmt.Sprintf("Odoo partner %d (%s) is archived", id, p.String("name"))}
		}
		v["partner_id"], partner = id, id
	} else if cur == nil {
		return nil, &fieldError{field: "account", msg: "an Odoo order needs a customer"}
	}
	if ct, ok := op.Fields["contact"]; ok {
		id, err := refID("contact", model.Contact, ct)
		if err != nil {
			return nil, err
		}
		switch p, ok := refs.partners[id]; {
		case id == 0:
			v["partner_invoice_id"] = partner
		case !ok:
			return nil, &fieldError{field: "contact", msg: fmt.Sprintf("no Odoo contact %d", id)}
		case p.Int("parent_id") != partner:
			return nil, &fieldError{field: "contact", msg: fmt.Sprintf("Odoo contact %d (%s) is not a contact of the order's customer %d", id, p.String("name"), partner)}
		default:
			v["partner_invoice_id"] = id
		}
	}
	if d, ok := op.Fields["order_date"]; ok {
		switch {
		case d.IsNull():
		case d.Kind == model.KindDate || d.Kind == model.KindTime:
			v["date_order"] = d.Time.UTC().Format(odoorpc.DatetimeFormat)
		default:
			return nil, &fieldError{field: "order_date", msg: "want a date, got " + d.Kind.String()}
		}
	}
	if cu, ok := op.Fields["currency"]; ok && !cu.IsNull() && !strings.EqualFold(cu.String(), c.currency) {
		return nil, &fieldError{field: "currency", msg: fmt.Sprintf("order in %s: Odoo takes an order's currency from its pricelist, and Concord writes orders in the company currency %s", cu.String(), c.currency)}
	}
	if r, ok := op.Fields["reference"]; ok && op.LinkKey == "" {
		v["client_order_ref"] = text(r)
	}
	if op.LinkKey != "" {
		v["client_order_ref"] = op.LinkKey
	}
	lv, ok := op.Fields["lines"]
	if !ok {
		if cur == nil {
			return nil, &fieldError{field: "lines", msg: "an Odoo order needs at least one line"}
		}
		return v, nil
	}
	lines, err := c.orderLines(lv, refs)
	if err != nil {
		return nil, err
	}
	if len(lines) == 0 {
		return nil, &fieldError{field: "lines", msg: "an Odoo order needs at least one line"}
	}
	cmds := make([]any, 0, len(lines)+len(cur.IDs("order_line")))
	for _, id := range cur.IDs("order_line") {
		cmds = append(cmds, odoorpc.Delete(id))
	}
	for _, l := range lines {
		cmds = append(cmds, odoorpc.Create(l))
	}
	v["order_line"] = cmds
	return v, nil
}

// orderLines translates canonical lines. Odoo fills what a line leaves out
// (unit price from the pricelist, unit from the product) and takes the taxes
// from the product. The discount is sent as Odoo's percentage.
func (c *Conn) orderLines(v model.Value, refs orderRefs) ([]odoorpc.Values, error) {
	if v.IsNull() {
		return nil, nil
	}
	if v.Kind != model.KindLines {
		return nil, &fieldError{field: "lines", msg: "want lines, got " + v.Kind.String()}
	}
	out := make([]odoorpc.Values, len(v.Lines))
	for i, l := range v.Lines {
		bad := func(format string, args ...any) error {
			return &fieldError{field: "lines", msg: fmt.Sprintf("line %d: ", i+1) + fmt.Sprintf(format, args...)}
		}
		for _, name := range l.Fields.Names() {
			if !slices.Contains(lineFields, name) {
				return nil, bad("field %s is not a field of an Odoo order line", name)
			}
		}
		id, err := refID("lines", model.Product, l.Fields["product"])
		if err != nil {
			return nil, bad("product: %v", err)
		}
		if id == 0 {
			return nil, bad("no product")
		}
		p, ok := refs.products[id]
		switch {
		case !ok:
			return nil, bad("no Odoo product %d", id)
		case !p.Bool("active"):
			return nil, bad("Odoo product %d (%s) is archived", id, p.String("display_name"))
		case p.Has("sale_ok") && !p.Bool("sale_ok"):
			return nil, bad("Odoo product %d (%s) cannot be sold (Can be Sold is off)", id, p.String("display_name"))
		}
		lv := odoorpc.Values{"product_id": id, "sequence": 10 * (i + 1)}
		switch q := l.Fields["quantity"]; {
		case q.IsNull():
			lv["product_uom_qty"] = 1
		case q.Kind == model.KindDecimal || q.Kind == model.KindMoney:
			lv["product_uom_qty"] = q.Num
		default:
			return nil, bad("quantity: want a number, got %s", q.Kind)
		}
		switch pr := l.Fields["unit_price"]; {
		case pr.IsNull():
		case pr.Kind == model.KindMoney && pr.Currency != "" && !strings.EqualFold(pr.Currency, c.currency):
			return nil, bad("unit price in %s; Concord writes orders in the company currency %s", pr.Currency, c.currency)
		case pr.Kind == model.KindMoney || pr.Kind == model.KindDecimal:
			lv["price_unit"] = pr.Num
		default:
			return nil, bad("unit price: want an amount, got %s", pr.Kind)
		}
		switch d := l.Fields["discount"]; {
		case d.IsNull():
		case d.Kind != model.KindDecimal || d.Num.IsNegative() || d.Num.GreaterThan(decimal.NewFromInt(1)):
			return nil, bad("discount must be a fraction between 0 and 1")
		default:
			lv["discount"] = d.Num.Mul(decimal.NewFromInt(100))
		}
		if u := l.Fields["unit"]; !u.IsNull() {
			uid, ok := c.uomByName[strings.ToLower(u.String())]
			if !ok {
				return nil, bad("no unit of measure %q in Odoo", u.String())
			}
			lv["product_uom"] = uid
		}
		if d := l.Fields["description"]; !d.IsNull() && d.String() != "" {
			lv["name"] = d.String()
		}
		out[i] = lv
	}
	return out, nil
}

// writeOrders creates orders (one call per batch, bisected on a refusal),
// then confirms and invoices them; updates change draft quotations only.
// An order found by its link key that an interrupted handoff left behind
// (in draft, or confirmed without its invoice) holds what the deal asks: it
// is finished instead of being written again, never created twice.
func writeOrders(ctx context.Context, c *Conn, d *entityDef, ops []connector.Op) ([]connector.Result, error) {
	results := make([]connector.Result, len(ops))
	refs, err := c.readRefs(ctx, ops)
	if err != nil {
		return nil, err
	}
	var updateIDs []int64
	for _, op := range ops {
		if op.Kind == connector.OpUpdate {
			updateIDs = append(updateIDs, parseIDs([]string{op.ID})...)
		}
	}
	current, err := c.readOrders(ctx, updateIDs)
	if err != nil {
		return nil, err
	}
	vals := make([]odoorpc.Values, len(ops))
	var creates []int
	var finish []int // ops whose order is to be confirmed and invoiced
	for i, op := range ops {
		switch op.Kind {
		case connector.OpCreate:
			v, err := c.orderValues(op, refs, nil)
			if err != nil {
				results[i].Err = opErr(d, op, err)
				continue
			}
			vals[i] = v
			creates = append(creates, i)
		case connector.OpUpdate:
			n := parseIDs([]string{op.ID})
			var cur odoorpc.Record
			if len(n) == 1 {
				cur = current[n[0]]
			}
			if cur == nil {
				results[i].Err = connector.Permanent("", fmt.Errorf("update odoo order %q: %w", op.ID, connector.ErrNotFound))
				continue
			}
			results[i].ID = op.ID
			if err := c.updateOrder(ctx, d, op, cur, refs); err != nil {
				results[i].Err = err
				continue
			}
			finish = append(finish, i)
		default:
			results[i].Err = connector.Permanent("", fmt.Errorf("write odoo order: unknown op kind %q", op.Kind))
		}
	}
	for start := 0; start < len(creates); start += c.batch {
		end := min(start+c.batch, len(creates))
		if err := c.createBatch(ctx, d, ops, vals, creates[start:end], results); err != nil {
			return nil, err
		}
	}
	for _, i := range creates {
		if results[i].Err == nil && results[i].ID != "" {
			finish = append(finish, i)
		}
	}
	slices.Sort(finish)
	ids := make([]int64, len(finish))
	for k, i := range finish {
		ids[k] = parseIDs([]string{results[i].ID})[0]
	}
	for k, err := range c.finishOrders(ctx, ids) {
		if err != nil {
			i := finish[k]
			results[i].Err = opErr(d, ops[i], err)
		}
	}
	// Versions: read back, since confirming changed every order.
	for i := range results {
		if results[i].ID != "" {
			results[i].Version = ""
		}
	}
	if err := c.fillVersions(ctx, d, results); err != nil {
		return nil, err
	}
	return results, nil
}

// readOrders reads the orders an update batch changes, with their lines and
// invoices; ids that do not exist are absent.
func (c *Conn) readOrders(ctx context.Context, ids []int64) (map[int64]odoorpc.Record, error) {
	out := map[int64]odoorpc.Record{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := c.rpc.SearchRead(ctx, "sale.order", odoorpc.Domain{odoorpc.Leaf("id", "in", ids)},
		[]string{"name", "state", "partner_id", "partner_invoice_id", "client_order_ref", "order_line", "write_date", "amount_total",
			"currency_id", "date_order", "locked", "amount_untaxed"},
		odoorpc.SearchOptions{})
	if err != nil {
		return nil, mapErr(fmt.Errorf("read orders: %w", err))
	}
	if err := expandOrderLines(ctx, c, rows); err != nil {
		return nil, mapErr(err)
	}
	for _, r := range rows {
		out[r.ID()] = r
	}
	return out, nil
}

// updateOrder writes op on a draft quotation, or checks that a confirmed
// order already holds what op asks (the order an interrupted handoff
// created). It returns the op's error.
func (c *Conn) updateOrder(ctx context.Context, d *entityDef, op connector.Op, cur odoorpc.Record, refs orderRefs) error {
	rec := model.Record{Fields: orderToFields(c, cur)}
	rec.UpdatedAt = cur.Time("write_date")
	rec.Version = d.version(rec.UpdatedAt, rec.Fields, false)
	if op.Version != "" && !versionMatches(op.Version, rec) {
		return fmt.Errorf("update odoo order %s: %w", op.ID, connector.ErrConflict)
	}
	switch st := cur.String("state"); st {
	case "draft", "sent":
		v, err := c.orderValues(op, refs, cur)
		if err != nil {
			return opErr(d, op, err)
		}
		if len(v) == 0 {
			return nil
		}
		if err := c.rpc.Write(ctx, "sale.order", []int64{cur.ID()}, v, nil); err != nil {
			if !odoorpc.IsPermanent(err) || errors.Is(err, odoorpc.ErrUnauthorized) {
				return mapErr(fmt.Errorf("update order %s: %w", cur.String("name"), err))
			}
			return opErr(d, op, err)
		}
		return nil
	case "sale":
		same, err := c.orderIsAsAsked(op, cur, refs)
		if err != nil {
			return opErr(d, op, err)
		}
		if same {
			return nil // finished below, as a create would be
		}
		return connector.Permanent("", fmt.Errorf("update odoo order %s (%s): the order is confirmed; Concord changes quotations only (change it in Odoo, or cancel it there and hand the deal off again)",
			cur.String("name"), op.ID))
	default:
		return connector.Permanent("", fmt.Errorf("update odoo order %s (%s): the order is %s in Odoo; Concord changes quotations only",
			cur.String("name"), op.ID, orderStates[st]))
	}
}

// orderIsAsAsked reports whether a confirmed order holds what op asks,
// compared the way the connector writes it: customer, invoice contact and
// per line product, quantity, unit price (when given) and discount.
func (c *Conn) orderIsAsAsked(op connector.Op, cur odoorpc.Record, refs orderRefs) (bool, error) {
	var base odoorpc.Record // a create's values, unless op leaves the customer out
	if _, ok := op.Fields["account"]; !ok {
		base = cur
	}
	want, err := c.orderValues(op, refs, base)
	if err != nil {
		return false, err
	}
	if p, ok := want["partner_id"]; ok && p != cur.Int("partner_id") {
		return false, nil
	}
	if p, ok := want["partner_invoice_id"]; ok && p != cur.Int("partner_invoice_id") {
		return false, nil
	}
	cmds, ok := want["order_line"].([]any)
	if !ok {
		return true, nil
	}
	var wantLines []odoorpc.Values
	for _, cmd := range cmds {
		if cr, ok := cmd.(odoorpc.Command); ok && cr.Code == 0 {
			if v, ok := cr.Value.(odoorpc.Values); ok {
				wantLines = append(wantLines, v)
			}
		}
	}
	var have []odoorpc.Record
	lines, _ := cur["_lines"].([]odoorpc.Record)
	for _, l := range lines {
		if !l.Has("display_type") {
			have = append(have, l)
		}
	}
	if len(have) != len(wantLines) {
		return false, nil
	}
	for i, w := range wantLines {
		h := have[i]
		qty, _ := h.Decimal("product_uom_qty")
		if h.Int("product_id") != w["product_id"] || !decimalOf(w["product_uom_qty"]).Equal(qty) {
			return false, nil
		}
		if p, ok := w["price_unit"]; ok {
			if hp, _ := h.Decimal("price_unit"); !decimalOf(p).Equal(hp) {
				return false, nil
			}
		}
		hd, _ := h.Decimal("discount")
		if !decimalOf(w["discount"]).Equal(hd) {
			return false, nil
		}
	}
	return true, nil
}

func decimalOf(v any) decimal.Decimal {
	switch x := v.(type) {
	case decimal.Decimal:
		return x
	case int:
		return decimal.NewFromInt(int64(x))
	case int64:
		return decimal.NewFromInt(x)
	case float64:
		return decimal.NewFromFloat(x)
	}
	return decimal.Zero
}

// finishOrders takes orders to where a handoff leaves them: confirmed
// (action_confirm), then per invoice_orders invoiced through Odoo's invoicing
// wizard (one invoice per order) and posted. Each step runs for all orders in
// one call; when Odoo refuses the call, order by order, so that each order
// gets its own error. Steps already done are skipped, so an order an
// interrupted handoff left half-way is finished, not duplicated.
func (c *Conn) finishOrders(ctx context.Context, ids []int64) []error {
	errs := make([]error, len(ids))
	if len(ids) == 0 {
		return errs
	}
	state, err := c.orderStates(ctx, ids)
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	pick := func(keep func(orderState) bool) []int {
		var idx []int
		for i, id := range ids {
			if errs[i] == nil && keep(state[id]) {
				idx = append(idx, i)
			}
		}
		return idx
	}
	// each runs step on the orders idx, isolating refusals.
	each := func(idx []int, step func(ids []int64) error) {
		if len(idx) == 0 {
			return
		}
		sub := make([]int64, len(idx))
		for k, i := range idx {
			sub[k] = ids[i]
		}
		err := step(sub)
		if err == nil {
			return
		}
		if len(idx) == 1 || !odoorpc.IsPermanent(err) {
			for _, i := range idx {
				errs[i] = err
			}
			return
		}
		for _, i := range idx {
			errs[i] = step([]int64{ids[i]})
		}
	}
	each(pick(func(s orderState) bool { return s.state == "draft" || s.state == "sent" }), func(sub []int64) error {
		if _, err := c.rpc.Call(ctx, "sale.order", "action_confirm", sub, nil); err != nil {
			return mapErr(fmt.Errorf("confirm: %w", err))
		}
		return nil
	})
	if c.invoiceOrders == InvoiceNone {
		return errs
	}
	if state, err = c.orderStates(ctx, ids); err != nil {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
		return errs
	}
	each(pick(func(s orderState) bool { return s.state == "sale" && s.toInvoice && len(s.invoices) == 0 }), func(sub []int64) error {
		return c.invoiceWizard(ctx, sub)
	})
	if c.invoiceOrders != InvoicePosted {
		return errs
	}
	if state, err = c.orderStates(ctx, ids); err != nil {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
		return errs
	}
	each(pick(func(s orderState) bool { return len(s.drafts) > 0 }), func(sub []int64) error {
		var moves []int64
		for _, id := range sub {
			moves = append(moves, state[id].drafts...)
		}
		if _, err := c.rpc.Call(ctx, "account.move", "action_post", moves, nil); err != nil {
			var oe *odoorpc.Error
			if errors.As(err, &oe) && strings.Contains(oe.Message, "lock date") {
				return connector.Permanent("invoice_date", fmt.Errorf("post the invoice: the invoice date (today) falls in a period locked in Odoo: %w", err))
			}
			return mapErr(fmt.Errorf("post the invoice: %w", err))
		}
		return nil
	})
	return errs
}

// orderState is what finishOrders needs to know of an order.
type orderState struct {
	state     string
	toInvoice bool
	invoices  []int64 // customer invoices, not cancelled
	drafts    []int64 // of those, the drafts
}

func (c *Conn) orderStates(ctx context.Context, ids []int64) (map[int64]orderState, error) {
	rows, err := c.rpc.Read(ctx, "sale.order", ids, []string{"state", "invoice_status", "invoice_ids"}, nil)
	if err != nil {
		return nil, mapErr(fmt.Errorf("read order states: %w", err))
	}
	out := make(map[int64]orderState, len(rows))
	var moves []int64
	for _, r := range rows {
		moves = append(moves, r.IDs("invoice_ids")...)
	}
	moveState := map[int64]odoorpc.Record{}
	if len(moves) > 0 {
		ms, err := c.rpc.Read(ctx, "account.move", moves, []string{"state", "move_type"}, nil)
		if err != nil {
			return nil, mapErr(fmt.Errorf("read order invoices: %w", err))
		}
		for _, m := range ms {
			moveState[m.ID()] = m
		}
	}
	for _, r := range rows {
		s := orderState{state: r.String("state"), toInvoice: r.String("invoice_status") == "to invoice"}
		for _, m := range r.IDs("invoice_ids") {
			ms, ok := moveState[m]
			if !ok || ms.String("move_type") != "out_invoice" || ms.String("state") == "cancel" {
				continue
			}
			s.invoices = append(s.invoices, m)
			if ms.String("state") == "draft" {
				s.drafts = append(s.drafts, m)
			}
		}
		out[r.ID()] = s
	}
	return out, nil
}

// invoiceWizard creates one invoice per order through sale.advance.payment.inv
// (what Odoo's "Create Invoice" button runs): regular invoices of what is
// invoiceable, not consolidated across orders of one customer.
func (c *Conn) invoiceWizard(ctx context.Context, ids []int64) error {
	wctx := odoorpc.ActiveContext("sale.order", ids...)
	w, err := c.rpc.Create(ctx, "sale.advance.payment.inv", []odoorpc.Values{{
		"advance_payment_method": "delivered",
		"consolidated_billing":   false,
		"sale_order_ids":         []any{odoorpc.Set(ids...)},
	}}, wctx)
	if err != nil {
		return mapErr(fmt.Errorf("invoice: %w", err))
	}
	if _, err := c.rpc.Call(ctx, "sale.advance.payment.inv", "create_invoices", w, wctx); err != nil {
		return mapErr(fmt.Errorf("invoice: %w", err))
	}
	return nil
}

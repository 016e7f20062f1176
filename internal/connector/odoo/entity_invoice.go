package odoo

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/concord-sync/concord/internal/connector/odoo/odoorpc"
	"github.com/concord-sync/concord/internal/model"
)

var invoiceFields = []string{"number", "state", "account", "order", "reference", "invoice_date", "due_date", "total", "amount_due", "paid_date", "overdue"}

// invoiceDef maps invoice <- account.move, customer invoices (out_invoice),
// read-only. Registering a payment recomputes the invoice's payment state
// and residual, which changes its write_date: polling sees payments.
func invoiceDef() *entityDef {
	return &entityDef{
		entity:   model.Invoice,
		model:    "account.move",
		fields:   invoiceFields,
		readOnly: invoiceFields,
		read: []string{"name", "state", "payment_state", "commercial_partner_id", "invoice_date", "invoice_date_due",
			"amount_total", "amount_residual", "currency_id", "invoice_payments_widget"},
		noActive:  true,
		linkField: func(*Conn) string { return "ref" },
		domain: func(*Conn) odoorpc.Domain {
			return odoorpc.Domain{odoorpc.Leaf("move_type", "=", "out_invoice")}
		},
		expand:   expandInvoiceOrders,
		toFields: invoiceToFields,
	}
}

// expandInvoiceOrders finds the sale order of each invoice (one search over
// sale.order.invoice_ids) and attaches its id and customer reference.
func expandInvoiceOrders(ctx context.Context, c *Conn, rows []odoorpc.Record) error {
	if len(rows) == 0 {
		return nil
	}
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID()
	}
	orders, err := c.rpc.SearchRead(ctx, "sale.order", odoorpc.Domain{odoorpc.Leaf("invoice_ids", "in", ids)},
		[]string{"invoice_ids", "client_order_ref"}, odoorpc.SearchOptions{Order: "id asc"})
	if err != nil {
		return fmt.Errorf("read the invoices' orders: %w", err)
	}
	byInvoice := map[int64]odoorpc.Record{}
	for _, o := range orders {
		for _, inv := range o.IDs("invoice_ids") {
			if _, ok := byInvoice[inv]; !ok {
				byInvoice[inv] = o
			}
		}
	}
	for _, r := range rows {
		if o, ok := byInvoice[r.ID()]; ok {
			r["_order"], r["_order_ref"] = o.ID(), o.String("client_order_ref")
		}
	}
	return nil
}

// invoiceStates maps account.move states to the canonical ones; a posted
// invoice whose payment state is paid (or in_payment, with the Accounting
// app) is paid.
var invoiceStates = map[string]string{"draft": "draft", "posted": "posted", "cancel": "cancelled"}

// today is the date overdue is judged against; a variable for tests.
var today = func() time.Time { return time.Now().UTC() }

func invoiceToFields(c *Conn, r odoorpc.Record) model.Fields {
	_, cur := r.Many2one("currency_id")
	if cur == "" {
		cur = c.currency
	}
	state := invoiceStates[r.String("state")]
	if state == "posted" {
		switch r.String("payment_state") {
		case "paid", "in_payment":
			state = "paid"
		}
	}
	f := model.Fields{
		"number":       model.Null,
		"state":        textValue(state),
		"account":      model.Null,
		"order":        model.Null,
		"reference":    model.Null,
		"invoice_date": model.Null,
		"due_date":     model.Null,
		"total":        model.Null,
		"amount_due":   model.Null,
		"paid_date":    model.Null,
		"overdue":      model.Bool(false),
	}
	if n := r.String("name"); n != "" && n != "/" { // a draft has no number yet
		f["number"] = model.Text(n)
	}
	if id := r.Int("commercial_partner_id"); id != 0 {
		f["account"] = model.Ref(model.Account, strconv.FormatInt(id, 10))
	}
	if id, ok := r["_order"].(int64); ok && id != 0 {
		f["order"] = model.Ref(model.Order, strconv.FormatInt(id, 10))
		ref, _ := r["_order_ref"].(string)
		f["reference"] = textValue(ref)
	}
	if d, ok := r.Date("invoice_date"); ok {
		f["invoice_date"] = model.Date(d.Time())
	}
	due, hasDue := r.Date("invoice_date_due")
	if hasDue {
		f["due_date"] = model.Date(due.Time())
	}
	if d, ok := r.Decimal("amount_total"); ok {
		f["total"] = model.Money(d, cur)
	}
	amountDue, hasAmount := r.Decimal("amount_residual")
	if hasAmount {
		f["amount_due"] = model.Money(amountDue, cur)
	}
	if state == "paid" {
		if d, ok := lastPayment(r); ok {
			f["paid_date"] = model.Date(d)
		}
	}
	if state == "posted" && hasDue && hasAmount && amountDue.IsPositive() && due.Time().Before(model.Date(today()).Time) {
		f["overdue"] = model.Bool(true)
	}
	return f
}

// lastPayment is the date of the latest payment reconciled with the invoice,
// from the payments widget Odoo computes for the invoice form.
func lastPayment(r odoorpc.Record) (time.Time, bool) {
	w, _ := r["invoice_payments_widget"].(map[string]any)
	content, _ := w["content"].([]any)
	var last time.Time
	for _, e := range content {
		p, _ := e.(map[string]any)
		s, _ := p["date"].(string)
		t, err := time.ParseInLocation(odoorpc.DateFormat, s, time.UTC)
		if err == nil && t.After(last) {
			last = t
		}
	}
	return last, !last.IsZero()
}

package tryton

import (
	"strconv"
	"time"

	"github.com/concord-sync/concord/internal/connector/tryton/trytonrpc"
	"github.com/concord-sync/concord/internal/model"
)

var invoiceFields = []string{"number", "state", "account", "order", "reference", "invoice_date", "due_date", "total", "amount_due", "paid_date", "overdue"}

// invoiceDef maps invoice <- account.invoice (customer invoices, type out),
// read-only. A payment reconciles the invoice's lines to pay, so those and the
// payment lines are polled as children: a payment is a change of the invoice.
func invoiceDef() *entityDef {
	return &entityDef{
		entity:   model.Invoice,
		model:    "account.invoice",
		fields:   invoiceFields,
		readOnly: invoiceFields,
		read: []string{"number", "state", "party", "invoice_date", "total_amount", "amount_to_pay", "reconciled",
			"currency.code", "sales", "sales.reference",
			"lines_to_pay", "lines_to_pay.maturity_date", "lines_to_pay.reconciliation",
			"payment_lines"},
		children: []string{"lines_to_pay", "payment_lines"},
		// lines_to_pay cannot be searched; they are lines of the move.
		childDomains: []string{"move.lines", "payment_lines"},
		domain: func(*Conn) trytonrpc.Domain {
			return trytonrpc.Domain{trytonrpc.Leaf("type", "=", "out")}
		},
		toFields: invoiceToFields,
	}
}

// invoiceStates maps Tryton's invoice states to the canonical ones: a
// validated invoice is not posted yet.
var invoiceStates = map[string]string{"draft": "draft", "validated": "draft", "posted": "posted", "paid": "paid", "cancelled": "cancelled"}

// today is the date overdue is judged against; a variable for tests.
var today = func() time.Time { return time.Now().UTC() }

func invoiceToFields(c *Conn, r trytonrpc.Record) model.Fields {
	cur := r.Related("currency").String("code")
	if cur == "" {
		cur = c.currency
	}
	state := invoiceStates[r.String("state")]
	f := model.Fields{
		"number":       textValue(r.String("number")),
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
	if id := r.Int("party"); id != 0 {
		f["account"] = model.Ref(model.Account, strconv.FormatInt(id, 10))
	}
	if sales := r.IDs("sales"); len(sales) > 0 {
		f["order"] = model.Ref(model.Order, strconv.FormatInt(sales[0], 10))
		for _, s := range r.RelatedList("sales") {
			if s.ID() == sales[0] {
				f["reference"] = textValue(s.String("reference"))
			}
		}
	}
	if d, ok := r.Date("invoice_date"); ok {
		f["invoice_date"] = model.Date(d.Time())
	}
	if d, ok := r.Decimal("total_amount"); ok {
		f["total"] = model.Money(d, cur)
	}
	due, hasDue := dueDate(r)
	if hasDue {
		f["due_date"] = model.Date(due)
	}
	amountDue, hasAmount := r.Decimal("amount_to_pay")
	if hasAmount {
		f["amount_due"] = model.Money(amountDue, cur)
	}
	if d, ok := r.Date("reconciled"); ok && state == "paid" {
		f["paid_date"] = model.Date(d.Time())
	}
	if state == "posted" && hasDue && hasAmount && amountDue.IsPositive() && due.Before(model.Date(today()).Time) {
		f["overdue"] = model.Bool(true)
	}
	return f
}

// dueDate is the earliest maturity of the lines still to pay, or of all lines
// to pay once every one is reconciled.
func dueDate(r trytonrpc.Record) (time.Time, bool) {
	var open, all time.Time
	for _, l := range r.RelatedList("lines_to_pay") {
		d, ok := l.Date("maturity_date")
		if !ok {
			continue
		}
		t := d.Time()
		if all.IsZero() || t.Before(all) {
			all = t
		}
		if l.Int("reconciliation") == 0 && (open.IsZero() || t.Before(open)) {
			open = t
		}
	}
	if !open.IsZero() {
		return open, true
	}
	return all, !all.IsZero()
}

package reconcile

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/shopspring/decimal"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/model"
)

// System is what the order-to-cash checks read from one system: the entities
// it maps and their records, paged. connector.Connector satisfies it.
type System interface {
	Entities() []connector.EntityInfo
	Read(ctx context.Context, req connector.ReadRequest) (connector.ReadResult, error)
}

// o2cMaps reports whether sys maps entity, and which of its fields.
func o2cMaps(sys System, e model.Entity) (fields []string, ok bool) {
	for _, info := range sys.Entities() {
		if info.Entity == e {
			return info.Fields, true
		}
	}
	return nil, false
}

// o2cReadAll reads every record of entity in sys from an empty cursor until
// Done, page by page (the connector's bulk path), calling fn for each record
// not archived. A connector whose changes overlap may deliver a record twice:
// the caller keeps the last one by id.
func o2cReadAll(ctx context.Context, sys System, name string, e model.Entity, page int, fn func(model.Record)) error {
	cursor := ""
	for {
		res, err := sys.Read(ctx, connector.ReadRequest{Entity: e, Cursor: cursor, Limit: page})
		if err != nil {
			return fmt.Errorf("read %s %s: %w", name, e, err)
		}
		for _, r := range res.Records {
			if !r.Archived {
				fn(r)
			}
		}
		if res.Done || res.Next == cursor && len(res.Records) == 0 {
			return nil
		}
		cursor = res.Next
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// deal is a CRM deal as the order-to-cash checks see it.
type deal struct {
	id, name, stage, account string
	amount                   decimal.Decimal
	currency                 string
	hasAmount                bool
	closed                   model.Value // close_date, a date or null
	invoiceNumber            string
	invoiceState             string
	paidDate                 model.Value
	status                   string // erp_sync_status
}

func toDeal(r model.Record) *deal {
	f := r.Fields
	d := &deal{id: r.ID, name: f.Get("name").Str, stage: f.Get("stage").Str, account: f.Get("account").Str,
		closed: f.Get("close_date"), invoiceNumber: f.Get("invoice_number").Str, invoiceState: f.Get("invoice_state").Str,
		paidDate: f.Get("paid_date"), status: f.Get("erp_sync_status").Str}
	if a := f.Get("amount"); a.Kind == model.KindMoney || a.Kind == model.KindDecimal {
		d.amount, d.currency, d.hasAmount = a.Num, a.Currency, true
	}
	return d
}

func (d *deal) won() bool { return d.stage == "won" }

// month is the deal's close month, "" without a close date.
func (d *deal) month() string { return monthOf(d.closed) }

// label names the deal in messages: "deal 123 (Alfreds - order 10643)".
func (d *deal) label() string {
	if d.name == "" {
		return "deal " + d.id
	}
	return fmt.Sprintf("deal %s (%s)", d.id, d.name)
}

// order is an ERP sale order.
type order struct {
	id, linkKey, reference, state, account, currency string
	date                                             model.Value
	// lines is the sum of the line amounts as the ERP rounded them;
	// exact the same lines unrounded (quantity x unit price x (1 -
	// discount)); hasLines is false when the order maps no lines.
	lines, exact decimal.Decimal
	hasLines     bool
	// total and untaxed are the ERP's own totals, when it maps them.
	total, untaxed       decimal.Decimal
	hasTotal, hasUntaxed bool
}

func toOrder(r model.Record) *order {
	f := r.Fields
	o := &order{id: r.ID, linkKey: r.LinkKey, reference: f.Get("reference").Str, state: f.Get("state").Str,
		account: f.Get("account").Str, currency: f.Get("currency").Str, date: f.Get("order_date")}
	if t := f.Get("total"); t.Kind == model.KindMoney {
		o.total, o.hasTotal = t.Num, true
		o.currency = cmp.Or(o.currency, t.Currency)
	}
	if t := f.Get("untaxed"); t.Kind == model.KindMoney {
		o.untaxed, o.hasUntaxed = t.Num, true
		o.currency = cmp.Or(o.currency, t.Currency)
	}
	if l := f.Get("lines"); l.Kind == model.KindLines {
		o.hasLines = true
		for _, line := range l.Lines {
			lf := line.Fields
			q, p, disc, amt := lf.Get("quantity"), lf.Get("unit_price"), lf.Get("discount"), lf.Get("amount")
			if p.Kind == model.KindMoney {
				o.currency = cmp.Or(o.currency, p.Currency)
			}
			if amt.Kind == model.KindMoney {
				o.currency = cmp.Or(o.currency, amt.Currency)
			}
			var exact decimal.Decimal
			hasExact := false
			if (q.Kind == model.KindDecimal || q.Kind == model.KindMoney) && (p.Kind == model.KindMoney || p.Kind == model.KindDecimal) {
				d := decimal.Zero
				if disc.Kind == model.KindDecimal {
					d = disc.Num
				}
				exact, hasExact = model.LineAmount(q.Num, p.Num, d), true
			}
			switch {
			case amt.Kind == model.KindMoney || amt.Kind == model.KindDecimal:
				o.lines = o.lines.Add(amt.Num)
				if !hasExact {
					exact = amt.Num
				}
			case hasExact:
				o.lines = o.lines.Add(model.RoundMoney(exact, o.currency))
			}
			o.exact = o.exact.Add(exact)
		}
	}
	return o
}

// cancelled reports whether the ERP cancelled the order.
func (o *order) cancelled() bool { return o.state == "cancelled" }

// untaxedAmount is what the order sells before taxes: the ERP's untaxed total
// when mapped, else the sum of its lines.
func (o *order) untaxedAmount() (decimal.Decimal, bool) {
	if o.hasUntaxed {
		return o.untaxed, true
	}
	return o.lines, o.hasLines
}

// invoice is an ERP customer invoice (a credit note when its total is
// negative).
type invoice struct {
	id, number, state, order, reference, currency string
	total, due                                    decimal.Decimal
	hasTotal, hasDue                              bool
	date, paid                                    model.Value
}

func toInvoice(r model.Record) *invoice {
	f := r.Fields
	in := &invoice{id: r.ID, number: f.Get("number").Str, state: f.Get("state").Str, order: f.Get("order").Str,
		reference: f.Get("reference").Str, date: f.Get("invoice_date"), paid: f.Get("paid_date")}
	if t := f.Get("total"); t.Kind == model.KindMoney || t.Kind == model.KindDecimal {
		in.total, in.currency, in.hasTotal = t.Num, t.Currency, true
	}
	if t := f.Get("amount_due"); t.Kind == model.KindMoney || t.Kind == model.KindDecimal {
		in.due, in.hasDue = t.Num, true
		in.currency = cmp.Or(in.currency, t.Currency)
	}
	return in
}

// counts reports whether the invoice counts as invoiced: posted or paid,
// not a draft nor cancelled.
func (in *invoice) counts() bool {
	return in.hasTotal && in.state != "draft" && in.state != "cancelled"
}

func (in *invoice) credit() bool { return in.total.IsNegative() }

func (in *invoice) month() string { return monthOf(in.date) }

// label names the invoice in messages: "invoice INV/2026/0003 (id 3)".
func (in *invoice) label() string {
	if in.number == "" {
		return "invoice " + in.id
	}
	return fmt.Sprintf("invoice %s (id %s)", in.number, in.id)
}

// monthOf returns a date's month as 2006-01, "" for a null value.
func monthOf(v model.Value) string {
	if (v.Kind != model.KindDate && v.Kind != model.KindTime) || v.Time.IsZero() {
		return ""
	}
	return v.Time.UTC().Format("2006-01")
}

// o2cKeys returns m's keys in order.
func o2cKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

package reconcile

import (
	"fmt"
	"slices"
	"strings"

	"github.com/shopspring/decimal"
)

// monthKey is one month in one currency.
type monthKey struct{ month, currency string }

// ledger accumulates the months: the CRM's won amounts, the ERP's invoiced
// amounts, and each record's share of the variance.
type ledger struct {
	months map[monthKey]*Month
}

func (l *ledger) at(month, currency string) *Month {
	k := monthKey{month, currency}
	m, ok := l.months[k]
	if !ok {
		m = &Month{Month: month, Currency: currency, Explained: []Explanation{}}
		l.months[k] = m
	}
	return m
}

// explain adds one record's share (ERP minus CRM) to a month's variance;
// zero shares are left out.
func (l *ledger) explain(month, currency string, e Explanation) {
	if month == "" || e.Amount.IsZero() {
		return
	}
	m := l.at(month, currency)
	m.Explained = append(m.Explained, e)
}

// monthly compares, per month and currency, the won amounts of the CRM's
// deals (by close date) with the ERP's invoiced amounts (posted and paid
// invoices by invoice date, credit notes negative) and explains the variance
// record by record:
//
//   - timing: a deal won in one month and invoiced in another counts against
//     its close month and for its invoice's month;
//   - discount: the order's lines (quantity x unit price x (1 - discount),
//     exact) differ from the deal's amount;
//   - rounding: the ERP rounded each line to the currency's minor unit;
//   - tax: the order's total over its untaxed amount (when the ERP maps the
//     order's total), else what the invoices add over the order's untaxed
//     amount;
//   - credit_note: an invoice with a negative total;
//   - missing_handoff: a won deal never ordered or never invoiced;
//   - not_from_crm: an invoice whose order no won deal became.
//
// What the explanations leave is Unexplained. Nothing is rounded: every
// amount is the systems' own exact decimal.
func monthly(d *o2cData, notes *[]string) []Month {
	l := &ledger{months: map[monthKey]*Month{}}
	var noClose, noAmount, noDate, mixed []string
	for _, id := range o2cKeys(d.invoices) {
		in := d.invoices[id]
		if !in.counts() {
			continue
		}
		if in.month() == "" {
			noDate = append(noDate, in.label())
			continue
		}
		m := l.at(in.month(), in.currency)
		m.ERPInvoiced = m.ERPInvoiced.Add(in.total)
	}
	explainedInvoice := map[string]bool{}
	for _, id := range o2cKeys(d.deals) {
		dl := d.deals[id]
		if !dl.won() {
			continue
		}
		if !dl.hasAmount {
			noAmount = append(noAmount, dl.label())
			continue
		}
		month := dl.month()
		if month == "" {
			noClose = append(noClose, dl.label())
		} else {
			m := l.at(month, dl.currency)
			m.CRMWon = m.CRMWon.Add(dl.amount)
		}
		var o *order
		if oid, ok := d.orderOf[dl.id]; ok && !d.orders[oid].cancelled() {
			o = d.orders[oid]
		}
		var pos []*invoice
		if o != nil {
			for _, iid := range d.invoicesOf[o.id] {
				in := d.invoices[iid]
				if !in.counts() || in.month() == "" {
					continue
				}
				explainedInvoice[iid] = true
				if in.currency != dl.currency {
					mixed = append(mixed, fmt.Sprintf("%s (%s) and %s (%s)", dl.label(), dl.currency, in.label(), in.currency))
					continue
				}
				if in.credit() {
					l.explain(in.month(), in.currency, Explanation{Kind: CreditNote, Amount: in.total, DealID: dl.id, InvoiceID: in.id,
						Detail: fmt.Sprintf("credit note %s on the order of %s", in.label(), dl.label())})
					continue
				}
				pos = append(pos, in)
			}
		}
		if len(pos) == 0 {
			detail := fmt.Sprintf("%s won, never ordered", dl.label())
			if o != nil {
				detail = fmt.Sprintf("%s won and ordered (order %s), never invoiced", dl.label(), o.id)
			}
			l.explain(month, dl.currency, Explanation{Kind: MissingHandoff, Amount: dl.amount.Neg(), DealID: dl.id, Detail: detail})
			continue
		}
		slices.SortStableFunc(pos, func(a, b *invoice) int { return a.date.Time.Compare(b.date.Time) })
		first := pos[0].month()
		cur := dl.currency
		if month != first {
			won := "won in " + month
			if month == "" {
				won = "won with no close date in the CRM"
			} else {
				l.explain(month, cur, Explanation{Kind: Timing, Amount: dl.amount.Neg(), DealID: dl.id, InvoiceID: pos[0].id,
					Detail: fmt.Sprintf("%s won in %s, invoiced in %s (%s)", dl.label(), month, first, pos[0].label())})
			}
			l.explain(first, cur, Explanation{Kind: Timing, Amount: dl.amount, DealID: dl.id, InvoiceID: pos[0].id,
				Detail: fmt.Sprintf("%s %s, invoiced in %s (%s)", dl.label(), won, first, pos[0].label())})
		}
		total := decimal.Zero
		for _, in := range pos {
			total = total.Add(in.total)
			if in.month() != first {
				l.explain(first, cur, Explanation{Kind: Timing, Amount: in.total.Neg(), DealID: dl.id, InvoiceID: in.id,
					Detail: fmt.Sprintf("%s of %s is invoiced in %s", in.label(), dl.label(), in.month())})
				l.explain(in.month(), cur, Explanation{Kind: Timing, Amount: in.total, DealID: dl.id, InvoiceID: in.id,
					Detail: fmt.Sprintf("%s of %s, won in %s, first invoiced in %s", in.label(), dl.label(), month, first)})
			}
		}
		untaxed, ok := o.untaxedAmount()
		if !ok {
			continue // no lines nor untaxed total: the rest stays unexplained
		}
		ref := pos[0].id
		if o.hasLines {
			l.explain(first, cur, Explanation{Kind: Discount, Amount: o.exact.Sub(dl.amount), DealID: dl.id, InvoiceID: ref,
				Detail: fmt.Sprintf("the lines of order %s come to %s %s, %s won %s", o.id, o.exact, cur, dl.label(), dl.amount)})
			l.explain(first, cur, Explanation{Kind: Rounding, Amount: untaxed.Sub(o.exact), DealID: dl.id, InvoiceID: ref,
				Detail: fmt.Sprintf("order %s rounds its lines to %s %s (exactly %s)", o.id, untaxed, cur, o.exact)})
		} else {
			l.explain(first, cur, Explanation{Kind: Discount, Amount: untaxed.Sub(dl.amount), DealID: dl.id, InvoiceID: ref,
				Detail: fmt.Sprintf("order %s comes to %s %s before taxes, %s won %s", o.id, untaxed, cur, dl.label(), dl.amount)})
		}
		switch tax := total.Sub(untaxed); {
		case o.hasTotal:
			l.explain(first, cur, Explanation{Kind: Tax, Amount: o.total.Sub(untaxed), DealID: dl.id, InvoiceID: ref,
				Detail: fmt.Sprintf("order %s charges %s %s of taxes over %s", o.id, o.total.Sub(untaxed), cur, untaxed)})
		case tax.IsPositive():
			l.explain(first, cur, Explanation{Kind: Tax, Amount: tax, DealID: dl.id, InvoiceID: ref,
				Detail: fmt.Sprintf("the invoices of order %s come to %s %s, %s over its untaxed %s", o.id, total, cur, tax, untaxed)})
		}
	}
	// Invoices no won deal explains.
	for _, id := range o2cKeys(d.invoices) {
		in := d.invoices[id]
		if explainedInvoice[id] || !in.counts() || in.month() == "" {
			continue
		}
		e := Explanation{Kind: NotFromCRM, Amount: in.total, InvoiceID: in.id}
		switch dl, ok := d.deals[d.dealOf[in.order]]; {
		case in.credit():
			e.Kind, e.Detail = CreditNote, fmt.Sprintf("credit note %s", in.label())
		case ok:
			e.DealID = dl.id
			e.Detail = fmt.Sprintf("%s comes from %s, which is not won (stage %s)", in.label(), dl.label(), dl.stage)
		case in.order != "":
			e.Detail = fmt.Sprintf("%s comes from order %s, which no deal became", in.label(), in.order)
		default:
			e.Detail = fmt.Sprintf("%s comes from no order", in.label())
		}
		l.explain(in.month(), in.currency, e)
	}
	note := func(what string, items []string) {
		if len(items) == 0 {
			return
		}
		shown := items[:min(len(items), 5)]
		more := ""
		if len(items) > len(shown) {
			more = fmt.Sprintf(" and %d more", len(items)-len(shown))
		}
		*notes = append(*notes, fmt.Sprintf("%s: %s%s", what, strings.Join(shown, ", "), more))
	}
	note("won deals without a close date, in no month", noClose)
	note("won deals without an amount, in no month", noAmount)
	note("invoices without an invoice date, in no month", noDate)
	note("deals invoiced in another currency, left unexplained (the ERP holds no exchange rate Concord reads)", mixed)

	out := make([]Month, 0, len(l.months))
	for _, m := range l.months {
		m.Variance = m.ERPInvoiced.Sub(m.CRMWon)
		explained := decimal.Zero
		for _, e := range m.Explained {
			explained = explained.Add(e.Amount)
		}
		m.Unexplained = m.Variance.Sub(explained)
		out = append(out, *m)
	}
	slices.SortFunc(out, func(a, b Month) int {
		return strings.Compare(a.Month+" "+a.Currency, b.Month+" "+b.Currency)
	})
	currencies := map[string]bool{}
	for _, m := range out {
		currencies[m.Currency] = true
	}
	if len(currencies) > 1 {
		*notes = append(*notes, fmt.Sprintf("amounts are in %d currencies and are reported per currency: the ERP holds no exchange rate Concord reads, and none is guessed", len(currencies)))
	}
	return out
}

// ByKind sums a month's explanations per kind, in the order of Kinds.
func (m Month) ByKind() []KindTotal {
	sums := map[string]decimal.Decimal{}
	for _, e := range m.Explained {
		sums[e.Kind] = sums[e.Kind].Add(e.Amount)
	}
	var out []KindTotal
	for _, k := range Kinds {
		if s, ok := sums[k]; ok {
			out = append(out, KindTotal{Kind: k, Amount: s})
		}
	}
	return out
}

// Kinds lists the explanation kinds in the order reports show them.
var Kinds = []string{Timing, Discount, Rounding, Tax, CreditNote, MissingHandoff, NotFromCRM}

// KindTotal is the sum of one kind of explanation.
type KindTotal struct {
	Kind   string          `json:"kind"`
	Amount decimal.Decimal `json:"amount"`
}

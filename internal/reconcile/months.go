package reconcile

import (
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/concord-sync/concord/internal/fx"
	"github.com/concord-sync/concord/internal/model"
)

// monthKey is one month in one currency.
type monthKey struct{ month, currency string }

// acc is one month and currency being added up, exactly: converted amounts
// are fractions, and only the final figures are rounded (final).
type acc struct {
	m        *Month
	won, inv *big.Rat
	// exact is each explanation's exact amount, by index in m.Explained.
	exact []*big.Rat
	rates map[string]bool
}

// ledger accumulates the months: the CRM's won amounts, the ERP's invoiced
// amounts, and each record's share of the variance, converted by cv.
type ledger struct {
	months map[monthKey]*acc
	cv     *converter
}

func (l *ledger) at(month, currency string) *acc {
	k := monthKey{month, currency}
	a, ok := l.months[k]
	if !ok {
		a = &acc{m: &Month{Month: month, Currency: currency, Explained: []Explanation{}}, won: new(big.Rat), inv: new(big.Rat), rates: map[string]bool{}}
		l.months[k] = a
	}
	return a
}

// used notes the rate an amount of the month was converted at.
func (a *acc) used(m amount) {
	if m.conv != nil {
		a.rates[m.conv.String()] = true
	}
}

// explain adds one record's share (ERP minus CRM) to a month's variance:
// e.Amount in currency, converted at the rate of the day on; zero shares are
// left out.
func (l *ledger) explain(month, currency string, on model.Value, e Explanation) {
	if month == "" || e.Amount.IsZero() {
		return
	}
	m := l.cv.at(e.Amount, currency, on, "")
	if m.conv != nil {
		e.Rate = m.conv.String()
		e.Detail += fmt.Sprintf(" (%s %s at %s)", e.Amount, m.from, e.Rate)
	}
	l.explainExact(month, m.cur, e, m.r)
	l.at(month, m.cur).used(m)
}

// explainExact adds a share whose exact amount in currency is r.
func (l *ledger) explainExact(month, currency string, e Explanation, r *big.Rat) {
	if month == "" || r.Sign() == 0 {
		return
	}
	a := l.at(month, currency)
	a.m.Explained = append(a.m.Explained, e)
	a.exact = append(a.exact, r)
}

// converter converts the months' amounts into one currency with the ERP's
// rates; without a target currency it keeps every amount as it is.
type converter struct {
	to    string
	rates *fx.Table
	// missing lists the records left in their own currency, and why.
	missing []string
}

// amount is an exact amount in the currency it is reported in.
type amount struct {
	r    *big.Rat
	cur  string
	from string
	conv *fx.Conversion // nil when not converted
}

// at converts a (in currency cur) at the rate of on's day. An amount that
// cannot be converted stays in cur; what, when not empty, names the record
// for the note saying why.
func (cv *converter) at(a decimal.Decimal, cur string, on model.Value, what string) amount {
	out := amount{r: fx.Rat(a), cur: cur, from: cur}
	if cv == nil || cv.to == "" || cur == "" || strings.EqualFold(cur, cv.to) {
		return out
	}
	if on.Time.IsZero() {
		return out // in no month
	}
	var why string
	if cv.rates == nil {
		why = "the ERP holds no exchange rates Concord reads"
	} else {
		r, c, w, ok := cv.rates.Convert(a, cur, cv.to, on.Time)
		if ok {
			return amount{r: r, cur: strings.ToUpper(cv.to), from: cur, conv: &c}
		}
		why = w
	}
	if what != "" {
		cv.missing = append(cv.missing, fmt.Sprintf("%s (%s %s on %s: %s)", what, a, cur, on.Time.Format(time.DateOnly), why))
	}
	return out
}

// final is a month's figure: exact when nothing was converted into the
// target currency, else rounded once, half to even, to its minor unit.
func (cv *converter) final(r *big.Rat, currency string) decimal.Decimal {
	if cv == nil || cv.to == "" || !strings.EqualFold(currency, cv.to) {
		if d, ok := fx.Exact(r); ok {
			return d
		}
	}
	return fx.Round(r, currency)
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
//   - not_from_crm: an invoice whose order no won deal became;
//   - exchange_rate: with a target currency, a deal converted at its close
//     date's rate and invoiced in the same month at another.
//
// What the explanations leave is Unexplained. With cv's target currency each
// amount is converted at the ERP's rate of its own date (the deal's close
// date, the invoice's date), exactly; else nothing is converted. Nothing is
// rounded before the final figure.
func monthly(d *o2cData, cv *converter, notes *[]string) []Month {
	l := &ledger{months: map[monthKey]*acc{}, cv: cv}
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
		m := cv.at(in.total, in.currency, in.date, in.label())
		a := l.at(in.month(), m.cur)
		a.inv.Add(a.inv, m.r)
		a.used(m)
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
		var won amount
		if month == "" {
			noClose = append(noClose, dl.label())
		} else {
			won = cv.at(dl.amount, dl.currency, dl.closed, dl.label())
			a := l.at(month, won.cur)
			a.won.Add(a.won, won.r)
			a.used(won)
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
					l.explain(in.month(), in.currency, in.date, Explanation{Kind: CreditNote, Amount: in.total, DealID: dl.id, InvoiceID: in.id,
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
			l.explain(month, dl.currency, dl.closed, Explanation{Kind: MissingHandoff, Amount: dl.amount.Neg(), DealID: dl.id, Detail: detail})
			continue
		}
		slices.SortStableFunc(pos, func(a, b *invoice) int { return a.date.Time.Compare(b.date.Time) })
		first, on := pos[0].month(), pos[0].date
		cur := dl.currency
		if month != first {
			won := "won in " + month
			if month == "" {
				won = "won with no close date in the CRM"
			} else {
				l.explain(month, cur, dl.closed, Explanation{Kind: Timing, Amount: dl.amount.Neg(), DealID: dl.id, InvoiceID: pos[0].id,
					Detail: fmt.Sprintf("%s won in %s, invoiced in %s (%s)", dl.label(), month, first, pos[0].label())})
			}
			l.explain(first, cur, on, Explanation{Kind: Timing, Amount: dl.amount, DealID: dl.id, InvoiceID: pos[0].id,
				Detail: fmt.Sprintf("%s %s, invoiced in %s (%s)", dl.label(), won, first, pos[0].label())})
		}
		total := decimal.Zero
		for _, in := range pos {
			total = total.Add(in.total)
			if in.month() != first {
				l.explain(first, cur, on, Explanation{Kind: Timing, Amount: in.total.Neg(), DealID: dl.id, InvoiceID: in.id,
					Detail: fmt.Sprintf("%s of %s is invoiced in %s", in.label(), dl.label(), in.month())})
				l.explain(in.month(), cur, in.date, Explanation{Kind: Timing, Amount: in.total, DealID: dl.id, InvoiceID: in.id,
					Detail: fmt.Sprintf("%s of %s, won in %s, first invoiced in %s", in.label(), dl.label(), month, first)})
			}
		}
		exchange(l, dl, won, month, pos)
		untaxed, ok := o.untaxedAmount()
		if !ok {
			continue // no lines nor untaxed total: the rest stays unexplained
		}
		ref := pos[0].id
		if o.hasLines {
			l.explain(first, cur, on, Explanation{Kind: Discount, Amount: o.exact.Sub(dl.amount), DealID: dl.id, InvoiceID: ref,
				Detail: fmt.Sprintf("the lines of order %s come to %s %s, %s won %s", o.id, o.exact, cur, dl.label(), dl.amount)})
			l.explain(first, cur, on, Explanation{Kind: Rounding, Amount: untaxed.Sub(o.exact), DealID: dl.id, InvoiceID: ref,
				Detail: fmt.Sprintf("order %s rounds its lines to %s %s (exactly %s)", o.id, untaxed, cur, o.exact)})
		} else {
			l.explain(first, cur, on, Explanation{Kind: Discount, Amount: untaxed.Sub(dl.amount), DealID: dl.id, InvoiceID: ref,
				Detail: fmt.Sprintf("order %s comes to %s %s before taxes, %s won %s", o.id, untaxed, cur, dl.label(), dl.amount)})
		}
		switch tax := total.Sub(untaxed); {
		case o.hasTotal:
			l.explain(first, cur, on, Explanation{Kind: Tax, Amount: o.total.Sub(untaxed), DealID: dl.id, InvoiceID: ref,
				Detail: fmt.Sprintf("order %s charges %s %s of taxes over %s", o.id, o.total.Sub(untaxed), cur, untaxed)})
		case tax.IsPositive():
			l.explain(first, cur, on, Explanation{Kind: Tax, Amount: tax, DealID: dl.id, InvoiceID: ref,
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
		l.explain(in.month(), in.currency, in.date, e)
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
	if cv != nil && cv.to != "" {
		note("deals invoiced in another currency, left unexplained", mixed)
		note("not converted to "+strings.ToUpper(cv.to)+", left in their own currency", cv.missing)
	} else {
		note("deals invoiced in another currency, left unexplained (without --currency nothing is converted)", mixed)
	}

	out := make([]Month, 0, len(l.months))
	for _, a := range l.months {
		m := a.m
		variance := new(big.Rat).Sub(a.inv, a.won)
		unexplained := new(big.Rat).Set(variance)
		for i := range m.Explained {
			unexplained.Sub(unexplained, a.exact[i])
			m.Explained[i].Amount = cv.final(a.exact[i], m.Currency)
		}
		m.CRMWon, m.ERPInvoiced = cv.final(a.won, m.Currency), cv.final(a.inv, m.Currency)
		m.Variance, m.Unexplained = cv.final(variance, m.Currency), cv.final(unexplained, m.Currency)
		m.Rates = slices.Sorted(maps.Keys(a.rates))
		out = append(out, *m)
	}
	slices.SortFunc(out, func(a, b Month) int {
		return strings.Compare(a.Month+" "+a.Currency, b.Month+" "+b.Currency)
	})
	currencies := map[string]bool{}
	for _, m := range out {
		currencies[m.Currency] = true
		if len(m.Rates) > 0 {
			*notes = append(*notes, fmt.Sprintf("%s %s: converted with %s", m.Month, m.Currency, strings.Join(m.Rates, ", ")))
		}
	}
	if len(currencies) > 1 {
		if cv != nil && cv.to != "" {
			*notes = append(*notes, fmt.Sprintf("amounts are in %d currencies: what the ERP's rates could not convert to %s is reported in its own currency", len(currencies), strings.ToUpper(cv.to)))
		} else {
			*notes = append(*notes, fmt.Sprintf("amounts are in %d currencies and are reported per currency: --currency converts them with the ERP's rates", len(currencies)))
		}
	}
	return out
}

// exchange explains what converting at different rates leaves in a month:
// a deal won and first invoiced in the same month, converted at its close
// date's rate and invoiced at the first invoice's; and the month's other
// invoices converted at their own dates' rates where the explanations use
// the first invoice's.
func exchange(l *ledger, dl *deal, won amount, month string, pos []*invoice) {
	first := pos[0]
	if l.cv == nil || l.cv.to == "" {
		return
	}
	at := l.cv.at(decimal.NewFromInt(1), dl.currency, first.date, "")
	if at.conv == nil {
		return
	}
	share := func(a decimal.Decimal, from *fx.Conversion, detail string, inv string) {
		if from == nil || from.Factor.Cmp(at.conv.Factor) == 0 {
			return
		}
		r := new(big.Rat).Sub(at.conv.Factor, from.Factor)
		r.Mul(r, fx.Rat(a))
		l.explainExact(month, at.cur, Explanation{Kind: ExchangeRate, DealID: dl.id, InvoiceID: inv, Rate: from.String() + "; " + at.conv.String(),
			Detail: fmt.Sprintf("%s %s %s converted at %s, the invoice at %s", detail, a, dl.currency, from.String(), at.conv.String())}, r)
	}
	if month == first.month() && won.conv != nil {
		share(dl.amount, won.conv, dl.label()+" won for", first.id)
	}
	for _, in := range pos[1:] {
		if in.month() != first.month() {
			continue
		}
		m := l.cv.at(in.total, in.currency, in.date, "")
		if m.conv != nil {
			// the invoice counts at its own rate, its share was explained at the first's
			share(in.total.Neg(), m.conv, in.label()+" of "+dl.label()+" for", in.id)
		}
	}
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
var Kinds = []string{Timing, Discount, Rounding, Tax, CreditNote, MissingHandoff, NotFromCRM, ExchangeRate}

// KindTotal is the sum of one kind of explanation.
type KindTotal struct {
	Kind   string          `json:"kind"`
	Amount decimal.Decimal `json:"amount"`
}

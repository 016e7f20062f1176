package assess

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"github.com/concord-sync/concord/internal/model"
)

// The canonical stage of a won deal.
const stageWon = "won"

// amount is a money amount with its currency; ok is false when unknown.
type amount struct {
	num      decimal.Decimal
	currency string
	ok       bool
}

// moneyOf reads a money (or plain number) field.
func moneyOf(r model.Record, field string) amount {
	v := r.Fields.Get(field)
	switch v.Kind {
	case model.KindMoney:
		return amount{v.Num, v.Currency, true}
	case model.KindDecimal:
		return amount{v.Num, "", true}
	}
	return amount{}
}

// orderAmount is an order's total: its total, else its untaxed total, else
// the sum of its lines' amounts (or quantity x unit price less discount).
func orderAmount(r model.Record) amount {
	for _, f := range []string{"total", "untaxed"} {
		if a := moneyOf(r, f); a.ok {
			return a
		}
	}
	lines := r.Fields.Get("lines")
	if lines.Kind != model.KindLines || len(lines.Lines) == 0 {
		return amount{}
	}
	sum := amount{ok: true}
	for _, l := range lines.Lines {
		a := moneyOf(l, "amount")
		if !a.ok {
			q, p := moneyOf(l, "quantity"), moneyOf(l, "unit_price")
			if !q.ok || !p.ok {
				return amount{}
			}
			a = amount{model.LineAmount(q.num, p.num, moneyOf(l, "discount").num), p.currency, true}
		}
		sum.num = sum.num.Add(a.num)
		sum.currency = cmp.Or(sum.currency, a.currency)
	}
	return sum
}

// dateOf reads a date or time field.
func dateOf(r model.Record, field string) (time.Time, bool) {
	v := r.Fields.Get(field)
	if v.Kind == model.KindDate || v.Kind == model.KindTime {
		return v.Time, true
	}
	return time.Time{}, false
}

// refOf reads a reference field's id.
func refOf(r model.Record, field string) string {
	v := r.Fields.Get(field)
	if v.Kind == model.KindRef || v.Kind == model.KindText {
		return v.Str
	}
	return ""
}

// sameAmount reports whether a and b are the same amount within tol
// (relative to b): same currency when both have one.
func sameAmount(a, b amount, tol decimal.Decimal) bool {
	if !a.ok || !b.ok {
		return false
	}
	if a.currency != "" && b.currency != "" && a.currency != b.currency {
		return false
	}
	return a.num.Sub(b.num).Abs().LessThanOrEqual(b.num.Abs().Mul(tol))
}

// inWindow reports whether at falls in the window of a deal closed on
// closed: from WindowDays/10 days before to WindowDays days after. Unknown
// dates are in every window.
func (a Assumptions) inWindow(closed, at time.Time) bool {
	if closed.IsZero() || at.IsZero() {
		return true
	}
	days := at.Sub(closed).Hours() / 24
	return days >= -float64(a.WindowDays)/10 && days <= float64(a.WindowDays)
}

// handoffs pairs the CRM's won deals with the ERP's orders and the ERP's
// invoices with the won deals, and measures the delay from won to ordered.
func handoffs(in *Input, a Assumptions, customers map[string]string, r *Report) {
	var won []model.Record
	for _, d := range in.CRM.Records[model.Deal] {
		if d.Fields.Get("stage").Str == stageWon {
			won = append(won, d)
		}
	}
	slices.SortStableFunc(won, func(x, y model.Record) int {
		dx, _ := dateOf(x, "close_date")
		dy, _ := dateOf(y, "close_date")
		return cmp.Or(dx.Compare(dy), cmp.Compare(x.ID, y.ID))
	})
	orders := in.ERP.Records[model.Order]
	r.Deals = Deals{Won: len(won), Orders: len(orders), WithoutOrder: []Item{}}
	r.Invoices = Invoices{Total: len(in.ERP.Records[model.Invoice]), WithoutDeal: []Item{}}

	// References: the ERP holds the deal's id (its link column or a
	// reference field), or the CRM holds the order's id.
	orderByDeal := map[string]string{}
	orderIDs := map[string]bool{}
	for _, o := range orders {
		orderIDs[o.ID] = true
		for _, k := range []string{o.LinkKey, refOf(o, "reference")} {
			if k != "" && orderByDeal[k] == "" {
				orderByDeal[k] = o.ID
			}
		}
	}
	dealOfOrder := map[string]string{}
	orderOfDeal := map[string]string{}
	for _, d := range won {
		o := orderByDeal[d.ID]
		if o == "" && orderIDs[d.LinkKey] {
			o = d.LinkKey
		}
		if o != "" && dealOfOrder[o] == "" {
			dealOfOrder[o], orderOfDeal[d.ID] = d.ID, o
			r.Deals.ByReference++
		}
	}
	// The rest: the matched customer, the amount and the date window.
	for _, d := range won {
		if orderOfDeal[d.ID] != "" {
			continue
		}
		cust := customers[refOf(d, "account")]
		amt := moneyOf(d, "amount")
		closed, _ := dateOf(d, "close_date")
		best, bestDays := "", math.Inf(1)
		for _, o := range orders {
			if dealOfOrder[o.ID] != "" || cust == "" || refOf(o, "account") != cust || !sameAmount(orderAmount(o), amt, a.AmountTolerance) {
				continue
			}
			at, _ := dateOf(o, "order_date")
			if !a.inWindow(closed, at) {
				continue
			}
			days := 0.0
			if !closed.IsZero() && !at.IsZero() {
				days = math.Abs(at.Sub(closed).Hours())
			}
			if days < bestDays {
				best, bestDays = o.ID, days
			}
		}
		if best != "" {
			dealOfOrder[best], orderOfDeal[d.ID] = d.ID, best
			r.Deals.ByMatch++
		}
	}
	for _, d := range won {
		if l := d.Fields.Get("lines"); l.Kind == model.KindLines {
			r.Deals.Lines += len(l.Lines)
		}
		if orderOfDeal[d.ID] == "" {
			r.Deals.WithoutOrder = append(r.Deals.WithoutOrder, dealItem(d))
		}
	}
	r.Deals.OrdersWithoutDeal = len(orders) - len(dealOfOrder)
	r.Delay = delay(won, orderOfDeal, byID(orders))
	invoices(in, a, won, customers, dealOfOrder, r)
}

// invoices pairs each invoice with a won deal: through its order's deal,
// else the deal id it holds (link column or reference field), else (an
// invoice with no order) a won deal of the matched customer with the same
// amount in the date window.
func invoices(in *Input, a Assumptions, won []model.Record, customers map[string]string, dealOfOrder map[string]string, r *Report) {
	wonIDs := map[string]bool{}
	for _, d := range won {
		wonIDs[d.ID] = true
	}
	orders := byID(in.ERP.Records[model.Order])
	for _, inv := range in.ERP.Records[model.Invoice] {
		deal := ""
		order := refOf(inv, "order")
		if order != "" {
			deal = dealOfOrder[order]
		}
		for _, k := range []string{inv.LinkKey, refOf(inv, "reference")} {
			if deal == "" && wonIDs[k] {
				deal = k
			}
		}
		if deal == "" && order == "" {
			deal = invoiceByMatch(in, a, inv, won, customers)
		}
		if deal != "" {
			r.Invoices.WithDeal++
			continue
		}
		it := Item{ID: inv.ID, Name: inv.Fields.Get("number").String(), Account: refOf(inv, "account")}
		if it.Account == "" && order != "" {
			it.Account = refOf(orders[order], "account")
		}
		if amt := moneyOf(inv, "total"); amt.ok {
			it.Amount, it.Currency = amt.num, amt.currency
		}
		it.Date, _ = dateOf(inv, "invoice_date")
		r.Invoices.WithoutDeal = append(r.Invoices.WithoutDeal, it)
	}
}

// invoiceByMatch finds the won deal of an invoice without an order: the
// deal's customer matches the invoice's, the amounts agree and the invoice
// date is in the deal's window. "" when none.
func invoiceByMatch(in *Input, a Assumptions, inv model.Record, won []model.Record, customers map[string]string) string {
	acct := refOf(inv, "account")
	if acct == "" {
		return ""
	}
	at, _ := dateOf(inv, "invoice_date")
	total := moneyOf(inv, "total")
	for _, d := range won {
		if customers[refOf(d, "account")] != acct || !sameAmount(total, moneyOf(d, "amount"), a.AmountTolerance) {
			continue
		}
		closed, _ := dateOf(d, "close_date")
		if a.inWindow(closed, at) {
			return d.ID
		}
	}
	return ""
}

func dealItem(d model.Record) Item {
	it := Item{ID: d.ID, Name: d.Fields.Get("name").String(), Account: refOf(d, "account")}
	if amt := moneyOf(d, "amount"); amt.ok {
		it.Amount, it.Currency = amt.num, amt.currency
	}
	it.Date, _ = dateOf(d, "close_date")
	return it
}

// delay measures the days from close date to order date over the paired
// deals that carry both; nil when none does.
func delay(won []model.Record, orderOfDeal map[string]string, orders map[string]model.Record) *Delay {
	var days []float64
	for _, d := range won {
		o, ok := orders[orderOfDeal[d.ID]]
		if !ok {
			continue
		}
		closed, ok1 := dateOf(d, "close_date")
		at, ok2 := dateOf(o, "order_date")
		if ok1 && ok2 {
			days = append(days, at.Sub(closed).Hours()/24)
		}
	}
	if len(days) == 0 {
		return nil
	}
	slices.Sort(days)
	sum := 0.0
	for _, d := range days {
		sum += d
	}
	return &Delay{Pairs: len(days), MeanDays: round2(sum / float64(len(days))), MedianDays: round2(quantile(days, 0.5)),
		P90Days: round2(quantile(days, 0.9)), MaxDays: round2(days[len(days)-1])}
}

// quantile is the q-quantile of sorted xs, interpolated linearly.
func quantile(xs []float64, q float64) float64 {
	pos := q * float64(len(xs)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(xs)-1)
	return xs[lo] + (xs[hi]-xs[lo])*(pos-float64(lo))
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

// weeks measures the period the won deals were closed over, in weeks (at
// least one).
func weeks(in *Input) (decimal.Decimal, bool) {
	var lo, hi time.Time
	n := 0
	for _, d := range in.CRM.Records[model.Deal] {
		if d.Fields.Get("stage").Str != stageWon {
			continue
		}
		at, ok := dateOf(d, "close_date")
		if !ok {
			continue
		}
		if n == 0 || at.Before(lo) {
			lo = at
		}
		if n == 0 || at.After(hi) {
			hi = at
		}
		n++
	}
	if n < 2 {
		return decimal.Zero, false
	}
	w := decimal.NewFromInt(int64(hi.Sub(lo) / time.Second)).Div(decimal.NewFromInt(7 * 24 * 3600))
	return decimal.Max(w, decimal.NewFromInt(1)), true
}

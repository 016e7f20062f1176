package assess

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/shopspring/decimal"

	"github.com/concord-sync/concord/internal/model"
)

// Pain keys, in the order they are documented (docs/assess.md).
const (
	PainOrderReentry    = "order_reentry"
	PainCustomerReentry = "customer_reentry"
	PainDrift           = "customer_drift"
	PainInvoiceStatus   = "invoice_status_reentry"
	PainWonNoOrder      = "won_deal_without_order"
	PainInvoiceNoDeal   = "invoice_without_deal"
	PainDuplicates      = "duplicates"
	PainQuality         = "data_quality"
	PainOrderDelay      = "order_delay"
)

// The flows a pain is relieved by ("" for a clean-up inside the systems).
const (
	FlowCustomers = "customers"
	FlowOrders    = "orders"
	FlowPayments  = "payments"
)

// Pain is one measure turned into a weekly cost.
type Pain struct {
	Rank  int    `json:"rank"`
	Key   string `json:"key"`
	Title string `json:"title"`
	// Count is what was measured over the period (records, fields, values).
	Count int `json:"count"`
	// PerWeek is Count spread over the period's weeks.
	PerWeek decimal.Decimal `json:"per_week"`
	// Minutes is the time each one costs (zero for the delay, a cost of
	// money).
	Minutes      decimal.Decimal `json:"minutes_each"`
	HoursPerWeek decimal.Decimal `json:"hours_per_week"`
	CostPerWeek  decimal.Decimal `json:"cost_per_week"`
	Currency     string          `json:"currency"`
	// Assumption says how the cost was figured.
	Assumption string `json:"assumption"`
	// Flow is the flow that removes the pain; empty for a clean-up to do in
	// the systems themselves.
	Flow string `json:"flow,omitempty"`
}

var (
	sixty = decimal.NewFromInt(60)
	year  = decimal.NewFromInt(365)
)

// pains turns the measures of r into weekly costs, most costly first.
func pains(in *Input, a Assumptions, r *Report) []Pain {
	var out []Pain
	labour := func(key, title, flow string, count int, minutes decimal.Decimal, how string) {
		if count == 0 {
			return
		}
		perWeek := decimal.NewFromInt(int64(count)).Div(r.Weeks)
		hours := perWeek.Mul(minutes).Div(sixty)
		out = append(out, Pain{Key: key, Title: title, Count: count, PerWeek: perWeek.Round(2), Minutes: minutes,
			HoursPerWeek: hours.Round(2), CostPerWeek: hours.Mul(a.HourlyCost).Round(2), Currency: a.Currency, Flow: flow,
			Assumption: fmt.Sprintf("%d over %s weeks x %s min (%s) x %s %s/h", count, r.Weeks.Round(2), minutes, how, a.HourlyCost, a.Currency)})
	}
	entry, inv := a.MinutesPerEntry, a.MinutesPerInvestigation
	labour(PainOrderReentry, "won deals keyed into the ERP as orders, line by line", FlowOrders,
		r.Deals.Won+r.Deals.Lines, entry, "one entry per order and per line")
	labour(PainCustomerReentry, "customers kept by hand in both systems", FlowCustomers,
		r.Customers.Matched+r.Customers.Likely, entry, "each keyed twice")
	nDrift := 0
	for _, d := range r.Drift {
		nDrift += d.Pairs
	}
	labour(PainDrift, "customer fields that differ between the systems", FlowCustomers, nDrift, entry, "one correction each")
	labour(PainInvoiceStatus, "invoice and payment status copied onto CRM deals by hand", FlowPayments,
		r.Invoices.WithDeal, entry, "one update per invoice")
	labour(PainWonNoOrder, "won deals with no ERP order", FlowOrders, len(r.Deals.WithoutOrder), inv, "chasing each")
	labour(PainInvoiceNoDeal, "ERP invoices with no CRM deal", FlowPayments, len(r.Invoices.WithoutDeal), inv, "chasing each")
	nDup := 0
	for _, d := range r.Duplicates {
		nDup += d.Extra
	}
	labour(PainDuplicates, "duplicate records inside a system", "", nDup, inv, "merging each")
	nBad := 0
	for _, q := range r.Quality {
		nBad += q.Failed
	}
	labour(PainQuality, "values cleaning would quarantine", "", nBad, entry, "fixing each")
	if p, ok := delayPain(in, a, r); ok {
		out = append(out, p)
	}
	slices.SortStableFunc(out, func(x, y Pain) int {
		return cmp.Or(y.CostPerWeek.Cmp(x.CostPerWeek), cmp.Compare(y.Count, x.Count), cmp.Compare(x.Key, y.Key))
	})
	for i := range out {
		out[i].Rank = i + 1
	}
	return out
}

// delayPain is the cost of money of the days between a deal won and its
// order: the won amount per week in the assumptions' currency x the mean
// delay in days / 365 x the yearly capital rate. Deals in other currencies
// are left out (never converted).
func delayPain(in *Input, a Assumptions, r *Report) (Pain, bool) {
	if r.Delay == nil || r.Delay.MeanDays <= 0 || a.CapitalRate.IsZero() {
		return Pain{}, false
	}
	sum, n, other := decimal.Zero, 0, 0
	for _, d := range in.CRM.Records[model.Deal] {
		if d.Fields.Get("stage").Str != stageWon {
			continue
		}
		amt := moneyOf(d, "amount")
		switch {
		case !amt.ok:
		case amt.currency != "" && amt.currency != a.Currency:
			other++
		default:
			sum = sum.Add(amt.num)
			n++
		}
	}
	if n == 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("the cost of the delay from won to order: no won deal is in %s (%d in other currencies, never converted); set --currency", a.Currency, other))
		return Pain{}, false
	}
	mean := decimal.NewFromFloat(r.Delay.MeanDays)
	cost := sum.Div(r.Weeks).Mul(mean).Div(year).Mul(a.CapitalRate)
	how := fmt.Sprintf("%s %s won per week x %s days mean delay / 365 x %s a year", sum.Div(r.Weeks).Round(2), a.Currency, mean, a.CapitalRate)
	if other > 0 {
		how += fmt.Sprintf(" (%d deals in other currencies left out, never converted)", other)
	}
	return Pain{Key: PainOrderDelay, Title: "days from a deal won to its ERP order (cost of money)", Count: r.Delay.Pairs,
		PerWeek: decimal.NewFromInt(int64(r.Delay.Pairs)).Div(r.Weeks).Round(2), Minutes: decimal.Zero, HoursPerWeek: decimal.Zero,
		CostPerWeek: cost.Round(2), Currency: a.Currency, Assumption: how, Flow: FlowOrders}, true
}

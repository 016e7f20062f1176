package assess_test

import (
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/assess"
	"github.com/concord-sync/concord/internal/match"
	"github.com/concord-sync/concord/internal/model"
)

func day(s string) model.Value {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return model.Date(t)
}

func usd(s string) model.Value { return model.Money(decimal.RequireFromString(s), "USD") }

func rec(id string, f model.Fields) model.Record { return model.Record{ID: id, Fields: f} }

// input is two systems with no link between them: customers match by name
// and city, deals pair with orders only by customer, amount and date.
func input() *assess.Input {
	rules, _ := match.DefaultRules(model.Account)
	return &assess.Input{
		Now:   time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
		Rules: map[model.Entity]match.Rules{model.Account: rules},
		Owners: map[model.Entity]map[string]string{
			model.Account: {"name": "crm", "city": "crm", "phone": "crm"},
			model.Deal:    {"account": "crm", "lines": "crm"}, model.Order: {"account": "crm", "lines": "crm"},
		},
		CRM: assess.System{Name: "crm", Fields: map[model.Entity][]string{
			model.Account: {"name", "city", "phone", "country"}, model.Deal: {"name", "stage", "amount", "close_date", "account", "lines"},
		}, Records: map[model.Entity][]model.Record{
			model.Account: {
				rec("c1", model.Fields{"name": model.Text("Alfreds Futterkiste"), "city": model.Text("Berlin"), "country": model.Text("Germany"), "phone": model.Text("030-0074321")}),
				rec("c2", model.Fields{"name": model.Text("Ernst Handel"), "city": model.Text("Graz"), "country": model.Text("Austria"), "phone": model.Text("7675-3425")}),
			},
			model.Deal: {
				rec("d1", model.Fields{"stage": model.Text("won"), "amount": usd("100.00"), "close_date": day("2026-01-01"), "account": model.Ref(model.Account, "c1")}),
				rec("d2", model.Fields{"stage": model.Text("won"), "amount": usd("250"), "close_date": day("2026-01-15"), "account": model.Ref(model.Account, "c2")}),
				rec("d3", model.Fields{"stage": model.Text("won"), "amount": usd("80"), "close_date": day("2026-01-29"), "account": model.Ref(model.Account, "c1")}),
				rec("d4", model.Fields{"stage": model.Text("qualified"), "amount": usd("80"), "account": model.Ref(model.Account, "c1")}),
			},
		}},
		ERP: assess.System{Name: "erp", Fields: map[model.Entity][]string{
			model.Account: {"name", "city", "phone"}, model.Order: {"account", "order_date", "lines"}, model.Invoice: {"order", "account", "total", "invoice_date"},
		}, Records: map[model.Entity][]model.Record{
			model.Account: {
				rec("ALFKI", model.Fields{"name": model.Text("Alfreds Futterkiste"), "city": model.Text("Berlin"), "phone": model.Text("+49 30 0074321")}),
				rec("ERNSH", model.Fields{"name": model.Text("Ernst Handel"), "city": model.Text("Graz"), "phone": model.Text("7675-3426")}),
			},
			model.Order: {
				// d1: same customer, amount from the lines, 4 days later.
				rec("1", model.Fields{"account": model.Ref(model.Account, "ALFKI"), "order_date": day("2026-01-05"),
					"lines": model.Lines([]model.Record{{Fields: model.Fields{"amount": usd("60")}}, {Fields: model.Fields{"amount": usd("40")}}})}),
				// d2: the amount is 10% off: not the same order.
				rec("2", model.Fields{"account": model.Ref(model.Account, "ERNSH"), "order_date": day("2026-01-16"),
					"lines": model.Lines([]model.Record{{Fields: model.Fields{"amount": usd("225")}}})}),
				// d3: same amount and customer, but 60 days later: outside the window.
				rec("3", model.Fields{"account": model.Ref(model.Account, "ALFKI"), "order_date": day("2026-03-30"),
					"lines": model.Lines([]model.Record{{Fields: model.Fields{"quantity": model.Decimal(decimal.NewFromInt(4)), "unit_price": usd("20")}}})}),
			},
			model.Invoice: {
				rec("i1", model.Fields{"order": model.Ref(model.Order, "1"), "total": usd("100")}),
				rec("i2", model.Fields{"order": model.Ref(model.Order, "2"), "total": usd("225")}),
				// no order: paired with d3 by customer, amount and date.
				rec("i3", model.Fields{"account": model.Ref(model.Account, "ALFKI"), "total": usd("80"), "invoice_date": day("2026-02-02")}),
				rec("i4", model.Fields{"account": model.Ref(model.Account, "ALFKI"), "total": usd("999"), "invoice_date": day("2026-02-02")}),
			},
		}},
	}
}

func TestAssess_PairingWithoutReferences(t *testing.T) {
	t.Parallel()
	r := assess.Assess(input(), assess.DefaultAssumptions())

	require.Equal(t, 1, r.Customers.Matched)
	require.Equal(t, 1, r.Customers.Likely, "another phone: a person would decide")
	require.Len(t, r.Drift, 1)
	require.Equal(t, "phone", r.Drift[0].Field)
	require.Equal(t, 1, r.Drift[0].Pairs)

	require.Equal(t, 3, r.Deals.Won)
	require.Equal(t, 0, r.Deals.ByReference)
	require.Equal(t, 1, r.Deals.ByMatch)
	require.Len(t, r.Deals.WithoutOrder, 2)
	require.Equal(t, "d2", r.Deals.WithoutOrder[0].ID)
	require.Equal(t, "d3", r.Deals.WithoutOrder[1].ID)
	require.Equal(t, 2, r.Deals.OrdersWithoutDeal)

	require.Equal(t, 4, r.Invoices.Total)
	require.Equal(t, 2, r.Invoices.WithDeal, "i1 through its order, i3 by match")
	require.Len(t, r.Invoices.WithoutDeal, 2)
	require.Equal(t, "i2", r.Invoices.WithoutDeal[0].ID)
	require.Equal(t, "ERNSH", r.Invoices.WithoutDeal[0].Account)
	require.Equal(t, "i4", r.Invoices.WithoutDeal[1].ID)

	require.NotNil(t, r.Delay)
	require.Equal(t, 1, r.Delay.Pairs)
	require.Equal(t, 4.0, r.Delay.MeanDays)
	require.Equal(t, "4", r.Weeks.String(), "28 days from the first won deal to the last")

	// With a 15% tolerance, d2 and order 2 are one order.
	a := assess.DefaultAssumptions()
	a.AmountTolerance = decimal.RequireFromString("0.15")
	r = assess.Assess(input(), a)
	require.Equal(t, 2, r.Deals.ByMatch)
	require.Len(t, r.Invoices.WithoutDeal, 1)
}

func TestAssess_References(t *testing.T) {
	t.Parallel()
	in := input()
	// The ERP holds the deal's id on order 3 (a link column), the CRM the
	// order's id on d2: both pair whatever the amounts and dates.
	in.ERP.Records[model.Order][2].LinkKey = "d3"
	in.CRM.Records[model.Deal][1].LinkKey = "2"
	r := assess.Assess(in, assess.DefaultAssumptions())
	require.Equal(t, 2, r.Deals.ByReference)
	require.Equal(t, 1, r.Deals.ByMatch)
	require.Empty(t, r.Deals.WithoutOrder)
	require.Len(t, r.Invoices.WithoutDeal, 1)
	require.Equal(t, "i4", r.Invoices.WithoutDeal[0].ID)
}

func TestAssess_CostAndRecommendation(t *testing.T) {
	t.Parallel()
	a := assess.DefaultAssumptions()
	a.Weeks = decimal.NewFromInt(2)
	r := assess.Assess(input(), a)
	var reentry assess.Pain
	for _, p := range r.Pains {
		if p.Key == assess.PainOrderReentry {
			reentry = p
		}
	}
	// 3 won deals, no lines on the deals: 3 / 2 weeks x 4 min / 60 x 45.
	require.Equal(t, 3, reentry.Count)
	require.Equal(t, "4.5", reentry.CostPerWeek.String())
	require.Len(t, r.Top, min(5, len(r.Pains)))
	require.NotNil(t, r.Recommend)
	require.Equal(t, assess.FlowOrders, r.Recommend.Flow)
	require.Equal(t, []string{"account", "lines"}, r.Recommend.Fields)
	require.Equal(t, []string{assess.FlowCustomers}, r.Recommend.Needs)
	require.Contains(t, r.Recommend.Snippet, "trigger: deal_won")
	require.Contains(t, r.Recommend.Snippet, "fields: [name, phone]", "the name and the drifted field")

	// Deals in another currency than the costs: the delay is not converted.
	a.Currency = "EUR"
	r = assess.Assess(input(), a)
	for _, p := range r.Pains {
		require.NotEqual(t, assess.PainOrderDelay, p.Key)
	}
	require.True(t, strings.Contains(strings.Join(r.Notes, "\n"), "no won deal is in EUR"), r.Notes)
}

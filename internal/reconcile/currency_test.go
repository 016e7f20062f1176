package reconcile

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/fx"
	"github.com/concord-sync/concord/internal/model"
)

func moneyIn(amount, cur string) model.Value {
	return model.Money(decimal.RequireFromString(amount), cur)
}

// currencyWorld is a EUR deal and a USD deal won in March 2026, each
// invoiced in March; a USD deal won in February, before the ERP's first USD
// rate, never ordered; and three USD deals of 10 won in May, never ordered,
// at a rate that does not divide them.
func currencyWorld() (crm, erp *fakeSystem) {
	deal := func(id, amount, cur, closed string) model.Record {
		return model.Record{Entity: model.Deal, ID: id, Fields: model.Fields{"name": model.Text("deal " + id), "stage": model.Text("won"),
			"amount": moneyIn(amount, cur), "close_date": day(closed)}}
	}
	order := func(id, deal, amount, cur string) model.Record {
		line := model.Record{Entity: model.OrderLine, Fields: model.Fields{"quantity": dec("1"), "unit_price": moneyIn(amount, cur), "amount": moneyIn(amount, cur)}}
		return model.Record{Entity: model.Order, ID: id, LinkKey: deal, Fields: model.Fields{"state": model.Text("confirmed"), "lines": model.Lines([]model.Record{line})}}
	}
	invoice := func(id, order, total, cur, date string) model.Record {
		return model.Record{Entity: model.Invoice, ID: id, Fields: model.Fields{"number": model.Text("INV" + id), "order": model.Ref(model.Order, order),
			"state": model.Text("posted"), "total": moneyIn(total, cur), "amount_due": moneyIn(total, cur), "invoice_date": day(date)}}
	}
	crm = &fakeSystem{fields: map[model.Entity][]string{model.Deal: {"name", "stage", "amount", "close_date"}},
		records: map[model.Entity][]model.Record{model.Deal: {
			deal("eur", "100", "EUR", "2026-03-05"),
			deal("usd", "125", "USD", "2026-03-10"),
			deal("feb", "10", "USD", "2026-02-20"),
			deal("may1", "10", "USD", "2026-05-02"), deal("may2", "10", "USD", "2026-05-03"), deal("may3", "10", "USD", "2026-05-04"),
		}}}
	erp = &fakeSystem{fields: map[model.Entity][]string{model.Order: {"state", "lines"}, model.Invoice: {"number", "order", "state", "total", "amount_due", "invoice_date"}},
		records: map[model.Entity][]model.Record{
			model.Order:   {order("o1", "eur", "100", "EUR"), order("o2", "usd", "125", "USD")},
			model.Invoice: {invoice("i1", "o1", "100", "EUR", "2026-03-10"), invoice("i2", "o2", "125", "USD", "2026-03-20")},
		}}
	return crm, erp
}

// rates are the ERP's: 1 EUR in USD from 2026-03-01, 2026-03-15 and
// 2026-05-01.
func rates() *fx.Table {
	r := func(on, rate string) connector.Rate {
		return connector.Rate{Currency: "USD", Base: "EUR", Date: day(on).Time, Rate: decimal.RequireFromString(rate)}
	}
	return fx.NewTable([]connector.Rate{r("2026-03-01", "1.25"), r("2026-03-15", "1.6"), r("2026-05-01", "3")})
}

func TestOrderToCash_Currency(t *testing.T) {
	t.Parallel()
	type testBundle struct {
		rep *Report
	}
	setup := func(t *testing.T, currency string) testBundle {
		t.Helper()
		crm, erp := currencyWorld()
		rep := &Report{}
		require.NoError(t, OrderToCash(context.Background(), O2CParams{CRM: "crm", ERP: "erp", CRMSys: crm, ERPSys: erp,
			Currency: currency, Rates: rates()}, rep))
		return testBundle{rep: rep}
	}
	month := func(t *testing.T, rep *Report, m, cur string) Month {
		t.Helper()
		for _, x := range rep.Months {
			if x.Month == m && x.Currency == cur {
				return x
			}
		}
		t.Fatalf("no month %s %s in %+v", m, cur, rep.Months)
		return Month{}
	}

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		rep := setup(t, "EUR").rep
		// March: 100 EUR + 125 USD at the rate of 2026-03-10 (1.25) won =
		// 200 EUR; 100 EUR + 125 USD at the rate of 2026-03-20 (1.6) =
		// 178.125 EUR invoiced, rounded once at the end, half to even.
		mar := month(t, rep, "2026-03", "EUR")
		require.Equal(t, "200", mar.CRMWon.String())
		require.Equal(t, "178.12", mar.ERPInvoiced.String())
		require.Equal(t, "-21.88", mar.Variance.String())
		require.Equal(t, "0", mar.Unexplained.String())
		require.Len(t, mar.Explained, 1)
		e := mar.Explained[0]
		require.Equal(t, ExchangeRate, e.Kind)
		require.Equal(t, "-21.88", e.Amount.String()) // 125 x (1/1.6 - 1/1.25) = -21.875
		require.Equal(t, "usd", e.DealID)
		require.Contains(t, e.Rate, "1 EUR = 1.25 USD (ERP rate of 2026-03-01)")
		require.Contains(t, e.Rate, "1 EUR = 1.6 USD (ERP rate of 2026-03-15)")
		require.Equal(t, []string{"1 EUR = 1.25 USD (ERP rate of 2026-03-01)", "1 EUR = 1.6 USD (ERP rate of 2026-03-15)"}, mar.Rates)
		require.Contains(t, rep.Notes, "2026-03 EUR: converted with 1 EUR = 1.25 USD (ERP rate of 2026-03-01), 1 EUR = 1.6 USD (ERP rate of 2026-03-15)")

		// February: no USD rate on or before 2026-02-20: left in USD, with
		// a note saying why.
		feb := month(t, rep, "2026-02", "USD")
		require.Equal(t, "10", feb.CRMWon.String())
		require.Empty(t, feb.Rates)
		require.Contains(t, rep.Notes, "not converted to EUR, left in their own currency: deal feb (deal feb) (10 USD on 2026-02-20: "+
			"the ERP holds no rate between USD and EUR on or before 2026-02-20 (its first is of 2026-03-01))")

		// May: three times 10 USD at 3 USD per EUR is exactly 10 EUR; each
		// deal's share is its own final figure, 3.33.
		may := month(t, rep, "2026-05", "EUR")
		require.Equal(t, "10", may.CRMWon.String())
		require.Equal(t, "-10", may.Variance.String())
		require.Equal(t, "0", may.Unexplained.String())
		require.Len(t, may.Explained, 3)
		for _, e := range may.Explained {
			require.Equal(t, MissingHandoff, e.Kind)
			require.Equal(t, "-3.33", e.Amount.String())
			require.Equal(t, "1 EUR = 3 USD (ERP rate of 2026-05-01)", e.Rate)
			require.Contains(t, e.Detail, "(-10 USD at 1 EUR = 3 USD (ERP rate of 2026-05-01))")
		}

		b, err := json.Marshal(rep)
		require.NoError(t, err)
		require.Contains(t, string(b), `"rate":"1 EUR = 3 USD (ERP rate of 2026-05-01)"`)
		require.Contains(t, string(b), `"rates":["1 EUR = 1.25 USD (ERP rate of 2026-03-01)","1 EUR = 1.6 USD (ERP rate of 2026-03-15)"]`)
	})

	t.Run("IntoUSD", func(t *testing.T) {
		t.Parallel()
		rep := setup(t, "usd").rep
		// 100 EUR won on 2026-03-05 at 1.25 = 125 USD, invoiced on
		// 2026-03-10 at the same rate.
		mar := month(t, rep, "2026-03", "USD")
		require.Equal(t, "250", mar.CRMWon.String())
		require.Equal(t, "250", mar.ERPInvoiced.String())
		require.Equal(t, "0", mar.Unexplained.String())
	})

	t.Run("NoCurrency", func(t *testing.T) {
		t.Parallel()
		rep := setup(t, "").rep
		require.Equal(t, "100", month(t, rep, "2026-03", "EUR").CRMWon.String())
		usd := month(t, rep, "2026-03", "USD")
		require.Equal(t, "125", usd.ERPInvoiced.String())
		require.Empty(t, usd.Rates)
		require.Contains(t, rep.Notes, "amounts are in 2 currencies and are reported per currency: --currency converts them with the ERP's rates")
	})
}

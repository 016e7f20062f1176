package main

import (
	"context"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/fx"
	"github.com/concord-sync/concord/internal/sandbox/hubspot"
)

// withRates adds a rates table to the world's ERP (1 EUR = 1.25 USD from
// 1997-01-01, 1.6 USD from 2026-01-01) and the rates setting to its config.
func withRates(t *testing.T, w *o2cWorld) {
	t.Helper()
	for _, q := range []string{
		`CREATE TABLE exchange_rates (currency TEXT NOT NULL, valid_from TEXT NOT NULL, rate TEXT NOT NULL)`,
		`INSERT INTO exchange_rates VALUES ('USD', '1997-01-01', '1.25'), ('USD', '2026-01-01', '1.6')`,
	} {
		_, err := w.ERP.Exec(q)
		require.NoError(t, err, q)
	}
	b, err := os.ReadFile(w.Config)
	require.NoError(t, err)
	cfg := strings.Replace(string(b), "      path: erp.db\n",
		"      path: erp.db\n      rates: {table: exchange_rates, currency: currency, date: valid_from, rate: rate, base_currency: EUR}\n", 1)
	require.NotEqual(t, string(b), cfg, "the demo config names erp.db")
	require.NoError(t, os.WriteFile(w.Config, []byte(cfg), 0o600))
}

// TestReconcile_Currency: on the order-to-cash world (USD), reconcile
// --currency EUR converts each deal at the ERP's rate of its close date and
// each invoice at the rate of its invoice date, and the months equal an
// independent calculation (the same amounts divided by the rate, summed,
// rounded once); a deal won before the first rate stays in USD, with a note.
func TestReconcile_Currency(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newO2CWorld(t, 11, 40)
	withRates(t, w)

	rep, _, out := reconcileJSON(t, w, "--currency", "EUR")
	rate := func(month string) *big.Rat {
		switch {
		case month >= "2026-01":
			return big.NewRat(16, 10)
		case month >= "1997-01":
			return big.NewRat(125, 100)
		}
		return nil
	}
	type sums struct{ won, inv *big.Rat }
	want := map[string]*sums{} // "month currency"
	add := func(month string, amount string, invoiced bool) {
		r, cur := fx.Rat(decimal.RequireFromString(amount)), "USD"
		if by := rate(month); by != nil {
			r.Quo(r, by)
			cur = "EUR"
		}
		k := month + " " + cur
		if want[k] == nil {
			want[k] = &sums{won: new(big.Rat), inv: new(big.Rat)}
		}
		if invoiced {
			want[k].inv.Add(want[k].inv, r)
		} else {
			want[k].won.Add(want[k].won, r)
		}
	}
	for _, o := range w.CRM.Objects(hubspot.Deals) {
		if o.Properties["dealstage"] == nil || *o.Properties["dealstage"] != "closedwon" {
			continue
		}
		closed, err := time.Parse("2006-01-02T15:04:05.000Z", *o.Properties["closedate"])
		require.NoError(t, err)
		add(closed.Format("2006-01"), *o.Properties["amount"], false)
	}
	rows, err := w.ERP.QueryContext(ctx, `SELECT substr(invoice_date, 1, 7), total FROM invoices WHERE state IN ('posted', 'paid')`)
	require.NoError(t, err)
	for rows.Next() {
		var month, total string
		require.NoError(t, rows.Scan(&month, &total))
		add(month, total, true)
	}
	require.NoError(t, rows.Err())
	require.NoError(t, rows.Close())

	require.Len(t, rep.Months, len(want), out)
	sawUSD := false
	for _, m := range rep.Months {
		exp, ok := want[m.Month+" "+m.Currency]
		require.True(t, ok, "%s %s", m.Month, m.Currency)
		final := func(r *big.Rat) string {
			if m.Currency == "USD" {
				d, _ := fx.Exact(r)
				return d.String()
			}
			return fx.Round(r, "EUR").String()
		}
		require.Equal(t, final(exp.won), m.CRMWon.String(), "%s won", m.Month)
		require.Equal(t, final(exp.inv), m.ERPInvoiced.String(), "%s invoiced", m.Month)
		require.Equal(t, final(new(big.Rat).Sub(exp.inv, exp.won)), m.Variance.String(), "%s variance", m.Month)
		require.True(t, m.Unexplained.IsZero(), "%s %s: %s unexplained: %+v", m.Month, m.Currency, m.Unexplained, m.Explained)
		switch m.Currency {
		case "USD":
			sawUSD = true
			require.Less(t, m.Month, "1997-01")
			require.Empty(t, m.Rates)
		default:
			require.Equal(t, "EUR", m.Currency)
			r := "1 EUR = 1.25 USD (ERP rate of 1997-01-01)"
			if m.Month >= "2026-01" {
				r = "1 EUR = 1.6 USD (ERP rate of 2026-01-01)"
			}
			require.Equal(t, []string{r}, m.Rates, m.Month)
			for _, e := range m.Explained {
				require.Equal(t, r, e.Rate, "%s %s", m.Month, e.Detail)
			}
		}
	}
	if sawUSD {
		require.Contains(t, strings.Join(rep.Notes, "\n"), "not converted to EUR, left in their own currency")
	}

	// The table names the rates in its notes; without --currency nothing is
	// converted.
	out, _ = run(t, "reconcile", "--config", w.Config, "--currency", "eur")
	require.Contains(t, out, "EUR: converted with 1 EUR = 1.6 USD (ERP rate of 2026-01-01)")
	rep, _, _ = reconcileJSON(t, w)
	for _, m := range rep.Months {
		require.Equal(t, "USD", m.Currency)
	}

	t.Run("ErrUsage", func(t *testing.T) {
		out, code := run(t, "reconcile", "--config", w.Config, "--currency", "EURO")
		require.Equal(t, exitUsage, code, out)
	})
}

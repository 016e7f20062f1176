package main

import (
	"context"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/fx"
	"github.com/concord-sync/concord/internal/sandbox/hubspot"
)

// TestReport_Currency: on the order-to-cash world (USD) with the ERP's rates
// (1 EUR = 1.25 USD from 1997-01-01, 1.6 USD from 2026-01-01), the refresh
// copies the rates, and report --currency EUR equals an independent
// calculation over the raw ERP tables and the sandbox's deals: each amount
// divided by the rate of its month, summed exactly, rounded once; deals
// before the first rate stay in USD. The outputs name the rates.
func TestReport_Currency(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newO2CWorld(t, 13, 40)
	withRates(t, w)
	out, code := run(t, "report", "refresh", "--config", w.Config)
	require.Equal(t, exitOK, code, out)
	require.Regexp(t, `erp\s+exchange_rate\s+2\s+1`, out)

	rate := func(month string) *big.Rat {
		switch {
		case month >= "2026-01":
			return big.NewRat(16, 10)
		case month >= "1997-01":
			return big.NewRat(125, 100)
		}
		return nil
	}
	// converted adds amount, of month, to sums[month currency].
	convert := func(sums map[string]*big.Rat, month, amount string) {
		r, cur := fx.Rat(decimal.RequireFromString(amount)), "USD"
		if by := rate(month); by != nil {
			r.Quo(r, by)
			cur = "EUR"
		}
		k := month + " " + cur
		if sums[k] == nil {
			sums[k] = new(big.Rat)
		}
		sums[k].Add(sums[k], r)
	}
	final := func(r *big.Rat, currency string) string {
		if r == nil {
			return ""
		}
		if currency == "USD" {
			d, ok := fx.Exact(r)
			require.True(t, ok)
			return d.String()
		}
		return fx.Round(r, currency).String()
	}
	type jsonReport struct {
		Currency string              `json:"currency"`
		Rates    []map[string]string `json:"rates"`
		Notes    []string            `json:"notes"`
		Rows     []map[string]any    `json:"rows"`
	}
	report := func(t *testing.T, args ...string) jsonReport {
		t.Helper()
		out, code := run(t, append([]string{"report", "--config", w.Config, "--format", "json"}, args...)...)
		require.Equal(t, exitOK, code, out)
		var rep jsonReport
		require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
		return rep
	}
	str := func(v any) string {
		if v == nil {
			return ""
		}
		return v.(string)
	}

	t.Run("RevenueBySegment", func(t *testing.T) {
		revenue := map[string]*big.Rat{}
		rows, err := w.ERP.QueryContext(ctx, `SELECT substr(i.invoice_date, 1, 7), l.amount FROM invoices i JOIN sale_order_lines l ON l.order_id = i.order_id WHERE i.state <> 'cancelled'`)
		require.NoError(t, err)
		for rows.Next() {
			var month, amount string
			require.NoError(t, rows.Scan(&month, &amount))
			convert(revenue, month, amount)
		}
		require.NoError(t, rows.Err())
		require.NoError(t, rows.Close())
		require.NotEmpty(t, revenue)

		rep := report(t, "revenue-by-segment", "--currency", "eur")
		require.Equal(t, "EUR", rep.Currency)
		require.Len(t, rep.Rows, len(revenue))
		for _, r := range rep.Rows {
			k := r["month"].(string) + " " + r["currency"].(string)
			require.Equal(t, "(none)", r["segment"], k)
			require.Equal(t, final(revenue[k], r["currency"].(string)), r["revenue"], k)
		}
		require.Equal(t, []map[string]string{{"currency": "USD", "base": "EUR", "valid_from": "2026-01-01", "rate": "1.6", "text": "1 EUR = 1.6 USD (ERP rate of 2026-01-01)"}}, rep.Rates)
	})

	t.Run("PipelineVsInvoiced", func(t *testing.T) {
		pipeline, won, invoiced := map[string]*big.Rat{}, map[string]*big.Rat{}, map[string]*big.Rat{}
		keys := map[string]bool{}
		for _, d := range w.CRM.Objects(hubspot.Deals) {
			stage, closed := prop(d, "dealstage"), prop(d, "closedate")
			if closed == "" || stage == "closedlost" {
				continue
			}
			month := closed[:7]
			if stage == "closedwon" {
				convert(won, month, prop(d, "amount"))
			} else {
				convert(pipeline, month, prop(d, "amount"))
			}
		}
		rows, err := w.ERP.QueryContext(ctx, `SELECT substr(i.invoice_date, 1, 7), l.amount FROM invoices i JOIN sale_order_lines l ON l.order_id = i.order_id WHERE i.state <> 'cancelled'`)
		require.NoError(t, err)
		for rows.Next() {
			var month, amount string
			require.NoError(t, rows.Scan(&month, &amount))
			convert(invoiced, month, amount)
		}
		require.NoError(t, rows.Err())
		require.NoError(t, rows.Close())
		for _, m := range []map[string]*big.Rat{pipeline, won, invoiced} {
			for k := range m {
				keys[k] = true
			}
		}

		rep := report(t, "pipeline-vs-invoiced", "--currency", "EUR")
		require.Len(t, rep.Rows, len(keys))
		usd := 0
		for _, r := range rep.Rows {
			cur := r["currency"].(string)
			k := r["month"].(string) + " " + cur
			require.True(t, keys[k], k)
			require.Equal(t, final(pipeline[k], cur), str(r["pipeline"]), k)
			require.Equal(t, final(won[k], cur), str(r["won"]), k)
			require.Equal(t, final(invoiced[k], cur), str(r["invoiced"]), k)
			diff := new(big.Rat)
			if won[k] != nil {
				diff.Add(diff, won[k])
			}
			if invoiced[k] != nil {
				diff.Sub(diff, invoiced[k])
			}
			require.Equal(t, final(diff, cur), r["won_minus_invoiced"], k)
			if cur == "USD" {
				usd++
				require.Less(t, k, "1997-01", "only amounts before the first rate stay in USD")
			}
		}
		require.Positive(t, usd, "the world has deals before the ERP's first rate")
		notes := strings.Join(rep.Notes, "\n")
		require.Contains(t, notes, "1 EUR = 1.25 USD (ERP rate of 1997-01-01), 1 EUR = 1.6 USD (ERP rate of 2026-01-01)")
		require.Contains(t, notes, "Not converted to EUR, left in their own currency: USD amounts")
	})

	t.Run("ConfigAndTable", func(t *testing.T) {
		// report.currency in the config; the table names the rates
		out, code := run(t, "report", "revenue-by-segment", "--config", w.Config)
		require.Equal(t, exitOK, code, out)
		require.NotContains(t, out, "EUR")
		b, err := os.ReadFile(w.Config)
		require.NoError(t, err)
		cfg := filepath.Join(filepath.Dir(w.Config), "eur.yaml")
		require.NoError(t, os.WriteFile(cfg, append(b, "\nreport:\n  currency: EUR\n"...), 0o600))
		out, code = run(t, "report", "revenue-by-segment", "--config", cfg)
		require.Equal(t, exitOK, code, out)
		require.Contains(t, out, "note: Converted to EUR with the ERP's exchange rates, each amount at the latest rate on or before its date: 1 EUR = 1.6 USD (ERP rate of 2026-01-01).")
		for _, line := range strings.Split(out, "\n")[1:] {
			if line != "" && !strings.HasPrefix(line, "note:") {
				require.Contains(t, line, " EUR ", out)
			}
		}
	})

	t.Run("ErrUsage", func(t *testing.T) {
		out, code := run(t, "report", "revenue-by-segment", "--config", w.Config, "--currency", "EURO")
		require.Equal(t, exitUsage, code, out)
	})
}

package report_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/report"
)

// ratedERP is a fakeSystem that holds exchange rates.
type ratedERP struct {
	*fakeSystem
	rates []connector.Rate
}

func (r *ratedERP) Rates(context.Context) ([]connector.Rate, error) { return r.rates, nil }

var _ connector.RateReader = (*ratedERP)(nil)

func rate(cur, base, on, r string) connector.Rate {
	t, _ := time.Parse(time.DateOnly, on)
	return connector.Rate{Currency: cur, Base: base, Date: t, Rate: decimal.RequireFromString(r)}
}

// TestRun_Currency: the small world (USD) plus a deal in EUR, with the ERP's
// rates 1 EUR = 1.25 USD from 2026-01-12 and 1 EUR = 1.2 USD from
// 2026-02-01, reported in EUR: every amount at the rate of its record's date,
// exactly until the final figure, which is rounded once, half to even; the
// deal won before the first rate stays in USD, with a note.
func TestRun_Currency(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cat, err := report.LoadCatalog("")
	require.NoError(t, err)
	for dialect, open := range openDBsNamed(t, "concord_x2") {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			db := open(t)
			crm, erp := smallWorld()
			crm.change(model.Record{Entity: model.Deal, ID: "d4", UpdatedAt: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Fields: model.Fields{
				"name": model.Text("d4"), "stage": model.Text("won"), "amount": model.Money(decimal.RequireFromString("30.005"), "EUR"),
				"account": model.Ref(model.Account, "c2"), "close_date": day("2026-02-10")}})
			rated := &ratedERP{fakeSystem: erp, rates: []connector.Rate{
				rate("USD", "EUR", "2026-01-12", "1.25"),
				rate("USD", "EUR", "2026-02-01", "1.2"),
			}}
			ref := &report.Refresher{DB: db, CRM: report.System{Name: "crm", Reader: crm}, ERP: report.System{Name: "erp", Reader: rated}, PageSize: 2}
			st, err := ref.Refresh(ctx, false)
			require.NoError(t, err)
			require.Equal(t, report.EntityStats{System: "erp", Entity: "exchange_rate", Read: 2, Pages: 1}, st.Entities[len(st.Entities)-1])

			run := func(t *testing.T, name, currency string) *report.Result {
				t.Helper()
				r, ok := cat.Lookup(name)
				require.True(t, ok)
				res, err := report.Run(ctx, db, r, report.Params{Today: "2026-03-01", Currency: currency})
				require.NoError(t, err)
				return res
			}

			t.Run("OK", func(t *testing.T) {
				// 100.1 USD / 1.25 = 80.08; (27.027 + 25) / 1.2 = 43.3558333...
				res := run(t, "revenue-by-segment", "eur")
				require.Equal(t, [][]any{
					{"2026-01", "Retail", "EUR", int64(1), "80.08"},
					{"2026-02", "(none)", "EUR", int64(1), "43.36"},
				}, res.Rows)
				require.Equal(t, "EUR", res.Params.Currency)
				require.Equal(t, []connector.Rate{rate("USD", "EUR", "2026-01-12", "1.25"), rate("USD", "EUR", "2026-02-01", "1.2")}, res.Rates)
				// the notes cover the fact views the report reads: invoice lines
				require.Equal(t, []string{"Converted to EUR with the ERP's exchange rates, each amount at the latest rate on or before its date: 1 EUR = 1.25 USD (ERP rate of 2026-01-12), 1 EUR = 1.2 USD (ERP rate of 2026-02-01)."}, res.Notes)

				// d1 (100.1 USD, won 2026-01-10) has no rate: its own row in USD.
				// 2026-02: won 50 / 1.2 + 30.005 EUR = 71.6716666..., invoiced
				// 43.3558333..., won - invoiced exactly 28.3158333... (not 71.67 - 43.36).
				// d3, open, 70.05 / 1.2 = 58.375 at its close date 2026-04-01: half to even 58.38.
				res = run(t, "pipeline-vs-invoiced", "EUR")
				require.Equal(t, [][]any{
					{"2026-01", "EUR", nil, nil, "80.08", "-80.08"},
					{"2026-01", "USD", nil, "100.1", nil, "100.1"},
					{"2026-02", "EUR", nil, "71.67", "43.36", "28.32"},
					{"2026-04", "EUR", "58.38", nil, nil, "0"},
				}, res.Rows)
				require.Equal(t, []string{
					"Converted to EUR with the ERP's exchange rates, each amount at the latest rate on or before its date: 1 EUR = 1.25 USD (ERP rate of 2026-01-12), 1 EUR = 1.2 USD (ERP rate of 2026-02-01).",
					"Not converted to EUR, left in their own currency: USD amounts dated 2026-01-10 (the ERP holds no rate between USD and EUR on or before 2026-01-10 (its first is of 2026-01-12)).",
				}, res.Notes)

				// Alfreds: 80.08 - 60.03 / 1.25 (48.024) = 32.056;
				// Bolido: 43.3558333... - 18.009 / 1.2 (15.0075), margin on the
				// costed line 22.5225 - 15.0075 = 7.515, half to even 7.52.
				res = run(t, "margin-by-client", "EUR")
				require.Equal(t, [][]any{
					{"Alfreds", "Retail", "EUR", "80.08", "48.02", "32.06", "40", int64(0)},
					{"Bolido", "(none)", "EUR", "43.36", "15.01", "7.52", "33.4", int64(1)},
				}, res.Rows)

				// the amount due at the invoice date's rate
				res = run(t, "overdue-balances", "EUR")
				require.Equal(t, [][]any{{"Bolido", "(none)", "EUR", int64(1), "43.36", "2026-02-20", int64(9)}}, res.Rows)

				// a user's own report on the converted views: the derived
				// payment of 119.119 USD on 2026-02-01 at 1.2 is 99.2658333...
				own, err := report.Parse("paid", "SELECT currency, dec_sum(amount) AS paid FROM fact_payment GROUP BY currency")
				require.NoError(t, err)
				res, err = report.Run(ctx, db, own, report.Params{Currency: "EUR"})
				require.NoError(t, err)
				require.Equal(t, [][]any{{"EUR", "99.27"}}, res.Rows)

				// the converted views were temporary: without a currency the
				// report is in USD again
				res = run(t, "revenue-by-segment", "")
				require.Equal(t, "USD", res.Rows[0][2])
				require.Empty(t, res.Notes)
			})

			t.Run("Render", func(t *testing.T) {
				res := run(t, "revenue-by-segment", "EUR")
				var b bytes.Buffer
				require.NoError(t, report.Render(&b, res, "json", time.Now()))
				var out struct {
					Currency string              `json:"currency"`
					Rates    []map[string]string `json:"rates"`
					Notes    []string            `json:"notes"`
				}
				require.NoError(t, json.Unmarshal(b.Bytes(), &out), b.String())
				require.Equal(t, "EUR", out.Currency)
				require.Equal(t, map[string]string{"currency": "USD", "base": "EUR", "valid_from": "2026-01-12", "rate": "1.25", "text": "1 EUR = 1.25 USD (ERP rate of 2026-01-12)"}, out.Rates[0])
				require.Len(t, out.Notes, 1)

				b.Reset()
				require.NoError(t, report.Render(&b, res, "csv", time.Now()))
				lines := strings.Split(strings.TrimSpace(b.String()), "\n")
				require.Equal(t, "month,segment,currency,invoices,revenue", lines[0])
				require.Len(t, lines, 4)
				require.True(t, strings.HasPrefix(lines[3], "# Converted to EUR"), b.String())

				b.Reset()
				require.NoError(t, report.Render(&b, res, "table", time.Now()))
				require.Contains(t, b.String(), "note: Converted to EUR")
			})

			t.Run("NoRates", func(t *testing.T) {
				_, err := db.SQL().ExecContext(ctx, `DELETE FROM dim_rate`)
				require.NoError(t, err)
				res := run(t, "revenue-by-segment", "EUR")
				require.Equal(t, "USD", res.Rows[0][2])
				require.Contains(t, res.Notes[0], "holds no exchange rates of the ERP")
			})

			t.Run("ErrCurrency", func(t *testing.T) {
				r, _ := cat.Lookup("revenue-by-segment")
				_, err := report.Run(ctx, db, r, report.Params{Currency: "EURO"})
				require.ErrorContains(t, err, "not an ISO 4217 code")
			})
		})
	}
}

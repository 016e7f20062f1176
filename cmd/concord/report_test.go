package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/demo"
	"github.com/concord-sync/concord/internal/sandbox/hubspot"
)

// reportWorld is an o2cWorld whose config also maps what the reports use:
// the CRM company's segment (a custom property), the deal's close date, and
// the ERP product's cost price (a column added here); then the deliberate
// perturbations: a company name edited by hand in the ERP (drift), a deal won
// after the last sync (a missing handoff), a duplicate company in the CRM,
// and the world's unpaid (some overdue) invoices.
func reportWorld(t *testing.T, seed uint64) *o2cWorld {
	t.Helper()
	w := newO2CWorld(t, seed, 40)
	ctx := context.Background()

	_, err := w.CRM.DefineProperty(hubspot.Companies, hubspot.Property{Name: "customer_segment", Label: "Segment", Type: "string", FieldType: "text", GroupName: "companyinformation"})
	require.NoError(t, err)
	segments := []string{"Enterprise", "SMB", "Retail", ""}
	for i, c := range w.CRM.Objects(hubspot.Companies) {
		if s := segments[i%len(segments)]; s != "" {
			_, err := w.CRM.Update(hubspot.Companies, c.ID, map[string]string{"customer_segment": s})
			require.NoError(t, err)
		}
	}
	_, err = w.ERP.ExecContext(ctx, `ALTER TABLE products ADD COLUMN cost_price TEXT`)
	require.NoError(t, err)
	rows, err := w.ERP.QueryContext(ctx, `SELECT product_id, unit_price FROM products`)
	require.NoError(t, err)
	costs := map[int]string{}
	for rows.Next() {
		var id int
		var price string
		require.NoError(t, rows.Scan(&id, &price))
		if id%7 != 0 { // every seventh product has no cost price
			costs[id] = decimal.RequireFromString(price).Mul(decimal.RequireFromString("0.6")).String()
		}
	}
	require.NoError(t, rows.Err())
	rows.Close()
	for id, c := range costs {
		_, err := w.ERP.ExecContext(ctx, `UPDATE products SET cost_price = ? WHERE product_id = ?`, c, id)
		require.NoError(t, err)
	}

	cfg, err := os.ReadFile(w.Config)
	require.NoError(t, err)
	s := string(cfg)
	for old, repl := range map[string]string{
		"fields: {name: name, city: city,":                 "fields: {name: name, segment: customer_segment, city: city,",
		"list_price: {column: unit_price, currency: USD},": "list_price: {column: unit_price, currency: USD}, cost_price: {column: cost_price, currency: USD},",
		// re-read less of the CRM's recent changes than the default 30s, so
		// that the test sees an incremental refresh read (almost) nothing
		"      currency: USD\n": "      currency: USD\n      overlap: 50ms\n",
	} {
		require.Contains(t, s, old)
		s = strings.Replace(s, old, repl, 1)
	}
	require.NoError(t, os.WriteFile(w.Config, []byte(s), 0o600))

	// drift: a CRM-owned company name edited by hand in the ERP
	_, err = w.ERP.ExecContext(ctx, `UPDATE customers SET company_name = company_name || ' (edited)' WHERE crm_id IS NOT NULL AND customer_id = (SELECT min(customer_id) FROM customers WHERE crm_id IS NOT NULL)`)
	require.NoError(t, err)
	// a missing handoff: won after the last sync, no order
	won, err := w.Sim.WinDeals(1)
	require.NoError(t, err)
	require.Len(t, won, 1)
	// a duplicate company in the CRM
	first := w.CRM.Objects(hubspot.Companies)[0]
	_, err = w.CRM.Put(hubspot.Companies, map[string]string{"name": *first.Properties["name"], "customer_segment": "SMB"})
	require.NoError(t, err)
	// one last change of a company and of a deal, past the CRM's overlap
	// window after the others: an incremental refresh re-reads only these
	time.Sleep(80 * time.Millisecond)
	_, err = w.CRM.Update(hubspot.Companies, first.ID, map[string]string{"description": "key account"})
	require.NoError(t, err)
	_, err = w.CRM.Update(hubspot.Deals, won[0], map[string]string{"description": "won by phone"})
	require.NoError(t, err)
	time.Sleep(20 * time.Millisecond) // the sandbox's search index lags behind writes
	return w
}

// expected is the independent calculation of the reports: Go over the ERP's
// raw tables and the sandbox's objects.
type expected struct {
	revenue  map[[3]string]decimal.Decimal // month, segment, currency
	invoices map[[3]string]int
	margin   map[string][3]decimal.Decimal // customer: revenue, cost, margin
	noCost   map[string]int
	overdue  map[string]decimal.Decimal // customer
	pipeline map[string][3]decimal.Decimal
	wonPaid  map[string][3]int // month won: deals, invoiced, paid
	wonDays  map[string][3]float64
}

func calculate(t *testing.T, w *o2cWorld, today string) expected {
	t.Helper()
	ctx := context.Background()
	q := func(query string, scan func(s func(...any) error)) {
		rows, err := w.ERP.QueryContext(ctx, query)
		require.NoError(t, err)
		defer rows.Close()
		for rows.Next() {
			scan(func(dst ...any) error { return rows.Scan(dst...) })
		}
		require.NoError(t, rows.Err())
	}
	companies := map[string]hubspot.Object{}
	byERP := map[string]string{}
	for _, c := range w.CRM.Objects(hubspot.Companies) {
		companies[c.ID] = c
		if e := prop(c, demo.LinkProperty); e != "" {
			byERP[e] = c.ID
		}
	}
	type customer struct{ name, segment string }
	customers := map[string]customer{}
	q(`SELECT customer_id, company_name, crm_id FROM customers`, func(s func(...any) error) {
		var id, name string
		var crm *string
		require.NoError(t, s(&id, &name, &crm))
		cid := byERP[id]
		if crm != nil {
			cid = *crm
		}
		c := customer{name: name, segment: "(none)"}
		if co, ok := companies[cid]; ok {
			c.name = prop(co, "name")
			if seg := prop(co, "customer_segment"); seg != "" {
				c.segment = seg
			}
		}
		customers[id] = c
	})
	cost := map[string]*decimal.Decimal{}
	q(`SELECT product_id, cost_price FROM products`, func(s func(...any) error) {
		var id string
		var c *string
		require.NoError(t, s(&id, &c))
		if c != nil {
			d := decimal.RequireFromString(*c)
			cost[id] = &d
		}
	})
	type line struct {
		product  string
		quantity decimal.Decimal
		amount   decimal.Decimal
	}
	lines := map[string][]line{}
	q(`SELECT order_id, product_id, quantity, amount FROM sale_order_lines`, func(s func(...any) error) {
		var o, p, qty, amount string
		require.NoError(t, s(&o, &p, &qty, &amount))
		lines[o] = append(lines[o], line{p, decimal.RequireFromString(qty), decimal.RequireFromString(amount)})
	})
	e := expected{revenue: map[[3]string]decimal.Decimal{}, invoices: map[[3]string]int{}, margin: map[string][3]decimal.Decimal{},
		noCost: map[string]int{}, overdue: map[string]decimal.Decimal{}, pipeline: map[string][3]decimal.Decimal{},
		wonPaid: map[string][3]int{}, wonDays: map[string][3]float64{}}
	type invoice struct{ date, paid string }
	invoiceOf := map[string]invoice{}
	q(`SELECT order_id, customer_id, invoice_date, due_date, paid_date, amount_due FROM invoices WHERE state <> 'cancelled'`, func(s func(...any) error) {
		var o, cu, date, due, due2 string
		var paid *string
		require.NoError(t, s(&o, &cu, &date, &due, &paid, &due2))
		inv := invoice{date: date}
		if paid != nil {
			inv.paid = *paid
		}
		invoiceOf[o] = inv
		c := customers[cu]
		k := [3]string{date[:7], c.segment, "USD"}
		e.invoices[k]++
		m := e.margin[c.name]
		for _, l := range lines[o] {
			e.revenue[k] = e.revenue[k].Add(l.amount)
			m[0] = m[0].Add(l.amount)
			if pc := cost[l.product]; pc != nil {
				m[1] = m[1].Add(l.quantity.Mul(*pc))
				m[2] = m[2].Add(l.amount.Sub(l.quantity.Mul(*pc)))
			} else {
				e.noCost[c.name]++
			}
			p := e.pipeline[date[:7]]
			p[2] = p[2].Add(l.amount)
			e.pipeline[date[:7]] = p
		}
		e.margin[c.name] = m
		if amount := decimal.RequireFromString(due2); due < today && amount.IsPositive() {
			e.overdue[c.name] = e.overdue[c.name].Add(amount)
		}
	})
	orderOf := map[string]string{}
	q(`SELECT id, crm_deal_id FROM sale_orders WHERE crm_deal_id IS NOT NULL`, func(s func(...any) error) {
		var id, deal string
		require.NoError(t, s(&id, &deal))
		orderOf[deal] = id
	})
	day := func(s string) float64 {
		tm, err := time.Parse(time.DateOnly, s[:10])
		require.NoError(t, err)
		return float64(tm.Unix() / 86400)
	}
	sums := map[string][3]float64{}
	for _, d := range w.CRM.Objects(hubspot.Deals) {
		stage, closed := prop(d, "dealstage"), prop(d, "closedate")
		if closed == "" {
			continue
		}
		closeDay := closed[:10]
		amount := decimal.RequireFromString(prop(d, "amount"))
		month := closeDay[:7]
		if stage == "closedlost" {
			continue
		}
		p := e.pipeline[month]
		switch stage {
		case "closedwon":
			p[1] = p[1].Add(amount)
			wp := e.wonPaid[month]
			wp[0]++
			if o, ok := orderOf[d.ID]; ok {
				if inv, ok := invoiceOf[o]; ok {
					wp[1]++
					sm := sums[month]
					sm[0] += day(inv.date) - day(closeDay)
					if inv.paid != "" {
						wp[2]++
						sm[1] += day(inv.paid) - day(inv.date)
						sm[2] += day(inv.paid) - day(closeDay)
					}
					sums[month] = sm
				}
			}
			e.wonPaid[month] = wp
		default:
			p[0] = p[0].Add(amount)
		}
		e.pipeline[month] = p
	}
	for m, sm := range sums {
		wp := e.wonPaid[m]
		e.wonDays[m] = [3]float64{sm[0] / float64(wp[1]), sm[1] / float64(max(wp[2], 1)), sm[2] / float64(max(wp[2], 1))}
	}
	return e
}

// reportJSON runs concord report NAME --format json and returns its rows.
func reportJSON(t *testing.T, w *o2cWorld, name string, args ...string) []map[string]any {
	t.Helper()
	out, code := run(t, append([]string{"report", name, "--format", "json", "--config", w.Config}, args...)...)
	require.Equal(t, exitOK, code, out)
	var res struct {
		Rows []map[string]any `json:"rows"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	return res.Rows
}

func dec(t *testing.T, v any) decimal.Decimal {
	t.Helper()
	if v == nil {
		return decimal.Zero
	}
	d, err := decimal.NewFromString(fmt.Sprint(v))
	require.NoError(t, err)
	return d
}

func requireDec(t *testing.T, want decimal.Decimal, got any, msg ...any) {
	t.Helper()
	require.True(t, want.Equal(dec(t, got)), "want %s, got %v %v", want, got, fmt.Sprint(msg...))
}

// TestReport_World: every report's figures equal an independent calculation
// over the raw ERP tables and the sandbox's objects, on the order-to-cash
// world with drift, a missing handoff, unpaid invoices and a duplicate; the
// refresh is incremental; the outputs parse.
func TestReport_World(t *testing.T) {
	t.Parallel()
	w := reportWorld(t, 7)
	out, code := run(t, "report", "refresh", "--config", w.Config)
	require.Equal(t, exitOK, code, out)
	require.Contains(t, out, "records read")
	today := time.Now().UTC().Format(time.DateOnly)
	e := calculate(t, w, today)

	t.Run("RevenueBySegment", func(t *testing.T) {
		rows := reportJSON(t, w, "revenue-by-segment")
		require.Len(t, rows, len(e.revenue))
		segments := map[string]bool{}
		for _, r := range rows {
			k := [3]string{r["month"].(string), r["segment"].(string), r["currency"].(string)}
			requireDec(t, e.revenue[k], r["revenue"], k)
			require.EqualValues(t, e.invoices[k], r["invoices"], k)
			segments[k[1]] = true
		}
		require.True(t, segments["(none)"] && len(segments) > 2, "segments from the CRM: %v", segments)
	})

	t.Run("MarginByClient", func(t *testing.T) {
		rows := reportJSON(t, w, "margin-by-client")
		require.Len(t, rows, len(e.margin))
		withoutCost := 0
		for _, r := range rows {
			c := r["customer"].(string)
			m, ok := e.margin[c]
			require.True(t, ok, c)
			requireDec(t, m[0], r["revenue"], c)
			requireDec(t, m[1], r["cost"], c)
			requireDec(t, m[2], r["margin"], c)
			require.EqualValues(t, e.noCost[c], r["lines_without_cost"], c)
			withoutCost += e.noCost[c]
			require.NotContains(t, c, "(edited)", "the CRM owns the name: the report shows the CRM's")
		}
		require.Positive(t, withoutCost, "some lines have a product without cost")
	})

	t.Run("PipelineVsInvoiced", func(t *testing.T) {
		rows := reportJSON(t, w, "pipeline-vs-invoiced")
		require.Len(t, rows, len(e.pipeline))
		for _, r := range rows {
			m := r["month"].(string)
			p := e.pipeline[m]
			requireDec(t, p[0], r["pipeline"], m)
			requireDec(t, p[1], r["won"], m)
			requireDec(t, p[2], r["invoiced"], m)
			requireDec(t, p[1].Sub(p[2]), r["won_minus_invoiced"], m)
		}
	})

	t.Run("WonToPaid", func(t *testing.T) {
		rows := reportJSON(t, w, "won-to-paid")
		require.Len(t, rows, len(e.wonPaid))
		missing := 0
		for _, r := range rows {
			m := r["month_won"].(string)
			wp := e.wonPaid[m]
			require.EqualValues(t, wp[0], r["deals"], m)
			require.EqualValues(t, wp[1], r["invoiced"], m)
			require.EqualValues(t, wp[2], r["paid"], m)
			missing += wp[0] - wp[1]
			for i, col := range []string{"days_won_to_invoiced", "days_invoiced_to_paid", "days_won_to_paid"} {
				if r[col] == nil {
					continue
				}
				got, err := strconv.ParseFloat(r[col].(string), 64)
				require.NoError(t, err)
				require.InDelta(t, e.wonDays[m][i], got, 0.051, "%s %s", m, col)
			}
		}
		require.Positive(t, missing, "the deal won after the sync has no invoice")
	})

	t.Run("OverdueBalances", func(t *testing.T) {
		rows := reportJSON(t, w, "overdue-balances")
		require.Len(t, rows, min(20, len(e.overdue)))
		require.NotEmpty(t, rows, "the world has overdue invoices")
		prev := decimal.NewFromInt(math.MaxInt64)
		for _, r := range rows {
			c := r["customer"].(string)
			requireDec(t, e.overdue[c], r["overdue"], c)
			require.True(t, dec(t, r["overdue"]).LessThanOrEqual(prev), "biggest first")
			prev = dec(t, r["overdue"])
		}
	})

	t.Run("Outputs", func(t *testing.T) {
		dir := t.TempDir()
		for _, name := range []string{"revenue-by-segment", "margin-by-client", "pipeline-vs-invoiced", "won-to-paid", "overdue-balances"} {
			html := filepath.Join(dir, name+".html")
			out, code := run(t, "report", name, "--config", w.Config, "--output", html)
			require.Equal(t, exitOK, code, out)
			b, err := os.ReadFile(html)
			require.NoError(t, err)
			require.Contains(t, string(b), "<svg", name)
			require.True(t, bytes.HasSuffix(bytes.TrimSpace(b), []byte("</html>")))
			out, code = run(t, "report", name, "--config", w.Config, "--format", "csv")
			require.Equal(t, exitOK, code, out)
			recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
			require.NoError(t, err)
			require.Greater(t, len(recs), 1, name)
			out, code = run(t, "report", name, "--config", w.Config)
			require.Equal(t, exitOK, code, out)
			require.Greater(t, len(strings.Split(out, "\n")), 2, name)
		}
		out, code := run(t, "report", "export", "--format", "parquet", "--output", filepath.Join(dir, "bi"), "--config", w.Config)
		require.Equal(t, exitOK, code, out)
		require.Contains(t, out, "fact_invoice_line.parquet")
		out, code = run(t, "report", "list", "--config", w.Config)
		require.Equal(t, exitOK, code, out)
		require.Contains(t, out, "margin-by-client")
		out, code = run(t, "report", "nope", "--config", w.Config)
		require.Equal(t, exitUsage, code, out)
	})

	t.Run("Incremental", func(t *testing.T) {
		out, code := run(t, "report", "refresh", "--config", w.Config)
		require.Equal(t, exitOK, code, out)
		// nothing changed: the ERP reads nothing, the CRM re-reads only its
		// newest change of each entity (its overlap window)
		for _, line := range []string{"crm     account  1     2", "crm     deal     1     2", "erp     account  0     1", "erp     product  0     1",
			"erp     order    0     1", "erp     invoice  0     1"} {
			require.Contains(t, out, line, out)
		}

		// an invoice is paid in the ERP: the next sync --once refreshes the
		// reporting database, reading only what changed
		n, err := w.Sim.ERP.Pay(context.Background(), 1)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		w.Sync(t)
		e := calculate(t, w, today)
		rows := reportJSON(t, w, "overdue-balances")
		require.Len(t, rows, min(20, len(e.overdue)))
		for _, r := range rows {
			requireDec(t, e.overdue[r["customer"].(string)], r["overdue"])
		}
	})
}

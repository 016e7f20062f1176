package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/demo"
	"github.com/concord-sync/concord/internal/reconcile"
	"github.com/concord-sync/concord/internal/sandbox/hubspot"
)

// reconcileJSON runs reconcile with the JSON report written to a file and
// returns it with the exit code and the command's output.
func reconcileJSON(t *testing.T, w *o2cWorld, args ...string) (*reconcile.Report, int, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "report.json")
	out, code := run(t, append([]string{"reconcile", "--config", w.Config, "--format", "json", "--output", path}, args...)...)
	require.Contains(t, []int{exitOK, exitRuntime}, code, out)
	b, err := os.ReadFile(path)
	require.NoError(t, err, out)
	var rep reconcile.Report
	require.NoError(t, json.Unmarshal(b, &rep), string(b))
	return &rep, code, out
}

// handoffsOf returns the report's handoffs of kind, by "deal/order/invoice".
func handoffsOf(rep *reconcile.Report, kind string) []string {
	var out []string
	for _, h := range rep.Handoffs {
		if h.Kind == kind {
			out = append(out, h.DealID+"/"+h.OrderID+"/"+h.InvoiceID)
		}
	}
	return out
}

// TestReconcile_OrderToCash: the order-to-cash world with deliberate
// perturbations (a deal won after the sync, a won deal whose ERP order is
// deleted, an invoice paid in the ERP after the sync, a paid invoice whose
// payment is reversed, an invoice for an order no deal became): each is
// reported as the handoff it is, and each month's won and invoiced amounts
// equal an independent calculation over the sandbox's deals and erp.db.
func TestReconcile_OrderToCash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newO2CWorld(t, 7, 60)
	q := func(query string, args ...any) string {
		t.Helper()
		var s string
		require.NoError(t, w.ERP.QueryRow(query, args...).Scan(&s), query)
		return s
	}
	exec := func(query string, args ...any) {
		t.Helper()
		_, err := w.ERP.Exec(query, args...)
		require.NoError(t, err, query)
	}
	stamp := time.Now().UTC().Format(demo.TimeLayout)

	t.Run("Agree", func(t *testing.T) {
		rep, code, out := reconcileJSON(t, w)
		require.Empty(t, rep.Handoffs, out)
		require.NotNil(t, rep.O2C)
		require.Equal(t, rep.O2C.Won, rep.O2C.Paired, "every won deal is an order")
		for _, m := range rep.Months {
			require.True(t, m.Unexplained.IsZero(), "%s %s: %s unexplained: %+v", m.Month, m.Currency, m.Unexplained, m.Explained)
		}
		if rep.Findings() == 0 {
			require.Equal(t, exitOK, code, out)
		}
	})

	// Perturbations.
	won, err := w.Sim.WinDeals(1) // won after the sync: no order yet
	require.NoError(t, err)
	require.Len(t, won, 1)
	lateDeal := won[0]

	goneOrder := q(`SELECT id FROM sale_orders WHERE id NOT IN (SELECT order_id FROM invoices WHERE state = 'paid') ORDER BY id LIMIT 1`)
	goneDeal := q(`SELECT crm_deal_id FROM sale_orders WHERE id = ?`, goneOrder)
	exec(`DELETE FROM payments WHERE invoice_id IN (SELECT id FROM invoices WHERE order_id = ?)`, goneOrder)
	exec(`DELETE FROM invoices WHERE order_id = ?`, goneOrder)
	exec(`DELETE FROM sale_order_lines WHERE order_id = ?`, goneOrder)
	exec(`DELETE FROM sale_orders WHERE id = ?`, goneOrder)

	paidInvoice := q(`SELECT id FROM invoices WHERE state = 'posted' ORDER BY id LIMIT 1`)
	exec(`UPDATE invoices SET state = 'paid', amount_due = '0', paid_date = ?, updated_at = ? WHERE id = ?`, time.Now().UTC().Format(time.DateOnly), stamp, paidInvoice)
	paidOrder := q(`SELECT order_id FROM invoices WHERE id = ?`, paidInvoice)
	paidDeal := q(`SELECT crm_deal_id FROM sale_orders WHERE id = ?`, paidOrder)

	reversed := q(`SELECT id FROM invoices WHERE state = 'paid' AND id <> ? ORDER BY id LIMIT 1`, paidInvoice)
	exec(`UPDATE invoices SET state = 'posted', amount_due = total, paid_date = NULL, updated_at = ? WHERE id = ?`, stamp, reversed)
	reversedOrder := q(`SELECT order_id FROM invoices WHERE id = ?`, reversed)
	reversedDeal := q(`SELECT crm_deal_id FROM sale_orders WHERE id = ?`, reversedOrder)

	customer := q(`SELECT customer_id FROM customers ORDER BY customer_id LIMIT 1`)
	exec(`INSERT INTO sale_orders (customer_id, state, updated_at) VALUES (?, 'confirmed', ?)`, customer, stamp)
	strayOrder := q(`SELECT max(id) FROM sale_orders`)
	exec(`INSERT INTO sale_order_lines (order_id, line_no, product_id, quantity, unit_price, discount, amount) VALUES (?, 1, 1, '2', '18.00', '0', '36.00')`, strayOrder)
	exec(`INSERT INTO invoices (number, order_id, customer_id, state, total, amount_due, invoice_date, due_date, updated_at) VALUES ('INV/STRAY/1', ?, ?, 'posted', '36.00', '36.00', ?, ?, ?)`,
		strayOrder, customer, time.Now().UTC().Format(time.DateOnly), time.Now().UTC().AddDate(0, 0, 30).Format(time.DateOnly), stamp)
	strayInvoice := q(`SELECT id FROM invoices WHERE number = 'INV/STRAY/1'`)

	t.Run("Handoffs", func(t *testing.T) {
		rep, code, out := reconcileJSON(t, w)
		require.Equal(t, exitRuntime, code, out)
		require.ElementsMatch(t, []string{lateDeal + "//", goneDeal + "//"}, handoffsOf(rep, reconcile.WonWithoutOrder))
		require.Equal(t, []string{paidDeal + "/" + paidOrder + "/" + paidInvoice}, handoffsOf(rep, reconcile.PaidNotOnDeal))
		require.Equal(t, []string{reversedDeal + "/" + reversedOrder + "/" + reversed}, handoffsOf(rep, reconcile.UnpaidShownPaid))
		require.Equal(t, []string{"/" + strayOrder + "/" + strayInvoice}, handoffsOf(rep, reconcile.InvoiceWithoutDeal))
		require.Empty(t, handoffsOf(rep, reconcile.OrderWithoutInvoice))
		require.Empty(t, handoffsOf(rep, reconcile.AmountDiffersFromWon))
		require.Len(t, rep.Handoffs, 5)
		for _, m := range rep.Months {
			require.True(t, m.Unexplained.IsZero(), "%s: %s unexplained: %+v", m.Month, m.Unexplained, m.Explained)
		}
	})

	t.Run("Months", func(t *testing.T) {
		rep, _, _ := reconcileJSON(t, w)
		// The independent calculation: the sandbox's won deals by close
		// month, erp.db's posted and paid invoices by invoice month.
		want := map[string][2]decimal.Decimal{}
		for _, o := range w.CRM.Objects(hubspot.Deals) {
			if o.Properties["dealstage"] == nil || *o.Properties["dealstage"] != "closedwon" {
				continue
			}
			closed, err := time.Parse("2006-01-02T15:04:05.000Z", *o.Properties["closedate"])
			require.NoError(t, err)
			m := want[closed.Format("2006-01")]
			m[0] = m[0].Add(decimal.RequireFromString(*o.Properties["amount"]))
			want[closed.Format("2006-01")] = m
		}
		rows, err := w.ERP.QueryContext(ctx, `SELECT substr(invoice_date, 1, 7), total FROM invoices WHERE state IN ('posted', 'paid')`)
		require.NoError(t, err)
		for rows.Next() {
			var month, total string
			require.NoError(t, rows.Scan(&month, &total))
			m := want[month]
			m[1] = m[1].Add(decimal.RequireFromString(total))
			want[month] = m
		}
		require.NoError(t, rows.Err())
		require.NoError(t, rows.Close())

		require.Len(t, rep.Months, len(want))
		kinds := map[string]bool{}
		for _, m := range rep.Months {
			require.Equal(t, "USD", m.Currency)
			exp, ok := want[m.Month]
			require.True(t, ok, m.Month)
			require.True(t, exp[0].Equal(m.CRMWon), "%s won: want %s, got %s", m.Month, exp[0], m.CRMWon)
			require.True(t, exp[1].Equal(m.ERPInvoiced), "%s invoiced: want %s, got %s", m.Month, exp[1], m.ERPInvoiced)
			require.True(t, m.Variance.Equal(exp[1].Sub(exp[0])))
			sum := m.Unexplained
			for _, e := range m.Explained {
				sum = sum.Add(e.Amount)
				kinds[e.Kind] = true
			}
			require.True(t, sum.Equal(m.Variance), "%s: the explanations add up to the variance", m.Month)
		}
		require.True(t, kinds[reconcile.Timing], "won in 1996-98 (Northwind), invoiced now")
		require.True(t, kinds[reconcile.MissingHandoff], "the deleted order")
		require.True(t, kinds[reconcile.NotFromCRM], "the stray invoice")

		// --since keeps the months from then on.
		this := time.Now().UTC().Format("2006-01")
		rep, _, _ = reconcileJSON(t, w, "--since", this)
		require.NotEmpty(t, rep.Months)
		for _, m := range rep.Months {
			require.GreaterOrEqual(t, m.Month, this)
		}
	})

	t.Run("Outputs", func(t *testing.T) {
		out, code := run(t, "reconcile", "--config", w.Config)
		require.Equal(t, exitRuntime, code, out)
		require.Contains(t, out, "HANDOFFS")
		require.Contains(t, out, reconcile.WonWithoutOrder)
		require.Contains(t, out, "MONTHS")
		require.Contains(t, out, "findings, the systems disagree")

		dir := t.TempDir()
		csvPath := filepath.Join(dir, "r.csv")
		out, code = run(t, "reconcile", "--config", w.Config, "--format", "csv", "-o", csvPath)
		require.Equal(t, exitRuntime, code, out)
		f, err := os.Open(csvPath)
		require.NoError(t, err)
		defer f.Close()
		rows, err := csv.NewReader(f).ReadAll()
		require.NoError(t, err)
		require.Equal(t, reconcile.CSVColumns, rows[0])
		sections := map[string]int{}
		for _, r := range rows[1:] {
			require.Len(t, r, len(reconcile.CSVColumns))
			sections[r[0]]++
		}
		require.Equal(t, 5, sections["handoff"])
		require.Positive(t, sections["month"])
		require.Positive(t, sections["explanation"])

		htmlPath := filepath.Join(dir, "r.html")
		out, code = run(t, "reconcile", "--config", w.Config, "--format", "html", "-o", htmlPath)
		require.Equal(t, exitRuntime, code, out)
		b, err := os.ReadFile(htmlPath)
		require.NoError(t, err)
		page := string(b)
		require.True(t, strings.HasPrefix(page, "<!DOCTYPE html>"))
		require.Contains(t, page, "<svg")
		require.Contains(t, page, "Won vs invoiced (USD)")
		require.Contains(t, page, "Handoffs")
		require.NotContains(t, page, "<script")
		require.NotContains(t, page, "http://", "self-contained: nothing to fetch")
	})

	t.Run("Usage", func(t *testing.T) {
		for _, args := range [][]string{{"--format", "xml"}, {"--since", "2026-13"}, {"--dry-run"}, {"--flow", "nope"}} {
			out, code := run(t, append([]string{"reconcile", "--config", w.Config}, args...)...)
			require.Equal(t, exitUsage, code, "%v: %s", args, out)
		}
	})
}

// TestReconcile_DriftFix: a CRM-owned company name edited by hand in the ERP
// is drift with the ERP as the wrong side; --fix --dry-run shows the plan and
// writes nothing; --fix queues the correction and the next sync puts the
// CRM's name back.
func TestReconcile_DriftFix(t *testing.T) {
	t.Parallel()
	w := newO2CWorld(t, 5, 30)
	var id, name string
	require.NoError(t, w.ERP.QueryRow(`SELECT customer_id, company_name FROM customers WHERE customer_id IN (SELECT customer_id FROM sale_orders) ORDER BY customer_id LIMIT 1`).Scan(&id, &name))
	_, err := w.ERP.Exec(`UPDATE customers SET company_name = 'Edited By Hand Ltd', updated_at = ? WHERE customer_id = ?`,
		time.Now().UTC().Format(demo.TimeLayout), id)
	require.NoError(t, err)
	erpName := func() string {
		var s string
		require.NoError(t, w.ERP.QueryRow(`SELECT company_name FROM customers WHERE customer_id = ?`, id).Scan(&s))
		return s
	}

	rep, code, out := reconcileJSON(t, w)
	require.Equal(t, exitRuntime, code, out)
	var found []reconcile.Drift
	for _, d := range rep.Drift {
		if d.OtherID == id {
			found = append(found, d)
		}
	}
	require.Len(t, found, 1, "%+v", rep.Drift)
	d := found[0]
	require.Equal(t, "customers", d.Flow)
	require.Equal(t, "name", d.Field)
	require.Equal(t, "crm", d.Owner, "the CRM owns the name")
	require.Equal(t, "erp", d.Other, "the ERP is the wrong side")
	require.Equal(t, name, d.OwnerValue)
	require.Equal(t, "Edited By Hand Ltd", d.OtherValue)
	require.True(t, d.Fixable)

	out, code = run(t, "reconcile", "--config", w.Config, "--fix", "--dry-run")
	require.Equal(t, exitRuntime, code, out)
	require.Contains(t, out, "Edited By Hand Ltd")
	require.Contains(t, out, "nothing queued")
	require.Equal(t, "Edited By Hand Ltd", erpName(), "--dry-run writes nothing")

	out, code = run(t, "reconcile", "--config", w.Config, "--fix")
	require.Equal(t, exitRuntime, code, out)
	require.Contains(t, out, "records queued")
	require.Equal(t, "Edited By Hand Ltd", erpName(), "--fix queues, the sync writes")
	w.Sync(t)
	require.Equal(t, name, erpName(), "the CRM's name is back")

	rep, _, out = reconcileJSON(t, w)
	for _, d := range rep.Drift {
		require.NotEqual(t, id, d.OtherID, out)
	}
}

// TestServe_Reconcile: with reconcile.every, serve reconciles once the
// systems are open, serves the report at GET /reconcile, and the drift rule
// alerts the owner of an invoice no CRM deal explains.
func TestServe_Reconcile(t *testing.T) {
	t.Parallel()
	var (
		mu      sync.Mutex
		notices []map[string]any
	)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n map[string]any
		if err := json.NewDecoder(r.Body).Decode(&n); err != nil {
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
		mu.Lock()
		notices = append(notices, n)
		mu.Unlock()
	}))
	t.Cleanup(hook.Close)

	w := newO2CWorld(t, 9, 30)
	customer := ""
	require.NoError(t, w.ERP.QueryRow(`SELECT customer_id FROM customers ORDER BY customer_id LIMIT 1`).Scan(&customer))
	stamp := time.Now().UTC().Format(demo.TimeLayout)
	_, err := w.ERP.Exec(`INSERT INTO sale_orders (customer_id, state, updated_at) VALUES (?, 'confirmed', ?)`, customer, stamp)
	require.NoError(t, err)
	_, err = w.ERP.Exec(`INSERT INTO invoices (number, order_id, customer_id, state, total, amount_due, invoice_date, due_date, updated_at)
		VALUES ('INV/STRAY/9', (SELECT max(id) FROM sale_orders), ?, 'posted', '12.50', '12.50', ?, ?, ?)`,
		customer, time.Now().UTC().Format(time.DateOnly), time.Now().UTC().Format(time.DateOnly), stamp)
	require.NoError(t, err)

	cfg, err := os.ReadFile(w.Config)
	require.NoError(t, err)
	cfg = append(cfg, fmt.Sprintf("\nreconcile:\n  every: 1h\n  months: 2\nalerts:\n  every: 100ms\n  webhook: {url: %q, format: json}\n", hook.URL)...)
	require.NoError(t, os.WriteFile(w.Config, cfg, 0o644))

	addr := alertsFreeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		cmd := newRootCmd()
		cmd.SetArgs([]string{"serve", "--config", w.Config, "--addr", addr, "--log-level", "warn"})
		done <- cmd.ExecuteContext(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop")
		}
	})

	var rep reconcile.Report
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/reconcile")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&rep) == nil
	}, 30*time.Second, 100*time.Millisecond, "GET /reconcile serves the first report")
	var strayOrder, strayInvoice string
	require.NoError(t, w.ERP.QueryRow(`SELECT order_id, id FROM invoices WHERE number = 'INV/STRAY/9'`).Scan(&strayOrder, &strayInvoice))
	require.Equal(t, []string{"/" + strayOrder + "/" + strayInvoice}, handoffsOf(&rep, reconcile.InvoiceWithoutDeal))
	this := time.Now().UTC().AddDate(0, -1, 0).Format("2006-01")
	for _, m := range rep.Months {
		require.GreaterOrEqual(t, m.Month, this, "months: 2 covers last month and this one")
	}

	resp, err := http.Get("http://" + addr + "/reconcile?format=html")
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(page), "<svg")

	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, n := range notices {
			s, _ := n["subject"].(map[string]any)
			if n["rule"] == "drift" && s["kind"] == "order_to_cash" && s["name"] == reconcile.InvoiceWithoutDeal && n["status"] == "firing" {
				return true
			}
		}
		return false
	}, 20*time.Second, 50*time.Millisecond, "the drift rule alerts the owner")
}

package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector/tryton/trytontest"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
	"github.com/concord-sync/concord/internal/store/sqlitestore"
)

// TestDemo_Once runs concord demo --once (the sandbox CRM and the SQLite ERP) and
// checks order-to-cash end to end: every won deal is one ERP order whose lines
// and invoice total equal the deal's amount to the cent, and every invoice's
// number and state are on its deal.
func TestDemo_Once(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "demo")
	out, code := run(t, "demo", "--once", "--erp", "sqlite", "--dir", dir, "--deals", "30", "--seed", "7")
	require.Equal(t, exitOK, code, out)
	require.Contains(t, out, "summary")
	require.Contains(t, out, "Where to look")

	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, "concord.db"), nil)
	require.NoError(t, err)
	defer st.Close()
	erp := openSQLite(t, filepath.Join(dir, "erp.db"))

	created, err := st.ListEvents(ctx, &store.ListEventsParams{Flow: "orders", Outcome: store.OutcomeCreated, Limit: 1000})
	require.NoError(t, err)
	require.NotEmpty(t, created, "the seeded won deals were handed over")
	var orders int
	require.NoError(t, erp.QueryRow(`SELECT count(*) FROM sale_orders`).Scan(&orders))
	require.Equal(t, len(created), orders, "one ERP order per won deal, no duplicates")

	for _, ev := range created {
		var deal model.Record
		require.NoError(t, json.Unmarshal(ev.Snapshot, &deal))
		amount := deal.Fields["amount"]
		require.Equal(t, model.KindMoney, amount.Kind, "deal %s has an amount", deal.ID)

		var orderID int64
		require.NoError(t, erp.QueryRow(`SELECT id FROM sale_orders WHERE crm_deal_id = ?`, deal.ID).Scan(&orderID))
		rows, err := erp.Query(`SELECT amount FROM sale_order_lines WHERE order_id = ?`, orderID)
		require.NoError(t, err)
		sum, n := decimal.Zero, 0
		for rows.Next() {
			var a string
			require.NoError(t, rows.Scan(&a))
			sum = sum.Add(decimal.RequireFromString(a))
			n++
		}
		require.NoError(t, rows.Close())
		require.Len(t, deal.Fields["lines"].Lines, n, "deal %s: every line handed over", deal.ID)
		require.True(t, amount.Num.Equal(sum), "deal %s: ERP lines %s = deal amount %s", deal.ID, sum, amount.Num)

		var total string
		require.NoError(t, erp.QueryRow(`SELECT total FROM invoices WHERE order_id = ?`, orderID).Scan(&total))
		require.True(t, amount.Num.Equal(decimal.RequireFromString(total)), "deal %s: invoice total %s = deal amount %s", deal.ID, total, amount.Num)
	}

	// Every invoice's status reached its deal.
	payments, err := st.ListEvents(ctx, &store.ListEventsParams{Flow: "payments", Outcome: store.OutcomeUpdated, Limit: 1000})
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(payments), len(created))
	var paid int
	require.NoError(t, erp.QueryRow(`SELECT count(*) FROM invoices WHERE state = 'paid'`).Scan(&paid))
	require.Positive(t, paid)
	paidDeals := 0
	for _, ev := range payments {
		var plan struct {
			Changes []struct {
				Field string      `json:"field"`
				To    model.Value `json:"to"`
			} `json:"changes"`
		}
		require.NoError(t, json.Unmarshal(ev.Plan, &plan))
		for _, c := range plan.Changes {
			if c.Field == "invoice_state" && c.To.Str == "paid" {
				paidDeals++
			}
		}
	}
	require.Equal(t, paid, paidDeals, "every paid invoice shows as paid on its deal")
}

// TestIntegrationDemo_Tryton runs concord demo --once against the real Tryton:
// every won deal becomes one Tryton sale, and the invoices' status reaches the
// deals.
func TestIntegrationDemo_Tryton(t *testing.T) {
	env := trytontest.Clone(t)
	t.Setenv("TRYTON_URL", env.URL)
	t.Setenv("TRYTON_DATABASE", env.Database)
	t.Setenv("TRYTON_USER", env.User)
	t.Setenv("TRYTON_PASSWORD", env.Password)
	dir := filepath.Join(t.TempDir(), "demo")
	out, code := run(t, "demo", "--once", "--erp", "tryton", "--dir", dir, "--deals", "12", "--seed", "3")
	require.Equal(t, exitOK, code, out)
	require.Contains(t, out, "Tryton at "+env.URL)

	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, "concord.db"), nil)
	require.NoError(t, err)
	defer st.Close()
	created, err := st.ListEvents(ctx, &store.ListEventsParams{Flow: "orders", Outcome: store.OutcomeCreated, Limit: 1000})
	require.NoError(t, err)
	require.NotEmpty(t, created)
	failed, err := st.ListEvents(ctx, &store.ListEventsParams{Outcome: store.OutcomeFailed, Limit: 10})
	require.NoError(t, err)
	require.Empty(t, failed)
	payments, err := st.ListEvents(ctx, &store.ListEventsParams{Flow: "payments", Outcome: store.OutcomeUpdated, Limit: 1000})
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(payments), len(created), "every handed-over deal got its invoice's status")

	// The billing contact went with each sale.
	contacts, err := st.ListEvents(ctx, &store.ListEventsParams{Flow: "contacts", Outcome: store.OutcomeCreated, Limit: 1000})
	require.NoError(t, err)
	require.NotEmpty(t, contacts, "the won deals' billing contacts reached Tryton")
	for _, ev := range created {
		require.Contains(t, string(ev.Plan), `"field":"contact"`, "the sale of deal %s has its billing contact", ev.SourceID)
	}
}

package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
	"github.com/concord-sync/concord/internal/store/sqlitestore"
)

// TestDemo_Salesforce runs concord demo --crm salesforce --once with the
// SQLite ERP: every won Opportunity is one ERP order whose lines add up to
// its Amount, and every paid invoice shows as paid on its Opportunity.
func TestDemo_Salesforce(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "demo")
	out, code := run(t, "demo", "--crm", "salesforce", "--once", "--erp", "sqlite", "--dir", dir, "--deals", "30", "--seed", "7")
	require.Equal(t, exitOK, code, out)
	require.Contains(t, out, "Salesforce-compatible sandbox at")
	require.Contains(t, out, "point crm at your Salesforce org")

	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, "concord.db"), nil)
	require.NoError(t, err)
	defer st.Close()
	erp := openSQLite(t, filepath.Join(dir, "erp.db"))

	created, err := st.ListEvents(ctx, &store.ListEventsParams{Flow: "orders", Outcome: store.OutcomeCreated, Limit: 1000})
	require.NoError(t, err)
	require.NotEmpty(t, created, "the seeded won opportunities were handed over")
	var orders int
	require.NoError(t, erp.QueryRow(`SELECT count(*) FROM sale_orders`).Scan(&orders))
	require.Equal(t, len(created), orders, "one ERP order per won opportunity, no duplicates")
	for _, ev := range created {
		var deal model.Record
		require.NoError(t, json.Unmarshal(ev.Snapshot, &deal))
		var sum string
		require.NoError(t, erp.QueryRow(`SELECT COALESCE(SUM(l.amount), 0) FROM sale_order_lines l JOIN sale_orders o ON o.id = l.order_id WHERE o.crm_deal_id = ?`, deal.ID).Scan(&sum))
		require.True(t, deal.Fields["amount"].Num.Equal(decimal.RequireFromString(sum)), "opportunity %s: ERP lines %s = Amount %s", deal.ID, sum, deal.Fields["amount"].Num)
	}

	payments, err := st.ListEvents(ctx, &store.ListEventsParams{Flow: "payments", Outcome: store.OutcomeUpdated, Limit: 1000})
	require.NoError(t, err)
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
	require.Equal(t, paid, paidDeals, "every paid invoice shows as paid on its opportunity")

	t.Run("ErrOdoo", func(t *testing.T) {
		out, code := run(t, "demo", "--crm", "salesforce", "--erp", "odoo", "--dir", filepath.Join(t.TempDir(), "d"))
		require.Equal(t, exitUsage, code, out)
	})
}

package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/config"
	"github.com/concord-sync/concord/internal/connector/all"
	"github.com/concord-sync/concord/internal/demo"
	"github.com/concord-sync/concord/internal/northwind"
	"github.com/concord-sync/concord/internal/store"
	"github.com/concord-sync/concord/internal/store/sqlitestore"
)

// TestDemo_PipedriveOnce runs concord demo --crm pipedrive --once with the
// SQLite ERP: every won deal is one ERP order, nothing fails, the invoices'
// status reaches the deals, and the CRM's organizations are the seeded ones
// (adopted through the link field, never created twice).
func TestDemo_PipedriveOnce(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "demo")
	out, code := run(t, "demo", "--crm", "pipedrive", "--once", "--erp", "sqlite", "--dir", dir, "--deals", "30", "--seed", "7")
	require.Equal(t, exitOK, code, out)
	require.Contains(t, out, "Pipedrive-compatible sandbox")
	require.Contains(t, out, "summary")

	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, "concord.db"), nil)
	require.NoError(t, err)
	defer st.Close()
	created, err := st.ListEvents(ctx, &store.ListEventsParams{Flow: "orders", Outcome: store.OutcomeCreated, Limit: 1000})
	require.NoError(t, err)
	require.NotEmpty(t, created, "the seeded won deals were handed over")
	erp := openSQLite(t, filepath.Join(dir, "erp.db"))
	var orders int
	require.NoError(t, erp.QueryRow(`SELECT count(*) FROM sale_orders WHERE crm_deal_id IS NOT NULL`).Scan(&orders))
	require.Equal(t, len(created), orders, "one ERP order per won deal, no duplicates")
	failed, err := st.ListEvents(ctx, &store.ListEventsParams{Outcome: store.OutcomeFailed, Limit: 10})
	require.NoError(t, err)
	require.Empty(t, failed)
	payments, err := st.ListEvents(ctx, &store.ListEventsParams{Flow: "payments", Outcome: store.OutcomeUpdated, Limit: 1000})
	require.NoError(t, err)
	require.NotEmpty(t, payments, "invoice status reached the deals")
	credit, err := st.ListEvents(ctx, &store.ListEventsParams{Flow: "credit", Limit: 1000})
	require.NoError(t, err)
	require.NotEmpty(t, credit)
	nw, err := northwind.Load()
	require.NoError(t, err)
	for _, ev := range credit {
		id, err := strconv.Atoi(strings.TrimPrefix(ev.TargetID, "crm:"))
		require.NoError(t, err, "event %d target %q", ev.ID, ev.TargetID)
		require.LessOrEqual(t, id, len(nw.Customers), "credit wrote onto a seeded organization, never a new one")
	}
	require.Equal(t, exitUsage, func() int {
		_, c := run(t, "demo", "--crm", "pipedrive", "--erp", "odoo", "--dir", filepath.Join(t.TempDir(), "x"))
		return c
	}())
}

// TestDemo_PipedriveConfig keeps the demo's Pipedrive configs valid.
func TestDemo_PipedriveConfig(t *testing.T) {
	t.Parallel()
	reg := all.Registry(all.Deps{})
	env := func(name string) (string, bool) { return "secret-for-" + name, !strings.HasPrefix(name, "OTEL_") }
	for _, tryton := range []*demo.Tryton{nil, {URL: "http://127.0.0.1:8000", Database: "demo", User: "concord", Password: "pw"}} {
		dir := t.TempDir()
		path, err := demo.WritePipedriveConfig(dir, "http://127.0.0.1:1", tryton)
		require.NoError(t, err)
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		require.NotContains(t, string(data), "connector: hubspot")
		_, err = config.Parse(path, data, reg, env)
		require.NoError(t, err, "tryton=%v", tryton != nil)
		_, err = os.Stat(filepath.Join(dir, "pipedrive.token"))
		require.NoError(t, err)
	}
}

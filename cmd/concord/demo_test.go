package main

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector/odoo/odoorpc"
	"github.com/concord-sync/concord/internal/connector/odoo/odootest"
	"github.com/concord-sync/concord/internal/connector/tryton/trytontest"
	"github.com/concord-sync/concord/internal/demo"
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

// TestDemo_OdooUsage: --erp odoo without the Odoo variables is a usage error
// naming the missing variable and the script that prints them.
func TestDemo_OdooUsage(t *testing.T) {
	for _, name := range []string{"ODOO_URL", "ODOO_USER", "ODOO_PASSWORD", "ODOO_API_KEY", "ODOO_DATABASE", "ODOO_CLONE_CMD"} {
		t.Setenv(name, "")
	}
	for _, tc := range []struct {
		set  map[string]string
		want string
	}{
		{nil, "needs ODOO_URL"},
		{map[string]string{"ODOO_URL": "http://127.0.0.1:1"}, "needs ODOO_USER"},
		{map[string]string{"ODOO_USER": "concord"}, "needs ODOO_PASSWORD or ODOO_API_KEY"},
		{map[string]string{"ODOO_API_KEY": "key"}, "needs ODOO_DATABASE, or ODOO_CLONE_CMD"},
	} {
		for k, v := range tc.set {
			t.Setenv(k, v)
		}
		dir := filepath.Join(t.TempDir(), "demo")
		out, code := run(t, "demo", "--once", "--erp", "odoo", "--dir", dir)
		require.Equal(t, exitUsage, code, out)
		require.Contains(t, out, tc.want)
		require.Contains(t, out, "bash scripts/odoo.sh all")
		require.Contains(t, out, "bash scripts/odoo.sh env")
		require.NoDirExists(t, dir, "nothing written before the variables are checked")
	}
	out, code := run(t, "demo", "--erp", "oddo")
	require.Equal(t, exitUsage, code, out)
	require.Contains(t, out, "want sqlite, tryton, odoo or auto")
}

// TestIntegrationDemo_Odoo runs concord demo --once --erp odoo against the real
// Odoo: every won deal becomes exactly one confirmed sale order whose
// client_order_ref is the deal id, and the invoices the demo pays show as paid
// on their deals.
func TestIntegrationDemo_Odoo(t *testing.T) {
	env := odootest.Clone(t)
	t.Setenv("ODOO_URL", env.URL)
	t.Setenv("ODOO_DATABASE", env.Database)
	t.Setenv("ODOO_USER", env.User)
	t.Setenv("ODOO_PASSWORD", env.Password)
	t.Setenv("ODOO_API_KEY", "")
	dir := filepath.Join(t.TempDir(), "demo")
	out, code := run(t, "demo", "--once", "--erp", "odoo", "--dir", dir, "--deals", "24", "--seed", "3")
	require.Equal(t, exitOK, code, out)
	require.Contains(t, out, "Odoo at "+env.URL+", database "+env.Database)
	m := regexp.MustCompile(`(\d+) deals, (\d+) won\)`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	won, _ := strconv.Atoi(m[2])
	require.Positive(t, won)

	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, "concord.db"), nil)
	require.NoError(t, err)
	defer st.Close()
	failed, err := st.ListEvents(ctx, &store.ListEventsParams{Outcome: store.OutcomeFailed, Limit: 10})
	require.NoError(t, err)
	require.Empty(t, failed)
	created, err := st.ListEvents(ctx, &store.ListEventsParams{Flow: "orders", Outcome: store.OutcomeCreated, Limit: 1000})
	require.NoError(t, err)
	require.Len(t, created, won, "every won deal handed over once")

	// In Odoo: one confirmed sale order per won deal, the deal id as its reference.
	rpc, err := odoorpc.New(odoorpc.Config{URL: env.URL, Database: env.Database, Username: env.User, Password: env.Password})
	require.NoError(t, err)
	defer rpc.Close(ctx)
	orders, err := rpc.SearchRead(ctx, "sale.order", nil, []string{"client_order_ref", "state"}, odoorpc.SearchOptions{})
	require.NoError(t, err)
	require.Len(t, orders, won, "one sale order per won deal, no duplicates")
	refs := map[string]bool{}
	for _, o := range orders {
		require.Equal(t, "sale", o.String("state"), "order %d is confirmed", o.ID())
		refs[o.String("client_order_ref")] = true
	}
	for _, ev := range created {
		require.True(t, refs[ev.SourceID], "deal %s has its sale order (client_order_ref)", ev.SourceID)
		require.Contains(t, string(ev.Plan), `"field":"contact"`, "the order of deal %s has its billing contact", ev.SourceID)
	}
	require.Len(t, refs, won)

	// The invoices the demo paid show as paid on their deals.
	paid, err := rpc.SearchCount(ctx, "account.move", odoorpc.Domain{odoorpc.Leaf("move_type", "=", "out_invoice"), odoorpc.Leaf("payment_state", "=", "paid")}, nil)
	require.NoError(t, err)
	require.Positive(t, paid)
	payments, err := st.ListEvents(ctx, &store.ListEventsParams{Flow: "payments", Outcome: store.OutcomeUpdated, Limit: 1000})
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(payments), won, "every handed-over deal got its invoice's status")
	paidDeals := map[string]bool{}
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
				paidDeals[ev.TargetID] = true
			}
		}
	}
	require.Len(t, paidDeals, int(paid), "every paid invoice shows as paid on its deal")
}

// TestDemo_OdooDatabasePerDir: without ODOO_DATABASE, each demo directory gets
// its own fresh Odoo database, named after the directory, and the integration
// user logs in to it.
func TestDemo_OdooDatabasePerDir(t *testing.T) {
	env := odootest.Require(t)
	e := &demoOdooEnv{odoo: demo.Odoo{URL: env.URL, User: env.User, Password: env.Password},
		clone: envOr("ODOO_CLONE_CMD", "bash ../../scripts/odoo.sh clone"), drop: envOr("ODOO_DROP_CMD", "bash ../../scripts/odoo.sh drop")}
	ctx := context.Background()
	base := t.TempDir()
	var names []string
	for _, d := range []string{"one", "two"} {
		od, err := demoOdoo(ctx, e, filepath.Join(base, d))
		require.NoError(t, err)
		t.Cleanup(func() { _ = exec.Command("sh", "-c", e.drop+" "+od.Database).Run() })
		want, err := demo.DatabaseName(filepath.Join(base, d))
		require.NoError(t, err)
		require.Equal(t, want, od.Database)
		names = append(names, od.Database)
		rpc, err := odoorpc.New(odoorpc.Config{URL: od.URL, Database: od.Database, Username: od.User, Password: od.Password})
		require.NoError(t, err)
		require.NoError(t, rpc.Login(ctx), "database %s", od.Database)
		n, err := rpc.SearchCount(ctx, "sale.order", nil, nil)
		require.NoError(t, err)
		require.Zero(t, n, "a fresh database")
		require.NoError(t, rpc.Close(ctx))
	}
	require.NotEqual(t, names[0], names[1], "two directories, two databases")
}

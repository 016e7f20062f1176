package main

import (
	"context"
	"database/sql"
	"math/rand/v2"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/demo"
	"github.com/concord-sync/concord/internal/northwind"
	"github.com/concord-sync/concord/internal/sandbox/hubspot"
)

// o2cWorld is an order-to-cash world for the tests of reconcile, report and
// assess: the HubSpot-compatible sandbox seeded from Northwind (companies,
// contacts, products, deals, some won) and the demo's SQLite ERP (Northwind's
// customers and products, sale orders with lines, invoices, payments), the
// demo's config with its four flows, synced: the won deals are orders, some
// invoiced, some of those paid, and the payment status is on the deals.
type o2cWorld struct {
	Dir, Config string
	CRM         *hubspot.Server
	CRMURL      string
	ERP         *sql.DB // the ERP database (erp.db), for deliberate drift
	Sim         *demo.Simulator
	NW          *northwind.Data
}

// newO2CWorld builds the world in a temp dir, seeded by seed, with deals deals
// in the CRM, and runs the first passes: sync, invoice, pay, sync. The same
// seed gives the same world.
func newO2CWorld(t *testing.T, seed uint64, deals int) *o2cWorld {
	t.Helper()
	ctx := context.Background()
	w := &o2cWorld{Dir: t.TempDir()}
	nw, err := northwind.Load()
	require.NoError(t, err)
	w.NW = nw
	rnd := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))

	cfg := hubspot.DefaultConfig()
	cfg.Token = demo.Token
	cfg.SearchDelay = 10 * time.Millisecond
	w.CRM = hubspot.New(cfg)
	t.Cleanup(func() { _ = w.CRM.Close() })
	srv := httptest.NewServer(w.CRM.Handler())
	t.Cleanup(srv.Close)
	w.CRMURL = srv.URL

	erpPath := filepath.Join(w.Dir, "erp.db")
	require.NoError(t, demo.BuildERP(ctx, erpPath, nw, time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)))
	w.ERP, err = sql.Open("sqlite", "file:"+erpPath+"?_pragma=busy_timeout(5000)")
	require.NoError(t, err)
	t.Cleanup(func() { _ = w.ERP.Close() })
	w.Sim = &demo.Simulator{CRM: w.CRM, ERP: &demo.SQLERP{DB: w.ERP, Rnd: rnd, Now: time.Now}, Rnd: rnd}
	require.NoError(t, demo.SetupCRM(w.CRM, nw, deals, rnd, demo.SameIDs))
	w.Config, err = demo.WriteConfig(w.Dir, w.CRMURL, nil)
	require.NoError(t, err)

	w.Sync(t)
	_, err = w.Sim.ERP.Invoice(ctx)
	require.NoError(t, err)
	_, err = w.Sim.ERP.Pay(ctx, 3)
	require.NoError(t, err)
	w.Sync(t)
	return w
}

// Sync runs concord sync --once on the world.
func (w *o2cWorld) Sync(t *testing.T) {
	t.Helper()
	time.Sleep(20 * time.Millisecond) // the sandbox's search index lags behind writes, as HubSpot's does
	out, code := run(t, "sync", "--once", "--config", w.Config, "--progress", "off")
	require.Equal(t, exitOK, code, out)
}

// TestO2CWorld: the world the reconcile, report and assess tests start from
// is an order-to-cash world: won deals are ERP orders, some invoiced, some
// paid, and the deals carry their invoice state.
func TestO2CWorld(t *testing.T) {
	t.Parallel()
	w := newO2CWorld(t, 1, 30)
	count := func(q string) int {
		var n int
		require.NoError(t, w.ERP.QueryRow(q).Scan(&n))
		return n
	}
	won := len(demo.WonDeals(w.CRM))
	require.Positive(t, won)
	require.Equal(t, won, count(`SELECT count(*) FROM sale_orders`), "every won deal is an ERP order")
	require.Positive(t, count(`SELECT count(*) FROM invoices`))
	require.Positive(t, count(`SELECT count(*) FROM payments`))
}

// prop returns a sandbox record's property, "" when unset.
func prop(o hubspot.Object, name string) string {
	if v := o.Properties[name]; v != nil {
		return *v
	}
	return ""
}

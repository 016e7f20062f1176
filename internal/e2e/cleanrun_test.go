package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestIntegrationCleanRun_100Deals is the acceptance test of issue 8 item 1:
// a clean `concord serve` run (the real binary, the demo's config and batch
// size, the real Tryton at its real speed, no fault) over 100 won deals
// (CONCORD_CLEANRUN_DEALS): 70 won at once, then the rest in waves of ten
// every three seconds while the orders leg is still creating the sales of
// the earlier ones, with an
// accountant posting half of the invoices and paying a quarter in Tryton. It
// ends with every won deal one confirmed, invoiced Tryton sale whose invoice
// state and number are on the deal, no dead letter and no dead event, one
// party and one contact per customer, and serve exiting 0 on SIGTERM; nobody
// retries anything by hand.
func TestIntegrationCleanRun_100Deals(t *testing.T) {
	t.Parallel()
	n := envInt(t, "CONCORD_CLEANRUN_DEALS", 100)
	ctx := context.Background()
	w := newO2CWorld(t, false, 0)
	r := newO2CRun(w, n, false)
	srv := w.serve()
	start := time.Now()
	r.waitProducts(srv, 2*time.Minute)
	t.Logf("catalogue in the CRM after %s", time.Since(start).Round(time.Millisecond))

	// A burst first (the end of a quarter: one large orders batch, whose
	// first invoices exist in Tryton long before the batch records their
	// sales' links), then waves of ten every three seconds while the orders
	// leg is still creating the sales of the earlier ones.
	for left := r.winWave(n * 7 / 10); left > 0; left = r.winWave(10) {
		time.Sleep(3 * time.Second)
		r.step(ctx)
		if done, why := srv.exited(); done {
			require.FailNow(t, why)
		}
	}
	t.Logf("%d deals won after %s", n, time.Since(start).Round(time.Millisecond))
	took := r.converge(ctx, srv, max(8*time.Minute, time.Duration(n)*5*time.Second))
	t.Logf("converged %s after the last win, %s after serve started", took.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))

	require.Zero(t, srv.stop(t, time.Minute), "SIGTERM: serve finishes and exits 0:\n%s", tail(srv.log, 20))
	require.Empty(t, w.deadLetters(), "a clean run leaves no dead letter")
	require.Empty(t, w.events("--status", "dead"), "and no dead event")
	r.checkNoDuplicates(ctx)
}

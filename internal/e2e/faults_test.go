package e2e

import (
	"context"
	"math"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/faultproxy"
	"github.com/concord-sync/concord/internal/sandbox/hubspot"
)

// TestIntegrationFaults_OrderToCash is issue 8 item 16: an order-to-cash run
// through `concord serve` with a fault proxy (internal/faultproxy) between
// Concord and the HubSpot sandbox and another between Concord and Tryton. For
// CONCORD_FAULTS_DURATION (60s) about CONCORD_FAULTS_RATE (0.3) of the HTTP
// requests get a fault: added latency, a reset before the system sees the
// request, a reset after it did the work (the answer lost), a request held and
// then dropped, 429 with Retry-After, or a 5xx; underneath, toxiproxy adds
// latency to every connection and resets or stalls a few. Faults are on before
// serve opens the systems. Meanwhile sales reps win CONCORD_FAULTS_DEALS (20)
// deals and an accountant posts and pays invoices in Tryton. Then the faults
// stop and the run must converge: every won deal exactly one confirmed,
// invoiced sale with its invoice status on the deal (0 lost, 0 duplicates, one
// party and contact per customer, one CRM product per Tryton product), and the
// only dead letter is the planted permanent error (a customer in a country
// Tryton does not have), with its reason. CONCORD_FAULTS_SEED repeats a run's
// fault draws.
func TestIntegrationFaults_OrderToCash(t *testing.T) {
	t.Parallel()
	n := envInt(t, "CONCORD_FAULTS_DEALS", 20)
	window := envDuration(t, "CONCORD_FAULTS_DURATION", time.Minute)
	rate := 0.3
	if s := os.Getenv("CONCORD_FAULTS_RATE"); s != "" {
		var err error
		rate, err = strconv.ParseFloat(s, 64)
		require.NoError(t, err, "CONCORD_FAULTS_RATE=%q", s)
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("CONCORD_FAULTS_SEED"); s != "" {
		var err error
		seed, err = strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, "CONCORD_FAULTS_SEED=%q", s)
	}
	t.Logf("CONCORD_FAULTS_DEALS=%d CONCORD_FAULTS_DURATION=%s CONCORD_FAULTS_RATE=%v CONCORD_FAULTS_SEED=%d", n, window, rate, seed)
	ctx := context.Background()
	w := newO2CWorld(t, true, seed)
	r := newO2CRun(w, n, true)

	faults := faultproxy.Faults{Rate: rate, Latency: 300 * time.Millisecond, Timeout: 3 * time.Second, RetryAfter: time.Second, Churn: 0.2}
	tcp := faultproxy.TCPFaults{Latency: 20 * time.Millisecond, Jitter: 10 * time.Millisecond, LatencyRate: 1, ResetRate: 0.05, StallRate: 0.02, Stall: 3 * time.Second}
	require.NoError(t, w.crmProxy.Inject(faults, tcp))
	require.NoError(t, w.erpProxy.Inject(faults, tcp))
	start := time.Now()
	srv := w.serve()
	r.waitProducts(srv, 3*time.Minute)
	t.Logf("catalogue in the CRM after %s", time.Since(start).Round(time.Millisecond))

	// The deals are won in waves over what is left of the fault window.
	waves := max(1, int((window-time.Since(start))/(3*time.Second)))
	perWave := max(1, int(math.Ceil(float64(n+1)/float64(waves))))
	for r.winWave(perWave) > 0 || time.Since(start) < window {
		r.step(ctx)
		if done, why := srv.exited(); done {
			require.FailNow(t, why)
		}
		time.Sleep(3 * time.Second)
	}
	w.crmProxy.Heal()
	w.erpProxy.Heal()
	requests, faulted := w.proxyStats()
	t.Logf("faults stopped after %s: %d of %d requests faulted (%.1f%%)", time.Since(start).Round(time.Millisecond), faulted, requests, 100*float64(faulted)/float64(max(1, requests)))
	require.Greater(t, requests, 100, "the run went through the proxies")
	// Four standard deviations of a binomial share: a run outside it did not inject at the rate it says.
	tol := 4 * math.Sqrt(rate*(1-rate)/float64(requests))
	require.InDelta(t, rate, float64(faulted)/float64(requests), tol, "about %.0f%% of the requests got a fault", 100*rate)

	took := r.converge(ctx, srv, max(5*time.Minute, time.Duration(n)*2*time.Second))
	t.Logf("converged %s after the faults stopped", took.Round(time.Millisecond))

	require.Zero(t, srv.stop(t, time.Minute), "SIGTERM: serve finishes and exits 0:\n%s", tail(srv.log, 20))
	r.checkNoDuplicates(ctx)

	// Dead letters: only the permanent error, once, with its reason.
	planted := r.companies[len(r.companies)-1]
	perRecord := map[string]int{}
	for _, dl := range w.deadLetters() {
		t.Logf("dead letter %d %s %s %s: %s (attempts %d)", dl.ID, dl.Flow, dl.Entity, dl.ExternalID, dl.Reason, dl.Attempts)
		require.NotEmpty(t, dl.Reason, "dead letter %d has a reason", dl.ID)
		perRecord[dl.Flow+" "+dl.ExternalID]++
		if dl.ExternalID == planted.id {
			require.Contains(t, dl.Reason, "country", "the reason names the field")
			require.Contains(t, dl.Reason, "JP", "and the value")
		}
	}
	require.Equal(t, map[string]int{"customers " + planted.id: 1}, perRecord,
		"one dead letter, for the customer Tryton cannot hold (flow and record: count); transient faults leave none")
	deal := r.deals[len(r.deals)-1]
	require.True(t, deal.planted)
	require.Empty(t, w.sales(deal.id), "the planted deal has no sale")
	require.NotContains(t, prop(w.get(hubspot.Deals, deal.id), "erp_sync_status"), "synced", "and does not claim one")
}

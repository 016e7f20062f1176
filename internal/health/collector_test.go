package health_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/memory"
	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/health"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/queue"
	"github.com/concord-sync/concord/internal/server"
	"github.com/concord-sync/concord/internal/store"
	"github.com/concord-sync/concord/internal/store/sqlitestore"
	"github.com/concord-sync/concord/internal/store/storetest"
)

// pinger is a connector whose ping answers err.
type pinger struct {
	connector.Connector
	err error
}

func (p *pinger) Ping(context.Context) error { return p.err }

// plain hides the connector's capabilities.
type plain struct {
	connector.Connector
}

// limited is a connector with a rate-limit budget in use.
type limited struct {
	connector.Connector
}

func (limited) RateLimitUse() float64 { return 0.4 }

// brokenStore fails its writes.
type brokenStore struct {
	store.Store
	err error
}

func (b brokenStore) Heartbeat(context.Context, string, time.Time) error { return b.err }

type testBundle struct {
	ctx context.Context
	st  store.Store
	tr  *health.Tracker
	c   *health.Collector
	src health.Sources
	crm *pinger
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	st, err := sqlitestore.Open(t.Context(), t.TempDir()+"/concord.db", storetest.Logger(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	b := &testBundle{ctx: t.Context(), st: st, tr: health.NewTracker(), crm: &pinger{Connector: memory.New("crm", model.Account)}}
	b.c = health.NewCollector(b.tr, health.Config{Every: time.Hour}, storetest.Logger(t))
	b.src = health.Sources{Store: st, Node: "test",
		Legs: []health.LegInfo{
			{Leg: "customers", Flow: "customers", Source: "crm", Target: "erp"},
			{Leg: "customers:reverse", Flow: "customers", Source: "erp", Target: "crm"},
		},
		Systems: []health.SystemInfo{
			{Name: "crm", Connector: "sql", Conn: b.crm},
			{Name: "erp", Connector: "hubspot", Conn: limited{memory.New("erp", model.Account)}},
		},
		Webhooks: func() []server.WebhookStats {
			return []server.WebhookStats{{System: "erp", Forged: 2, Stale: 1, Malformed: 1, Deliveries: 9}}
		},
	}
	return b
}

func TestCollector_Snapshot(t *testing.T) {
	t.Parallel()

	t.Run("Opening", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.tr.Opening("system crm")
		snap := b.c.Snapshot(b.ctx)
		require.False(t, snap.Ready)
		require.Equal(t, []string{"opening system crm"}, snap.Reasons)
	})

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		now := time.Now()
		b.src.Depth = func(context.Context) (map[string]queue.Depth, error) {
			return map[string]queue.Depth{"customers": {Batches: 1, Records: 7, Oldest: now.Add(-time.Minute)}}, nil
		}
		b.c.Attach(b.src)
		b.tr.Polled(engine.PollReport{Leg: "customers", Flow: "customers", Source: "crm", At: now, Read: 7, Queued: 7})
		b.tr.Recorded(engine.PieceReport{Leg: "customers:reverse", Flow: "customers", Source: "erp", Target: "crm", At: now,
			Outcomes: map[store.Outcome]int{store.OutcomeCreated: 2, store.OutcomeUpdated: 1, store.OutcomeFailed: 1}, Oldest: now.Add(-5 * time.Second)})
		_, err := b.st.InsertDeadLetters(b.ctx, []store.DeadLetter{{Flow: "customers:reverse", Entity: model.Account, System: "erp", ExternalID: "1", Reason: "refused", Attempts: 1}})
		require.NoError(t, err)

		snap := b.c.Collect(b.ctx)
		require.True(t, snap.Ready, "%v", snap.Reasons)
		require.True(t, snap.Store.Writable)
		fwd, rev := snap.Flows[0], snap.Flows[1]
		require.Equal(t, "customers", fwd.Leg)
		require.Equal(t, int64(7), fwd.Read)
		require.Equal(t, 7, fwd.QueueDepth)
		require.InDelta(t, time.Minute.Seconds(), fwd.Lag.Seconds(), 2, "the oldest queued change")
		require.Equal(t, "customers:reverse", rev.Leg)
		require.Equal(t, int64(3), rev.Applied)
		require.Equal(t, int64(1), rev.Failed)
		require.Equal(t, 1, rev.DeadLetters)
		require.Equal(t, 5*time.Second, rev.Lag, "how far behind the last applied change was")
		require.Equal(t, 1, snap.DeadLetters())
		crm, erp := snap.Systems[0], snap.Systems[1]
		require.True(t, crm.Reachable)
		require.Equal(t, -1.0, crm.RateLimitUse)
		require.Equal(t, 0.4, erp.RateLimitUse)
		require.Equal(t, int64(4), erp.WebhookRefusals)
		require.Equal(t, snap, b.c.Snapshot(b.ctx), "Snapshot returns the latest collected")
	})

	t.Run("ErrFlowFailing", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.src.Systems[0].Conn = plain{b.crm}                                  // pings nothing
		b.src.Depth = func(context.Context) (map[string]queue.Depth, error) { // the failed batch waits for its retry
			return map[string]queue.Depth{"customers:reverse": {Batches: 1, Records: 3}}, nil
		}
		b.c.Attach(b.src)
		now := time.Now()
		b.tr.Polled(engine.PollReport{Leg: "customers", Source: "crm", At: now, Err: errors.New("no such table: companies")})
		b.tr.BatchFailed(engine.BatchFailure{Leg: "customers:reverse", Source: "erp", Target: "crm", At: now, Records: 3, Err: errors.New("crm refused")})
		snap := b.c.Collect(b.ctx)
		require.False(t, snap.Ready)
		require.Equal(t, []string{
			"system crm is unreachable: no such table: companies",
			"flow customers is failing: no such table: companies",
			"flow customers:reverse is failing: batch of 3 records to crm: crm refused",
		}, snap.Reasons, "without a ping, a system whose every poll fails is unreachable")
		require.Equal(t, int64(3), snap.Flows[1].Failed)

		// crm answers a ping: the failing poll is the flow's problem.
		b.tr.Pinged("crm", time.Now(), nil)
		snap = b.c.Collect(b.ctx)
		require.Equal(t, []string{
			"flow customers is failing: no such table: companies",
			"flow customers:reverse is failing: batch of 3 records to crm: crm refused",
		}, snap.Reasons)

		// A good poll and a recorded piece end the streaks.
		b.tr.Polled(engine.PollReport{Leg: "customers", Source: "crm", At: time.Now()})
		b.tr.Recorded(engine.PieceReport{Leg: "customers:reverse", Source: "erp", Target: "crm", At: time.Now(), Outcomes: map[store.Outcome]int{}})
		snap = b.c.Collect(b.ctx)
		require.True(t, snap.Ready, "%v", snap.Reasons)

		// A failed batch another node applied later (nothing queued, no dead
		// letter) ends the streak too.
		b.tr.BatchFailed(engine.BatchFailure{Leg: "customers:reverse", Source: "erp", Target: "crm", At: time.Now(), Records: 1, Err: errors.New("crm refused")})
		require.Len(t, b.c.Collect(b.ctx).Reasons, 1, "still queued")
		b.src.Depth = nil
		b.c.Attach(b.src)
		snap = b.c.Collect(b.ctx)
		require.True(t, snap.Ready, "%v", snap.Reasons)
		require.Zero(t, snap.Flows[0].ErrorStreak)
		require.Empty(t, snap.Flows[0].LastError)
	})

	t.Run("ErrSystemUnreachable", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.crm.err = errors.New("connection refused")
		b.c.Attach(b.src)
		snap := b.c.Collect(b.ctx)
		require.False(t, snap.Ready)
		require.Equal(t, []string{"system crm is unreachable: ping: connection refused"}, snap.Reasons)
		require.Equal(t, 1, snap.Systems[0].ErrorStreak)
	})

	t.Run("ErrStoreNotWritable", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.src.Store = brokenStore{Store: b.st, err: errors.New("database or disk is full")}
		b.c.Attach(b.src)
		snap := b.c.Collect(b.ctx)
		require.False(t, snap.Ready)
		require.False(t, snap.Store.Writable)
		require.Equal(t, []string{"store is not writable: database or disk is full"}, snap.Reasons)
	})
}

func TestReadyHandler(t *testing.T) {
	t.Parallel()
	b := setup(t)
	h := health.ReadyHandler(b.c)
	b.tr.Opening("store")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Equal(t, "not ready\nopening store\n", rec.Body.String())

	b.c.Attach(b.src)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "ready\n", rec.Body.String())

	b.tr.Polled(engine.PollReport{Leg: "customers", Source: "crm", At: time.Now(), Err: errors.New("line one\nline two")})
	b.c.Collect(b.ctx)
	req := httptest.NewRequest(http.MethodGet, "/readyz", nil)
	req.Header.Set("Accept", "application/json")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	require.Contains(t, rec.Body.String(), `"ready":false`)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	require.True(t, strings.HasPrefix(rec.Body.String(), "not ready\n"))
	require.Contains(t, rec.Body.String(), "flow customers is failing: line one line two\n", "one reason per line")
}

package alert_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/alert"
	"github.com/concord-sync/concord/internal/config"
	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/health"
	"github.com/concord-sync/concord/internal/store"
)

// recorder is a Notifier that keeps what it is sent; fail makes the next
// calls fail.
type recorder struct {
	mu      sync.Mutex
	notices []alert.Notice
	fail    int
}

func (r *recorder) Channel() string { return "test" }

func (r *recorder) Notify(_ context.Context, n alert.Notice) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail > 0 {
		r.fail--
		return errors.New("channel down")
	}
	r.notices = append(r.notices, n)
	return nil
}

// take returns the notices received since the last call.
func (r *recorder) take() []alert.Notice {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.notices
	r.notices = nil
	return out
}

type testBundle struct {
	e    *alert.Evaluator
	now  time.Time
	rec  *recorder
	logs *bytes.Buffer
}

func (b *testBundle) advance(d time.Duration) { b.now = b.now.Add(d) }

func (b *testBundle) eval(t *testing.T, snap health.Snapshot) []alert.Notice {
	t.Helper()
	snap.At = b.now
	b.e.Evaluate(context.Background(), snap)
	return b.rec.take()
}

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func setup(t *testing.T, edit func(*config.Alerts)) *testBundle {
	t.Helper()
	cfg := config.DefaultAlerts()
	if edit != nil {
		edit(&cfg)
	}
	b := &testBundle{now: t0, rec: &recorder{}, logs: &bytes.Buffer{}}
	var mu sync.Mutex
	b.e = alert.New(alert.Params{
		Config: cfg, Notifiers: []alert.Notifier{b.rec}, Owner: "jane.doe@example.com",
		Intervals: map[string]time.Duration{"customers": 30 * time.Second, "orders": 10 * time.Minute},
		Logger:    slog.New(slog.NewTextHandler(lockedWriter{&mu, b.logs}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:       func() time.Time { return b.now },
	})
	return b
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// healthy is a snapshot where nothing is wrong.
func healthy(now time.Time) health.Snapshot {
	return health.Snapshot{
		Ready: true, Store: health.Store{Writable: true},
		Systems: []health.System{{Name: "crm", Reachable: true, LastOK: now}, {Name: "erp", Reachable: true, LastOK: now}},
		Flows: []health.Flow{
			{Flow: "customers", Leg: "customers", Source: "crm", Target: "erp", LastPoll: now, LastPollOK: now},
			{Flow: "orders", Leg: "orders", Source: "erp", Target: "crm", LastPoll: now, LastPollOK: now},
		},
	}
}

// one requires exactly one notice and returns it.
func one(t *testing.T, ns []alert.Notice, rule, subject string, state alert.State) alert.Notice {
	t.Helper()
	require.Len(t, ns, 1, "notices: %+v", ns)
	require.Equal(t, rule, ns[0].Rule)
	require.Equal(t, subject, ns[0].Subject.String())
	require.Equal(t, state, ns[0].State)
	return ns[0]
}

func TestEvaluator_Lag(t *testing.T) {
	t.Parallel()

	t.Run("FiresRepeatsResolves", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(c *config.Alerts) { c.Repeat = time.Hour })
		require.Empty(t, b.eval(t, healthy(b.now)))

		lagging := func() health.Snapshot {
			s := healthy(b.now)
			s.Flows[0].Lag, s.Flows[0].QueueDepth = 20*time.Minute, 2
			return s
		}
		n := one(t, b.eval(t, lagging()), "lag", "flow customers", alert.Firing)
		require.Equal(t, 0, n.Repeat)
		require.Equal(t, b.now, n.Since)
		require.Contains(t, n.Summary, "20m0s behind (over 15m0s)")
		require.NotEmpty(t, n.Action)
		require.Equal(t, "jane.doe@example.com", n.Owner)
		require.Equal(t, "[concord] FIRING lag: flow customers", n.Title())

		for range 3 { // it lasts: no new notice before repeat
			b.advance(15 * time.Minute)
			require.Empty(t, b.eval(t, lagging()))
		}
		b.advance(15 * time.Minute)
		n = one(t, b.eval(t, lagging()), "lag", "flow customers", alert.Firing)
		require.Equal(t, 1, n.Repeat)
		require.Equal(t, t0, n.Since)
		require.Equal(t, "[concord] STILL FIRING lag: flow customers", n.Title())

		b.advance(time.Minute)
		n = one(t, b.eval(t, healthy(b.now)), "lag", "flow customers", alert.Resolved)
		require.Contains(t, n.Text(), "Resolved after 1h1m0s (firing since 2026-03-02T09:00:00Z)")
		require.Contains(t, n.Text(), "It was: flow customers is 20m0s behind")
		require.Empty(t, b.eval(t, healthy(b.now)))

		logs := b.logs.String()
		require.Contains(t, logs, `level=WARN msg="alert fired" rule=lag subject="flow customers"`)
		require.Contains(t, logs, `level=WARN msg="alert still firing" rule=lag subject="flow customers"`)
		require.Contains(t, logs, `level=INFO msg="alert resolved" rule=lag subject="flow customers"`)
		require.Equal(t, 1, strings.Count(logs, `msg="alert fired"`))
	})

	t.Run("NothingPendingIsNoLag", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		s := healthy(b.now)
		s.Flows[0].Lag = time.Hour // how late the last applied change was; nothing pending
		require.Empty(t, b.eval(t, s))
		s.Flows[0].Waiting = 1
		one(t, b.eval(t, s), "lag", "flow customers", alert.Firing)
	})

	t.Run("Disabled", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(c *config.Alerts) { c.Lag.Enabled = false })
		s := healthy(b.now)
		s.Flows[0].Lag, s.Flows[0].QueueDepth = 20*time.Hour, 2
		require.Empty(t, b.eval(t, s))
	})
}

func TestEvaluator_StalePoll(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	started := b.now
	stale := func() health.Snapshot {
		s := healthy(b.now)
		s.Flows[0].LastPollOK = time.Time{} // never polled successfully since start
		s.Flows[0].LastError = "no such table: customers"
		s.Flows[1].LastPollOK = started // orders polls every 10m: 30m is its limit
		return s
	}
	require.Empty(t, b.eval(t, stale()))
	b.advance(15 * time.Minute)
	require.Empty(t, b.eval(t, stale()), "15m is not over 15m")
	b.advance(time.Second)
	n := one(t, b.eval(t, stale()), "stale_poll", "flow customers", alert.Firing)
	require.Equal(t, "flow customers has had no successful poll of crm for 15m0s; last error: no such table: customers", n.Summary)
	b.advance(14 * time.Minute)
	require.Empty(t, b.eval(t, stale()))
	b.advance(time.Minute)
	one(t, b.eval(t, stale()), "stale_poll", "flow orders", alert.Firing)

	s := stale()
	s.Flows[0].LastPollOK = b.now
	s.Flows[1].LastPollOK = b.now
	ns := b.eval(t, s)
	require.Len(t, ns, 2)
	for _, n := range ns {
		require.Equal(t, alert.Resolved, n.State)
	}
}

func TestEvaluator_Silence(t *testing.T) {
	t.Parallel()
	poll := func(b *testBundle, read int, err error) {
		b.e.Polled(engine.PollReport{Leg: "orders", Flow: "orders", Source: "erp", At: b.now, Read: read, Err: err})
	}
	// learn: a change every 10m, each read by a drain of three polls.
	learn := func(b *testBundle) {
		for range 6 {
			poll(b, 500, nil)
			b.advance(time.Second)
			poll(b, 500, nil)
			b.advance(time.Second)
			poll(b, 3, nil)
			b.advance(10*time.Minute - 2*time.Second)
		}
	}

	t.Run("FiresAfterFactorTimesUsual", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		learn(b)
		last := b.now.Add(-10*time.Minute + 2*time.Second)
		// 10 x 10m = 100m of silence, with successful polls reading nothing.
		for b.now.Sub(last) < 99*time.Minute {
			poll(b, 0, nil)
			require.Empty(t, b.eval(t, healthy(b.now)), "at %s", b.now.Sub(last))
			b.advance(10 * time.Minute)
		}
		b.advance(time.Minute)
		poll(b, 0, nil)
		n := one(t, b.eval(t, healthy(b.now)), "silence", "flow orders", alert.Firing)
		require.Contains(t, n.Summary, "while changes usually come every 10m0s (learned from the last 5)")

		b.advance(time.Minute)
		poll(b, 1, nil)
		one(t, b.eval(t, healthy(b.now)), "silence", "flow orders", alert.Resolved)
	})

	t.Run("MinimumAndLearning", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(c *config.Alerts) { c.Silence.Min = 3 * time.Hour })
		learn(b)
		b.advance(2 * time.Hour)
		poll(b, 0, nil)
		require.Empty(t, b.eval(t, healthy(b.now)), "under min")
		b.advance(time.Hour)
		poll(b, 0, nil)
		one(t, b.eval(t, healthy(b.now)), "silence", "flow orders", alert.Firing)

		fresh := setup(t, nil)
		poll(fresh, 1, nil)
		fresh.advance(time.Minute)
		poll(fresh, 1, nil)
		fresh.advance(48 * time.Hour)
		poll(fresh, 0, nil)
		require.Empty(t, fresh.eval(t, healthy(fresh.now)), "one interval seen is not a history")
	})

	t.Run("FailingPollsAreNotSilence", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(c *config.Alerts) { c.StalePoll.Enabled = false })
		learn(b)
		b.advance(5 * time.Hour)
		poll(b, 0, errors.New("connection refused"))
		require.Empty(t, b.eval(t, healthy(b.now)))
	})
}

func TestEvaluator_ErrorRate(t *testing.T) {
	t.Parallel()
	piece := func(b *testBundle, outcomes map[store.Outcome]int) {
		b.e.Recorded(engine.PieceReport{Leg: "customers", Flow: "customers", At: b.now, Outcomes: outcomes})
	}

	t.Run("OverShareWithinWindow", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		piece(b, map[store.Outcome]int{store.OutcomeCreated: 15, store.OutcomeFailed: 2, store.OutcomeRetrying: 1})
		require.Empty(t, b.eval(t, healthy(b.now)), "3 of 18 is under 20%")
		b.advance(time.Minute)
		piece(b, map[store.Outcome]int{store.OutcomeDead: 2, store.OutcomeQuarantined: 1})
		n := one(t, b.eval(t, healthy(b.now)), "error_rate", "flow customers", alert.Firing)
		require.Equal(t, "flow customers: 5 of 21 records failed within 15m0s (24%, over 20%)", n.Summary)

		b.advance(14 * time.Minute)
		require.Empty(t, b.eval(t, healthy(b.now)), "the first piece is still in the window")
		b.advance(time.Minute + time.Second)
		one(t, b.eval(t, healthy(b.now)), "error_rate", "flow customers", alert.Resolved)
	})

	t.Run("MinRecords", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		piece(b, map[store.Outcome]int{store.OutcomeFailed: 9})
		require.Empty(t, b.eval(t, healthy(b.now)), "9 records are too few to judge")
		b.e.BatchFailed(engine.BatchFailure{Leg: "customers", Flow: "customers", At: b.now, Records: 1, Err: errors.New("target down")})
		one(t, b.eval(t, healthy(b.now)), "error_rate", "flow customers", alert.Firing)
	})
}

func TestEvaluator_Growth(t *testing.T) {
	t.Parallel()

	t.Run("DeadLettersGrowThenStay", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		snap := func(dead int) health.Snapshot {
			s := healthy(b.now)
			s.Flows[1].DeadLetters = dead
			return s
		}
		require.Empty(t, b.eval(t, snap(2)), "letters open at start are the baseline")
		b.advance(time.Minute)
		n := one(t, b.eval(t, snap(3)), "dead_letters", "flow orders", alert.Firing)
		require.Equal(t, "flow orders open dead letters: 3, up 1 from 2 within 1h0m0s", n.Summary)
		b.advance(59 * time.Minute)
		require.Empty(t, b.eval(t, snap(3)), "the growth is within the hour")
		b.advance(time.Minute + time.Second)
		one(t, b.eval(t, snap(3)), "dead_letters", "flow orders", alert.Resolved)
		b.advance(time.Minute)
		require.Empty(t, b.eval(t, snap(2)), "going down is not growing")
	})

	t.Run("QuarantineFixed", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		s := healthy(b.now)
		require.Empty(t, b.eval(t, s))
		s.Flows[0].Quarantine = 4
		one(t, b.eval(t, s), "quarantine", "flow customers", alert.Firing)
		s.Flows[0].Quarantine = 0
		one(t, b.eval(t, s), "quarantine", "flow customers", alert.Resolved)
	})

	t.Run("WebhookRefusals", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		s := healthy(b.now)
		require.Empty(t, b.eval(t, s))
		s.Systems[0].WebhookRefusals = 4
		require.Empty(t, b.eval(t, s), "4 is under the default 5")
		s.Systems[0].WebhookRefusals = 5
		n := one(t, b.eval(t, s), "webhook_refusals", "system crm", alert.Firing)
		require.Contains(t, n.Summary, "refused webhook deliveries: 5, up 5 from 0")
	})
}

func TestEvaluator_Unreachable(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	down := func(lastOK time.Time) health.Snapshot {
		s := healthy(b.now)
		s.Systems[1].Reachable, s.Systems[1].LastOK, s.Systems[1].LastError = false, lastOK, "dial tcp 10.0.0.2:8000: connection refused"
		return s
	}
	require.Empty(t, b.eval(t, down(time.Time{})))
	b.advance(4 * time.Minute)
	require.Empty(t, b.eval(t, down(time.Time{})))
	b.advance(time.Minute)
	n := one(t, b.eval(t, down(time.Time{})), "unreachable", "system erp", alert.Firing)
	require.Equal(t, "system erp has been unreachable for 5m0s; last error: dial tcp 10.0.0.2:8000: connection refused", n.Summary)
	one(t, b.eval(t, healthy(b.now)), "unreachable", "system erp", alert.Resolved)

	// Down again, last answered 10 minutes ago: it fires at once.
	n = one(t, b.eval(t, down(b.now.Add(-10*time.Minute))), "unreachable", "system erp", alert.Firing)
	require.Contains(t, n.Summary, "unreachable for 10m0s")
}

func TestEvaluator_Store(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	s := healthy(b.now)
	s.Store = health.Store{Writable: false, LastError: "disk I/O error: no space left on device"}
	require.Empty(t, b.eval(t, s))
	b.advance(time.Minute)
	n := one(t, b.eval(t, s), "store", "store", alert.Firing)
	require.Equal(t, "the store has not been writable for 1m0s; last error: disk I/O error: no space left on device", n.Summary)
	one(t, b.eval(t, healthy(b.now)), "store", "store", alert.Resolved)
}

func TestEvaluator_Reviews(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	oldest := b.now.Add(-23 * time.Hour)
	snap := func() health.Snapshot {
		s := healthy(b.now)
		s.Flows[0].PendingReviews, s.Flows[0].OldestReview = 3, oldest
		return s
	}
	require.Empty(t, b.eval(t, snap()))
	b.advance(2 * time.Hour)
	n := one(t, b.eval(t, snap()), "reviews", "flow customers", alert.Firing)
	require.Equal(t, "flow customers has 3 pairs waiting in concord match, the oldest for 25h0m0s", n.Summary)
	one(t, b.eval(t, healthy(b.now)), "reviews", "flow customers", alert.Resolved)
}

func TestEvaluator_DeliveryRetried(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.rec.fail = 2
	s := healthy(b.now)
	s.Store.Writable = false
	b.eval(t, s)
	b.advance(time.Minute)
	require.Empty(t, b.eval(t, s), "the channel is down")
	require.Len(t, b.e.Active(), 1)
	b.advance(time.Minute)
	require.Empty(t, b.eval(t, healthy(b.now)), "still down: the firing and resolved notices wait")
	b.advance(time.Minute)
	ns := b.eval(t, healthy(b.now))
	require.Len(t, ns, 2, "delivered in order once the channel is back")
	require.Equal(t, alert.Firing, ns[0].State)
	require.Equal(t, alert.Resolved, ns[1].State)
	require.Contains(t, b.logs.String(), `msg="alert delivery failed, retrying at the next evaluation" channel=test rule=store subject=store status=firing attempts=2 err="channel down"`)
	require.Contains(t, b.logs.String(), `msg="alert delivered after retries"`)
	require.Empty(t, b.e.Active())
}

func TestEvaluator_StalePollObserved(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	// A producer that knows no poll times: the polls the evaluator observed count.
	bare := func() health.Snapshot {
		s := healthy(b.now)
		s.Flows = s.Flows[:1]
		s.Flows[0].LastPoll, s.Flows[0].LastPollOK = time.Time{}, time.Time{}
		return s
	}
	require.Empty(t, b.eval(t, bare()), "serve starts")
	b.advance(10 * time.Minute)
	b.e.Polled(engine.PollReport{Leg: "customers", Flow: "customers", At: b.now, Read: 0})
	b.advance(10 * time.Minute)
	b.e.Polled(engine.PollReport{Leg: "customers", Flow: "customers", At: b.now, Err: errors.New("no such table: customers")})
	require.Empty(t, b.eval(t, bare()), "the last success was 10m ago")
	b.advance(6 * time.Minute)
	n := one(t, b.eval(t, bare()), "stale_poll", "flow customers", alert.Firing)
	require.Equal(t, "flow customers has had no successful poll of crm for 16m0s; last error: no such table: customers", n.Summary)
	b.e.Polled(engine.PollReport{Leg: "customers", Flow: "customers", At: b.now, Read: 1})
	one(t, b.eval(t, bare()), "stale_poll", "flow customers", alert.Resolved)
}

package alert_test

import (
	"bytes"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/alert"
	"github.com/concord-sync/concord/internal/config"
	"github.com/concord-sync/concord/internal/health"
)

// TestEvaluator_Nodes: with several serve nodes, a node watches the polls of
// the legs it holds (from when it took them) and only the node holding the
// shared rules sends the alerts on what all nodes share.
func TestEvaluator_Nodes(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	held := map[string]time.Time{}
	shared := false
	b := &testBundle{now: t0, rec: &recorder{}, logs: &bytes.Buffer{}}
	b.e = alert.New(alert.Params{
		Config: config.DefaultAlerts(), Notifiers: []alert.Notifier{b.rec},
		Intervals: map[string]time.Duration{"customers": 30 * time.Second, "orders": 10 * time.Minute},
		Logger:    slog.New(slog.NewTextHandler(lockedWriter{&mu, b.logs}, nil)),
		Now:       func() time.Time { return b.now },
		Polls: func(leg string) (time.Time, bool) {
			since, ok := held[leg]
			return since, ok
		},
		Shared: func() bool { return shared },
	})
	snap := func() health.Snapshot {
		s := healthy(b.now)
		for i := range s.Flows { // this node has not polled since it started
			s.Flows[i].LastPoll, s.Flows[i].LastPollOK = time.Time{}, time.Time{}
		}
		s.Flows[0].Lag, s.Flows[0].QueueDepth = time.Hour, 3
		return s
	}
	b.advance(time.Hour)
	require.Empty(t, b.eval(t, snap()), "a node that polls no leg and holds no shared rules sends nothing")

	held["customers"] = b.now // it takes the leg now
	b.advance(10 * time.Minute)
	require.Empty(t, b.eval(t, snap()), "the stale_poll limit counts from when the node took the leg")
	b.advance(6 * time.Minute)
	one(t, b.eval(t, snap()), "stale_poll", "flow customers", alert.Firing)

	shared = true
	one(t, b.eval(t, snap()), "lag", "flow customers", alert.Firing)
}

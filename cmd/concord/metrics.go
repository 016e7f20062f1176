package main

import (
	"context"

	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/health"
	"github.com/concord-sync/concord/internal/metrics"
)

// newMetrics returns the metrics registry of a's legs and systems, reading
// the state gauges from a.metricsSnapshot.
func (a *app) newMetrics(legs []engine.Leg) *metrics.Metrics {
	ml := make([]metrics.Leg, len(legs))
	for i, l := range legs {
		ml[i] = metrics.Leg{Name: l.Name, Flow: l.Flow, Source: l.Source, Target: l.Target}
	}
	return metrics.New(metrics.Options{Legs: ml, Snapshot: a.metricsSnapshot, Systems: a.conns})
}

// metricsSnapshot is the state the metrics' gauges read. Until the health
// tracker's Snapshot is wired here (issue 10: internal/health produces it), it
// knows only the legs and the store's current waits and pending reviews; the
// fields it cannot know are left zero, and the gauges of systems, the store
// and readiness are left out (metrics skips them for an unknown snapshot).
func (a *app) metricsSnapshot(ctx context.Context) health.Snapshot {
	var s health.Snapshot
	for _, name := range a.eng.Legs() {
		l, _ := a.eng.Leg(name)
		f := health.Flow{Flow: l.Flow, Leg: l.Name, Source: l.Source, Target: l.Target}
		if n, err := a.store.CountWaits(ctx, l.Name); err == nil {
			f.Waiting = n
		}
		if n, err := a.store.CountReviews(ctx, l.Name); err == nil {
			f.PendingReviews = n
		}
		s.Flows = append(s.Flows, f)
	}
	return s
}

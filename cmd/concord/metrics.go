package main

import (
	"context"

	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/health"
	"github.com/concord-sync/concord/internal/metrics"
)

// newMetrics returns the metrics registry of a's legs and systems, reading
// the state gauges from serve's health collector (other commands serve no
// metrics and have none).
func (a *app) newMetrics(legs []engine.Leg) *metrics.Metrics {
	ml := make([]metrics.Leg, len(legs))
	for i, l := range legs {
		ml[i] = metrics.Leg{Name: l.Name, Flow: l.Flow, Source: l.Source, Target: l.Target}
	}
	var snapshot func(context.Context) health.Snapshot
	if a.run.health != nil {
		snapshot = a.run.health.Snapshot
	}
	// concord_build_info says what concord version says: a release's
	// -ldflags values where set.
	v := versionInfo()
	rev := v.Commit
	if rev != "" && v.Modified {
		rev += "-dirty"
	}
	return metrics.New(metrics.Options{Legs: ml, Snapshot: snapshot, Systems: a.conns, Version: v.Version, Revision: rev})
}

package main

import (
	"context"
	"time"

	"github.com/concord-sync/concord/internal/alert"
	"github.com/concord-sync/concord/internal/health"
)

// newAlerts returns the alert evaluator for the config: the rules of
// alerts.rules, the channels of alerts.email and alerts.webhook, and each
// flow direction's poll interval. It is an engine.Observer, so it is made
// before the engine; serve runs it (runAlerts).
func (a *app) newAlerts() *alert.Evaluator {
	intervals := map[string]time.Duration{}
	for _, l := range Legs(a.cfg) {
		every := a.cfg.Sync.PollInterval
		if f, ok := a.cfg.Flow(l.Flow); ok && f.Every > 0 {
			every = f.Every
		}
		intervals[l.Name] = every
	}
	return alert.New(alert.Params{
		Config: a.cfg.Alerts, Notifiers: alert.Notifiers(a.cfg.Alerts), Owner: a.cfg.Owner,
		Intervals: intervals, Logger: a.log.With("component", "alerts"),
	})
}

// runAlerts evaluates the alert rules every alerts.every until ctx is done.
func (a *app) runAlerts(ctx context.Context) {
	a.alerts.Run(ctx, a.alertSnapshot)
}

// alertSnapshot is what the alerts read until the health producer is wired:
// the flows and what the engine counts of them; systems and the store are
// taken as fine. The rules fed by the engine's reports (silence, error_rate)
// work already.
func (a *app) alertSnapshot(context.Context) health.Snapshot {
	snap := health.Snapshot{At: time.Now(), Ready: true, Store: health.Store{Writable: true}}
	for _, s := range a.eng.Stats() {
		l, ok := a.eng.Leg(s.Leg)
		if !ok {
			continue
		}
		snap.Flows = append(snap.Flows, health.Flow{
			Flow: l.Flow, Leg: l.Name, Source: l.Source, Target: l.Target,
			// No poll times yet: stale_poll counts from serve's start.
			Read: int64(s.Read), Applied: int64(s.Created + s.Updated + s.Unchanged), Failed: int64(s.Failed),
		})
	}
	for _, sys := range a.cfg.Systems {
		snap.Systems = append(snap.Systems, health.System{Name: sys.Name, Connector: sys.Connector, Reachable: true, RateLimitUse: -1})
	}
	return snap
}

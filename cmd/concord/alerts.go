package main

import (
	"time"

	"github.com/concord-sync/concord/internal/alert"
)

// newAlerts returns the alert evaluator for the config: the rules of
// alerts.rules, the channels of alerts.email and alerts.webhook, and each
// flow direction's poll interval. It is an engine.Observer, so it is made
// before the engine; serve runs it on the health collector's snapshots.
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
		// Several serve nodes on one store: a node watches the polls of the
		// legs whose lease it holds, and the node holding the "alerts"
		// lease the rules on what all nodes share (serve.go).
		Polls: func(leg string) (time.Time, bool) {
			if a.leases == nil {
				return time.Time{}, true
			}
			return a.leases.HeldSince(pollLease(leg))
		},
		Shared: func() bool { return a.leases == nil || a.leases.Held(alertsLease) },
	})
}

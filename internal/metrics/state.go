package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/concord-sync/concord/internal/health"
)

// Descriptions of the state gauges, read from a health.Snapshot at each
// scrape: they go down when things are fixed.
var (
	flowLabels = []string{labelFlow, labelDirection}

	descLag           = prometheus.NewDesc("concord_lag_seconds", "Age of the oldest change read from a flow's source and not applied yet (queued, retrying or waiting); when none, how far behind the last applied change was.", flowLabels, nil)
	descQueueDepth    = prometheus.NewDesc("concord_queue_depth", "Batches of a flow waiting in the queue or running.", flowLabels, nil)
	descDeadLetters   = prometheus.NewDesc("concord_dead_letters", "Open dead letters of a flow now (records that failed for good until retried or fixed).", flowLabels, nil)
	descQuarantine    = prometheus.NewDesc("concord_quarantined_records", "Records of a flow in quarantine now (failed validation, released once fixed).", flowLabels, nil)
	descWaiting       = prometheus.NewDesc("concord_waiting_records", "Records of a flow parked until a record they need is linked.", flowLabels, nil)
	descReviews       = prometheus.NewDesc("concord_pending_reviews", "Possible matches of a flow waiting for a person (concord match).", flowLabels, nil)
	descOldestReview  = prometheus.NewDesc("concord_oldest_pending_review_timestamp_seconds", "When the oldest pending review of a flow was raised, as a Unix time; absent when none waits.", flowLabels, nil)
	descFailing       = prometheus.NewDesc("concord_flow_failing", "1 when a flow's last poll or batch failed, else 0.", flowLabels, nil)
	descFlowStreak    = prometheus.NewDesc("concord_flow_error_streak", "Polls and batches of a flow that failed in a row.", flowLabels, nil)
	descLastPoll      = prometheus.NewDesc("concord_last_poll_timestamp_seconds", "When a flow's source was last polled, as a Unix time.", flowLabels, nil)
	descLastPollOK    = prometheus.NewDesc("concord_last_successful_poll_timestamp_seconds", "When a flow's source was last polled successfully, as a Unix time.", flowLabels, nil)
	descLastApplied   = prometheus.NewDesc("concord_last_applied_timestamp_seconds", "When a change was last applied to a flow's target, as a Unix time.", flowLabels, nil)
	descSystemUp      = prometheus.NewDesc("concord_system_up", "1 when a system answered its last call, else 0.", []string{labelSystem}, nil)
	descSystemStreak  = prometheus.NewDesc("concord_system_error_streak", "Calls to a system that failed in a row.", []string{labelSystem}, nil)
	descSystemLastOK  = prometheus.NewDesc("concord_system_last_ok_timestamp_seconds", "When a call to a system last succeeded, as a Unix time.", []string{labelSystem}, nil)
	descRateLimitUse  = prometheus.NewDesc("concord_rate_limit_budget_use_ratio", "Share of a system's rate-limit budget in use now, 0 to 1; absent for systems without a known budget.", []string{labelSystem}, nil)
	descStoreWritable = prometheus.NewDesc("concord_store_writable", "1 when Concord's store accepted its last write check, else 0.", nil, nil)
	descReady         = prometheus.NewDesc("concord_ready", "1 when /readyz answers 200 (every system and the store reachable, no flow failing), else 0.", nil, nil)
)

// stateCollector turns a health.Snapshot into gauges at each scrape.
type stateCollector struct {
	snapshot func(context.Context) health.Snapshot
	timeout  time.Duration
}

var stateDescs = []*prometheus.Desc{
	descLag, descQueueDepth, descDeadLetters, descQuarantine, descWaiting, descReviews, descOldestReview,
	descFailing, descFlowStreak, descLastPoll, descLastPollOK, descLastApplied,
	descSystemUp, descSystemStreak, descSystemLastOK, descRateLimitUse, descStoreWritable, descReady,
}

// Describe implements prometheus.Collector.
func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range stateDescs {
		ch <- d
	}
}

// Collect implements prometheus.Collector. Times that are zero (never
// happened) are left out rather than exported as 1970; so are the system,
// store and readiness gauges of a snapshot that does not know them (no
// systems listed, store never checked, At zero).
func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	s := c.snapshot(ctx)
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	stamp := func(d *prometheus.Desc, t time.Time, labels ...string) {
		if !t.IsZero() {
			gauge(d, float64(t.UnixMilli())/1e3, labels...)
		}
	}
	for _, f := range s.Flows {
		l := []string{f.Flow, Direction(f.Leg)}
		gauge(descLag, f.Lag.Seconds(), l...)
		gauge(descQueueDepth, float64(f.QueueDepth), l...)
		gauge(descDeadLetters, float64(f.DeadLetters), l...)
		gauge(descQuarantine, float64(f.Quarantine), l...)
		gauge(descWaiting, float64(f.Waiting), l...)
		gauge(descReviews, float64(f.PendingReviews), l...)
		stamp(descOldestReview, f.OldestReview, l...)
		gauge(descFailing, bool01(f.Failing), l...)
		gauge(descFlowStreak, float64(f.ErrorStreak), l...)
		stamp(descLastPoll, f.LastPoll, l...)
		stamp(descLastPollOK, f.LastPollOK, l...)
		stamp(descLastApplied, f.LastApplied, l...)
	}
	for _, sys := range s.Systems {
		gauge(descSystemUp, bool01(sys.Reachable), sys.Name)
		gauge(descSystemStreak, float64(sys.ErrorStreak), sys.Name)
		stamp(descSystemLastOK, sys.LastOK, sys.Name)
		if sys.RateLimitUse >= 0 {
			gauge(descRateLimitUse, sys.RateLimitUse, sys.Name)
		}
	}
	if !s.Store.CheckedAt.IsZero() {
		gauge(descStoreWritable, bool01(s.Store.Writable))
	}
	if !s.At.IsZero() {
		gauge(descReady, bool01(s.Ready))
	}
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

package metrics

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/health"
	"github.com/concord-sync/concord/internal/server"
	"github.com/concord-sync/concord/internal/store"
)

var _ engine.Observer = (*Metrics)(nil)

// Leg names one direction of a flow, so that its series exist (at zero)
// before anything happened on it.
type Leg struct {
	// Name is the leg's name: the flow, or "<flow>:reverse".
	Name, Flow, Source, Target string
}

// Options configure New.
type Options struct {
	// Legs start their counters and histograms at zero.
	Legs []Leg
	// Snapshot returns the current state for the state gauges (lag, queue
	// depth, dead letters...), called at each scrape with a ctx bounded by
	// SnapshotTimeout. Nil: no state gauges.
	Snapshot func(context.Context) health.Snapshot
	// SnapshotTimeout bounds a Snapshot call; 0 means 5 s.
	SnapshotTimeout time.Duration
	// Systems are the opened systems: those with a rate limiter
	// (RateLimited) report their waits.
	Systems map[string]connector.Connector
	// Version and Revision label concord_build_info, as concord version
	// prints them (a release build's -ldflags values). Empty: the binary's
	// build info (BuildInfo).
	Version, Revision string
}

// RateLimited is a system whose requests wait for a rate limiter (HubSpot).
type RateLimited interface {
	// RateLimitWaits returns how many requests the limiter held back and
	// their total wait, since start.
	RateLimitWaits() (int64, time.Duration)
}

// WebhookCounter counts webhook deliveries per system; *server.Receiver is
// one.
type WebhookCounter interface {
	Stats() []server.WebhookStats
}

// Metrics is Concord's metrics registry and an engine.Observer feeding it.
// It is safe for concurrent use; its Observer methods only update counters.
type Metrics struct {
	reg *prometheus.Registry

	recordsRead    *prometheus.CounterVec
	records        *prometheus.CounterVec
	polls          *prometheus.CounterVec
	pollDuration   *prometheus.HistogramVec
	writeDuration  *prometheus.HistogramVec
	pieceDuration  *prometheus.HistogramVec
	queueWait      *prometheus.HistogramVec
	appliedLag     *prometheus.HistogramVec
	batchFailures  *prometheus.CounterVec
	batchFailedRec *prometheus.CounterVec

	mu       sync.Mutex
	webhooks WebhookCounter
}

// outcomes are the values of the outcome label, started at zero for every
// leg.
var outcomes = []store.Outcome{
	store.OutcomeCreated, store.OutcomeUpdated, store.OutcomeUnchanged, store.OutcomeStale,
	store.OutcomeQuarantined, store.OutcomeFailed, store.OutcomeRetrying, store.OutcomeDead,
	store.OutcomeWaiting, store.OutcomeReview, store.OutcomeNotCreated,
}

// Label names.
const (
	labelFlow      = "flow"
	labelDirection = "direction"
	labelSystem    = "system"
	labelOutcome   = "outcome"
	labelResult    = "result"
)

// Values of the direction and result labels.
const (
	Forward     = "forward"
	Reverse     = "reverse"
	resultOK    = "ok"
	resultError = "error"
)

// New returns a registry with Concord's metrics, the Go runtime's and the
// process's collectors and the build info. It does no I/O.
func New(o Options) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		recordsRead: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "concord_records_read_total",
			Help: "Records read from a flow's source system by its polls.",
		}, []string{labelFlow, labelDirection, labelSystem}),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "concord_records_processed_total",
			Help: "Records processed by a flow, by outcome (created, updated, unchanged, stale, quarantined, failed, retrying, dead, waiting, review, not_created).",
		}, []string{labelFlow, labelDirection, labelOutcome}),
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "concord_polls_total",
			Help: "Polls of a flow's source, by result (ok, error).",
		}, []string{labelFlow, labelDirection, labelResult}),
		pollDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "concord_poll_duration_seconds",
			Help:    "Duration of one poll of a flow's source: reading and queueing one page.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 13), // 5 ms .. 20 s
		}, flowLabels),
		writeDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "concord_write_duration_seconds",
			Help:    "Duration of one write call to a flow's target system (one piece of a batch).",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 13),
		}, []string{labelFlow, labelDirection, labelSystem}),
		pieceDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "concord_batch_piece_duration_seconds",
			Help:    "Duration of one piece of a batch: planning, writing and recording.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14), // 5 ms .. 41 s
		}, flowLabels),
		queueWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "concord_queue_wait_seconds",
			Help:    "Time a batch waited in the queue between becoming due and starting.",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 10), // 10 ms .. 44 min
		}, flowLabels),
		appliedLag: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "concord_applied_lag_seconds",
			Help:    "Age of the oldest source change applied in a piece, when it was applied: how far behind the target was.",
			Buckets: prometheus.ExponentialBuckets(0.1, 4, 10), // 100 ms .. 7.3 h
		}, flowLabels),
		batchFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "concord_batch_failures_total",
			Help: "Batches that failed as a whole (target or store down); the queue retries them, then dead-letters their records.",
		}, flowLabels),
		batchFailedRec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "concord_batch_failed_records_total",
			Help: "Records in the batches that failed as a whole.",
		}, flowLabels),
	}
	for _, l := range o.Legs {
		f, d := l.Flow, Direction(l.Name)
		m.recordsRead.WithLabelValues(f, d, l.Source)
		for _, out := range outcomes {
			m.records.WithLabelValues(f, d, string(out))
		}
		m.polls.WithLabelValues(f, d, resultOK)
		m.polls.WithLabelValues(f, d, resultError)
		m.pollDuration.WithLabelValues(f, d)
		m.writeDuration.WithLabelValues(f, d, l.Target)
		m.pieceDuration.WithLabelValues(f, d)
		m.queueWait.WithLabelValues(f, d)
		m.appliedLag.WithLabelValues(f, d)
		m.batchFailures.WithLabelValues(f, d)
		m.batchFailedRec.WithLabelValues(f, d)
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		buildInfo(o.Version, o.Revision),
		m.recordsRead, m.records, m.polls, m.pollDuration, m.writeDuration, m.pieceDuration,
		m.queueWait, m.appliedLag, m.batchFailures, m.batchFailedRec,
		&webhookCollector{m: m},
		newRateLimitCollector(o.Systems),
	)
	if o.Snapshot != nil {
		timeout := o.SnapshotTimeout
		if timeout <= 0 {
			timeout = 5 * time.Second
		}
		m.reg.MustRegister(&stateCollector{snapshot: o.Snapshot, timeout: timeout})
	}
	return m
}

// Registry returns the registry, to gather from in tests or to register more
// collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler returns the /metrics handler in Prometheus's exposition formats.
// webhooks, when not nil, is read at each scrape for the webhook counters;
// the last call's webhooks are the ones read. A collector that fails leaves
// its metrics out and the others are still served.
func (m *Metrics) Handler(webhooks WebhookCounter) http.Handler {
	m.mu.Lock()
	m.webhooks = webhooks
	m.mu.Unlock()
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Direction returns the direction label of a leg: "reverse" for the second
// leg of a two-way flow ("<flow>:reverse"), else "forward".
func Direction(leg string) string {
	if strings.HasSuffix(leg, ":reverse") {
		return Reverse
	}
	return Forward
}

// Polled implements engine.Observer.
func (m *Metrics) Polled(r engine.PollReport) {
	d := Direction(r.Leg)
	if r.Err != nil {
		m.polls.WithLabelValues(r.Flow, d, resultError).Inc()
		return
	}
	m.polls.WithLabelValues(r.Flow, d, resultOK).Inc()
	m.pollDuration.WithLabelValues(r.Flow, d).Observe(r.Took.Seconds())
	m.recordsRead.WithLabelValues(r.Flow, d, r.Source).Add(float64(r.Read))
}

// Recorded implements engine.Observer.
func (m *Metrics) Recorded(r engine.PieceReport) {
	d := Direction(r.Leg)
	for out, n := range r.Outcomes {
		m.records.WithLabelValues(r.Flow, d, string(out)).Add(float64(n))
	}
	m.pieceDuration.WithLabelValues(r.Flow, d).Observe(r.Took.Seconds())
	if r.Write > 0 {
		m.writeDuration.WithLabelValues(r.Flow, d, r.Target).Observe(r.Write.Seconds())
	}
	if r.QueueWait > 0 {
		m.queueWait.WithLabelValues(r.Flow, d).Observe(r.QueueWait.Seconds())
	}
	if !r.Oldest.IsZero() {
		m.appliedLag.WithLabelValues(r.Flow, d).Observe(max(r.At.Sub(r.Oldest), 0).Seconds())
	}
}

// BatchFailed implements engine.Observer.
func (m *Metrics) BatchFailed(r engine.BatchFailure) {
	d := Direction(r.Leg)
	m.batchFailures.WithLabelValues(r.Flow, d).Inc()
	m.batchFailedRec.WithLabelValues(r.Flow, d).Add(float64(r.Records))
}

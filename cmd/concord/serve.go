package main

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/console"
	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/health"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/reconcile"
	"github.com/concord-sync/concord/internal/server"
)

func newServeCmd(g *globals) *cobra.Command {
	var addr string
	// serve never gives up on a system: it keeps retrying the open and the
	// polls of a system that is down, and logs it.
	run := runOptions{forever: true, grace: defaultGrace, trace: true}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Sync continuously: pollers on an interval, workers, health and stats over HTTP",
		Long: `serve runs every flow continuously: a poller per flow reads changes every interval
(the flow's every:, else sync.poll_interval), the queue's workers apply them, and
an HTTP server answers at once, even while the systems are still being opened:
GET /healthz (liveness: ok while the process serves), GET /readyz (200 ready, or
503 not ready with the reasons: opening a system, the store not writable, a
system unreachable, a flow failing; JSON with Accept: application/json), GET
/stats (JSON counters per flow and per webhook system, the pairs waiting in
concord match, the dead letters and quarantine open now, and the health snapshot
concord status prints), GET /metrics (Prometheus metrics: throughput, outcomes,
latency, lag, dead letters, webhooks, rate-limit waits; see docs/metrics.md) and
POST /webhooks/{system} for systems that push changes:
the delivery is verified, stored and queued in one transaction and answered at once.

A system that fails transiently (unreachable, timeout, connection reset, HTTP 429
or 5xx, database locked) is retried with exponential backoff and jitter up to 30 s
apart, honouring Retry-After, for as long as it takes: at start serve waits for
every system to open, and a poller whose source is down keeps retrying; each
retry logs a "system down, retrying" warning naming the system. A permanent
failure at start (refused credentials, unknown table, unknown database) stops
serve with exit 1 and names the system's line in the config file; a permanent
failure while polling is logged with the flow's line and polled again next time.

SIGTERM or SIGINT stops the pollers at once, gives the running batches
--grace-period to finish their write and recording (then cancels them: the next
start redoes them), and exits 0.
At the default log level (info) serve logs each system opened, where it listens, each
poll that read changes, each batch piece applied with its counts by outcome, and each
record not synced with its id and the reason (docs/operations.md lists every line).
Events older than retention.events (default 90d) are pruned at start and hourly.
Every alerts.every (default 15s) the alert rules are evaluated: an alert that
fires is logged (WARN "alert fired") and sent to alerts.email and
alerts.webhook, again every alerts.repeat while it lasts, and once more when it
is resolved (INFO "alert resolved"); see docs/alerts.md.
With reconcile.every set (off by default), serve runs concord reconcile in the
background at start and then every reconcile.every, serves the last report at
GET /reconcile (JSON; ?format=html, csv or table) and feeds the drift alert rule
(docs/reconcile.md).
With console.users in the config, / and /console/ serve the web console and
/api/v1/ its JSON API (concord console --help, docs/console.md).

Several serve nodes may share one PostgreSQL store: each flow's poller and the
periodic work run on one node at a time, under a lease in the store that another
node takes over within 20 s when a node dies; every node's workers apply batches,
and HubSpot's rate_limit is one budget for all nodes. GET /stats lists the leases
(docs/deploy.md).

With a tracing section in the config (or OTEL_EXPORTER_OTLP_ENDPOINT set), every
poll and batch is sent as an OpenTelemetry trace over OTLP/HTTP (docs/tracing.md).
The HTTP server closes connections that send nothing or trickle (5 s for headers,
30 s per request and per response, 60 s idle), refuses headers over 64 KiB, and
accepts at most 512 connections at once (see docs/cli.md).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			g.defaultLevel = "info" // serve says what it does (docs/operations.md)
			// /healthz and /readyz answer at once, while the store and the
			// systems are still being opened.
			run.tracker = health.NewTracker()
			h := health.NewCollector(run.tracker, health.Config{}, nil)
			run.health = h
			front, err := listenFront(addr, h)
			if err != nil {
				return err
			}
			a, err := openAppWith(ctx, g, run)
			if err != nil {
				front.close(ctx)
				if ctx.Err() != nil {
					return nil // stopped while waiting for a system: nothing ran
				}
				return err
			}
			defer a.Close(context.WithoutCancel(ctx))
			return a.serve(ctx, front, h)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8088", "HTTP listen address for /healthz, /readyz, /stats, /metrics, /reconcile, the webhooks and the console (empty: none)")
	graceFlag(cmd, &run)
	return cmd
}

// front is serve's HTTP server: it listens before the app is open, so that
// /healthz and /readyz answer at once; /stats and the webhooks answer 503
// until the app is attached.
type front struct {
	srv       *http.Server
	addr      string
	endpoints string // for the "listening" log line
	stats     atomic.Pointer[http.Handler]
	metrics   atomic.Pointer[http.Handler]
	hooks     atomic.Pointer[http.Handler]
	reconcile atomic.Pointer[http.Handler]
	console   atomic.Pointer[http.Handler]
}

// listenFront listens on addr and serves /healthz, /readyz, /stats, /metrics
// and the webhooks; an empty addr serves nothing (nil front).
func listenFront(addr string, h *health.Collector) (*front, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := server.Listen(addr, server.DefaultLimits())
	if err != nil {
		return nil, err
	}
	f := &front{addr: ln.Addr().String()}
	mux := newRouteMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.Handle("GET /readyz", health.ReadyHandler(h))
	mux.Handle("GET /stats", f.until(&f.stats))
	mux.Handle("GET /metrics", f.until(&f.metrics))
	mux.Handle("POST /webhooks/{system}", f.until(&f.hooks))
	mux.Handle("GET /reconcile", f.until(&f.reconcile))
	mux.Handle("/console/", f.until(&f.console))
	mux.Handle("/api/v1/", f.until(&f.console))
	mux.Handle("GET /{$}", f.until(&f.console))
	f.endpoints = mux.endpoints()
	f.srv = server.NewHTTPServer(mux, server.DefaultLimits())
	go func() { _ = f.srv.Serve(ln) }()
	return f, nil
}

// until serves with the handler in p once it is set, else 503.
func (f *front) until(p *atomic.Pointer[http.Handler]) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := p.Load(); h != nil {
			(*h).ServeHTTP(w, r)
			return
		}
		http.Error(w, "starting: see /readyz", http.StatusServiceUnavailable)
	})
}

func (f *front) close(ctx context.Context) {
	if f != nil {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = f.srv.Shutdown(sctx)
	}
}

// serve runs until ctx is cancelled.
func (a *app) serve(ctx context.Context, f *front, h *health.Collector) error {
	a.leases = a.newLeases()
	var lastReconcile atomic.Pointer[reconcile.Report] // reconcile.every: the last report, for GET /reconcile
	con, err := a.consoleHandler(h, &lastReconcile)
	if err != nil {
		return err
	}
	if err := a.queue.Start(ctx, a.eng); err != nil {
		return err
	}
	var webhooks func() []server.WebhookStats
	var wg sync.WaitGroup
	if f != nil {
		mux := http.NewServeMux()
		recv := server.NewReceiver(a.store, server.Verifiers(a.conns), a.eng, a.log.With("component", "webhooks"))
		recv.Register(mux)
		webhooks = recv.Stats
		var hooks http.Handler = mux
		f.hooks.Store(&hooks)
		var m http.Handler = a.metrics.Handler(recv)
		f.metrics.Store(&m)
		var stats http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			reviews, err := a.store.CountReviews(r.Context(), "") // pairs waiting in concord match
			if err != nil {
				http.Error(w, "store unavailable", http.StatusServiceUnavailable)
				return
			}
			leases, err := a.leaseStats(r.Context())
			if err != nil {
				http.Error(w, "store unavailable", http.StatusServiceUnavailable)
				return
			}
			snap := h.Snapshot(r.Context())
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(statsBody{Flows: a.eng.Stats(), Webhooks: recv.Stats(), PendingReviews: reviews,
				DeadLetters: snap.DeadLetters(), Quarantine: snap.Quarantined(), Node: a.leases.Node(), Leases: leases, Health: snap})
		})
		f.stats.Store(&stats)
		rh := reconcileHandler(a.cfg, &lastReconcile)
		f.reconcile.Store(&rh)
		if con != nil {
			wg.Go(func() { con.Run(ctx) }) // the lag chart's samples
			cmux := http.NewServeMux()
			con.Register(cmux)
			var ch http.Handler = cmux
			f.console.Store(&ch)
		} else {
			var off http.Handler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				http.Error(w, "the web console is off: add console.users to the config (docs/console.md)", http.StatusNotFound)
			})
			f.console.Store(&off)
		}
		a.log.InfoContext(ctx, "listening", "addr", f.addr, "endpoints", f.endpoints)
	}
	h.Attach(healthSources(a, webhooks))
	wg.Go(func() { h.Run(ctx) })
	// What one node at a time does runs under a lease (nodes.go); the
	// workers (a.queue) run on every node.
	wg.Go(func() { a.leased(ctx, tickLease, func(ctx context.Context) { a.tickLoop(ctx, tickEvery) }) })
	wg.Go(func() { a.leased(ctx, pruneLease, func(ctx context.Context) { a.pruneLoop(ctx, pruneEvery) }) }) // retention.events
	wg.Go(func() { a.leased(ctx, alertsLease, func(ctx context.Context) { <-ctx.Done() }) })                // the shared alert rules
	wg.Go(func() { a.alerts.Run(ctx, h.Snapshot) })                                                         // alerts: every alerts.every
	if reportExists(ctx, a.cfg) {
		wg.Go(func() { a.leased(ctx, reportLease, a.reportLoop) }) // the reporting database: every report.every
	}
	wg.Go(func() { // reconcile.every, off by default
		a.leased(ctx, reconcileLease, func(ctx context.Context) { a.reconcileLoop(ctx, &lastReconcile) })
	})
	for _, name := range a.eng.Legs() {
		l, _ := a.eng.Leg(name)
		every := a.cfg.Sync.PollInterval
		if f, ok := a.cfg.Flow(l.Flow); ok && f.Every > 0 {
			every = f.Every
		}
		wg.Go(func() {
			a.leased(ctx, pollLease(name), func(ctx context.Context) {
				a.log.InfoContext(ctx, "polling", engine.FlowAttr(name), "source", l.Source, "target", l.Target, "every", every)
				a.pollLoop(ctx, name, every)
			})
		})
	}
	<-ctx.Done()
	a.log.Info("shutting down", "grace_period", a.run.grace)
	wg.Wait()
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.run.grace)
	defer cancel()
	if f != nil {
		_ = f.srv.Shutdown(stopCtx)
	}
	err = a.queue.Stop(stopCtx)
	a.log.Info("stopped")
	return err
}

// consoleHandler returns the web console when the config has console users,
// else nil; h (nil: none) gives the overview its health.
func (a *app) consoleHandler(h *health.Collector, last *atomic.Pointer[reconcile.Report]) (*console.Console, error) {
	if !a.cfg.Console.Enabled() {
		return nil, nil
	}
	o := console.Options{Config: a.cfg, Store: a.store, Engine: a.eng, Alerts: a.alerts.Active,
		Reconcile: last.Load, RecordURL: recordURLs(a.conns), Log: a.log.With("component", "console")}
	if h != nil {
		o.Health = h.Snapshot
	}
	return console.New(o)
}

// recordURLs returns the record pages the systems' connectors know.
func recordURLs(conns map[string]connector.Connector) func(string, model.Entity, string) string {
	return func(system string, e model.Entity, id string) string {
		if l, ok := conns[system].(connector.RecordLinker); ok {
			return l.RecordURL(e, id)
		}
		return ""
	}
}

// statsBody is GET /stats: the counters since start per flow and per webhook
// system, and the current state (dead letters, quarantine, reviews open now;
// the health snapshot).
type statsBody struct {
	Flows          []engine.Stats        `json:"flows"`
	Webhooks       []server.WebhookStats `json:"webhooks"`
	PendingReviews int                   `json:"pending_reviews"`
	DeadLetters    int                   `json:"dead_letters"`
	Quarantine     int                   `json:"quarantine"`
	// Node is this process's name in the leases, which say which node does
	// the work one node at a time does (docs/deploy.md).
	Node   string          `json:"node"`
	Leases []leaseStat     `json:"leases"`
	Health health.Snapshot `json:"health"`
}

// tickEvery is how often serve wakes missed waits, expires old ones and
// retries dead letters of passing causes (engine.Tick).
const tickEvery = 5 * time.Second

// tickLoop runs the engine's periodic work until ctx is cancelled.
func (a *app) tickLoop(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := a.eng.Tick(ctx); err != nil && ctx.Err() == nil {
			a.log.ErrorContext(ctx, "periodic work failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// pollLoop drains a leg's source every interval until ctx is cancelled. A
// source that fails transiently is retried (a.poll) until it answers; any other
// failure is logged and the leg is polled again at the next tick.
func (a *app) pollLoop(ctx context.Context, leg string, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := a.eng.StartSweep(ctx, leg); err != nil && ctx.Err() == nil {
			a.log.ErrorContext(ctx, "sweep failed", engine.FlowAttr(leg), "err", err)
		}
		for ctx.Err() == nil {
			res, err := a.poll(ctx, leg)
			if err != nil {
				if ctx.Err() == nil {
					a.log.ErrorContext(ctx, "poll failed", engine.FlowAttr(leg), "err", err)
				}
				break
			}
			if res.Done {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

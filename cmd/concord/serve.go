package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/concord-sync/concord/internal/engine"
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
an HTTP server answers GET /healthz, GET /stats (JSON counters per flow and per
webhook system, and the pairs waiting in concord match) and POST /webhooks/{system} for systems that push changes: the
delivery is verified, stored and queued in one transaction and answered at once.

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
Events older than retention.events (default 90d) are pruned at start and hourly.
With a tracing section in the config (or OTEL_EXPORTER_OTLP_ENDPOINT set), every
poll and batch is sent as an OpenTelemetry trace over OTLP/HTTP (docs/tracing.md).
The HTTP server closes connections that send nothing or trickle (5 s for headers,
30 s per request and per response, 60 s idle), refuses headers over 64 KiB, and
accepts at most 512 connections at once (see docs/cli.md).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			a, err := openAppWith(ctx, g, run)
			if err != nil {
				if ctx.Err() != nil {
					return nil // stopped while waiting for a system: nothing ran
				}
				return err
			}
			defer a.Close(context.WithoutCancel(ctx))
			return a.serve(ctx, addr)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8088", "HTTP listen address for /healthz and /stats (empty: none)")
	graceFlag(cmd, &run)
	return cmd
}

// serve runs until ctx is cancelled.
func (a *app) serve(ctx context.Context, addr string) error {
	if err := a.queue.Start(ctx, a.eng); err != nil {
		return err
	}
	var srv *http.Server
	if addr != "" {
		ln, err := server.Listen(addr, server.DefaultLimits())
		if err != nil {
			return err
		}
		mux := http.NewServeMux()
		recv := server.NewReceiver(a.store, server.Verifiers(a.conns), a.eng, a.log.With("component", "webhooks"))
		recv.Register(mux)
		mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
		mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			reviews, err := a.store.CountReviews(r.Context(), "") // pairs waiting in concord match
			if err != nil {
				http.Error(w, "store unavailable", http.StatusServiceUnavailable)
				return
			}
			_ = json.NewEncoder(w).Encode(struct {
				Flows          []engine.Stats        `json:"flows"`
				Webhooks       []server.WebhookStats `json:"webhooks"`
				PendingReviews int                   `json:"pending_reviews"`
			}{a.eng.Stats(), recv.Stats(), reviews})
		})
		srv = server.NewHTTPServer(mux, server.DefaultLimits())
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				a.log.ErrorContext(ctx, "http server", "err", err)
			}
		}()
		a.log.InfoContext(ctx, "serving", "addr", ln.Addr().String())
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.tickLoop(ctx, tickEvery)
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.pruneLoop(ctx, pruneEvery) // retention.events
	}()
	for _, name := range a.eng.Legs() {
		l, _ := a.eng.Leg(name)
		every := a.cfg.Sync.PollInterval
		if f, ok := a.cfg.Flow(l.Flow); ok && f.Every > 0 {
			every = f.Every
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.pollLoop(ctx, name, every)
		}()
	}
	<-ctx.Done()
	a.log.Info("shutting down")
	wg.Wait()
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.run.grace)
	defer cancel()
	if srv != nil {
		_ = srv.Shutdown(stopCtx)
	}
	return a.queue.Stop(stopCtx)
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
			a.log.ErrorContext(ctx, "sweep failed", "leg", leg, "err", err)
		}
		for ctx.Err() == nil {
			res, err := a.poll(ctx, leg)
			if err != nil {
				if ctx.Err() == nil {
					a.log.ErrorContext(ctx, "poll failed", "leg", leg, "err", err)
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

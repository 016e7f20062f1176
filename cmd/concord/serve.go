package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/server"
)

func newServeCmd(g *globals) *cobra.Command {
	var addr string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Sync continuously: pollers on an interval, workers, health and stats over HTTP",
		Long: `serve runs every flow continuously: a poller per flow reads changes every interval
(the flow's every:, else sync.poll_interval), the queue's workers apply them, and
an HTTP server answers GET /healthz, GET /stats (JSON counters per flow and per
webhook system) and POST /webhooks/{system} for systems that push changes: the
delivery is verified, stored and queued in one transaction and answered at once.
Events older than retention.events (default 90d) are pruned at start and hourly.
SIGTERM or SIGINT stops the pollers, lets running batches finish, and exits 0.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			a, err := openApp(ctx, g)
			if err != nil {
				return err
			}
			defer a.Close(context.WithoutCancel(ctx))
			return a.serve(ctx, addr)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8088", "HTTP listen address for /healthz and /stats (empty: none)")
	return cmd
}

// serve runs until ctx is cancelled.
func (a *app) serve(ctx context.Context, addr string) error {
	if err := a.queue.Start(ctx, a.eng); err != nil {
		return err
	}
	var srv *http.Server
	if addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("listen %s: %w", addr, err)
		}
		mux := http.NewServeMux()
		recv := server.NewReceiver(a.store, server.Verifiers(a.conns), a.eng, a.log.With("component", "webhooks"))
		recv.Register(mux)
		mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
		mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(struct {
				Flows    []engine.Stats        `json:"flows"`
				Webhooks []server.WebhookStats `json:"webhooks"`
			}{a.eng.Stats(), recv.Stats()})
		})
		srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
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
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
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

// pollLoop drains a leg's source every interval until ctx is cancelled.
func (a *app) pollLoop(ctx context.Context, leg string, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := a.eng.StartSweep(ctx, leg); err != nil {
			a.log.ErrorContext(ctx, "sweep failed", "leg", leg, "err", err)
		}
		for {
			res, err := a.eng.Poll(ctx, leg)
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

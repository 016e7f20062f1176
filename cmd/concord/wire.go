package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/concord-sync/concord/internal/alert"
	"github.com/concord-sync/concord/internal/budget"
	"github.com/concord-sync/concord/internal/config"
	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/all"
	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/gate"
	"github.com/concord-sync/concord/internal/health"
	"github.com/concord-sync/concord/internal/lease"
	"github.com/concord-sync/concord/internal/logwatch"
	"github.com/concord-sync/concord/internal/metrics"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/queue"
	"github.com/concord-sync/concord/internal/retry"
	"github.com/concord-sync/concord/internal/store"
	"github.com/concord-sync/concord/internal/store/pgstore"
	"github.com/concord-sync/concord/internal/store/sqlitestore"
	"github.com/concord-sync/concord/internal/tracing"
)

// app is a loaded config with its store, systems, queue and engine.
type app struct {
	cfg   *config.Config
	log   *slog.Logger
	store store.Store
	conns map[string]connector.Connector
	queue *queue.Queue
	eng   *engine.Engine
	run   runOptions
	// alerts evaluates the owner's alert rules; serve runs it.
	alerts *alert.Evaluator
	// metrics are served at /metrics by serve; the engine reports to them.
	metrics *metrics.Metrics
	// tracer exports the engine's spans (sync --once, serve); never nil once
	// wired.
	tracer *tracing.Provider
	// leases split serve's single-node work between the nodes on the store
	// (nodes.go); nil outside serve.
	leases *lease.Leases
	// node names this process among the nodes on the store (nodes.go).
	node string
}

// runOptions are how a command waits for systems and for running batches.
type runOptions struct {
	// retryFor bounds how long a system that fails transiently (opening,
	// polling) is retried; 0 does not retry.
	retryFor time.Duration
	// forever retries a system that fails transiently until it answers or the
	// command is stopped (serve); retryFor is then ignored.
	forever bool
	// grace is how long running batches may take to finish their write and
	// recording after SIGTERM or Ctrl-C; then they are cancelled and retried by
	// the next run.
	grace time.Duration
	// tracker, when set (serve), observes the engine for the health snapshot
	// and is told what is being opened.
	tracker *health.Tracker
	// health, when set (serve), is the collector whose snapshots the metrics'
	// state gauges read.
	health *health.Collector
	// trace exports spans when the config's tracing section says so.
	trace bool
}

// exitInterrupted is the exit code of a command stopped by SIGTERM or Ctrl-C
// (sync --once, demo): 128 + SIGINT, as shells report it.
const exitInterrupted = 130

// interrupted is the error of a command stopped by SIGTERM or Ctrl-C; what says
// what was done about the work in flight.
func interrupted(what string) error {
	return &exitError{code: exitInterrupted, err: errors.New("interrupted: " + what)}
}

// Defaults of runOptions.
const (
	defaultRetryFor = 5 * time.Minute
	defaultGrace    = 30 * time.Second
)

func defaultRunOptions() runOptions {
	return runOptions{retryFor: defaultRetryFor, grace: defaultGrace}
}

// retryFlag adds --retry-for to cmd.
func retryFlag(cmd *cobra.Command, o *runOptions) {
	cmd.Flags().DurationVar(&o.retryFor, "retry-for", defaultRetryFor,
		"how long to keep retrying a system that fails transiently (unreachable, timeout, 429, 5xx, locked) while opening or reading it; 0: no retry")
}

// graceFlag adds --grace-period to cmd.
func graceFlag(cmd *cobra.Command, o *runOptions) {
	cmd.Flags().DurationVar(&o.grace, "grace-period", defaultGrace,
		"on SIGTERM or Ctrl-C, how long running batches may take to finish their write and recording before they are cancelled (and redone by the next run)")
}

// loadConfig reads and validates the config; problems are a usage error (exit 2).
func loadConfig(g *globals, reg *connector.Registry) (*config.Config, error) {
	cfg, err := config.Load(g.config, reg)
	if err != nil {
		return nil, usageErr(err)
	}
	return cfg, nil
}

// openStore opens the configured store. On failure the store is a nil
// interface, never an interface holding a nil *Store (whose Close would panic).
func openStore(ctx context.Context, cfg *config.Config, log *slog.Logger) (store.Store, error) {
	switch cfg.Store.Driver {
	case config.DriverPostgres:
		st, err := pgstore.Open(ctx, cfg.Store.DSN, log)
		if err != nil {
			return nil, err
		}
		return st, nil
	default:
		st, err := sqlitestore.Open(ctx, cfg.Store.Path, log)
		if err != nil {
			return nil, err
		}
		return st, nil
	}
}

// openApp loads the config and opens everything a command needs, with the
// default runOptions. Close it.
func openApp(ctx context.Context, g *globals) (*app, error) {
	return openAppWith(ctx, g, defaultRunOptions())
}

// openAppWith is openApp with run options.
func openAppWith(ctx context.Context, g *globals, run runOptions) (*app, error) {
	log, err := g.logger()
	if err != nil {
		return nil, err
	}
	reg := all.Registry(all.Deps{})
	cfg, err := loadConfig(g, reg)
	if err != nil {
		return nil, err
	}
	return wire(ctx, cfg, reg, log, run)
}

// wire opens the store, the systems, the queue and the engine for cfg.
func wire(ctx context.Context, cfg *config.Config, reg *connector.Registry, log *slog.Logger, run runOptions) (_ *app, err error) {
	a := &app{cfg: cfg, log: log, conns: map[string]connector.Connector{}, run: run, tracer: tracing.Off()}
	defer func() {
		if err != nil {
			a.Close(ctx)
		}
	}()
	a.opening("store")
	a.store, err = openStore(ctx, cfg, log)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := a.openSystems(ctx, reg); err != nil {
		return nil, err
	}
	legs := Legs(cfg)
	names := make([]string, len(legs))
	for i, l := range legs {
		names[i] = l.Name
	}
	a.node = nodeName()
	a.queue, err = queue.New(ctx, a.store, queue.Config{
		Node: a.node, Partitions: cfg.Sync.Partitions, Legs: names, MaxAttempts: cfg.Sync.Retry.MaxAttempts, Backoff: cfg.Sync.Retry.Backoff, MaxBackoff: cfg.Sync.Retry.MaxBackoff,
	}, log)
	if err != nil {
		return nil, err
	}
	if run.trace {
		if a.tracer, err = startTracing(ctx, cfg, log); err != nil {
			return nil, err
		}
	}
	a.alerts = a.newAlerts()
	a.metrics = a.newMetrics(legs)
	observers := engine.Observers{logwatch.New(log), a.alerts, a.metrics} // logs, alerts, health, metrics
	if run.tracker != nil {
		observers = append(observers, run.tracker)
	}
	a.eng, err = engine.New(engine.Params{
		Store: a.store, Connectors: a.conns, Legs: legs, ConfigVersion: cfg.Version, Queue: a.queue,
		Retry:     engine.RetryPolicy{MaxAttempts: cfg.Sync.Retry.MaxAttempts, Backoff: cfg.Sync.Retry.Backoff, MaxBackoff: cfg.Sync.Retry.MaxBackoff},
		BatchSize: cfg.Sync.BatchSize, Logger: log, WaitLimit: cfg.Sync.WaitLimit, Observer: observers, Tracer: a.tracer,
		Gate: writeGate(a.store, a.node, cfg),
	})
	if err != nil {
		return nil, usageErr(err)
	}
	a.opening("")
	return a, nil
}

// opening tells the tracker, if any, what is being opened ("" when done).
func (a *app) opening(what string) {
	if a.run.tracker != nil {
		a.run.tracker.Opening(what)
	}
}

// openSystems opens every configured system, retrying one that fails
// transiently (see retryPolicy). A permanent failure names the system's line in
// the config file.
func (a *app) openSystems(ctx context.Context, reg *connector.Registry) error {
	// On PostgreSQL several processes may share the store: they share the
	// external accounts' rate budgets through it. A SQLite store has one node.
	// Commands that open systems without a store (report refresh) keep the
	// budget per process.
	var budgets connector.Budgets
	if a.store != nil && a.store.Dialect() == "postgres" {
		budgets = budget.NewSet(a.store)
	}
	for _, sys := range a.cfg.Systems {
		spec, _ := reg.Lookup(sys.Connector)
		var c connector.Connector
		a.opening("system " + sys.Name)
		err := retry.Do(ctx, a.retryPolicy(ctx, "open", slog.String("system", sys.Name)), func(ctx context.Context) error {
			var err error
			c, err = spec.Open(ctx, connector.OpenParams{System: sys.Name, Settings: sys.Settings, Logger: a.log.With("system", sys.Name), Dir: a.cfg.Dir, Budgets: budgets})
			if err != nil {
				a.opening(fmt.Sprintf("system %s (retrying: %v)", sys.Name, err))
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("%s: open system %s (%s): %w", configAt(a.cfg, sys.Line), sys.Name, sys.Connector, err)
		}
		a.conns[sys.Name] = c
		a.log.InfoContext(ctx, "system opened", "system", sys.Name, "connector", sys.Connector)
	}
	return nil
}

// configAt names a line of the config file as FILE:LINE, the way validate
// reports problems, for messages about a system or a flow.
func configAt(cfg *config.Config, line int) string {
	if line <= 0 {
		return cfg.Path
	}
	return fmt.Sprintf("%s:%d", cfg.Path, line)
}

// retryPolicy is how the commands retry a system that fails transiently:
// exponential backoff from 500 ms to 30 s with jitter, at least as long as the
// system's Retry-After, for run.retryFor (0: no retry) or, with run.forever,
// until it answers or ctx is done, with a warning
// per retry naming the system (attrs) and what was being done (op).
func (a *app) retryPolicy(ctx context.Context, op string, attrs ...any) retry.Policy {
	p := retry.Policy{
		Initial: 500 * time.Millisecond, Max: 30 * time.Second, For: a.run.retryFor,
		Transient: connector.IsTransient, After: connector.RetryAfter,
		Notify: func(attempt int, wait time.Duration, err error) {
			args := append([]any{"op", op, "attempt", attempt, "retry_in", wait.Round(time.Millisecond), "err", err}, attrs...)
			if a.run.forever {
				a.log.WarnContext(ctx, "system down, retrying", args...)
				return
			}
			a.log.WarnContext(ctx, "system failed transiently, retrying", args...)
		},
		Recovered: func(attempts int) {
			a.log.WarnContext(ctx, "system answered again", append([]any{"op", op, "attempts", attempts}, attrs...)...)
		},
	}
	switch {
	case a.run.forever:
		p.For = 0
	case a.run.retryFor <= 0:
		p.Transient = func(error) bool { return false }
	}
	return p
}

// stopQueue stops the queue, giving running batches the grace period to
// finish their write and recording; it works on a cancelled ctx.
func (a *app) stopQueue(ctx context.Context) error {
	if a.queue == nil {
		return nil
	}
	grace := a.run.grace
	if grace <= 0 {
		grace = defaultGrace
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	return a.queue.Stop(sctx)
}

// Close stops the queue (see stopQueue), closes the systems and the store. It
// is safe on a half-opened app.
func (a *app) Close(ctx context.Context) {
	if a.queue != nil {
		_ = a.stopQueue(ctx)
	}
	for name, c := range a.conns {
		if err := c.Close(ctx); err != nil {
			a.log.WarnContext(ctx, "close system", "system", name, "err", err)
		}
	}
	if err := a.tracer.Shutdown(ctx); err != nil {
		a.log.WarnContext(ctx, "tracing: spans not sent", "err", err)
	}
	if a.store != nil {
		_ = a.store.Close()
	}
}

// Legs turns the config's flows into engine legs: one per one-way flow, two per
// two-way flow (the second named "<flow>:reverse"), each carrying only the fields
// its source owns.
func Legs(cfg *config.Config) []engine.Leg {
	var legs []engine.Leg
	for _, f := range cfg.Flows {
		legs = append(legs, leg(cfg, f, f.Name, f.Source, f.Target))
		if f.IsTwoWay() {
			legs = append(legs, leg(cfg, f, f.Name+":reverse", f.Target, f.Source))
		}
	}
	return legs
}

func leg(cfg *config.Config, f config.Flow, name, source, target string) engine.Leg {
	l := engine.Leg{
		Name: name, Flow: f.Name, Source: source, Target: target, Entity: f.Entity,
		Trigger: f.Trigger, Conflict: f.Conflict, Owners: owners(cfg, f.Entity),
		Defs: map[string]model.FieldDef{}, Clean: map[string][]string{}, Required: map[string]bool{},
		Map: f.Map, LinkBy: f.LinkBy, StatusField: f.StatusField, AllowReturns: f.AllowReturns,
		DefaultCountry: f.DefaultCountry,
	}
	if sys, ok := cfg.System(source); ok && l.DefaultCountry == "" {
		l.DefaultCountry = sys.DefaultCountry
	}
	if f.TargetEntity != "" && f.TargetEntity != f.Entity {
		l.TargetEntity, l.TargetOwners = f.TargetEntity, owners(cfg, f.TargetEntity)
	}
	l.Unlinked = f.Unlinked
	if name != f.Name {
		l.Unlinked = f.ReverseUnlinked
	}
	if l.Unlinked == config.UnlinkedMatch {
		l.Match, _ = cfg.MatchRules(f.Entity)
	}
	fields := f.Fields
	if f.IsTwoWay() {
		fields = f.FieldsFrom(source)
	}
	for _, name := range fields {
		l.Fields = append(l.Fields, name)
		l.Defs[name] = cfg.FieldDef(f.Entity, name)
		if fd := cfg.Entities[f.Entity].Fields[name]; fd != nil {
			l.Clean[name] = fd.Clean
			l.Required[name] = fd.Required
		}
	}
	slices.Sort(l.Fields)
	te := f.Entity
	if l.TargetEntity != "" {
		te = l.TargetEntity
	}
	l.Mapping = legMapping(cfg, source, f.Entity, target, te)
	return l
}

// owners maps the declared fields of e to their owners.
func owners(cfg *config.Config, e model.Entity) map[string]string {
	out := map[string]string{}
	if ent, ok := cfg.Entities[e]; ok {
		for name, fd := range ent.Fields {
			out[name] = fd.Owner
		}
	}
	return out
}

// selectLegs returns the legs of flow, or all legs when flow is empty.
func (a *app) selectLegs(flow string) ([]string, error) {
	var out []string
	for _, n := range a.eng.Legs() {
		l, _ := a.eng.Leg(n)
		if flow == "" || l.Flow == flow || l.Name == flow {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return nil, usageErr(errors.New("no flow named " + flow))
	}
	return out, nil
}

// writeGate bounds the batches written into the systems with
// max_concurrency, across every process on the store; nil without any.
func writeGate(st store.Store, node string, cfg *config.Config) engine.Gate {
	limits := map[string]int{}
	for _, sys := range cfg.Systems {
		if sys.MaxConcurrency > 0 {
			limits[sys.Name] = sys.MaxConcurrency
		}
	}
	if len(limits) == 0 {
		return nil
	}
	return gate.New(st, node, limits)
}

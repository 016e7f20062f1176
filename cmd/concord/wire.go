package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/concord-sync/concord/internal/config"
	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/all"
	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/queue"
	"github.com/concord-sync/concord/internal/store"
	"github.com/concord-sync/concord/internal/store/pgstore"
	"github.com/concord-sync/concord/internal/store/sqlitestore"
)

// app is a loaded config with its store, systems, queue and engine.
type app struct {
	cfg   *config.Config
	log   *slog.Logger
	store store.Store
	conns map[string]connector.Connector
	queue *queue.Queue
	eng   *engine.Engine
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

// openApp loads the config and opens everything a command needs. Close it.
func openApp(ctx context.Context, g *globals) (*app, error) {
	log, err := g.logger()
	if err != nil {
		return nil, err
	}
	reg := all.Registry(all.Deps{})
	cfg, err := loadConfig(g, reg)
	if err != nil {
		return nil, err
	}
	return wire(ctx, cfg, reg, log)
}

// wire opens the store, the systems, the queue and the engine for cfg.
func wire(ctx context.Context, cfg *config.Config, reg *connector.Registry, log *slog.Logger) (_ *app, err error) {
	a := &app{cfg: cfg, log: log, conns: map[string]connector.Connector{}}
	defer func() {
		if err != nil {
			a.Close(ctx)
		}
	}()
	a.store, err = openStore(ctx, cfg, log)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	for _, sys := range cfg.Systems {
		spec, _ := reg.Lookup(sys.Connector)
		c, err := spec.Open(ctx, connector.OpenParams{System: sys.Name, Settings: sys.Settings, Logger: log.With("system", sys.Name), Dir: cfg.Dir})
		if err != nil {
			return nil, fmt.Errorf("open system %s (%s): %w", sys.Name, sys.Connector, err)
		}
		a.conns[sys.Name] = c
	}
	legs := Legs(cfg)
	names := make([]string, len(legs))
	for i, l := range legs {
		names[i] = l.Name
	}
	a.queue, err = queue.New(ctx, a.store, queue.Config{
		Legs: names, MaxAttempts: cfg.Sync.Retry.MaxAttempts, Backoff: cfg.Sync.Retry.Backoff, MaxBackoff: cfg.Sync.Retry.MaxBackoff,
	}, log)
	if err != nil {
		return nil, err
	}
	a.eng, err = engine.New(engine.Params{
		Store: a.store, Connectors: a.conns, Legs: legs, ConfigVersion: cfg.Version, Queue: a.queue,
		Retry:     engine.RetryPolicy{MaxAttempts: cfg.Sync.Retry.MaxAttempts, Backoff: cfg.Sync.Retry.Backoff, MaxBackoff: cfg.Sync.Retry.MaxBackoff},
		BatchSize: cfg.Sync.BatchSize, Logger: log,
	})
	if err != nil {
		return nil, usageErr(err)
	}
	return a, nil
}

// Close closes the systems and the store. It is safe on a half-opened app.
func (a *app) Close(ctx context.Context) {
	if a.queue != nil {
		_ = a.queue.Stop(ctx)
	}
	for name, c := range a.conns {
		if err := c.Close(ctx); err != nil {
			a.log.WarnContext(ctx, "close system", "system", name, "err", err)
		}
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
		Map: f.Map, LinkBy: f.LinkBy, StatusField: f.StatusField,
	}
	if f.TargetEntity != "" && f.TargetEntity != f.Entity {
		l.TargetEntity, l.TargetOwners = f.TargetEntity, owners(cfg, f.TargetEntity)
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

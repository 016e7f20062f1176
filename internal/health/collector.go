package health

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/queue"
	"github.com/concord-sync/concord/internal/server"
	"github.com/concord-sync/concord/internal/store"
)

// StoreOps is what the Collector needs of the store: what is open per leg,
// and a real write. store.Store is one.
type StoreOps interface {
	Backlog(ctx context.Context, p *store.BacklogParams) (map[string]store.LegBacklog, error)
	Heartbeat(ctx context.Context, node string, at time.Time) error
}

// LegInfo names one leg of a flow and its systems.
type LegInfo struct {
	Leg, Flow, Source, Target string
}

// SystemInfo names one connected system; Conn may implement connector.Pinger
// (pinged every PingEvery) and RateLimited.
type SystemInfo struct {
	Name, Connector string
	Conn            connector.Connector
}

// RateLimited is implemented by connectors that know how much of their
// system's rate-limit budget they use (HubSpot): a share in [0,1].
type RateLimited interface {
	RateLimitUse() float64
}

// Sources are where the Collector reads the current state. Depth and
// Webhooks may be nil.
type Sources struct {
	Store   StoreOps
	Depth   func(ctx context.Context) (map[string]queue.Depth, error)
	Legs    []LegInfo
	Systems []SystemInfo
	// Webhooks returns the webhook receiver's counters per system.
	Webhooks func() []server.WebhookStats
	// Node names this process in the heartbeat table (host:pid).
	Node string
}

// Config tunes a Collector; zero fields take DefaultConfig's.
type Config struct {
	// Every is how often Run collects a snapshot.
	Every time.Duration
	// PingEvery is how often systems whose connector is a connector.Pinger
	// are pinged.
	PingEvery time.Duration
	// Timeout bounds each store call and ping of a collection.
	Timeout time.Duration
	// Busy is how long a store that only times out (a long write holding
	// SQLite's one connection) is still counted writable after its last
	// successful heartbeat.
	Busy time.Duration
}

// DefaultConfig collects every 2 s, pings every 10 s, gives each call 5 s,
// and counts a busy store writable for 30 s.
func DefaultConfig() Config {
	return Config{Every: 2 * time.Second, PingEvery: 10 * time.Second, Timeout: 5 * time.Second, Busy: 30 * time.Second}
}

// Collector produces Snapshots: the Tracker's memory of what the engine did,
// plus what the store, the queue, the webhook receiver and the systems say
// now. Before Attach it only says what is being opened. It is safe for
// concurrent use.
type Collector struct {
	t   *Tracker
	cfg Config
	log *slog.Logger
	now func() time.Time

	mu  sync.Mutex // guards src, snap, the store's state and lastPing
	src *Sources
	// snap is the latest collected snapshot; zero At before the first.
	snap     Snapshot
	lastBeat time.Time
	lastPing time.Time

	collecting sync.Mutex // one collection at a time
}

// NewCollector returns a collector reading t; nil log discards.
func NewCollector(t *Tracker, cfg Config, log *slog.Logger) *Collector {
	def := DefaultConfig()
	if cfg.Every <= 0 {
		cfg.Every = def.Every
	}
	if cfg.PingEvery <= 0 {
		cfg.PingEvery = def.PingEvery
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = def.Timeout
	}
	if cfg.Busy <= 0 {
		cfg.Busy = def.Busy
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Collector{t: t, cfg: cfg, log: log, now: time.Now}
}

// Attach gives the collector its sources once everything is open; until
// then Snapshot says what is being opened.
func (c *Collector) Attach(src Sources) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.src = &src
}

// Snapshot returns the latest snapshot, collecting one first when none was
// collected yet. It does I/O only then (bounded by Config.Timeout per call).
func (c *Collector) Snapshot(ctx context.Context) Snapshot {
	c.mu.Lock()
	src, snap := c.src, c.snap
	c.mu.Unlock()
	if src == nil {
		return c.opening()
	}
	if !snap.At.IsZero() {
		return snap
	}
	return c.Collect(ctx)
}

// opening is the snapshot before Attach.
func (c *Collector) opening() Snapshot {
	c.t.mu.Lock()
	what := c.t.opening
	c.t.mu.Unlock()
	if what == "" {
		what = "starting"
	} else {
		what = "opening " + what
	}
	return Snapshot{At: c.now(), Ready: false, Reasons: []string{what}, Systems: []System{}, Flows: []Flow{}}
}

// Run collects a snapshot every Config.Every until ctx is done.
func (c *Collector) Run(ctx context.Context) {
	t := time.NewTicker(c.cfg.Every)
	defer t.Stop()
	for {
		c.Collect(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Collect reads the current state now (a heartbeat written to the store,
// the open counts, the queue depth, pings when due) and returns the
// snapshot, which later Snapshot calls return until the next collection.
// Before Attach it returns the opening snapshot.
func (c *Collector) Collect(ctx context.Context) Snapshot {
	c.collecting.Lock()
	defer c.collecting.Unlock()
	c.mu.Lock()
	src := c.src
	c.mu.Unlock()
	if src == nil {
		return c.opening()
	}
	now := c.now()
	snap := Snapshot{At: now, Systems: []System{}, Flows: []Flow{}}

	snap.Store = c.checkStore(ctx, src, now)
	if c.pingDue(now) {
		c.ping(ctx, src)
	}
	backlog, berr := c.backlog(ctx, src)
	depth, derr := c.depth(ctx, src)
	var hooks map[string]server.WebhookStats
	if src.Webhooks != nil {
		hooks = map[string]server.WebhookStats{}
		for _, w := range src.Webhooks() {
			hooks[w.System] = w
		}
	}

	c.t.mu.Lock()
	for _, si := range src.Systems {
		s := c.t.system(si.Name)
		sys := System{Name: si.Name, Connector: si.Connector, Reachable: true, LastOK: s.lastOK, ErrorStreak: s.streak, RateLimitUse: -1}
		if s.streak > 0 {
			sys.LastError = s.lastError
		}
		switch {
		case s.pinged && !s.pingOK:
			// The last ping failed: unreachable until a call succeeds.
			sys.Reachable = s.lastOK.After(s.pingAt)
		case s.pinged && now.Sub(s.pingAt) < 3*c.cfg.PingEvery:
			// It answers pings: a poll that fails is the flow's problem (a
			// table renamed), not the system's.
		default:
			// Without a recent ping, a system whose every poll fails is
			// unreachable.
			reading, failing := 0, 0
			for _, li := range src.Legs {
				if li.Source == si.Name {
					reading++
					if c.t.leg(li.Leg).pollErrs > 0 {
						failing++
					}
				}
			}
			sys.Reachable = reading == 0 || failing < reading
		}
		if rl, ok := si.Conn.(RateLimited); ok {
			sys.RateLimitUse = rl.RateLimitUse()
		}
		if w, ok := hooks[si.Name]; ok {
			sys.WebhookRefusals = w.Forged + w.Stale + w.Malformed
		}
		snap.Systems = append(snap.Systems, sys)
	}
	for _, li := range src.Legs {
		l := c.t.leg(li.Leg)
		b, d := backlog[li.Leg], depth[li.Leg]
		if l.batchErrs > 0 && berr == nil && derr == nil && b.DeadLetters == 0 && d.Batches == 0 {
			// Nothing is left of the failed batches, neither queued nor
			// dead-lettered: another node (or a deadletter retry) applied them.
			l.batchErrs = 0
		}
		f := Flow{Flow: li.Flow, Leg: li.Leg, Source: li.Source, Target: li.Target,
			LastPoll: l.lastPoll, LastPollOK: l.lastPollOK, LastApplied: l.lastApplied,
			ErrorStreak: l.pollErrs + l.batchErrs, Read: l.read, Applied: l.applied, Failed: l.failed,
			Failing: l.pollErrs > 0 || l.batchErrs > 0, Lag: l.behind}
		if f.Failing {
			f.LastError = l.lastError
		}
		f.DeadLetters, f.Quarantine, f.Waiting, f.PendingReviews, f.OldestReview = b.DeadLetters, b.Quarantine, b.Waiting, b.PendingReviews, b.OldestReview
		f.QueueDepth = d.Records
		// Lag: the oldest change read and not applied, queued or waiting.
		oldest := d.Oldest
		if !b.OldestWait.IsZero() && (oldest.IsZero() || b.OldestWait.Before(oldest)) {
			oldest = b.OldestWait
		}
		if !oldest.IsZero() {
			f.Lag = max(0, now.Sub(oldest))
		}
		snap.Flows = append(snap.Flows, f)
	}
	c.t.mu.Unlock()

	// Ready, and why not: one sentence each.
	if !snap.Store.Writable {
		snap.Reasons = append(snap.Reasons, "store is not writable: "+snap.Store.LastError)
	}
	if berr != nil {
		snap.Reasons = append(snap.Reasons, "store cannot be read: "+berr.Error())
	}
	if derr != nil {
		snap.Reasons = append(snap.Reasons, "queue cannot be read: "+derr.Error())
	}
	for _, s := range snap.Systems {
		if !s.Reachable {
			snap.Reasons = append(snap.Reasons, "system "+s.Name+" is unreachable: "+s.LastError)
		}
	}
	for _, f := range snap.Flows {
		if f.Failing {
			snap.Reasons = append(snap.Reasons, "flow "+f.Leg+" is failing: "+f.LastError)
		}
	}
	snap.Ready = len(snap.Reasons) == 0

	c.mu.Lock()
	c.snap = snap
	c.mu.Unlock()
	return snap
}

// checkStore writes the heartbeat. A store that only times out is counted
// writable for Config.Busy after its last heartbeat: a long write may hold
// SQLite's one connection.
func (c *Collector) checkStore(ctx context.Context, src *Sources, now time.Time) Store {
	tctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	err := src.Store.Heartbeat(tctx, src.Node, now)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil {
		c.lastBeat = now
		return Store{Writable: true, CheckedAt: now}
	}
	if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) && now.Sub(c.lastBeat) < c.cfg.Busy {
		return Store{Writable: true, CheckedAt: c.lastBeat}
	}
	return Store{Writable: false, CheckedAt: now, LastError: err.Error()}
}

func (c *Collector) backlog(ctx context.Context, src *Sources) (map[string]store.LegBacklog, error) {
	tctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	b, err := src.Store.Backlog(tctx, nil)
	if err != nil {
		return nil, fmt.Errorf("count open dead letters, quarantine, waits and reviews: %w", err)
	}
	return b, nil
}

func (c *Collector) depth(ctx context.Context, src *Sources) (map[string]queue.Depth, error) {
	if src.Depth == nil {
		return nil, nil
	}
	tctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	return src.Depth(tctx)
}

func (c *Collector) pingDue(now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.Sub(c.lastPing) < c.cfg.PingEvery {
		return false
	}
	c.lastPing = now
	return true
}

// ping pings every Pinger system at once, each bounded by Config.Timeout.
func (c *Collector) ping(ctx context.Context, src *Sources) {
	var wg sync.WaitGroup
	for _, si := range src.Systems {
		p, ok := si.Conn.(connector.Pinger)
		if !ok {
			continue
		}
		wg.Go(func() {
			tctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
			defer cancel()
			err := p.Ping(tctx)
			if ctx.Err() != nil {
				return // stopping: no verdict
			}
			if err != nil {
				err = fmt.Errorf("ping: %w", err)
			}
			c.t.Pinged(si.Name, c.now(), err)
		})
	}
	wg.Wait()
}

package lease

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/concord-sync/concord/internal/store"
)

// Store is what leases need from the store; store.Store is one.
type Store interface {
	AcquireLease(ctx context.Context, p *store.LeaseParams) (bool, error)
	ReleaseLease(ctx context.Context, p *store.LeaseParams) error
}

// Defaults of Config.
const (
	DefaultTTL   = 15 * time.Second
	DefaultRenew = 5 * time.Second
)

// Config configures Leases.
type Config struct {
	// Node names this process in the store's leases; required.
	Node string
	// TTL is how long a lease lasts after each renewal. Default 15 s.
	TTL time.Duration
	// Renew is how often a held lease is renewed and a free one is tried.
	// Default 5 s; it must be under TTL/2.
	Renew time.Duration
	// Logger receives "lease taken" (debug) and "lease lost" (warning);
	// discarded when nil.
	Logger *slog.Logger
}

// Leases runs work under leases for one node. It is safe for concurrent use.
type Leases struct {
	st  Store
	cfg Config
	log *slog.Logger

	mu   sync.Mutex
	held map[string]time.Time // when each lease held now was taken
}

// New returns Leases for cfg on st; it takes nothing yet. It panics without
// cfg.Node, or with a Renew not under TTL/2.
func New(st Store, cfg Config) *Leases {
	if cfg.Node == "" {
		panic("lease: Config.Node is required")
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Renew <= 0 {
		cfg.Renew = min(DefaultRenew, cfg.TTL/3)
	}
	if cfg.Renew*2 >= cfg.TTL {
		panic("lease: Config.Renew must be under TTL/2")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Leases{st: st, cfg: cfg, log: log, held: map[string]time.Time{}}
}

// Node returns the node's name in the leases.
func (l *Leases) Node() string { return l.cfg.Node }

// Config returns the configuration in force, defaults applied.
func (l *Leases) Config() Config { return l.cfg }

// Held reports whether this node holds the lease name now.
func (l *Leases) Held(name string) bool {
	_, ok := l.HeldSince(name)
	return ok
}

// HeldSince returns since when this node holds the lease name, and whether
// it does.
func (l *Leases) HeldSince(name string) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	since, ok := l.held[name]
	return since, ok
}

func (l *Leases) setHeld(name string, v bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if v {
		l.held[name] = time.Now()
	} else {
		delete(l.held, name)
	}
}

// Run does fn under the lease name until ctx ends: it tries the lease every
// Renew (with jitter); once held, it runs fn with a context that is cancelled
// when the lease is lost (another node took it, or it could not be renewed
// for TTL - Renew) or ctx ends, renews the lease meanwhile, and when fn has
// returned tries again. When fn returns by itself while the lease is held,
// Run releases it and returns: the work is done. On the way out Run releases
// the lease, so that another node takes it at once.
func (l *Leases) Run(ctx context.Context, name string, fn func(ctx context.Context)) {
	p := &store.LeaseParams{Name: name, Holder: l.cfg.Node, TTL: l.cfg.TTL}
	for {
		ok, err := l.st.AcquireLease(ctx, p)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			l.log.WarnContext(ctx, "lease not taken: store unavailable", "lease", name, "err", err)
		case ok:
			if done := l.hold(ctx, p, fn); done {
				return
			}
			continue // lost: try again at once (another node most likely has it)
		}
		if !sleep(ctx, jitter(l.cfg.Renew)) {
			return
		}
	}
}

// hold runs fn while p is held; done is true when fn returned by itself or
// ctx ended.
func (l *Leases) hold(ctx context.Context, p *store.LeaseParams, fn func(ctx context.Context)) (done bool) {
	l.setHeld(p.Name, true)
	defer l.setHeld(p.Name, false)
	l.log.DebugContext(ctx, "lease taken", "lease", p.Name, "node", p.Holder)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		fn(wctx)
	}()
	release := func() {
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer rcancel()
		if err := l.st.ReleaseLease(rctx, p); err != nil {
			l.log.WarnContext(ctx, "lease not released; it expires by itself", "lease", p.Name, "err", err)
		}
	}
	renewed := time.Now()
	t := time.NewTicker(l.cfg.Renew)
	defer t.Stop()
	for {
		select {
		case <-finished:
			release()
			return true
		case <-ctx.Done():
			cancel()
			<-finished
			release()
			return true
		case <-t.C:
		}
		ok, err := l.st.AcquireLease(ctx, p)
		switch {
		case ctx.Err() != nil:
			continue // the next select sees it
		case err == nil && ok:
			renewed = time.Now()
			continue
		case err == nil:
			l.log.WarnContext(ctx, "lease lost: another node holds it", "lease", p.Name, "node", p.Holder)
		case time.Since(renewed) < l.cfg.TTL-l.cfg.Renew:
			l.log.WarnContext(ctx, "lease not renewed: store unavailable", "lease", p.Name, "err", err)
			continue
		default:
			// Stop before the lease can expire and another node take it.
			l.log.WarnContext(ctx, "lease lost: not renewed in time", "lease", p.Name, "node", p.Holder, "err", err)
		}
		cancel()
		<-finished
		return ctx.Err() != nil
	}
}

// jitter returns d ±20%.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

package lease_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/lease"
	"github.com/concord-sync/concord/internal/store"
	"github.com/concord-sync/concord/internal/store/pgstore"
	"github.com/concord-sync/concord/internal/store/sqlitestore"
	"github.com/concord-sync/concord/internal/store/storetest"
)

// stores opens each store kind the leases run on: SQLite (one node, the
// leases are always its own) and PostgreSQL (several nodes).
func stores(t *testing.T) map[string]func(t *testing.T) store.Store {
	return map[string]func(t *testing.T) store.Store{
		"sqlite": func(t *testing.T) store.Store {
			s, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "concord.db"), storetest.Logger(t))
			require.NoError(t, err)
			t.Cleanup(func() { _ = s.Close() })
			return s
		},
		"postgres": func(t *testing.T) store.Store {
			dsn := storetest.PostgresSchema(t, storetest.PostgresURL(t))
			s, err := pgstore.Open(t.Context(), dsn, storetest.Logger(t))
			require.NoError(t, err)
			t.Cleanup(func() { _ = s.Close() })
			return s
		},
	}
}

// flaky is a store whose lease calls fail while down is set: a node cut off
// from the store.
type flaky struct {
	lease.Store
	down atomic.Bool
}

func (f *flaky) AcquireLease(ctx context.Context, p *store.LeaseParams) (bool, error) {
	if f.down.Load() {
		return false, errors.New("connection refused")
	}
	return f.Store.AcquireLease(ctx, p)
}

func (f *flaky) ReleaseLease(ctx context.Context, p *store.LeaseParams) error {
	if f.down.Load() {
		return errors.New("connection refused")
	}
	return f.Store.ReleaseLease(ctx, p)
}

// worker counts how many nodes run the leased work at once and which ran it.
type worker struct {
	mu      sync.Mutex
	running map[string]bool
	most    int
	ran     map[string]int
}

func newWorker() *worker { return &worker{running: map[string]bool{}, ran: map[string]int{}} }

func (w *worker) fn(node string) func(ctx context.Context) {
	return func(ctx context.Context) {
		w.mu.Lock()
		w.running[node] = true
		w.most = max(w.most, len(w.running))
		w.ran[node]++
		w.mu.Unlock()
		<-ctx.Done()
		w.mu.Lock()
		delete(w.running, node)
		w.mu.Unlock()
	}
}

func (w *worker) holder() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	for n := range w.running {
		return n
	}
	return ""
}

func TestLeases_Run(t *testing.T) {
	t.Parallel()
	cfg := func(node string) lease.Config {
		return lease.Config{Node: node, TTL: 600 * time.Millisecond, Renew: 100 * time.Millisecond}
	}
	for kind, open := range stores(t) {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			t.Run("OneAtATime", func(t *testing.T) {
				t.Parallel()
				st := open(t)
				w := newWorker()
				ctxs := map[string]context.CancelFunc{}
				var wg sync.WaitGroup
				for _, node := range []string{"a", "b", "c"} {
					ctx, cancel := context.WithCancel(t.Context())
					ctxs[node] = cancel
					l := lease.New(st, cfg(node))
					wg.Go(func() { l.Run(ctx, "poll:customers", w.fn(node)) })
				}
				require.Eventually(t, func() bool { return w.holder() != "" }, 5*time.Second, 10*time.Millisecond)
				// Stop the holder twice over: a stopping node releases its
				// lease, and another takes it at its next try.
				for range 2 {
					first := w.holder()
					stopped := time.Now()
					ctxs[first]()
					require.Eventually(t, func() bool { h := w.holder(); return h != "" && h != first }, 5*time.Second, 10*time.Millisecond)
					require.Less(t, time.Since(stopped), 3*time.Second, "a released lease is taken at the next try (100 ms; generous for a loaded machine), not after its TTL")
				}
				for _, cancel := range ctxs {
					cancel()
				}
				wg.Wait()
				require.Equal(t, 1, w.most, "never two nodes under one lease")
				require.Len(t, w.ran, 3, "each node held it in turn")
			})

			t.Run("DeadNode", func(t *testing.T) {
				t.Parallel()
				st := open(t)
				w := newWorker()
				cut := &flaky{Store: st}
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				la := lease.New(cut, cfg("a"))
				var wg sync.WaitGroup
				wg.Go(func() { la.Run(ctx, "tick", w.fn("a")) })
				require.Eventually(t, func() bool { return w.holder() == "a" }, 5*time.Second, 10*time.Millisecond)
				require.True(t, la.Held("tick"))
				lb := lease.New(st, cfg("b"))
				wg.Go(func() { lb.Run(ctx, "tick", w.fn("b")) })

				// a loses the store: it stops before its lease expires, and b
				// takes over once it has, within TTL + Renew.
				cutAt := time.Now()
				cut.down.Store(true)
				require.Eventually(t, func() bool { return w.holder() == "b" }, 5*time.Second, 10*time.Millisecond)
				took := time.Since(cutAt)
				require.GreaterOrEqual(t, took, 500*time.Millisecond, "b waited for a's lease to expire")
				require.Less(t, took, 3*time.Second, "b took over within about TTL + Renew (600 + 100 ms; generous for a loaded machine)")
				require.False(t, la.Held("tick"))
				cancel()
				wg.Wait()
				require.Equal(t, 1, w.most, "a stopped before b started")
			})

			t.Run("DoneReleases", func(t *testing.T) {
				t.Parallel()
				st := open(t)
				l := lease.New(st, cfg("a"))
				ran := false
				l.Run(t.Context(), "reconcile", func(context.Context) { ran = true })
				require.True(t, ran)
				ok, err := st.AcquireLease(t.Context(), &store.LeaseParams{Name: "reconcile", Holder: "b", TTL: time.Minute})
				require.NoError(t, err)
				require.True(t, ok, "work done by itself releases the lease")
			})
		})
	}
}

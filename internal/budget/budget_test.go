package budget_test

import (
	"context"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/budget"
	"github.com/concord-sync/concord/internal/store"
	"github.com/concord-sync/concord/internal/store/pgstore"
	"github.com/concord-sync/concord/internal/store/sqlitestore"
	"github.com/concord-sync/concord/internal/store/storetest"
)

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

// maxInWindow returns the most times in any window of length w.
func maxInWindow(ts []time.Time, w time.Duration) int {
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	most, i := 0, 0
	for j := range ts {
		for ts[j].Sub(ts[i]) >= w {
			i++
		}
		most = max(most, j-i+1)
	}
	return most
}

func TestBudget_Take(t *testing.T) {
	t.Parallel()
	for kind, open := range stores(t) {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			t.Run("SharedByNodes", func(t *testing.T) {
				t.Parallel()
				st := open(t)
				const limit, interval = 40, time.Second
				// Three nodes (three Budgets on one store), each with callers
				// that want more than the budget.
				var mu sync.Mutex
				var sent []time.Time
				ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
				defer cancel()
				var wg sync.WaitGroup
				for range 3 {
					b := budget.New(st, "hubspot:portal", limit, interval)
					for c := range 4 {
						wg.Go(func() {
							for b.Take(ctx, c == 0) == nil {
								mu.Lock()
								sent = append(sent, time.Now())
								mu.Unlock()
							}
						})
					}
				}
				wg.Wait()
				require.LessOrEqual(t, maxInWindow(sent, interval), limit, "never more than the budget in any window, all nodes together")
				require.Greater(t, len(sent), limit, "the budget refills: more than one window's worth in three")
			})

			t.Run("LiveBeforeBackfill", func(t *testing.T) {
				t.Parallel()
				st := open(t)
				// 100 per ~3 h: a bucket of 10 that does not refill during
				// the test; a backfill leaves 5 of them to live work.
				b := budget.New(st, "hubspot:portal", 100, 10000*time.Second)
				other := budget.New(st, "hubspot:portal", 100, 10000*time.Second) // another node
				take := func(b *budget.Budget, live bool) int {
					n := 0
					for {
						// Long enough for a loaded store to answer; no token
						// comes back in that time.
						ctx, cancel := context.WithTimeout(t.Context(), time.Second)
						err := b.Take(ctx, live)
						cancel()
						if err != nil {
							require.ErrorIs(t, err, context.DeadlineExceeded)
							return n
						}
						n++
					}
				}
				require.Equal(t, 5, take(b, false), "a backfill stops at the floor")
				require.Equal(t, 0, take(other, false), "on every node")
				require.Equal(t, 5, take(other, true), "live work takes the reserve")
				require.Equal(t, 0, take(b, true), "and then the bucket is empty")
			})
		})
	}
}

package gate_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/gate"
	"github.com/concord-sync/concord/internal/store"
	"github.com/concord-sync/concord/internal/store/pgstore"
	"github.com/concord-sync/concord/internal/store/sqlitestore"
	"github.com/concord-sync/concord/internal/store/storetest"
)

func stores(t *testing.T) map[string]store.Store {
	t.Helper()
	sq, err := sqlitestore.Open(t.Context(), t.TempDir()+"/concord.db", nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sq.Close() })
	pg, err := pgstore.Open(t.Context(), storetest.PostgresSchema(t, storetest.PostgresURL(t)), storetest.Logger(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = pg.Close() })
	return map[string]store.Store{"sqlite": sq, "postgres": pg}
}

// TestGate_Bound: three nodes (gates on one store), twelve writers at once
// on a system bounded to two: never more than two inside, all get in, a
// slot given back is taken at once, other systems are not bounded.
func TestGate_Bound(t *testing.T) {
	t.Parallel()
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			nodes := []*gate.Gate{
				gate.New(st, "a", map[string]int{"erp": 2}),
				gate.New(st, "b", map[string]int{"erp": 2}),
				gate.New(st, "c", map[string]int{"erp": 2}),
			}
			for _, g := range nodes {
				g.Poll = 20 * time.Millisecond
			}
			var inside, most, done atomic.Int64
			var wg sync.WaitGroup
			for i := range 12 {
				wg.Go(func() {
					leave, err := nodes[i%3].Enter(ctx, "erp")
					require.NoError(t, err)
					n := inside.Add(1)
					for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
					}
					time.Sleep(30 * time.Millisecond)
					inside.Add(-1)
					leave()
					leave() // twice is harmless
					done.Add(1)
				})
			}
			wg.Wait()
			require.Equal(t, int64(12), done.Load())
			require.Equal(t, int64(2), most.Load(), "two at once, never more")

			// A system without a bound: no wait, no store.
			leave, err := nodes[0].Enter(ctx, "crm")
			require.NoError(t, err)
			leave()

			// Both slots held: a third caller waits until ctx ends.
			l1, err := nodes[0].Enter(ctx, "erp")
			require.NoError(t, err)
			l2, err := nodes[1].Enter(ctx, "erp")
			require.NoError(t, err)
			short, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
			defer cancel()
			_, err = nodes[2].Enter(short, "erp")
			require.ErrorIs(t, err, context.DeadlineExceeded)
			// Given back, a slot is free at once, not after its TTL.
			l1()
			start := time.Now()
			l3, err := nodes[2].Enter(ctx, "erp")
			require.NoError(t, err)
			require.Less(t, time.Since(start), 2*time.Second)
			l2()
			l3()
		})
	}
}

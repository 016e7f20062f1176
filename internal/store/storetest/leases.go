package storetest

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/store"
)

func exerciseLeases(t *testing.T, setup setupFunc) {
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		a := &store.LeaseParams{Name: "poll:customers", Holder: "node-a", TTL: time.Minute}
		b := &store.LeaseParams{Name: "poll:customers", Holder: "node-b", TTL: time.Minute}

		ok, err := s.AcquireLease(ctx, a)
		require.NoError(t, err)
		require.True(t, ok, "a free lease is taken")
		ok, err = s.AcquireLease(ctx, b)
		require.NoError(t, err)
		require.False(t, ok, "a lease held by another node is not taken")
		leases, err := s.Leases(ctx)
		require.NoError(t, err)
		require.Len(t, leases, 1)
		first := leases[0]
		require.Equal(t, "node-a", first.Holder)
		require.False(t, first.Expired)
		require.WithinDuration(t, first.AcquiredAt.Add(time.Minute), first.ExpiresAt, 5*time.Second)

		ok, err = s.AcquireLease(ctx, a)
		require.NoError(t, err)
		require.True(t, ok, "the holder renews")
		leases, err = s.Leases(ctx)
		require.NoError(t, err)
		require.Equal(t, first.AcquiredAt, leases[0].AcquiredAt, "a renewal keeps the time it was taken")
		require.False(t, leases[0].ExpiresAt.Before(first.ExpiresAt), "a renewal moves the expiry on")

		require.NoError(t, s.ReleaseLease(ctx, b), "releasing a lease another node holds does nothing")
		ok, err = s.AcquireLease(ctx, b)
		require.NoError(t, err)
		require.False(t, ok)
		require.NoError(t, s.ReleaseLease(ctx, a))
		ok, err = s.AcquireLease(ctx, b)
		require.NoError(t, err)
		require.True(t, ok, "a released lease is free at once")

		other := &store.LeaseParams{Name: "tick", Holder: "node-a", TTL: time.Minute}
		ok, err = s.AcquireLease(ctx, other)
		require.NoError(t, err)
		require.True(t, ok, "leases are independent by name")
	})

	t.Run("Expiry", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		a := &store.LeaseParams{Name: "tick", Holder: "node-a", TTL: 100 * time.Millisecond}
		b := &store.LeaseParams{Name: "tick", Holder: "node-b", TTL: time.Minute}
		ok, err := s.AcquireLease(ctx, a)
		require.NoError(t, err)
		require.True(t, ok)
		require.Eventually(t, func() bool {
			ok, err := s.AcquireLease(ctx, b)
			require.NoError(t, err)
			return ok
		}, 5*time.Second, 20*time.Millisecond, "an expired lease is taken by another node")
		leases, err := s.Leases(ctx)
		require.NoError(t, err)
		require.Equal(t, "node-b", leases[0].Holder)
		ok, err = s.AcquireLease(ctx, a)
		require.NoError(t, err)
		require.False(t, ok, "the node whose lease expired does not get it back")
	})

	t.Run("Concurrent", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		var won atomic.Int32
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				ok, err := s.AcquireLease(ctx, &store.LeaseParams{Name: "poll:orders", Holder: string(rune('a' + i)), TTL: time.Minute})
				if err == nil && ok {
					won.Add(1)
				}
			})
		}
		wg.Wait()
		require.Equal(t, int32(1), won.Load(), "exactly one of the nodes asking at once gets the lease")
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		_, err := s.AcquireLease(ctx, &store.LeaseParams{Name: "tick", Holder: "a"})
		require.Error(t, err)
	})
}

func exerciseTokens(t *testing.T, setup setupFunc) {
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		p := func(want, floor int) *store.TakeTokensParams {
			return &store.TakeTokensParams{Bucket: "hubspot:abc", Want: want, Capacity: 10, Rate: 0.001, Floor: floor}
		}
		g, err := s.TakeTokens(ctx, p(4, 0))
		require.NoError(t, err)
		require.Equal(t, 4, g.Granted, "a new bucket starts full")
		g, err = s.TakeTokens(ctx, p(10, 3))
		require.NoError(t, err)
		require.Equal(t, 3, g.Granted, "a backfill leaves the floor in the bucket")
		g, err = s.TakeTokens(ctx, p(1, 3))
		require.NoError(t, err)
		require.Zero(t, g.Granted)
		require.Greater(t, g.Wait, time.Duration(0), "nothing granted: how long until a token")
		g, err = s.TakeTokens(ctx, p(10, 0))
		require.NoError(t, err)
		require.Equal(t, 3, g.Granted, "live work takes the reserve")
		g, err = s.TakeTokens(ctx, p(1, 0))
		require.NoError(t, err)
		require.Zero(t, g.Granted, "the bucket is empty")
		require.InDelta(t, 1000*time.Second, g.Wait, float64(10*time.Second), "one token at 0.001/s")
	})

	t.Run("Refill", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		p := &store.TakeTokensParams{Bucket: "b", Want: 5, Capacity: 5, Rate: 100}
		g, err := s.TakeTokens(ctx, p)
		require.NoError(t, err)
		require.Equal(t, 5, g.Granted)
		time.Sleep(60 * time.Millisecond) // 6 tokens' worth at 100/s, capped at 5
		g, err = s.TakeTokens(ctx, &store.TakeTokensParams{Bucket: "b", Want: 50, Capacity: 5, Rate: 100})
		require.NoError(t, err)
		require.GreaterOrEqual(t, g.Granted, 3)
		require.LessOrEqual(t, g.Granted, 5, "the refill stops at the capacity")
	})

	t.Run("Concurrent", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		var granted atomic.Int64
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() {
				for range 5 {
					g, err := s.TakeTokens(ctx, &store.TakeTokensParams{Bucket: "shared", Want: 3, Capacity: 20, Rate: 0.0001})
					if err != nil {
						t.Error(err)
						return
					}
					granted.Add(int64(g.Granted))
				}
			})
		}
		wg.Wait()
		require.Equal(t, int64(20), granted.Load(), "callers at once never share a token: exactly the capacity is granted")
	})
}

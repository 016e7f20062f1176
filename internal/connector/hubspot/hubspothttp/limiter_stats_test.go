package hubspothttp_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector/hubspot/hubspothttp"
)

func TestLimiter_Stats(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		const budget, interval = 10, 200 * time.Millisecond
		l := hubspothttp.NewLimiter(budget, interval)
		acquire := func(n int) {
			for range n {
				release, err := l.Acquire(context.Background(), hubspothttp.Live)
				require.NoError(t, err)
				release(nil)
			}
		}
		acquire(5) // well within budget: granted at once
		st := l.Stats()
		require.Equal(t, budget, st.Budget)
		require.Equal(t, 5, st.InUse, "released within the interval still count")
		require.Zero(t, st.Waits)
		require.Zero(t, st.Waited)

		began := time.Now()
		acquire(budget - 5 + 1) // the last one finds the budget spent and waits
		took := time.Since(began)
		st = l.Stats()
		require.GreaterOrEqual(t, st.Waits, int64(1))
		require.Greater(t, st.Waited, interval/2, "the request over budget waited for the window")
		require.LessOrEqual(t, st.Waited, took)
	})

	t.Run("CancelledWaitCounts", func(t *testing.T) {
		t.Parallel()
		l := hubspothttp.NewLimiter(1, time.Hour)
		hold, err := l.Acquire(context.Background(), hubspothttp.Live)
		require.NoError(t, err)
		defer hold(nil)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err = l.Acquire(ctx, hubspothttp.Live)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		st := l.Stats()
		require.Equal(t, int64(1), st.Waits)
		require.GreaterOrEqual(t, st.Waited, 40*time.Millisecond)
		require.Equal(t, 1, st.InUse)
	})
}

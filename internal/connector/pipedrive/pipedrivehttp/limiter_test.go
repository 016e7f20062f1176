package pipedrivehttp

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLimiter_Acquire(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		l := NewLimiter(3, 300*time.Millisecond)
		for range 3 {
			release, err := l.Acquire(ctx)
			require.NoError(t, err)
			release(nil)
		}
		require.InDelta(t, 1.0, l.Use(), 0.001, "the window is full")
		start := time.Now()
		release, err := l.Acquire(ctx)
		require.NoError(t, err)
		release(nil)
		require.GreaterOrEqual(t, time.Since(start), 250*time.Millisecond, "the fourth waits for the window")
		waits, _ := l.Waits()
		require.EqualValues(t, 1, waits)
	})
	t.Run("ServerHeaders", func(t *testing.T) {
		t.Parallel()
		l := NewLimiter(100, time.Minute)
		release, err := l.Acquire(ctx)
		require.NoError(t, err)
		// The server allows 10 and has 2 left: another client spent 7.
		release(http.Header{"X-Ratelimit-Limit": {"10"}, "X-Ratelimit-Remaining": {"2"}})
		for range 2 {
			r, err := l.Acquire(ctx)
			require.NoError(t, err)
			r(nil)
		}
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		_, err = l.Acquire(short)
		require.ErrorIs(t, err, context.DeadlineExceeded, "the budget the server reported is spent")
	})
	t.Run("Pause", func(t *testing.T) {
		t.Parallel()
		l := NewLimiter(100, time.Second)
		l.Pause(200 * time.Millisecond)
		start := time.Now()
		release, err := l.Acquire(ctx)
		require.NoError(t, err)
		release(nil)
		require.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond, "a Retry-After holds every caller")
	})
}

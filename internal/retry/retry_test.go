package retry_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/retry"
)

var (
	errBusy    = errors.New("busy")
	errRefused = errors.New("refused")
)

func policy(notes *[]int) retry.Policy {
	return retry.Policy{
		Initial:   time.Millisecond,
		Max:       4 * time.Millisecond,
		Transient: func(err error) bool { return errors.Is(err, errBusy) },
		Notify:    func(attempt int, _ time.Duration, _ error) { *notes = append(*notes, attempt) },
	}
}

func TestDo(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		var notes []int
		calls, recovered := 0, 0
		p := policy(&notes)
		p.Recovered = func(attempts int) { recovered = attempts }
		err := retry.Do(context.Background(), p, func(context.Context) error {
			calls++
			if calls < 4 {
				return errBusy
			}
			return nil
		})
		require.NoError(t, err)
		require.Equal(t, 4, calls)
		require.Equal(t, []int{1, 2, 3}, notes, "one notice per retry")
		require.Equal(t, 4, recovered)
	})

	t.Run("ErrPermanentStopsAtOnce", func(t *testing.T) {
		t.Parallel()
		var notes []int
		calls := 0
		err := retry.Do(context.Background(), policy(&notes), func(context.Context) error {
			calls++
			return errRefused
		})
		require.ErrorIs(t, err, errRefused)
		require.Equal(t, 1, calls)
		require.Empty(t, notes)
	})

	t.Run("ErrGaveUp", func(t *testing.T) {
		t.Parallel()
		var notes []int
		p := policy(&notes)
		p.For = 30 * time.Millisecond
		start := time.Now()
		err := retry.Do(context.Background(), p, func(context.Context) error { return errBusy })
		var gu *retry.GaveUpError
		require.ErrorAs(t, err, &gu)
		require.ErrorIs(t, err, errBusy)
		require.Greater(t, gu.Attempts, 2)
		require.Less(t, time.Since(start), time.Second)
	})

	t.Run("HonoursRetryAfter", func(t *testing.T) {
		t.Parallel()
		var notes []int
		p := policy(&notes)
		var waits []time.Duration
		p.After = func(error) time.Duration { return 120 * time.Millisecond }
		p.Notify = func(_ int, wait time.Duration, _ error) { waits = append(waits, wait) }
		calls := 0
		start := time.Now()
		err := retry.Do(context.Background(), p, func(context.Context) error {
			calls++
			if calls == 1 {
				return errBusy
			}
			return nil
		})
		require.NoError(t, err)
		require.Equal(t, []time.Duration{120 * time.Millisecond}, waits)
		require.GreaterOrEqual(t, time.Since(start), 120*time.Millisecond)
	})

	t.Run("BackoffGrowsToMax", func(t *testing.T) {
		t.Parallel()
		var waits []time.Duration
		p := retry.Policy{Initial: 8 * time.Millisecond, Max: 32 * time.Millisecond,
			Transient: func(error) bool { return true },
			Notify:    func(_ int, wait time.Duration, _ error) { waits = append(waits, wait) }}
		calls := 0
		require.NoError(t, retry.Do(context.Background(), p, func(context.Context) error {
			calls++
			if calls <= 5 {
				return errBusy
			}
			return nil
		}))
		require.Len(t, waits, 5)
		for i, want := range []time.Duration{8, 16, 32, 32, 32} {
			want *= time.Millisecond
			require.GreaterOrEqual(t, waits[i], want/2, "wait %d", i)
			require.LessOrEqual(t, waits[i], want, "wait %d", i)
		}
	})

	t.Run("ErrCancelled", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		p := retry.Policy{Initial: time.Hour, Transient: func(error) bool { return true }}
		p.Notify = func(int, time.Duration, error) { cancel() }
		err := retry.Do(ctx, p, func(context.Context) error { return errBusy })
		require.ErrorIs(t, err, context.Canceled)
		require.ErrorIs(t, err, errBusy)
	})
}

func TestJitter(t *testing.T) {
	t.Parallel()
	for range 200 {
		d := retry.Jitter(100 * time.Millisecond)
		require.GreaterOrEqual(t, d, 50*time.Millisecond)
		require.LessOrEqual(t, d, 100*time.Millisecond)
	}
	require.Equal(t, time.Duration(0), retry.Jitter(0))
}

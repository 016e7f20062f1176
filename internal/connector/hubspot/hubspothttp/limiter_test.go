package hubspothttp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector/hubspot/hubspothttp"
)

func TestLimiter_Acquire(t *testing.T) {
	t.Parallel()

	t.Run("StaysUnderBudget", func(t *testing.T) {
		t.Parallel()
		const budget, interval = 5, 200 * time.Millisecond
		l := hubspothttp.NewLimiter(budget, interval)
		var mu sync.Mutex
		var grants []time.Time
		var wg sync.WaitGroup
		for range 15 {
			wg.Go(func() {
				release, err := l.Acquire(context.Background(), hubspothttp.Backfill)
				require.NoError(t, err)
				mu.Lock()
				grants = append(grants, time.Now())
				mu.Unlock()
				release(nil)
			})
		}
		wg.Wait()
		require.Len(t, grants, 15)
		// No window of one interval holds more than budget grants.
		for i := range grants {
			n := 0
			for j := range grants {
				if !grants[j].Before(grants[i]) && grants[j].Sub(grants[i]) < interval {
					n++
				}
			}
			require.LessOrEqual(t, n, budget, "grants in the window after grant %d", i)
		}
	})

	t.Run("LiveBeforeBackfill", func(t *testing.T) {
		t.Parallel()
		l := hubspothttp.NewLimiter(1, 100*time.Millisecond)
		hold, err := l.Acquire(context.Background(), hubspothttp.Backfill)
		require.NoError(t, err)
		var order []string
		var mu sync.Mutex
		var wg sync.WaitGroup
		wait := func(name string, p hubspothttp.Priority) {
			wg.Go(func() {
				release, err := l.Acquire(context.Background(), p)
				require.NoError(t, err)
				mu.Lock()
				order = append(order, name)
				mu.Unlock()
				release(nil)
			})
		}
		for _, n := range []string{"b1", "b2", "b3"} {
			wait(n, hubspothttp.Backfill)
		}
		time.Sleep(20 * time.Millisecond) // the backfills queue first
		wait("live", hubspothttp.Live)
		time.Sleep(20 * time.Millisecond)
		hold(nil)
		wg.Wait()
		require.Equal(t, "live", order[0], "live is served before earlier backfills: %v", order)
	})

	t.Run("ErrContextDone", func(t *testing.T) {
		t.Parallel()
		l := hubspothttp.NewLimiter(1, time.Hour)
		release, err := l.Acquire(context.Background(), hubspothttp.Live)
		require.NoError(t, err)
		release(nil)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		defer cancel()
		_, err = l.Acquire(ctx, hubspothttp.Live)
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})

	t.Run("AdoptsServerMaxAndRemaining", func(t *testing.T) {
		t.Parallel()
		l := hubspothttp.NewLimiter(100, 300*time.Millisecond)
		release, err := l.Acquire(context.Background(), hubspothttp.Backfill)
		require.NoError(t, err)
		// Another app spent the portal's budget: the server has 0 left of 10.
		release(http.Header{"X-Hubspot-Ratelimit-Max": {"10"}, "X-Hubspot-Ratelimit-Remaining": {"0"}})
		require.Equal(t, 10, l.Budget())
		start := time.Now()
		release, err = l.Acquire(context.Background(), hubspothttp.Backfill)
		require.NoError(t, err)
		release(nil)
		require.GreaterOrEqual(t, time.Since(start), 250*time.Millisecond, "waits for the window the server reported full")
	})
}

func TestLimiter_Use(t *testing.T) {
	t.Parallel()
	l := hubspothttp.NewLimiter(4, time.Hour)
	require.Zero(t, l.Use())
	r1, err := l.Acquire(context.Background(), hubspothttp.Live)
	require.NoError(t, err)
	require.InDelta(t, 0.25, l.Use(), 1e-9, "a request in flight counts")
	r1(nil)
	require.InDelta(t, 0.25, l.Use(), 1e-9, "and still counts within the interval after its release")
	r2, err := l.Acquire(context.Background(), hubspothttp.Live)
	require.NoError(t, err)
	r2(http.Header{"X-Hubspot-Ratelimit-Max": {"2"}})
	require.InDelta(t, 1.0, l.Use(), 1e-9, "the server's lower budget counts")
}

func TestClient_Do(t *testing.T) {
	t.Parallel()

	t.Run("RetryAfterHonoured", func(t *testing.T) {
		t.Parallel()
		var calls atomic.Int32
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) == 1 {
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
				_, _ = w.Write([]byte(`{"status":"error","message":"You have reached your ten_secondly_rolling limit.","errorType":"RATE_LIMIT","category":"RATE_LIMITS","policyName":"TEN_SECONDLY_ROLLING"}`))
				return
			}
			_, _ = w.Write([]byte(`{"results":[{"id":"1","properties":{}}]}`))
		}))
		t.Cleanup(ts.Close)
		c, err := hubspothttp.New(hubspothttp.Config{BaseURL: ts.URL, Token: "t", Limiter: hubspothttp.NewLimiter(100, time.Second)})
		require.NoError(t, err)
		start := time.Now()
		page, err := c.List(context.Background(), "companies", "", 10, nil, false)
		require.NoError(t, err)
		require.Len(t, page.Results, 1)
		require.GreaterOrEqual(t, time.Since(start), time.Second, "waited Retry-After")
		st := c.Stats()
		require.Equal(t, int64(2), st.Requests)
		require.Equal(t, int64(1), st.RateLimited)
		require.Equal(t, int64(0), st.Failed)
	})

	t.Run("ErrRateLimitedAfterLastAttempt", func(t *testing.T) {
		t.Parallel()
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "0.01")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"status":"error","message":"slow down","category":"RATE_LIMITS"}`))
		}))
		t.Cleanup(ts.Close)
		c, err := hubspothttp.New(hubspothttp.Config{BaseURL: ts.URL, Token: "t", Limiter: hubspothttp.NewLimiter(100, time.Second), MaxAttempts: 3})
		require.NoError(t, err)
		_, err = c.List(context.Background(), "companies", "", 10, nil, false)
		var he *hubspothttp.Error
		require.ErrorAs(t, err, &he)
		require.True(t, he.IsRateLimited())
		require.Equal(t, 10*time.Millisecond, he.RetryAfter)
		require.Equal(t, int64(3), c.Stats().Requests)
		require.Equal(t, int64(1), c.Stats().Failed)
	})

	t.Run("CreateNotRetriedAfter5xx", func(t *testing.T) {
		t.Parallel()
		var calls atomic.Int32
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			w.WriteHeader(http.StatusBadGateway)
		}))
		t.Cleanup(ts.Close)
		c, err := hubspothttp.New(hubspothttp.Config{BaseURL: ts.URL, Token: "t", Limiter: hubspothttp.NewLimiter(100, time.Second)})
		require.NoError(t, err)
		_, err = c.BatchCreate(context.Background(), "companies", []hubspothttp.Input{{Properties: map[string]*string{}}})
		require.Equal(t, http.StatusBadGateway, hubspothttp.StatusOf(err))
		require.Equal(t, int32(1), calls.Load(), "a create may have landed: not repeated")
		_, err = c.BatchRead(context.Background(), "companies", []string{"1"}, "", nil, false)
		require.Error(t, err)
		require.Greater(t, calls.Load(), int32(2), "an idempotent read is retried")
	})
}

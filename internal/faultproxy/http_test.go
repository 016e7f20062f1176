package faultproxy_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/faultproxy"
)

// upstream is an HTTP server that answers "ok <body>" and counts its requests.
type upstream struct {
	*httptest.Server
	hits atomic.Int64
}

func newUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		body, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, "ok "+r.URL.Path+" "+string(body))
	}))
	t.Cleanup(u.Close)
	return u
}

// outcome is what a client saw for one request.
type outcome struct {
	status     int    // 0 when the request failed
	body       string // the answer's body
	retryAfter string
	closed     bool // the answer closed the connection
	err        error
	took       time.Duration
}

// post sends one POST (never retried by the transport) to url.
func post(t *testing.T, c *http.Client, url string) outcome {
	t.Helper()
	start := time.Now()
	resp, err := c.Post(url+"/rpc/x", "text/plain", strings.NewReader("payload"))
	if err != nil {
		return outcome{err: err, took: time.Since(start)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return outcome{err: err, took: time.Since(start)}
	}
	return outcome{status: resp.StatusCode, body: string(body), retryAfter: resp.Header.Get("Retry-After"), closed: resp.Close, took: time.Since(start)}
}

func TestHTTP_Inject(t *testing.T) {
	t.Parallel()

	type testBundle struct {
		up    *upstream
		proxy *faultproxy.HTTP
		url   string
		c     *http.Client
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		up := newUpstream(t)
		h, err := faultproxy.NewHTTP(up.URL, 42, nil)
		require.NoError(t, err)
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		t.Cleanup(h.Close)
		tr := http.DefaultTransport.(*http.Transport).Clone()
		t.Cleanup(tr.CloseIdleConnections)
		return &testBundle{up: up, proxy: h, url: srv.URL, c: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
	}

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		got := post(t, b.c, b.url)
		require.NoError(t, got.err)
		require.Equal(t, http.StatusOK, got.status)
		require.Equal(t, "ok /rpc/x payload", got.body, "path and body reach the upstream")
		require.EqualValues(t, 1, b.up.hits.Load())
		require.Equal(t, faultproxy.HTTPStats{Requests: 1, Forwarded: 1, Injected: map[faultproxy.Kind]int{}}, b.proxy.Stats())
	})

	t.Run("RateAndMix", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		require.NoError(t, b.proxy.Inject(faultproxy.Faults{Rate: 0.3, Latency: time.Millisecond, Timeout: 5 * time.Millisecond}))
		const n = 1000
		var ok, tooMany, server, failed int
		for range n {
			got := post(t, b.c, b.url)
			switch {
			case got.err != nil:
				failed++
			case got.status == http.StatusOK:
				require.Equal(t, "ok /rpc/x payload", got.body)
				ok++
			case got.status == http.StatusTooManyRequests:
				require.Equal(t, "1", got.retryAfter, "the default Retry-After is one second")
				tooMany++
			case got.status >= 500:
				require.Contains(t, got.body, "fault injected")
				server++
			default:
				require.FailNow(t, "unexpected answer", "%+v", got)
			}
		}
		st := b.proxy.Stats()
		t.Logf("%d requests: %d ok, %d 429, %d 5xx, %d failed; injected %v", n, ok, tooMany, server, failed, st.Injected)
		require.Equal(t, n, st.Requests)
		require.InDelta(t, 0.3, float64(st.Faulted())/n, 0.05, "about 30%% of the requests get a fault")
		for _, k := range faultproxy.Kinds {
			require.Greater(t, st.Injected[k], n*3/100, "kind %s is drawn about one time in six", k)
		}
		require.Equal(t, st.Injected[faultproxy.TooManyRequests], tooMany, "every 429 counted reached the client")
		require.Equal(t, st.Injected[faultproxy.ServerError], server)
		require.Equal(t, st.Injected[faultproxy.Reset]+st.Injected[faultproxy.ResetAfter]+st.Injected[faultproxy.Timeout], failed,
			"resets and timeouts fail the request at the client")
		require.Equal(t, n-tooMany-server-failed, ok)
		require.EqualValues(t, st.Forwarded, b.up.hits.Load(), "what the proxy says it forwarded reached the upstream")
		require.Equal(t, ok+st.Injected[faultproxy.ResetAfter], st.Forwarded, "a reset after the answer was forwarded; a 429, 5xx, reset or timeout was not")

		b.proxy.Heal()
		before := b.up.hits.Load()
		for range 200 {
			got := post(t, b.c, b.url)
			require.NoError(t, got.err, "healed: no fault")
			require.Equal(t, http.StatusOK, got.status)
		}
		require.Equal(t, st.Injected, b.proxy.Stats().Injected, "nothing injected after Heal")
		require.EqualValues(t, 200, b.up.hits.Load()-before)
	})

	kinds := []struct {
		kind  faultproxy.Kind
		check func(t *testing.T, got outcome, hits int64)
	}{
		{faultproxy.Latency, func(t *testing.T, got outcome, hits int64) {
			require.NoError(t, got.err)
			require.Equal(t, http.StatusOK, got.status)
			require.GreaterOrEqual(t, got.took, 100*time.Millisecond, "200ms ±50%%")
			require.EqualValues(t, 1, hits)
		}},
		{faultproxy.Reset, func(t *testing.T, got outcome, hits int64) {
			require.Error(t, got.err)
			require.Contains(t, got.err.Error(), "reset", "a TCP RST")
			require.Zero(t, hits, "the upstream never saw the request")
		}},
		{faultproxy.ResetAfter, func(t *testing.T, got outcome, hits int64) {
			require.Error(t, got.err)
			require.Contains(t, got.err.Error(), "reset")
			require.EqualValues(t, 1, hits, "the upstream did the work; the answer was lost")
		}},
		{faultproxy.Timeout, func(t *testing.T, got outcome, hits int64) {
			require.Error(t, got.err)
			require.GreaterOrEqual(t, got.took, 300*time.Millisecond, "held for the timeout")
			require.Zero(t, hits)
		}},
		{faultproxy.TooManyRequests, func(t *testing.T, got outcome, hits int64) {
			require.NoError(t, got.err)
			require.Equal(t, http.StatusTooManyRequests, got.status)
			require.Equal(t, "2", got.retryAfter, "1.5s rounds up to whole seconds")
			require.Zero(t, hits)
		}},
		{faultproxy.ServerError, func(t *testing.T, got outcome, hits int64) {
			require.NoError(t, got.err)
			require.Contains(t, []int{500, 502, 503, 504}, got.status)
			require.Zero(t, hits)
		}},
	}
	for _, tc := range kinds {
		t.Run("Kind_"+string(tc.kind), func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			require.NoError(t, b.proxy.Inject(faultproxy.Faults{Rate: 1, Kinds: []faultproxy.Kind{tc.kind}, Timeout: 300 * time.Millisecond, RetryAfter: 1500 * time.Millisecond}))
			tc.check(t, post(t, b.c, b.url), b.up.hits.Load())
			require.Equal(t, 1, b.proxy.Stats().Injected[tc.kind])

			b.proxy.Heal()
			got := post(t, b.c, b.url)
			require.NoError(t, got.err)
			require.Equal(t, http.StatusOK, got.status, "healed")
		})
	}

	t.Run("Churn", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		require.NoError(t, b.proxy.Inject(faultproxy.Faults{Churn: 1}))
		for range 5 {
			got := post(t, b.c, b.url)
			require.NoError(t, got.err)
			require.Equal(t, http.StatusOK, got.status)
			require.True(t, got.closed, "the answer closes its connection")
		}
		st := b.proxy.Stats()
		require.Equal(t, 5, st.Churned)
		require.Zero(t, st.Faulted())
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for _, f := range []faultproxy.Faults{{Rate: 1.5}, {Rate: -0.1}, {Churn: 2}, {Rate: 0.1, Kinds: []faultproxy.Kind{"teapot"}}} {
			require.Error(t, b.proxy.Inject(f), "%+v", f)
		}
		_, err := faultproxy.NewHTTP("localhost:80", 1, nil)
		require.Error(t, err, "an upstream without a scheme")
	})
}

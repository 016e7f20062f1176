package faultproxy_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/faultproxy"
)

func TestTCP_Inject(t *testing.T) {
	t.Parallel()

	type testBundle struct {
		up  *upstream
		tcp *faultproxy.TCP
		url string
		c   *http.Client // one connection per request: toxiproxy draws per connection
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		up := newUpstream(t)
		tcp, err := faultproxy.NewTCP(t.Name(), up.Listener.Addr().String())
		require.NoError(t, err)
		t.Cleanup(tcp.Close)
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.DisableKeepAlives = true
		return &testBundle{up: up, tcp: tcp, url: "http://" + tcp.Addr(), c: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
	}

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		got := post(t, b.c, b.url)
		require.NoError(t, got.err)
		require.Equal(t, "ok /rpc/x payload", got.body)
	})

	t.Run("Latency", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		require.NoError(t, b.tcp.Inject(faultproxy.TCPFaults{Latency: 500 * time.Millisecond, LatencyRate: 1}))
		got := post(t, b.c, b.url)
		require.NoError(t, got.err)
		require.Equal(t, http.StatusOK, got.status)
		require.GreaterOrEqual(t, got.took, 500*time.Millisecond)

		b.tcp.Heal()
		got = post(t, b.c, b.url)
		require.NoError(t, got.err)
		require.Less(t, got.took, 500*time.Millisecond, "healed")
	})

	t.Run("Reset", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		require.NoError(t, b.tcp.Inject(faultproxy.TCPFaults{ResetRate: 1}))
		got := post(t, b.c, b.url)
		require.Error(t, got.err, "the connection is reset")
		require.Zero(t, b.up.hits.Load(), "the request never reached the upstream")

		b.tcp.Heal()
		got = post(t, b.c, b.url)
		require.NoError(t, got.err, "healed")
		require.EqualValues(t, 1, b.up.hits.Load())
	})

	t.Run("ResetRate", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		require.NoError(t, b.tcp.Inject(faultproxy.TCPFaults{ResetRate: 0.3}))
		const n = 300
		failed := 0
		for range n {
			if post(t, b.c, b.url).err != nil {
				failed++
			}
		}
		t.Logf("%d of %d connections reset", failed, n)
		// Binomial(300, 0.3): mean 90, sd 7.9; ±3.5 sd.
		require.InDelta(t, 90, failed, 28, "about 30%% of the connections are reset")
		require.EqualValues(t, n-failed, b.up.hits.Load())
	})

	t.Run("Stall", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		require.NoError(t, b.tcp.Inject(faultproxy.TCPFaults{StallRate: 1, Stall: 300 * time.Millisecond}))
		got := post(t, b.c, b.url)
		require.Error(t, got.err, "no answer, then the connection closes")
		require.GreaterOrEqual(t, got.took, 300*time.Millisecond)
		require.Zero(t, b.up.hits.Load(), "the request was dropped")

		b.tcp.Heal()
		got = post(t, b.c, b.url)
		require.NoError(t, got.err, "healed")
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		require.Error(t, b.tcp.Inject(faultproxy.TCPFaults{ResetRate: 2}))
		require.Error(t, b.tcp.Inject(faultproxy.TCPFaults{Latency: -time.Second, LatencyRate: 1}))
	})
}

func TestProxy_Inject(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	p, err := faultproxy.New("chain", up.URL, 7, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	c := &http.Client{Timeout: 10 * time.Second}

	got := post(t, c, p.URL())
	require.NoError(t, got.err)
	require.Equal(t, "ok /rpc/x payload", got.body, "through both layers")

	require.NoError(t, p.Inject(faultproxy.Faults{Rate: 1, Kinds: []faultproxy.Kind{faultproxy.ServerError}},
		faultproxy.TCPFaults{Latency: 500 * time.Millisecond, LatencyRate: 1}))
	got = post(t, c, p.URL())
	require.NoError(t, got.err)
	require.GreaterOrEqual(t, got.status, 500, "the HTTP layer's fault")
	require.GreaterOrEqual(t, got.took, 500*time.Millisecond, "the TCP layer's latency")

	p.Heal()
	got = post(t, c, p.URL())
	require.NoError(t, got.err)
	require.Equal(t, http.StatusOK, got.status)
	require.Less(t, got.took, 500*time.Millisecond, "healed")
	require.Error(t, p.Inject(faultproxy.Faults{Rate: 2}, faultproxy.TCPFaults{}))
}

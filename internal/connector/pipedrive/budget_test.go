package pipedrive_test

import (
	"context"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/budget"
	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/pipedrive"
	"github.com/concord-sync/concord/internal/connector/pipedrive/pipedrivehttp"
	sandbox "github.com/concord-sync/concord/internal/sandbox/pipedrive"
	"github.com/concord-sync/concord/internal/store/sqlitestore"
)

// TestConn_SharedBudget: two nodes (two connections, each with a process
// limiter allowing the token's whole budget) writing with one token at once
// stay within it together through the budget kept in their store: the
// sandbox answers no 429. Each node alone would spend it all.
func TestConn_SharedBudget(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const limit, window = 10, time.Second
	srv := sandbox.New(sandbox.Config{Token: token, RateLimit: limit, Window: window})
	var n429 atomic.Int64
	ts := httptest.NewServer(counting(srv.Handler(), &n429))
	t.Cleanup(func() { ts.Close(); _ = srv.Close() })
	st, err := sqlitestore.Open(ctx, t.TempDir()+"/concord.db", nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	settings := map[string]any{"base_url": ts.URL, "api_token": token, "currency": "USD", "create_link_field": true,
		"rate_limit": limit, "rate_interval": window.String(), "entities": map[string]any{"account": map[string]any{}}}
	open := func() *pipedrive.Conn {
		c, err := pipedrive.OpenWith(ctx, connector.OpenParams{System: "crm", Settings: settings, Logger: testLogger(t), Budgets: budget.NewSet(st)},
			pipedrive.Options{Limiter: pipedrivehttp.NewLimiter(limit, window)})
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close(ctx) })
		return c
	}
	nodes := []*pipedrive.Conn{open(), open()}
	var wg sync.WaitGroup
	for n, c := range nodes {
		wg.Go(func() { require.Len(t, createAccounts(t, c, n*100, 15), 15) })
	}
	wg.Wait()
	require.Zero(t, n429.Load(), "the two nodes together stayed within the token's budget")
}

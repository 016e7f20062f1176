package salesforce_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/hubspot/hubspothttp"
	"github.com/concord-sync/concord/internal/connector/salesforce"
	"github.com/concord-sync/concord/internal/model"
	sandbox "github.com/concord-sync/concord/internal/sandbox/salesforce"
)

// TestConn_LiveFirst: with the org's budget spent, a live call (the engine
// marks a webhook's or a wake's batch with connector.WithLive) waiting
// after a backfill call is sent before it.
func TestConn_LiveFirst(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sandbox.Config{})
	lim := hubspothttp.NewLimiter(1, 1500*time.Millisecond)
	c := f.open(t, nil, salesforce.Options{Limiter: lim})
	ctx := context.Background()
	_, err := c.Get(ctx, model.Account, []string{"001000000000000AAA"}) // spends the budget
	require.NoError(t, err)

	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	call := func(name string, ctx context.Context) {
		defer wg.Done()
		_, err := c.Get(ctx, model.Account, []string{"001000000000000AAA"})
		require.NoError(t, err)
		mu.Lock()
		order = append(order, name)
		mu.Unlock()
	}
	wg.Add(2)
	go call("backfill", ctx)
	time.Sleep(200 * time.Millisecond) // the backfill call waits first
	go call("live", connector.WithLive(ctx))
	wg.Wait()
	require.Equal(t, []string{"live", "backfill"}, order)
}

package salesforce_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/budget"
	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/hubspot/hubspothttp"
	"github.com/concord-sync/concord/internal/connector/salesforce"
	"github.com/concord-sync/concord/internal/model"
	sandbox "github.com/concord-sync/concord/internal/sandbox/salesforce"
	"github.com/concord-sync/concord/internal/store/sqlitestore"
)

// TestConn_SharedBudget: two nodes (two connections, each with its own
// process limiter allowing the org's whole limit) writing to one org at
// once stay within the org's limit together, through the budget kept in
// their store: no request refused. Each node alone would spend it all.
func TestConn_SharedBudget(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const limit, window = 20, 4 * time.Second
	f := newFixture(t, sandbox.Config{DailyLimit: limit, LimitWindow: window})
	st, err := sqlitestore.Open(ctx, t.TempDir()+"/concord.db", nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	settings := f.with(map[string]any{"rate_limit": limit, "rate_interval": window.String()})
	open := func(node string) *salesforce.Conn {
		// Each node has its own store handle and budget set, as separate
		// processes would.
		c, err := salesforce.OpenWith(ctx, connector.OpenParams{System: "crm", Settings: settings, Logger: testLogger(t),
			Budgets: budget.NewSet(st)}, salesforce.Options{Limiter: hubspothttp.NewLimiter(limit, window)})
		require.NoError(t, err, node)
		t.Cleanup(func() { _ = c.Close(ctx) })
		return c
	}
	nodes := []*salesforce.Conn{open("a"), open("b")}
	var wg sync.WaitGroup
	for n, c := range nodes {
		wg.Go(func() {
			for i := range 15 {
				res, err := c.Write(ctx, model.Account, []connector.Op{{Kind: connector.OpCreate, LinkKey: fmt.Sprintf("n%d-%d", n, i), Fields: model.Fields{"name": model.Text("x")}}})
				require.NoError(t, err)
				require.NoError(t, res[0].Err)
			}
		})
	}
	wg.Wait()
	require.Zero(t, f.srv.Counts().LimitRefused, "the two nodes together stayed within the org's limit")
}

package e2enodes

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// takeoverBound is how soon after a node dies another runs its legs: the
// lease's TTL (15 s) plus a try interval (5 s, with jitter), plus slack for
// a loaded machine. docs/deploy.md states it.
const takeoverBound = 30 * time.Second

// TestNodes_KillAndRestart: three serve nodes started at once on a fresh
// PostgreSQL store share a backfill of the ERP's products into the CRM while
// products are added and renamed; the node polling the flow is killed with
// SIGKILL mid-run and another is restarted (SIGTERM, then started again). At
// the end every ERP product is in the CRM exactly once with its last values
// (counted in the CRM), nothing is dead-lettered, and the CRM never saw more
// requests in any 10 s than the budget the nodes share.
func TestNodes_KillAndRestart(t *testing.T) {
	t.Parallel()
	const products, budget = 1500, 20
	c := newCluster(t, clusterOpts{products: products, budget: budget, partitions: 4})
	for range 3 {
		c.addNode()
	}
	// All three at once on a fresh database: they migrate one after the
	// other (no duplicate key), and all come up.
	for _, n := range c.nodes {
		c.start(n)
	}
	c.ready(90 * time.Second)

	// Live changes while the backfill runs: new products, and renames,
	// several per product, whose last one must win.
	live, stopLive := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	var added, renamed int
	wg.Go(func() {
		for i := 0; live.Err() == nil; i++ {
			_, err := c.erp.Exec(`INSERT INTO products (product_name, unit_price) VALUES ($1, 5)`, fmt.Sprintf("Live %04d", i))
			if err == nil {
				added++
			}
			_, err = c.erp.Exec(`UPDATE products SET product_name = $1, unit_price = unit_price + 1, updated_at = now() WHERE product_id = $2`,
				fmt.Sprintf("Renamed %d (%d)", i%7, i), 1+(i%7)*200)
			if err == nil {
				renamed++
			}
			select {
			case <-live.Done():
			case <-time.After(150 * time.Millisecond):
			}
		}
	})

	// Mid-run: kill the node that polls the flow.
	require.Eventually(t, func() bool { return c.crmCount() >= products/4 }, 120*time.Second, 100*time.Millisecond, "the backfill starts")
	var poller *node
	require.Eventually(t, func() bool { poller = c.holder("poll:products"); return poller != nil }, 10*time.Second, 100*time.Millisecond)
	killedAt := time.Now()
	poller.kill(t)
	t.Logf("killed %s (the poller) with %d of %d products in the CRM", poller.name, c.crmCount(), products)
	var next *node
	require.Eventually(t, func() bool { next = c.holder("poll:products"); return next != nil && next != poller }, takeoverBound, 100*time.Millisecond,
		"another node polls the flow within the takeover bound")
	t.Logf("%s took over the poller after %s", next.name, time.Since(killedAt).Round(100*time.Millisecond))

	// Restart another node (not the new poller), then the killed one.
	for _, n := range c.nodes {
		if n != poller && n != next {
			n.stop(t)
			c.start(n)
		}
	}
	c.start(poller)
	c.ready(60 * time.Second)

	time.Sleep(3 * time.Second) // live changes reach the restarted nodes
	stopLive()
	wg.Wait()
	ctx, cancel := context.WithTimeout(t.Context(), 150*time.Second)
	defer cancel()
	v := c.converge(ctx)
	t.Logf("ERP %d products (%d added live, %d renames), CRM %d; duplicates %d, lost %d, stale %d; peak %d requests in 10 s (budget %d)",
		v.erp, added, renamed, v.crm, v.duplicates, v.lost, v.stale, c.crm.PeakRequests(), budget)
	require.Zero(t, v.duplicates, "no duplicate in the CRM")
	require.Zero(t, v.lost, "nothing lost")
	require.Zero(t, v.stale, "every product has its last values: %s", v.example)
	require.Equal(t, v.erp, v.crm)
	require.Zero(t, c.openDeadLetters(), "nothing dead-lettered")
	require.LessOrEqual(t, c.crm.PeakRequests(), budget, "the nodes together kept to the CRM's budget")
	for _, n := range c.nodes {
		n.stop(t)
	}
}

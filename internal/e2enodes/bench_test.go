package e2enodes

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// BenchmarkNodes measures records/s of a backfill of the ERP's products into
// the CRM with one, two and three serve nodes on one PostgreSQL store
// (sync.partitions 6; and one and three nodes with 1, without parts), against the sandbox with no rate limit and 100 ms
// added to every request (HubSpot's latency, roughly): the nodes are started
// and ready first, then the products are inserted in the ERP and the clock
// runs until the CRM holds them all. One run per size (-benchtime=1x);
// figures in docs/benchmarks.md.
//
//	flock /tmp/concord-bench.lock go test -run '^$' -bench BenchmarkNodes -benchtime=1x ./internal/e2enodes
func BenchmarkNodes(b *testing.B) {
	const products = 4000
	for _, size := range []struct{ nodes, partitions int }{{1, 1}, {1, 6}, {2, 6}, {3, 6}, {3, 1}} {
		nodes := size.nodes
		b.Run(fmt.Sprintf("nodes=%d/partitions=%d", nodes, size.partitions), func(b *testing.B) {
			c := newCluster(b, clusterOpts{latency: 100 * time.Millisecond, partitions: size.partitions})
			for range nodes {
				c.start(c.addNode())
			}
			c.ready(90 * time.Second)
			var took time.Duration
			for b.Loop() {
				_, err := c.erp.Exec(`DELETE FROM products`)
				require.NoError(b, err)
				for _, o := range c.crm.Objects("products") {
					require.NoError(b, c.crm.Archive("products", o.ID))
				}
				start := time.Now()
				_, err = c.erp.Exec(`INSERT INTO products (product_name, unit_price)
SELECT 'Product ' || lpad(i::text, 5, '0'), 10 + i % 90 FROM generate_series(1, $1) i`, products)
				require.NoError(b, err)
				deadline := time.Now().Add(10 * time.Minute)
				for c.crmCount() < products {
					require.True(b, time.Now().Before(deadline), "backfill did not finish: %d of %d", c.crmCount(), products)
					time.Sleep(50 * time.Millisecond)
				}
				took += time.Since(start)
			}
			b.ReportMetric(float64(products*b.N)/took.Seconds(), "records/s")
			v := c.verdict()
			require.Zero(b, v.duplicates)
			require.Zero(b, v.lost)
			for _, n := range c.nodes {
				n.stop(b)
			}
		})
	}
}

package hubspot_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/model"
	sandbox "github.com/concord-sync/concord/internal/sandbox/hubspot"
)

// BenchmarkConn_Write measures records written per second into the sandbox
// under a budget of 100 requests per rolling 10 s with batches of 100: the
// ceiling is 1,000 records/s. One iteration is one batch; run it with
// -benchtime=400x (about 30 s after the first window).
//
// The first 100 batches spend the first window's budget in a burst, so
// records/s is measured after it: records of batches 101..N over the time from
// the end of the first window to the last answer. burst_records/s covers the
// whole run. failed_requests counts 429 answers and calls that failed.
func BenchmarkConn_Write(b *testing.B) {
	const budget, per = 100, 100
	f := newFixture(b, sandbox.Config{RateLimit: budget, SearchRateLimit: -1})
	c := f.open(b, f.with(map[string]any{"rate_limit": budget, "rate_interval": "10s"}))
	ctx := context.Background()
	ops := make([][]connector.Op, b.N)
	for i := range b.N {
		ops[i] = make([]connector.Op, per)
		for j := range per {
			ops[i][j] = connector.Op{Kind: connector.OpCreate, LinkKey: fmt.Sprintf("E%d-%d", i, j),
				Fields: model.Fields{"name": model.Text(fmt.Sprintf("Company %d-%d", i, j)), "city": model.Text("Lyon")}}
		}
	}
	before := c.Client().Stats()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		res, err := c.Write(ctx, model.Account, ops[i])
		if err != nil {
			b.Fatalf("batch %d: %v", i, err)
		}
		for _, r := range res {
			if r.Err != nil {
				b.Fatalf("batch %d: %v", i, r.Err)
			}
		}
	}
	end := time.Now()
	b.StopTimer()
	st := c.Client().Stats()
	b.ReportMetric(float64(b.N*per)/end.Sub(start).Seconds(), "burst_records/s")
	if b.N > budget {
		window := c.Client().Limiter().Interval()
		b.ReportMetric(float64((b.N-budget)*per)/end.Sub(start.Add(window)).Seconds(), "records/s")
	}
	b.ReportMetric(float64(st.RateLimited-before.RateLimited+st.Failed-before.Failed), "failed_requests")
	if got := len(f.srv.Objects("companies")); got != b.N*per {
		b.Fatalf("sandbox holds %d companies, want %d", got, b.N*per)
	}
}

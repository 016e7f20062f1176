package salesforce_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/hubspot/hubspothttp"
	"github.com/concord-sync/concord/internal/connector/salesforce"
	"github.com/concord-sync/concord/internal/model"
	sandbox "github.com/concord-sync/concord/internal/sandbox/salesforce"
)

// BenchmarkConn_Write measures Account creates per second into the sandbox
// under the org's request limit. Salesforce counts API requests per rolling
// 24 hours (15,000 on Developer Edition); the benchmark keeps that shape
// with the window shrunk to 5 s and a budget of 50 requests, so that a run
// takes seconds. sObject Collections take 200 records per request, so the
// ceiling is 50 x 200 / 5 s = 2,000 records/s (on a real Developer Edition
// org, 15,000 x 200 / 86,400 s = 34.7 records/s). One iteration is one batch
// of 200 creates; run it with -benchtime=550x (ten windows after the first).
//
// The first 50 batches spend the first window's budget in a burst, so
// records/s is measured after it: the records of batches 51..N over the time
// from the end of the first window to the last answer; ceiling_share is that
// over 2,000. refused_requests counts REQUEST_LIMIT_EXCEEDED answers.
func BenchmarkConn_Write(b *testing.B) {
	const budget, per = 50, 200
	const window = 5 * time.Second
	f := newFixture(b, sandbox.Config{DailyLimit: budget, LimitWindow: window})
	lim := hubspothttp.NewLimiter(budget, window)
	c := f.open(b, f.with(map[string]any{"rate_limit": budget, "rate_interval": window.String()}), salesforce.Options{Limiter: lim})
	ctx := context.Background()
	ops := make([][]connector.Op, b.N)
	for i := range b.N {
		ops[i] = make([]connector.Op, per)
		for j := range per {
			ops[i][j] = connector.Op{Kind: connector.OpCreate, LinkKey: fmt.Sprintf("E%d-%d", i, j),
				Fields: model.Fields{"name": model.Text(fmt.Sprintf("Company %d-%d", i, j)), "city": model.Text("Lyon")}}
		}
	}
	// Open spent requests (token, describes): start with a full window.
	time.Sleep(window)
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
	ceiling := float64(budget*per) / window.Seconds()
	b.ReportMetric(float64(b.N*per)/end.Sub(start).Seconds(), "burst_records/s")
	if b.N > budget {
		rate := float64((b.N-budget)*per) / end.Sub(start.Add(window)).Seconds()
		b.ReportMetric(rate, "records/s")
		b.ReportMetric(rate/ceiling, "ceiling_share")
	}
	b.ReportMetric(float64(st.RateLimited-before.RateLimited), "refused_requests")
	all, err := f.srv.Query("SELECT Id FROM Account", false)
	if err != nil {
		b.Fatal(err)
	}
	if len(all) != b.N*per {
		b.Fatalf("sandbox holds %d accounts, want %d", len(all), b.N*per)
	}
}

package pipedrive_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/pipedrive"
	"github.com/concord-sync/concord/internal/connector/pipedrive/pipedrivehttp"
	"github.com/concord-sync/concord/internal/model"
	sandbox "github.com/concord-sync/concord/internal/sandbox/pipedrive"
)

// BenchmarkConn_Write measures records written per second into the sandbox
// under Pipedrive's documented burst limit for an API token on the
// Professional plan, 80 requests per 2 s, with the connector's rate_limit at
// the same 80. Pipedrive has no batch endpoint, so each create is one request
// and the ceiling is 40 records/s. One iteration is one Write of 40 creates;
// run it with -benchtime=20x (about 20 s).
//
// The first window's budget goes out in a burst at the start and each later
// window's at its start, so records/s counts the records beyond the first 80
// over the whole run (the last window's records are answered right at its
// start: counting its time would count one window too few).
// burst_records/s is every record over the whole run.
// ceiling_share is records/s over 40; failed_requests counts 429 answers.
func BenchmarkConn_Write(b *testing.B) {
	const budget, per = 80, 40
	window := 2 * time.Second
	srv := sandbox.New(sandbox.Config{Token: token, RateLimit: budget, Window: window})
	var n429 atomic.Int64
	ts := httptest.NewServer(counting(srv.Handler(), &n429))
	b.Cleanup(func() { ts.Close(); _ = srv.Close() })
	c, err := pipedrive.OpenWith(context.Background(), connector.OpenParams{System: "crm", Settings: map[string]any{
		"base_url": ts.URL, "api_token": token, "currency": "USD", "create_link_field": true,
		"rate_limit": budget, "rate_interval": "2s", "entities": map[string]any{"account": map[string]any{}},
	}}, pipedrive.Options{Limiter: pipedrivehttp.NewLimiter(budget, window)})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	ops := make([][]connector.Op, b.N)
	for i := range b.N {
		ops[i] = make([]connector.Op, per)
		for j := range per {
			ops[i][j] = connector.Op{Kind: connector.OpCreate, LinkKey: fmt.Sprintf("E%d-%d", i, j),
				Fields: model.Fields{"name": model.Text(fmt.Sprintf("Company %d-%d", i, j)), "city": model.Text("Lyon")}}
		}
	}
	time.Sleep(window) // Open's calls leave the window
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
	b.ReportMetric(float64(b.N*per)/end.Sub(start).Seconds(), "burst_records/s")
	if b.N*per > budget {
		rate := float64(b.N*per-budget) / end.Sub(start).Seconds()
		b.ReportMetric(rate, "records/s")
		b.ReportMetric(rate/(float64(budget)/window.Seconds()), "ceiling_share")
	}
	b.ReportMetric(float64(n429.Load()), "failed_requests")
}

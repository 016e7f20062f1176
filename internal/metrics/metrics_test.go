package metrics_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/health"
	"github.com/concord-sync/concord/internal/metrics"
	"github.com/concord-sync/concord/internal/server"
	"github.com/concord-sync/concord/internal/store"
)

// secrets are record ids, field values and error texts the reports carry:
// none may reach a label.
var secrets = []string{"cust-4711", "ALFKI", "jane@example.com", "Wilman Kala", "duplicate key", "connection refused"}

var legs = []metrics.Leg{
	{Name: "customers", Flow: "customers", Source: "crm", Target: "erp"},
	{Name: "customers:reverse", Flow: "customers", Source: "erp", Target: "crm"},
	{Name: "products", Flow: "products", Source: "erp", Target: "crm"},
}

type webhooks []server.WebhookStats

func (w webhooks) Stats() []server.WebhookStats { return w }

// limited is a system with a rate limiter.
type limited struct {
	connector.Connector
	waits  int64
	waited time.Duration
}

func (l limited) RateLimitWaits() (int64, time.Duration) { return l.waits, l.waited }

type testBundle struct {
	m        *metrics.Metrics
	snapshot health.Snapshot
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	b := &testBundle{}
	b.m = metrics.New(metrics.Options{
		Legs:     legs,
		Snapshot: func(context.Context) health.Snapshot { return b.snapshot },
		Systems:  map[string]connector.Connector{"crm": limited{waits: 3, waited: 1500 * time.Millisecond}, "erp": nil},
	})
	return b
}

// scrape fetches /metrics as a Prometheus server would and parses it with the
// text-format parser.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return fams
}

// value returns the value of the sample of family name whose labels include
// want; it fails when there is none.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	f, ok := fams[name]
	require.True(t, ok, "no metric %s", name)
next:
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, lp := range m.GetLabel() {
			got[lp.GetName()] = lp.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount())
		case m.Untyped != nil:
			return m.GetUntyped().GetValue()
		}
	}
	t.Fatalf("no sample of %s with labels %v", name, want)
	return 0
}

func has(fams map[string]*dto.MetricFamily, name string) bool {
	_, ok := fams[name]
	return ok
}

func TestMetrics_Observer(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		now := time.Now()
		b.m.Polled(engine.PollReport{Leg: "customers", Flow: "customers", Source: "crm", At: now, Took: 20 * time.Millisecond, Read: 7, Queued: 7})
		b.m.Polled(engine.PollReport{Leg: "customers:reverse", Flow: "customers", Source: "erp", At: now, Err: errors.New("read ALFKI: connection refused")})
		b.m.Recorded(engine.PieceReport{
			Leg: "customers", Flow: "customers", Source: "crm", Target: "erp", At: now,
			Took: 300 * time.Millisecond, Write: 120 * time.Millisecond, QueueWait: 2 * time.Second, Oldest: now.Add(-90 * time.Second),
			Outcomes: map[store.Outcome]int{store.OutcomeCreated: 4, store.OutcomeUpdated: 1, store.OutcomeRetrying: 1, store.OutcomeQuarantined: 1},
			Failures: []engine.Outcome{
				{SourceID: "cust-4711", Outcome: store.OutcomeQuarantined, Reason: "email: jane@example.com is not valid"},
				{SourceID: "ALFKI", Outcome: store.OutcomeRetrying, Reason: "Wilman Kala: duplicate key"},
			},
		})
		b.m.BatchFailed(engine.BatchFailure{Leg: "products", Flow: "products", Source: "erp", Target: "crm", At: now, Records: 12, Err: errors.New("connection refused")})

		fams := scrape(t, b.m.Handler(webhooks{{System: "crm", Deliveries: 5, Events: 9, Duplicates: 2, Unrouted: 1, Forged: 1}}))
		fwd := map[string]string{"flow": "customers", "direction": "forward"}
		with := func(kv ...string) map[string]string {
			out := map[string]string{}
			for k, v := range fwd {
				out[k] = v
			}
			for i := 0; i < len(kv); i += 2 {
				out[kv[i]] = kv[i+1]
			}
			return out
		}
		require.InDelta(t, 7, value(t, fams, "concord_records_read_total", with("system", "crm")), 0)
		require.InDelta(t, 1, value(t, fams, "concord_polls_total", with("result", "ok")), 0)
		require.InDelta(t, 1, value(t, fams, "concord_polls_total", map[string]string{"flow": "customers", "direction": "reverse", "result": "error"}), 0)
		require.InDelta(t, 4, value(t, fams, "concord_records_processed_total", with("outcome", "created")), 0)
		require.InDelta(t, 1, value(t, fams, "concord_records_processed_total", with("outcome", "retrying")), 0)
		require.InDelta(t, 1, value(t, fams, "concord_records_processed_total", with("outcome", "quarantined")), 0)
		require.InDelta(t, 0, value(t, fams, "concord_records_processed_total", with("outcome", "dead")), 0, "outcomes start at zero")
		require.InDelta(t, 1, value(t, fams, "concord_write_duration_seconds", with("system", "erp")), 0, "one write observed")
		require.InDelta(t, 1, value(t, fams, "concord_batch_piece_duration_seconds", fwd), 0)
		require.InDelta(t, 1, value(t, fams, "concord_queue_wait_seconds", fwd), 0)
		require.InDelta(t, 1, value(t, fams, "concord_applied_lag_seconds", fwd), 0)
		require.InDelta(t, 0, value(t, fams, "concord_write_duration_seconds", map[string]string{"flow": "products", "direction": "forward"}), 0, "legs start at zero")
		require.InDelta(t, 1, value(t, fams, "concord_batch_failures_total", map[string]string{"flow": "products"}), 0)
		require.InDelta(t, 12, value(t, fams, "concord_batch_failed_records_total", map[string]string{"flow": "products"}), 0)
		require.InDelta(t, 5, value(t, fams, "concord_webhook_deliveries_total", map[string]string{"system": "crm", "result": "accepted"}), 0)
		require.InDelta(t, 1, value(t, fams, "concord_webhook_deliveries_total", map[string]string{"system": "crm", "result": "forged"}), 0)
		require.InDelta(t, 0, value(t, fams, "concord_webhook_deliveries_total", map[string]string{"system": "crm", "result": "stale"}), 0)
		require.InDelta(t, 2, value(t, fams, "concord_webhook_events_total", map[string]string{"system": "crm", "result": "duplicate"}), 0)
		require.InDelta(t, 3, value(t, fams, "concord_rate_limit_waits_total", map[string]string{"system": "crm"}), 0)
		require.InDelta(t, 1.5, value(t, fams, "concord_rate_limit_wait_seconds_total", map[string]string{"system": "crm"}), 1e-9)
		require.InDelta(t, 1, value(t, fams, "concord_build_info", nil), 0)
		require.True(t, has(fams, "go_goroutines"), "Go collector")
		require.True(t, has(fams, "process_start_time_seconds"), "process collector")

		// Labels are config names and fixed vocabularies: never ids, values
		// or error text.
		allowed := map[string]bool{"flow": true, "direction": true, "system": true, "outcome": true, "result": true, "le": true}
		for name, f := range fams {
			if !strings.HasPrefix(name, "concord_") || name == "concord_build_info" {
				continue
			}
			for _, m := range f.GetMetric() {
				for _, lp := range m.GetLabel() {
					require.True(t, allowed[lp.GetName()], "%s has label %s", name, lp.GetName())
					for _, s := range secrets {
						require.NotContains(t, lp.GetValue(), s, "%s{%s}", name, lp.GetName())
					}
				}
			}
		}
		bi := fams["concord_build_info"].GetMetric()[0].GetLabel()
		require.Len(t, bi, 3)
		for _, lp := range bi {
			require.Contains(t, []string{"version", "revision", "goversion"}, lp.GetName())
			require.NotEmpty(t, lp.GetValue())
		}

		problems, err := testutil.GatherAndLint(b.m.Registry())
		require.NoError(t, err)
		var ours []string
		for _, p := range problems {
			if strings.HasPrefix(p.Metric, "concord_") {
				ours = append(ours, p.Metric+": "+p.Text)
			}
		}
		require.Empty(t, ours, "Prometheus naming conventions")
	})

	t.Run("NoWebhookReceiver", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		fams := scrape(t, b.m.Handler(nil))
		require.False(t, has(fams, "concord_webhook_deliveries_total"))
		require.True(t, has(fams, "concord_records_processed_total"))
	})
}

func TestMetrics_State(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		b.snapshot = health.Snapshot{
			At: at, Ready: false, Reasons: []string{"system erp unreachable: dial tcp: connection refused"},
			Store: health.Store{Writable: true, CheckedAt: at},
			Systems: []health.System{
				{Name: "crm", Reachable: true, LastOK: at, RateLimitUse: 0.25},
				{Name: "erp", Reachable: false, ErrorStreak: 4, LastError: "connection refused", RateLimitUse: -1},
			},
			Flows: []health.Flow{
				{Flow: "customers", Leg: "customers", Source: "crm", Target: "erp", LastPollOK: at, Lag: 90 * time.Second,
					QueueDepth: 2, DeadLetters: 3, Quarantine: 1, Waiting: 4, PendingReviews: 5, OldestReview: at.Add(-time.Hour), LastError: "cust-4711: duplicate key"},
				{Flow: "customers", Leg: "customers:reverse", Source: "erp", Target: "crm", Failing: true, ErrorStreak: 2},
			},
		}
		fams := scrape(t, b.m.Handler(nil))
		fwd := map[string]string{"flow": "customers", "direction": "forward"}
		rev := map[string]string{"flow": "customers", "direction": "reverse"}
		require.InDelta(t, 90, value(t, fams, "concord_lag_seconds", fwd), 0)
		require.InDelta(t, 2, value(t, fams, "concord_queue_depth", fwd), 0)
		require.InDelta(t, 3, value(t, fams, "concord_dead_letters", fwd), 0)
		require.InDelta(t, 1, value(t, fams, "concord_quarantined_records", fwd), 0)
		require.InDelta(t, 4, value(t, fams, "concord_waiting_records", fwd), 0)
		require.InDelta(t, 5, value(t, fams, "concord_pending_reviews", fwd), 0)
		require.InDelta(t, float64(at.Add(-time.Hour).Unix()), value(t, fams, "concord_oldest_pending_review_timestamp_seconds", fwd), 0)
		require.InDelta(t, float64(at.Unix()), value(t, fams, "concord_last_successful_poll_timestamp_seconds", fwd), 0)
		require.InDelta(t, 0, value(t, fams, "concord_flow_failing", fwd), 0)
		require.InDelta(t, 1, value(t, fams, "concord_flow_failing", rev), 0)
		require.InDelta(t, 2, value(t, fams, "concord_flow_error_streak", rev), 0)
		require.InDelta(t, 1, value(t, fams, "concord_system_up", map[string]string{"system": "crm"}), 0)
		require.InDelta(t, 0, value(t, fams, "concord_system_up", map[string]string{"system": "erp"}), 0)
		require.InDelta(t, 4, value(t, fams, "concord_system_error_streak", map[string]string{"system": "erp"}), 0)
		require.InDelta(t, 0.25, value(t, fams, "concord_rate_limit_budget_use_ratio", map[string]string{"system": "crm"}), 0)
		require.InDelta(t, 1, value(t, fams, "concord_store_writable", nil), 0)
		require.InDelta(t, 0, value(t, fams, "concord_ready", nil), 0)

		// Never-happened times are absent, not 1970; so is the budget of a
		// system without one.
		for _, m := range fams["concord_last_successful_poll_timestamp_seconds"].GetMetric() {
			for _, lp := range m.GetLabel() {
				require.NotEqual(t, "reverse", lp.GetValue(), "the reverse leg never polled")
			}
		}
		require.Len(t, fams["concord_rate_limit_budget_use_ratio"].GetMetric(), 1)
		for _, f := range fams {
			for _, m := range f.GetMetric() {
				for _, lp := range m.GetLabel() {
					for _, s := range secrets {
						require.NotContains(t, lp.GetValue(), s)
					}
				}
			}
		}
	})

	t.Run("UnknownStateLeftOut", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.snapshot = health.Snapshot{Flows: []health.Flow{{Flow: "products", Leg: "products"}}}
		fams := scrape(t, b.m.Handler(nil))
		require.InDelta(t, 0, value(t, fams, "concord_lag_seconds", map[string]string{"flow": "products"}), 0)
		for _, name := range []string{"concord_ready", "concord_store_writable", "concord_system_up", "concord_last_poll_timestamp_seconds"} {
			require.False(t, has(fams, name), name)
		}
	})

	t.Run("NoSnapshot", func(t *testing.T) {
		t.Parallel()
		m := metrics.New(metrics.Options{Legs: legs})
		fams := scrape(t, m.Handler(nil))
		require.False(t, has(fams, "concord_lag_seconds"))
		require.True(t, has(fams, "concord_records_read_total"))
	})
}

func TestDirection(t *testing.T) {
	t.Parallel()
	for leg, want := range map[string]string{"customers": "forward", "customers:reverse": "reverse", "reverse": "forward"} {
		require.Equal(t, want, metrics.Direction(leg), leg)
	}
}

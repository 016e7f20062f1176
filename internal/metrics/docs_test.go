package metrics_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/health"
	"github.com/concord-sync/concord/internal/store"
)

// TestDocs_Metrics keeps docs/metrics.md true: every concord_ metric /metrics
// can export is listed with its type and labels, and every metric the page
// names exists.
func TestDocs_Metrics(t *testing.T) {
	t.Parallel()
	b := setup(t)
	at := time.Now()
	b.snapshot = health.Snapshot{
		At: at, Ready: true, Store: health.Store{Writable: true, CheckedAt: at},
		Systems: []health.System{{Name: "crm", Reachable: true, LastOK: at, RateLimitUse: 0.5}},
		Flows: []health.Flow{{Flow: "customers", Leg: "customers", LastPoll: at, LastPollOK: at, LastApplied: at,
			OldestReview: at, PendingReviews: 1}},
	}
	b.m.Recorded(engine.PieceReport{Leg: "customers", Flow: "customers", Target: "erp", At: at,
		Outcomes: map[store.Outcome]int{store.OutcomeCreated: 1}})
	fams := scrape(t, b.m.Handler(webhooks{{System: "crm"}}))

	raw, err := os.ReadFile("../../docs/metrics.md")
	require.NoError(t, err)
	doc := string(raw)
	row := regexp.MustCompile("(?m)^\\| `(concord_[a-z_]+)` \\| (\\w+) \\|([a-z, ]*)\\|")
	documented := map[string][2]string{}
	for _, m := range row.FindAllStringSubmatch(doc, -1) {
		documented[m[1]] = [2]string{m[2], strings.TrimSpace(m[3])}
	}

	types := map[dto.MetricType]string{dto.MetricType_COUNTER: "counter", dto.MetricType_GAUGE: "gauge", dto.MetricType_HISTOGRAM: "histogram"}
	for name, f := range fams {
		if !strings.HasPrefix(name, "concord_") {
			continue
		}
		d, ok := documented[name]
		require.True(t, ok, "docs/metrics.md lacks a row for %s", name)
		require.Equal(t, types[f.GetType()], d[0], "type of %s", name)
		var labels []string
		for _, lp := range f.GetMetric()[0].GetLabel() {
			if lp.GetName() != "le" {
				labels = append(labels, lp.GetName())
			}
		}
		var want []string
		if d[1] != "" {
			want = strings.Split(strings.ReplaceAll(d[1], " ", ""), ",")
		}
		slices.Sort(labels)
		slices.Sort(want)
		require.Equal(t, want, labels, "labels of %s", name)
	}
	for _, name := range regexp.MustCompile(`concord_[a-z_]+`).FindAllString(doc, -1) {
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_count"), "_sum")
		_, ok := fams[base]
		require.True(t, ok, "docs/metrics.md names %s, which /metrics does not export", name)
	}
}

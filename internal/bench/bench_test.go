package bench_test

import (
	"context"
	"io"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/bench"
)

// BenchmarkSync reports changes/s through the real SQLite store and queue, and the
// raw insert rate of the same rows; see docs/benchmarks.md.
func BenchmarkSync(b *testing.B) {
	stores := []string{"sqlite"}
	if os.Getenv("TEST_DATABASE_URL") != "" {
		stores = append(stores, "postgres")
	}
	for _, s := range stores {
		b.Run(s, func(b *testing.B) {
			for b.Loop() {
				r, err := bench.Run(context.Background(), bench.Params{Records: 20000, Store: s, DSN: os.Getenv("TEST_DATABASE_URL"), Dir: b.TempDir()})
				require.NoError(b, err)
				b.ReportMetric(r.ChangesPerS, "changes/s")
				b.ReportMetric(r.RawPerS, "raw-inserts/s")
				b.ReportMetric(float64(r.PeakHeap)/1e6, "peak-heap-MB")
			}
		})
	}
}

// TestRun checks the benchmark itself: every record arrives, through the
// streaming systems and the in-memory ones, and the figures are filled.
func TestRun(t *testing.T) {
	t.Parallel()
	for _, systems := range []string{"stream", "memory"} {
		t.Run(systems, func(t *testing.T) {
			r, err := bench.Run(context.Background(), bench.Params{Records: 500, BatchSize: 100, Store: "sqlite", Dir: t.TempDir(), Systems: systems})
			require.NoError(t, err)
			require.Equal(t, 500, r.Records)
			require.Positive(t, r.ChangesPerS)
			require.Positive(t, r.RawPerS)
			require.Positive(t, r.PeakHeap)
			if systems == "stream" {
				for i, rss := range r.RSSAt {
					require.Positive(t, rss, "RSS at mark %d", i)
				}
			}
		})
	}
	_, err := bench.Run(context.Background(), bench.Params{Records: 10, Store: "sqlite", Dir: t.TempDir(), Systems: "nope"})
	require.ErrorContains(t, err, `systems "nope"`)
}

// TestScenario_Engine runs the engine scenario small: one figure per store,
// next to a baseline from the same run, and a clear error for a missing DSN.
func TestScenario_Engine(t *testing.T) {
	t.Parallel()
	s, ok := bench.Lookup("engine")
	require.True(t, ok)
	figs, err := s.Run(context.Background(), bench.Env{Records: 300, BatchSize: 100, Stores: []string{"sqlite"}, Dir: t.TempDir(), Progress: io.Discard})
	require.NoError(t, err)
	require.Len(t, figs, 1)
	require.Equal(t, "changes/s", figs[0].Unit)
	require.Positive(t, figs[0].Value)
	require.Positive(t, figs[0].Baseline)
	require.Positive(t, figs[0].Ratio())

	_, err = s.Run(context.Background(), bench.Env{Records: 10, Stores: []string{"postgres"}, Dir: t.TempDir(), Progress: io.Discard})
	require.ErrorIs(t, err, bench.ErrMissing)
	_, ok = bench.Lookup("nope")
	require.False(t, ok)
}

func TestFigure_Ratio(t *testing.T) {
	t.Parallel()
	require.InDelta(t, 2.0, bench.Figure{Value: 50, Baseline: 100}.Ratio(), 1e-9)                     // a rate half the baseline's
	require.InDelta(t, 3.0, bench.Figure{Value: 30, Baseline: 10, LowerIsBetter: true}.Ratio(), 1e-9) // a duration three times as long
	require.Zero(t, bench.Figure{Value: 30}.Ratio())
}

func TestMedian(t *testing.T) {
	t.Parallel()
	require.Zero(t, bench.Median(nil))
	require.InDelta(t, 2.0, bench.Median([]float64{3, 1, 2}), 1e-9)
	require.InDelta(t, 2.5, bench.Median([]float64{4, 1, 3, 2}), 1e-9)
}

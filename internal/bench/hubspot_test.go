package bench

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestScenario_HubSpot runs the hubspot scenario small: every record is
// created with one upsert per 100 records and no batch read or failed request;
// the run is all first burst, which the figure says instead of a steady rate.
func TestScenario_HubSpot(t *testing.T) {
	t.Parallel()
	r, err := runHubSpot(context.Background(), hubspotParams{Records: 250, BatchSize: 100, Store: "sqlite", Dir: t.TempDir(), Limit: hubspotLimit})
	require.NoError(t, err)
	require.Equal(t, 3, r.Upserts) // 100 + 100 + 50
	require.Zero(t, r.BatchReads)
	require.Zero(t, r.Failed)
	require.GreaterOrEqual(t, r.Requests, r.Upserts+1) // and the link property's check
	require.Zero(t, r.SteadyUpserts)
	require.InDelta(t, 1900.0, r.Ceiling, 1e-9)

	s, ok := Lookup("hubspot")
	require.True(t, ok)
	figs, err := s.Run(context.Background(), Env{Records: 120, BatchSize: 100, Stores: []string{"sqlite"}, Dir: t.TempDir(), Progress: io.Discard})
	require.NoError(t, err)
	require.Len(t, figs, 1)
	require.Equal(t, "records/s", figs[0].Unit)
	require.Contains(t, figs[0].Case, "no steady figure")
	require.Contains(t, figs[0].Note, "2 upserts, 0 batch reads, 0 failed")
	require.Positive(t, figs[0].Value)
	require.Zero(t, figs[0].Ratio()) // a burst is not compared with the ceiling

	_, err = s.Run(context.Background(), Env{Records: 10, Stores: []string{"postgres"}, Dir: t.TempDir(), Progress: io.Discard})
	require.ErrorIs(t, err, ErrMissing)
}

// TestHubSpotResult_Figure: a run with a steady part is compared with the
// ceiling against the target.
func TestHubSpotResult_Figure(t *testing.T) {
	t.Parallel()
	f := hubspotResult{Records: 40000, Limit: 190, Elapsed: 30 * time.Second, Steady: 1805, SteadyUpserts: 200, Ceiling: 1900,
		Requests: 402, Upserts: 400}.figure("sqlite")
	require.Equal(t, "sqlite, 40000 creates, steady after the first 10s", f.Case)
	require.InDelta(t, 1900.0, f.Baseline, 1e-9)
	require.InDelta(t, 1900.0/1805, f.Ratio(), 1e-9)
	require.Contains(t, f.Target, "<= 1.05x")
	require.Contains(t, f.Note, "402 requests: 400 upserts, 0 batch reads, 0 failed")
}

func TestSteadyRate(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	call := func(arrived, answered, records int) upsertCall {
		return upsertCall{arrived: at(arrived), answered: at(answered), records: records}
	}
	tests := []struct {
		name  string
		calls []upsertCall
		rate  float64
		n     int
	}{
		{"None", nil, 0, 0},
		{"AllInTheBurst", []upsertCall{call(0, 5, 100), call(10, 15, 100), call(9999, 10005, 100)}, 0, 0},
		{"AfterTheWindow", []upsertCall{call(0, 5, 100), call(10, 15, 100), call(10000, 10010, 100), call(10500, 11000, 100)}, 200, 2},
		// Out of order (answers of concurrent requests): the earliest arrival
		// and the latest answer bound the steady part; a short last batch
		// counts what it carried.
		{"Unordered", []upsertCall{call(10500, 12000, 40), call(100, 105, 100), call(10200, 10300, 100)}, 140 / 1.9, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rate, n := steadyRate(tt.calls, 10*time.Second)
			require.Equal(t, tt.n, n)
			require.InDelta(t, tt.rate, rate, 1e-9)
		})
	}
}

// TestHubSpotFigure_Repeat: repeated runs print the median run's figure and
// every run's rate.
func TestHubSpotFigure_Repeat(t *testing.T) {
	t.Parallel()
	run := func(steady float64) hubspotResult {
		return hubspotResult{Records: 40000, Limit: 190, Elapsed: 22 * time.Second, Steady: steady, SteadyUpserts: 210, Ceiling: 1900}
	}
	f := hubspotFigure("sqlite", []hubspotResult{run(1900), run(1700), run(1850)})
	require.InDelta(t, 1850.0, f.Value, 1e-9)
	require.Contains(t, f.Case, "median run of 3")
	require.Contains(t, f.Note, "the runs' records/s 1900, 1700, 1850")

	f = hubspotFigure("sqlite", []hubspotResult{run(1800), run(1700)})
	require.InDelta(t, 1700.0, f.Value, 1e-9) // the lower middle: a run that happened

	f = hubspotFigure("sqlite", []hubspotResult{run(1800)})
	require.NotContains(t, f.Case, "median")
}

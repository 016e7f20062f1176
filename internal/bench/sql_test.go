package bench_test

import (
	"context"
	"io"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/bench"
)

// sqlEnv is an Env with the test databases; without them the test is
// skipped, and fails under CI.
func sqlEnv(t *testing.T, records int) bench.Env {
	t.Helper()
	pg, my := os.Getenv("TEST_DATABASE_URL"), os.Getenv("TEST_MYSQL_DSN")
	if pg == "" || my == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TEST_DATABASE_URL and TEST_MYSQL_DSN are not set")
		}
		t.Skip("TEST_DATABASE_URL and TEST_MYSQL_DSN are not set")
	}
	return bench.Env{Records: records, Stores: []string{"sqlite"}, PostgresDSN: pg, MySQLDSN: my, Dir: t.TempDir(), Progress: io.Discard}
}

// TestScenario_SQL runs the sql scenario small: the backfill and the 1%
// incremental, each next to the plain copy of the same run, and a clear
// error without the databases.
func TestScenario_SQL(t *testing.T) {
	t.Parallel()
	s, ok := bench.Lookup("sql")
	require.True(t, ok)
	figs, err := s.Run(context.Background(), sqlEnv(t, 1200))
	require.NoError(t, err)
	require.Len(t, figs, 2)
	require.Equal(t, "backfill 1200 rows", figs[0].Case)
	require.Equal(t, "incremental 1% (12 rows)", figs[1].Case)
	for _, f := range figs {
		require.Equal(t, "s", f.Unit)
		require.True(t, f.LowerIsBetter)
		require.Positive(t, f.Value, f.Case)
		require.Positive(t, f.Baseline, f.Case)
		require.Equal(t, "<= 3x", f.Target)
	}

	env := sqlEnv(t, 300)
	env.Repeat = 2
	figs, err = s.Run(context.Background(), env)
	require.NoError(t, err)
	require.Equal(t, "backfill 300 rows, median of 2", figs[0].Case)
	require.Equal(t, "incremental 1% (3 rows), median of 2", figs[1].Case)

	_, err = s.Run(context.Background(), bench.Env{Records: 10, Progress: io.Discard})
	require.ErrorIs(t, err, bench.ErrMissing)
}

// TestScenario_SQLEngine runs the sql-engine scenario small on the SQLite
// store: every row synced through the engine (RunSQLEngine checks the
// target's count), its rate next to the plain copy's, and the memory.
func TestScenario_SQLEngine(t *testing.T) {
	t.Parallel()
	s, ok := bench.Lookup("sql-engine")
	require.True(t, ok)
	env := sqlEnv(t, 1500)
	env.BatchSize = 200
	figs, err := s.Run(context.Background(), env)
	require.NoError(t, err)
	require.Len(t, figs, 2)
	require.Equal(t, "sqlite, backfill 1500 rows", figs[0].Case)
	require.Equal(t, "changes/s", figs[0].Unit)
	require.Positive(t, figs[0].Value)
	require.Positive(t, figs[0].Baseline)
	require.Equal(t, "MiB", figs[1].Unit)
	require.Positive(t, figs[1].Value)
	require.Equal(t, "<= 256 MiB", figs[1].Target)

	r, err := bench.RunSQLEngine(context.Background(), bench.SQLEngineParams{PostgresDSN: env.PostgresDSN, MySQLDSN: env.MySQLDSN,
		Rows: 300, BatchSize: 100, Store: "sqlite", Dir: t.TempDir()})
	require.NoError(t, err)
	for i, rss := range r.RSSAt {
		require.Positive(t, rss, "RSS at mark %d", i)
	}
	require.Positive(t, r.PeakRSS)

	_, err = s.Run(context.Background(), bench.Env{Records: 10, Stores: []string{"sqlite"}, Progress: io.Discard})
	require.ErrorIs(t, err, bench.ErrMissing)
}

package sqlconn_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/bench"
)

// BenchmarkBackfillPostgresToMySQL is `concord bench --scenario sql` as a Go
// benchmark (bench.RunSQL): accounts copied from PostgreSQL to MariaDB or
// MySQL through the connector and with a plain batched Go copy in the same
// run, backfill and 1% incremental. BENCH_ROWS sets the rows (default
// 100,000); BENCH_NO_INDEX=1 leaves the source's updated_at unindexed. It
// reports the seconds of each and the ratios connector/plain.
//
//	go test -run '^$' -bench BackfillPostgresToMySQL -benchtime 1x ./internal/connector/sql/
func BenchmarkBackfillPostgresToMySQL(b *testing.B) {
	pgDSN, myDSN := os.Getenv("TEST_DATABASE_URL"), os.Getenv("TEST_MYSQL_DSN")
	if pgDSN == "" || myDSN == "" {
		b.Skip("TEST_DATABASE_URL and TEST_MYSQL_DSN are needed")
	}
	rows := 100_000
	if s := os.Getenv("BENCH_ROWS"); s != "" {
		_, err := fmt.Sscan(s, &rows)
		require.NoError(b, err)
	}
	for b.Loop() {
		r, err := bench.RunSQL(context.Background(), bench.SQLParams{PostgresDSN: pgDSN, MySQLDSN: myDSN, Rows: rows, NoIndex: os.Getenv("BENCH_NO_INDEX") != ""})
		require.NoError(b, err)
		b.ReportMetric(r.PlainBackfill.Seconds(), "plain_backfill_s")
		b.ReportMetric(r.ConnBackfill.Seconds(), "connector_backfill_s")
		b.ReportMetric(r.ConnRead.Seconds(), "connector_read_s")
		b.ReportMetric(r.ConnWrite.Seconds(), "connector_write_s")
		b.ReportMetric(r.BackfillRatio, "backfill_ratio")
		b.ReportMetric(r.PlainIncr.Seconds(), "plain_incr_s")
		b.ReportMetric(r.ConnIncr.Seconds(), "connector_incr_s")
		b.ReportMetric(r.IncrRatio, "incr_ratio")
	}
}

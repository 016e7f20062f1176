package sqlconn_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	sqlconn "github.com/concord-sync/concord/internal/connector/sql"
	"github.com/concord-sync/concord/internal/model"
)

// BenchmarkBackfillPostgresToMySQL copies accounts from PostgreSQL to MariaDB
// or MySQL through the connector (Read pages of 500, Write batches of 500, as
// the engine does) and with a plain batched Go copy (INSERT ... ON DUPLICATE
// KEY UPDATE of 500 rows) in the same run, then changes 1% of the source rows
// and copies them again both ways. BENCH_ROWS sets the rows (default 100,000).
// It reports the seconds of each and the ratios connector/plain.
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
	ctx := context.Background()
	pg, err := sql.Open("pgx", pgDSN)
	require.NoError(b, err)
	defer pg.Close()
	my, err := sql.Open("mysql", myDSN)
	require.NoError(b, err)
	defer my.Close()

	src, dst, plain := randName("cc_bs_"), randName("cc_bd_"), randName("cc_bp_")
	pgDDL, myDDL := backends[1].ddl, backends[2].ddl
	for _, q := range pgDDL(src, src+"_p") {
		_, err := pg.ExecContext(ctx, q)
		require.NoError(b, err)
	}
	defer func() {
		_, _ = pg.ExecContext(ctx, `DROP TABLE "`+src+`", "`+src+`_p"`)
	}()
	for _, name := range []string{dst, plain} {
		for _, q := range myDDL(name, name+"_p") {
			_, err := my.ExecContext(ctx, q)
			require.NoError(b, err)
		}
		defer func() { _, _ = my.ExecContext(ctx, "DROP TABLE `"+name+"`, `"+name+"_p`") }()
	}
	_, err = pg.ExecContext(ctx, `INSERT INTO "`+src+`" (company_name, email, credit_limit, active, segment, since, updated_at)
		SELECT 'Company ' || i, 'billing' || i || '@example.com', 1000 + i * 0.01, i % 2 = 0, 'S' || (i % 3),
			DATE '2020-01-01' + (i % 365), TIMESTAMPTZ '2024-01-01 00:00:00+00' + i * INTERVAL '1 millisecond'
		FROM generate_series(1, $1) AS i`, rows)
	require.NoError(b, err)

	settings := func(driver, dsn, table string) map[string]any {
		return map[string]any{
			"driver": driver, "dsn": dsn,
			"entities": map[string]any{"account": map[string]any{
				"table": table, "id": "customer_id", "updated_at": "updated_at", "link": "crm_id", "archived": "archived",
				"fields": map[string]any{
					"name": "company_name", "email": "email", "active": "active",
					"credit_limit": map[string]any{"column": "credit_limit", "currency": "USD"},
					"segment_code": map[string]any{"column": "segment", "type": "text"},
					"since":        map[string]any{"column": "since", "type": "date"},
				},
			}},
		}
	}
	open := func(p map[string]any) *sqlconn.Conn {
		reg := connector.NewRegistry()
		sqlconn.Register(reg)
		spec, _ := reg.Lookup(sqlconn.Name)
		c, err := spec.Open(ctx, connector.OpenParams{System: "bench", Settings: p, Logger: slog.New(slog.DiscardHandler)})
		require.NoError(b, err)
		return c.(*sqlconn.Conn)
	}
	source := open(settings(sqlconn.DriverPostgres, pgDSN, src))
	defer source.Close(ctx)
	target := open(settings(sqlconn.DriverMySQL, myDSN, dst))
	defer target.Close(ctx)

	// links maps a source id to the target's id and version, as the engine's
	// link store would.
	links := map[string]connector.Result{}
	sync := func(cursor string) string {
		for {
			page, err := source.Read(ctx, connector.ReadRequest{Entity: model.Account, Cursor: cursor, Limit: 500})
			require.NoError(b, err)
			ops := make([]connector.Op, len(page.Records))
			for i, r := range page.Records {
				ops[i] = connector.Op{Kind: connector.OpCreate, LinkKey: r.ID, Fields: r.Fields}
				if l, ok := links[r.ID]; ok {
					ops[i] = connector.Op{Kind: connector.OpUpdate, ID: l.ID, Version: l.Version, LinkKey: r.ID, Fields: r.Fields}
				}
			}
			if len(ops) > 0 {
				res, err := target.Write(ctx, model.Account, ops)
				require.NoError(b, err)
				for i, r := range res {
					require.NoError(b, r.Err)
					links[page.Records[i].ID] = r
				}
			}
			cursor = page.Next
			if page.Done {
				return cursor
			}
		}
	}
	// copyPlain copies the source rows changed after since with batched
	// upserts: what a hand-written Go program would do.
	copyPlain := func(since time.Time) {
		q, err := pg.QueryContext(ctx, `SELECT customer_id, company_name, email, credit_limit::text, active, segment, since::text, updated_at
			FROM "`+src+`" WHERE updated_at > $1 ORDER BY updated_at, customer_id`, since)
		require.NoError(b, err)
		defer q.Close()
		const batch = 500
		var vals []any
		flush := func() {
			if len(vals) == 0 {
				return
			}
			n := len(vals) / 7
			stmt := "INSERT INTO `" + plain + "` (crm_id, company_name, email, credit_limit, active, segment, since, updated_at) VALUES " +
				strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6)), ", n), ", ") +
				" ON DUPLICATE KEY UPDATE company_name = VALUES(company_name), email = VALUES(email), credit_limit = VALUES(credit_limit)," +
				" active = VALUES(active), segment = VALUES(segment), since = VALUES(since), updated_at = VALUES(updated_at)"
			_, err := my.ExecContext(ctx, stmt, vals...)
			require.NoError(b, err)
			vals = vals[:0]
		}
		for q.Next() {
			var id, name, email, limit, segment, day string
			var active bool
			var at time.Time
			require.NoError(b, q.Scan(&id, &name, &email, &limit, &active, &segment, &day, &at))
			vals = append(vals, id, name, email, limit, active, segment, day)
			if len(vals) == batch*7 {
				flush()
			}
		}
		require.NoError(b, q.Err())
		flush()
	}

	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		copyPlain(time.Time{})
		plainFull := time.Since(t0)
		t0 = time.Now()
		cursor := sync("")
		connFull := time.Since(t0)
		b.StopTimer()
		var n int
		require.NoError(b, my.QueryRowContext(ctx, "SELECT COUNT(*) FROM `"+dst+"`").Scan(&n))
		require.Equal(b, rows, n)

		mark := time.Now().UTC()
		_, err = pg.ExecContext(ctx, `UPDATE "`+src+`" SET company_name = company_name || ' (changed)', updated_at = clock_timestamp() WHERE customer_id % 100 = 0`)
		require.NoError(b, err)
		b.StartTimer()
		t0 = time.Now()
		copyPlain(mark.Add(-time.Second))
		plainIncr := time.Since(t0)
		t0 = time.Now()
		sync(cursor)
		connIncr := time.Since(t0)
		b.StopTimer()
		require.NoError(b, my.QueryRowContext(ctx, "SELECT COUNT(*) FROM `"+dst+"` WHERE company_name LIKE '%(changed)'").Scan(&n))
		require.Equal(b, rows/100, n)
		b.StartTimer()

		b.ReportMetric(plainFull.Seconds(), "plain_backfill_s")
		b.ReportMetric(connFull.Seconds(), "connector_backfill_s")
		b.ReportMetric(connFull.Seconds()/plainFull.Seconds(), "backfill_ratio")
		b.ReportMetric(plainIncr.Seconds(), "plain_incr_s")
		b.ReportMetric(connIncr.Seconds(), "connector_incr_s")
		b.ReportMetric(connIncr.Seconds()/plainIncr.Seconds(), "incr_ratio")
	}
}

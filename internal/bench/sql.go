package bench

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	_ "github.com/go-sql-driver/mysql" // the "mysql" database/sql driver

	"github.com/concord-sync/concord/internal/connector"
	sqlconn "github.com/concord-sync/concord/internal/connector/sql"
	"github.com/concord-sync/concord/internal/model"
)

// SQLParams configure RunSQL.
type SQLParams struct {
	// PostgresDSN is where the source table is created, MySQLDSN (MariaDB or
	// MySQL) where the two target tables are; each is dropped afterwards.
	PostgresDSN string
	MySQLDSN    string
	// Rows is the size of the source table (default 100,000).
	Rows int
	// NoIndex leaves the source's updated_at column without the index that
	// concord doctor asks for, to show what a missing one costs.
	NoIndex bool
	Log     *slog.Logger
}

// SQLResult is what RunSQL measured. Every duration of the connector has the
// plain copy of the same rows, measured in the same run, next to it.
type SQLResult struct {
	Rows int
	// PlainBackfill and ConnBackfill copy every row into an empty table.
	PlainBackfill, ConnBackfill time.Duration
	// ConnRead and ConnWrite split ConnBackfill into the source's Read calls
	// and the target's Write calls.
	ConnRead, ConnWrite time.Duration
	// Changed rows (1%) are copied again from the backfill's position.
	Changed                  int
	PlainIncr, ConnIncr      time.Duration
	IncrRead, IncrWrite      time.Duration
	BackfillRatio, IncrRatio float64
}

// sqlPageSize is the page and batch size of both copies: sync.batch_size's
// default, with which the engine reads and writes.
const sqlPageSize = 500

// sqlScenario is the sql connector against a hand-written copy of the same
// rows (issue 13 item 1).
func sqlScenario() Scenario {
	return Scenario{
		Name:    "sql",
		Summary: "accounts copied PostgreSQL -> MariaDB through the sql connector's Read and Write (pages of 500, as the engine calls them), backfill and 1% incremental, against a plain batched Go copy",
		Needs:   "--dsn or TEST_DATABASE_URL (PostgreSQL) and --mysql-dsn or TEST_MYSQL_DSN (MariaDB/MySQL)",
		Run: func(ctx context.Context, env Env) ([]Figure, error) {
			if env.PostgresDSN == "" || env.MySQLDSN == "" {
				return nil, missing("sql", "--dsn or TEST_DATABASE_URL and --mysql-dsn or TEST_MYSQL_DSN")
			}
			rows := env.Records
			if rows == 0 {
				rows = 100_000
			}
			// Each run copies both ways, backfill then incremental; repeated,
			// the runs alternate and the medians are compared.
			runs := max(env.Repeat, 1)
			var cb, pb, ci, pi, rd, wr, ird, iwr []float64
			changed := 0
			for k := range runs {
				fmt.Fprintf(env.Progress, "sql: %d rows PostgreSQL -> MariaDB (run %d of %d)\n", rows, k+1, runs)
				r, err := RunSQL(ctx, SQLParams{PostgresDSN: env.PostgresDSN, MySQLDSN: env.MySQLDSN, Rows: rows, Log: env.Log})
				if err != nil {
					return nil, err
				}
				changed = r.Changed
				cb, pb = append(cb, r.ConnBackfill.Seconds()), append(pb, r.PlainBackfill.Seconds())
				ci, pi = append(ci, r.ConnIncr.Seconds()), append(pi, r.PlainIncr.Seconds())
				rd, wr = append(rd, r.ConnRead.Seconds()), append(wr, r.ConnWrite.Seconds())
				ird, iwr = append(ird, r.IncrRead.Seconds()), append(iwr, r.IncrWrite.Seconds())
			}
			suffix := ""
			if runs > 1 {
				suffix = fmt.Sprintf(", median of %d", runs)
			}
			const plain = "plain batched Go copy"
			return []Figure{
				{Scenario: "sql", Case: fmt.Sprintf("backfill %d rows%s", rows, suffix), Value: median(cb), Unit: "s",
					Baseline: median(pb), BaselineName: plain, LowerIsBetter: true, Target: "<= 3x",
					Note: fmt.Sprintf("Read %.2f s, Write %.2f s", median(rd), median(wr))},
				{Scenario: "sql", Case: fmt.Sprintf("incremental 1%% (%d rows)%s", changed, suffix), Value: median(ci), Unit: "s",
					Baseline: median(pi), BaselineName: plain, LowerIsBetter: true, Target: "<= 3x",
					Note: fmt.Sprintf("Read %.3f s, Write %.3f s", median(ird), median(iwr))},
			}, nil
		},
	}
}

// sqlTables are a PostgreSQL source table of accounts and MariaDB target
// tables, with random names, and the connections that made them.
type sqlTables struct {
	pg, my  *sql.DB
	src     string
	targets []string
}

// newSQLTables creates the source table filled with rows accounts, and one
// empty target table per name prefix. Close drops them.
func newSQLTables(ctx context.Context, pgDSN, myDSN string, rows int, index bool, targets ...string) (_ *sqlTables, err error) {
	s := &sqlTables{}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if s.pg, err = sql.Open("pgx", pgDSN); err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if s.my, err = sql.Open("mysql", myDSN); err != nil {
		return nil, fmt.Errorf("open mysql: %w", err)
	}
	src := randName("cc_bench_src_")
	if _, err := s.pg.ExecContext(ctx, `CREATE TABLE "`+src+`" (
		customer_id BIGSERIAL PRIMARY KEY,
		company_name TEXT NOT NULL,
		email TEXT,
		credit_limit NUMERIC(20,4),
		active BOOLEAN,
		segment TEXT,
		since DATE,
		crm_id TEXT UNIQUE,
		archived BOOLEAN NOT NULL DEFAULT false,
		updated_at TIMESTAMPTZ NOT NULL)`); err != nil {
		return nil, fmt.Errorf("create source table: %w", err)
	}
	s.src = src
	if index {
		// What docs/connectors/sql.md asks for, and concord doctor checks.
		if _, err := s.pg.ExecContext(ctx, `CREATE INDEX "`+src+`_updated_at" ON "`+src+`" (updated_at, customer_id)`); err != nil {
			return nil, fmt.Errorf("index source table: %w", err)
		}
	}
	if _, err := s.pg.ExecContext(ctx, `INSERT INTO "`+src+`" (company_name, email, credit_limit, active, segment, since, updated_at)
		SELECT 'Company ' || i, 'billing' || i || '@example.com', 1000 + i * 0.01, i % 2 = 0, 'S' || (i % 3),
			DATE '2020-01-01' + (i % 365), TIMESTAMPTZ '2024-01-01 00:00:00+00' + i * INTERVAL '1 millisecond'
		FROM generate_series(1, $1::int) AS i`, rows); err != nil {
		return nil, fmt.Errorf("fill source table: %w", err)
	}
	if _, err := s.pg.ExecContext(ctx, `ANALYZE "`+src+`"`); err != nil {
		return nil, fmt.Errorf("analyze source table: %w", err)
	}
	for _, prefix := range targets {
		name := randName(prefix)
		if _, err := s.my.ExecContext(ctx, "CREATE TABLE `"+name+"` ("+
			"customer_id BIGINT AUTO_INCREMENT PRIMARY KEY,"+
			"company_name VARCHAR(200) NOT NULL,"+
			"email VARCHAR(200),"+
			"credit_limit DECIMAL(20,4),"+
			"active TINYINT(1),"+
			"segment VARCHAR(50),"+
			"since DATE,"+
			"crm_id VARCHAR(100) UNIQUE,"+
			"archived TINYINT(1) NOT NULL DEFAULT 0,"+
			"updated_at DATETIME(6) NOT NULL) ENGINE=InnoDB"); err != nil {
			return nil, fmt.Errorf("create target table: %w", err)
		}
		s.targets = append(s.targets, name)
	}
	return s, nil
}

// Close drops the tables and closes the connections.
func (s *sqlTables) Close() {
	ctx := context.Background()
	if s.pg != nil {
		if s.src != "" {
			_, _ = s.pg.ExecContext(ctx, `DROP TABLE "`+s.src+`"`)
		}
		_ = s.pg.Close()
	}
	if s.my != nil {
		for _, t := range s.targets {
			_, _ = s.my.ExecContext(ctx, "DROP TABLE `"+t+"`")
		}
		_ = s.my.Close()
	}
}

// settings are the sql connector's settings mapping accounts onto table.
func sqlSettings(driver, dsn, table string) map[string]any {
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

// sqlFields are the account fields sqlSettings maps.
var sqlFields = []string{"name", "email", "active", "credit_limit", "segment_code", "since"}

// openSQL opens the sql connector through a registry, as the engine's wiring
// does.
func openSQL(ctx context.Context, system string, settings map[string]any, log *slog.Logger) (*sqlconn.Conn, error) {
	reg := connector.NewRegistry()
	sqlconn.Register(reg)
	spec, ok := reg.Lookup(sqlconn.Name)
	if !ok {
		return nil, errors.New("sql connector not registered")
	}
	if errs := spec.Validate(settings); len(errs) > 0 {
		return nil, fmt.Errorf("sql settings: %w", errors.Join(errs...))
	}
	c, err := spec.Open(ctx, connector.OpenParams{System: system, Settings: settings, Logger: log})
	if err != nil {
		return nil, err
	}
	return c.(*sqlconn.Conn), nil
}

// RunSQL copies p.Rows accounts from a new PostgreSQL table into a new MariaDB
// table twice in the same run: through the sql connector (Read pages of 500
// from the source, Write batches of 500 to the target, with a map of links
// as the engine's link store would keep), and with a plain Go program
// streaming the rows and writing INSERT ... ON DUPLICATE KEY UPDATE of 500
// rows. Then it changes 1% of the source rows and copies them again both
// ways, the connector from its backfill cursor. It checks that every row
// arrived. The tables are dropped afterwards.
func RunSQL(ctx context.Context, p SQLParams) (SQLResult, error) {
	if p.Rows <= 0 {
		p.Rows = 100_000
	}
	if p.Log == nil {
		p.Log = slog.New(slog.DiscardHandler)
	}
	res := SQLResult{Rows: p.Rows}
	tabs, err := newSQLTables(ctx, p.PostgresDSN, p.MySQLDSN, p.Rows, !p.NoIndex, "cc_bench_dst_", "cc_bench_plain_")
	if err != nil {
		return res, fmt.Errorf("bench sql: %w", err)
	}
	defer tabs.Close()
	dst, plain := tabs.targets[0], tabs.targets[1]
	source, err := openSQL(ctx, "bench-source", sqlSettings(sqlconn.DriverPostgres, p.PostgresDSN, tabs.src), p.Log)
	if err != nil {
		return res, fmt.Errorf("bench sql: %w", err)
	}
	defer source.Close(ctx)
	target, err := openSQL(ctx, "bench-target", sqlSettings(sqlconn.DriverMySQL, p.MySQLDSN, dst), p.Log)
	if err != nil {
		return res, fmt.Errorf("bench sql: %w", err)
	}
	defer target.Close(ctx)

	c := &connCopy{source: source, target: target, links: map[string]copyLink{}}
	if res.PlainBackfill, err = plainCopy(ctx, tabs.pg, tabs.my, tabs.src, plain, time.Time{}); err != nil {
		return res, err
	}
	t0 := time.Now()
	cursor, err := c.sync(ctx, "")
	if err != nil {
		return res, err
	}
	res.ConnBackfill, res.ConnRead, res.ConnWrite = time.Since(t0), c.read, c.write
	if err := countRows(ctx, tabs.my, dst, "", p.Rows); err != nil {
		return res, err
	}

	mark := time.Now().UTC()
	up, err := tabs.pg.ExecContext(ctx, `UPDATE "`+tabs.src+`" SET company_name = company_name || ' (changed)', updated_at = clock_timestamp() WHERE customer_id % 100 = 0`)
	if err != nil {
		return res, fmt.Errorf("bench sql: change rows: %w", err)
	}
	n, _ := up.RowsAffected()
	res.Changed = int(n)
	if res.PlainIncr, err = plainCopy(ctx, tabs.pg, tabs.my, tabs.src, plain, mark.Add(-time.Second)); err != nil {
		return res, err
	}
	c.read, c.write = 0, 0
	t0 = time.Now()
	if _, err := c.sync(ctx, cursor); err != nil {
		return res, err
	}
	res.ConnIncr, res.IncrRead, res.IncrWrite = time.Since(t0), c.read, c.write
	if err := countRows(ctx, tabs.my, dst, " WHERE company_name LIKE '%(changed)'", res.Changed); err != nil {
		return res, err
	}
	if err := countRows(ctx, tabs.my, plain, " WHERE company_name LIKE '%(changed)'", res.Changed); err != nil {
		return res, err
	}
	res.BackfillRatio = res.ConnBackfill.Seconds() / res.PlainBackfill.Seconds()
	res.IncrRatio = res.ConnIncr.Seconds() / res.PlainIncr.Seconds()
	return res, nil
}

// connCopy copies through the connectors the way the engine calls them.
type connCopy struct {
	source, target connector.Connector
	// links maps a source id to what the engine's link store would hold.
	links       map[string]copyLink
	read, write time.Duration
}

// copyLink is the target row of a source row and the versions last synced.
type copyLink struct {
	id, targetVersion, sourceVersion string
}

// sync pages from cursor until the source is done and returns the last cursor.
// A record delivered again at the version already synced (the overlap window)
// is dropped, as the engine drops it.
func (c *connCopy) sync(ctx context.Context, cursor string) (string, error) {
	for {
		t0 := time.Now()
		page, err := c.source.Read(ctx, connector.ReadRequest{Entity: model.Account, Cursor: cursor, Limit: sqlPageSize})
		if err != nil {
			return "", fmt.Errorf("bench sql: read: %w", err)
		}
		c.read += time.Since(t0)
		ops := make([]connector.Op, 0, len(page.Records))
		var versions []string
		for _, r := range page.Records {
			l, ok := c.links[r.ID]
			if ok && l.sourceVersion == r.Version {
				continue
			}
			op := connector.Op{Kind: connector.OpCreate, LinkKey: r.ID, Fields: r.Fields}
			if ok {
				op = connector.Op{Kind: connector.OpUpdate, ID: l.id, Version: l.targetVersion, LinkKey: r.ID, Fields: r.Fields}
			}
			ops = append(ops, op)
			versions = append(versions, r.Version)
		}
		if len(ops) > 0 {
			t0 = time.Now()
			res, err := c.target.Write(ctx, model.Account, ops)
			if err != nil {
				return "", fmt.Errorf("bench sql: write: %w", err)
			}
			c.write += time.Since(t0)
			for i, r := range res {
				if r.Err != nil {
					return "", fmt.Errorf("bench sql: write %s: %w", ops[i].LinkKey, r.Err)
				}
				c.links[ops[i].LinkKey] = copyLink{id: r.ID, targetVersion: r.Version, sourceVersion: versions[i]}
			}
		}
		cursor = page.Next
		if page.Done {
			return cursor, nil
		}
	}
}

// plainCopy copies the rows of src changed after since into dst with batched
// upserts: what a hand-written Go program would do.
func plainCopy(ctx context.Context, pg, my *sql.DB, src, dst string, since time.Time) (time.Duration, error) {
	t0 := time.Now()
	q, err := pg.QueryContext(ctx, `SELECT customer_id, company_name, email, credit_limit::text, active, segment, since::text, updated_at
		FROM "`+src+`" WHERE updated_at > $1 ORDER BY updated_at, customer_id`, since)
	if err != nil {
		return 0, fmt.Errorf("bench sql: plain copy: %w", err)
	}
	defer q.Close()
	const cols = 7
	vals := make([]any, 0, sqlPageSize*cols)
	flush := func() error {
		if len(vals) == 0 {
			return nil
		}
		n := len(vals) / cols
		stmt := "INSERT INTO `" + dst + "` (crm_id, company_name, email, credit_limit, active, segment, since, updated_at) VALUES " +
			strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6)), ", n), ", ") +
			" ON DUPLICATE KEY UPDATE company_name = VALUES(company_name), email = VALUES(email), credit_limit = VALUES(credit_limit)," +
			" active = VALUES(active), segment = VALUES(segment), since = VALUES(since), updated_at = VALUES(updated_at)"
		if _, err := my.ExecContext(ctx, stmt, vals...); err != nil {
			return fmt.Errorf("bench sql: plain copy: %w", err)
		}
		vals = vals[:0]
		return nil
	}
	for q.Next() {
		var id, name, email, limit, segment, day string
		var active bool
		var at time.Time
		if err := q.Scan(&id, &name, &email, &limit, &active, &segment, &day, &at); err != nil {
			return 0, fmt.Errorf("bench sql: plain copy: %w", err)
		}
		vals = append(vals, id, name, email, limit, active, segment, day)
		if len(vals) == sqlPageSize*cols {
			if err := flush(); err != nil {
				return 0, err
			}
		}
	}
	if err := q.Err(); err != nil {
		return 0, fmt.Errorf("bench sql: plain copy: %w", err)
	}
	if err := flush(); err != nil {
		return 0, err
	}
	return time.Since(t0), nil
}

// countRows checks that table holds want rows matching where.
func countRows(ctx context.Context, db *sql.DB, table, where string, want int) error {
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM `"+table+"`"+where).Scan(&n); err != nil {
		return fmt.Errorf("bench sql: count %s: %w", table, err)
	}
	if n != want {
		return fmt.Errorf("bench sql: %s holds %d rows%s, want %d", table, n, where, want)
	}
	return nil
}

// randName returns prefix and ten random hex digits: a table name no one else
// uses.
func randName(prefix string) string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

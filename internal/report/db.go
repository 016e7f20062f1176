package report

import (
	"context"
	"database/sql"
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// Dialects of the reporting database.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// DefaultSchema is the PostgreSQL schema of the reporting database.
const DefaultSchema = "concord_report"

// DefaultFile is the SQLite reporting database's file name, next to the
// store's file.
const DefaultFile = "concord-report.db"

//go:embed schema.sql
var schemaSQL string

//go:embed functions_postgres.sql
var functionsPostgres string

// Config says where the reporting database is.
type Config struct {
	// Driver is SQLite or Postgres.
	Driver string
	// Path is the SQLite file.
	Path string
	// DSN is the PostgreSQL connection string (URL or key=value).
	DSN string
	// Schema is the PostgreSQL schema; DefaultSchema when empty.
	Schema string
}

// DB is an open reporting database. It is safe for concurrent use.
type DB struct {
	db      *sql.DB
	dialect string
	where   string
	// schema is the PostgreSQL schema.
	schema string
}

// Open opens (creating if needed) the reporting database and brings its
// schema up to date. Close it.
func Open(ctx context.Context, cfg Config) (_ *DB, err error) {
	d := &DB{dialect: cfg.Driver}
	switch cfg.Driver {
	case SQLite, "":
		d.dialect = SQLite
		if err := registerOnce(); err != nil {
			return nil, err
		}
		d.where = cfg.Path
		d.db, err = sql.Open("sqlite", "file:"+cfg.Path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)")
		if err != nil {
			return nil, fmt.Errorf("report: open %s: %w", cfg.Path, err)
		}
	case Postgres:
		schema := cfg.Schema
		if schema == "" {
			schema = DefaultSchema
		}
		pc, err := pgx.ParseConfig(cfg.DSN)
		if err != nil {
			return nil, fmt.Errorf("report: postgres connection string: %w", err)
		}
		pc.RuntimeParams["search_path"] = schema
		d.where = "schema " + schema
		d.schema = schema
		d.db = stdlib.OpenDB(*pc)
		if _, err := d.db.ExecContext(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{schema}.Sanitize()); err != nil {
			_ = d.db.Close()
			return nil, fmt.Errorf("report: create schema %s: %w", schema, err)
		}
	default:
		return nil, fmt.Errorf("report: unknown driver %q (want %s or %s)", cfg.Driver, SQLite, Postgres)
	}
	if err := d.migrate(ctx); err != nil {
		_ = d.db.Close()
		return nil, err
	}
	return d, nil
}

// Dialect returns SQLite or Postgres.
func (d *DB) Dialect() string { return d.dialect }

// Where names the database for messages: the SQLite file or the PostgreSQL
// schema.
func (d *DB) Where() string { return d.where }

// SQL returns the underlying database, for the benchmarks and tests.
func (d *DB) SQL() *sql.DB { return d.db }

// Close closes the database.
func (d *DB) Close() error { return d.db.Close() }

// statements splits a SQL file into statements (each ends with ; at the end
// of a line) and drops comments-only pieces.
func statements(src string) []string {
	var out []string
	for part := range strings.SplitSeq(src, ";\n") {
		var keep []string
		for line := range strings.SplitSeq(part, "\n") {
			if t := strings.TrimSpace(line); t == "" || strings.HasPrefix(t, "--") {
				continue
			}
			keep = append(keep, line)
		}
		if s := strings.TrimSpace(strings.Join(keep, "\n")); s != "" {
			out = append(out, strings.TrimSuffix(s, ";"))
		}
	}
	return out
}

// migrate creates the tables and (re)creates the views, in one transaction.
func (d *DB) migrate(ctx context.Context) error {
	money := "TEXT"
	src := schemaSQL
	if d.dialect == Postgres {
		money = "NUMERIC"
		src = functionsPostgres + "\n" + src
	}
	src = strings.ReplaceAll(src, "{{money}}", money)
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("report: migrate %s: %w", d.where, err)
	}
	defer func() { _ = tx.Rollback() }()
	if d.dialect == Postgres {
		// one migration at a time (serve and a CLI run may open together)
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7320113)`); err != nil {
			return fmt.Errorf("report: migrate %s: %w", d.where, err)
		}
	}
	for _, s := range statements(src) {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("report: migrate %s: %w\n%s", d.where, err, s)
		}
	}
	if err := fillDates(ctx, tx, d.dialect); err != nil {
		return fmt.Errorf("report: migrate %s: %w", d.where, err)
	}
	return tx.Commit()
}

// The dates dim_date holds.
var (
	firstDate = time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)
	lastDate  = time.Date(2060, 12, 31, 0, 0, 0, 0, time.UTC)
)

// fillDates fills dim_date once.
func fillDates(ctx context.Context, tx *sql.Tx, dialect string) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM dim_date`).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	const per = 500
	var (
		b    strings.Builder
		args []any
	)
	flush := func() error {
		if len(args) == 0 {
			return nil
		}
		_, err := tx.ExecContext(ctx, b.String(), args...)
		b.Reset()
		args = args[:0]
		return err
	}
	for t := firstDate; !t.After(lastDate); t = t.AddDate(0, 0, 1) {
		if len(args) == 0 {
			b.WriteString(`INSERT INTO dim_date (date, day_number, year, quarter, month, month_no, weekday) VALUES `)
		} else {
			b.WriteString(", ")
		}
		b.WriteString(placeholders(dialect, len(args), 7))
		args = append(args, t.Format(time.DateOnly), int(t.Unix()/86400), t.Year(),
			fmt.Sprintf("%d-Q%d", t.Year(), (int(t.Month())+2)/3), t.Format("2006-01"), int(t.Month()), int(t.Weekday()))
		if len(args) >= per*7 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// placeholders returns "($k+1, ..., $k+n)" (SQLite accepts $N too).
func placeholders(_ string, k, n int) string {
	var b strings.Builder
	b.WriteByte('(')
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "$%d", k+i+1)
	}
	b.WriteByte(')')
	return b.String()
}

// errNoReport is returned by Run for a name no report has.
var errNoReport = errors.New("no such report")

package sqlconn

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/model"
)

var (
	_ connector.Connector = (*Conn)(nil)
	_ connector.Archiver  = (*Conn)(nil)
	_ connector.Pinger    = (*Conn)(nil)
)

// DefaultLimit is the page size Read uses when the request gives none.
const DefaultLimit = 500

// chunkSize is the most ids bound in one IN list.
const chunkSize = 500

// Conn is an opened sql system. It is safe for concurrent use.
type Conn struct {
	system string
	cfg    *config
	d      *dialect
	db     *sql.DB
	log    *slog.Logger

	closeOnce sync.Once
	closeErr  error

	clockMu sync.Mutex
	last    time.Time

	// digits are the numeric columns' limits per entity (FieldDigits).
	digits map[model.Entity]map[string]model.Digits
}

// Open validates settings and connects to the database. It pings the database
// and fails without leaking the pool when it cannot be reached. Settings
// without entities open a Conn that maps nothing, for Inspect (`concord init`).
func Open(ctx context.Context, p connector.OpenParams) (*Conn, error) {
	cfg, errs := decode(p.Settings, false)
	if len(errs) > 0 {
		return nil, fmt.Errorf("open sql system %s: %w: %w", p.System, errDecode, errs[0])
	}
	log := p.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.driver == DriverSQLite && p.Dir != "" && !strings.HasPrefix(cfg.dsn, "file:") && !strings.HasPrefix(cfg.dsn, ":memory:") && !filepath.IsAbs(cfg.dsn) {
		// A relative database file is relative to the config file.
		cfg.dsn = filepath.Join(p.Dir, cfg.dsn)
	}
	db, err := openDB(cfg)
	if err != nil {
		return nil, fmt.Errorf("open sql system %s: %w", p.System, err)
	}
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open sql system %s: ping: %w", p.System, classifyConn(err))
	}
	log.DebugContext(ctx, "sql connector opened", slog.String("driver", cfg.driver))
	c := &Conn{system: p.System, cfg: cfg, d: dialects[cfg.driver], db: db, log: log}
	if cfg.driver == DriverMySQL {
		c.d = mariaDBDialect(ctx, db, c.d, log)
	}
	c.loadDigits(ctx)
	return c, nil
}

// mariaDBDialect returns d with INSERT ... RETURNING turned on when the
// server is MariaDB 10.5 or later, which has it (MySQL has not): a batch of
// creates then learns its new ids from the INSERT instead of reading them
// back by link key. It returns d when the version cannot be read.
func mariaDBDialect(ctx context.Context, db *sql.DB, d *dialect, log *slog.Logger) *dialect {
	var v string
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&v); err != nil {
		log.DebugContext(ctx, "sql server version unknown", slog.String("error", err.Error()))
		return d
	}
	if !mariaDBReturning(v) {
		return d
	}
	m := *d
	m.returning = true
	return &m
}

// mariaDBReturning reports whether a server VERSION() is MariaDB 10.5 or
// later ("10.11.6-MariaDB-0+deb12u1").
func mariaDBReturning(version string) bool {
	if !strings.Contains(strings.ToLower(version), "mariadb") {
		return false
	}
	var major, minor int
	if _, err := fmt.Sscanf(version, "%d.%d", &major, &minor); err != nil {
		return false
	}
	return major > 10 || major == 10 && minor >= 5
}

// openDB builds the pool for cfg, injecting the password.
func openDB(cfg *config) (*sql.DB, error) {
	switch cfg.driver {
	case DriverSQLite:
		dsn := cfg.dsn
		if !strings.HasPrefix(dsn, "file:") {
			dsn = "file:" + dsn
		}
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		// foreign_keys(1): SQLite enforces declared foreign keys only when asked,
		// per connection; an order line must not point at a missing product.
		dsn += sep + "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_txlock=immediate"
		db, err := sql.Open("sqlite", dsn)
		if err != nil {
			return nil, fmt.Errorf("open sqlite: %w", err)
		}
		// One connection: SQLite has one writer, and waiting in the pool is
		// cheaper than SQLITE_BUSY.
		db.SetMaxOpenConns(1)
		return db, nil
	case DriverPostgres:
		pc, err := pgx.ParseConfig(cfg.dsn)
		if err != nil {
			return nil, fmt.Errorf("parse postgres dsn: %w", err)
		}
		if cfg.password != "" {
			pc.Password = cfg.password
		}
		return stdlib.OpenDB(*pc), nil
	case DriverMySQL:
		mc, err := mysql.ParseDSN(cfg.dsn)
		if err != nil {
			return nil, fmt.Errorf("parse mysql dsn: %w", err)
		}
		if cfg.password != "" {
			mc.Passwd = cfg.password
		}
		if !strings.Contains(cfg.dsn, "interpolateParams=") {
			// One round trip per statement instead of prepare, execute and
			// close: a batch binds thousands of values to a statement used once.
			mc.InterpolateParams = true
		}
		c, err := mysql.NewConnector(mc)
		if err != nil {
			return nil, fmt.Errorf("mysql connector: %w", err)
		}
		return sql.OpenDB(c), nil
	}
	return nil, fmt.Errorf("unknown driver %q", cfg.driver)
}

// DB returns the underlying pool, for tests and tools that prepare tables.
func (c *Conn) DB() *sql.DB { return c.db }

// Entities implements connector.Connector: the mapped entities in canonical
// order with their mapped fields.
func (c *Conn) Entities() []connector.EntityInfo {
	var out []connector.EntityInfo
	for _, e := range model.Entities {
		t, ok := c.cfg.entities[e]
		if !ok {
			continue
		}
		info := connector.EntityInfo{Entity: e}
		for _, col := range t.fields {
			info.Fields = append(info.Fields, col.field)
		}
		out = append(out, info)
	}
	return out
}

// table returns entity's mapping or an error wrapping connector.ErrUnsupported.
func (c *Conn) table(op string, e model.Entity) (*table, error) {
	t, ok := c.cfg.entities[e]
	if !ok {
		return nil, fmt.Errorf("%s %s: %w", op, e, connector.ErrUnsupported)
	}
	return t, nil
}

// now returns a strictly increasing UTC instant with microsecond precision, so
// two writes by this Conn never share an updated_at.
func (c *Conn) now() time.Time {
	c.clockMu.Lock()
	defer c.clockMu.Unlock()
	t := time.Now().UTC().Truncate(time.Microsecond)
	if !t.After(c.last) {
		t = c.last.Add(time.Microsecond)
	}
	c.last = t
	return t
}

// Ping implements connector.Pinger.
func (c *Conn) Ping(ctx context.Context) error {
	if err := c.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s: %w", c.system, err)
	}
	return nil
}

// Close implements connector.Connector; it is safe to call more than once.
func (c *Conn) Close(context.Context) error {
	c.closeOnce.Do(func() { c.closeErr = c.db.Close() })
	return c.closeErr
}

// chunks splits ids into slices of at most chunkSize, dropping duplicates.
func chunks(ids []string) [][]string {
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	var out [][]string
	for len(ids) > chunkSize {
		out = append(out, ids[:chunkSize])
		ids = ids[chunkSize:]
	}
	if len(ids) > 0 {
		out = append(out, ids)
	}
	return out
}

package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/concord-sync/concord/internal/store"
	"github.com/concord-sync/concord/internal/store/sqlstore"
)

//go:embed migration/sqlite/*.up.sql
var migrations embed.FS

// BusyTimeoutMillis is how long a statement waits for another process's lock
// before failing with SQLITE_BUSY.
const BusyTimeoutMillis = 10000

// Store is the SQLite store; it implements store.Store and is safe for
// concurrent use (calls are serialised on one connection).
type Store struct {
	*sqlstore.Store
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the SQLite database at path, sets WAL mode,
// busy_timeout, foreign keys and synchronous=NORMAL, limits the pool to one
// connection, and applies pending migrations. path may be ":memory:" for a
// private in-memory database; it must not contain '?'. A nil logger discards
// logs.
func Open(ctx context.Context, path string, logger *slog.Logger) (*Store, error) {
	if path == "" || strings.Contains(path, "?") {
		return nil, fmt.Errorf("open sqlite store: bad path %q", path)
	}
	dsn := path + fmt.Sprintf("?_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)"+
		"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate", BusyTimeoutMillis)
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite store: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open sqlite store: %w", err)
	}
	s := &Store{Store: sqlstore.New(sqlstore.Config{
		DB:                db,
		Dialect:           sqlstore.SQLite,
		Logger:            logger,
		IsUniqueViolation: isUniqueViolation,
	})}
	ms, err := sqlstore.LoadMigrations(migrations, "migration/sqlite")
	if err == nil {
		err = s.Migrate(ctx, ms)
	}
	if err == nil {
		err = s.PrepareHot(ctx)
	}
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open sqlite store: %w", err)
	}
	return s, nil
}

func isUniqueViolation(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

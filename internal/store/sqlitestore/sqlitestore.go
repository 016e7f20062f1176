package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
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
// busy_timeout, foreign keys, synchronous=NORMAL and temp_store=MEMORY, limits
// the writing pool to one connection (with a read-only pool beside it for the
// engine's lookups outside a transaction), and applies pending migrations. path may be ":memory:" for a
// private in-memory database; it must not contain '?'. A new database file is
// created with mode 0600 (its -wal and -shm files take the same mode); an
// existing file's mode is left alone. A nil logger discards logs.
func Open(ctx context.Context, path string, logger *slog.Logger) (*Store, error) {
	if path == "" || strings.Contains(path, "?") {
		return nil, fmt.Errorf("open sqlite store: bad path %q", path)
	}
	if err := prepareFile(path); err != nil {
		return nil, fmt.Errorf("open sqlite store: %w", err)
	}
	dsn := path + fmt.Sprintf("?_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)"+
		"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_pragma=temp_store(MEMORY)"+
		"&_txlock=immediate", BusyTimeoutMillis)
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	var reader *sql.DB
	if path != ":memory:" { // a second :memory: pool would be another database
		reader, err = openReader(ctx, path)
		if err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
		}
	}
	s := &Store{Store: sqlstore.New(sqlstore.Config{
		Reader:            reader,
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
		_ = s.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	return s, nil
}

// readers is the size of the read-only pool: WAL lets readers run beside the
// one writer, so the engine's lookups need not wait for a recording
// transaction to commit.
const readers = 2

// openReader opens the read-only pool for the store's hot lookups.
func openReader(ctx context.Context, path string) (*sql.DB, error) {
	dsn := path + fmt.Sprintf("?_pragma=busy_timeout(%d)&_pragma=query_only(1)", BusyTimeoutMillis)
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(readers)
	db.SetMaxIdleConns(readers)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("read pool: %w", err)
	}
	return db, nil
}

// FileMode is the mode of a database file the store creates: it holds customer
// data and webhook bodies, so only its owner may read it.
const FileMode = 0o600

// prepareFile creates the database file at path with FileMode when it does not
// exist, and checks that an existing one can be opened for reading and writing,
// so that a bad path fails with the operating system's reason (no such
// directory, permission denied) rather than SQLite's "unable to open database
// file". SQLite gives the -wal and -shm files the mode of the database file.
func prepareFile(path string) error {
	if path == ":memory:" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, FileMode)
	if errors.Is(err, fs.ErrExist) {
		f, err = os.OpenFile(path, os.O_RDWR, 0)
	}
	if err != nil {
		return err
	}
	return f.Close()
}

func isUniqueViolation(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

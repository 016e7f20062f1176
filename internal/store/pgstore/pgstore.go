package pgstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver

	"github.com/concord-sync/concord/internal/store"
	"github.com/concord-sync/concord/internal/store/sqlstore"
)

//go:embed migration/postgres/*.up.sql
var migrations embed.FS

// Store is the PostgreSQL store; it implements store.Store and is safe for
// concurrent use.
type Store struct {
	*sqlstore.Store
}

var _ store.Store = (*Store)(nil)

// Open connects to PostgreSQL with dsn (URL or key=value form, as pgx accepts),
// checks the connection and applies pending migrations under an advisory lock.
// A nil logger discards logs.
func Open(ctx context.Context, dsn string, logger *slog.Logger) (*Store, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	// database/sql keeps 2 idle connections by default: the poller, the
	// workers (each holding its leg's lock on a pinned connection), the
	// recording transactions and River's fetcher and completer need more at
	// once, and every connection over 2 was closed after use and opened again
	// (a new backend and new statement descriptions each time).
	db.SetMaxIdleConns(idleConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	s := &Store{Store: sqlstore.New(sqlstore.Config{
		DB:                db,
		Dialect:           sqlstore.Postgres,
		Logger:            logger,
		IsUniqueViolation: isUniqueViolation,
		// Unnamed statements with cached descriptions: one round trip, and each
		// batch is planned for its own arrays (a cached generic plan for
		// "= ANY($n)" can fall back to a sequential scan).
		BatchArgs: []any{pgx.QueryExecModeCacheDescribe},
	})}
	ms, err := sqlstore.LoadMigrations(migrations, "migration/postgres")
	if err == nil {
		err = s.Migrate(ctx, ms)
	}
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	return s, nil
}

// idleConns is how many connections the pool keeps open between uses.
const idleConns = 16

func isUniqueViolation(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == "23505"
}

package queue

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"

	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/concord-sync/concord/internal/store"
	"github.com/concord-sync/concord/internal/store/sqlstore"
)

// migrate creates or upgrades River's tables and the claim-check payload table
// in the store's database.
//
// On PostgreSQL it first takes, on a connection of its own, the advisory lock
// that Concord's own migrations take (sqlstore.PostgresMigrationLockKey), and
// holds it until both are done: nodes starting together on a fresh database
// migrate one after the other, the first applies everything and the others
// find it applied. Without it two nodes both found River's tables missing and
// one died on a duplicate key. The lock is session-level because River commits
// each of its versions on its own (a later version uses an enum value an
// earlier one adds, which PostgreSQL allows only once that is committed).
func migrate(ctx context.Context, st store.Store, drv riverdriver.Driver[*sql.Tx], logger *slog.Logger) (err error) {
	migrator, err := rivermigrate.New(drv, &rivermigrate.Config{Logger: quiet(logger)})
	if err != nil {
		return fmt.Errorf("queue: migrator: %w", err)
	}
	if st.Dialect() == "postgres" {
		unlock, err := lockMigrations(ctx, st.DB())
		if err != nil {
			return err
		}
		defer func() { err = errors.Join(err, unlock()) }()
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("queue: migrate river tables: %w", err)
	}
	if _, err := st.DB().ExecContext(ctx, payloadDDL[st.Dialect()]); err != nil {
		return fmt.Errorf("queue: create payload table: %w", err)
	}
	return nil
}

// lockMigrations takes the PostgreSQL migration lock on a pinned connection and
// returns the func that releases it. A connection whose unlock fails is
// discarded rather than returned to the pool still holding the lock.
func lockMigrations(ctx context.Context, db *sql.DB) (func() error, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("queue: lock migrations: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock("+sqlstore.PostgresMigrationLockKey+")"); err != nil {
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		_ = conn.Close()
		return nil, fmt.Errorf("queue: lock migrations: %w", err)
	}
	return func() error {
		_, err := conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock("+sqlstore.PostgresMigrationLockKey+")")
		if err != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		_ = conn.Close()
		if err != nil {
			return fmt.Errorf("queue: unlock migrations: %w", err)
		}
		return nil
	}, nil
}

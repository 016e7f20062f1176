package sqlstore

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Migration is one numbered schema change.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// LoadMigrations reads NNN_name.up.sql files from dir in fsys, ordered by
// version. Versions must be unique.
func LoadMigrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []Migration
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".up.sql") {
			continue
		}
		num, rest, ok := strings.Cut(name, "_")
		if !ok {
			return nil, fmt.Errorf("migration %q: name is not NNN_name.up.sql", name)
		}
		version, err := strconv.Atoi(num)
		if err != nil || version <= 0 {
			return nil, fmt.Errorf("migration %q: bad version", name)
		}
		body, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("read migration %q: %w", name, err)
		}
		out = append(out, Migration{Version: version, Name: strings.TrimSuffix(rest, ".up.sql"), SQL: string(body)})
	}
	slices.SortFunc(out, func(a, b Migration) int { return a.Version - b.Version })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("migration version %d used twice", out[i].Version)
		}
	}
	return out, nil
}

// PostgresMigrationLockKey is the key of the advisory lock (one per schema)
// under which every schema change of a Concord store on PostgreSQL runs:
// Concord's own migrations (Migrate, a transaction-level lock) and the queue's
// (River's tables, internal/queue, a session-level lock, as River commits each
// of its versions on its own). Transaction- and session-level advisory locks on
// one key exclude each other, so nodes that start together wait here in turn,
// and each finds the others' changes applied.
const PostgresMigrationLockKey = "hashtext('concord_migration.' || current_schema())"

// Migrate applies the migrations not yet recorded in concord_migration, all in
// one transaction. It is idempotent, and on PostgreSQL it holds an advisory lock
// (per schema) so that nodes starting together migrate once.
func (s *Store) Migrate(ctx context.Context, migrations []Migration) error {
	return s.inTx(ctx, func(o *ops) error {
		if o.pg() {
			if _, err := o.q.ExecContext(ctx, "SELECT pg_advisory_xact_lock("+PostgresMigrationLockKey+")"); err != nil {
				return fmt.Errorf("lock migrations: %w", err)
			}
		}
		timeType := "INTEGER"
		if o.pg() {
			timeType = "TIMESTAMPTZ"
		}
		if _, err := o.q.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS concord_migration (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at `+timeType+` NOT NULL
)`); err != nil {
			return fmt.Errorf("create migration table: %w", err)
		}
		applied, err := o.queryIDs(ctx, "SELECT version FROM concord_migration")
		if err != nil {
			return fmt.Errorf("read applied migrations: %w", err)
		}
		for _, m := range migrations {
			if slices.Contains(applied, int64(m.Version)) {
				continue
			}
			if _, err := o.q.ExecContext(ctx, m.SQL); err != nil {
				return fmt.Errorf("apply migration %03d_%s: %w", m.Version, m.Name, err)
			}
			if _, err := o.q.ExecContext(ctx,
				o.rebind("INSERT INTO concord_migration (version, name, applied_at) VALUES (?, ?, ?)"),
				m.Version, m.Name, o.timeArg(now())); err != nil {
				return fmt.Errorf("record migration %03d_%s: %w", m.Version, m.Name, err)
			}
			s.logger.InfoContext(ctx, "store migrated",
				slog.String("dialect", string(s.dialect)), slog.Int("version", m.Version), slog.String("name", m.Name))
		}
		return nil
	})
}

package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/stretchr/testify/require"
)

// Logger returns a logger writing to tb.Log, at debug level when CONCORD_DEBUG=1.
// Records logged after tb's cleanups have run (by goroutines that outlive the
// test) are dropped instead of panicking.
func Logger(tb testing.TB) *slog.Logger {
	level := slog.LevelInfo
	if os.Getenv("CONCORD_DEBUG") == "1" {
		level = slog.LevelDebug
	}
	w := &tbWriter{tb: tb}
	tb.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

type tbWriter struct {
	tb   testing.TB
	mu   sync.Mutex
	done bool
}

var _ io.Writer = (*tbWriter)(nil)

func (w *tbWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.tb.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

// PostgresURL returns TEST_DATABASE_URL. When it is unset the test fails if
// CI=true, and is skipped with a message otherwise.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv("TEST_DATABASE_URL")
	if dsn != "" {
		return dsn
	}
	if os.Getenv("CI") == "true" {
		tb.Fatal("TEST_DATABASE_URL is not set, and PostgreSQL tests are required when CI=true " +
			"(e.g. TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test?sslmode=disable)")
	}
	tb.Skip("TEST_DATABASE_URL is not set: skipping PostgreSQL tests")
	return ""
}

// PostgresSchema creates a fresh schema test_<random> in the database of base,
// drops it (cascading) when tb ends, and returns base with search_path set to it.
func PostgresSchema(tb testing.TB, base string) string {
	tb.Helper()
	var raw [6]byte
	_, err := rand.Read(raw[:])
	require.NoError(tb, err)
	schema := "test_" + hex.EncodeToString(raw[:])

	db, err := sql.Open("pgx", base)
	require.NoError(tb, err)
	ctx := context.Background()
	_, err = db.ExecContext(ctx, "CREATE SCHEMA "+schema)
	require.NoError(tb, err, "create schema")
	tb.Cleanup(func() {
		_, err := db.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		_ = db.Close()
		require.NoError(tb, err, "drop schema")
	})
	return WithSearchPath(tb, base, schema)
}

// WithSearchPath returns dsn (URL or key=value form) with search_path set.
func WithSearchPath(tb testing.TB, dsn, schema string) string {
	tb.Helper()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		require.NoError(tb, err)
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema
}

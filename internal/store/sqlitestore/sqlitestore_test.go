package sqlitestore_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
	"github.com/concord-sync/concord/internal/store/sqlitestore"
	"github.com/concord-sync/concord/internal/store/storetest"
)

func openTemp(tb testing.TB) *sqlitestore.Store {
	tb.Helper()
	s, err := sqlitestore.Open(tb.Context(), filepath.Join(tb.TempDir(), "concord.db"), storetest.Logger(tb))
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

func TestStore_Exercise(t *testing.T) {
	t.Parallel()
	storetest.Exercise(t, func(t *testing.T) store.Store { return openTemp(t) })
}

func TestOpen(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		path := filepath.Join(t.TempDir(), "concord.db")
		s, err := sqlitestore.Open(ctx, path, storetest.Logger(t))
		require.NoError(t, err)
		require.Equal(t, "sqlite", s.Dialect())
		require.Equal(t, 1, s.DB().Stats().MaxOpenConnections)

		var mode string
		require.NoError(t, s.DB().QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode))
		require.Equal(t, "wal", mode)
		var fk, sync, busy int
		require.NoError(t, s.DB().QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk))
		require.Equal(t, 1, fk)
		require.NoError(t, s.DB().QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync))
		require.Equal(t, 1, sync, "NORMAL")
		require.NoError(t, s.DB().QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy))
		require.Equal(t, sqlitestore.BusyTimeoutMillis, busy)

		_, err = s.InsertEvents(ctx, []store.Event{{Flow: "f", Outcome: store.OutcomeCreated}})
		require.NoError(t, err)
		require.NoError(t, s.Close())

		// Reopening migrates nothing twice and keeps the data.
		s, err = sqlitestore.Open(ctx, path, storetest.Logger(t))
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		var versions int
		require.NoError(t, s.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM concord_migration").Scan(&versions))
		files, err := os.ReadDir("migration/sqlite")
		require.NoError(t, err)
		require.Equal(t, len(files), versions, "one row per migration file")
		events, err := s.ListEvents(ctx, nil)
		require.NoError(t, err)
		require.Len(t, events, 1)
	})

	t.Run("Memory", func(t *testing.T) {
		t.Parallel()
		s, err := sqlitestore.Open(t.Context(), ":memory:", nil)
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		_, err = s.InsertEvents(t.Context(), []store.Event{{Flow: "f"}})
		require.NoError(t, err)
	})

	t.Run("ErrBadPath", func(t *testing.T) {
		t.Parallel()
		_, err := sqlitestore.Open(t.Context(), "x.db?mode=ro", nil)
		require.Error(t, err)
		_, err = sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "missing", "dir", "x.db"), nil)
		require.Error(t, err)
	})
}

func BenchmarkInsertBatch(b *testing.B) {
	b.Run("WriteOnly", func(b *testing.B) { storetest.BenchInsertBatch(b, openTemp(b), false) })
	b.Run("WithLookups", func(b *testing.B) { storetest.BenchInsertBatch(b, openTemp(b), true) })
}

// TestStore_LookupsBesideWriter: the engine's hot lookups made outside a
// transaction (links, fingerprints) run on the read-only pool, so they answer
// while a recording transaction holds the one writer connection, and they see
// only what is committed. Without the read pool they wait for the writer.
func TestStore_LookupsBesideWriter(t *testing.T) {
	t.Parallel()
	s := openTemp(t)
	ctx := t.Context()
	at := time.Now().UTC()
	require.NoError(t, s.InTx(ctx, func(tx store.Tx) error {
		return tx.PutLinks(ctx, &store.PutLinksParams{Links: []store.Link{{Entity: model.Account, ConcordID: "k1", System: "crm", ExternalID: "c1", CreatedAt: at, UpdatedAt: at}}})
	}))
	require.NoError(t, s.InTx(ctx, func(tx store.Tx) error {
		if err := tx.PutLinks(ctx, &store.PutLinksParams{Links: []store.Link{{Entity: model.Account, ConcordID: "k2", System: "crm", ExternalID: "c2", CreatedAt: at, UpdatedAt: at}}}); err != nil {
			return err
		}
		if err := tx.PutFingerprints(ctx, []store.Fingerprint{{Flow: "f", System: "crm", Entity: model.Account, ExternalID: "c2", Hash: "h", UpdatedAt: at}}); err != nil {
			return err
		}
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		links, err := s.GetLinks(lctx, &store.GetLinksParams{System: "crm", Entity: model.Account, ExternalIDs: []string{"c1", "c2"}})
		require.NoError(t, err, "a lookup outside the transaction waited for the writer")
		require.Contains(t, links, "c1")
		require.NotContains(t, links, "c2", "an uncommitted link was read")
		fps, err := s.GetFingerprints(lctx, &store.GetFingerprintsParams{Flow: "f", System: "crm", Entity: model.Account, ExternalIDs: []string{"c2"}})
		require.NoError(t, err)
		require.Empty(t, fps, "an uncommitted fingerprint was read")
		return nil
	}))
	links, err := s.GetLinks(ctx, &store.GetLinksParams{System: "crm", Entity: model.Account, ExternalIDs: []string{"c1", "c2"}})
	require.NoError(t, err)
	require.Len(t, links, 2, "committed links are read from the read pool")
}

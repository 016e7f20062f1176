package pgstore_test

import (
	"os"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
	"github.com/concord-sync/concord/internal/store/pgstore"
	"github.com/concord-sync/concord/internal/store/storetest"
)

func openSchema(tb testing.TB) *pgstore.Store {
	tb.Helper()
	dsn := storetest.PostgresSchema(tb, storetest.PostgresURL(tb))
	s, err := pgstore.Open(tb.Context(), dsn, storetest.Logger(tb))
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

func TestStore_Exercise(t *testing.T) {
	t.Parallel()
	storetest.PostgresURL(t) // fail under CI, skip locally, when unset
	storetest.Exercise(t, func(t *testing.T) store.Store { return openSchema(t) })
}

func TestOpen(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		dsn := storetest.PostgresSchema(t, storetest.PostgresURL(t))
		s, err := pgstore.Open(ctx, dsn, storetest.Logger(t))
		require.NoError(t, err)
		require.Equal(t, "postgres", s.Dialect())
		_, err = s.InsertEvents(ctx, []store.Event{{Flow: "f", Outcome: store.OutcomeCreated}})
		require.NoError(t, err)
		require.NoError(t, s.Close())

		// Reopening migrates nothing twice and keeps the data.
		s, err = pgstore.Open(ctx, dsn, storetest.Logger(t))
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		var versions int
		require.NoError(t, s.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM concord_migration").Scan(&versions))
		files, err := os.ReadDir("migration/postgres")
		require.NoError(t, err)
		require.Equal(t, len(files), versions, "one row per migration file")
		events, err := s.ListEvents(ctx, nil)
		require.NoError(t, err)
		require.Len(t, events, 1)
	})

	t.Run("ErrUnreachable", func(t *testing.T) {
		t.Parallel()
		_, err := pgstore.Open(t.Context(), "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=2", nil)
		require.Error(t, err)
	})
}

func BenchmarkInsertBatch(b *testing.B) {
	b.Run("WriteOnly", func(b *testing.B) { storetest.BenchInsertBatch(b, openSchema(b), false) })
	b.Run("WithLookups", func(b *testing.B) { storetest.BenchInsertBatch(b, openSchema(b), true) })
}

// TestOpen_KeepsConnections: the engine's poller, workers, recording
// transactions and River use several connections at once; the pool keeps
// them open between uses instead of closing all but two and connecting again
// (a new backend and new statement descriptions each time).
func TestOpen_KeepsConnections(t *testing.T) {
	t.Parallel()
	s := openSchema(t)
	for range 5 {
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				_, err := s.GetLinks(t.Context(), &store.GetLinksParams{System: "crm", Entity: model.Account, ExternalIDs: []string{"c1"}})
				assert.NoError(t, err)
			})
		}
		wg.Wait()
	}
	st := s.DB().Stats()
	require.Zero(t, st.MaxIdleClosed, "connections closed for want of idle room: %+v", st)
	require.Zero(t, st.MaxIdleTimeClosed)
}

package queue_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"io/fs"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/queue"
	"github.com/concord-sync/concord/internal/store/pgstore"
	"github.com/concord-sync/concord/internal/store/sqlitestore"
	"github.com/concord-sync/concord/internal/store/storetest"
)

// freshDatabase creates an empty PostgreSQL database concord_migrate_<random>
// on the server of TEST_DATABASE_URL, drops it when t ends, and returns its URL.
func freshDatabase(t *testing.T) string {
	t.Helper()
	base := storetest.PostgresURL(t)
	var raw [6]byte
	_, err := rand.Read(raw[:])
	require.NoError(t, err)
	name := "concord_migrate_" + hex.EncodeToString(raw[:])
	admin, err := sql.Open("pgx", base)
	require.NoError(t, err)
	_, err = admin.ExecContext(t.Context(), "CREATE DATABASE "+name)
	require.NoError(t, err, "create database")
	t.Cleanup(func() {
		_, err := admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		_ = admin.Close()
		require.NoError(t, err, "drop database")
	})
	u, err := url.Parse(base)
	require.NoError(t, err, "TEST_DATABASE_URL must be a postgres:// URL")
	u.Path = "/" + name
	return u.String()
}

// TestQueue_MigrateNodesTogether starts three nodes at once (store open and
// queue.New each) on a fresh PostgreSQL database: all must come up. River's
// migration ran outside the lock Concord's migrations take, and one node died
// with a duplicate key. Several rounds, as the race needs the nodes to meet.
func TestQueue_MigrateNodesTogether(t *testing.T) {
	t.Parallel()
	const rounds, nodes = 3, 3
	for round := range rounds {
		dsn := freshDatabase(t)
		start := make(chan struct{})
		errs := make([]error, nodes)
		var wg sync.WaitGroup
		for i := range nodes {
			wg.Go(func() {
				<-start
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				st, err := pgstore.Open(ctx, dsn, storetest.Logger(t))
				if err != nil {
					errs[i] = err
					return
				}
				defer st.Close()
				q, err := queue.New(ctx, st, queue.Config{Legs: []string{"customers"}}, storetest.Logger(t))
				if err != nil {
					errs[i] = err
					return
				}
				errs[i] = q.Stop(ctx)
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			require.NoError(t, err, "round %d node %d", round, i)
		}
	}
}

// TestQueue_LockFileMode: the SQLite queue lock file is created readable by its
// owner only.
func TestQueue_LockFileMode(t *testing.T) {
	t.Parallel()
	path := t.TempDir() + "/concord.db"
	st, err := sqlitestore.Open(context.Background(), path, storetest.Logger(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	q := newQueue(t, st)
	require.NoError(t, q.Start(context.Background(), &recorder{}))
	defer q.Stop(context.Background())
	fi, err := os.Stat(path + ".queue.lock")
	require.NoError(t, err)
	require.Equal(t, fs.FileMode(0o600), fi.Mode().Perm())
}

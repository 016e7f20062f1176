package sqlitestore_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/store"
	"github.com/concord-sync/concord/internal/store/sqlitestore"
	"github.com/concord-sync/concord/internal/store/storetest"
)

// TestOpen_FileMode checks that the store's files (the database and its -wal
// and -shm files) are created readable by their owner only, and that an
// existing database keeps the mode its owner gave it.
func TestOpen_FileMode(t *testing.T) {
	t.Parallel()

	mode := func(t *testing.T, path string) fs.FileMode {
		t.Helper()
		fi, err := os.Stat(path)
		require.NoError(t, err)
		return fi.Mode().Perm()
	}
	write := func(t *testing.T, path string) {
		t.Helper()
		s, err := sqlitestore.Open(t.Context(), path, storetest.Logger(t))
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		_, err = s.InsertEvents(t.Context(), []store.Event{{Flow: "f", Outcome: store.OutcomeCreated}})
		require.NoError(t, err)
	}

	t.Run("OKNewFiles0600", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "concord.db")
		write(t, path)
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			require.Equal(t, fs.FileMode(0o600), mode(t, p), p)
		}
	})

	t.Run("OKExistingModeKept", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "concord.db")
		require.NoError(t, os.WriteFile(path, nil, 0o640))
		require.NoError(t, os.Chmod(path, 0o640))
		write(t, path)
		require.Equal(t, fs.FileMode(0o640), mode(t, path))
	})
}

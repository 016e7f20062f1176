package demo_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/demo"
)

func TestPrepareDir(t *testing.T) {
	t.Parallel()

	t.Run("CreatesAndMarks", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join(t.TempDir(), "a", "demo")
		require.NoError(t, demo.PrepareDir(dir))
		require.FileExists(t, filepath.Join(dir, demo.DirMarker))
	})

	t.Run("MarksAnEmptyDirectory", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		require.NoError(t, demo.PrepareDir(dir))
		require.FileExists(t, filepath.Join(dir, demo.DirMarker))
	})

	t.Run("ReusesItsOwnRemovingOnlyItsFiles", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		require.NoError(t, demo.PrepareDir(dir))
		for _, name := range []string{"concord.yaml", "concord.db", "concord.db-wal", "erp.db", "hubspot.token", "odoo.password", "notes.txt"} {
			require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600))
		}
		require.NoError(t, os.Mkdir(filepath.Join(dir, ".git"), 0o755))
		require.NoError(t, demo.PrepareDir(dir))
		for _, gone := range []string{"concord.yaml", "concord.db", "concord.db-wal", "erp.db", "hubspot.token", "odoo.password"} {
			require.NoFileExists(t, filepath.Join(dir, gone))
		}
		require.FileExists(t, filepath.Join(dir, "notes.txt"), "a file the demo did not write stays")
		require.DirExists(t, filepath.Join(dir, ".git"))
		require.FileExists(t, filepath.Join(dir, demo.DirMarker))
	})

	t.Run("ErrNotOurs", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "concord.db"), []byte("precious"), 0o600))
		require.NoError(t, os.Mkdir(filepath.Join(dir, ".git"), 0o755))
		err := demo.PrepareDir(dir)
		require.ErrorIs(t, err, demo.ErrDirNotOurs)
		require.Contains(t, err.Error(), dir)
		b, err := os.ReadFile(filepath.Join(dir, "concord.db"))
		require.NoError(t, err)
		require.Equal(t, "precious", string(b), "nothing touched")
		require.DirExists(t, filepath.Join(dir, ".git"))
		require.NoFileExists(t, filepath.Join(dir, demo.DirMarker))
	})

	t.Run("ErrNotADirectory", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "file")
		require.NoError(t, os.WriteFile(path, []byte("x"), 0o600))
		require.Error(t, demo.PrepareDir(path))
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		require.Equal(t, "x", string(b))
	})
}

func TestDatabaseName(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	a, err := demo.DatabaseName(filepath.Join(base, "one"))
	require.NoError(t, err)
	b, err := demo.DatabaseName(filepath.Join(base, "two"))
	require.NoError(t, err)
	again, err := demo.DatabaseName(filepath.Join(base, "x", "..", "one"))
	require.NoError(t, err)
	require.Regexp(t, regexp.MustCompile(`^concord_demo_[0-9a-f]{8}$`), a)
	require.NotEqual(t, a, b, "two directories, two databases")
	require.Equal(t, a, again, "the same directory, the same database")
	require.NotEqual(t, "concord_demo", a)
}

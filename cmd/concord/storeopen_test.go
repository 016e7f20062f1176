package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/examples/quickstart"
)

// TestCLI_StoreOpenFails checks that a store that cannot be opened gives the
// operating system's or the database's reason and exit code 1, never a panic
// (an interface holding a nil store used to be closed on the way out).
func TestCLI_StoreOpenFails(t *testing.T) {
	t.Parallel()

	// setup writes the quickstart with its store section replaced by store.
	setup := func(t *testing.T, store func(dir string) string) (dir, cfg string) {
		t.Helper()
		dir = t.TempDir()
		require.NoError(t, quickstart.Setup(context.Background(), dir, false))
		cfg = filepath.Join(dir, "concord.yaml")
		body := strings.Replace(string(quickstart.Config), "  driver: sqlite\n  path: concord.db\n", store(dir), 1)
		require.NotEqual(t, string(quickstart.Config), body)
		require.NoError(t, os.WriteFile(cfg, []byte(body), 0o600))
		return dir, cfg
	}

	for _, tc := range []struct {
		name  string
		store func(dir string) string
		want  string
	}{
		{"ErrNoSuchDirectory", func(string) string { return "  driver: sqlite\n  path: no/such/dir/concord.db\n" }, "no/such/dir/concord.db: no such file or directory"},
		{"ErrDirectory", func(string) string { return "  driver: sqlite\n  path: .\n" }, "is a directory"},
		{"ErrNotADatabase", func(string) string { return "  driver: sqlite\n  path: crm.yaml\n" }, "crm.yaml: file is not a database"},
		{"ErrPostgresDown", func(string) string {
			return "  driver: postgres\n  dsn: postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=5\n"
		}, "connect"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir, cfg := setup(t, tc.store)
			if tc.name == "ErrNotADatabase" {
				require.NoError(t, os.WriteFile(filepath.Join(dir, "crm.yaml"), []byte(strings.Repeat("not a database\n", 20)), 0o600))
			}
			for _, args := range [][]string{
				{"sync", "--once", "--progress", "off"},
				{"plan"},
				{"links"},
				{"deadletter", "list"},
			} {
				out, code := run(t, append(args, "--config", cfg)...)
				require.Equal(t, exitRuntime, code, "%v: %s", args, out)
				require.Contains(t, out, "open store", "%v", args)
				require.Contains(t, out, tc.want, "%v", args)
			}
		})
	}
}

package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/config"
)

func TestLoad_FileSecret(t *testing.T) {
	t.Parallel()

	// load writes a config whose crm password is file:ref (line 3, column 76)
	// and loads it.
	load := func(t *testing.T, dir, ref string) (string, error) {
		t.Helper()
		path := filepath.Join(dir, "concord.yaml")
		data := "version: 1\nowner: a@example.com\nsystems: [{name: crm, connector: sql, settings: {table: t, password: " + ref + "}}]\n"
		require.NoError(t, os.WriteFile(path, []byte(data), 0o600))
		cfg, err := config.Load(path, testRegistry())
		if err != nil {
			return path, err
		}
		crm, _ := cfg.System("crm")
		return crm.Settings["password"].(string), nil
	}
	secret := func(t *testing.T, mode os.FileMode, body []byte) string {
		t.Helper()
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "pw"), body, 0o600))
		require.NoError(t, os.Chmod(filepath.Join(dir, "pw"), mode))
		return dir
	}

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		for _, mode := range []os.FileMode{0o600, 0o400, 0o644, 0o640} {
			got, err := load(t, secret(t, mode, []byte("s3cr3t\n")), "file:pw")
			require.NoError(t, err, "mode %04o", mode)
			require.Equal(t, "s3cr3t", got)
		}
		got, err := load(t, secret(t, 0o600, []byte(strings.Repeat("k", config.MaxSecretFileBytes))), "file:pw")
		require.NoError(t, err, "exactly the limit")
		require.Len(t, got, config.MaxSecretFileBytes)
	})

	t.Run("ErrWritableByOthers", func(t *testing.T) {
		t.Parallel()
		for _, mode := range []os.FileMode{0o620, 0o602, 0o666, 0o660} {
			path, err := load(t, secret(t, mode, []byte("s3cr3t\n")), "file:pw")
			require.Error(t, err, "mode %04o", mode)
			require.Contains(t, err.Error(), path+":3:")
			require.Contains(t, err.Error(), "unresolved secret file:pw in system crm settings.password: the file is writable by its group or by others")
			require.Contains(t, err.Error(), "chmod go-w")
			require.NotContains(t, err.Error(), "s3cr3t")
		}
	})

	t.Run("ErrTooLarge", func(t *testing.T) {
		t.Parallel()
		path, err := load(t, secret(t, 0o600, []byte(strings.Repeat("k", config.MaxSecretFileBytes+1))), "file:pw")
		require.Error(t, err)
		require.Contains(t, err.Error(), path+":3:")
		require.Contains(t, err.Error(), "the file is larger than 64 KiB")
	})

	t.Run("ErrDevZeroFast", func(t *testing.T) {
		t.Parallel()
		start := time.Now()
		path, err := load(t, t.TempDir(), "file:/dev/zero")
		require.Less(t, time.Since(start), 2*time.Second)
		require.Error(t, err)
		require.Contains(t, err.Error(), path+":3:")
		require.Contains(t, err.Error(), "unresolved secret file:/dev/zero in system crm settings.password: not a regular file")
	})

	t.Run("ErrDirectory", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		require.NoError(t, os.Mkdir(filepath.Join(dir, "pw"), 0o700))
		_, err := load(t, dir, "file:pw")
		require.ErrorContains(t, err, "not a regular file")
	})
}

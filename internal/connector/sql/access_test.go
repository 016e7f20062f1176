package sqlconn

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWritable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "erp.db")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	require.True(t, writable(file))
	require.True(t, writable(dir))
	require.False(t, writable(filepath.Join(dir, "missing", "erp.db")))
}

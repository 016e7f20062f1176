package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/config"
	"github.com/concord-sync/concord/internal/connector"
)

// docsExample returns the complete example of docs/config.md: its first yaml
// code block.
func docsExample(t *testing.T) []byte {
	t.Helper()
	doc := string(mustRead(t, filepath.Join("..", "..", "docs", "config.md")))
	const fence = "```yaml\n"
	for rest := doc; ; {
		i := strings.Index(rest, fence)
		require.NotEqual(t, -1, i, "docs/config.md has a complete yaml example")
		rest = rest[i+len(fence):]
		block := rest[:strings.Index(rest, "```")]
		if strings.Contains(block, "\nflows:") {
			return []byte(block)
		}
	}
}

// TestDocs_Example keeps docs/config.md honest: its complete example loads,
// and validates against the JSON Schema.
func TestDocs_Example(t *testing.T) {
	t.Parallel()
	data := docsExample(t)

	t.Run("Loads", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "secrets"), 0o700))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "secrets", "tryton_password"), []byte("tryton-pw\n"), 0o600))
		reg := connector.NewRegistry()
		reg.Register(connector.Spec{Name: "sql", Fields: []connector.Field{{Name: "password", Secret: true}}, Open: noOpen})
		reg.Register(connector.Spec{Name: "tryton", Fields: []connector.Field{{Name: "password", Secret: true}}, Open: noOpen})
		env := func(name string) (string, bool) {
			if name == "CRM_DB_PASSWORD" {
				return "crm-pw", true
			}
			return "", false
		}
		cfg, err := config.Parse(filepath.Join(dir, "concord.yaml"), data, reg, env)
		require.NoError(t, err)
		require.Equal(t, config.DefaultConfig().Sync, cfg.Sync, "the example shows the defaults")
		require.Equal(t, filepath.Join(dir, "concord.db"), cfg.Store.Path)
		erp, ok := cfg.System("erp")
		require.True(t, ok)
		require.Equal(t, "tryton-pw", erp.Settings["password"])
		require.Len(t, cfg.Flows, 3)
	})

	t.Run("MatchesSchema", func(t *testing.T) {
		t.Parallel()
		require.NoError(t, compileSchema(t).Validate(yamlInstance(t, data)))
	})
}

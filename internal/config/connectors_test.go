package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/config"
	"github.com/concord-sync/concord/internal/connector/all"
)

// TestLoad_Connectors checks testdata/TestLoad_Connectors/<case>.yaml against
// <case>.golden with the shipped connectors: a misspelt setting points at its
// own line with a "did you mean", and every problem of a settings block is
// reported at once. Run with -update to rewrite the golden files.
func TestLoad_Connectors(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "TestLoad_Connectors", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	reg := all.Registry(all.Deps{})
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Parse(file, mustRead(t, file), reg, lookupEnv)
			var cerr *config.Error
			require.ErrorAs(t, err, &cerr)
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test -update to create the golden file")
			require.Equal(t, string(want), got)
		})
	}
}

func TestSystem_SettingLine(t *testing.T) {
	t.Parallel()
	const file = `version: 1
owner: jane.doe@example.com
systems:
  - name: erp
    connector: sql
    settings:
      driver: sqlite
      dsn: erp.db
      entities:
        account:
          table: customers
          id: customer_id
          updated_at: updated_at
          link: crm_id
          fields:
            name: company_name
            phone:
              column: phone
entities:
  account:
    fields:
      name: {owner: erp}
flows: []
`
	cfg, err := config.Parse("concord.yaml", []byte(file), all.Registry(all.Deps{}), lookupEnv)
	require.NoError(t, err)
	sys, ok := cfg.System("erp")
	require.True(t, ok)
	for path, want := range map[string]int{
		"entities.account.table":               11,
		"entities.account.fields.name":         16,
		"entities.account.fields.phone":        17,
		"entities.account.fields.phone.column": 18,
		"entities.account.fields.email":        15, // not in the file: its parent
		"entities.contact.table":               9,
		"dsn":                                  8,
		"":                                     6,
	} {
		line, _ := sys.SettingLine(path)
		require.Equal(t, want, line, path)
	}
}

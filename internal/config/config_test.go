package config_test

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/config"
	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/match"
	"github.com/concord-sync/concord/internal/model"
)

var update = flag.Bool("update", false, "rewrite the golden files of TestLoad")

// testEnv is the environment the tests resolve env: references from.
var testEnv = map[string]string{
	"CRM_DSN":              "postgres://crm:pw-from-env@db/crm",
	"CRM_PASSWORD":         "pw-from-env",
	"CONCORD_DATABASE_URL": "postgres://concord:db-pw-from-env@db/concord",
	"HUBSPOT_TOKEN":        "token-from-env",
	"TRYTON_PASSWORD":      "tryton-from-env",
	"SMTP_PASSWORD":        "smtp-pw-from-env",
	"ALERT_WEBHOOK_URL":    "https://hooks.example.com/services/T0/B0/token-from-env",
}

func lookupEnv(name string) (string, bool) {
	v, ok := testEnv[name]
	return v, ok
}

func noOpen(context.Context, connector.OpenParams) (connector.Connector, error) {
	return nil, errors.New("not in tests")
}

// testRegistry has a fake "sql" connector whose Validate exercises every way
// a connector reports problems, and permissive "hubspot" and "tryton" specs for
// the documentation example.
func testRegistry() *connector.Registry {
	reg := connector.NewRegistry()
	reg.Register(connector.Spec{
		Name:    "sql",
		Summary: "fake SQL connector",
		Fields: []connector.Field{
			{Name: "table", Type: "string", Required: true},
			{Name: "dsn", Type: "string"},
			{Name: "password", Type: "string", Secret: true},
			{Name: "entities", Type: "map"},
		},
		Validate: func(s map[string]any) []error {
			var errs []error
			if _, ok := s["table"]; !ok {
				errs = append(errs, &connector.SettingError{Path: "table", Msg: "required"})
			}
			if ents, ok := s["entities"].(map[string]any); ok {
				if acc, ok := ents["account"].(map[string]any); ok && acc["table"] == "bad" {
					errs = append(errs, &connector.SettingError{Path: "entities.account.table", Msg: "no such table"})
				}
				if c, ok := ents["contact"].(map[string]any); ok && c["table"] == nil {
					errs = append(errs, errors.Join(
						&connector.SettingError{Path: "entities.contact.table", Msg: "required"},
						&connector.SettingError{Msg: "entities need a table each"},
					))
				}
			}
			if s["mode"] == "broken" {
				errs = append(errs, errors.New("mode broken is not supported"))
			}
			if tables, ok := s["tables"].([]any); ok && len(tables) > 2 && tables[2] == "bad" {
				errs = append(errs, &connector.SettingError{Path: "tables[2]", Msg: "bad table"})
			}
			return errs
		},
		Open: noOpen,
	})
	reg.Register(connector.Spec{Name: "hubspot", Fields: []connector.Field{{Name: "token", Secret: true}}, Open: noOpen})
	reg.Register(connector.Spec{Name: "tryton", Fields: []connector.Field{{Name: "password", Secret: true}}, Open: noOpen})
	return reg
}

// TestLoad checks each testdata/TestLoad/<case>.yaml (but full.yaml, checked
// by TestLoad_Full) against <case>.golden: the expected problems, one
// FILE:LINE:COL: message per line. Run with -update to rewrite the golden files.
func TestLoad(t *testing.T) {
	t.Parallel()
	// A checkout under umask 002 leaves the secret group-writable, which file:
	// references refuse.
	require.NoError(t, os.Chmod(filepath.Join("testdata", "TestLoad", "secrets", "erp_password"), 0o600))
	files, err := filepath.Glob(filepath.Join("testdata", "TestLoad", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	reg := testRegistry()
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		if name == "full" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(file)
			require.NoError(t, err)
			cfg, err := config.Parse(file, data, reg, lookupEnv)
			require.Error(t, err, "every case but full.yaml has problems")
			require.Nil(t, cfg)
			var cerr *config.Error
			require.ErrorAs(t, err, &cerr)
			for _, p := range cerr.Problems {
				require.Equal(t, file, p.File)
				require.Positive(t, p.Line, p.Msg)
				require.Positive(t, p.Col, p.Msg)
			}
			require.True(t, slices.IsSortedFunc(cerr.Problems, func(a, b config.Problem) int {
				if a.Line != b.Line {
					return a.Line - b.Line
				}
				return a.Col - b.Col
			}), "problems sorted by position")
			got := err.Error() + "\n"
			for _, secret := range []string{"hunter2", "12345", "pw-from-env", "from-a-file"} {
				require.NotContains(t, got, secret, "a secret leaked into a message")
			}
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

func TestLoad_Full(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join("testdata", "TestLoad", "full.yaml")
		cfg, err := config.Parse(path, mustRead(t, path), testRegistry(), lookupEnv)
		require.NoError(t, err)

		dir, err := filepath.Abs(filepath.Join("testdata", "TestLoad"))
		require.NoError(t, err)
		require.Equal(t, path, cfg.Path)
		require.Equal(t, dir, cfg.Dir)
		require.Len(t, cfg.Version, 12)
		require.Equal(t, "jane.doe@example.com", cfg.Owner)
		require.Equal(t, config.Store{Driver: "sqlite", Path: filepath.Join(dir, "data", "concord.db")}, cfg.Store)
		require.Equal(t, config.Sync{
			BatchSize: 200, Workers: 2, Partitions: 4, PollInterval: 15 * time.Second, Overlap: 3 * time.Second,
			Retry: config.Retry{MaxAttempts: 7, Backoff: 2 * time.Second, MaxBackoff: 10 * time.Minute}, WaitLimit: 48 * time.Hour,
		}, cfg.Sync)

		require.Len(t, cfg.Systems, 2)
		crm, ok := cfg.System("crm")
		require.True(t, ok)
		require.Equal(t, "sql", crm.Connector)
		require.Equal(t, 15, crm.Line)
		require.Equal(t, map[string]any{
			"dsn":      "postgres://crm:pw-from-env@db/crm",
			"password": "pw-from-env",
			"table":    "accounts",
			"entities": map[string]any{"account": map[string]any{"table": "accounts", "batch": int64(50)}},
		}, crm.Settings)
		erp, ok := cfg.System("erp")
		require.True(t, ok)
		require.Equal(t, "from-a-file", erp.Settings["password"], "file secret read and its newline trimmed")
		require.Equal(t, "postgres://erp@127.0.0.1:5432/erp", erp.Settings["dsn"], "a DSN without a password is not a secret")
		require.Equal(t, []any{"a", "b"}, erp.Settings["hosts"])
		require.Equal(t, true, erp.Settings["verify"])
		require.Equal(t, "file:erp.db?mode=ro", erp.Settings["uri"], "file: outside secret settings is a value, not a reference")
		_, ok = cfg.System("mdm")
		require.False(t, ok)

		acc := cfg.Entities[model.Account]
		require.NotNil(t, acc)
		require.Equal(t, model.Account, acc.Name)
		require.Len(t, acc.Fields, 6)
		require.Equal(t, &config.Field{Name: "name", Owner: "crm", Type: model.TypeText, Required: true, Clean: []string{"trim"}}, acc.Fields["name"])
		require.Equal(t, []string{"trim", "email"}, acc.Fields["email"].Clean)
		require.Equal(t, &config.Field{Name: "credit_limit", Owner: "erp", Type: model.TypeMoney}, acc.Fields["credit_limit"])
		require.Equal(t, &config.Field{Name: "segment_code", Owner: "crm", Type: model.TypeText, Custom: true}, acc.Fields["segment_code"])

		require.Len(t, cfg.Flows, 4)
		customers, ok := cfg.Flow("customers")
		require.True(t, ok)
		require.Equal(t, "crm", customers.Source)
		require.Equal(t, "erp", customers.Target)
		require.Equal(t, model.Account, customers.Entity)
		require.Equal(t, config.TriggerChange, customers.Trigger)
		require.Equal(t, time.Minute, customers.Every)
		require.Equal(t, config.ModeOneWay, customers.Mode)
		require.Empty(t, customers.Conflict)
		require.Equal(t, []string{"name", "email", "phone", "country", "segment_code"}, customers.Fields)
		require.Equal(t, 46, customers.Line)
		require.Equal(t, config.UnlinkedMatch, customers.Unlinked, "accounts are matched by default")
		require.Empty(t, customers.ReverseUnlinked)

		deflt := cfg.Flows[1]
		require.Equal(t, "account-erp-to-crm", deflt.Name, "default flow name")
		require.Equal(t, config.TriggerDealWon, deflt.Trigger)
		require.Zero(t, deflt.Every)
		require.Equal(t, config.UnlinkedUpdateOnly, deflt.Unlinked)

		cat, ok := cfg.Flow("catalogue")
		require.True(t, ok)
		require.Equal(t, config.TriggerSchedule, cat.Trigger)
		require.Equal(t, time.Hour, cat.Every)
		require.Equal(t, config.UnlinkedMatch, cat.Unlinked)

		two, ok := cfg.Flow("customers-two-way")
		require.True(t, ok)
		require.True(t, two.IsTwoWay())
		require.Equal(t, config.ConflictOwnerUnlessBlank, two.Conflict)
		require.Equal(t, config.UnlinkedMatch, two.Unlinked)
		require.Equal(t, config.UnlinkedCreate, two.ReverseUnlinked)
		_, ok = cfg.Flow("nope")
		require.False(t, ok)
	})

	t.Run("Defaults", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "concord.yaml")
		data := []byte("version: 1\nowner: ops@example.com\nsystems: [{name: crm, connector: sql, settings: {table: t}}]\n")
		cfg, err := config.Parse(path, data, testRegistry(), lookupEnv)
		require.NoError(t, err)
		def := config.DefaultConfig()
		require.Equal(t, def.Sync, cfg.Sync)
		require.Equal(t, config.Store{Driver: "sqlite", Path: filepath.Join(filepath.Dir(path), "concord.db")}, cfg.Store)
		require.Empty(t, cfg.Flows)
		require.Empty(t, cfg.Entities)
	})

	t.Run("Match", func(t *testing.T) {
		t.Parallel()
		data := []byte(`version: 1
owner: ops@example.com
systems: [{name: crm, connector: sql, settings: {table: t}}, {name: erp, connector: sql, settings: {table: u}}]
entities:
  account:
    fields: {name: {owner: crm}}
    match: {keys: [customer_number], review: 0.85}
  deal:
    fields: {name: {owner: crm}}
    match: {fields: [name], auto_link: 1}
  invoice:
    fields: {number: {owner: crm}}
flows:
  - {name: a, source: crm, target: erp, entity: account, fields: [name], mode: two-way, conflict: owner_wins}
  - {name: d, source: crm, target: erp, entity: deal, fields: [name]}
  - {name: i, source: crm, target: erp, entity: invoice, fields: [number]}
`)
		cfg, err := config.Parse("concord.yaml", data, testRegistry(), lookupEnv)
		require.NoError(t, err)
		rules, ok := cfg.MatchRules(model.Account)
		require.True(t, ok)
		def, _ := match.DefaultRules(model.Account)
		require.Equal(t, match.Rules{Keys: []string{"customer_number"}, Fields: def.Fields, AutoLink: def.AutoLink, Review: 0.85}, rules, "unset keys take the defaults")
		rules, ok = cfg.MatchRules(model.Deal)
		require.True(t, ok)
		require.Equal(t, match.Rules{Fields: []string{"name"}, AutoLink: 1, Review: 0.8}, rules)
		_, ok = cfg.MatchRules(model.Invoice)
		require.False(t, ok)
		for name, want := range map[string][2]string{"a": {config.UnlinkedMatch, config.UnlinkedUpdateOnly}, "d": {config.UnlinkedMatch, ""}, "i": {config.UnlinkedCreate, ""}} {
			f, ok := cfg.Flow(name)
			require.True(t, ok)
			require.Equal(t, want, [2]string{f.Unlinked, f.ReverseUnlinked}, name)
		}
	})

	t.Run("Postgres", func(t *testing.T) {
		t.Parallel()
		data := []byte("version: 1\nowner: ops@example.com\nstore: {driver: postgres, dsn: env:CONCORD_DATABASE_URL}\nsystems: [{name: crm, connector: sql, settings: {table: t}}]\n")
		cfg, err := config.Parse("concord.yaml", data, testRegistry(), lookupEnv)
		require.NoError(t, err)
		require.Equal(t, config.Store{Driver: "postgres", DSN: testEnv["CONCORD_DATABASE_URL"]}, cfg.Store)
	})

	t.Run("VersionChangesWithContent", func(t *testing.T) {
		t.Parallel()
		a := []byte("version: 1\nowner: a@example.com\nsystems: [{name: crm, connector: sql, settings: {table: t}}]\n")
		b := append(slices.Clone(a), []byte("# a comment\n")...)
		ca, err := config.Parse("a.yaml", a, testRegistry(), lookupEnv)
		require.NoError(t, err)
		ca2, err := config.Parse("a.yaml", a, testRegistry(), lookupEnv)
		require.NoError(t, err)
		cb, err := config.Parse("a.yaml", b, testRegistry(), lookupEnv)
		require.NoError(t, err)
		require.Equal(t, ca.Version, ca2.Version)
		require.NotEqual(t, ca.Version, cb.Version)
	})

	t.Run("AnchorsAndMergeKeys", func(t *testing.T) {
		t.Parallel()
		data := []byte(`version: 1
owner: a@example.com
systems:
  - name: crm
    connector: sql
    settings: &common {table: t, password: env:CRM_PASSWORD}
  - name: erp
    connector: sql
    settings:
      <<: *common
      table: parties
`)
		cfg, err := config.Parse("a.yaml", data, testRegistry(), lookupEnv)
		require.NoError(t, err)
		erp, _ := cfg.System("erp")
		require.Equal(t, map[string]any{"table": "parties", "password": "pw-from-env"}, erp.Settings)
	})
}

func TestLoad_File(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		path := filepath.Join(dir, "concord.yaml")
		require.NoError(t, os.WriteFile(filepath.Join(dir, "pw"), []byte("s3cr3t\n\n"), 0o600))
		data := "version: 1\nowner: a@example.com\nsystems: [{name: crm, connector: sql, settings: {table: t, password: file:pw}}]\n"
		require.NoError(t, os.WriteFile(path, []byte(data), 0o600))
		cfg, err := config.Load(path, testRegistry())
		require.NoError(t, err)
		crm, _ := cfg.System("crm")
		require.Equal(t, "s3cr3t", crm.Settings["password"])
		require.Equal(t, dir, cfg.Dir)
	})

	t.Run("ErrMissingFile", func(t *testing.T) {
		t.Parallel()
		_, err := config.Load(filepath.Join(t.TempDir(), "nope.yaml"), testRegistry())
		require.ErrorIs(t, err, os.ErrNotExist)
		var cerr *config.Error
		require.False(t, errors.As(err, &cerr))
	})

	t.Run("ErrProblems", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "concord.yaml")
		require.NoError(t, os.WriteFile(path, []byte("version: 1\nsystems: []\n"), 0o600))
		_, err := config.Load(path, testRegistry())
		var cerr *config.Error
		require.ErrorAs(t, err, &cerr)
		require.Equal(t, path+":1:1: missing owner: name the person who owns this integration (owner: jane.doe@example.com); an integration without an owner rots quietly\n"+
			path+":2:10: systems is empty; configure at least one system to connect", err.Error())
	})
}

func TestConfig_FieldOwner(t *testing.T) {
	t.Parallel()
	cfg := loadFull(t)
	for _, tc := range []struct {
		entity model.Entity
		field  string
		want   string
	}{
		{model.Account, "name", "crm"},
		{model.Account, "credit_limit", "erp"},
		{model.Account, "segment_code", "crm"},
		{model.Account, "vat", ""},
		{model.Product, "sku", "erp"},
		{model.Invoice, "number", ""},
	} {
		require.Equal(t, tc.want, cfg.FieldOwner(tc.entity, tc.field), "%s.%s", tc.entity, tc.field)
	}
}

func TestConfig_FieldDef(t *testing.T) {
	t.Parallel()
	cfg := loadFull(t)
	std := cfg.FieldDef(model.Account, "credit_limit")
	want, _ := model.LookupField(model.Account, "credit_limit")
	require.Equal(t, want, std)
	custom := cfg.FieldDef(model.Account, "segment_code")
	require.Equal(t, "segment_code", custom.Name)
	require.Equal(t, model.TypeText, custom.Type)
	require.Equal(t, model.FieldDef{}, cfg.FieldDef(model.Account, "nope"))
	require.Equal(t, model.FieldDef{}, cfg.FieldDef(model.Payment, "segment_code"))
}

func TestFlow_FieldsFrom(t *testing.T) {
	t.Parallel()
	cfg := loadFull(t)

	t.Run("OneWay", func(t *testing.T) {
		t.Parallel()
		f, _ := cfg.Flow("customers")
		require.Equal(t, []string{"name", "email", "phone", "country", "segment_code"}, f.FieldsFrom("crm"))
		require.Empty(t, f.FieldsFrom("erp"))
		got := f.FieldsFrom("crm")
		got[0] = "changed"
		require.Equal(t, "name", f.Fields[0], "FieldsFrom returns a copy")
	})

	t.Run("TwoWay", func(t *testing.T) {
		t.Parallel()
		f, _ := cfg.Flow("customers-two-way")
		require.Equal(t, []string{"name", "email"}, f.FieldsFrom("crm"))
		require.Equal(t, []string{"credit_limit"}, f.FieldsFrom("erp"))
		require.Empty(t, f.FieldsFrom("mdm"))
	})
}

func TestError_Error(t *testing.T) {
	t.Parallel()
	e := &config.Error{Problems: []config.Problem{
		{File: "c.yaml", Line: 3, Col: 5, Msg: "first"},
		{File: "c.yaml", Line: 10, Col: 1, Msg: "second"},
		{File: "c.yaml", Msg: "no position"},
	}}
	require.Equal(t, "c.yaml:3:5: first\nc.yaml:10:1: second\nc.yaml: no position", e.Error())
}

func loadFull(t *testing.T) *config.Config {
	t.Helper()
	path := filepath.Join("testdata", "TestLoad", "full.yaml")
	cfg, err := config.Parse(path, mustRead(t, path), testRegistry(), lookupEnv)
	require.NoError(t, err)
	return cfg
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

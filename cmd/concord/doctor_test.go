package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// doctorConfig maps a CRM whose customers table lacks a unique index on its
// link column, an index and a trigger on updated_at, and the phone column; the
// ERP is fine. Line numbers matter: the test checks them.
const doctorConfig = `version: 1
owner: jane.doe@example.com
store:
  path: concord.db
systems:
  - name: crm
    connector: sql
    settings:
      driver: sqlite
      dsn: crm.db
      entities:
        account:
          table: customers
          id: id
          updated_at: updated_at
          link: erp_id
          fields:
            name: company_name
            phone: phone
  - name: erp
    connector: sql
    settings:
      driver: sqlite
      dsn: erp.db
      entities:
        account:
          table: customers
          id: id
          updated_at: updated_at
          link: crm_id
          fields:
            name: name
entities:
  account:
    fields:
      name: {owner: crm}
flows:
  - source: crm
    target: erp
    entity: account
    fields: [name]
`

func doctorDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for file, ddl := range map[string][]string{
		"crm.db": {`CREATE TABLE customers (id INTEGER PRIMARY KEY, company_name TEXT, erp_id TEXT, updated_at TEXT)`},
		"erp.db": {
			`CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, crm_id TEXT UNIQUE, updated_at TEXT)`,
			`CREATE INDEX customers_updated_at_idx ON customers (updated_at, id)`,
			`CREATE TRIGGER customers_updated_at_touch AFTER UPDATE ON customers FOR EACH ROW WHEN NEW.updated_at IS OLD.updated_at BEGIN UPDATE customers SET updated_at = strftime('%Y-%m-%d %H:%M:%f000', 'now') WHERE id = NEW.id; END`,
		},
	} {
		db, err := sql.Open("sqlite", filepath.Join(dir, file))
		require.NoError(t, err)
		for _, stmt := range ddl {
			_, err := db.ExecContext(context.Background(), stmt)
			require.NoError(t, err, stmt)
		}
		require.NoError(t, db.Close())
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "concord.yaml"), []byte(doctorConfig), 0o600))
	return dir
}

func TestCLI_Doctor(t *testing.T) {
	t.Parallel()

	t.Run("ErrProblemsWithLineAndFix", func(t *testing.T) {
		t.Parallel()
		dir := doctorDir(t)
		path := filepath.Join(dir, "concord.yaml")
		out, code := run(t, "doctor", "--config", path)
		require.Equal(t, exitRuntime, code, out)
		// The CRM is only read from: its link column's missing unique index
		// matters for writes only, and is left out.
		require.NotContains(t, out, "erp_id")
		for _, want := range []string{
			"system crm (sql, " + path + ":6)",
			path + ":15:11: problem: nothing maintains customers.updated_at (account)",
			"CREATE TRIGGER `customers_updated_at_touch` AFTER UPDATE ON `customers`",
			path + ":15:11: warning: column customers.updated_at (account) has no index",
			"fix: CREATE INDEX `customers_updated_at_idx` ON `customers` (`updated_at`, `id`);",
			path + ":19:13: problem: column customers.phone (account) does not exist",
			"fix: ALTER TABLE `customers` ADD COLUMN `phone` TEXT;",
			"system erp (sql, " + path + ":20)\n  ok\n",
			"2 problem(s), 1 warning(s)",
			"doctor: 2 problem(s) in " + path,
		} {
			require.Contains(t, out, want)
		}

		out, code = run(t, "validate", "--connect", "--json", "--config", path)
		require.Equal(t, exitRuntime, code, out)
		var rep doctorReport
		require.NoError(t, json.NewDecoder(strings.NewReader(out)).Decode(&rep))
		require.Equal(t, 2, rep.Problems)
		require.Equal(t, 1, rep.Warnings)
		require.Len(t, rep.Systems, 2)
		require.Equal(t, doctorProblem{Severity: "problem", File: path, Line: 19, Col: 13, Setting: "entities.account.fields.phone",
			Entity: "account", Message: "column customers.phone (account) does not exist", Fix: "ALTER TABLE `customers` ADD COLUMN `phone` TEXT;"},
			rep.Systems[0].Problems[2])
	})

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		dir := doctorDir(t)
		db, err := sql.Open("sqlite", filepath.Join(dir, "crm.db"))
		require.NoError(t, err)
		defer db.Close()
		for _, stmt := range []string{
			`ALTER TABLE customers ADD COLUMN phone TEXT`,
			`CREATE INDEX customers_updated_at_idx ON customers (updated_at, id)`,
			`CREATE TRIGGER customers_touch AFTER UPDATE ON customers FOR EACH ROW WHEN NEW.updated_at IS OLD.updated_at BEGIN UPDATE customers SET updated_at = 'now' WHERE id = NEW.id; END`,
		} {
			_, err := db.ExecContext(context.Background(), stmt)
			require.NoError(t, err, stmt)
		}
		out, code := run(t, "doctor", "--config", filepath.Join(dir, "concord.yaml"))
		require.Equal(t, exitOK, code, out)
		require.Contains(t, out, "system crm (sql, ")
		require.Contains(t, out, "\n  ok\n")
		require.Contains(t, out, "0 problem(s), 0 warning(s)")
	})

	t.Run("ErrUnreachable", func(t *testing.T) {
		t.Parallel()
		dir := doctorDir(t)
		cfg := strings.Replace(doctorConfig, "dsn: erp.db", "dsn: "+filepath.Join(dir, "nope", "erp.db"), 1)
		path := filepath.Join(dir, "concord.yaml")
		require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
		out, code := run(t, "doctor", "--config", path)
		require.Equal(t, exitRuntime, code, out)
		require.Contains(t, out, path+":20:1: problem: cannot open the system")
	})

	t.Run("ErrInvalidConfig", func(t *testing.T) {
		t.Parallel()
		dir := doctorDir(t)
		path := filepath.Join(dir, "concord.yaml")
		require.NoError(t, os.WriteFile(path, []byte(strings.Replace(doctorConfig, "link: crm_id", "lnk: crm_id", 1)), 0o600))
		out, code := run(t, "doctor", "--config", path)
		require.Equal(t, exitUsage, code, out)
		require.Contains(t, out, path+`:30:11: system erp: settings.entities.account.lnk: unknown key "lnk"; did you mean "link"?`)
	})
}

package sqlconn_test

import (
	"context"
	"database/sql"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	sqlconn "github.com/concord-sync/concord/internal/connector/sql"
)

// doctorDDL creates customers (a link column without a unique index, an
// updated_at without index or trigger, no phone column) and orders (all
// right: unique link, indexed updated_at maintained by a trigger).
var doctorDDL = map[string][]string{
	sqlconn.DriverSQLite: {
		`CREATE TABLE customers (id INTEGER PRIMARY KEY, company_name TEXT, crm_id TEXT, updated_at TEXT)`,
		`CREATE TABLE orders (id INTEGER PRIMARY KEY, reference TEXT, crm_id TEXT UNIQUE, updated_at TEXT)`,
		`CREATE INDEX orders_updated_at_idx ON orders (updated_at, id)`,
		`CREATE TRIGGER orders_updated_at_touch AFTER UPDATE ON orders FOR EACH ROW WHEN NEW.updated_at IS OLD.updated_at BEGIN UPDATE orders SET updated_at = strftime('%Y-%m-%d %H:%M:%f000', 'now') WHERE id = NEW.id; END`,
	},
	sqlconn.DriverPostgres: {
		`CREATE TABLE customers (id serial PRIMARY KEY, company_name text, crm_id text, updated_at timestamptz)`,
		`CREATE TABLE orders (id serial PRIMARY KEY, reference text, crm_id text UNIQUE, updated_at timestamptz)`,
		`CREATE INDEX orders_updated_at_idx ON orders (updated_at, id)`,
		`CREATE FUNCTION orders_touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.updated_at := clock_timestamp(); RETURN NEW; END $$`,
		`CREATE TRIGGER orders_touch BEFORE UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION orders_touch()`,
	},
	sqlconn.DriverMySQL: {
		`CREATE TABLE customers (id INT AUTO_INCREMENT PRIMARY KEY, company_name VARCHAR(100), crm_id VARCHAR(64), updated_at DATETIME(6))`,
		`CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, reference VARCHAR(64), crm_id VARCHAR(64) UNIQUE,
			updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6), INDEX orders_updated_at_idx (updated_at, id))`,
	},
}

// doctorDatabase creates an empty database concord_h3_doctor_<random> (a
// file for sqlite), drops it at the end, and returns its DSN and an admin
// connection to it.
func doctorDatabase(t *testing.T, b backend) (string, *sql.DB) {
	t.Helper()
	ctx := context.Background()
	dsn := filepath.Join(t.TempDir(), "erp.db")
	if b.driver != sqlconn.DriverSQLite {
		base := b.dsn(t)
		name := randName("concord_h3_doctor_")
		admin, err := sql.Open(b.sqlDriver, base)
		require.NoError(t, err)
		_, err = admin.ExecContext(ctx, "CREATE DATABASE "+name)
		require.NoError(t, err)
		t.Cleanup(func() {
			drop := "DROP DATABASE IF EXISTS " + name
			if b.driver == sqlconn.DriverPostgres {
				drop += " WITH (FORCE)"
			}
			_, err := admin.ExecContext(context.Background(), drop)
			_ = admin.Close()
			require.NoError(t, err)
		})
		if b.driver == sqlconn.DriverPostgres {
			u, err := url.Parse(base)
			require.NoError(t, err)
			u.Path = "/" + name
			dsn = u.String()
		} else {
			mc, err := mysql.ParseDSN(base)
			require.NoError(t, err)
			mc.DBName = name
			dsn = mc.FormatDSN()
		}
	}
	db, err := sql.Open(b.sqlDriver, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	for _, stmt := range doctorDDL[b.driver] {
		_, err := db.ExecContext(ctx, stmt)
		require.NoError(t, err, stmt)
	}
	return dsn, db
}

func doctorSettings(driver, dsn string) map[string]any {
	return map[string]any{"driver": driver, "dsn": dsn, "entities": map[string]any{
		"account": map[string]any{"table": "customers", "id": "id", "updated_at": "updated_at", "link": "crm_id",
			"fields": map[string]any{"name": "company_name", "phone": "phone"}},
		"order": map[string]any{"table": "orders", "id": "id", "updated_at": "updated_at", "link": "crm_id",
			"fields": map[string]any{"number": "reference"}},
		"product": map[string]any{"table": "ordrs", "id": "id", "updated_at": "updated_at", "link": "crm_id",
			"fields": map[string]any{"name": "name"}},
	}}
}

func TestConn_Diagnose(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		dsn, admin := doctorDatabase(t, b)
		c, err := sqlconn.Open(ctx, connector.OpenParams{System: "erp", Settings: doctorSettings(b.driver, dsn)})
		require.NoError(t, err)
		defer c.Close(ctx)
		probs, err := c.Diagnose(ctx)
		require.NoError(t, err)
		type got struct {
			Setting string
			Warning bool
			Writes  bool
		}
		var all []got
		byPath := map[string]connector.Problem{}
		for _, p := range probs {
			t.Logf("%s: %s; fix: %s", p.Setting, p.Msg, p.Fix)
			require.NotEmpty(t, p.Fix, p.Msg)
			all = append(all, got{p.Setting, p.Warning, p.Writes})
			byPath[p.Setting] = p
		}
		require.Equal(t, []got{
			{"entities.account.link", false, true},
			{"entities.account.fields.phone", false, false},
			{"entities.account.updated_at", true, false},
			{"entities.account.updated_at", false, false},
			{"entities.product.table", false, false},
		}, all)
		require.Contains(t, byPath["entities.account.fields.phone"].Fix, "ADD COLUMN")
		require.Contains(t, byPath["entities.account.link"].Fix, "CREATE UNIQUE INDEX")
		require.Contains(t, byPath["entities.account.updated_at"].Fix, "CREATE TRIGGER")
		require.Contains(t, byPath["entities.product.table"].Fix, "did you mean orders?")

		// The fixes work: run them, and the doctor is content.
		for _, p := range probs {
			if p.Setting == "entities.product.table" || p.Setting == "entities.account.fields.phone" {
				continue
			}
			stmts := p.Fix
			if b.driver == sqlconn.DriverMySQL { // one statement per Exec
				for _, stmt := range splitStatements(stmts) {
					_, err := admin.ExecContext(ctx, stmt)
					require.NoError(t, err, stmt)
				}
				continue
			}
			_, err := admin.ExecContext(ctx, stmts)
			require.NoError(t, err, stmts)
		}
		_, err = admin.ExecContext(ctx, byPath["entities.account.fields.phone"].Fix)
		require.NoError(t, err)
		probs, err = c.Diagnose(ctx)
		require.NoError(t, err)
		require.Len(t, probs, 1, "%v", probs)
		require.Equal(t, "entities.product.table", probs[0].Setting)
	})
}

// splitStatements splits MySQL DDL on the ";\n" between statements (its
// triggers are one line each).
func splitStatements(s string) []string {
	var out []string
	for _, st := range strings.Split(s, ";\n") {
		if st = strings.TrimSuffix(strings.TrimSpace(st), ";"); st != "" {
			out = append(out, st)
		}
	}
	return out
}

// TestConn_Diagnose_Rights connects as a user of its own that may only read
// (PostgreSQL: a role, MySQL/MariaDB: a user, both dropped at the end).
func TestConn_Diagnose_Rights(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		if b.driver == sqlconn.DriverSQLite {
			return // file rights: root may write any file; see sqliteFile
		}
		ctx := context.Background()
		dsn, admin := doctorDatabase(t, b)
		user := randName("concord_h3_ro_")
		var roDSN string
		switch b.driver {
		case sqlconn.DriverPostgres:
			for _, stmt := range []string{
				"CREATE ROLE " + user + " LOGIN",
				"GRANT SELECT ON customers, orders TO " + user,
			} {
				_, err := admin.ExecContext(ctx, stmt)
				require.NoError(t, err, stmt)
			}
			t.Cleanup(func() {
				for _, stmt := range []string{"DROP OWNED BY " + user, "DROP ROLE " + user} {
					_, _ = admin.ExecContext(context.Background(), stmt)
				}
			})
			u, err := url.Parse(dsn)
			require.NoError(t, err)
			u.User = url.User(user)
			roDSN = u.String()
		default:
			mc, err := mysql.ParseDSN(dsn)
			require.NoError(t, err)
			for _, stmt := range []string{
				"CREATE USER '" + user + "'@'%' IDENTIFIED BY 'pw-" + user + "'",
				"GRANT SELECT ON `" + mc.DBName + "`.* TO '" + user + "'@'%'",
			} {
				_, err := admin.ExecContext(ctx, stmt)
				require.NoError(t, err, stmt)
			}
			t.Cleanup(func() { _, _ = admin.ExecContext(context.Background(), "DROP USER '"+user+"'@'%'") })
			mc.User, mc.Passwd = user, "pw-"+user
			roDSN = mc.FormatDSN()
		}
		settings := doctorSettings(b.driver, roDSN)
		delete(settings["entities"].(map[string]any), "product")
		c, err := sqlconn.Open(ctx, connector.OpenParams{System: "erp", Settings: settings})
		require.NoError(t, err)
		defer c.Close(ctx)
		probs, err := c.Diagnose(ctx)
		require.NoError(t, err)
		var rights []connector.Problem
		for _, p := range probs {
			if p.Setting == sqlconn.SettingDSN {
				rights = append(rights, p)
			}
		}
		require.Len(t, rights, 2, "%v", probs)
		for _, p := range rights {
			require.True(t, p.Writes)
			require.Contains(t, p.Msg, "may not INSERT, UPDATE table")
			require.Contains(t, p.Fix, "GRANT INSERT, UPDATE ON")
			require.Contains(t, p.Fix, user)
		}
	})
}

// TestConn_Diagnose_IDKind: a text key the database does not fill, with
// id_kind left at its default (auto), is a problem on id_kind naming the fix,
// instead of a raw NOT NULL error on the first create.
func TestConn_Diagnose_IDKind(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		dsn, admin := doctorDatabase(t, b)
		for _, stmt := range []string{
			`CREATE TABLE parts (code VARCHAR(5) PRIMARY KEY, name VARCHAR(50), crm_id VARCHAR(64) UNIQUE, updated_at VARCHAR(40))`,
			`CREATE TABLE notes (ref VARCHAR(64) PRIMARY KEY, name VARCHAR(50), crm_id VARCHAR(64) UNIQUE, updated_at VARCHAR(40))`,
		} {
			_, err := admin.ExecContext(ctx, stmt)
			require.NoError(t, err, stmt)
		}
		settings := map[string]any{"driver": b.driver, "dsn": dsn, "entities": map[string]any{
			"product": map[string]any{"table": "parts", "id": "code", "updated_at": "updated_at", "link": "crm_id",
				"fields": map[string]any{"name": "name"}},
			"contact": map[string]any{"table": "notes", "id": "ref", "updated_at": "updated_at", "link": "crm_id",
				"fields": map[string]any{"last_name": "name"}},
			"order": map[string]any{"table": "orders", "id": "id", "updated_at": "updated_at", "link": "crm_id",
				"fields": map[string]any{"number": "reference"}},
		}}
		c, err := sqlconn.Open(ctx, connector.OpenParams{System: "erp", Settings: settings})
		require.NoError(t, err)
		defer c.Close(ctx)
		probs, err := c.Diagnose(ctx)
		require.NoError(t, err)
		byPath := map[string]connector.Problem{}
		for _, p := range probs {
			byPath[p.Setting] = p
		}
		require.Contains(t, byPath["entities.product.id_kind"].Msg, "does not fill parts.code")
		require.Contains(t, byPath["entities.product.id_kind"].Fix, "id_kind: link", "a UUID does not fit varchar(5)")
		require.Contains(t, byPath["entities.contact.id_kind"].Fix, "id_kind: uuid")
		require.NotContains(t, byPath, "entities.order.id_kind", "orders.id is filled by the database")
	})
}

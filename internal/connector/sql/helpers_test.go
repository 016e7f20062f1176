package sqlconn_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	sqlconn "github.com/concord-sync/concord/internal/connector/sql"
)

// backend is one database the tests run against.
type backend struct {
	driver string
	// dsn returns a DSN for a fresh database (sqlite) or the shared test one.
	dsn func(t *testing.T) string
	// sqlDriver is the database/sql driver name for the admin connection.
	sqlDriver string
	// ddl returns the statements creating the account table a and product table p.
	ddl func(a, p string) []string
	// orderDDL returns the statements creating a product table p (integer ids),
	// an order table o and its line table l.
	orderDDL func(p, o, l string) []string
	// touchDDL returns the triggers of docs/connectors/sql.md that bump the order
	// o's updated_at whenever another program changes its lines in l, and the
	// statements dropping what DROP TABLE leaves behind.
	touchDDL func(o, l string) (create, drop []string)
}

var backends = []backend{
	{
		driver:    sqlconn.DriverSQLite,
		sqlDriver: "sqlite",
		dsn:       func(t *testing.T) string { return filepath.Join(t.TempDir(), "crm.db") },
		ddl: func(a, p string) []string {
			return []string{
				fmt.Sprintf(`CREATE TABLE "%[1]s" (
					customer_id INTEGER PRIMARY KEY AUTOINCREMENT,
					company_name TEXT NOT NULL,
					email TEXT,
					credit_limit TEXT CONSTRAINT "%[1]s_credit_limit_chk" CHECK (credit_limit IS NULL OR CAST(credit_limit AS REAL) >= 0),
					active INTEGER,
					segment TEXT,
					since TEXT,
					crm_id TEXT UNIQUE,
					archived INTEGER NOT NULL DEFAULT 0,
					updated_at TEXT NOT NULL)`, a),
				fmt.Sprintf(`CREATE TABLE "%s" (
					id TEXT PRIMARY KEY,
					sku TEXT NOT NULL,
					name TEXT,
					list_price TEXT,
					cur TEXT,
					stock NUMERIC,
					released TEXT,
					erp_link TEXT UNIQUE,
					updated_at TEXT NOT NULL)`, p),
			}
		},
		orderDDL: func(p, o, l string) []string {
			return []string{
				fmt.Sprintf(`CREATE TABLE "%s" (id INTEGER PRIMARY KEY, sku TEXT NOT NULL)`, p),
				fmt.Sprintf(`CREATE TABLE "%s" (
					id INTEGER PRIMARY KEY AUTOINCREMENT,
					reference TEXT NOT NULL,
					customer_id TEXT,
					contact_id TEXT,
					currency TEXT,
					total TEXT,
					crm_deal_id TEXT UNIQUE,
					updated_at TEXT NOT NULL)`, o),
				// The product key names no column: the connector finds the primary key.
				fmt.Sprintf(`CREATE TABLE "%[1]s" (
					id INTEGER PRIMARY KEY AUTOINCREMENT,
					order_id INTEGER NOT NULL REFERENCES "%[2]s"(id),
					line_no INTEGER,
					product_id INTEGER REFERENCES "%[3]s",
					description TEXT,
					quantity TEXT NOT NULL CONSTRAINT "%[1]s_quantity_chk" CHECK (CAST(quantity AS REAL) > 0),
					unit_price TEXT,
					discount TEXT,
					amount TEXT)`, l, o, p),
			}
		},
		touchDDL: func(o, l string) ([]string, []string) {
			ts := `strftime('%Y-%m-%d %H:%M:%f000', 'now')`
			return []string{
				fmt.Sprintf(`CREATE TRIGGER "%[1]s_ti" AFTER INSERT ON "%[1]s" BEGIN UPDATE "%[2]s" SET updated_at = %[3]s WHERE id = NEW.order_id; END`, l, o, ts),
				fmt.Sprintf(`CREATE TRIGGER "%[1]s_tu" AFTER UPDATE ON "%[1]s" BEGIN UPDATE "%[2]s" SET updated_at = %[3]s WHERE id IN (OLD.order_id, NEW.order_id); END`, l, o, ts),
				fmt.Sprintf(`CREATE TRIGGER "%[1]s_td" AFTER DELETE ON "%[1]s" BEGIN UPDATE "%[2]s" SET updated_at = %[3]s WHERE id = OLD.order_id; END`, l, o, ts),
			}, nil
		},
	},
	{
		driver:    sqlconn.DriverPostgres,
		sqlDriver: "pgx",
		dsn:       func(t *testing.T) string { return envDSN(t, "TEST_DATABASE_URL") },
		ddl: func(a, p string) []string {
			return []string{
				fmt.Sprintf(`CREATE TABLE "%[1]s" (
					customer_id BIGSERIAL PRIMARY KEY,
					company_name TEXT NOT NULL,
					email TEXT,
					credit_limit NUMERIC(20,4) CONSTRAINT "%[1]s_credit_limit_chk" CHECK (credit_limit >= 0),
					active BOOLEAN,
					segment TEXT,
					since DATE,
					crm_id TEXT UNIQUE,
					archived BOOLEAN NOT NULL DEFAULT false,
					updated_at TIMESTAMPTZ NOT NULL)`, a),
				fmt.Sprintf(`CREATE TABLE "%s" (
					id TEXT PRIMARY KEY,
					sku TEXT NOT NULL,
					name TEXT,
					list_price NUMERIC(20,6),
					cur CHAR(3),
					stock NUMERIC,
					released TIMESTAMPTZ,
					erp_link TEXT UNIQUE,
					updated_at TIMESTAMPTZ NOT NULL)`, p),
			}
		},
		orderDDL: func(p, o, l string) []string {
			return []string{
				fmt.Sprintf(`CREATE TABLE "%s" (id BIGINT PRIMARY KEY, sku TEXT NOT NULL)`, p),
				fmt.Sprintf(`CREATE TABLE "%s" (
					id BIGSERIAL PRIMARY KEY,
					reference TEXT NOT NULL,
					customer_id TEXT,
					contact_id TEXT,
					currency CHAR(3),
					total NUMERIC(20,4),
					crm_deal_id TEXT UNIQUE,
					updated_at TIMESTAMPTZ NOT NULL)`, o),
				fmt.Sprintf(`CREATE TABLE "%[1]s" (
					id BIGSERIAL PRIMARY KEY,
					order_id BIGINT NOT NULL REFERENCES "%[2]s"(id),
					line_no INTEGER,
					product_id BIGINT REFERENCES "%[3]s"(id),
					description TEXT,
					quantity NUMERIC(20,6) NOT NULL CONSTRAINT "%[1]s_quantity_chk" CHECK (quantity > 0),
					unit_price NUMERIC(20,4),
					discount NUMERIC(10,6),
					amount NUMERIC(20,6))`, l, o, p),
			}
		},
		touchDDL: func(o, l string) ([]string, []string) {
			return []string{
					fmt.Sprintf(`CREATE FUNCTION "%[1]s_touch"() RETURNS trigger LANGUAGE plpgsql AS $$
					BEGIN
						IF TG_OP <> 'INSERT' THEN UPDATE "%[2]s" SET updated_at = clock_timestamp() WHERE id = OLD.order_id; END IF;
						IF TG_OP <> 'DELETE' THEN UPDATE "%[2]s" SET updated_at = clock_timestamp() WHERE id = NEW.order_id; END IF;
						RETURN NULL;
					END $$`, l, o),
					fmt.Sprintf(`CREATE TRIGGER "%[1]s_touch" AFTER INSERT OR UPDATE OR DELETE ON "%[1]s" FOR EACH ROW EXECUTE FUNCTION "%[1]s_touch"()`, l),
				}, []string{
					fmt.Sprintf(`DROP FUNCTION IF EXISTS "%s_touch"() CASCADE`, l),
				}
		},
	},
	{
		driver:    sqlconn.DriverMySQL,
		sqlDriver: "mysql",
		dsn:       func(t *testing.T) string { return envDSN(t, "TEST_MYSQL_DSN") },
		ddl: func(a, p string) []string {
			return []string{
				fmt.Sprintf("CREATE TABLE `%[1]s` ("+
					"customer_id BIGINT AUTO_INCREMENT PRIMARY KEY,"+
					"company_name VARCHAR(200) NOT NULL,"+
					"email VARCHAR(200),"+
					"credit_limit DECIMAL(20,4),"+
					"active TINYINT(1),"+
					"segment VARCHAR(50),"+
					"since DATE,"+
					"crm_id VARCHAR(100) UNIQUE,"+
					"archived TINYINT(1) NOT NULL DEFAULT 0,"+
					"updated_at DATETIME(6) NOT NULL,"+
					"CONSTRAINT `%[1]s_credit_limit_chk` CHECK (credit_limit >= 0))", a),
				fmt.Sprintf("CREATE TABLE `%s` ("+
					"id VARCHAR(36) PRIMARY KEY,"+
					"sku VARCHAR(50) NOT NULL,"+
					"name VARCHAR(200),"+
					"list_price DECIMAL(20,6),"+
					"cur CHAR(3),"+
					"stock DECIMAL(30,10),"+
					"released DATETIME(6),"+
					"erp_link VARCHAR(100) UNIQUE,"+
					"updated_at DATETIME(6) NOT NULL)", p),
			}
		},
		orderDDL: func(p, o, l string) []string {
			return []string{
				fmt.Sprintf("CREATE TABLE `%s` (id BIGINT PRIMARY KEY, sku VARCHAR(50) NOT NULL) ENGINE=InnoDB", p),
				fmt.Sprintf("CREATE TABLE `%s` ("+
					"id BIGINT AUTO_INCREMENT PRIMARY KEY,"+
					"reference VARCHAR(100) NOT NULL,"+
					"customer_id VARCHAR(50),"+
					"contact_id VARCHAR(50),"+
					"currency CHAR(3),"+
					"total DECIMAL(20,4),"+
					"crm_deal_id VARCHAR(100) UNIQUE,"+
					"updated_at DATETIME(6) NOT NULL) ENGINE=InnoDB", o),
				fmt.Sprintf("CREATE TABLE `%[1]s` ("+
					"id BIGINT AUTO_INCREMENT PRIMARY KEY,"+
					"order_id BIGINT NOT NULL,"+
					"line_no INT,"+
					"product_id BIGINT,"+
					"description VARCHAR(200),"+
					"quantity DECIMAL(20,6) NOT NULL,"+
					"unit_price DECIMAL(20,4),"+
					"discount DECIMAL(10,6),"+
					"amount DECIMAL(20,6),"+
					"CONSTRAINT `%[1]s_quantity_chk` CHECK (quantity > 0),"+
					"CONSTRAINT `%[1]s_order_fk` FOREIGN KEY (order_id) REFERENCES `%[2]s` (id),"+
					"CONSTRAINT `%[1]s_product_fk` FOREIGN KEY (product_id) REFERENCES `%[3]s` (id)) ENGINE=InnoDB", l, o, p),
			}
		},
		touchDDL: func(o, l string) ([]string, []string) {
			return []string{
				fmt.Sprintf("CREATE TRIGGER `%[1]s_ti` AFTER INSERT ON `%[1]s` FOR EACH ROW UPDATE `%[2]s` SET updated_at = UTC_TIMESTAMP(6) WHERE id = NEW.order_id", l, o),
				fmt.Sprintf("CREATE TRIGGER `%[1]s_tu` AFTER UPDATE ON `%[1]s` FOR EACH ROW UPDATE `%[2]s` SET updated_at = UTC_TIMESTAMP(6) WHERE id IN (OLD.order_id, NEW.order_id)", l, o),
				fmt.Sprintf("CREATE TRIGGER `%[1]s_td` AFTER DELETE ON `%[1]s` FOR EACH ROW UPDATE `%[2]s` SET updated_at = UTC_TIMESTAMP(6) WHERE id = OLD.order_id", l, o),
			}, nil
		},
	},
}

// envDSN returns the DSN in env var name. Without it the test fails under CI
// and is skipped elsewhere.
func envDSN(t *testing.T, name string) string {
	t.Helper()
	dsn := os.Getenv(name)
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set", name)
		}
		t.Skipf("%s is not set", name)
	}
	return dsn
}

// forEachBackend runs fn once per database, in parallel subtests.
func forEachBackend(t *testing.T, fn func(t *testing.T, b backend)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b.driver, func(t *testing.T) {
			t.Parallel()
			fn(t, b)
		})
	}
}

// fixture is a fresh pair of tables and the settings mapping them.
type fixture struct {
	b        backend
	dsn      string
	accounts string
	products string
	admin    *sql.DB
	settings map[string]any
}

func randName(prefix string) string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// newFixture creates the tables and the settings for one test; the tables are
// dropped at cleanup.
func newFixture(t *testing.T, b backend) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{b: b, dsn: b.dsn(t), accounts: randName("cc_a_"), products: randName("cc_p_")}
	admin, err := sql.Open(b.sqlDriver, f.dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = admin.Close() })
	f.admin = admin
	for _, stmt := range b.ddl(f.accounts, f.products) {
		_, err := admin.ExecContext(ctx, stmt)
		require.NoError(t, err, stmt)
	}
	if b.driver != sqlconn.DriverSQLite {
		t.Cleanup(func() {
			for _, tb := range []string{f.accounts, f.products} {
				_, _ = admin.ExecContext(context.Background(), "DROP TABLE "+f.quote(tb))
			}
		})
	}
	f.settings = map[string]any{
		"driver":  b.driver,
		"dsn":     f.dsn,
		"overlap": "2s",
		"entities": map[string]any{
			"account": map[string]any{
				"table": f.accounts, "id": "customer_id", "updated_at": "updated_at", "link": "crm_id", "archived": "archived",
				"fields": map[string]any{
					"name":         "company_name",
					"email":        "email",
					"credit_limit": map[string]any{"column": "credit_limit", "currency": "USD"},
					"active":       "active",
					"segment_code": map[string]any{"column": "segment", "type": "text"},
					"since":        map[string]any{"column": "since", "type": "date"},
				},
			},
			"product": map[string]any{
				"table": f.products, "id": "id", "id_kind": "uuid", "updated_at": "updated_at", "link": "erp_link",
				"fields": map[string]any{
					"sku":        "sku",
					"name":       "name",
					"list_price": map[string]any{"column": "list_price", "currency_column": "cur"},
					"stock":      "stock",
					"released":   map[string]any{"column": "released", "type": "datetime"},
				},
			},
		},
	}
	return f
}

func (f *fixture) quote(name string) string {
	if f.b.driver == sqlconn.DriverMySQL {
		return "`" + name + "`"
	}
	return `"` + name + `"`
}

// open opens a connector on the fixture through a registry; it is closed at
// cleanup.
func (f *fixture) open(t *testing.T) *sqlconn.Conn {
	t.Helper()
	reg := connector.NewRegistry()
	sqlconn.Register(reg)
	spec, ok := reg.Lookup(sqlconn.Name)
	require.True(t, ok)
	require.Empty(t, spec.Validate(f.settings))
	c, err := spec.Open(context.Background(), connector.OpenParams{System: "erp", Settings: f.settings, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c.(*sqlconn.Conn)
}

// count returns the number of rows in table.
func (f *fixture) count(t *testing.T, table string) int {
	t.Helper()
	var n int
	require.NoError(t, f.admin.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM "+f.quote(table)).Scan(&n))
	return n
}

// clone returns a copy of m with the given top-level keys replaced.
func clone(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

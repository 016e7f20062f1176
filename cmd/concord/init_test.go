package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

	concord "github.com/concord-sync/concord"
	"github.com/concord-sync/concord/examples/quickstart"
)

// testDSN returns env var name's DSN; without it the test skips, or fails
// under CI.
func testDSN(t *testing.T, name string) string {
	t.Helper()
	dsn := os.Getenv(name)
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set", name)
		}
		t.Skipf("%s is not set (scripts/test.sh sets it when the database answers)", name)
	}
	return dsn
}

func randSuffix(t *testing.T) string {
	t.Helper()
	var b [5]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	return hex.EncodeToString(b[:])
}

// mariaDatabase creates a MariaDB database named prefix<random> of its own,
// dropped when t ends, and returns its DSN.
func mariaDatabase(t *testing.T, prefix string) string {
	t.Helper()
	base := testDSN(t, "TEST_MYSQL_DSN")
	name := prefix + randSuffix(t)
	admin, err := sql.Open("mysql", base)
	require.NoError(t, err)
	_, err = admin.ExecContext(t.Context(), "CREATE DATABASE "+name)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, err := admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name)
		_ = admin.Close()
		require.NoError(t, err, "drop database")
	})
	mc, err := mysql.ParseDSN(base)
	require.NoError(t, err)
	mc.DBName = name
	return mc.FormatDSN()
}

// northwindPostgres loads the Northwind dump, as a company's PostgreSQL ERP
// holds it (no updated_at, no link columns), into a database of its own,
// dropped when t ends; it returns the database's URL.
func northwindPostgres(t *testing.T) string {
	t.Helper()
	base := testDSN(t, "TEST_DATABASE_URL")
	name := "concord_init_erp_" + randSuffix(t)
	admin, err := sql.Open("pgx", base)
	require.NoError(t, err)
	_, err = admin.ExecContext(t.Context(), "CREATE DATABASE "+name)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, err := admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		_ = admin.Close()
		require.NoError(t, err, "drop database")
	})
	u, err := url.Parse(base)
	require.NoError(t, err)
	u.Path = "/" + name
	db, err := sql.Open("pgx", u.String())
	require.NoError(t, err)
	defer db.Close()
	_, err = db.ExecContext(t.Context(), string(concord.NorthwindSQL))
	require.NoError(t, err, "load northwind")
	_, err = db.ExecContext(t.Context(), "ANALYZE")
	require.NoError(t, err)
	return u.String()
}

// humanCRM is a MariaDB CRM typed by a human: companies and products, no
// updated_at, no link columns. It lives in a database of its own, dropped
// when t ends; humanCRM returns its DSN.
func humanCRM(t *testing.T) string {
	t.Helper()
	dsn := mariaDatabase(t, "concord_init_crm_")
	db, err := sql.Open("mysql", dsn)
	require.NoError(t, err)
	defer db.Close()
	for _, stmt := range []string{
		`CREATE TABLE companies (
			id INT AUTO_INCREMENT PRIMARY KEY,
			company_name VARCHAR(100) NOT NULL,
			contact VARCHAR(100),
			phone VARCHAR(30),
			city VARCHAR(50),
			zip VARCHAR(10),
			country VARCHAR(50),
			notes TEXT)`,
		`CREATE TABLE products (
			id INT AUTO_INCREMENT PRIMARY KEY,
			name VARCHAR(100) NOT NULL,
			price DECIMAL(10,2),
			stock INT)`,
		`INSERT INTO companies (company_name, contact, phone, city, zip, country) VALUES
			('Acme Handels GmbH', 'Jana Novak', '+49 30 1234567', 'Berlin', '10115', 'Germany'),
			('Blue Fjord AS', 'Ola Nordmann', '+47 22 123456', 'Oslo', '0150', 'Norway'),
			('Cafe Lumiere SARL', NULL, NULL, 'Lyon', '69001', 'France')`,
		`INSERT INTO products (name, price, stock) VALUES ('Old catalogue item', 9.50, 3)`,
	} {
		_, err := db.ExecContext(t.Context(), stmt)
		require.NoError(t, err, stmt)
	}
	return dsn
}

// TestInit_NorthwindPostgresAndMariaDB: init against the Northwind PostgreSQL
// ERP and a MariaDB CRM gives a config that validates as written, refuses to
// overwrite it, and syncs once the printed DDL is applied.
func TestInit_NorthwindPostgresAndMariaDB(t *testing.T) {
	t.Parallel()
	erpURL := northwindPostgres(t)
	crmDSN := humanCRM(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "concord.yaml")

	out, code := run(t, "init", "--config", cfg, "--crm", "sql:mysql:"+crmDSN, "--erp", "sql:"+erpURL, "--owner", "jane.doe@example.com")
	require.Equal(t, exitOK, code, out)
	t.Log(out)
	written, err := os.ReadFile(cfg)
	require.NoError(t, err)
	t.Log(string(written))
	text := string(written)
	require.Contains(t, text, "table: companies")
	require.Contains(t, text, "name: company_name")
	require.Contains(t, text, "zip: postal_code", "synonyms: postal_code is the ERP's zip")
	require.Contains(t, text, "list_price: {column: unit_price, currency: USD}")
	require.Contains(t, text, "stock: units_in_stock")
	require.Contains(t, text, "id_kind: link", "Northwind's varchar(5) keys are too short for a UUID")
	require.Contains(t, text, "docs/config.md")
	require.Contains(t, out, "ALTER TABLE \"customers\" ADD COLUMN \"updated_at\"")
	require.Contains(t, out, "CREATE TRIGGER `companies_updated_at_touch` BEFORE UPDATE")
	require.Contains(t, out, "CREATE UNIQUE INDEX `products_erp_id_key`")

	out, code = run(t, "validate", "--config", cfg)
	require.Equal(t, exitOK, code, "the config validates as written:\n%s", out)

	out, code = run(t, "init", "--config", cfg, "--crm", "sql:mysql:"+crmDSN, "--erp", "sql:"+erpURL, "--owner", "jane.doe@example.com")
	require.Equal(t, exitUsage, code, out)
	require.Contains(t, out, "exists; init never overwrites")
	again, err := os.ReadFile(cfg)
	require.NoError(t, err)
	require.Equal(t, written, again)

	// The DBA applies the printed DDL, as written to the files.
	erpDDL, err := os.ReadFile(filepath.Join(dir, "concord-ddl-erp.sql"))
	require.NoError(t, err)
	crmDDL, err := os.ReadFile(filepath.Join(dir, "concord-ddl-crm.sql"))
	require.NoError(t, err)
	pg, err := sql.Open("pgx", erpURL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = pg.Close() })
	_, err = pg.ExecContext(t.Context(), string(erpDDL))
	require.NoError(t, err, "apply %s", erpDDL)
	mc, err := mysql.ParseDSN(crmDSN)
	require.NoError(t, err)
	mc.MultiStatements = true
	my, err := sql.Open("mysql", mc.FormatDSN())
	require.NoError(t, err)
	t.Cleanup(func() { _ = my.Close() })
	_, err = my.ExecContext(t.Context(), string(crmDDL))
	require.NoError(t, err, "apply %s", crmDDL)

	out, code = run(t, "sync", "--once", "--config", cfg, "--progress", "off")
	if code != exitOK {
		events, _ := run(t, "events", "--config", cfg, "--limit", "3", "--json")
		t.Log(events)
	}
	require.Equal(t, exitOK, code, out)
	t.Log(out)
	var erpCustomers, crmProducts int
	require.NoError(t, pg.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM customers").Scan(&erpCustomers))
	require.Equal(t, 91+3, erpCustomers, "the CRM's companies were created in the ERP")
	require.NoError(t, my.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM products WHERE erp_id IS NOT NULL").Scan(&crmProducts))
	require.Equal(t, 77, crmProducts, "the ERP's products were created in the CRM")
	var city string
	require.NoError(t, pg.QueryRowContext(t.Context(), "SELECT city FROM customers WHERE company_name = 'Blue Fjord AS'").Scan(&city))
	require.Equal(t, "Oslo", city)

	// A change typed by hand in the CRM, without touching updated_at, moves:
	// the trigger of the DDL maintains it.
	_, err = my.ExecContext(t.Context(), "UPDATE companies SET city = 'Bergen' WHERE company_name = 'Blue Fjord AS'")
	require.NoError(t, err)
	out, code = run(t, "sync", "--once", "--config", cfg, "--progress", "off")
	require.Equal(t, exitOK, code, out)
	require.NoError(t, pg.QueryRowContext(t.Context(), "SELECT city FROM customers WHERE company_name = 'Blue Fjord AS'").Scan(&city))
	require.Equal(t, "Bergen", city)
}

// TestInit_Prompts drives the questions through a reader: the systems, the
// owner and the currency are asked for, the defaults shown.
func TestInit_Prompts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, quickstart.Setup(context.Background(), dir, false))
	cfg := filepath.Join(dir, "init", "concord.yaml")
	in := strings.NewReader(strings.Join([]string{
		"sql:sqlite:" + filepath.Join(dir, "crm.db"),
		"sql:sqlite:" + filepath.Join(dir, "erp.db"),
		"ops@example.com",
		"", // currency: the default
	}, "\n") + "\n")
	var out strings.Builder
	o := &initOptions{path: cfg, currency: "USD", prompt: true}
	require.NoError(t, runInit(t.Context(), o, in, &out, slog.New(slog.DiscardHandler)))
	t.Log(out.String())
	require.Contains(t, out.String(), "CRM (sql:DRIVER:DSN, hubspot, tryton, odoo): ")
	require.Contains(t, out.String(), "Currency of money columns without one [USD]: ")
	written, err := os.ReadFile(cfg)
	require.NoError(t, err)
	t.Log(string(written))
	require.Contains(t, string(written), "owner: ops@example.com")
	require.Contains(t, string(written), "link: erp_customer_id", "an existing link column is used")
	require.Contains(t, string(written), "list_price: {column: price, currency: USD}", "SQLite keeps decimals as text")
	require.NotContains(t, out.String(), "ADD COLUMN", "the quickstart databases have their columns")
	vout, code := run(t, "validate", "--config", cfg)
	require.Equal(t, exitOK, code, vout)
	sout, code := run(t, "sync", "--once", "--config", cfg, "--progress", "off")
	require.Equal(t, exitOK, code, sout)
}

func TestInit_Usage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "concord.yaml")
	out, code := run(t, "init", "--config", cfg)
	require.Equal(t, exitUsage, code, out)
	require.Contains(t, out, "--crm is required")
	require.Contains(t, out, "--owner")
	out, code = run(t, "init", "--config", cfg, "--crm", "sql:oracle:x", "--erp", "sql:postgres://u:secret@h/db", "--owner", "a@example.com")
	require.Equal(t, exitUsage, code, out)
	require.Contains(t, out, `unknown driver "oracle"`)
	require.Contains(t, out, "the DSN holds a password")
	require.NotContains(t, out, "secret@")
	_, err := os.Stat(cfg)
	require.ErrorIs(t, err, os.ErrNotExist, "nothing written on a usage error")
}

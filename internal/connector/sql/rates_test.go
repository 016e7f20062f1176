package sqlconn_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	sqlconn "github.com/concord-sync/concord/internal/connector/sql"
)

// ratesDB gives a test a database of its own on each engine: a SQLite file,
// and a database created on the local PostgreSQL and MariaDB (dropped at
// cleanup). It returns the connector's DSN and an admin connection to it.
func ratesDB(t *testing.T, driver string) (string, *sql.DB) {
	t.Helper()
	ctx := context.Background()
	if driver == sqlconn.DriverSQLite {
		dsn := filepath.Join(t.TempDir(), "erp.db")
		db, err := sql.Open("sqlite", dsn)
		require.NoError(t, err)
		t.Cleanup(func() { _ = db.Close() })
		return dsn, db
	}
	name := randName("concord_x1_rates_")
	server := map[string][2]string{
		sqlconn.DriverPostgres: {"pgx", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"},
		sqlconn.DriverMySQL:    {"mysql", "root@tcp(127.0.0.1:3306)/"},
	}[driver]
	admin, err := sql.Open(server[0], server[1])
	require.NoError(t, err)
	t.Cleanup(func() { _ = admin.Close() })
	_, err = admin.ExecContext(ctx, "CREATE DATABASE "+name)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = admin.ExecContext(context.Background(), "DROP DATABASE "+name) })
	dsn := "postgres://postgres@127.0.0.1:5432/" + name + "?sslmode=disable"
	if driver == sqlconn.DriverMySQL {
		dsn = "root@tcp(127.0.0.1:3306)/" + name
	}
	db, err := sql.Open(server[0], dsn)
	require.NoError(t, err)
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { _ = db.Close() })
	return dsn, db
}

func TestConn_Rates(t *testing.T) {
	t.Parallel()
	ddl := map[string]string{
		sqlconn.DriverSQLite:   `CREATE TABLE fx_rates (cur TEXT, valid_from TEXT, rate TEXT, base TEXT)`,
		sqlconn.DriverPostgres: `CREATE TABLE fx_rates (cur CHAR(3), valid_from DATE, rate NUMERIC(18,10), base CHAR(3))`,
		sqlconn.DriverMySQL:    `CREATE TABLE fx_rates (cur CHAR(3), valid_from DATE, rate DECIMAL(18,10), base CHAR(3))`,
	}
	for _, driver := range []string{sqlconn.DriverSQLite, sqlconn.DriverPostgres, sqlconn.DriverMySQL} {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dsn, db := ratesDB(t, driver)
			_, err := db.ExecContext(ctx, ddl[driver])
			require.NoError(t, err)
			_, err = db.ExecContext(ctx, `INSERT INTO fx_rates (cur, valid_from, rate, base) VALUES
				('USD', '2026-03-01', '1.0850', 'EUR'),
				('usd', '2026-03-15', '1.0912345678', 'EUR'),
				('GBP', '2026-03-01', '0.84', 'EUR'),
				('JPY', NULL, '160', 'EUR')`)
			require.NoError(t, err)
			open := func(t *testing.T, rates map[string]any) *sqlconn.Conn {
				t.Helper()
				settings := map[string]any{"driver": driver, "dsn": dsn, "rates": rates,
					"entities": map[string]any{"account": map[string]any{"table": "customers", "id": "id", "updated_at": "updated_at", "link": "crm_id", "fields": map[string]any{"name": "name"}}}}
				reg := connector.NewRegistry()
				sqlconn.Register(reg)
				spec, _ := reg.Lookup(sqlconn.Name)
				require.Empty(t, spec.Validate(settings))
				c, err := spec.Open(ctx, connector.OpenParams{System: "erp", Settings: settings, Logger: slog.New(slog.DiscardHandler)})
				require.NoError(t, err)
				t.Cleanup(func() { _ = c.Close(ctx) })
				return c.(*sqlconn.Conn)
			}
			got := func(rs []connector.Rate) []string {
				var out []string
				for _, r := range rs {
					out = append(out, fmt.Sprintf("%s %s %s %s", r.Date.Format(time.DateOnly), r.Base, r.Currency, r.Rate))
				}
				return out
			}

			t.Run("BaseColumn", func(t *testing.T) {
				c := open(t, map[string]any{"table": "fx_rates", "currency": "cur", "date": "valid_from", "rate": "rate", "base": "base"})
				rs, err := c.Rates(ctx)
				require.NoError(t, err)
				require.ElementsMatch(t, []string{
					"2026-03-01 EUR USD 1.085", "2026-03-15 EUR USD 1.0912345678", "2026-03-01 EUR GBP 0.84",
				}, got(rs)) // the row without a date holds no rate
			})
			t.Run("BaseCurrency", func(t *testing.T) {
				c := open(t, map[string]any{"table": "fx_rates", "currency": "cur", "date": "valid_from", "rate": "rate", "base_currency": "chf"})
				rs, err := c.Rates(ctx)
				require.NoError(t, err)
				require.Contains(t, got(rs), "2026-03-01 CHF GBP 0.84")
			})
			t.Run("ErrNoTable", func(t *testing.T) {
				c := open(t, map[string]any{"table": "no_such_rates", "currency": "cur", "date": "valid_from", "rate": "rate", "base": "base"})
				_, err := c.Rates(ctx)
				require.ErrorContains(t, err, "sql system erp: read rates from no_such_rates")
			})
		})
	}
}

func TestConn_RatesBadRow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn, db := ratesDB(t, sqlconn.DriverSQLite)
	_, err := db.ExecContext(ctx, `CREATE TABLE fx (cur TEXT, day TEXT, rate TEXT)`)
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, `INSERT INTO fx VALUES ('USD', '2026-03-01', '1.08'), ('USD', '2026-03-02', 'n/a')`)
	require.NoError(t, err)
	settings := map[string]any{"driver": "sqlite", "dsn": dsn,
		"rates":    map[string]any{"table": "fx", "currency": "cur", "date": "day", "rate": "rate", "base_currency": "EUR"},
		"entities": map[string]any{"account": map[string]any{"table": "c", "id": "id", "updated_at": "u", "link": "l", "fields": map[string]any{"name": "name"}}}}
	c, err := sqlconn.Open(ctx, connector.OpenParams{System: "erp", Settings: settings})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close(ctx) })
	_, err = c.Rates(ctx)
	require.ErrorContains(t, err, "sql system erp: rates table fx, row 2, column rate")
}

func TestValidate_Rates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		rates map[string]any
		want  []string
	}{
		{"OK", map[string]any{"table": "fx", "currency": "c", "date": "d", "rate": "r", "base": "b"}, nil},
		{"ErrNoBase", map[string]any{"table": "fx", "currency": "c", "date": "d", "rate": "r"}, []string{"rates"}},
		{"ErrBothBases", map[string]any{"table": "fx", "currency": "c", "date": "d", "rate": "r", "base": "b", "base_currency": "EUR"}, []string{"rates"}},
		{"ErrColumns", map[string]any{"base_currency": "EURO"}, []string{"rates.base_currency", "rates.currency", "rates.date", "rates.rate", "rates.table"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			errs := sqlconn.Validate(settingsWith(validAccount(), "rates", tt.rates))
			require.Equal(t, tt.want, paths(t, errs))
		})
	}
}

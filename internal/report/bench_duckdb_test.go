//go:build duckdb

package report

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2" // the "duckdb" database/sql driver (cgo)
)

// duckMacros are the exact decimal helpers as DuckDB macros over DECIMAL.
const duckMacros = `
CREATE MACRO dec_add(a, b) AS a + b;
CREATE MACRO dec_sub(a, b) AS a - b;
CREATE MACRO dec_mul(a, b) AS a * b;
CREATE MACRO dec_div(a, b, s) AS round(a / NULLIF(b, 0), s);
CREATE MACRO dec_round(a, s) AS round(a, s);
CREATE MACRO dec_sum(x) AS sum(x);
`

func init() { //nolint:gochecknoinits // adds the build-tagged engine to the benchmark
	benchEngines = append(benchEngines, benchEngine{
		name: "duckdb",
		open: func(b *testing.B) *DB {
			ctx := context.Background()
			db, err := sql.Open("duckdb", filepath.Join(b.TempDir(), "bench.duckdb"))
			if err != nil {
				b.Fatal(err)
			}
			src := duckMacros + "\n" + strings.ReplaceAll(schemaSQL, "{{money}}", "DECIMAL(38,6)")
			for _, s := range statements(src) {
				if _, err := db.ExecContext(ctx, s); err != nil {
					b.Fatalf("%v\n%s", err, s)
				}
			}
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				b.Fatal(err)
			}
			if err := fillDates(ctx, tx, "duckdb"); err != nil {
				b.Fatal(err)
			}
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
			return &DB{db: db, dialect: "duckdb", where: "duckdb"}
		},
		series: func(n int) string { return "range(1, " + itoa(n+1) + ") AS n(i)" },
		money:  func(e string) string { return "CAST((" + e + ") AS DECIMAL(38,6))" },
		date:   func(d string) string { return "strftime(DATE '2024-01-01' + CAST((" + d + ") AS INTEGER), '%Y-%m-%d')" },
		div:    func(a, b string) string { return "((" + a + ") // (" + b + "))" },
	})
}

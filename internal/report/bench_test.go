package report

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// The store comparison of docs/benchmarks.md: the five reports on a generated
// reporting database of CONCORD_REPORT_BENCH_LINES invoice lines (default one
// million: 250,000 orders and invoices of four lines, 5,000 customers, 1,000
// products, 250,000 deals), on SQLite (modernc, pure Go), PostgreSQL and, with
// -tags duckdb (cgo), DuckDB.
//
//	go test ./internal/report -run '^$' -bench Reports -benchtime 3x
//	go test -tags duckdb ./internal/report -run '^$' -bench Reports -benchtime 3x

// benchEngine is one database under comparison.
type benchEngine struct {
	name string
	open func(b *testing.B) *DB
	// dialect pieces of the generator
	series func(n int) string // FROM source with column i, 1..n
	money  func(expr string) string
	date   func(days string) string // '2024-01-01' + days, as YYYY-MM-DD text
	div    func(a, b string) string // integer division
}

// benchEngines are the engines of BenchmarkReports; the duckdb build tag adds
// one.
var benchEngines = []benchEngine{
	{
		name: "sqlite",
		open: func(b *testing.B) *DB {
			d, err := Open(context.Background(), Config{Driver: SQLite, Path: filepath.Join(b.TempDir(), "bench.db")})
			if err != nil {
				b.Fatal(err)
			}
			return d
		},
		series: func(n int) string {
			return fmt.Sprintf("(WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM s WHERE i < %d) SELECT i FROM s) n", n)
		},
		money: func(e string) string { return "CAST((" + e + ") AS TEXT)" },
		date:  func(d string) string { return "date('2024-01-01', '+' || (" + d + ") || ' days')" },
		div:   func(a, b string) string { return "((" + a + ") / (" + b + "))" },
	},
	{
		name: "postgres",
		open: func(b *testing.B) *DB {
			schema := fmt.Sprintf("concord_r3_bench_%d", time.Now().UnixNano())
			dsn := "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
			d, err := Open(context.Background(), Config{Driver: Postgres, DSN: dsn, Schema: schema})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _, _ = d.db.Exec(`DROP SCHEMA ` + schema + ` CASCADE`) })
			return d
		},
		series: func(n int) string { return fmt.Sprintf("generate_series(1, %d) AS n(i)", n) },
		money:  func(e string) string { return "CAST((" + e + ") AS NUMERIC)" },
		date: func(d string) string {
			return "to_char(DATE '2024-01-01' + CAST((" + d + ") AS INTEGER), 'YYYY-MM-DD')"
		},
		div: func(a, b string) string { return "((" + a + ") / (" + b + "))" },
	},
}

func benchLines(b *testing.B) int {
	n := 1_000_000
	if s := os.Getenv("CONCORD_REPORT_BENCH_LINES"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 4 {
			b.Fatalf("CONCORD_REPORT_BENCH_LINES=%q: want a number of lines >= 4", s)
		}
		n = v
	}
	return n
}

// generate fills the source tables with lines invoice lines.
func generate(ctx context.Context, db *sql.DB, e benchEngine, lines int) error {
	orders := lines / 4
	const customers, products = 5000, 1000
	m, dt, div := e.money, e.date, e.div
	stmts := []string{
		`INSERT INTO erp_product (id, sku, name, list_price, cost_price, currency, active, archived)
		 SELECT CAST(i AS TEXT), 'SKU' || CAST(i AS TEXT), 'Product ' || CAST(i AS TEXT), ` + m("i % 90 + 10.5") + `,
		 CASE WHEN i % 7 = 0 THEN NULL ELSE ` + m("(i % 90 + 10) * 0.5") + ` END, 'USD', 1, 0 FROM ` + e.series(products),
		`INSERT INTO erp_customer (id, name, customer_number, country, currency, archived)
		 SELECT 'C' || CAST(i AS TEXT), 'Customer ' || CAST(i AS TEXT), 'K' || CAST(i AS TEXT), 'DE', 'USD', 0 FROM ` + e.series(customers),
		`INSERT INTO crm_account (id, name, segment, country, archived)
		 SELECT 'A' || CAST(i AS TEXT), 'Customer ' || CAST(i AS TEXT),
		 CASE i % 4 WHEN 0 THEN 'Enterprise' WHEN 1 THEN 'SMB' WHEN 2 THEN 'Retail' ELSE NULL END, 'DE', 0 FROM ` + e.series(customers),
		`INSERT INTO report_link (entity, crm_id, erp_id) SELECT 'customer', 'A' || CAST(i AS TEXT), 'C' || CAST(i AS TEXT) FROM ` + e.series(customers),
		`INSERT INTO erp_order (id, customer_id, state, order_date, currency, archived)
		 SELECT CAST(i AS TEXT), 'C' || CAST(i % 5000 + 1 AS TEXT), 'confirmed', ` + dt("i % 730") + `, 'USD', 0 FROM ` + e.series(orders),
		`INSERT INTO erp_order_line (order_id, line_no, product_id, quantity, unit_price, discount, amount, currency)
		 SELECT CAST(` + div("i - 1", "4") + ` + 1 AS TEXT), (i - 1) % 4 + 1, CAST(i % 1000 + 1 AS TEXT), ` + m("i % 10 + 1") + `,
		 ` + m("i % 90 + 10.5") + `, ` + m("0") + `, ` + m("(i % 10 + 1) * (i % 90 + 10.5)") + `, 'USD' FROM ` + e.series(orders*4),
		`INSERT INTO erp_invoice (id, number, order_id, customer_id, state, invoice_date, due_date, paid_date, total, amount_due, currency, archived)
		 SELECT CAST(i AS TEXT), 'INV' || CAST(i AS TEXT), CAST(i AS TEXT), 'C' || CAST(i % 5000 + 1 AS TEXT),
		 CASE WHEN i % 3 = 0 THEN 'paid' ELSE 'posted' END, ` + dt("i % 730 + 3") + `, ` + dt("i % 730 + 33") + `,
		 CASE WHEN i % 3 = 0 THEN ` + dt("i % 730 + 20") + ` END, ` + m("1000.5") + `,
		 CASE WHEN i % 3 = 0 THEN ` + m("0") + ` ELSE ` + m("1000.5") + ` END, 'USD', 0 FROM ` + e.series(orders),
		`INSERT INTO erp_payment (id, invoice_id, paid_on, amount, currency, derived)
		 SELECT 'invoice:' || CAST(i AS TEXT), CAST(i AS TEXT), ` + dt("i % 730 + 20") + `, ` + m("1000.5") + `, 'USD', 1 FROM ` + e.series(orders) + ` WHERE i % 3 = 0`,
		`INSERT INTO crm_deal (id, name, stage, account_id, amount, currency, close_date, won_date, archived)
		 SELECT 'D' || CAST(i AS TEXT), 'Deal ' || CAST(i AS TEXT), CASE WHEN i % 5 = 0 THEN 'qualified' ELSE 'won' END,
		 'A' || CAST(i % 5000 + 1 AS TEXT), ` + m("1000.5") + `, 'USD', ` + dt("i % 730") + `,
		 CASE WHEN i % 5 = 0 THEN NULL ELSE ` + dt("i % 730") + ` END, 0 FROM ` + e.series(orders),
		`INSERT INTO report_link (entity, crm_id, erp_id) SELECT 'deal', 'D' || CAST(i AS TEXT), CAST(i AS TEXT) FROM ` + e.series(orders) + ` WHERE i % 5 <> 0`,
	}
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%w\n%s", err, s)
		}
	}
	return nil
}

// BenchmarkReports runs each report on each engine; generating the data is
// not timed, and is logged with its duration.
func BenchmarkReports(b *testing.B) {
	lines := benchLines(b)
	cat, err := LoadCatalog("")
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range benchEngines {
		b.Run(e.name, func(b *testing.B) {
			ctx := context.Background()
			d := e.open(b)
			defer d.Close()
			start := time.Now()
			if err := generate(ctx, d.db, e, lines); err != nil {
				b.Fatal(err)
			}
			if e.name == "postgres" {
				if _, err := d.db.ExecContext(ctx, `ANALYZE`); err != nil {
					b.Fatal(err)
				}
			}
			b.Logf("%s: %d invoice lines generated in %s", e.name, lines, time.Since(start).Round(time.Millisecond))
			for _, r := range cat.Reports() {
				b.Run(r.Name, func(b *testing.B) {
					for b.Loop() {
						res, err := Run(ctx, d, r, Params{Today: "2026-01-01"})
						if err != nil {
							b.Fatal(err)
						}
						if len(res.Rows) == 0 {
							b.Fatal("no rows")
						}
					}
				})
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

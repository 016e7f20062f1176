package report

import (
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/parquet-go/parquet-go"
)

// StarTables are the tables and views of the star schema, in the order Export
// writes them.
var StarTables = []string{"dim_customer", "dim_product", "dim_date", "dim_rate", "fact_deal", "fact_invoice", "fact_invoice_line", "fact_payment"}

// integerColumns are the star schema's integer columns; every other column is
// text (exact decimals included) in an export.
var integerColumns = []string{"day_number", "year", "month_no", "weekday", "line_no", "active", "derived"}

// ExportFormats are the formats of Export.
var ExportFormats = []string{"csv", "parquet"}

// Export writes every table of the star schema into dir (created if needed) as
// TABLE.csv or TABLE.parquet and returns the files written with their row
// counts. In Parquet, integer columns are INT64 and the others UTF-8 strings
// (decimals as exact text); every column is optional (NULL).
func Export(ctx context.Context, d *DB, format, dir string) (map[string]int, error) {
	if !slices.Contains(ExportFormats, format) {
		return nil, fmt.Errorf("unknown export format %q (want %s)", format, strings.Join(ExportFormats, " or "))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("report: export: %w", err)
	}
	out := map[string]int{}
	for _, t := range StarTables {
		path := filepath.Join(dir, t+"."+format)
		n, err := exportTable(ctx, d, t, format, path)
		if err != nil {
			return out, fmt.Errorf("report: export %s to %s: %w", t, path, err)
		}
		out[path] = n
	}
	return out, nil
}

func exportTable(ctx context.Context, d *DB, table, format, path string) (n int, err error) {
	rows, err := d.db.QueryContext(ctx, `SELECT * FROM `+table)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	var (
		write func([]any) error
		done  func() error
	)
	switch format {
	case "csv":
		cw := csv.NewWriter(f)
		if err := cw.Write(cols); err != nil {
			return 0, err
		}
		write = func(vals []any) error {
			cells := make([]string, len(vals))
			for i, v := range vals {
				cells[i] = cellText(v)
			}
			return cw.Write(cells)
		}
		done = func() error { cw.Flush(); return cw.Error() }
	case "parquet":
		group := parquet.Group{}
		for _, c := range cols {
			if slices.Contains(integerColumns, c) {
				group[c] = parquet.Optional(parquet.Int(64))
			} else {
				group[c] = parquet.Optional(parquet.String())
			}
		}
		schema := parquet.NewSchema(table, group)
		// the schema orders columns by name: where each result column goes
		order := make([]int, len(cols))
		for i, path := range schema.Columns() {
			order[slices.Index(cols, path[0])] = i
		}
		pw := parquet.NewWriter(f, schema)
		batch := make([]parquet.Row, 0, 1024)
		flush := func() error {
			_, err := pw.WriteRows(batch)
			batch = batch[:0]
			return err
		}
		write = func(vals []any) error {
			row := make(parquet.Row, len(cols))
			for i, v := range vals {
				idx := order[i]
				switch x := v.(type) {
				case nil:
					row[idx] = parquet.NullValue().Level(0, 0, idx)
				case int64:
					if slices.Contains(integerColumns, cols[i]) {
						row[idx] = parquet.Int64Value(x).Level(0, 1, idx)
					} else {
						row[idx] = parquet.ByteArrayValue([]byte(cellText(x))).Level(0, 1, idx)
					}
				default:
					row[idx] = parquet.ByteArrayValue([]byte(cellText(x))).Level(0, 1, idx)
				}
			}
			batch = append(batch, row)
			if len(batch) == cap(batch) {
				return flush()
			}
			return nil
		}
		done = func() error {
			if err := flush(); err != nil {
				return err
			}
			return pw.Close()
		}
	}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		for i, v := range vals {
			vals[i] = cell(v, "")
			if s, ok := vals[i].(string); ok && slices.Contains(integerColumns, cols[i]) {
				// SQLite's views may hand integers back as text
				var k int64
				if _, err := fmt.Sscan(s, &k); err == nil {
					vals[i] = k
				}
			}
		}
		if err := write(vals); err != nil {
			return n, err
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	return n, done()
}

package report_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/report"
)

func refreshed(t *testing.T) *report.DB {
	t.Helper()
	db := openDBs(t)["SQLite"](t)
	crm, erp := smallWorld()
	_, err := (&report.Refresher{DB: db, CRM: report.System{Name: "crm", Reader: crm}, ERP: report.System{Name: "erp", Reader: erp}}).Refresh(context.Background(), false)
	require.NoError(t, err)
	return db
}

func TestExport(t *testing.T) {
	t.Parallel()
	db := refreshed(t)
	ctx := context.Background()

	t.Run("CSV", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		files, err := report.Export(ctx, db, "csv", dir)
		require.NoError(t, err)
		require.Len(t, files, len(report.StarTables))
		f, err := os.Open(filepath.Join(dir, "fact_invoice_line.csv"))
		require.NoError(t, err)
		defer f.Close()
		recs, err := csv.NewReader(f).ReadAll()
		require.NoError(t, err)
		require.Len(t, recs, 4, "header and three lines")
		require.Contains(t, recs[0], "cost")
	})

	t.Run("Parquet", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		files, err := report.Export(ctx, db, "parquet", dir)
		require.NoError(t, err)
		path := filepath.Join(dir, "fact_invoice_line.parquet")
		require.Equal(t, 3, files[path])
		f, err := os.Open(path)
		require.NoError(t, err)
		defer f.Close()
		st, err := f.Stat()
		require.NoError(t, err)
		pf, err := parquet.OpenFile(f, st.Size())
		require.NoError(t, err)
		require.Equal(t, int64(3), pf.NumRows())
		rows := make([]parquet.Row, 3)
		r := parquet.NewReader(pf)
		n, _ := r.ReadRows(rows)
		require.Equal(t, 3, n)
		costCol, ok := pf.Schema().Lookup("cost")
		require.True(t, ok)
		var costs []string
		for _, row := range rows[:n] {
			if v := row[costCol.ColumnIndex]; !v.IsNull() {
				costs = append(costs, v.String())
			}
		}
		require.ElementsMatch(t, []string{"60.03", "18.009"}, costs, "exact decimals as text; the line without cost is null")
	})
}

func TestRender(t *testing.T) {
	t.Parallel()
	db := refreshed(t)
	cat, err := report.LoadCatalog("")
	require.NoError(t, err)
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, r := range cat.Reports() {
		res, err := report.Run(context.Background(), db, r, report.Params{Today: "2026-03-01"})
		require.NoError(t, err)
		for _, format := range report.Formats {
			var b bytes.Buffer
			require.NoError(t, report.Render(&b, res, format, at), r.Name+" "+format)
			switch format {
			case "csv":
				recs, err := csv.NewReader(&b).ReadAll()
				require.NoError(t, err)
				require.Len(t, recs, len(res.Rows)+1)
			case "json":
				var out struct {
					Report string           `json:"report"`
					Rows   []map[string]any `json:"rows"`
				}
				require.NoError(t, json.Unmarshal(b.Bytes(), &out))
				require.Equal(t, r.Name, out.Report)
				require.Len(t, out.Rows, len(res.Rows))
			case "html":
				require.Contains(t, b.String(), "<table")
				if r.Chart != "" && len(res.Rows) > 0 {
					require.Contains(t, b.String(), "<svg", r.Name)
				}
			}
		}
	}
}

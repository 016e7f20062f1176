package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/concord-sync/concord/internal/fx"
	"github.com/concord-sync/concord/internal/htmlreport"
)

// Formats are the output formats of a report.
var Formats = []string{"table", "csv", "json", "html"}

// Render writes res in format (one of Formats).
func Render(w io.Writer, res *Result, format string, at time.Time) error {
	switch format {
	case "table", "":
		return renderTable(w, res)
	case "csv":
		return renderCSV(w, res)
	case "json":
		return renderJSON(w, res, at)
	case "html":
		return htmlreport.Write(w, Page(res, at))
	}
	return fmt.Errorf("unknown format %q (want %s)", format, strings.Join(Formats, ", "))
}

// text returns a cell as printed: empty for NULL.
func cellText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case int64:
		return strconv.FormatInt(x, 10)
	case string:
		return x
	}
	return fmt.Sprint(v)
}

// numeric reports, per column, whether every non-NULL cell is a number.
func numeric(res *Result) []bool {
	out := make([]bool, len(res.Columns))
	for i := range out {
		seen := false
		out[i] = true
		for _, row := range res.Rows {
			switch x := row[i].(type) {
			case nil:
			case int64:
				seen = true
			case string:
				seen = true
				if _, err := strconv.ParseFloat(x, 64); err != nil {
					out[i] = false
				}
			default:
				out[i] = false
			}
		}
		out[i] = out[i] && seen
	}
	return out
}

func renderTable(w io.Writer, res *Result) error {
	num := numeric(res)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := make([]string, len(res.Columns))
	for i, c := range res.Columns {
		head[i] = strings.ToUpper(c)
	}
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for _, row := range res.Rows {
		cells := make([]string, len(row))
		for i, v := range row {
			cells[i] = cellText(v)
			if v == nil && num[i] {
				cells[i] = "-"
			}
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(res.Rows) == 0 {
		if _, err := fmt.Fprintln(w, "(no rows)"); err != nil {
			return err
		}
	}
	for _, n := range res.Notes {
		if _, err := fmt.Fprintf(w, "note: %s\n", n); err != nil {
			return err
		}
	}
	return nil
}

func renderCSV(w io.Writer, res *Result) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(res.Columns); err != nil {
		return err
	}
	for _, row := range res.Rows {
		cells := make([]string, len(row))
		for i, v := range row {
			cells[i] = cellText(v)
		}
		if err := cw.Write(cells); err != nil {
			return err
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	// The notes of a converted report follow the rows as comment lines
	// (# ...), which CSV readers skip when told (pandas: comment="#").
	for _, n := range res.Notes {
		if _, err := fmt.Fprintf(w, "# %s\n", strings.ReplaceAll(n, "\n", " ")); err != nil {
			return err
		}
	}
	return nil
}

// jsonReport is the JSON output: rows as objects keyed by column, counts as
// numbers, decimals as strings (exact), NULL as null.
type jsonReport struct {
	Report      string    `json:"report"`
	Title       string    `json:"title"`
	Description string    `json:"description"`
	At          time.Time `json:"at"`
	Since       string    `json:"since,omitempty"`
	Today       string    `json:"today"`
	// Currency is the currency a converted report is in (--currency).
	Currency string `json:"currency,omitempty"`
	// Rates are the ERP's exchange rates the conversion used.
	Rates   []jsonRate       `json:"rates,omitempty"`
	Notes   []string         `json:"notes,omitempty"`
	Columns []string         `json:"columns"`
	Rows    []map[string]any `json:"rows"`
}

// jsonRate is one of the ERP's rates: from valid_from on, 1 base is worth
// rate currency.
type jsonRate struct {
	Currency  string `json:"currency"`
	Base      string `json:"base"`
	ValidFrom string `json:"valid_from"`
	Rate      string `json:"rate"`
	Text      string `json:"text"`
}

func renderJSON(w io.Writer, res *Result, at time.Time) error {
	out := jsonReport{Report: res.Report.Name, Title: res.Report.Title, Description: res.Report.Description, At: at.UTC(),
		Today: res.Params.Today, Columns: res.Columns, Rows: make([]map[string]any, 0, len(res.Rows))}
	if res.Params.Since != "0001-01-01" {
		out.Since = res.Params.Since
	}
	out.Currency, out.Notes = res.Params.Currency, res.Notes
	for _, r := range res.Rates {
		out.Rates = append(out.Rates, jsonRate{Currency: r.Currency, Base: r.Base, ValidFrom: r.Date.Format(time.DateOnly), Rate: r.Rate.String(), Text: fx.RateString(r)})
	}
	for _, row := range res.Rows {
		m := make(map[string]any, len(row))
		for i, c := range res.Columns {
			m[c] = row[i]
		}
		out.Rows = append(out.Rows, m)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// maxChartLabels is how many labels a chart shows (the first rows).
const maxChartLabels = 24

// Page is res as an HTML page: the description, a chart per currency when the
// report has a chart, and the table.
func Page(res *Result, at time.Time) htmlreport.Page {
	r := res.Report
	sec := htmlreport.Section{Title: r.Title}
	if r.Description != "" {
		sec.Text = append(sec.Text, r.Description)
	}
	if res.Params.Since != "" && res.Params.Since != "0001-01-01" {
		sec.Text = append(sec.Text, "Since "+res.Params.Since+".")
	}
	if res.Params.Currency != "" {
		sec.Text = append(sec.Text, "In "+res.Params.Currency+", converted with the ERP's exchange rates.")
	}
	sec.Text = append(sec.Text, res.Notes...)
	sec.Charts = Charts(res)
	sec.Tables = []htmlreport.Table{{Columns: res.Columns, Numeric: numeric(res), Rows: textRows(res)}}
	return htmlreport.Page{Title: r.Title, Subtitle: "concord report " + r.Name, At: at, Sections: []htmlreport.Section{sec}}
}

func textRows(res *Result) [][]string {
	out := make([][]string, len(res.Rows))
	for i, row := range res.Rows {
		out[i] = make([]string, len(row))
		for j, v := range row {
			out[i][j] = cellText(v)
		}
	}
	return out
}

// Charts draws the report's chart spec, one chart per currency when the
// result has a currency column. Values become floating point here, and only
// here, for drawing.
func Charts(res *Result) []htmlreport.Chart {
	spec, err := parseChart(res.Report.Chart)
	if res.Report.Chart == "" || err != nil {
		return nil
	}
	col := func(name string) int { return slices.Index(res.Columns, name) }
	li, bi, ci := col(spec.label), col(spec.by), col("currency")
	if li < 0 || (spec.by != "" && bi < 0) {
		return nil
	}
	var vis []int
	for _, v := range spec.values {
		if i := col(v); i >= 0 {
			vis = append(vis, i)
		}
	}
	if len(vis) == 0 {
		return nil
	}
	var currencies []string
	for _, row := range res.Rows {
		c := ""
		if ci >= 0 {
			c = cellText(row[ci])
		}
		if !slices.Contains(currencies, c) {
			currencies = append(currencies, c)
		}
	}
	var charts []htmlreport.Chart
	for _, cur := range currencies {
		ch := htmlreport.Chart{Title: res.Report.Title, Unit: cur}
		if cur != "" && len(currencies) > 1 {
			ch.Title += " (" + cur + ")"
		}
		type key struct{ label, series string }
		vals := map[key]float64{}
		var series []string
		for _, row := range res.Rows {
			if ci >= 0 && cellText(row[ci]) != cur {
				continue
			}
			label := cellText(row[li])
			if !slices.Contains(ch.Labels, label) {
				if len(ch.Labels) == maxChartLabels {
					continue
				}
				ch.Labels = append(ch.Labels, label)
			}
			for _, vi := range vis {
				s := res.Columns[vi]
				if bi >= 0 {
					s = cellText(row[bi])
				}
				if !slices.Contains(series, s) {
					series = append(series, s)
				}
				f, _ := strconv.ParseFloat(cellText(row[vi]), 64)
				vals[key{label, s}] += f
			}
		}
		for _, s := range series {
			sr := htmlreport.Series{Name: s, Values: make([]float64, len(ch.Labels))}
			for i, l := range ch.Labels {
				sr.Values[i] = vals[key{l, s}]
			}
			ch.Series = append(ch.Series, sr)
		}
		charts = append(charts, ch)
	}
	return charts
}

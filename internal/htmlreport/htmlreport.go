// Package htmlreport writes self-contained HTML reports: one file, no script,
// no network: tables and charts drawn as inline SVG, so a report can be mailed,
// archived and opened anywhere. reconcile, report and assess use it.
package htmlreport

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
	"time"
)

// Page is one report.
type Page struct {
	Title    string
	Subtitle string
	At       time.Time
	Sections []Section
}

// Section is a heading with, in order, its text, charts and tables.
type Section struct {
	Title  string
	Text   []string
	Charts []Chart
	Tables []Table
}

// Table is a table of text cells; Numeric marks columns aligned right.
type Table struct {
	Caption string
	Columns []string
	Numeric []bool
	Rows    [][]string
}

// Chart is a bar chart: one bar group per label, one bar per series.
type Chart struct {
	Title  string
	Unit   string // printed after values ("EUR", "days")
	Labels []string
	Series []Series
}

// Series is one named set of values, one per label.
type Series struct {
	Name   string
	Values []float64
}

// palette is colour-blind safe (Okabe-Ito).
var palette = []string{"#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"}

// Write renders p as one HTML document.
func Write(w io.Writer, p Page) error {
	return page.Execute(w, p)
}

// SVG renders c as an inline SVG bar chart.
func (c Chart) SVG() template.HTML {
	const width, height, left, bottom, top = 720.0, 260.0, 70.0, 40.0, 20.0
	n := len(c.Labels)
	if n == 0 || len(c.Series) == 0 {
		return ""
	}
	lo, hi := 0.0, 0.0
	for _, s := range c.Series {
		for _, v := range s.Values {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	if hi == lo {
		hi = lo + 1
	}
	plotH := height - bottom - top
	y := func(v float64) float64 { return top + (hi-v)/(hi-lo)*plotH }
	group := (width - left - 10) / float64(n)
	bar := group * 0.8 / float64(len(c.Series))
	var b strings.Builder
	fmt.Fprintf(&b, `<svg viewBox="0 0 %.0f %.0f" width="100%%" role="img" aria-label="%s">`, width, height+18*float64(len(c.Series)), template.HTMLEscapeString(c.Title))
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#888"/>`, left, y(0), width-10, y(0))
	for _, v := range []float64{lo, hi} {
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="11" text-anchor="end">%s</text>`, left-6, y(v)+4, template.HTMLEscapeString(formatNumber(v)))
	}
	for i, label := range c.Labels {
		x0 := left + float64(i)*group + group*0.1
		for j, s := range c.Series {
			if i >= len(s.Values) {
				continue
			}
			v := s.Values[i]
			top, bot := y(math.Max(v, 0)), y(math.Min(v, 0))
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %s %s</title></rect>`,
				x0+float64(j)*bar, top, math.Max(bar-1, 1), math.Max(bot-top, 0.5), palette[j%len(palette)],
				template.HTMLEscapeString(label), template.HTMLEscapeString(s.Name), template.HTMLEscapeString(formatNumber(v)), template.HTMLEscapeString(c.Unit))
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="11" text-anchor="middle">%s</text>`, x0+group*0.4, height-bottom+16, template.HTMLEscapeString(label))
	}
	for j, s := range c.Series {
		ly := height + 4 + 18*float64(j)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="12" height="12" fill="%s"/><text x="%.1f" y="%.1f" font-size="12">%s</text>`,
			left, ly, palette[j%len(palette)], left+18, ly+10, template.HTMLEscapeString(s.Name))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // every text in it is escaped above
}

func formatNumber(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

var page = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:60rem;color:#222;padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
.sub{color:#666}table{border-collapse:collapse;margin:1rem 0;font-size:.9rem;width:100%}
th,td{border-bottom:1px solid #eee;padding:.3rem .5rem;text-align:left;vertical-align:top}th{background:#f6f6f6}
td.n{text-align:right;font-variant-numeric:tabular-nums}caption{text-align:left;font-weight:600;padding:.3rem 0}
figure{margin:1rem 0}figcaption{font-weight:600}
</style></head><body>
<h1>{{.Title}}</h1>
<p class="sub">{{.Subtitle}}{{if not .At.IsZero}} · {{.At.Format "2006-01-02 15:04 MST"}}{{end}}</p>
{{range .Sections}}<section><h2>{{.Title}}</h2>
{{range .Text}}<p>{{.}}</p>{{end}}
{{range .Charts}}<figure><figcaption>{{.Title}}</figcaption>{{.SVG}}</figure>{{end}}
{{range .Tables}}{{$num := .Numeric}}<table>{{if .Caption}}<caption>{{.Caption}}</caption>{{end}}
<thead><tr>{{range .Columns}}<th>{{.}}</th>{{end}}</tr></thead><tbody>
{{range .Rows}}<tr>{{range $i, $c := .}}<td{{if and (lt $i (len $num)) (index $num $i)}} class="n"{{end}}>{{$c}}</td>{{end}}</tr>
{{end}}</tbody></table>{{end}}
</section>{{end}}
</body></html>
`))

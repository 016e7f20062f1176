package htmlreport_test

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/htmlreport"
)

// TestWrite: one document, no script and no external reference, values
// escaped, and the chart's SVG well-formed with one bar per value.
func TestWrite(t *testing.T) {
	t.Parallel()
	chart := htmlreport.Chart{Title: "Won vs invoiced", Unit: "USD", Labels: []string{"2026-01", "2026-02"},
		Series: []htmlreport.Series{{Name: "CRM won", Values: []float64{1200, -50}}, {Name: "ERP <invoiced>", Values: []float64{1100, 0}}}}
	var buf bytes.Buffer
	require.NoError(t, htmlreport.Write(&buf, htmlreport.Page{Title: "Reconcile <crm> & erp", Sections: []htmlreport.Section{{
		Title: "Months", Text: []string{"<script>alert(1)</script>"}, Charts: []htmlreport.Chart{chart},
		Tables: []htmlreport.Table{{Columns: []string{"month", "variance"}, Numeric: []bool{false, true}, Rows: [][]string{{"2026-01", "100.00"}}}},
	}}}))
	out := buf.String()
	require.NotContains(t, out, "<script>")
	require.NotContains(t, out, "http://", "nothing fetched from the network")
	require.Contains(t, out, "Reconcile &lt;crm&gt; &amp; erp")
	require.Contains(t, out, `<td class="n">100.00</td>`)
	svg := string(chart.SVG())
	var root struct{ XMLName xml.Name }
	require.NoError(t, xml.Unmarshal([]byte(svg), &root), svg)
	require.Equal(t, "svg", root.XMLName.Local)
	require.Equal(t, 4+2, strings.Count(svg, "<rect"), "4 bars and 2 legend keys")
	require.Contains(t, svg, "ERP &lt;invoiced&gt;")
}

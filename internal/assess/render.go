package assess

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/concord-sync/concord/internal/htmlreport"
)

// WriteJSON writes r as indented JSON.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Sanitize makes a value from a system safe to print (control characters
// escaped); WriteTable applies it to every value from a system.
type Sanitize func(string) string

// WriteTable writes r for a terminal: the top pains, the recommendation and
// snippet, then each measure.
func WriteTable(w io.Writer, r *Report, safe Sanitize) error {
	if safe == nil {
		safe = func(s string) string { return s }
	}
	a := r.Assumptions
	fmt.Fprintf(w, "concord assess: %s and %s, read %s\n", safe(r.CRM), safe(r.ERP), r.At.Format("2006-01-02 15:04"))
	fmt.Fprintf(w, "period: %s weeks (%s)\n", r.Weeks, r.WeeksFrom)
	fmt.Fprintf(w, "assumptions: %s min per entry, %s min per investigation, %s %s an hour, cost of money %s a year\n\n",
		a.MinutesPerEntry, a.MinutesPerInvestigation, a.HourlyCost, a.Currency, a.CapitalRate)

	fmt.Fprintf(w, "Top %d pains (estimated weekly cost)\n", len(r.Top))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "#\tcost/week\thours/week\tcount\tper week\t")
	for _, p := range r.Top {
		fmt.Fprintf(tw, "%d\t%s %s\t%s\t%d\t%s\t  %s\n", p.Rank, p.CostPerWeek.StringFixed(2), p.Currency, p.HoursPerWeek.StringFixed(2), p.Count, p.PerWeek.StringFixed(2), p.Title)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, p := range r.Top {
		fmt.Fprintf(w, "  %d. %s: %s\n", p.Rank, p.Key, p.Assumption)
	}
	if len(r.Pains) == 0 {
		fmt.Fprintln(w, "  none measured")
	}
	fmt.Fprintln(w)
	if rec := r.Recommend; rec != nil {
		target := string(rec.Entity)
		if rec.TargetEntity != "" {
			target = string(rec.Entity) + " -> " + string(rec.TargetEntity)
		}
		fmt.Fprintf(w, "Recommended first flow: %s (%s -> %s, %s), fields %s\n", rec.Flow, safe(rec.Source), safe(rec.Target), target, strings.Join(rec.Fields, ", "))
		fmt.Fprintf(w, "  %s\n", rec.Why)
		if len(rec.Needs) > 0 {
			fmt.Fprintf(w, "  needs: %s (in the snippet)\n", strings.Join(rec.Needs, ", "))
		}
		for _, b := range rec.Before {
			fmt.Fprintf(w, "  clean up first: %s\n", b)
		}
		fmt.Fprintf(w, "\n%s\n\n", indent(rec.Snippet, "  "))
	} else {
		fmt.Fprintln(w, "No flow recommended: no measured pain is one a flow removes.")
		fmt.Fprintln(w)
	}

	fmt.Fprintln(w, "Measures")
	c := r.Customers
	fmt.Fprintf(w, "  customers: %d in %s, %d in %s; in both: %d matched, %d likely (a person decides); only in %s: %d, only in %s: %d\n",
		c.CRM, safe(r.CRM), c.ERP, safe(r.ERP), c.Matched, c.Likely, safe(r.CRM), c.OnlyCRM, safe(r.ERP), c.OnlyERP)
	for _, d := range r.Drift {
		fmt.Fprintf(w, "  drift: %s differs on %d customers in both (owner %s)", d.Field, d.Pairs, safe(orNone(d.Owner)))
		if len(d.Examples) > 0 {
			e := d.Examples[0]
			fmt.Fprintf(w, ", e.g. %s %q vs %s %q", safe(r.CRM), safe(e.CRMValue), safe(r.ERP), safe(e.ERPValue))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "  won deals: %d (%d lines); with an order: %d by reference, %d by customer+amount+date; without: %d\n",
		r.Deals.Won, r.Deals.Lines, r.Deals.ByReference, r.Deals.ByMatch, len(r.Deals.WithoutOrder))
	for _, it := range r.Deals.WithoutOrder[:min(maxExamples, len(r.Deals.WithoutOrder))] {
		fmt.Fprintf(w, "    deal %s %s %s %s\n", safe(it.ID), safe(it.Name), it.Amount, it.Currency)
	}
	fmt.Fprintf(w, "  invoices: %d; with a deal: %d; without: %d\n", r.Invoices.Total, r.Invoices.WithDeal, len(r.Invoices.WithoutDeal))
	for _, it := range r.Invoices.WithoutDeal[:min(maxExamples, len(r.Invoices.WithoutDeal))] {
		fmt.Fprintf(w, "    invoice %s %s %s %s\n", safe(it.ID), safe(it.Name), it.Amount, it.Currency)
	}
	for _, d := range r.Duplicates {
		fmt.Fprintf(w, "  duplicates: %s %s: %d clusters, %d extra records among %d\n", safe(d.System), d.Entity, d.Clusters, d.Extra, d.Records)
	}
	for _, q := range r.Quality {
		fmt.Fprintf(w, "  quality: %s %s.%s [%s]: %d of %d would be quarantined", safe(q.System), q.Entity, q.Field, strings.Join(q.Rules, ","), q.Failed, q.Checked)
		if len(q.Examples) > 0 {
			fmt.Fprintf(w, ", e.g. %q %s", safe(q.Examples[0].Value), safe(q.Examples[0].Reason))
		}
		fmt.Fprintln(w)
	}
	if d := r.Delay; d != nil {
		fmt.Fprintf(w, "  won to order: %d pairs, mean %s days, median %s, 90%% within %s, max %s\n", d.Pairs, days(d.MeanDays), days(d.MedianDays), days(d.P90Days), days(d.MaxDays))
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  not measured: %s\n", safe(n))
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func days(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func indent(s, pre string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = pre + l
	}
	return strings.Join(lines, "\n")
}

// Page renders r as an HTML report page.
func Page(r *Report) htmlreport.Page {
	a := r.Assumptions
	p := htmlreport.Page{Title: "concord assess", At: r.At,
		Subtitle: fmt.Sprintf("%s and %s, before any flow: over %s weeks (%s)", r.CRM, r.ERP, r.Weeks, r.WeeksFrom)}
	top := htmlreport.Section{Title: "Top pains, estimated weekly cost",
		Text: []string{fmt.Sprintf("Assumptions: %s minutes per entry, %s minutes per investigation, %s %s an hour, cost of money %s a year. Change them with the flags of concord assess.",
			a.MinutesPerEntry, a.MinutesPerInvestigation, a.HourlyCost, a.Currency, a.CapitalRate)}}
	chart := htmlreport.Chart{Title: "Weekly cost of the top pains", Unit: a.Currency, Series: []htmlreport.Series{{Name: "cost per week"}}}
	table := htmlreport.Table{Columns: []string{"#", "pain", "count", "per week", "hours/week", "cost/week", "how"}, Numeric: []bool{true, false, true, true, true, true, false}}
	for _, pn := range r.Top {
		chart.Labels = append(chart.Labels, pn.Key)
		f, _ := pn.CostPerWeek.Float64() // for the chart only
		chart.Series[0].Values = append(chart.Series[0].Values, f)
		table.Rows = append(table.Rows, []string{strconv.Itoa(pn.Rank), pn.Title, strconv.Itoa(pn.Count), pn.PerWeek.StringFixed(2),
			pn.HoursPerWeek.StringFixed(2), pn.CostPerWeek.StringFixed(2) + " " + pn.Currency, pn.Assumption})
	}
	if len(r.Top) > 0 {
		top.Charts = []htmlreport.Chart{chart}
	}
	top.Tables = []htmlreport.Table{table}
	p.Sections = append(p.Sections, top)

	rs := htmlreport.Section{Title: "Recommended first flow"}
	if rec := r.Recommend; rec != nil {
		rs.Text = append(rs.Text, fmt.Sprintf("%s: %s -> %s, fields %s. It %s.", rec.Flow, rec.Source, rec.Target, strings.Join(rec.Fields, ", "), rec.Why))
		if len(rec.Needs) > 0 {
			rs.Text = append(rs.Text, "It needs "+strings.Join(rec.Needs, ", ")+" (in the snippet).")
		}
		for _, b := range rec.Before {
			rs.Text = append(rs.Text, "Clean up first: "+b)
		}
		rs.Tables = []htmlreport.Table{{Caption: "config snippet", Columns: []string{"YAML"}, Rows: snippetRows(rec.Compact)}}
	} else {
		rs.Text = []string{"No measured pain is one a flow removes."}
	}
	p.Sections = append(p.Sections, rs)

	c := r.Customers
	cs := htmlreport.Section{Title: "Customers in both systems",
		Text: []string{fmt.Sprintf("%d in %s, %d in %s; %d matched, %d likely, %d only in %s, %d only in %s.", c.CRM, r.CRM, c.ERP, r.ERP, c.Matched, c.Likely, c.OnlyCRM, r.CRM, c.OnlyERP, r.ERP)}}
	dt := htmlreport.Table{Caption: "fields that differ after cleaning", Columns: []string{"field", "owner", "pairs", "example " + r.CRM, "example " + r.ERP}, Numeric: []bool{false, false, true, false, false}}
	for _, d := range r.Drift {
		row := []string{d.Field, d.Owner, strconv.Itoa(d.Pairs), "", ""}
		if len(d.Examples) > 0 {
			row[3], row[4] = d.Examples[0].CRMValue, d.Examples[0].ERPValue
		}
		dt.Rows = append(dt.Rows, row)
	}
	cs.Tables = []htmlreport.Table{dt}
	p.Sections = append(p.Sections, cs)

	hs := htmlreport.Section{Title: "Order to cash",
		Text: []string{fmt.Sprintf("%d won deals (%d lines): %d with an order by reference, %d by customer, amount and date, %d without. %d invoices: %d with a deal, %d without.",
			r.Deals.Won, r.Deals.Lines, r.Deals.ByReference, r.Deals.ByMatch, len(r.Deals.WithoutOrder), r.Invoices.Total, r.Invoices.WithDeal, len(r.Invoices.WithoutDeal))}}
	if d := r.Delay; d != nil {
		hs.Text = append(hs.Text, fmt.Sprintf("Won to order over %d pairs: mean %s days, median %s, 90%% within %s, max %s.", d.Pairs, days(d.MeanDays), days(d.MedianDays), days(d.P90Days), days(d.MaxDays)))
	}
	items := htmlreport.Table{Caption: "won deals without an order, invoices without a deal", Columns: []string{"kind", "id", "name", "amount"}, Numeric: []bool{false, false, false, true}}
	for _, it := range r.Deals.WithoutOrder {
		items.Rows = append(items.Rows, []string{"deal", it.ID, it.Name, strings.TrimSpace(it.Amount.String() + " " + it.Currency)})
	}
	for _, it := range r.Invoices.WithoutDeal {
		items.Rows = append(items.Rows, []string{"invoice", it.ID, it.Name, strings.TrimSpace(it.Amount.String() + " " + it.Currency)})
	}
	hs.Tables = []htmlreport.Table{items}
	p.Sections = append(p.Sections, hs)

	qs := htmlreport.Section{Title: "Data quality and duplicates"}
	qt := htmlreport.Table{Caption: "values cleaning would quarantine", Columns: []string{"system", "field", "rules", "failed", "checked", "example"}, Numeric: []bool{false, false, false, true, true, false}}
	for _, q := range r.Quality {
		ex := ""
		if len(q.Examples) > 0 {
			ex = q.Examples[0].Value + ": " + q.Examples[0].Reason
		}
		qt.Rows = append(qt.Rows, []string{q.System, string(q.Entity) + "." + q.Field, strings.Join(q.Rules, ", "), strconv.Itoa(q.Failed), strconv.Itoa(q.Checked), ex})
	}
	dupT := htmlreport.Table{Caption: "likely duplicates inside each system", Columns: []string{"system", "entity", "records", "clusters", "extra"}, Numeric: []bool{false, false, true, true, true}}
	for _, d := range r.Duplicates {
		dupT.Rows = append(dupT.Rows, []string{d.System, string(d.Entity), strconv.Itoa(d.Records), strconv.Itoa(d.Clusters), strconv.Itoa(d.Extra)})
	}
	qs.Tables = []htmlreport.Table{qt, dupT}
	for _, n := range r.Notes {
		qs.Text = append(qs.Text, "Not measured: "+n)
	}
	p.Sections = append(p.Sections, qs)
	return p
}

func snippetRows(lines []string) [][]string {
	var rows [][]string
	for _, l := range lines {
		rows = append(rows, []string{l})
	}
	return rows
}

// WriteHTML writes r as a self-contained HTML report.
func WriteHTML(w io.Writer, r *Report) error { return htmlreport.Write(w, Page(r)) }

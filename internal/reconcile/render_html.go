package reconcile

import (
	"fmt"
	"io"

	"github.com/shopspring/decimal"

	"github.com/concord-sync/concord/internal/htmlreport"
)

// WriteHTML writes r as one self-contained HTML page (internal/htmlreport):
// per currency a chart of the CRM's won amount against the ERP's invoiced
// amount per month and a chart of the variance by explanation kind; tables of
// the months, the explanations, the handoffs, the drift and the unlinked
// records. Amounts become floats only for the charts' bars; the tables show
// the exact decimals.
func WriteHTML(w io.Writer, r *Report) error {
	p := htmlreport.Page{Title: "Concord reconcile", Subtitle: summary(r), At: r.At}
	if len(r.Notes) > 0 {
		p.Sections = append(p.Sections, htmlreport.Section{Title: "Notes", Text: r.Notes})
	}
	if len(r.Months) > 0 {
		p.Sections = append(p.Sections, monthsSection(r.Months))
	}
	if len(r.Handoffs) > 0 {
		t := htmlreport.Table{Columns: []string{"Kind", "Deal", "Order", "Invoice", "Amount", "Since", "Detail"},
			Numeric: []bool{false, false, false, false, true}}
		for _, h := range r.Handoffs {
			since := ""
			if !h.Since.IsZero() {
				since = h.Since.UTC().Format("2006-01-02")
			}
			t.Rows = append(t.Rows, []string{h.Kind, h.DealID, h.OrderID, h.InvoiceID, money(h.Amount, h.Currency), since, h.Detail})
		}
		p.Sections = append(p.Sections, htmlreport.Section{Title: "Handoffs", Text: []string{
			"Order-to-cash steps that did not happen: won deals without an order, orders without an invoice, paid invoices the deal does not show, invoices without a deal."},
			Tables: []htmlreport.Table{t}})
	}
	if len(r.Drift) > 0 {
		t := htmlreport.Table{Columns: []string{"Flow", "Entity", "Field", "Owner", "Owner's value", "Drifted side", "Its value", "--fix"}}
		for _, d := range r.Drift {
			fix := "no"
			if d.Fixable {
				fix = "yes"
			}
			t.Rows = append(t.Rows, []string{d.Flow, string(d.Entity), d.Field, d.Owner + " " + d.OwnerID, d.OwnerValue, d.Other + " " + d.OtherID, d.OtherValue, fix})
		}
		p.Sections = append(p.Sections, htmlreport.Section{Title: "Drift", Text: []string{"Linked records whose values differ; the field's owner (the config's ownership) is right."},
			Tables: []htmlreport.Table{t}})
	}
	if len(r.Unlinked) > 0 {
		t := htmlreport.Table{Columns: []string{"System", "Entity", "Id", "Name", "Not in", "Best candidate", "Score"}, Numeric: []bool{false, false, false, false, false, false, true}}
		for _, u := range r.Unlinked {
			cand, score := "", ""
			if len(u.Candidates) > 0 {
				cand, score = u.Candidates[0].ID, fmt.Sprintf("%.2f", u.Candidates[0].Score)
			}
			t.Rows = append(t.Rows, []string{u.System, string(u.Entity), u.ID, u.Name, u.Other, cand, score})
		}
		p.Sections = append(p.Sections, htmlreport.Section{Title: "Unlinked records", Tables: []htmlreport.Table{t}})
	}
	if r.Findings() == 0 {
		p.Sections = append(p.Sections, htmlreport.Section{Title: "Result", Text: []string{"The two systems agree."}})
	}
	return htmlreport.Write(w, p)
}

// monthsSection charts and tabulates the months, one chart pair per currency.
func monthsSection(months []Month) htmlreport.Section {
	s := htmlreport.Section{Title: "Won vs invoiced per month", Text: []string{
		"CRM won: deals won, by close date. ERP invoiced: posted and paid invoices, by invoice date (credit notes negative). The variance (invoiced - won) is explained record by record; what is left is unexplained."}}
	byCur := map[string][]Month{}
	for _, m := range months {
		byCur[m.Currency] = append(byCur[m.Currency], m)
	}
	for _, cur := range o2cKeys(byCur) {
		ms := byCur[cur]
		c := htmlreport.Chart{Title: "Won vs invoiced (" + cur + ")", Unit: cur,
			Series: []htmlreport.Series{{Name: "CRM won"}, {Name: "ERP invoiced"}}}
		sums := map[string]decimal.Decimal{}
		unexplained := decimal.Zero
		for _, m := range ms {
			c.Labels = append(c.Labels, m.Month)
			c.Series[0].Values = append(c.Series[0].Values, m.CRMWon.InexactFloat64())
			c.Series[1].Values = append(c.Series[1].Values, m.ERPInvoiced.InexactFloat64())
			for _, k := range m.ByKind() {
				sums[k.Kind] = sums[k.Kind].Add(k.Amount)
			}
			unexplained = unexplained.Add(m.Unexplained)
		}
		v := htmlreport.Chart{Title: "Variance by explanation (" + cur + ", all months shown)", Unit: cur, Series: []htmlreport.Series{{Name: "invoiced - won"}}}
		for _, k := range sortedKinds(sums) {
			v.Labels = append(v.Labels, k)
			v.Series[0].Values = append(v.Series[0].Values, sums[k].InexactFloat64())
		}
		v.Labels = append(v.Labels, "unexplained")
		v.Series[0].Values = append(v.Series[0].Values, unexplained.InexactFloat64())
		s.Charts = append(s.Charts, c, v)
	}
	t := htmlreport.Table{Caption: "Months", Columns: []string{"Month", "Currency", "CRM won", "ERP invoiced", "Variance", "Unexplained"},
		Numeric: []bool{false, false, true, true, true, true}}
	e := htmlreport.Table{Caption: "Explanations, record by record", Columns: []string{"Month", "Kind", "Amount", "Deal", "Invoice", "Detail"},
		Numeric: []bool{false, false, true}}
	for _, m := range months {
		t.Rows = append(t.Rows, []string{m.Month, m.Currency, m.CRMWon.String(), m.ERPInvoiced.String(), m.Variance.String(), m.Unexplained.String()})
		for _, x := range m.Explained {
			e.Rows = append(e.Rows, []string{m.Month, x.Kind, money(x.Amount, m.Currency), x.DealID, x.InvoiceID, x.Detail})
		}
	}
	s.Tables = append(s.Tables, t, e)
	return s
}

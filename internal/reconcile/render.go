package reconcile

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/shopspring/decimal"
)

// Output formats of Write.
const (
	FormatTable = "table"
	FormatJSON  = "json"
	FormatCSV   = "csv"
	FormatHTML  = "html"
)

// Formats lists the output formats.
var Formats = []string{FormatTable, FormatJSON, FormatCSV, FormatHTML}

// Write renders r in format (one of Formats) to w.
func Write(w io.Writer, r *Report, format string) error {
	switch format {
	case FormatTable, "":
		return WriteTable(w, r)
	case FormatJSON:
		return WriteJSON(w, r)
	case FormatCSV:
		return WriteCSV(w, r)
	case FormatHTML:
		return WriteHTML(w, r)
	}
	return fmt.Errorf("format %q: want one of %s", format, strings.Join(Formats, ", "))
}

// Findings counts what the report found wrong: drifted fields, unlinked
// records, handoffs that did not happen, and months with an unexplained
// variance. Zero means the two systems agree.
func (r *Report) Findings() int {
	n := len(r.Drift) + len(r.Unlinked) + len(r.Handoffs)
	for _, m := range r.Months {
		if !m.Unexplained.IsZero() {
			n++
		}
	}
	return n
}

// WriteJSON writes r as indented JSON; amounts are exact decimal strings.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(jsonReport(r))
}

// jsonReport returns r with empty lists, never null ones, so that readers
// need no null checks.
func jsonReport(r *Report) *Report {
	out := *r
	if out.Drift == nil {
		out.Drift = []Drift{}
	}
	if out.Unlinked == nil {
		out.Unlinked = []Unlinked{}
	}
	if out.Handoffs == nil {
		out.Handoffs = []Handoff{}
	}
	if out.Months == nil {
		out.Months = []Month{}
	}
	if out.Compared == nil {
		out.Compared = map[string]int{}
	}
	return &out
}

// WriteTable writes r for a terminal: a summary line, then a table per
// section that has rows.
func WriteTable(w io.Writer, r *Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "reconcile at %s: %s\n", r.At.UTC().Format("2006-01-02 15:04:05 UTC"), summary(r))
	for _, n := range r.Notes {
		fmt.Fprintf(tw, "note: %s\n", cell(n))
	}
	if len(r.Drift) > 0 {
		fmt.Fprintf(tw, "\nDRIFT: linked records whose values differ (the owner is right)\n")
		fmt.Fprintln(tw, "FLOW\tENTITY\tFIELD\tOWNER\tOWNER VALUE\tWRONG SIDE\tITS VALUE\tFIX")
		for _, d := range r.Drift {
			fix := "-"
			if d.Fixable {
				fix = "--fix"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s %s\t%s\t%s %s\t%s\t%s\n", d.Flow, d.Entity, d.Field, d.Owner, cell(d.OwnerID), cell(d.OwnerValue),
				d.Other, cell(d.OtherID), cell(d.OtherValue), fix)
		}
	}
	if len(r.Unlinked) > 0 {
		fmt.Fprintf(tw, "\nUNLINKED: records with no counterpart linked in the other system\n")
		fmt.Fprintln(tw, "SYSTEM\tENTITY\tID\tNAME\tNOT IN\tBEST CANDIDATE")
		for _, u := range r.Unlinked {
			cand := "-"
			if len(u.Candidates) > 0 {
				cand = fmt.Sprintf("%s (%.2f)", cell(u.Candidates[0].ID), u.Candidates[0].Score)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", u.System, u.Entity, cell(u.ID), cell(u.Name), u.Other, cand)
		}
	}
	if len(r.Handoffs) > 0 {
		fmt.Fprintf(tw, "\nHANDOFFS: order-to-cash steps that did not happen\n")
		fmt.Fprintln(tw, "KIND\tDEAL\tORDER\tINVOICE\tAMOUNT\tSINCE\tDETAIL")
		for _, h := range r.Handoffs {
			since := "-"
			if !h.Since.IsZero() {
				since = h.Since.UTC().Format("2006-01-02")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", h.Kind, dash(h.DealID), dash(h.OrderID), dash(h.InvoiceID),
				money(h.Amount, h.Currency), since, cell(h.Detail))
		}
	}
	if len(r.Months) > 0 {
		fmt.Fprintf(tw, "\nMONTHS: CRM won (by close date) vs ERP invoiced (by invoice date)\n")
		fmt.Fprintln(tw, "MONTH\tCURRENCY\tCRM WON\tERP INVOICED\tVARIANCE\tEXPLAINED\tUNEXPLAINED")
		for _, m := range r.Months {
			var parts []string
			for _, k := range m.ByKind() {
				parts = append(parts, k.Kind+" "+k.Amount.String())
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Month, m.Currency, m.CRMWon, m.ERPInvoiced, m.Variance,
				dash(strings.Join(parts, ", ")), m.Unexplained)
		}
	}
	return tw.Flush()
}

// summary says in one line what r found.
func summary(r *Report) string {
	if r.Findings() == 0 {
		return "the systems agree" + compared(r)
	}
	var parts []string
	add := func(n int, what string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, what))
		}
	}
	add(len(r.Drift), "drifted fields")
	add(len(r.Unlinked), "unlinked records")
	add(len(r.Handoffs), "handoffs missing")
	n := 0
	for _, m := range r.Months {
		if !m.Unexplained.IsZero() {
			n++
		}
	}
	add(n, "months with an unexplained variance")
	return strings.Join(parts, ", ") + compared(r)
}

func compared(r *Report) string {
	var parts []string
	for _, f := range o2cKeys(r.Compared) {
		parts = append(parts, fmt.Sprintf("%s %d", f, r.Compared[f]))
	}
	if r.O2C != nil {
		parts = append(parts, fmt.Sprintf("%d won deals, %d orders, %d invoices", r.O2C.Won, r.O2C.Orders, r.O2C.Invoices))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (compared: " + strings.Join(parts, ", ") + ")"
}

func money(d decimal.Decimal, currency string) string {
	if currency == "" {
		return d.String()
	}
	return d.String() + " " + currency
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return cell(s)
}

// cell escapes control characters (values come from the systems) and
// keeps a table cell on one line.
func cell(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			b.WriteByte(' ')
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// sortedKinds returns the kinds present in sums, in the order of Kinds.
func sortedKinds(sums map[string]decimal.Decimal) []string {
	var out []string
	for _, k := range Kinds {
		if _, ok := sums[k]; ok {
			out = append(out, k)
		}
	}
	for _, k := range o2cKeys(sums) {
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

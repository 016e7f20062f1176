package reconcile

import (
	"encoding/csv"
	"io"
	"strings"

	"github.com/shopspring/decimal"
)

// CSVColumns are the columns of WriteCSV. Each row is one finding or one
// figure; section says which part of the report it belongs to (drift,
// unlinked, handoff, month, explanation, note) and the columns a section has
// no use for are empty.
var CSVColumns = []string{"section", "kind", "flow", "entity", "system", "id", "other_system", "other_id",
	"field", "value", "other_value", "month", "currency", "amount", "crm_won", "erp_invoiced", "variance", "unexplained", "detail"}

// WriteCSV writes r as one CSV table with a section column (see CSVColumns):
// drift rows (system and id are the owner's, value its value; other_* the
// side that drifted; kind fixable or not_fixable), unlinked rows (kind the
// best candidate's id), handoff rows, month rows (one per month and
// currency), explanation rows (the month's record-by-record share of its
// variance), and note rows. Amounts are exact decimals with a dot.
func WriteCSV(w io.Writer, r *Report) error {
	cw := csv.NewWriter(w)
	col := map[string]int{}
	for i, c := range CSVColumns {
		col[c] = i
	}
	row := func(section string, kv ...string) error {
		rec := make([]string, len(CSVColumns))
		rec[0] = section
		for i := 0; i+1 < len(kv); i += 2 {
			rec[col[kv[i]]] = csvSafe(kv[i+1])
		}
		return cw.Write(rec)
	}
	if err := cw.Write(CSVColumns); err != nil {
		return err
	}
	for _, d := range r.Drift {
		kind := "not_fixable"
		if d.Fixable {
			kind = "fixable"
		}
		if err := row("drift", "kind", kind, "flow", d.Flow, "entity", string(d.Entity), "system", d.Owner, "id", d.OwnerID,
			"other_system", d.Other, "other_id", d.OtherID, "field", d.Field, "value", d.OwnerValue, "other_value", d.OtherValue,
			"detail", d.ConcordID); err != nil {
			return err
		}
	}
	for _, u := range r.Unlinked {
		best := ""
		if len(u.Candidates) > 0 {
			best = u.Candidates[0].ID
		}
		if err := row("unlinked", "entity", string(u.Entity), "system", u.System, "id", u.ID, "other_system", u.Other,
			"other_id", best, "value", u.Name); err != nil {
			return err
		}
	}
	for _, h := range r.Handoffs {
		since := ""
		if !h.Since.IsZero() {
			since = h.Since.UTC().Format("2006-01-02")
		}
		if err := row("handoff", "kind", h.Kind, "id", h.DealID, "other_id", h.OrderID, "value", h.InvoiceID,
			"other_value", h.Account, "month", since, "currency", h.Currency, "amount", h.Amount.String(), "detail", h.Detail); err != nil {
			return err
		}
	}
	for _, m := range r.Months {
		if err := row("month", "month", m.Month, "currency", m.Currency, "crm_won", m.CRMWon.String(),
			"erp_invoiced", m.ERPInvoiced.String(), "variance", m.Variance.String(), "unexplained", m.Unexplained.String()); err != nil {
			return err
		}
		for _, e := range m.Explained {
			if err := row("explanation", "kind", e.Kind, "month", m.Month, "currency", m.Currency, "amount", e.Amount.String(),
				"id", e.DealID, "other_id", e.InvoiceID, "detail", e.Detail); err != nil {
				return err
			}
		}
	}
	for _, n := range r.Notes {
		if err := row("note", "detail", n); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// csvSafe keeps a spreadsheet from reading a value from a system as a
// formula: a leading =, +, - or @ is quoted with an apostrophe, unless the
// value is a number.
func csvSafe(s string) string {
	if s == "" || !strings.ContainsAny(s[:1], "=+-@\t\r") {
		return s
	}
	if _, err := decimal.NewFromString(s); err == nil {
		return s
	}
	return "'" + s
}

package assess

import (
	"context"
	"fmt"
	"slices"

	"github.com/shopspring/decimal"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/model"
)

// TopN is how many pains the report ranks as the top ones.
const TopN = 5

// Assess measures in under a and returns the report. It does no I/O and
// does not change in.
func Assess(in *Input, a Assumptions) *Report {
	r := &Report{At: in.Now, CRM: in.CRM.Name, ERP: in.ERP.Name, Assumptions: a, Notes: []string{}, Counts: map[string]int{}}
	for _, sys := range []*System{&in.CRM, &in.ERP} {
		for e, recs := range sys.Records {
			r.Counts[sys.Name+"."+string(e)] = len(recs)
		}
	}
	switch w, ok := weeks(in); {
	case a.Weeks.IsPositive():
		r.Weeks, r.WeeksFrom = a.Weeks, "set by --weeks"
	case ok:
		r.Weeks, r.WeeksFrom = w.Round(2), "the won deals' close dates, first to last"
		if r.Weeks.IsZero() {
			r.Weeks = decimal.NewFromInt(1)
		}
	default:
		r.Weeks, r.WeeksFrom = decimal.NewFromInt(DefaultWeeks), fmt.Sprintf("assumed (%d): the won deals carry no close date; set --weeks", DefaultWeeks)
	}
	r.Notes = notes(in)

	var customers map[string]string
	r.Customers, customers = pairCustomers(in)
	r.Drift = drift(in, r.Customers.Pairs)
	handoffs(in, a, customers, r)
	r.Duplicates = duplicates(in)
	r.Quality = quality(in)
	r.Pains = pains(in, a, r)
	r.Top = r.Pains[:min(TopN, len(r.Pains))]
	r.Recommend = recommend(in, a, r)
	return r
}

// notes say which measures the systems' mappings leave out.
func notes(in *Input) []string {
	var out []string
	need := func(sys *System, e model.Entity, field, what string) {
		if _, ok := sys.Fields[e]; !ok {
			out = append(out, fmt.Sprintf("%s: %s maps no %s", what, sys.Name, e))
			return
		}
		if field != "" && !sys.Maps(e, field) {
			out = append(out, fmt.Sprintf("%s: %s does not map %s.%s", what, sys.Name, e, field))
		}
	}
	need(&in.CRM, model.Account, "", "customers in both systems")
	need(&in.ERP, model.Account, "", "customers in both systems")
	need(&in.CRM, model.Deal, "stage", "won deals")
	need(&in.ERP, model.Order, "", "won deals without an order")
	need(&in.ERP, model.Invoice, "", "invoices without a deal")
	need(&in.CRM, model.Deal, "close_date", "the period and the delay from won to order")
	need(&in.ERP, model.Order, "order_date", "the delay from won to order")
	if _, ok := in.Rules[model.Account]; !ok {
		out = append(out, "customers in both systems: no match rules for account")
	}
	return slices.Compact(out)
}

// Reader reads a system's records page by page (connector.Connector's Read).
type Reader interface {
	Read(ctx context.Context, req connector.ReadRequest) (connector.ReadResult, error)
}

// ReadAll reads every live record of entity from r: Read from an empty
// cursor until Done, pageSize records a page (the connector's bulk path).
// A record read twice (an overlap window) counts once, as last read;
// archived records are left out.
func ReadAll(ctx context.Context, r Reader, entity model.Entity, pageSize int) ([]model.Record, error) {
	var out []model.Record
	at := map[string]int{}
	cursor := ""
	for page := 1; ; page++ {
		res, err := r.Read(ctx, connector.ReadRequest{Entity: entity, Cursor: cursor, Limit: pageSize})
		if err != nil {
			return nil, fmt.Errorf("read %s page %d: %w", entity, page, err)
		}
		for _, rec := range res.Records {
			if i, seen := at[rec.ID]; seen {
				out[i] = rec
				continue
			}
			at[rec.ID] = len(out)
			out = append(out, rec)
		}
		if res.Done || len(res.Records) == 0 || res.Next == cursor {
			break
		}
		cursor = res.Next
	}
	live := out[:0]
	for _, rec := range out {
		if !rec.Archived {
			live = append(live, rec)
		}
	}
	return live, nil
}

package reconcile

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/model"
)

// fakeSystem serves records from memory, two per page, as a connector's
// bulk path does.
type fakeSystem struct {
	fields  map[model.Entity][]string
	records map[model.Entity][]model.Record
	reads   int
}

func (f *fakeSystem) Entities() []connector.EntityInfo {
	var out []connector.EntityInfo
	for e, fs := range f.fields {
		out = append(out, connector.EntityInfo{Entity: e, Fields: fs})
	}
	return out
}

func (f *fakeSystem) Read(_ context.Context, req connector.ReadRequest) (connector.ReadResult, error) {
	f.reads++
	from, _ := strconv.Atoi(req.Cursor)
	recs := f.records[req.Entity]
	to := min(from+2, len(recs))
	return connector.ReadResult{Records: recs[from:to], Next: strconv.Itoa(to), Done: to == len(recs)}, nil
}

func usd(s string) model.Value { return model.Money(decimal.RequireFromString(s), "USD") }
func day(s string) model.Value {
	t, _ := time.Parse(time.DateOnly, s)
	return model.Date(t)
}
func dec(s string) model.Value { return model.Decimal(decimal.RequireFromString(s)) }

func dealRec(id, stage, amount, closed string, more model.Fields) model.Record {
	f := model.Fields{"name": model.Text("deal " + id), "stage": model.Text(stage), "amount": usd(amount), "close_date": day(closed)}
	for k, v := range more {
		f[k] = v
	}
	return model.Record{Entity: model.Deal, ID: id, Fields: f}
}

func orderRec(id, deal string, lines ...[3]string) model.Record {
	var ls []model.Record
	for _, l := range lines {
		ls = append(ls, model.Record{Entity: model.OrderLine, Fields: model.Fields{"quantity": dec(l[0]), "unit_price": usd(l[1]), "discount": dec(l[2]),
			"amount": model.Money(model.RoundMoney(model.LineAmount(decimal.RequireFromString(l[0]), decimal.RequireFromString(l[1]), decimal.RequireFromString(l[2])), "USD"), "USD")}})
	}
	return model.Record{Entity: model.Order, ID: id, LinkKey: deal, Fields: model.Fields{"state": model.Text("confirmed"), "lines": model.Lines(ls)}}
}

func invoiceRec(id, order, state, total, date string) model.Record {
	return model.Record{Entity: model.Invoice, ID: id, Fields: model.Fields{"number": model.Text("INV" + id), "order": model.Ref(model.Order, order),
		"state": model.Text(state), "total": usd(total), "amount_due": usd("0"), "invoice_date": day(date)}}
}

func TestOrderToCash(t *testing.T) {
	t.Parallel()
	crm := &fakeSystem{fields: map[model.Entity][]string{model.Deal: {"name", "stage", "amount", "close_date", "invoice_state", "paid_date"}},
		records: map[model.Entity][]model.Record{model.Deal: {
			// Won in January, invoiced in February with 20% tax; its lines
			// are discounted and round half to even.
			dealRec("d1", "won", "100", "2026-01-20", model.Fields{"invoice_state": model.Text("paid")}),
			// Won, never ordered.
			dealRec("d2", "won", "50", "2026-01-05", nil),
			// Won in February, invoiced in February, paid in the ERP but
			// not on the deal.
			dealRec("d3", "won", "10.005", "2026-02-01", model.Fields{"invoice_state": model.Text("posted")}),
			// Open: not won.
			dealRec("d4", "qualified", "70", "2026-02-01", nil),
		}}}
	erp := &fakeSystem{fields: map[model.Entity][]string{model.Order: {"state", "lines"}, model.Invoice: {"number", "order", "state", "total", "invoice_date"}},
		records: map[model.Entity][]model.Record{
			model.Order: {
				orderRec("o1", "d1", [3]string{"3", "37.50", "0.2"}, [3]string{"1", "10.00", "0"}), // 90 + 10 = 100
				orderRec("o3", "d3", [3]string{"1", "10.005", "0"}),                                // rounds to 10.00 (half to even)
				orderRec("o9", ""), // no deal
			},
			model.Invoice: {
				invoiceRec("1", "o1", "paid", "120", "2026-02-03"),
				invoiceRec("3", "o3", "paid", "10.00", "2026-02-10"),
				invoiceRec("9", "o9", "posted", "30", "2026-02-11"),
				invoiceRec("10", "o9", "posted", "-5", "2026-02-12"), // credit note
				invoiceRec("11", "o9", "draft", "99", "2026-02-12"),  // a draft counts nowhere
			},
		}}
	var r Report
	err := OrderToCash(context.Background(), O2CParams{CRM: "crm", ERP: "erp", CRMSys: crm, ERPSys: erp}, &r)
	require.NoError(t, err)
	require.Greater(t, erp.reads, 3, "read page by page")

	kinds := map[string][]string{}
	for _, h := range r.Handoffs {
		kinds[h.Kind] = append(kinds[h.Kind], h.DealID+"/"+h.OrderID+"/"+h.InvoiceID)
	}
	require.Equal(t, []string{"d2//"}, kinds[WonWithoutOrder])
	require.Equal(t, []string{"d3/o3/3"}, kinds[PaidNotOnDeal])
	require.Equal(t, []string{"/o9/10", "/o9/9"}, kinds[InvoiceWithoutDeal])
	require.Empty(t, kinds[AmountDiffersFromWon], "10.005 won, 10.00 ordered: a rounding, not a finding")
	require.Empty(t, kinds[OrderWithoutInvoice])

	require.Len(t, r.Months, 2)
	jan, feb := r.Months[0], r.Months[1]
	require.Equal(t, "2026-01", jan.Month)
	require.Equal(t, "150", jan.CRMWon.String())
	require.True(t, jan.ERPInvoiced.IsZero())
	require.Equal(t, "-150", jan.Variance.String())
	require.True(t, jan.Unexplained.IsZero(), "%+v", jan)
	require.Equal(t, []KindTotal{{Timing, decimal.RequireFromString("-100")}, {MissingHandoff, decimal.RequireFromString("-50")}}, jan.ByKind())

	require.Equal(t, "2026-02", feb.Month)
	require.Equal(t, "10.005", feb.CRMWon.String())
	require.Equal(t, "155", feb.ERPInvoiced.String()) // 120 + 10 + 30 - 5
	require.True(t, feb.Variance.Equal(decimal.RequireFromString("144.995")))
	require.True(t, feb.Unexplained.IsZero(), "%+v", feb)
	byKind := map[string]string{}
	for _, k := range feb.ByKind() {
		byKind[k.Kind] = k.Amount.String()
	}
	require.Equal(t, map[string]string{Timing: "100", Tax: "20", Rounding: "-0.005", CreditNote: "-5", NotFromCRM: "30"}, byKind)

	t.Run("Since", func(t *testing.T) {
		t.Parallel()
		var r Report
		since := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
		require.NoError(t, OrderToCash(context.Background(), O2CParams{CRM: "crm", ERP: "erp", CRMSys: crm, ERPSys: erp, Since: since}, &r))
		require.Len(t, r.Months, 1)
		require.Equal(t, "2026-02", r.Months[0].Month)
	})

	t.Run("Outputs", func(t *testing.T) {
		t.Parallel()
		r := r
		r.At = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		var js bytes.Buffer
		require.NoError(t, Write(&js, &r, FormatJSON))
		var back Report
		require.NoError(t, json.Unmarshal(js.Bytes(), &back))
		require.Equal(t, r.Months[1].ERPInvoiced.String(), back.Months[1].ERPInvoiced.String())

		var cs bytes.Buffer
		require.NoError(t, Write(&cs, &r, FormatCSV))
		rows, err := csv.NewReader(&cs).ReadAll()
		require.NoError(t, err)
		require.Equal(t, CSVColumns, rows[0])
		sections := map[string]int{}
		for _, row := range rows[1:] {
			sections[row[0]]++
		}
		require.Equal(t, len(r.Handoffs), sections["handoff"])
		require.Equal(t, 2, sections["month"])

		var tb bytes.Buffer
		require.NoError(t, Write(&tb, &r, FormatTable))
		require.Contains(t, tb.String(), "HANDOFFS")
		require.Contains(t, tb.String(), "2026-02")

		var h bytes.Buffer
		require.NoError(t, Write(&h, &r, FormatHTML))
		require.True(t, strings.HasPrefix(h.String(), "<!DOCTYPE html>"))
		require.Contains(t, h.String(), "<svg")
		require.NotContains(t, h.String(), "<script")

		require.Error(t, Write(&h, &r, "xml"))
	})
}

func TestCSVSafe(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"": "", "=1+2": "'=1+2", "-12.5": "-12.5", "@x": "'@x", "plain": "plain"} {
		require.Equal(t, want, csvSafe(in), in)
	}
}

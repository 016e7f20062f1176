package e2e

import (
	"context"
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/tryton/trytonrpc"
	"github.com/concord-sync/concord/internal/connector/tryton/trytontest"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/sandbox/hubspot"
)

// TestIntegrationPayments covers the payment status back: the invoice Tryton
// issued for a handed-over deal is posted and paid in Tryton, and the deal
// shows its number, state, amount due and paid date; an invoice of a sale
// entered in Tryton by hand has no deal and touches none.
func TestIntegrationPayments(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	erpProduct := w.product("PAY-1", "Annual licence", "1200")
	w.syncOK()
	item := w.crmProductOf(erpProduct).ID
	company := w.company("Paying Customer LLC", "Denver", "US")
	deal, _ := w.deal("Licence deal", company, lineSpec{item, "2", "1200", "10"}, lineSpec{item, "1", "99.99", ""})
	w.win(deal)
	w.syncOK()
	s := w.oneSale(deal)
	require.Len(t, s.Invoices, 1, "Tryton invoiced the sale")
	inv := s.Invoices[0]

	invoice := func() trytonrpc.Record {
		recs, err := w.rpc().Read(ctx, "account.invoice", []int64{inv}, []string{"number", "state", "total_amount", "amount_to_pay"}, nil)
		require.NoError(t, err)
		require.Len(t, recs, 1)
		return recs[0]
	}
	dealProp := func(name string) string { return prop(w.get(hubspot.Deals, deal), name) }

	t.Run("Draft", func(t *testing.T) {
		w.syncOK() // the invoice was made after this pass's payments read
		require.Equal(t, "draft", dealProp("erp_invoice_state"))
		require.Empty(t, dealProp("erp_invoice_number"), "a draft has no number yet")
		require.Empty(t, dealProp("erp_paid_date"))
	})

	t.Run("Posted", func(t *testing.T) {
		require.NoError(t, trytontest.PostInvoice(ctx, w.rpc(), inv))
		w.syncOK()
		rec := invoice()
		require.NotEmpty(t, rec.String("number"))
		total, ok := rec.Decimal("total_amount")
		require.True(t, ok)
		// 2 x 1080 + 99.99 = 2259.99 untaxed, VAT 10 % on top.
		require.Equal(t, "2485.99", total.StringFixed(2))
		require.Equal(t, rec.String("number"), dealProp("erp_invoice_number"))
		require.Equal(t, "posted", dealProp("erp_invoice_state"))
		require.True(t, total.Equal(decimal.RequireFromString(dealProp("erp_amount_due"))), "amount due %s", dealProp("erp_amount_due"))
		require.Equal(t, "false", dealProp("erp_overdue"), "due today is not overdue")
		require.Empty(t, dealProp("erp_paid_date"))
	})

	t.Run("Paid", func(t *testing.T) {
		require.NoError(t, trytontest.PayInvoice(ctx, w.rpc(), inv, "Cash"))
		require.Equal(t, "paid", invoice().String("state"), "the wizard paid it in Tryton")
		w.syncOK()
		today, err := w.rpc().Today(ctx)
		require.NoError(t, err)
		require.Equal(t, invoice().String("number"), dealProp("erp_invoice_number"))
		require.Equal(t, "paid", dealProp("erp_invoice_state"))
		require.True(t, decimal.RequireFromString(dealProp("erp_amount_due")).IsZero(), "amount due %q", dealProp("erp_amount_due"))
		ms, err := strconv.ParseInt(dealProp("erp_paid_date"), 10, 64)
		require.NoError(t, err, "a HubSpot date is midnight UTC in epoch ms: %q", dealProp("erp_paid_date"))
		require.Equal(t, today.String(), time.UnixMilli(ms).UTC().Format(time.DateOnly), "paid today, in Tryton's calendar")
		require.Zero(t, ms%86_400_000, "midnight UTC")
		require.Equal(t, "false", dealProp("erp_overdue"))

		evs := w.events("--flow", "payments", "--status", "updated")
		require.NotEmpty(t, evs)
		require.Equal(t, deal, evs[0].TargetID, "the invoice's deal, found through the sale's link")
		var to []string
		for _, c := range evs[0].changes(t) {
			to = append(to, c.Field+"="+c.To.String())
		}
		require.Contains(t, to, "invoice_state=paid", "the plan shows what moved: %v", to)
	})

	t.Run("SaleNotHandedOver", func(t *testing.T) {
		// Sales enters an order directly in Tryton; accounting posts its invoice.
		before := erpFieldsOfDeals(w)
		acc, err := w.erp.Write(ctx, model.Account, []connector.Op{{Kind: connector.OpCreate, Fields: model.Fields{
			"name": model.Text("Walk-in Customer"), "street": model.Text("5 Side St"), "city": model.Text("Denver"), "country": model.Text("US"),
		}}})
		require.NoError(t, err)
		require.NoError(t, acc[0].Err)
		line := model.Record{Entity: model.OrderLine, Fields: model.Fields{
			"product": model.Ref(model.Product, erpProduct), "quantity": model.Decimal(decimal.NewFromInt(1)),
			"unit_price": model.Money(decimal.NewFromInt(1200), "USD"),
		}}
		res, err := w.erp.Write(ctx, model.Order, []connector.Op{{Kind: connector.OpCreate, LinkKey: "PO-WALKIN-1", Fields: model.Fields{
			"account": model.Ref(model.Account, acc[0].ID), "lines": model.Lines([]model.Record{line}),
		}}})
		require.NoError(t, err)
		require.NoError(t, res[0].Err)
		manual := w.oneSale("PO-WALKIN-1")
		require.Len(t, manual.Invoices, 1)
		require.NoError(t, trytontest.PostInvoice(ctx, w.rpc(), manual.Invoices[0]))

		_, code := w.sync()
		require.Equal(t, 0, code, "the invoice without a deal waits; a wait does not fail the run")
		evs := w.events("--flow", "payments", "--source-id", itoa(manual.Invoices[0]))
		require.NotEmpty(t, evs, "the invoice was read")
		require.Equal(t, "waiting", evs[0].Outcome, "%+v", evs[0])
		require.Empty(t, w.deadLetters(), "a wait is not a dead letter")
		require.Contains(t, evs[0].Error, "not linked", "says why")
		require.Contains(t, evs[0].Error, itoa(manual.ID), "names the sale")
		for _, e := range evs {
			require.Empty(t, e.TargetID, "no deal was written")
		}
		require.Equal(t, before, erpFieldsOfDeals(w), "no deal changed")
	})
}

// erpFieldsOfDeals returns the ERP-owned properties of every deal.
func erpFieldsOfDeals(w *world) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, o := range w.crm.Objects(hubspot.Deals) {
		m := map[string]string{}
		for k, v := range o.Properties {
			if strings.HasPrefix(k, "erp_") && v != nil {
				m[k] = *v
			}
		}
		out[o.ID] = maps.Clone(m)
	}
	return out
}

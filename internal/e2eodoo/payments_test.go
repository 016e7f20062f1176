package e2eodoo

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector/odoo/odoorpc"
	"github.com/concord-sync/concord/internal/sandbox/hubspot"
)

// TestIntegrationPayments covers the payment status back: the invoice Odoo
// issued for a handed-over deal is posted and paid in Odoo (action_post, then
// the account.payment.register wizard), and the deal shows its number, state,
// amount due and paid date. And an invoice paid before Concord recorded its
// order's link to the deal (an order entered in Odoo with the deal id while
// the deal was still open) waits, is not lost, and reaches the deal once the
// deal is won and its order adopted, with no second order or invoice.
func TestIntegrationPayments(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	erpProduct := w.product("PAY-1", "Annual licence", "1200")
	w.syncOK()
	item := w.crmProductOf(erpProduct).ID
	company := w.company("Paying Customer LLC", "Denver", "US")
	billing := w.contact(company, "Pat", "Payer", "ap@paying.example")
	deal, _ := w.deal("Licence deal", company, billing, lineSpec{item, "2", "1200", "10"}, lineSpec{item, "1", "99.99", ""})
	w.win(deal)
	w.syncOK()
	o := w.oneOrder(deal)
	require.Len(t, o.Invoices, 1, "Odoo invoiced the order")
	inv := o.Invoices[0]
	dealProp := func(id, name string) string { return prop(w.get(hubspot.Deals, id), name) }

	t.Run("Draft", func(t *testing.T) {
		w.syncOK() // the invoice may have been made after this pass's payments read
		require.Equal(t, "draft", dealProp(deal, "erp_invoice_state"))
		// A draft is "/" in Odoo, except the first invoice of a journal, on
		// which Odoo proposes the starting number: the deal shows what Odoo shows.
		if name := w.invoice(inv).Name; name == "/" || name == "" {
			require.Empty(t, dealProp(deal, "erp_invoice_number"), "a draft has no number yet")
		} else {
			t.Logf("first draft of the journal: Odoo shows %q", name)
			require.Equal(t, name, dealProp(deal, "erp_invoice_number"))
		}
		require.Empty(t, dealProp(deal, "erp_paid_date"))
	})

	t.Run("Posted", func(t *testing.T) {
		w.postInvoice(inv)
		w.syncOK()
		got := w.invoice(inv)
		require.Equal(t, "posted", got.State)
		require.True(t, strings.HasPrefix(got.Name, "INV/"), "numbered: %q", got.Name)
		// 2 x 1080 + 99.99 = 2259.99 untaxed; Odoo's default 15 %: 324 + 15.00 (14.9985).
		require.Equal(t, "2598.99", got.Total.StringFixed(2))
		require.True(t, got.Total.Equal(o.Total), "the invoice is the order's total")
		require.Equal(t, got.Name, dealProp(deal, "erp_invoice_number"))
		require.Equal(t, "posted", dealProp(deal, "erp_invoice_state"))
		require.True(t, got.Total.Equal(decimal.RequireFromString(dealProp(deal, "erp_amount_due"))), "amount due %s", dealProp(deal, "erp_amount_due"))
		require.Equal(t, "false", dealProp(deal, "erp_overdue"), "due today is not overdue")
		require.Empty(t, dealProp(deal, "erp_paid_date"))
	})

	t.Run("Paid", func(t *testing.T) {
		w.payInvoice(inv)
		got := w.invoice(inv)
		require.Equal(t, "paid", got.PaymentState, "the wizard paid it in Odoo")
		require.True(t, got.Residual.IsZero())
		w.syncOK()
		require.Equal(t, got.Name, dealProp(deal, "erp_invoice_number"))
		require.Equal(t, "paid", dealProp(deal, "erp_invoice_state"))
		require.True(t, decimal.RequireFromString(dealProp(deal, "erp_amount_due")).IsZero(), "amount due %q", dealProp(deal, "erp_amount_due"))
		ms, err := strconv.ParseInt(dealProp(deal, "erp_paid_date"), 10, 64)
		require.NoError(t, err, "a HubSpot date is midnight UTC in epoch ms: %q", dealProp(deal, "erp_paid_date"))
		require.Equal(t, w.paymentDate(inv), time.UnixMilli(ms).UTC().Format(time.DateOnly), "the payment's date in Odoo")
		require.Zero(t, ms%86_400_000, "midnight UTC")
		require.Equal(t, "false", dealProp(deal, "erp_overdue"))

		evs := w.events("--flow", "payments", "--status", "updated")
		require.NotEmpty(t, evs)
		require.Equal(t, deal, evs[0].TargetID, "the invoice's deal, found through the order's link")
	})

	t.Run("PaidBeforeTheOrderIsLinked", func(t *testing.T) {
		// Sales ops entered the order in Odoo by hand with the deal id as its
		// customer reference, as Concord would have; accounting invoiced,
		// posted and paid it, all while the deal was still open in HubSpot.
		late, _ := w.deal("Late deal", company, billing, lineSpec{item, "3", "1200", ""})
		partner := w.onePartner(company).ID()
		oid := w.handEnteredOrder(late, partner, w.onePartner(billing).ID(), erpProduct, "3", "1200")
		invs := w.oneOrder(late).Invoices
		require.Len(t, invs, 1)
		w.postInvoice(invs[0])
		w.payInvoice(invs[0])
		require.Equal(t, "paid", w.invoice(invs[0]).PaymentState)

		_, code := w.sync()
		require.Equal(t, 0, code, "the invoice without a linked order waits; a wait does not fail the run")
		evs := w.events("--flow", "payments", "--source-id", itoa(invs[0]))
		require.NotEmpty(t, evs, "the invoice was read")
		require.Equal(t, "waiting", evs[0].Outcome, "%+v", evs[0])
		require.Contains(t, evs[0].Error, "not linked", "says why")
		require.Contains(t, evs[0].Error, itoa(oid), "names the order")
		require.Empty(t, w.deadLetters(), "a wait is not a dead letter")
		require.Empty(t, dealProp(late, "erp_invoice_state"), "nothing on the deal yet")

		// The sales rep marks the deal won: Concord finds the order by its
		// reference, adopts it, and the waiting invoice follows.
		w.win(late)
		w.syncOK()
		if dealProp(late, "erp_invoice_state") != "paid" {
			w.syncOK() // the invoice's wait may end one pass after the link
		}
		got := w.oneOrder(late)
		require.Equal(t, oid, got.ID, "the order entered by hand, adopted: no second order")
		require.Equal(t, invs, got.Invoices, "and no second invoice")
		require.Equal(t, "paid", dealProp(late, "erp_invoice_state"), "the payment was not lost")
		require.Equal(t, w.invoice(invs[0]).Name, dealProp(late, "erp_invoice_number"))
		require.True(t, decimal.RequireFromString(dealProp(late, "erp_amount_due")).IsZero())
		require.NotEmpty(t, dealProp(late, "erp_paid_date"))
		require.True(t, strings.HasPrefix(dealProp(late, "erp_sync_status"), "synced"), "status %q", dealProp(late, "erp_sync_status"))
		require.Len(t, w.orders(""), 2)
	})
}

// paymentDate returns the date of the latest payment of an invoice, as Odoo
// shows it on the invoice's payment widget.
func (w *world) paymentDate(inv int64) string {
	w.t.Helper()
	recs, err := w.odoo.Read(w.ctx(), "account.move", []int64{inv}, []string{"invoice_payments_widget"}, nil)
	require.NoError(w.t, err)
	widget, _ := recs[0]["invoice_payments_widget"].(map[string]any)
	content, _ := widget["content"].([]any)
	latest := ""
	for _, c := range content {
		if m, ok := c.(map[string]any); ok {
			if d, _ := m["date"].(string); d > latest {
				latest = d
			}
		}
	}
	require.NotEmpty(w.t, latest, "invoice %d has a payment: %v", inv, recs[0]["invoice_payments_widget"])
	return latest
}

// handEnteredOrder creates, confirms and invoices a sale order in Odoo as a
// salesperson would by hand, with the deal id as customer reference.
func (w *world) handEnteredOrder(deal string, partner, invoiceTo, product int64, qty, price string) int64 {
	w.t.Helper()
	ids, err := w.odoo.Create(w.ctx(), "sale.order", []odoorpc.Values{{
		"partner_id": partner, "partner_invoice_id": invoiceTo, "client_order_ref": deal,
		"order_line": []any{odoorpc.Create(odoorpc.Values{"product_id": product, "product_uom_qty": decimal.RequireFromString(qty), "price_unit": decimal.RequireFromString(price)})},
	}}, nil)
	require.NoError(w.t, err)
	_, err = w.odoo.Call(w.ctx(), "sale.order", "action_confirm", ids, nil)
	require.NoError(w.t, err)
	actx := odoorpc.ActiveContext("sale.order", ids...)
	wiz, err := w.odoo.Create(w.ctx(), "sale.advance.payment.inv", []odoorpc.Values{{"advance_payment_method": "delivered"}}, actx)
	require.NoError(w.t, err)
	_, err = w.odoo.Call(w.ctx(), "sale.advance.payment.inv", "create_invoices", wiz, actx)
	require.NoError(w.t, err)
	return ids[0]
}

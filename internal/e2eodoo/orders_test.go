package e2eodoo

import (
	"fmt"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector/odoo/odoorpc"
	"github.com/concord-sync/concord/internal/sandbox/hubspot"
)

// TestIntegrationOrders covers the order handoff: won deals with several line
// items become one confirmed Odoo sale order each, client_order_ref the deal
// id, with the deal's products (through their links), quantities, prices and
// discounts, the taxes Odoo takes from each product, and totals that agree
// with the deal; a deal whose line's product was archived in Odoo fails alone,
// naming the field, on the deal itself.
func TestIntegrationOrders(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	erpIDs := map[string]int64{}
	for _, p := range []struct{ sku, name, price string }{{"WID-1", "Widget", "25"}, {"GAD-1", "Gadget", "40"}, {"SRV-1", "Service hour", "95.5"}, {"OLD-1", "Old model", "10"}} {
		erpIDs[p.sku] = w.product(p.sku, p.name, p.price)
	}
	w.syncOK()
	crmIDs := map[string]string{} // sku -> hubspot product id
	erpOf := map[string]int64{}   // hubspot product id -> odoo product id
	for sku, erpID := range erpIDs {
		o := w.crmProductOf(erpID)
		require.Equal(t, sku, prop(o, "hs_sku"))
		crmIDs[sku] = o.ID
		erpOf[o.ID] = erpID
	}

	acme := w.company("Acme Corp", "New York", "US")
	acmeBilling := w.contact(acme, "Ada", "Billing", "ap@acme.example")
	globex := w.company("Globex", "Springfield", "US")
	type want struct {
		deal, company, contact string
		lines                  []lineSpec
		amount                 decimal.Decimal
	}
	deals := []want{
		{company: acme, contact: acmeBilling, lines: []lineSpec{{crmIDs["WID-1"], "3", "25", ""}, {crmIDs["GAD-1"], "2", "40", "25"}}},
		{company: acme, contact: acmeBilling, lines: []lineSpec{{crmIDs["SRV-1"], "10", "95.5", "10"}, {crmIDs["WID-1"], "1", "22", ""}, {crmIDs["GAD-1"], "5", "39.99", "5"}}},
		{company: globex, lines: []lineSpec{{crmIDs["GAD-1"], "12", "40", "15"}}},
	}
	for i := range deals {
		deals[i].deal, deals[i].amount = w.deal(fmt.Sprintf("Order deal %d", i), deals[i].company, deals[i].contact, deals[i].lines...)
	}
	open, _ := w.deal("Still negotiating", globex, "", lineSpec{crmIDs["WID-1"], "1", "25", ""})
	for _, d := range deals {
		w.win(d.deal)
	}
	w.syncOK()

	// Each product's sales taxes, as Odoo set them by default.
	taxesOf := map[int64][]int64{}
	prods, err := w.odoo.Read(w.ctx(), "product.product", []int64{erpIDs["WID-1"], erpIDs["GAD-1"], erpIDs["SRV-1"]}, []string{"taxes_id"}, nil)
	require.NoError(t, err)
	for _, p := range prods {
		require.NotEmpty(t, p.IDs("taxes_id"), "product %d has a sales tax", p.ID())
		taxesOf[p.ID()] = p.IDs("taxes_id")
	}

	t.Run("OneConfirmedOrderPerWonDeal", func(t *testing.T) {
		require.Empty(t, w.orders(open), "an open deal is not handed over")
		require.Len(t, w.orders(""), len(deals), "one sale order per won deal, nothing else")
		for _, d := range deals {
			o := w.oneOrder(d.deal)
			require.Equal(t, "sale", o.State, "deal %s: a confirmed sale order", d.deal)
			require.True(t, strings.HasPrefix(o.Name, "S"), "deal %s: numbered by Odoo: %q", d.deal, o.Name)
			require.Equal(t, itoa(w.onePartner(d.company).ID()), itoa(o.Partner), "deal %s: sold to the deal's company", d.deal)
			if d.contact != "" {
				require.Equal(t, w.onePartner(d.contact).ID(), o.InvoiceAddress, "deal %s: invoiced to the billing contact", d.deal)
			} else {
				require.Equal(t, o.Partner, o.InvoiceAddress, "deal %s: no contact, the company is the invoice address", d.deal)
			}
			require.Len(t, o.Lines, len(d.lines), "deal %s: every line item", d.deal)
			untaxed, tax := decimal.Zero, decimal.Zero
			for i, l := range d.lines {
				got := o.Lines[i]
				require.Equal(t, erpOf[l.product], got.Product, "deal %s line %d: the linked product", d.deal, i)
				require.True(t, decimal.RequireFromString(l.qty).Equal(got.Quantity), "deal %s line %d quantity %s", d.deal, i, got.Quantity)
				require.True(t, decimal.RequireFromString(l.price).Equal(got.UnitPrice), "deal %s line %d unit price %s, Odoo %s", d.deal, i, l.price, got.UnitPrice)
				disc := decimal.Zero
				if l.discountPct != "" {
					disc = decimal.RequireFromString(l.discountPct)
				}
				require.True(t, disc.Equal(got.Discount), "deal %s line %d discount %s%%, Odoo %s%%", d.deal, i, disc, got.Discount)
				require.True(t, lineNet(l).Equal(got.Subtotal), "deal %s line %d: net %s, Odoo %s", d.deal, i, lineNet(l), got.Subtotal)
				require.ElementsMatch(t, taxesOf[got.Product], got.Taxes, "deal %s line %d: the product's taxes", d.deal, i)
				require.True(t, got.PriceTax.IsPositive(), "deal %s line %d taxed", d.deal, i)
				untaxed, tax = untaxed.Add(got.Subtotal), tax.Add(got.PriceTax)
			}
			require.True(t, d.amount.Round(2).Equal(o.Untaxed), "deal %s: the deal's amount %s is the order's untaxed total %s", d.deal, d.amount, o.Untaxed)
			require.True(t, untaxed.Equal(o.Untaxed), "deal %s: lines add up to the untaxed total", d.deal)
			// Odoo rounds the order's tax once per tax; a line's price_tax is not rounded.
			cents := decimal.New(1, -2).Mul(decimal.NewFromInt(int64(len(d.lines))))
			require.True(t, tax.Sub(o.Tax).Abs().LessThanOrEqual(cents), "deal %s: line taxes %s add up to the order's %s", d.deal, tax, o.Tax)
			require.True(t, o.Tax.Equal(o.Tax.Round(2)), "deal %s: tax %s in cents", d.deal, o.Tax)
			require.True(t, o.Untaxed.Add(o.Tax).Equal(o.Total), "deal %s: total %s = untaxed %s + tax %s", d.deal, o.Total, o.Untaxed, o.Tax)
			require.Len(t, o.Invoices, 1, "deal %s: invoiced (invoice_orders default: draft)", d.deal)
			require.Equal(t, "draft", w.invoice(o.Invoices[0]).State)

			status := prop(w.get(hubspot.Deals, d.deal), "erp_sync_status")
			require.True(t, strings.HasPrefix(status, fmt.Sprintf("synced to erp order %d", o.ID)), "deal %s: status %q", d.deal, status)
			handed := w.events("--flow", "orders", "--source-id", d.deal, "--status", "created")
			require.Len(t, handed, 1, "deal %s handed over once", d.deal)
			require.Equal(t, itoa(o.ID), handed[0].TargetID, "deal %s linked to its order", d.deal)
		}
	})

	t.Run("SecondRunHandsNothingOver", func(t *testing.T) {
		w.syncOK()
		require.Len(t, w.orders(""), len(deals))
	})

	t.Run("ErrArchivedProduct", func(t *testing.T) {
		// The catalogue manager archives a product in Odoo after a sales rep
		// put it on a deal (the CRM catalogue has not caught up yet).
		require.NoError(t, w.odoo.Write(w.ctx(), "product.product", []int64{erpIDs["OLD-1"]}, odoorpc.Values{"active": false}, nil))
		deal, _ := w.deal("Old stock deal", globex, "", lineSpec{crmIDs["WID-1"], "1", "25", ""}, lineSpec{crmIDs["OLD-1"], "4", "10", ""})
		ok, _ := w.deal("Fine deal", globex, "", lineSpec{crmIDs["GAD-1"], "1", "40", ""})
		w.win(deal, ok)
		_, code := w.sync()
		require.Equal(t, 1, code, "a refused handoff fails the run")

		require.Empty(t, w.orders(deal), "no order, not even a partial one")
		evs := w.events("--flow", "orders", "--source-id", deal)
		require.NotEmpty(t, evs)
		require.Contains(t, []string{"failed", "dead"}, evs[0].Outcome, "%+v", evs[0])
		t.Logf("error: %s", evs[0].Error)
		require.Contains(t, evs[0].Error, "lines", "names the field")
		require.Contains(t, evs[0].Error, "archived", "and why")
		status := prop(w.get(hubspot.Deals, deal), "erp_sync_status")
		t.Logf("erp_sync_status: %s", status)
		require.NotContains(t, status, "synced")
		require.Contains(t, status, "archived", "the sales person sees what is wrong on the deal")
		require.Equal(t, "sale", w.oneOrder(ok).State, "the other deal went through")
		require.Len(t, w.orders(""), len(deals)+1)
	})
}

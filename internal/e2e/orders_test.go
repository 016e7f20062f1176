package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/sandbox/hubspot"
)

// TestIntegrationOrders covers the order handoff: Tryton's catalogue reaches
// HubSpot, won deals with several line items become one confirmed, invoiced
// Tryton sale each, with the deal id as reference and the products matched
// through their links; a deal with a product the ERP does not know fails with
// a reason a sales person can act on, on the deal itself.
func TestIntegrationOrders(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	erpIDs := map[string]string{} // sku -> tryton product id
	for _, p := range []struct{ sku, name, price string }{{"WID-1", "Widget", "25"}, {"GAD-1", "Gadget", "40"}, {"SRV-1", "Service hour", "95.5"}} {
		erpIDs[p.sku] = w.product(p.sku, p.name, p.price)
	}
	w.syncOK()

	crmIDs := map[string]string{} // sku -> hubspot product id
	erpOf := map[string]int64{}   // hubspot product id -> tryton product id
	for sku, erpID := range erpIDs {
		o := w.crmProductOf(erpID)
		require.Equal(t, sku, prop(o, "hs_sku"), "the CRM product is the ERP's, linked by erp_id")
		crmIDs[sku] = o.ID
		erpOf[o.ID] = id(t, erpID)
	}
	require.Equal(t, "95.5", prop(w.get(hubspot.Products, crmIDs["SRV-1"]), "price"))

	acme := w.company("Acme Corp", "New York", "US")
	globex := w.company("Globex", "Springfield", "US")
	type want struct {
		deal    string
		company string
		lines   []lineSpec
	}
	deals := []want{
		{company: acme, lines: []lineSpec{{crmIDs["WID-1"], "3", "25", ""}, {crmIDs["GAD-1"], "2", "40", "25"}}},
		{company: acme, lines: []lineSpec{{crmIDs["SRV-1"], "10", "95.5", "10"}, {crmIDs["WID-1"], "1", "22", ""}, {crmIDs["GAD-1"], "5", "39.99", "5"}}},
		{company: globex, lines: []lineSpec{{crmIDs["GAD-1"], "12", "40", "15"}}},
	}
	for i := range deals {
		deals[i].deal, _ = w.deal(fmt.Sprintf("Order deal %d", i), deals[i].company, deals[i].lines...)
	}
	open, _ := w.deal("Still negotiating", globex, lineSpec{crmIDs["WID-1"], "1", "25", ""})
	for _, d := range deals {
		w.win(d.deal)
	}
	w.syncOK()

	t.Run("OneConfirmedSalePerWonDeal", func(t *testing.T) {
		require.Empty(t, w.sales(open), "an open deal is not handed over")
		require.Len(t, w.sales(""), len(deals), "one sale per won deal, nothing else")
		for _, d := range deals {
			s := w.oneSale(d.deal)
			require.Equal(t, "processing", s.State, "deal %s: quoted and confirmed", d.deal)
			require.NotEmpty(t, s.Number, "deal %s", d.deal)
			require.Len(t, s.Invoices, 1, "deal %s: Tryton issued the invoice", d.deal)
			require.Len(t, s.Lines, len(d.lines), "deal %s: every line item", d.deal)
			for i, l := range d.lines {
				got := s.Lines[i]
				require.Equal(t, erpOf[l.product], got.Product, "deal %s line %d: the linked product, never by name", d.deal, i)
				require.True(t, decimal.RequireFromString(l.qty).Equal(got.Quantity), "deal %s line %d quantity %s", d.deal, i, got.Quantity)
				net := decimal.RequireFromString(l.price)
				if l.discountPct != "" {
					net = net.Mul(decimal.NewFromInt(100).Sub(decimal.RequireFromString(l.discountPct))).Div(decimal.NewFromInt(100))
				}
				require.True(t, net.Equal(got.UnitPrice), "deal %s line %d: unit price %s less %s%% = %s, Tryton has %s", d.deal, i, l.price, l.discountPct, net, got.UnitPrice)
			}
			party := w.events("--flow", "customers", "--source-id", d.company, "--status", "created")
			require.Len(t, party, 1, "company %s created once in the ERP", d.company)
			require.Equal(t, party[0].TargetID, strconv.FormatInt(s.Party, 10), "deal %s: sold to the deal's company", d.deal)

			status := prop(w.get(hubspot.Deals, d.deal), "erp_sync_status")
			require.True(t, strings.HasPrefix(status, fmt.Sprintf("synced to erp order %d ", s.ID)), "deal %s: status %q", d.deal, status)
		}
	})

	t.Run("SecondRunHandsNothingOver", func(t *testing.T) {
		w.syncOK()
		require.Len(t, w.sales(""), len(deals))
	})

	t.Run("ProductNotInERP", func(t *testing.T) {
		// A product a sales rep made in HubSpot by hand: Tryton has no counterpart.
		handMade := w.put(hubspot.Products, map[string]string{"name": "Custom bundle", "hs_sku": "HAND-1", "price": "500"})
		deal, _ := w.deal("Bundle deal", globex, lineSpec{crmIDs["WID-1"], "1", "25", ""}, lineSpec{handMade, "1", "500", ""})
		w.win(deal)
		_, code := w.sync()
		require.Equal(t, 0, code, "the deal waits for its product; a wait does not fail the run")

		require.Empty(t, w.sales(deal), "no sale, not even a partial one")
		evs := w.events("--flow", "orders", "--source-id", deal)
		require.NotEmpty(t, evs)
		require.Equal(t, "waiting", evs[0].Outcome, "%+v", evs[0])
		require.Contains(t, evs[0].Error, "product "+handMade, "names the product")
		require.Contains(t, evs[0].Error, "not linked", "and why")
		for _, dl := range w.deadLetters() {
			require.False(t, dl.Flow == "orders" && dl.ExternalID == deal, "a waiting deal is not a dead letter: %+v", dl)
		}

		status := prop(w.get(hubspot.Deals, deal), "erp_sync_status")
		t.Logf("erp_sync_status: %s", status)
		require.True(t, strings.HasPrefix(status, "waiting: "), "status %q", status)
		require.Contains(t, status, "product "+handMade, "the sales person sees which product")
		require.Contains(t, status, "not linked", "and what is wrong with it")
		require.Len(t, w.sales(""), len(deals), "the other deals are untouched")
	})
}

package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/model"
)

// amountCase is one deal of an amounts test: its lines over the products
// "A" (19.99), "B" (7.25), "C" (1249) and "D" (0.49).
type amountCase [][4]string // product, quantity, unit price, discount %

// handedOver is the result of handOverAmounts: per deal, its CRM id, its
// amount (the exact sum of its line items, as the sandbox computes them, like
// HubSpot's amount property), its line amounts (exact), and the Tryton sale.
type handedOver struct {
	deals   []string
	amounts []decimal.Decimal
	crm     [][]decimal.Decimal
	sales   []sale
}

// handOverAmounts seeds the products, hands the deals over, and returns what
// the CRM and Tryton hold.
func handOverAmounts(t *testing.T, w *world, cases []amountCase) handedOver {
	t.Helper()
	erp := map[string]string{}
	for _, p := range [][3]string{{"A", "Item A", "19.99"}, {"B", "Item B", "7.25"}, {"C", "Item C", "1249"}, {"D", "Item D", "0.49"}} {
		erp[p[0]] = w.product("AMT-"+p[0], p[1], p[2])
	}
	w.syncOK()
	crm := map[string]string{}
	for k, id := range erp {
		crm[k] = w.crmProductOf(id).ID
	}
	company := w.company("Exact Books Inc", "Chicago", "US")
	var h handedOver
	for i, c := range cases {
		var lines []lineSpec
		for _, l := range c {
			lines = append(lines, lineSpec{crm[l[0]], l[1], l[2], l[3]})
		}
		id, total := w.deal(fmt.Sprintf("Amounts %d", i), company, lines...)
		h.deals, h.amounts = append(h.deals, id), append(h.amounts, total)
		var amounts []decimal.Decimal
		for _, li := range w.crm.Associations("deals", id, "line_items") {
			amounts = append(amounts, decimal.RequireFromString(prop(w.get("line_items", li), "amount")))
		}
		require.Len(t, amounts, len(c))
		h.crm = append(h.crm, amounts)
	}
	w.win(h.deals...)
	w.syncOK()
	h.sales = make([]sale, len(h.deals))
	for i, id := range h.deals {
		h.sales[i] = w.oneSale(id)
		require.Len(t, h.sales[i].Lines, len(cases[i]))
	}
	return h
}

// cent rounds to the cent with Concord's money rule, Tryton's: half to even
// (see docs/money.md).
func cent(d decimal.Decimal) decimal.Decimal { return model.RoundMoney(d, "USD") }

// compareAmounts returns every difference between the CRM's amounts and
// Tryton's: each line's amount against the CRM line amount to the cent, and
// the sale's untaxed total against the sum of those cents (an invoice rounds
// each line, then adds; the exact sum of the CRM's lines rounded once can be a
// cent off that, e.g. 209.895 + 48.0053 + 7.25 = 265.1503, while the lines to
// the cent are 209.90 + 48.01 + 7.25 = 265.16).
func compareAmounts(cases []amountCase, h handedOver) []string {
	var diffs []string
	for i, s := range h.sales {
		sum := decimal.Zero
		for j, l := range s.Lines {
			want := cent(h.crm[i][j])
			sum = sum.Add(want)
			if !want.Equal(l.Amount) {
				diffs = append(diffs, fmt.Sprintf("deal %d line %d (%s x %s less %s%%): CRM %s (%s to the cent), Tryton %s (unit price %s)",
					i, j, cases[i][j][1], cases[i][j][2], cases[i][j][3], h.crm[i][j], want, l.Amount, l.UnitPrice))
			}
		}
		if !sum.Equal(s.Untaxed) {
			diffs = append(diffs, fmt.Sprintf("deal %d: CRM lines to the cent %s, Tryton untaxed %s", i, sum, s.Untaxed))
		}
	}
	return diffs
}

// logAmounts shows every line, for the record.
func logAmounts(t *testing.T, cases []amountCase, h handedOver) {
	t.Helper()
	for i, s := range h.sales {
		for j, l := range s.Lines {
			t.Logf("deal %d line %d: %v CRM amount %s, Tryton unit price %s amount %s", i, j, cases[i][j], h.crm[i][j], l.UnitPrice, l.Amount)
		}
		t.Logf("deal %d: CRM amount %s, Tryton untaxed %s", i, h.amounts[i], s.Untaxed)
	}
}

// TestIntegrationAmounts hands over deals with several lines, quantities and
// discounts (whole percentages, and fractional ones on small quantities) and
// requires Tryton's line amounts and untaxed totals to equal the deal's line
// amounts to the cent.
//
// Tryton has no discount here (sale_discount is not installed): the connector
// folds it into the unit price rounded to 4 places, and Tryton rounds each
// line's quantity x unit price to the cent. With a whole percentage and a
// price in cents the net unit price has at most 4 places, so nothing is lost;
// with a fractional percentage the 4-place unit price is off by at most
// 0.00005, which stays under half a cent up to a quantity of about 100 (see
// TestIntegrationAmountsGap_DiscountFoldedAtFourPlaces for larger ones).
func TestIntegrationAmounts(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cases := []amountCase{
		{{"A", "3", "19.99", ""}, {"B", "7", "7.25", "10"}, {"C", "1", "1249", "15"}},
		{{"A", "12", "19.99", "12.5"}, {"D", "101", "0.49", "3"}, {"B", "1", "7.25", ""}},
		{{"C", "2", "1249", "7"}, {"A", "1", "18.5", "33"}, {"D", "1", "0.49", "1"}},
		{{"B", "19", "7.25", "2.5"}, {"A", "6", "19.99", "20"}, {"C", "3", "1199.95", "0"}},
		{{"D", "3", "0.49", "50"}, {"C", "40", "1249", "12"}, {"B", "64", "7.25", "17"}, {"A", "9", "19.99", "5"}},
	}
	h := handOverAmounts(t, w, cases)
	logAmounts(t, cases, h)
	diffs := compareAmounts(cases, h)
	require.Empty(t, diffs, "amounts differ:\n%s", strings.Join(diffs, "\n"))
}

// TestIntegrationAmounts_FractionalDiscounts hands over fractional discount
// percentages on large quantities, where a unit price kept to 4 decimals loses
// cents (1000 x 19.99 less 12.5 % is 17491.25; at 4 decimals Tryton made it
// 17491.30). scripts/tryton.sh configures 8 decimals and the connector folds the
// discount at that precision, so every line and total matches to the cent.
func TestIntegrationAmounts_FractionalDiscounts(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cases := []amountCase{
		{{"A", "1000", "19.99", "12.5"}, {"B", "3", "7.25", ""}},
		{{"A", "1000", "9.99", "33.33"}, {"B", "250", "7.25", "2.75"}},
	}
	h := handOverAmounts(t, w, cases)
	logAmounts(t, cases, h)
	diffs := compareAmounts(cases, h)
	require.Empty(t, diffs, "amounts differ:\n%s", strings.Join(diffs, "\n"))
}

// TestIntegrationAmounts_HalfCents hands over lines whose exact amount ends in
// half a cent, and a line whose unit price at 8 places would tip it over one.
// Every Tryton line must be the CRM line rounded half to even (the rule of
// docs/money.md, Tryton's own), the untaxed total the sum of those; where that
// total misses the deal's amount to the cent, the deal's erp_sync_status says
// by how many cents and which lines, and where it matches, it says nothing.
func TestIntegrationAmounts_HalfCents(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cases := []amountCase{
		{{"D", "5", "0.49", "50"}},                                                      // 1.225 -> 1.22 (half to even; half up would say 1.23)
		{{"B", "3", "7.25", "50"}},                                                      // 10.875 -> 10.88
		{{"D", "1", "0.49", "50"}, {"B", "1", "7.25", "50"}},                            // 0.245 + 3.625 = 3.87, lines 0.24 + 3.62 = 3.86: 1 cent less
		{{"B", "7", "7.25", "10"}, {"A", "3", "19.99", ""}},                             // 45.675 -> 45.68, + 59.97 = 105.65 for 105.645: either cent
		{{"A", "1993", "23.39", "12.3456789"}, {"D", "1", "0.49", ""}},                  // 40861.17499... at 8 places would be 40861.18
		{{"C", "3", "1249", "2.5"}, {"B", "3", "7.25", "50"}, {"D", "3", "0.49", "50"}}, // 3653.325 + 10.875 + 0.735: 3653.32 + 10.88 + 0.74
	}
	h := handOverAmounts(t, w, cases)
	logAmounts(t, cases, h)
	diffs := compareAmounts(cases, h)
	require.Empty(t, diffs, "amounts differ:\n%s", strings.Join(diffs, "\n"))

	halfCent := decimal.RequireFromString("0.005")
	reported, matched := 0, 0
	for i, id := range h.deals {
		status := prop(w.get("deals", id), "erp_sync_status")
		require.Contains(t, status, "synced to erp order", "deal %d", i)
		off := h.sales[i].Untaxed.Sub(h.amounts[i])
		if off.Abs().LessThanOrEqual(halfCent) {
			matched++
			require.NotContains(t, status, "add up to", "deal %d: Tryton %s is the amount %s to the cent", i, h.sales[i].Untaxed, h.amounts[i])
			continue
		}
		reported++
		cents := h.sales[i].Untaxed.Sub(cent(h.amounts[i])).Abs()
		require.Contains(t, status, fmt.Sprintf("crm deal %s: amount %s is %s to the cent, but its lines, each rounded half to even as erp does, add up to %s, %s",
			id, h.amounts[i], cent(h.amounts[i]), h.sales[i].Untaxed, model.Cents(cents, "USD")), "deal %d: the difference is on the deal", i)
	}
	t.Logf("%d deals: %d match their amount to the cent, %d differ and say so on the deal", len(h.deals), matched, reported)
	require.Equal(t, 1, reported, "deal 2 alone misses its amount (by construction)")
}

package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
)

// amountCase is one deal of an amounts test: its lines over the products
// "A" (19.99), "B" (7.25), "C" (1249) and "D" (0.49).
type amountCase [][4]string // product, quantity, unit price, discount %

// handOverAmounts seeds the products, hands the deals over, and returns for
// each deal the CRM's line amounts (exact, as the sandbox computes them, like
// HubSpot's amount property) and the Tryton sale.
func handOverAmounts(t *testing.T, w *world, cases []amountCase) ([][]decimal.Decimal, []sale) {
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
	var dealIDs []string
	var lineAmounts [][]decimal.Decimal
	for i, c := range cases {
		var lines []lineSpec
		for _, l := range c {
			lines = append(lines, lineSpec{crm[l[0]], l[1], l[2], l[3]})
		}
		id, _ := w.deal(fmt.Sprintf("Amounts %d", i), company, lines...)
		dealIDs = append(dealIDs, id)
		var amounts []decimal.Decimal
		for _, li := range w.crm.Associations("deals", id, "line_items") {
			amounts = append(amounts, decimal.RequireFromString(prop(w.get("line_items", li), "amount")))
		}
		require.Len(t, amounts, len(c))
		lineAmounts = append(lineAmounts, amounts)
	}
	w.win(dealIDs...)
	w.syncOK()
	sales := make([]sale, len(dealIDs))
	for i, id := range dealIDs {
		sales[i] = w.oneSale(id)
		require.Len(t, sales[i].Lines, len(cases[i]))
	}
	return lineAmounts, sales
}

// cent rounds to the cent, half away from zero, as an invoice shows money.
func cent(d decimal.Decimal) decimal.Decimal { return d.Round(2) }

// compareAmounts returns every difference between the CRM's amounts and
// Tryton's: each line's amount against the CRM line amount to the cent, and
// the sale's untaxed total against the sum of those cents (an invoice rounds
// each line, then adds; the exact sum of the CRM's lines rounded once can be a
// cent off that, e.g. 209.895 + 48.0053 + 7.25 = 265.1503, while the lines to
// the cent are 209.90 + 48.01 + 7.25 = 265.16).
func compareAmounts(cases []amountCase, crm [][]decimal.Decimal, sales []sale) []string {
	var diffs []string
	for i, s := range sales {
		sum := decimal.Zero
		for j, l := range s.Lines {
			sum = sum.Add(cent(crm[i][j]))
			if !cent(crm[i][j]).Equal(l.Amount) {
				diffs = append(diffs, fmt.Sprintf("deal %d line %d (%s x %s less %s%%): CRM %s (%s to the cent), Tryton %s (unit price %s)",
					i, j, cases[i][j][1], cases[i][j][2], cases[i][j][3], crm[i][j], cent(crm[i][j]), l.Amount, l.UnitPrice))
			}
		}
		if !sum.Equal(s.Untaxed) {
			diffs = append(diffs, fmt.Sprintf("deal %d: CRM lines to the cent %s, Tryton untaxed %s", i, sum, s.Untaxed))
		}
	}
	return diffs
}

// logAmounts shows every line, for the record.
func logAmounts(t *testing.T, cases []amountCase, crm [][]decimal.Decimal, sales []sale) {
	t.Helper()
	for i, s := range sales {
		for j, l := range s.Lines {
			t.Logf("deal %d line %d: %v CRM amount %s, Tryton unit price %s amount %s", i, j, cases[i][j], crm[i][j], l.UnitPrice, l.Amount)
		}
		t.Logf("deal %d: Tryton untaxed %s", i, s.Untaxed)
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
	crm, sales := handOverAmounts(t, w, cases)
	logAmounts(t, cases, crm, sales)
	diffs := compareAmounts(cases, crm, sales)
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
	crm, sales := handOverAmounts(t, w, cases)
	logAmounts(t, cases, crm, sales)
	diffs := compareAmounts(cases, crm, sales)
	require.Empty(t, diffs, "amounts differ:\n%s", strings.Join(diffs, "\n"))
}

package hubspot_test

import (
	"math/rand/v2"
	"net/http"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/northwind"
)

func TestServer_Seed(t *testing.T) {
	t.Parallel()
	data, err := northwind.Load()
	require.NoError(t, err)
	b := setup(t, nil)
	require.NoError(t, b.srv.Seed(data, 60, rand.New(rand.NewPCG(1, 2))))

	companies := b.srv.Objects("companies")
	require.Len(t, companies, 91)
	contacts := b.srv.Objects("contacts")
	require.Len(t, contacts, 91)
	products := b.srv.Objects("products")
	require.Len(t, products, 77)
	deals := b.srv.Objects("deals")
	require.Len(t, deals, 60)

	require.Equal(t, "ALFKI", companies[0].Value("northwind_id"))
	require.Equal(t, "Alfreds Futterkiste", companies[0].Value("name"))
	require.Equal(t, "Chai", products[0].Value("name"))
	require.Equal(t, "18.00", products[0].Value("price"))
	require.Equal(t, "NW-001", products[0].Value("hs_sku"))
	require.Equal(t, []string{companies[0].ID}, b.srv.Associations("contacts", contacts[0].ID, "companies"))

	stages := map[string]int{}
	lineItems := 0
	for _, d := range deals {
		stages[d.Value("dealstage")]++
		require.Len(t, b.srv.Associations("deals", d.ID, "companies"), 1, "deal %s", d.ID)
		require.Len(t, b.srv.Associations("deals", d.ID, "contacts"), 1, "deal %s", d.ID)
		items := b.srv.Associations("deals", d.ID, "line_items")
		require.NotEmpty(t, items)
		lineItems += len(items)
		sum := decimal.Zero
		for _, id := range items {
			li, ok := b.srv.Get("line_items", id)
			require.True(t, ok)
			amt, err := decimal.NewFromString(li.Value("amount"))
			require.NoError(t, err)
			sum = sum.Add(amt)
			require.NotEmpty(t, li.Value("hs_product_id"))
		}
		want, err := decimal.NewFromString(d.Value("amount"))
		require.NoError(t, err)
		require.True(t, want.Equal(sum), "deal %s amount %s != line items %s", d.ID, want, sum)
	}
	require.Len(t, b.srv.Objects("line_items"), lineItems)
	require.Positive(t, stages["closedwon"])
	require.Greater(t, len(stages), 3, "deals spread over stages: %v", stages)

	// Seeded data is searchable at once and the same seed gives the same CRM.
	ids, body := searchIDs(t, b, "deals", map[string]any{"limit": 100, "filterGroups": groups(filter("dealstage", "EQ", "closedwon"))})
	require.Len(t, ids, stages["closedwon"])
	require.EqualValues(t, stages["closedwon"], body["total"])
	b2 := setup(t, nil)
	require.NoError(t, b2.srv.Seed(data, 60, rand.New(rand.NewPCG(1, 2))))
	for i, d := range b2.srv.Objects("deals") {
		require.Equal(t, deals[i].Value("dealname"), d.Value("dealname"))
		require.Equal(t, deals[i].Value("amount"), d.Value("amount"))
	}

	resp, _ := b.do(t, http.MethodGet, "/crm/v3/properties/companies/northwind_id", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Error(t, b.srv.Seed(nil, 1, nil))
}

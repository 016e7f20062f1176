package e2epipedrive

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector/pipedrive/pipedrivehttp"
	"github.com/concord-sync/concord/internal/connector/tryton/trytontest"
	sandbox "github.com/concord-sync/concord/internal/sandbox/pipedrive"
)

// TestIntegrationWonDealHandoff runs the shipped Pipedrive <-> Tryton config
// with the real binary: Tryton's products reach Pipedrive, linked; a won deal
// with two products becomes one confirmed Tryton sale with those lines, sold
// to the deal's organization (created once in Tryton); an open deal is not
// handed over; a second run hands nothing over again; the deal's ERP sync
// status and, once Tryton's invoice is posted and paid, its invoice state say
// so in Pipedrive.
func TestIntegrationWonDealHandoff(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	erpWidget := w.product("PD-WID", "Widget", "25")
	erpGadget := w.product("PD-GAD", "Gadget", "40")
	w.syncOK()

	crmProduct := map[string]string{} // tryton id -> pipedrive id
	products, err := w.api.List(ctx, sandbox.Products, pipedrivehttp.ListParams{Limit: 100})
	require.NoError(t, err)
	for _, p := range products.Items {
		crmProduct[w.linkKey("product", p)] = p.ID()
	}
	require.Len(t, crmProduct, 2, "the catalogue reached Pipedrive, each product linked by its Tryton id")
	widget := w.get(sandbox.Products, crmProduct[erpWidget])
	require.Equal(t, "PD-WID", widget["code"])
	require.Equal(t, "25", pipedrivehttp.Str(widget["prices"].([]any)[0].(map[string]any)["price"]))

	org := w.create(sandbox.Organizations, map[string]any{"name": "Acme Pipe Co", "address": map[string]any{
		"route": "1 Main Street", "locality": "Denver", "postal_code": "80202", "country": "US"}})
	person := w.create(sandbox.Persons, map[string]any{"first_name": "Ann", "last_name": "Buyer", "org_id": json.Number(org),
		"emails": []any{map[string]any{"value": "ann@acme.example", "primary": true, "label": "work"}}})
	deal := func(title string) string {
		id := w.create(sandbox.Deals, map[string]any{"title": title, "org_id": json.Number(org), "person_id": json.Number(person),
			"currency": "USD", "value": 134, "stage_id": 4})
		for _, l := range []map[string]any{
			{"product_id": json.Number(crmProduct[erpWidget]), "item_price": 25, "quantity": 2, "discount": 0},
			{"product_id": json.Number(crmProduct[erpGadget]), "item_price": 40, "quantity": 3, "discount": 30},
		} {
			_, err := w.api.AddDealProduct(ctx, id, l)
			require.NoError(t, err)
		}
		return id
	}
	won, open := deal("Acme order"), deal("Acme maybe")
	_, err = w.api.Update(ctx, sandbox.Deals, won, map[string]any{"status": "won"})
	require.NoError(t, err)
	w.syncOK()

	t.Run("OneConfirmedSale", func(t *testing.T) {
		require.Empty(t, w.sales(open), "an open deal is not handed over")
		got := w.sales(won)
		require.Len(t, got, 1, "one sale per won deal")
		s := got[0]
		require.Equal(t, "processing", s.State, "quoted and confirmed")
		require.Len(t, s.Invoices, 1, "Tryton issued the invoice")
		require.Len(t, s.Lines, 2)
		wantProduct := []string{erpWidget, erpGadget}
		wantQty := []string{"2", "3"}
		wantPrice := []string{"25", "28"} // 40 less 30 %
		for i, l := range s.Lines {
			require.Equal(t, wantProduct[i], strconv.FormatInt(l.Product, 10), "line %d: the linked product", i)
			require.True(t, decimal.RequireFromString(wantQty[i]).Equal(l.Quantity), "line %d quantity %s", i, l.Quantity)
			require.True(t, decimal.RequireFromString(wantPrice[i]).Equal(l.UnitPrice), "line %d unit price %s", i, l.UnitPrice)
		}
		out, code := w.concord("events", "--json", "--flow", "customers", "--source-id", org, "--status", "created")
		require.Zero(t, code, out)
		var created []struct {
			TargetID string `json:"target_id"`
		}
		require.NoError(t, json.Unmarshal([]byte(out[strings.Index(out, "["):]), &created), out)
		require.Len(t, created, 1, "the organization is created once in Tryton")
		require.Equal(t, strconv.FormatInt(s.Party, 10), created[0].TargetID, "sold to the deal's organization")
		status := pipedrivehttp.Str(w.custom(sandbox.Deals, w.get(sandbox.Deals, won), "ERP sync status"))
		require.True(t, strings.HasPrefix(status, "synced to erp order "+strconv.FormatInt(s.ID, 10)), "status %q", status)
	})

	t.Run("SecondRunHandsNothingOver", func(t *testing.T) {
		w.syncOK()
		require.Len(t, w.sales(""), 1)
	})

	t.Run("PaidInvoiceOnTheDeal", func(t *testing.T) {
		s := w.sales(won)[0]
		rpc := w.erp.Client()
		require.NoError(t, trytontest.PostInvoice(ctx, rpc, s.Invoices[0]))
		require.NoError(t, trytontest.PayInvoice(ctx, rpc, s.Invoices[0], "Cash"))
		w.syncOK()
		d := w.get(sandbox.Deals, won)
		require.Equal(t, "paid", pipedrivehttp.Str(w.custom(sandbox.Deals, d, "Invoice state (ERP)")))
		require.NotEmpty(t, w.custom(sandbox.Deals, d, "Invoice number (ERP)"))
		require.NotNil(t, w.custom(sandbox.Deals, d, "Paid on (ERP)"))
	})
}

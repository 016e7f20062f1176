package e2e

import (
	"context"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/tryton/trytonrpc"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/sandbox/hubspot"
)

// TestIntegrationProducts covers the product catalogue, Tryton -> HubSpot and
// read-only there: a product made or changed in Tryton reaches HubSpot, stock
// on hand follows at the next sweep, and a mirrored field edited by hand in
// HubSpot is put back at the next sweep, with the overwritten value in the
// event's plan, and never sent to Tryton.
func TestIntegrationProducts(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	erpID := w.product("CAT-1", "Catalogue item", "49.9")
	w.syncOK()
	hs := w.crmProductOf(erpID)
	require.Equal(t, "CAT-1", prop(hs, "hs_sku"))
	require.Equal(t, "Catalogue item", prop(hs, "name"))
	require.Equal(t, "49.9", prop(hs, "price"))
	require.Equal(t, "0", prop(hs, "erp_stock"))
	require.Equal(t, "true", prop(hs, "erp_active"))
	hsProp := func(name string) string { return prop(w.get(hubspot.Products, hs.ID), name) }

	t.Run("ChangedInTryton", func(t *testing.T) {
		res, err := w.erp.Write(ctx, model.Product, []connector.Op{{Kind: connector.OpUpdate, ID: erpID, Fields: model.Fields{
			"name": model.Text("Catalogue item v2"), "list_price": model.Money(decimal.RequireFromString("54.5"), "USD"),
		}}})
		require.NoError(t, err)
		require.NoError(t, res[0].Err)
		w.syncOK()
		require.Equal(t, "Catalogue item v2", hsProp("name"))
		require.Equal(t, "54.5", hsProp("price"))
		require.Len(t, w.crm.Objects(hubspot.Products), 1, "updated, not created again")
	})

	t.Run("StockAtTheNextSweep", func(t *testing.T) {
		locs, err := w.rpc().Search(ctx, "stock.location", trytonrpc.Domain{trytonrpc.Leaf("code", "=", "STO")}, trytonrpc.SearchOptions{Limit: 1})
		require.NoError(t, err)
		require.Len(t, locs, 1)
		inv, err := w.rpc().Create(ctx, "stock.inventory", []trytonrpc.Values{{"location": locs[0],
			"lines": []any{[]any{"create", []trytonrpc.Values{{"product": id(t, erpID), "quantity": 37}}}}}}, nil)
		require.NoError(t, err)
		require.NoError(t, w.rpc().Button(ctx, "stock.inventory", "confirm", inv, nil))
		w.syncOK()
		require.Equal(t, "37", hsProp("erp_stock"), "a stock move is no product change; the sweep finds it")
	})

	t.Run("HandEditPutBack", func(t *testing.T) {
		_, err := w.crm.Update(hubspot.Products, hs.ID, map[string]string{"price": "1.99", "name": "Cheap by hand"})
		require.NoError(t, err)
		w.syncOK()
		require.Equal(t, "54.5", hsProp("price"), "the ERP owns the price")
		require.Equal(t, "Catalogue item v2", hsProp("name"), "and the name")

		evs := w.events("--flow", "products", "--status", "updated")
		require.NotEmpty(t, evs)
		got := map[string]change{}
		for _, c := range evs[0].changes(t) {
			got[c.Field] = c
		}
		require.Contains(t, got, "list_price", "the plan shows the correction: %+v", got)
		require.Equal(t, "1.99", got["list_price"].From.Num.String(), "the overwritten value")
		require.Equal(t, "54.5", got["list_price"].To.Num.String())
		require.Contains(t, got, "name")
		require.Equal(t, "Cheap by hand", got["name"].From.Str)

		// Never sent to Tryton.
		recs, err := w.erp.Get(ctx, model.Product, []string{erpID})
		require.NoError(t, err)
		require.Equal(t, "54.5", recs[erpID].Fields["list_price"].Num.String())
		require.Equal(t, "Catalogue item v2", recs[erpID].Fields["name"].Str)
	})

	t.Run("ErrProductWithoutSKUQuarantined", func(t *testing.T) {
		// A product the ERP keeps without a code cannot be mirrored (sku is
		// required): it is quarantined with the field, the rest goes on.
		res, err := w.erp.Write(ctx, model.Product, []connector.Op{{Kind: connector.OpCreate, Fields: model.Fields{
			"name": model.Text("No code yet"), "list_price": model.Money(decimal.RequireFromString("3"), "USD"),
		}}})
		require.NoError(t, err)
		require.NoError(t, res[0].Err)
		before := len(w.crm.Objects(hubspot.Products))
		w.syncOK()
		require.Len(t, w.crm.Objects(hubspot.Products), before, "not copied")
		q := w.events("--flow", "products", "--status", "quarantined")
		require.NotEmpty(t, q)
		require.Equal(t, res[0].ID, q[0].SourceID)
		require.Contains(t, q[0].Error, "required field is blank")
	})
}

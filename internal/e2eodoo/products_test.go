package e2eodoo

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector/odoo/odoorpc"
	"github.com/concord-sync/concord/internal/sandbox/hubspot"
)

// TestIntegrationCatalogue covers the product catalogue, Odoo -> HubSpot and
// read-only there: products made in Odoo reach HubSpot with their SKU, price and
// stock on hand in the warehouse; a stock adjustment, a price change and an
// archive in Odoo follow; a hand edit in HubSpot is put back; a product Odoo
// keeps without an Internal Reference (SKU) is held back with the field named,
// the rest goes on, and it follows once Odoo has one.
func TestIntegrationCatalogue(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{flows: []string{"products"}})
	widget := w.product("CAT-WID", "Catalogue widget", "49.9")
	gadget := w.product("CAT-GAD", "Catalogue gadget", "120")
	noCode := w.product("", "Catalogue kit (no code yet)", "15")
	w.setStock(widget, "37")
	firstRun, code := w.sync()
	require.Zero(t, code, "a held-back product does not fail the run")

	hsProp := func(id, name string) string { return prop(w.get(hubspot.Products, id), name) }

	t.Run("ProductsWithSKUPriceStock", func(t *testing.T) {
		wid := w.crmProductOf(widget)
		require.Equal(t, "CAT-WID", prop(wid, "hs_sku"))
		require.Equal(t, "Catalogue widget", prop(wid, "name"))
		require.Equal(t, "49.9", prop(wid, "price"))
		require.Equal(t, "37", prop(wid, "erp_stock"), "stock on hand in WH")
		require.Equal(t, "true", prop(wid, "erp_active"))
		gad := w.crmProductOf(gadget)
		require.Equal(t, "CAT-GAD", prop(gad, "hs_sku"))
		require.Equal(t, "120", prop(gad, "price"))
		require.Equal(t, "0", prop(gad, "erp_stock"))
		require.Len(t, w.crm.Objects(hubspot.Products), 2, "one CRM product per Odoo product with a SKU, nothing else")
	})

	t.Run("ErrProductWithoutSKU", func(t *testing.T) {
		for _, o := range w.crm.Objects(hubspot.Products) {
			require.NotEqual(t, itoa(noCode), prop(o, "erp_id"), "not copied without its SKU")
		}
		q := w.events("--flow", "products", "--source-id", itoa(noCode))
		require.NotEmpty(t, q, "the product was read")
		require.Equal(t, "quarantined", q[0].Outcome, "%+v", q[0])
		require.Contains(t, q[0].Error, "required field is blank", "says why")
		// The event does not name the field (its plan holds only the action);
		// the run's log line does.
		require.Contains(t, firstRun, "record="+itoa(noCode)+" outcome=quarantined field=sku", "the run names the record and the field")

		// The catalogue manager gives it an Internal Reference: it follows.
		require.NoError(t, w.odoo.Write(w.ctx(), "product.product", []int64{noCode}, odoorpc.Values{"default_code": "CAT-KIT"}, nil))
		w.syncOK()
		kit := w.crmProductOf(noCode)
		require.Equal(t, "CAT-KIT", prop(kit, "hs_sku"))
		require.Equal(t, "15", prop(kit, "price"))
		require.Len(t, w.crm.Objects(hubspot.Products), 3)
	})

	t.Run("StockAdjustedInOdoo", func(t *testing.T) {
		w.setStock(widget, "12.5")
		w.setStock(gadget, "4")
		w.syncOK()
		require.Equal(t, "12.5", hsProp(w.crmProductOf(widget).ID, "erp_stock"), "a stock move is no product change; the sweep finds it")
		require.Equal(t, "4", hsProp(w.crmProductOf(gadget).ID, "erp_stock"))
	})

	t.Run("PriceChangedAndArchivedInOdoo", func(t *testing.T) {
		tmpl, err := w.odoo.Read(w.ctx(), "product.product", []int64{gadget}, []string{"product_tmpl_id"}, nil)
		require.NoError(t, err)
		require.NoError(t, w.odoo.Write(w.ctx(), "product.template", []int64{tmpl[0].Int("product_tmpl_id")}, odoorpc.Values{"list_price": 135.5}, nil))
		require.NoError(t, w.odoo.Write(w.ctx(), "product.product", []int64{widget}, odoorpc.Values{"active": false}, nil))
		w.syncOK()
		require.Equal(t, "135.5", hsProp(w.crmProductOf(gadget).ID, "price"))
		require.Equal(t, "false", hsProp(w.crmProductOf(widget).ID, "erp_active"), "archived in Odoo")
		require.Len(t, w.crm.Objects(hubspot.Products), 3, "updated, not created again")
	})

	t.Run("HandEditPutBack", func(t *testing.T) {
		gad := w.crmProductOf(gadget).ID
		w.update(hubspot.Products, gad, map[string]string{"price": "1.99", "name": "Cheap by hand"})
		w.syncOK()
		require.Equal(t, "135.5", hsProp(gad, "price"), "Odoo owns the price")
		require.Equal(t, "Catalogue gadget", hsProp(gad, "name"), "and the name")
		var found bool
		for _, e := range w.events("--flow", "products", "--source-id", itoa(gadget), "--status", "updated") {
			for _, c := range e.changes(t) {
				if c.Field == "list_price" && strings.HasPrefix(c.From.String(), "1.99") {
					found = true
				}
			}
		}
		require.True(t, found, "the plan shows the overwritten price")
		// Never sent to Odoo.
		recs, err := w.odoo.Read(w.ctx(), "product.product", []int64{gadget}, []string{"name", "list_price"}, nil)
		require.NoError(t, err)
		require.Equal(t, "Catalogue gadget", recs[0].String("name"))
		price, _ := recs[0].Decimal("list_price")
		require.Equal(t, "135.5", price.String())
	})
}

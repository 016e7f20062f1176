package odoo

import (
	"context"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/odoo/odoorpc"
	"github.com/concord-sync/concord/internal/model"
)

// TestIntegrationProduct_Stock: stock on hand is the quantity in the
// warehouse, read-only, and a template edited in Odoo is a change of its
// variant.
func TestIntegrationProduct_Stock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, env := openTest(t)
	res, err := c.Write(ctx, model.Product, []connector.Op{{Kind: connector.OpCreate, LinkKey: "crm-p-1", Fields: model.Fields{
		"sku": model.Text("STK-1"), "name": model.Text("Stocked"), "list_price": model.Money(decimal.NewFromInt(10), "USD"),
	}}})
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
	_, cursor := readPages(t, c, model.Product, "")

	// An inventory adjustment needs Inventory: Administrator: done as admin.
	admin, err := odoorpc.New(odoorpc.Config{URL: env.URL, Database: env.Database, Username: "admin", Password: env.AdminPassword})
	require.NoError(t, err)
	locs, err := admin.SearchRead(ctx, "stock.warehouse", nil, []string{"lot_stock_id"}, odoorpc.SearchOptions{Limit: 1})
	require.NoError(t, err)
	pid := parseIDs([]string{res[0].ID})[0]
	quants, err := admin.Create(ctx, "stock.quant", []odoorpc.Values{{"product_id": pid, "location_id": locs[0].Int("lot_stock_id"),
		"inventory_quantity": 7.5}}, odoorpc.Context{"inventory_mode": true})
	require.NoError(t, err)
	_, err = admin.Call(ctx, "stock.quant", "action_apply_inventory", quants, nil)
	require.NoError(t, err)

	got, err := c.Get(ctx, model.Product, []string{res[0].ID})
	require.NoError(t, err)
	require.Equal(t, "7.5", got[res[0].ID].Fields["stock"].Num.String())
	require.Equal(t, "Units", got[res[0].ID].Fields["unit"].Str)
	for _, e := range c.Entities() {
		if e.Entity == model.Product {
			require.Contains(t, e.ReadOnly, "stock")
		}
	}

	// The price is the template's: an edit there is a change of the variant.
	prods, err := c.Client().Read(ctx, "product.product", []int64{pid}, []string{"product_tmpl_id"}, nil)
	require.NoError(t, err)
	require.NoError(t, admin.Write(ctx, "product.template", []int64{prods[0].Int("product_tmpl_id")}, odoorpc.Values{"list_price": 12.5}, nil))
	recs, _ := readPages(t, c, model.Product, cursor)
	var found bool
	for _, r := range recs {
		if r.ID == res[0].ID {
			found = true
			require.Equal(t, "12.5 USD", r.Fields["list_price"].String())
		}
	}
	require.True(t, found, "a template edit is a change of its variant")
}

// TestIntegrationAccount_Refusals: each refused record of a batch gets its own
// permanent error naming the op and the canonical field; the rest land.
func TestIntegrationAccount_Refusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, _ := openTest(t)
	res, err := c.Write(ctx, model.Account, []connector.Op{
		{Kind: connector.OpCreate, LinkKey: "crm-1", Fields: model.Fields{"name": model.Text("Good 1")}},
		{Kind: connector.OpCreate, LinkKey: "crm-2", Fields: model.Fields{"name": model.Null}},
		{Kind: connector.OpCreate, LinkKey: "crm-3", Fields: model.Fields{"name": model.Text("Bad country"), "country": model.Text("ZZ")}},
		{Kind: connector.OpCreate, LinkKey: "crm-4", Fields: model.Fields{"name": model.Text("Good 2"), "country": model.Text("de")}},
	})
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
	require.NoError(t, res[3].Err)
	for i, field := range map[int]string{1: "name", 2: "country"} {
		var pe *connector.PermanentError
		require.ErrorAs(t, res[i].Err, &pe)
		require.Equal(t, field, pe.Field)
		require.Contains(t, res[i].Err.Error(), "link key crm-")
	}
	require.NotContains(t, res[2].Err.Error(), "country_id", "the connector's own refusal names the canonical field")
	got, err := c.Lookup(ctx, model.Account, []string{"crm-1", "crm-2", "crm-3", "crm-4"})
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, "DE", got["crm-4"].Fields["country"].Str)

	// Updates: a missing record and a stale version are per-record failures.
	res, err = c.Write(ctx, model.Account, []connector.Op{
		{Kind: connector.OpUpdate, ID: "999999", Fields: model.Fields{"city": model.Text("X")}},
		{Kind: connector.OpUpdate, ID: got["crm-1"].ID, Version: "20000101T000000/x", Fields: model.Fields{"city": model.Text("X")}},
		{Kind: connector.OpUpdate, ID: got["crm-4"].ID, Version: got["crm-4"].Version, Fields: model.Fields{"city": model.Text("Berlin")}},
	})
	require.NoError(t, err)
	require.ErrorIs(t, res[0].Err, connector.ErrNotFound)
	require.ErrorIs(t, res[1].Err, connector.ErrConflict)
	require.NoError(t, res[2].Err)
	require.NotEqual(t, got["crm-4"].Version, res[2].Version)
}

func TestIntegrationOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, env := openTest(t)
	t.Run("ErrLinkField", func(t *testing.T) {
		_, err := Open(ctx, Settings{URL: env.URL, Database: env.Database, Username: env.User, Password: env.Password,
			PartnerLinkField: "no_such_field"}, nil)
		require.ErrorContains(t, err, `res.partner has no char field "no_such_field" (setting partner_link_field)`)
	})
	t.Run("ErrUnauthorized", func(t *testing.T) {
		_, err := Open(ctx, Settings{URL: env.URL, Database: env.Database, Username: env.User, Password: "wrong"}, nil)
		require.ErrorIs(t, err, connector.ErrUnauthorized)
	})
	t.Run("APIKey", func(t *testing.T) {
		c, err := Open(ctx, Settings{URL: env.URL, Database: env.Database, Username: env.User, Password: env.APIKey, Warehouse: "WH"}, nil)
		require.NoError(t, err)
		require.NoError(t, c.Ping(ctx))
		require.NoError(t, c.Close(ctx))
		require.NoError(t, c.Close(ctx))
	})
}

func readPages(t *testing.T, c connector.Connector, e model.Entity, cursor string) ([]model.Record, string) {
	t.Helper()
	var out []model.Record
	for range 100 {
		res, err := c.Read(context.Background(), connector.ReadRequest{Entity: e, Cursor: cursor, Limit: 50})
		require.NoError(t, err)
		out = append(out, res.Records...)
		cursor = res.Next
		if res.Done {
			return out, cursor
		}
	}
	t.Fatal("read never done")
	return nil, ""
}

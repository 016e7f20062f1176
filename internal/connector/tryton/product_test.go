package tryton

import (
	"context"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/tryton/trytonrpc"
	"github.com/concord-sync/concord/internal/model"
)

// createProduct creates one product through the connector and returns its id.
func createProduct(t *testing.T, c *Conn, linkKey, sku string, price int64) string {
	t.Helper()
	res, err := c.Write(context.Background(), model.Product, []connector.Op{{Kind: connector.OpCreate, LinkKey: linkKey, Fields: model.Fields{
		"sku": model.Text(sku), "name": model.Text("Product " + sku),
		"list_price": model.Money(decimal.New(price, 0), "USD"), "cost_price": model.Money(decimal.New(price/2, 0), "USD"),
	}}})
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
	return res[0].ID
}

func TestIntegrationConn_Product(t *testing.T) {
	t.Parallel()

	t.Run("StockOnHand", func(t *testing.T) {
		t.Parallel()
		c, _ := openTest(t)
		ctx := context.Background()
		id := createProduct(t, c, "crm-p1", "STK-1", 40)
		got, err := c.Get(ctx, model.Product, []string{id})
		require.NoError(t, err)
		require.True(t, got[id].Fields["stock"].Num.IsZero(), "new product has no stock: %s", got[id].Fields["stock"])

		// Receive 100 into the warehouse's storage location with an inventory.
		locs, err := c.Client().Search(ctx, "stock.location", trytonrpc.Domain{trytonrpc.Leaf("code", "=", "STO")}, trytonrpc.SearchOptions{Limit: 1})
		require.NoError(t, err)
		require.Len(t, locs, 1)
		inv, err := c.Client().Create(ctx, "stock.inventory", []trytonrpc.Values{{"location": locs[0],
			"lines": []any{[]any{"create", []trytonrpc.Values{{"product": mustID(t, id), "quantity": 100}}}}}}, nil)
		require.NoError(t, err)
		require.NoError(t, c.Client().Button(ctx, "stock.inventory", "confirm", inv, nil))

		got, err = c.Get(ctx, model.Product, []string{id})
		require.NoError(t, err)
		require.Equal(t, "100", got[id].Fields["stock"].Num.String())
		require.Equal(t, "STK-1", got[id].Fields["sku"].Str)
		require.Equal(t, "crm-p1", got[id].LinkKey)
		require.Equal(t, "Unit", got[id].Fields["unit"].Str)
		require.Equal(t, "Accounting VAT 10%", got[id].Fields["category"].Str, "default accounting category")

		// Stock is read-only.
		res, err := c.Write(ctx, model.Product, []connector.Op{{Kind: connector.OpUpdate, ID: id, Fields: model.Fields{"stock": model.Decimal(decimal.NewFromInt(5))}}})
		require.NoError(t, err)
		var perr *connector.PermanentError
		require.ErrorAs(t, res[0].Err, &perr)
		require.Equal(t, "stock", perr.Field)
	})

	t.Run("TemplateEditIsAChange", func(t *testing.T) {
		t.Parallel()
		c, _ := openTest(t)
		ctx := context.Background()
		id := createProduct(t, c, "crm-p2", "TPL-1", 10)
		var cursor string
		for range 10 {
			r, err := c.Read(ctx, connector.ReadRequest{Entity: model.Product, Cursor: cursor})
			require.NoError(t, err)
			cursor = r.Next
			if r.Done {
				break
			}
		}
		// Edit the template directly: the variant's write_date stays.
		recs, err := c.Client().Read(ctx, "product.product", []int64{mustID(t, id)}, []string{"template"}, nil)
		require.NoError(t, err)
		require.NoError(t, c.Client().Write(ctx, "product.template", []int64{recs[0].Int("template")},
			trytonrpc.Values{"name": "Renamed", "list_price": decimal.RequireFromString("12.50")}, nil))
		r, err := c.Read(ctx, connector.ReadRequest{Entity: model.Product, Cursor: cursor})
		require.NoError(t, err)
		require.Len(t, r.Records, 1)
		require.Equal(t, "Renamed", r.Records[0].Fields["name"].Str)
		require.Equal(t, "12.5 USD", r.Records[0].Fields["list_price"].String())

		// Archive through the connector: variant and template.
		res, err := c.Write(ctx, model.Product, []connector.Op{{Kind: connector.OpUpdate, ID: id, Version: r.Records[0].Version,
			Fields: model.Fields{"active": model.Bool(false)}}})
		require.NoError(t, err)
		require.NoError(t, res[0].Err)
		got, err := c.Get(ctx, model.Product, []string{id})
		require.NoError(t, err)
		require.True(t, got[id].Archived)
		found, err := c.Lookup(ctx, model.Product, []string{"crm-p2"})
		require.NoError(t, err)
		require.Equal(t, id, found["crm-p2"].ID, "archived products are still found by link key")
	})
}

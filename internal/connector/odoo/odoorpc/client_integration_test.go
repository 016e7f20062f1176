package odoorpc_test

import (
	"context"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/odoo/odoorpc"
	"github.com/concord-sync/concord/internal/connector/odoo/odootest"
)

func newClient(t *testing.T, env odootest.Env, password string) *odoorpc.Client {
	t.Helper()
	c, err := odoorpc.New(odoorpc.Config{URL: env.URL, Database: env.Database, Username: env.User, Password: password})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Close(context.Background())) })
	return c
}

func TestIntegrationClient(t *testing.T) {
	t.Parallel()
	env := odootest.Clone(t)
	ctx := context.Background()
	c := newClient(t, env, env.Password)
	require.NoError(t, c.Login(ctx))
	require.NotZero(t, c.UserID())

	t.Run("Version", func(t *testing.T) {
		v, err := c.Version(ctx)
		require.NoError(t, err)
		require.Equal(t, "17.0", v.ServerSerie)
		now, err := c.ServerTime(ctx)
		require.NoError(t, err)
		require.WithinDuration(t, time.Now(), now, time.Minute)
	})

	t.Run("CreateBatchReadSearch", func(t *testing.T) {
		since := time.Now().UTC().Add(-2 * time.Second).Truncate(time.Second)
		us, err := c.SearchRead(ctx, "res.country", odoorpc.Domain{odoorpc.Leaf("code", "=", "US")}, []string{"id"}, odoorpc.SearchOptions{Limit: 1})
		require.NoError(t, err)
		require.Len(t, us, 1)
		ids, err := c.Create(ctx, "res.partner", []odoorpc.Values{
			{"name": "Acme Corp", "is_company": true, "street": "1 Main St", "city": "New York", "zip": "10001",
				"country_id": us[0].ID(), "email": "billing@acme.example", "customer_rank": 1, "ref": "crm-1",
				"child_ids": []odoorpc.Command{odoorpc.Create(odoorpc.Values{"name": "Jane Roe", "email": "jane@acme.example"})}},
			{"name": "Beta Ltd", "is_company": true, "active": false},
		}, nil)
		require.NoError(t, err)
		require.Len(t, ids, 2)

		recs, err := c.Read(ctx, "res.partner", []int64{ids[1], ids[0]}, []string{"name", "active", "country_id", "child_ids", "write_date", "customer_rank", "vat", "ref"}, nil)
		require.NoError(t, err)
		require.Equal(t, ids[1], recs[0].ID(), "in the order asked")
		acme := recs[1]
		require.Equal(t, "Acme Corp", acme.String("name"))
		require.True(t, acme.Bool("active"))
		require.False(t, recs[0].Bool("active"))
		cid, cname := acme.Many2one("country_id")
		require.Equal(t, us[0].ID(), cid)
		require.Equal(t, "United States", cname)
		require.Len(t, acme.IDs("child_ids"), 1)
		require.False(t, acme.Has("vat"), "an empty char field is false")
		require.Equal(t, "", acme.String("vat"))
		require.Equal(t, int64(1), acme.Int("customer_rank"))
		require.WithinDuration(t, time.Now().UTC(), acme.Time("write_date"), time.Minute, "UTC")

		found, err := c.Search(ctx, "res.partner", odoorpc.Domain{odoorpc.Leaf("write_date", ">=", since), odoorpc.Leaf("is_company", "=", true)},
			odoorpc.SearchOptions{Order: "write_date asc, id asc", Context: odoorpc.Context{"active_test": false}})
		require.NoError(t, err)
		require.Subset(t, found, ids, "archived ones too with active_test false")
		n, err := c.SearchCount(ctx, "res.partner", odoorpc.Domain{odoorpc.Leaf("id", "in", ids)}, nil)
		require.NoError(t, err)
		require.Equal(t, int64(1), n, "archived left out by default")

		require.NoError(t, c.Write(ctx, "res.partner", ids[:1], odoorpc.Values{"phone": "+1 555 0100", "child_ids": []odoorpc.Command{odoorpc.Create(odoorpc.Values{"name": "John Doe"})}}, nil))
		recs, err = c.Read(ctx, "res.partner", ids[:1], []string{"phone", "child_ids"}, nil)
		require.NoError(t, err)
		require.Equal(t, "+1 555 0100", recs[0].String("phone"))
		require.Len(t, recs[0].IDs("child_ids"), 2)
	})

	t.Run("DecimalAndOrderFlow", func(t *testing.T) {
		pids, err := c.Create(ctx, "product.product", []odoorpc.Values{{"name": "Widget", "default_code": "W-1",
			"list_price": decimal.RequireFromString("19.99"), "type": "consu", "invoice_policy": "order"}}, nil)
		require.NoError(t, err)
		prods, err := c.Read(ctx, "product.product", pids, []string{"list_price", "default_code", "qty_available"}, nil)
		require.NoError(t, err)
		raw, ok := prods[0].Decimal("list_price")
		require.True(t, ok)
		require.InDelta(t, 19.99, raw.InexactFloat64(), 1e-9, "a Python float")
		price, ok := prods[0].Rounded("list_price", 2)
		require.True(t, ok)
		require.Equal(t, "19.99", price.String())
		partners, err := c.Create(ctx, "res.partner", []odoorpc.Values{{"name": "Buyer", "is_company": true}}, nil)
		require.NoError(t, err)
		so, err := c.Create(ctx, "sale.order", []odoorpc.Values{{"partner_id": partners[0], "client_order_ref": "deal-1",
			"order_line": []odoorpc.Command{odoorpc.Create(odoorpc.Values{"product_id": pids[0], "product_uom_qty": 3, "price_unit": decimal.RequireFromString("100")})}}}, nil)
		require.NoError(t, err)
		res, err := c.Call(ctx, "sale.order", "action_confirm", so, nil)
		require.NoError(t, err)
		require.Equal(t, true, res)
		wiz, err := c.Create(ctx, "sale.advance.payment.inv", []odoorpc.Values{{"advance_payment_method": "delivered"}}, odoorpc.ActiveContext("sale.order", so...))
		require.NoError(t, err)
		_, err = c.Call(ctx, "sale.advance.payment.inv", "create_invoices", wiz, odoorpc.ActiveContext("sale.order", so...))
		require.NoError(t, err)
		orders, err := c.Read(ctx, "sale.order", so, []string{"invoice_ids", "state", "amount_total"}, nil)
		require.NoError(t, err)
		require.Equal(t, "sale", orders[0].String("state"))
		require.Len(t, orders[0].IDs("invoice_ids"), 1)
		inv := orders[0].IDs("invoice_ids")
		res, err = c.Call(ctx, "account.move", "action_post", inv, nil)
		require.NoError(t, err)
		require.Equal(t, false, res, "action_post answers false")
		moves, err := c.Read(ctx, "account.move", inv, []string{"state", "amount_total", "amount_residual", "payment_state", "invoice_date"}, nil)
		require.NoError(t, err)
		require.Equal(t, "posted", moves[0].String("state"))
		total, _ := moves[0].Decimal("amount_total")
		require.True(t, total.GreaterThanOrEqual(decimal.NewFromInt(300)), "total %s includes the default tax", total)
		d, ok := moves[0].Date("invoice_date")
		require.True(t, ok)
		require.Equal(t, time.Now().UTC().Year(), d.Year)
	})

	t.Run("APIKey", func(t *testing.T) {
		if env.APIKey == "" {
			t.Fatal("ODOO_API_KEY is unset: scripts/odoo.sh env prints it")
		}
		k := newClient(t, env, env.APIKey)
		n, err := k.SearchCount(ctx, "res.partner", nil, nil)
		require.NoError(t, err)
		require.NotZero(t, n)
	})

	t.Run("ErrUnauthorized", func(t *testing.T) {
		bad := newClient(t, env, "wrong password")
		err := bad.Login(ctx)
		require.ErrorIs(t, err, odoorpc.ErrUnauthorized)
		require.NotContains(t, err.Error(), "wrong password")
		require.False(t, connector.IsTransient(err))
	})

	t.Run("ErrValidation", func(t *testing.T) {
		_, err := c.Create(ctx, "sale.order", []odoorpc.Values{{}}, nil)
		require.ErrorIs(t, err, odoorpc.ErrValidation)
		var oe *odoorpc.Error
		require.ErrorAs(t, err, &oe)
		require.Equal(t, "partner_id", oe.Field())
		require.Equal(t, "sale.order", oe.Model())
		require.True(t, odoorpc.IsPermanent(err))
		require.False(t, connector.IsTransient(err))
	})

	t.Run("ErrMissing", func(t *testing.T) {
		_, err := c.Call(ctx, "res.partner", "write", []int64{999999999}, nil)
		require.Error(t, err)
		err = c.Write(ctx, "res.partner", []int64{999999999}, odoorpc.Values{"name": "x"}, nil)
		require.ErrorIs(t, err, odoorpc.ErrMissing)
	})

	t.Run("ErrAccess", func(t *testing.T) {
		// The integration user is no administrator: users are not its business.
		_, err := c.Create(ctx, "res.users", []odoorpc.Values{{"name": "Intruder", "login": "intruder"}}, nil)
		require.ErrorIs(t, err, odoorpc.ErrAccess)
	})

	t.Run("ErrUserUnknownModel", func(t *testing.T) {
		_, err := c.SearchRead(ctx, "no.such.model", nil, []string{"id"}, odoorpc.SearchOptions{Limit: 1})
		require.ErrorIs(t, err, odoorpc.ErrUser)
		require.Contains(t, err.Error(), "no.such.model")
	})

	t.Run("BatchAllOrNothing", func(t *testing.T) {
		before, err := c.SearchCount(ctx, "res.partner", odoorpc.Domain{odoorpc.Leaf("name", "=like", "Batch %")}, nil)
		require.NoError(t, err)
		_, err = c.Create(ctx, "res.partner", []odoorpc.Values{{"name": "Batch 1"}, {"name": "Batch 2", "country_id": 999999}}, nil)
		require.Error(t, err)
		after, err := c.SearchCount(ctx, "res.partner", odoorpc.Domain{odoorpc.Leaf("name", "=like", "Batch %")}, nil)
		require.NoError(t, err)
		require.Equal(t, before, after, "a refused batch creates nothing")
	})
}

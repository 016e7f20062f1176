package demo

import (
	"context"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector/odoo"
	"github.com/concord-sync/concord/internal/connector/odoo/odoorpc"
	"github.com/concord-sync/concord/internal/connector/odoo/odootest"
	"github.com/concord-sync/concord/internal/northwind"
)

func TestMain(m *testing.M) { odootest.Main(m, 1) }

// TestIntegrationOdooERP plays the demo's ERP side on the real Odoo: the
// catalogue loads through the connector, a confirmed order's draft invoice is
// posted by Invoice and paid in full by Pay.
func TestIntegrationOdooERP(t *testing.T) {
	env := odootest.Clone(t)
	ctx := context.Background()
	conn, err := odoo.Open(ctx, odoo.Settings{URL: env.URL, Database: env.Database, Username: env.User, Password: env.Password}, nil)
	require.NoError(t, err)
	defer conn.Close(ctx)
	erp := &OdooERP{Conn: conn, Rnd: rand.New(rand.NewPCG(1, 2))}

	nw, err := northwind.Load()
	require.NoError(t, err)
	ids, err := erp.LoadProducts(ctx, nw)
	require.NoError(t, err)
	require.Len(t, ids, len(nw.Products))
	rpc := conn.Client()
	chai, err := strconv.ParseInt(ids["1"], 10, 64)
	require.NoError(t, err)
	rows, err := rpc.Read(ctx, "product.product", []int64{chai}, []string{"default_code", "list_price"}, nil)
	require.NoError(t, err)
	require.Equal(t, "NW-001", rows[0].String("default_code"))
	// Northwind's discontinued products stay sellable: the seeded deals sell them.
	var discontinued int64
	for _, p := range nw.Products {
		if p.Discontinued {
			discontinued, err = strconv.ParseInt(ids[strconv.Itoa(p.ID)], 10, 64)
			require.NoError(t, err)
			break
		}
	}
	require.NotZero(t, discontinued)
	live, err := rpc.SearchCount(ctx, "product.product", odoorpc.Domain{odoorpc.Leaf("id", "=", discontinued)}, nil)
	require.NoError(t, err)
	require.EqualValues(t, 1, live, "discontinued product %d is active", discontinued)

	// Nothing to post or pay yet.
	n, err := erp.Invoice(ctx)
	require.NoError(t, err)
	require.Zero(t, n)
	n, err = erp.Pay(ctx, 3)
	require.NoError(t, err)
	require.Zero(t, n)

	// A confirmed order with its draft invoice, as the order handoff leaves it.
	partner, err := rpc.Create(ctx, "res.partner", []odoorpc.Values{{"name": "Alfreds Futterkiste", "is_company": true}}, nil)
	require.NoError(t, err)
	order, err := rpc.Create(ctx, "sale.order", []odoorpc.Values{{"partner_id": partner[0], "client_order_ref": "deal-1",
		"order_line": []any{odoorpc.Create(odoorpc.Values{"product_id": chai, "product_uom_qty": 3})}}}, nil)
	require.NoError(t, err)
	_, err = rpc.Call(ctx, "sale.order", "action_confirm", order, nil)
	require.NoError(t, err)
	active := odoorpc.ActiveContext("sale.order", order...)
	wiz, err := rpc.Create(ctx, "sale.advance.payment.inv", []odoorpc.Values{{"advance_payment_method": "delivered"}}, active)
	require.NoError(t, err)
	_, err = rpc.Call(ctx, "sale.advance.payment.inv", "create_invoices", wiz, active)
	require.NoError(t, err)

	n, err = erp.Invoice(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	inv, err := rpc.SearchRead(ctx, "account.move", odoorpc.Domain{odoorpc.Leaf("move_type", "=", "out_invoice")},
		[]string{"state", "payment_state", "amount_residual", "amount_total"}, odoorpc.SearchOptions{})
	require.NoError(t, err)
	require.Len(t, inv, 1)
	require.Equal(t, "posted", inv[0].String("state"))
	require.Equal(t, "not_paid", inv[0].String("payment_state"))

	n, err = erp.Pay(ctx, 3)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	inv, err = rpc.Read(ctx, "account.move", []int64{inv[0].ID()}, []string{"payment_state", "amount_residual"}, nil)
	require.NoError(t, err)
	require.Equal(t, "paid", inv[0].String("payment_state"))
	due, _ := inv[0].Decimal("amount_residual")
	require.True(t, due.IsZero(), "amount due %s", due)

	// Paid invoices are not paid twice.
	n, err = erp.Pay(ctx, 3)
	require.NoError(t, err)
	require.Zero(t, n)
}

package odootest

// Helpers for end-to-end tests that act in Odoo as its users would (a
// catalogue manager, an accountant) and read what Concord handed over.

import (
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector/odoo/odoorpc"
)

// Product creates a storable product in Odoo, as the catalogue manager
// would (Odoo's defaults apply: the company's sales tax, units), and returns
// its product.product id.
func Product(t *testing.T, erp *odoorpc.Client, sku, name, price string) int64 {
	t.Helper()
	ids, err := erp.Create(t.Context(), "product.product", []odoorpc.Values{{"name": name, "default_code": sku,
		"list_price": decimal.RequireFromString(price), "detailed_type": "product"}}, nil)
	require.NoError(t, err)
	require.Len(t, ids, 1)
	return ids[0]
}

// Order is an Odoo sale.order as read over JSON-RPC.
type Order struct {
	ID, Partner int64
	State       string
	Invoices    []int64
	Lines       []Line
}

// Line is one product line of a sale order: the product, the quantity,
// the unit price after the line's discount and the untaxed subtotal.
type Line struct {
	Product            int64
	Qty, Net, Subtotal string
}

// Orders returns Odoo's sale orders whose client_order_ref is ref ("" for
// all), by id.
func Orders(t *testing.T, erp *odoorpc.Client, ref string) []Order {
	t.Helper()
	dom := odoorpc.Domain{}
	if ref != "" {
		dom = odoorpc.Domain{odoorpc.Leaf("client_order_ref", "=", ref)}
	}
	recs, err := erp.SearchRead(t.Context(), "sale.order", dom, []string{"state", "partner_id", "order_line", "invoice_ids"}, odoorpc.SearchOptions{Order: "id asc"})
	require.NoError(t, err)
	out := make([]Order, 0, len(recs))
	for _, r := range recs {
		o := Order{ID: r.ID(), Partner: r.Int("partner_id"), State: r.String("state"), Invoices: r.IDs("invoice_ids")}
		lines, err := erp.SearchRead(t.Context(), "sale.order.line", odoorpc.Domain{odoorpc.Leaf("order_id", "=", o.ID), odoorpc.Leaf("display_type", "=", false)},
			[]string{"product_id", "product_uom_qty", "price_unit", "discount", "price_subtotal"}, odoorpc.SearchOptions{Order: "sequence asc, id asc"})
		require.NoError(t, err)
		for _, l := range lines {
			qty, _ := l.Decimal("product_uom_qty")
			unit, _ := l.Decimal("price_unit")
			disc, _ := l.Decimal("discount") // percent
			sub, _ := l.Decimal("price_subtotal")
			net := unit.Mul(decimal.NewFromInt(100).Sub(disc)).Div(decimal.NewFromInt(100)).Round(2)
			o.Lines = append(o.Lines, Line{Product: l.Int("product_id"), Qty: qty.String(), Net: net.String(), Subtotal: sub.String()})
		}
		out = append(out, o)
	}
	return out
}

// RequireLines compares an order's lines with want, amounts as decimals.
func RequireLines(t *testing.T, got, want []Line) {
	t.Helper()
	require.Len(t, got, len(want), "lines %+v", got)
	for i, w := range want {
		g := got[i]
		require.Equal(t, w.Product, g.Product, "line %d: the linked product", i)
		for _, f := range []struct{ name, want, got string }{{"quantity", w.Qty, g.Qty}, {"net unit price", w.Net, g.Net}, {"subtotal", w.Subtotal, g.Subtotal}} {
			require.True(t, decimal.RequireFromString(f.want).Equal(decimal.RequireFromString(f.got)), "line %d %s: want %s, Odoo has %s", i, f.name, f.want, f.got)
		}
	}
}

// PostAndPay posts a draft customer invoice and registers its full
// payment through Odoo's account.payment.register wizard, as the accountant
// would.
func PostAndPay(t *testing.T, erp *odoorpc.Client, invoice int64) {
	t.Helper()
	_, err := erp.Call(t.Context(), "account.move", "action_post", []int64{invoice}, nil)
	require.NoError(t, err, "post invoice %d", invoice)
	actx := odoorpc.ActiveContext("account.move", invoice)
	wiz, err := erp.Create(t.Context(), "account.payment.register", []odoorpc.Values{{}}, actx)
	require.NoError(t, err, "payment wizard for invoice %d", invoice)
	_, err = erp.Call(t.Context(), "account.payment.register", "action_create_payments", wiz, actx)
	require.NoError(t, err, "register the payment of invoice %d", invoice)
	recs, err := erp.Read(t.Context(), "account.move", []int64{invoice}, []string{"payment_state"}, nil)
	require.NoError(t, err)
	require.Equal(t, "paid", recs[0].String("payment_state"), "the wizard paid invoice %d in Odoo", invoice)
}

// InvoiceName returns the number Odoo gave an invoice.
func InvoiceName(t *testing.T, erp *odoorpc.Client, invoice int64) string {
	t.Helper()
	recs, err := erp.Read(t.Context(), "account.move", []int64{invoice}, []string{"name"}, nil)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	return recs[0].String("name")
}

package odoo

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/odoo/odoorpc"
	"github.com/concord-sync/concord/internal/connector/odoo/odootest"
	"github.com/concord-sync/concord/internal/model"
)

// openWith opens a second connector on env with other settings.
func openWith(t *testing.T, env odootest.Env, mod func(*Settings)) *Conn {
	t.Helper()
	s := Settings{URL: env.URL, Database: env.Database, Username: env.User, Password: env.Password}
	mod(&s)
	c, err := Open(context.Background(), s, slog.New(slog.NewTextHandler(tWriter{t}, nil)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

func adminOf(t *testing.T, env odootest.Env) *odoorpc.Client {
	t.Helper()
	admin, err := odoorpc.New(odoorpc.Config{URL: env.URL, Database: env.Database, Username: "admin", Password: env.AdminPassword})
	require.NoError(t, err)
	return admin
}

// o2cSetup creates a customer with a billing contact and n products through
// the connector; it returns their ids.
func o2cSetup(t *testing.T, c *Conn, n int) (account, contact string, products []string) {
	t.Helper()
	ctx := context.Background()
	res, err := c.Write(ctx, model.Account, []connector.Op{{Kind: connector.OpCreate, LinkKey: "crm-co-1", Fields: model.Fields{
		"name": model.Text("Alfreds Futterkiste"), "city": model.Text("Berlin"), "country": model.Text("DE"),
	}}})
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
	account = res[0].ID
	res, err = c.Write(ctx, model.Contact, []connector.Op{{Kind: connector.OpCreate, LinkKey: "crm-ct-1", Fields: model.Fields{
		"first_name": model.Text("Maria"), "last_name": model.Text("Anders"), "email": model.Text("maria@alfreds.example"),
		"account": model.Ref(model.Account, account),
	}}})
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
	contact = res[0].ID
	ops := make([]connector.Op, n)
	for i := range ops {
		ops[i] = connector.Op{Kind: connector.OpCreate, Fields: model.Fields{
			"sku": model.Text("NW-" + itoa(i+1)), "name": model.Text("Chai " + itoa(i+1)),
			"list_price": model.Money(decimal.NewFromInt(int64(10*(i+1))), "USD"),
		}}
	}
	res, err = c.Write(ctx, model.Product, ops)
	require.NoError(t, err)
	for _, r := range res {
		require.NoError(t, r.Err)
		products = append(products, r.ID)
	}
	return account, contact, products
}

func itoa(i int) string { return decimal.NewFromInt(int64(i)).String() }

func line(product string, qty, price int64, discount string) model.Record {
	f := model.Fields{"product": model.Ref(model.Product, product), "quantity": model.Decimal(decimal.NewFromInt(qty))}
	if price != 0 {
		f["unit_price"] = model.Money(decimal.NewFromInt(price), "USD")
	}
	if discount != "" {
		f["discount"] = model.Decimal(decimal.RequireFromString(discount))
	}
	return model.Record{Entity: model.OrderLine, Fields: f}
}

// payInvoice registers a full payment dated on date with Odoo's wizard.
func payInvoice(t *testing.T, rpc *odoorpc.Client, invoice int64, date string) {
	t.Helper()
	ctx := context.Background()
	wctx := odoorpc.ActiveContext("account.move", invoice)
	w, err := rpc.Create(ctx, "account.payment.register", []odoorpc.Values{{"payment_date": date}}, wctx)
	require.NoError(t, err)
	_, err = rpc.Call(ctx, "account.payment.register", "action_create_payments", w, wctx)
	require.NoError(t, err)
}

func orderInvoices(t *testing.T, rpc *odoorpc.Client, ref string) (orders []odoorpc.Record, invoices []odoorpc.Record) {
	t.Helper()
	ctx := context.Background()
	orders, err := rpc.SearchRead(ctx, "sale.order", odoorpc.Domain{odoorpc.Leaf("client_order_ref", "=", ref)},
		[]string{"name", "state", "invoice_ids", "amount_total", "amount_untaxed", "partner_invoice_id"}, odoorpc.SearchOptions{})
	require.NoError(t, err)
	var ids []int64
	for _, o := range orders {
		ids = append(ids, o.IDs("invoice_ids")...)
	}
	if len(ids) > 0 {
		invoices, err = rpc.Read(ctx, "account.move", ids, []string{"name", "state", "amount_total", "payment_state", "ref"}, nil)
		require.NoError(t, err)
	}
	return orders, invoices
}

// TestIntegrationOrder_HandoffToPaid: a won deal's order is created with its
// lines, confirmed, invoiced through Odoo's wizard and posted (invoice_orders:
// posted); read back it carries the lines as written; the invoice, paid in
// Odoo, is read as paid with the payment's date, linked to the order and the
// deal id.
func TestIntegrationOrder_HandoffToPaid(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base, env := openTest(t)
	c := openWith(t, env, func(s *Settings) { s.InvoiceOrders = InvoicePosted })
	account, contact, products := o2cSetup(t, base, 2)
	_, invCursor := readPages(t, c, model.Invoice, "")

	res, err := c.Write(ctx, model.Order, []connector.Op{{Kind: connector.OpCreate, LinkKey: "deal-1001", Fields: model.Fields{
		"account": model.Ref(model.Account, account), "contact": model.Ref(model.Contact, contact),
		"lines": model.Lines([]model.Record{line(products[0], 3, 100, "0.1"), line(products[1], 2, 0, "")}),
	}}})
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
	require.NotEmpty(t, res[0].Version)

	orders, invoices := orderInvoices(t, c.Client(), "deal-1001")
	require.Len(t, orders, 1)
	require.Equal(t, "sale", orders[0].String("state"))
	require.Equal(t, parseIDs([]string{contact})[0], orders[0].Int("partner_invoice_id"), "the billing contact is the invoice address")
	require.Len(t, invoices, 1, "one invoice per order, through the wizard")
	require.Equal(t, "posted", invoices[0].String("state"))
	require.Equal(t, "deal-1001", invoices[0].String("ref"), "Odoo copies the customer reference onto the invoice")

	got, err := c.Get(ctx, model.Order, []string{res[0].ID})
	require.NoError(t, err)
	o := got[res[0].ID]
	require.Equal(t, "deal-1001", o.LinkKey)
	require.Equal(t, "confirmed", o.Fields["state"].Str)
	require.Equal(t, orders[0].String("name"), o.Fields["number"].Str)
	require.Equal(t, account, o.Fields["account"].Str)
	require.Equal(t, contact, o.Fields["contact"].Str)
	lines := o.Fields["lines"].Lines
	require.Len(t, lines, 2)
	require.Equal(t, products[0], lines[0].Fields["product"].Str)
	require.Equal(t, "3", lines[0].Fields["quantity"].Num.String())
	require.Equal(t, "0.1", lines[0].Fields["discount"].Num.String())
	require.Equal(t, "270 USD", lines[0].Fields["amount"].String(), "3 x 100 less 10 %")
	require.Equal(t, "20 USD", lines[1].Fields["unit_price"].String(), "the product's list price when the deal gives none")
	untaxed := decimal.NewFromInt(270 + 40)
	require.True(t, o.Fields["untaxed"].Num.Equal(untaxed), "untaxed %s", o.Fields["untaxed"])
	total, _ := orders[0].Decimal("amount_total")
	require.True(t, o.Fields["total"].Num.Equal(total))
	require.True(t, total.GreaterThan(untaxed), "taxes come from the products (Odoo's default sales tax)")

	// Posted: the invoice is read with its order and the deal id.
	recs, invCursor := readPages(t, c, model.Invoice, invCursor)
	require.Len(t, recs, 1)
	inv := recs[0]
	require.Equal(t, res[0].ID, inv.Fields["order"].Str)
	require.Equal(t, "deal-1001", inv.Fields["reference"].Str)
	require.Equal(t, "posted", inv.Fields["state"].Str)
	require.Equal(t, invoices[0].String("name"), inv.Fields["number"].Str)
	require.True(t, inv.Fields["amount_due"].Num.Equal(total))
	require.Equal(t, account, inv.Fields["account"].Str)
	require.False(t, inv.Fields["due_date"].IsNull())
	require.True(t, inv.Fields["paid_date"].IsNull())

	// Paid in Odoo: the next read sees it.
	time.Sleep(time.Second) // write_date has a one second resolution
	payInvoice(t, adminOf(t, env), invoices[0].ID(), "2026-11-20")
	recs, _ = readPages(t, c, model.Invoice, invCursor)
	require.Len(t, recs, 1, "the payment is a change of the invoice")
	inv = recs[0]
	require.Equal(t, "paid", inv.Fields["state"].Str)
	require.True(t, inv.Fields["amount_due"].Num.IsZero())
	require.Equal(t, "2026-11-20", inv.Fields["paid_date"].Time.Format(time.DateOnly))
	require.False(t, inv.Fields["overdue"].Bool)

	// Invoices and confirmed orders are not Concord's to change.
	_, err = c.Write(ctx, model.Invoice, []connector.Op{{Kind: connector.OpUpdate, ID: inv.ID, Fields: model.Fields{"number": model.Text("X")}}})
	require.ErrorIs(t, err, connector.ErrUnsupported)
	res2, err := c.Write(ctx, model.Order, []connector.Op{{Kind: connector.OpUpdate, ID: res[0].ID, Fields: model.Fields{
		"lines": model.Lines([]model.Record{line(products[0], 5, 100, "")}),
	}}})
	require.NoError(t, err)
	require.True(t, connector.IsPermanent(res2[0].Err), "a confirmed order is refused: %v", res2[0].Err)
	require.ErrorContains(t, res2[0].Err, "confirmed")
	orders, _ = orderInvoices(t, c.Client(), "deal-1001")
	require.Len(t, orders, 1)
}

// TestIntegrationOrder_InterruptedHandoff: orders an interrupted handoff left
// behind (created but not confirmed; confirmed but not invoiced; invoiced but
// not posted) are found by their link key and finished, never duplicated;
// finishing twice changes nothing.
func TestIntegrationOrder_InterruptedHandoff(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base, env := openTest(t)
	c := openWith(t, env, func(s *Settings) { s.InvoiceOrders = InvoicePosted })
	draft := openWith(t, env, func(s *Settings) { s.InvoiceOrders = InvoiceDraft })
	none := openWith(t, env, func(s *Settings) { s.InvoiceOrders = InvoiceNone })
	account, _, products := o2cSetup(t, base, 1)
	fields := func() model.Fields {
		return model.Fields{"account": model.Ref(model.Account, account),
			"lines": model.Lines([]model.Record{line(products[0], 2, 50, "")})}
	}
	rpc := c.Client()

	// 1. Created, then the process died before confirm.
	oid, err := rpc.Create(ctx, "sale.order", []odoorpc.Values{{"partner_id": parseIDs([]string{account})[0], "client_order_ref": "deal-1",
		"order_line": []any{odoorpc.Create(odoorpc.Values{"product_id": parseIDs([]string{products[0]})[0], "product_uom_qty": 2, "price_unit": 50})}}}, nil)
	require.NoError(t, err)
	// 2. Confirmed, not invoiced (invoice_orders none ran, the config later says posted).
	res, err := none.Write(ctx, model.Order, []connector.Op{{Kind: connector.OpCreate, LinkKey: "deal-2", Fields: fields()}})
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
	id2 := res[0].ID
	// 3. Invoiced in draft, not posted.
	res, err = draft.Write(ctx, model.Order, []connector.Op{{Kind: connector.OpCreate, LinkKey: "deal-3", Fields: fields()}})
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
	id3 := res[0].ID
	_, inv3 := orderInvoices(t, rpc, "deal-3")
	require.Len(t, inv3, 1)
	require.Equal(t, "draft", inv3[0].String("state"))

	// The engine's retry: lookup by link key, then an update with the deal's fields.
	found, err := c.Lookup(ctx, model.Order, []string{"deal-1", "deal-2", "deal-3"})
	require.NoError(t, err)
	require.Len(t, found, 3)
	require.Equal(t, itoa(int(oid[0])), found["deal-1"].ID)
	var ops []connector.Op
	for _, k := range []string{"deal-1", "deal-2", "deal-3"} {
		ops = append(ops, connector.Op{Kind: connector.OpUpdate, ID: found[k].ID, LinkKey: k, Version: found[k].Version, Fields: fields()})
	}
	for round := range 2 {
		res, err = c.Write(ctx, model.Order, ops)
		require.NoError(t, err)
		for i, r := range res {
			require.NoError(t, r.Err, "round %d, op %d", round, i)
			ops[i].Version = r.Version
		}
		for _, k := range []string{"deal-1", "deal-2", "deal-3"} {
			orders, invoices := orderInvoices(t, rpc, k)
			require.Len(t, orders, 1, k)
			require.Equal(t, "sale", orders[0].String("state"), k)
			require.Len(t, invoices, 1, "%s: exactly one invoice, round %d", k, round)
			require.Equal(t, "posted", invoices[0].String("state"), k)
		}
	}
	require.Equal(t, id2, found["deal-2"].ID)
	require.Equal(t, id3, found["deal-3"].ID)

	// A confirmed order that is not what the deal asks is refused, not changed.
	changed := fields()
	changed["lines"] = model.Lines([]model.Record{line(products[0], 9, 50, "")})
	res, err = c.Write(ctx, model.Order, []connector.Op{{Kind: connector.OpUpdate, ID: id2, LinkKey: "deal-2", Fields: changed}})
	require.NoError(t, err)
	require.True(t, connector.IsPermanent(res[0].Err))
}

// TestIntegrationOrder_Refusals: each order of a batch gets its own outcome;
// the refused ones name the record and the field: a line with an archived
// product, an order without a customer, a contact of another customer; a
// period locked in Odoo refuses the posting after the order is confirmed.
func TestIntegrationOrder_Refusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base, env := openTest(t)
	c := openWith(t, env, func(s *Settings) { s.InvoiceOrders = InvoicePosted })
	account, _, products := o2cSetup(t, base, 2)
	other, err := base.Write(ctx, model.Account, []connector.Op{{Kind: connector.OpCreate, Fields: model.Fields{"name": model.Text("Other Co")}}})
	require.NoError(t, err)
	otherContact, err := base.Write(ctx, model.Contact, []connector.Op{{Kind: connector.OpCreate, Fields: model.Fields{
		"last_name": model.Text("Stranger"), "account": model.Ref(model.Account, other[0].ID)}}})
	require.NoError(t, err)
	arch, err := base.Archive(ctx, model.Product, []string{products[1]})
	require.NoError(t, err)
	require.NoError(t, arch[0].Err)

	ok := model.Fields{"account": model.Ref(model.Account, account), "lines": model.Lines([]model.Record{line(products[0], 1, 0, "")})}
	res, err := c.Write(ctx, model.Order, []connector.Op{
		{Kind: connector.OpCreate, LinkKey: "deal-archived", Fields: model.Fields{"account": model.Ref(model.Account, account),
			"lines": model.Lines([]model.Record{line(products[0], 1, 0, ""), line(products[1], 1, 0, "")})}},
		{Kind: connector.OpCreate, LinkKey: "deal-ok", Fields: ok},
		{Kind: connector.OpCreate, LinkKey: "deal-nocustomer", Fields: model.Fields{"lines": ok["lines"]}},
		{Kind: connector.OpCreate, LinkKey: "deal-strangecontact", Fields: model.Fields{"account": ok["account"], "lines": ok["lines"],
			"contact": model.Ref(model.Contact, otherContact[0].ID)}},
	})
	require.NoError(t, err)
	require.NoError(t, res[1].Err)
	for i, want := range []struct{ field, text string }{
		{"lines", "line 2: Odoo product " + products[1]},
		{},
		{"account", "needs a customer"},
		{"contact", "is not a contact of the order's customer"},
	} {
		if want.field == "" {
			continue
		}
		require.Error(t, res[i].Err, "op %d", i)
		require.True(t, connector.IsPermanent(res[i].Err), "op %d: %v", i, res[i].Err)
		require.Equal(t, want.field, fieldOf(res[i].Err), "op %d: %v", i, res[i].Err)
		require.ErrorContains(t, res[i].Err, want.text)
	}
	require.ErrorContains(t, res[0].Err, "archived")
	require.ErrorContains(t, res[0].Err, "deal-archived", "the error names the record")
	for _, k := range []string{"deal-archived", "deal-nocustomer", "deal-strangecontact"} {
		orders, _ := orderInvoices(t, c.Client(), k)
		require.Empty(t, orders, "%s: nothing half-written", k)
	}

	// A locked period: the order is confirmed and invoiced; posting is refused.
	admin := adminOf(t, env)
	require.NoError(t, admin.Write(ctx, "res.company", []int64{c.company}, odoorpc.Values{
		"fiscalyear_lock_date": time.Now().UTC().AddDate(0, 0, 1).Format(time.DateOnly)}, nil))
	res, err = c.Write(ctx, model.Order, []connector.Op{{Kind: connector.OpCreate, LinkKey: "deal-locked", Fields: ok}})
	require.NoError(t, err)
	require.NotEmpty(t, res[0].ID, "the order exists: a retry finds it by its link key")
	require.True(t, connector.IsPermanent(res[0].Err), "%v", res[0].Err)
	require.Equal(t, "invoice_date", fieldOf(res[0].Err))
	require.ErrorContains(t, res[0].Err, "lock date")
	require.ErrorContains(t, res[0].Err, "deal-locked")
	orders, invoices := orderInvoices(t, c.Client(), "deal-locked")
	require.Len(t, orders, 1)
	require.Len(t, invoices, 1)
	require.Equal(t, "draft", invoices[0].String("state"))

	// Unlocked, the retry finishes it.
	require.NoError(t, admin.Write(ctx, "res.company", []int64{c.company}, odoorpc.Values{"fiscalyear_lock_date": false}, nil))
	res, err = c.Write(ctx, model.Order, []connector.Op{{Kind: connector.OpUpdate, ID: res[0].ID, LinkKey: "deal-locked", Fields: ok}})
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
	_, invoices = orderInvoices(t, c.Client(), "deal-locked")
	require.Len(t, invoices, 1)
	require.Equal(t, "posted", invoices[0].String("state"))
}

// fieldOf is the canonical field a permanent error names.
func fieldOf(err error) string {
	var p *connector.PermanentError
	if errors.As(err, &p) {
		return p.Field
	}
	return ""
}

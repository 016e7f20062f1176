package tryton

import (
	"context"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/tryton/trytonrpc"
	"github.com/concord-sync/concord/internal/model"
)

// createCustomer creates a party with an address and returns its id.
func createCustomer(t *testing.T, c *Conn, key string) string {
	t.Helper()
	res, err := c.Write(context.Background(), model.Account, []connector.Op{{Kind: connector.OpCreate, LinkKey: key, Fields: model.Fields{
		"name": model.Text("Customer " + key), "street": model.Text("1 Main St"), "city": model.Text("New York"), "country": model.Text("US"),
	}}})
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
	return res[0].ID
}

func line(product string, qty, price string) model.Record {
	return model.Record{Entity: model.OrderLine, Fields: model.Fields{
		"product":    model.Ref(model.Product, product),
		"quantity":   model.Decimal(decimal.RequireFromString(qty)),
		"unit_price": model.Money(decimal.RequireFromString(price), "USD"),
	}}
}

func orderOp(deal, party string, lines ...model.Record) connector.Op {
	return connector.Op{Kind: connector.OpCreate, LinkKey: deal, Fields: model.Fields{
		"account": model.Ref(model.Account, party), "lines": model.Lines(lines),
	}}
}

// readAllInvoices reads invoices from cursor until done.
func readAllInvoices(t *testing.T, c *Conn, cursor string) ([]model.Record, string) {
	t.Helper()
	var out []model.Record
	for range 20 {
		r, err := c.Read(context.Background(), connector.ReadRequest{Entity: model.Invoice, Cursor: cursor})
		require.NoError(t, err)
		out = append(out, r.Records...)
		cursor = r.Next
		if r.Done {
			return out, cursor
		}
	}
	require.FailNow(t, "invoice read never done")
	return nil, ""
}

// payInvoice pays the invoice in full through Tryton's pay wizard.
func payInvoice(t *testing.T, c *Conn, id int64) {
	t.Helper()
	ctx := context.Background()
	methods, err := c.Client().Search(ctx, "account.invoice.payment.method", trytonrpc.Domain{trytonrpc.Leaf("name", "=", "Cash")}, trytonrpc.SearchOptions{Limit: 1})
	require.NoError(t, err)
	require.Len(t, methods, 1)
	w, err := c.Client().WizardCreate(ctx, "account.invoice.pay", trytonrpc.Context{"active_model": "account.invoice", "active_id": id, "active_ids": []int64{id}})
	require.NoError(t, err)
	defer func() { require.NoError(t, w.Delete(ctx)) }()
	view, err := w.Execute(ctx, nil, w.Start)
	require.NoError(t, err)
	v, ok := view["view"].(map[string]any)
	require.True(t, ok, "the pay wizard shows its start form: %v", view)
	defaults, ok := v["defaults"].(map[string]any)
	require.True(t, ok, "the start form has defaults: %v", v)
	form := map[string]any{}
	for k, v := range defaults {
		if !strings.Contains(k, ".") {
			form[k] = v
		}
	}
	form["description"] = "CRM payment"
	form["payment_method"] = methods[0]
	out, err := w.Execute(ctx, map[string]any{"start": form}, "choice")
	require.NoError(t, err)
	require.Nil(t, out["view"], "a full payment ends the wizard: %v", out)
}

func TestIntegrationConn_Order(t *testing.T) {
	t.Parallel()

	t.Run("WonDealToPaidInvoice", func(t *testing.T) {
		t.Parallel()
		c, _ := openTest(t)
		ctx := context.Background()
		party := createCustomer(t, c, "crm-acc-1")
		widget := createProduct(t, c, "crm-prod-1", "WID-1", 25)
		gadget := createProduct(t, c, "crm-prod-2", "GAD-1", 40)

		discounted := line(gadget, "2", "40")
		discounted.Fields["discount"] = model.Decimal(decimal.RequireFromString("0.25"))
		res, err := c.Write(ctx, model.Order, []connector.Op{orderOp("deal-1001", party, line(widget, "3", "25"), discounted)})
		require.NoError(t, err)
		require.NoError(t, res[0].Err)
		require.NotEmpty(t, res[0].Version)

		found, err := c.Lookup(ctx, model.Order, []string{"deal-1001", "deal-none"})
		require.NoError(t, err)
		require.Len(t, found, 1)
		sale := found["deal-1001"]
		require.Equal(t, res[0].ID, sale.ID)
		require.Equal(t, "deal-1001", sale.LinkKey)
		require.Equal(t, "processing", sale.Fields["state"].Str)
		require.NotEmpty(t, sale.Fields["number"].Str)
		require.Equal(t, model.Ref(model.Account, party), sale.Fields["account"])
		// 3 x 25 + 2 x 30 (40 less 25 %) = 135 untaxed, VAT 10 % on top.
		require.Equal(t, "135 USD", sale.Fields["untaxed"].String())
		require.Equal(t, "148.5 USD", sale.Fields["total"].String())
		lines := sale.Fields["lines"].Lines
		require.Len(t, lines, 2)
		require.Equal(t, model.Ref(model.Product, widget), lines[0].Fields["product"])
		require.Equal(t, "3", lines[0].Fields["quantity"].Num.String())
		require.Equal(t, "Unit", lines[0].Fields["unit"].Str)
		require.Equal(t, "30 USD", lines[1].Fields["unit_price"].String(), "discount applied to the price")
		require.Equal(t, "60 USD", lines[1].Fields["amount"].String())

		// Tryton invoiced the sale: a draft invoice carrying the deal id.
		invs, cursor := readAllInvoices(t, c, "")
		require.Len(t, invs, 1)
		inv := invs[0]
		require.Equal(t, "draft", inv.Fields["state"].Str)
		require.Equal(t, model.Ref(model.Order, sale.ID), inv.Fields["order"])
		require.Equal(t, "deal-1001", inv.Fields["reference"].Str)
		require.Equal(t, "148.5 USD", inv.Fields["total"].String())
		require.True(t, inv.Fields["paid_date"].IsNull())

		// Post it, then pay it with the wizard, as accounting would.
		invID := mustID(t, inv.ID)
		require.NoError(t, c.Client().Button(ctx, "account.invoice", "post", []int64{invID}, nil))
		invs, cursor = readAllInvoices(t, c, cursor)
		require.Len(t, invs, 1)
		require.Equal(t, "posted", invs[0].Fields["state"].Str)
		require.NotEmpty(t, invs[0].Fields["number"].Str)
		require.Equal(t, "148.5 USD", invs[0].Fields["amount_due"].String())
		require.False(t, invs[0].Fields["due_date"].IsNull())
		require.False(t, invs[0].Fields["overdue"].Bool, "due today is not overdue")

		payInvoice(t, c, invID)
		invs, _ = readAllInvoices(t, c, cursor)
		require.Len(t, invs, 1, "a payment is a change of the invoice")
		paid := invs[0]
		require.Equal(t, "paid", paid.Fields["state"].Str)
		require.True(t, paid.Fields["amount_due"].Num.IsZero())
		srvToday, err := c.Client().Today(ctx)
		require.NoError(t, err)
		require.Equal(t, model.Date(srvToday.Time()), paid.Fields["paid_date"])
		require.False(t, paid.Fields["overdue"].Bool)

		// Invoices are read-only in Concord's direction.
		wres, err := c.Write(ctx, model.Invoice, []connector.Op{{Kind: connector.OpUpdate, ID: paid.ID, Fields: model.Fields{"number": model.Text("x")}}})
		require.NoError(t, err)
		require.ErrorIs(t, wres[0].Err, connector.ErrUnsupported)
	})

	t.Run("StuckWithoutInvoice", func(t *testing.T) {
		t.Parallel()
		c, _ := openTest(t)
		ctx := context.Background()
		party := createCustomer(t, c, "crm-acc-2")
		res, err := c.Write(ctx, model.Product, []connector.Op{{Kind: connector.OpCreate, LinkKey: "crm-nocat", Fields: model.Fields{
			"sku": model.Text("NOCAT"), "name": model.Text("NoCat"), "list_price": model.Money(decimal.NewFromInt(10), "USD"),
			"category": model.Null, // no accounting category: Tryton cannot invoice it
		}}})
		require.NoError(t, err)
		require.NoError(t, res[0].Err)
		res, err = c.Write(ctx, model.Order, []connector.Op{orderOp("deal-stuck", party, line(res[0].ID, "1", "10"))})
		require.NoError(t, err)
		require.Error(t, res[0].Err)
		require.True(t, connector.IsPermanent(res[0].Err), "%v", res[0].Err)
		require.Contains(t, res[0].Err.Error(), `There is no "Account Category" defined for "[NOCAT] NoCat"`, "the ERP's own message")
		require.Contains(t, res[0].Err.Error(), "deal-stuck", "names the record")
		require.NotEmpty(t, res[0].ID, "the sale exists in Tryton")
		got, err := c.Get(ctx, model.Order, []string{res[0].ID})
		require.NoError(t, err)
		require.Equal(t, "confirmed", got[res[0].ID].Fields["state"].Str)
	})

	t.Run("PartialFailure", func(t *testing.T) {
		t.Parallel()
		c, _ := openTest(t)
		ctx := context.Background()
		party := createCustomer(t, c, "crm-acc-3")
		widget := createProduct(t, c, "crm-prod-3", "WID-3", 25)
		ops := []connector.Op{
			orderOp("deal-ok-1", party, line(widget, "1", "25")),
			orderOp("deal-bad-product", party, line(widget, "1", "25"), line("999999", "1", "5")),
			orderOp("deal-bad-qty", party, line(widget, "1.5", "25")), // the unit allows no decimals
			orderOp("deal-ok-2", party, line(widget, "2", "25")),
		}
		res, err := c.Write(ctx, model.Order, ops)
		require.NoError(t, err)
		require.Len(t, res, 4)
		require.NoError(t, res[0].Err)
		require.NoError(t, res[3].Err)
		for _, i := range []int{1, 2} {
			var perr *connector.PermanentError
			require.ErrorAs(t, res[i].Err, &perr, "op %d", i)
			require.Equal(t, "lines", perr.Field, "op %d: %v", i, res[i].Err)
			require.Contains(t, res[i].Err.Error(), ops[i].LinkKey, "names the record")
		}
		require.Contains(t, res[1].Err.Error(), "no tryton product 999999")
		require.Contains(t, res[2].Err.Error(), `"Quantity"`, "Tryton's own refusal: %v", res[2].Err)

		found, err := c.Lookup(ctx, model.Order, []string{"deal-ok-1", "deal-bad-product", "deal-bad-qty", "deal-ok-2"})
		require.NoError(t, err)
		require.Len(t, found, 2)
		require.Equal(t, "processing", found["deal-ok-1"].Fields["state"].Str)
		require.Equal(t, "processing", found["deal-ok-2"].Fields["state"].Str)

		// A confirmed sale is read-only in Tryton; the update says so.
		up, err := c.Write(ctx, model.Order, []connector.Op{{Kind: connector.OpUpdate, ID: res[0].ID, Fields: model.Fields{"reference": model.Text("x")}}})
		require.NoError(t, err)
		require.True(t, connector.IsPermanent(up[0].Err), "%v", up[0].Err)
	})
}

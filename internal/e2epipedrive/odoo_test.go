package e2epipedrive

import (
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector/odoo/odoorpc"
	"github.com/concord-sync/concord/internal/connector/odoo/odootest"
	"github.com/concord-sync/concord/internal/connector/pipedrive/pipedrivehttp"
	sandbox "github.com/concord-sync/concord/internal/sandbox/pipedrive"
)

const odooExample = "../../examples/pipedrive-odoo/concord.yaml"

// odooClones is how many Odoo databases the tests take.
const odooClones = 1

// newOdooWorld is a world with the shipped Pipedrive <-> Odoo config and an
// Odoo clone of its own, and an Odoo client logged in as admin (set-up and
// inspection, as the company's staff would work; never the integration user
// Concord logs in as).
func newOdooWorld(t *testing.T) (*world, *odoorpc.Client) {
	t.Helper()
	db := odootest.Clone(t)
	w, crmURL := newCRM(t)
	w.writeConfig(odooExample, crmURL, db.Password, map[string]any{
		"url": db.URL, "database": db.Database, "username": db.User, "password": "file:erp.password"})
	erp, err := odoorpc.New(odoorpc.Config{URL: db.URL, Database: db.Database, Username: "admin", Password: db.AdminPassword,
		Logger: slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	require.NoError(t, err)
	t.Cleanup(func() { _ = erp.Close(t.Context()) })
	require.NoError(t, erp.Login(t.Context()))
	return w, erp
}

// TestIntegrationWonDealHandoffOdoo runs the shipped Pipedrive <-> Odoo config
// with the real binary: Odoo's products reach Pipedrive, linked; a won deal
// with two products becomes exactly one confirmed Odoo sale order with those
// lines (quantities, prices, discounts), sold to the deal's organization
// (created once in Odoo), its invoice drafted; an open deal is not handed
// over; a second run creates nothing more; the deal's ERP sync status and,
// once Odoo's invoice is posted and paid, its invoice state say so in
// Pipedrive.
func TestIntegrationWonDealHandoffOdoo(t *testing.T) {
	t.Parallel()
	w, erp := newOdooWorld(t)
	ctx := t.Context()
	erpWidget := odootest.Product(t, erp, "PD-WID", "Widget", "25")
	erpGadget := odootest.Product(t, erp, "PD-GAD", "Gadget", "40")
	w.syncOK()

	crmProduct := map[string]string{} // odoo id -> pipedrive id
	products, err := w.api.List(ctx, sandbox.Products, pipedrivehttp.ListParams{Limit: 100})
	require.NoError(t, err)
	for _, p := range products.Items {
		crmProduct[w.linkKey("product", p)] = p.ID()
	}
	require.Len(t, crmProduct, 2, "the catalogue reached Pipedrive, each product linked by its Odoo id")
	widget := w.get(sandbox.Products, crmProduct[itoa(erpWidget)])
	require.Equal(t, "PD-WID", widget["code"])
	require.Equal(t, "25", pipedrivehttp.Str(widget["prices"].([]any)[0].(map[string]any)["price"]))

	org := w.create(sandbox.Organizations, map[string]any{"name": "Acme Pipe Odoo Co", "address": map[string]any{
		"route": "1 Main Street", "locality": "Denver", "postal_code": "80202", "country": "US"}})
	person := w.create(sandbox.Persons, map[string]any{"first_name": "Ann", "last_name": "Buyer", "org_id": json.Number(org),
		"emails": []any{map[string]any{"value": "ann@acme-odoo.example", "primary": true, "label": "work"}}})
	deal := func(title string) string {
		id := w.create(sandbox.Deals, map[string]any{"title": title, "org_id": json.Number(org), "person_id": json.Number(person),
			"currency": "USD", "value": 134, "stage_id": 4})
		for _, l := range []map[string]any{
			{"product_id": json.Number(crmProduct[itoa(erpWidget)]), "item_price": 25, "quantity": 2, "discount": 0},
			{"product_id": json.Number(crmProduct[itoa(erpGadget)]), "item_price": 40, "quantity": 3, "discount": 30},
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

	require.Empty(t, odootest.Orders(t, erp, open), "an open deal is not handed over")
	got := odootest.Orders(t, erp, won)
	require.Len(t, got, 1, "one sale order per won deal")
	o := got[0]
	require.Equal(t, "sale", o.State, "confirmed")
	require.Len(t, o.Invoices, 1, "the invoice is drafted at handoff")
	odootest.RequireLines(t, o.Lines, []odootest.Line{
		{Product: erpWidget, Qty: "2", Net: "25", Subtotal: "50"},
		{Product: erpGadget, Qty: "3", Net: "28", Subtotal: "84"}, // 40 less 30 %
	})
	out, code := w.concord("events", "--json", "--flow", "customers", "--source-id", org, "--status", "created")
	require.Zero(t, code, out)
	var created []struct {
		TargetID string `json:"target_id"`
	}
	require.NoError(t, json.Unmarshal([]byte(out[strings.Index(out, "["):]), &created), out)
	require.Len(t, created, 1, "the organization is created once in Odoo")
	require.Equal(t, itoa(o.Partner), created[0].TargetID, "sold to the deal's organization")
	status := pipedrivehttp.Str(w.custom(sandbox.Deals, w.get(sandbox.Deals, won), "ERP sync status"))
	require.True(t, strings.HasPrefix(status, "synced to erp order "+itoa(o.ID)), "status %q", status)

	w.syncOK()
	again := odootest.Orders(t, erp, "")
	require.Len(t, again, 1, "a second run creates nothing more")
	require.Equal(t, o.Invoices, again[0].Invoices, "and no second invoice")

	// Accounting posts and pays the invoice: the deal shows it.
	odootest.PostAndPay(t, erp, o.Invoices[0])
	w.syncOK()
	d := w.get(sandbox.Deals, won)
	require.Equal(t, "paid", pipedrivehttp.Str(w.custom(sandbox.Deals, d, "Invoice state (ERP)")))
	require.Equal(t, odootest.InvoiceName(t, erp, o.Invoices[0]), pipedrivehttp.Str(w.custom(sandbox.Deals, d, "Invoice number (ERP)")))
	require.NotNil(t, w.custom(sandbox.Deals, d, "Paid on (ERP)"))
}

// itoa formats a record id.
func itoa(n int64) string { return strconv.FormatInt(n, 10) }

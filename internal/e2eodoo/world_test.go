package e2eodoo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector/odoo/odoorpc"
	"github.com/concord-sync/concord/internal/connector/odoo/odootest"
	"github.com/concord-sync/concord/internal/demo"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/sandbox/hubspot"
)

// configTemplate is the HubSpot <-> Odoo config every world writes its own from.
const configTemplate = "testdata/concord.yaml.tmpl"

const crmToken = "pat-e2eodoo-0000"

// world is one test's two systems and Concord between them: the HubSpot
// sandbox (driven in-process, served over HTTP), an Odoo database cloned for
// the test (set up and inspected over JSON-RPC as Odoo's admin, the way the
// company's own staff would work in it), and a directory with concord.yaml,
// the secret files and the store.
type world struct {
	t    *testing.T
	dir  string
	cfg  string
	crm  *hubspot.Server
	db   odootest.Env
	odoo *odoorpc.Client // as admin: never the integration user Concord logs in as
}

// worldOptions tune a world's config.
type worldOptions struct {
	// flows keeps only the named flows (and the entities they move); nil: all.
	flows []string
	// pollInterval of `concord serve`; default 2s.
	pollInterval string
	// invoiceOrders is the Odoo setting invoice_orders; "" leaves the default.
	invoiceOrders string
}

// newWorld sets up a world; everything is torn down when the test ends.
func newWorld(t *testing.T, opts worldOptions) *world {
	t.Helper()
	db := odootest.Clone(t)
	w := &world{t: t, dir: t.TempDir(), db: db}

	cfg := hubspot.DefaultConfig()
	cfg.Token = crmToken
	cfg.SearchDelay = 5 * time.Millisecond
	cfg.RateLimit = -1 // the connector keeps its own budget; the sandbox need not police it
	w.crm = hubspot.New(cfg)
	t.Cleanup(func() { _ = w.crm.Close() })
	hs := httptest.NewServer(w.crm.Handler())
	t.Cleanup(hs.Close)
	require.NoError(t, demo.DefineProperties(w.crm))

	// Secrets are file references, never inline.
	for name, secret := range map[string]string{"hubspot.token": crmToken, "hubspot.secret": "e2e-client-secret", "odoo.password": db.Password} {
		require.NoError(t, os.WriteFile(filepath.Join(w.dir, name), []byte(secret+"\n"), 0o600))
	}
	w.cfg = filepath.Join(w.dir, "concord.yaml")
	require.NoError(t, os.WriteFile(w.cfg, renderConfig(t, hs.URL, db, opts), 0o600))
	out, code := w.concord("validate")
	require.Zero(t, code, "the config validates: %s", out)
	t.Cleanup(func() {
		if t.Failed() {
			w.logFailures()
		}
	})

	odoo, err := odoorpc.New(odoorpc.Config{URL: db.URL, Database: db.Database, Username: "admin", Password: db.AdminPassword,
		Logger: slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	require.NoError(t, err)
	t.Cleanup(func() { _ = odoo.Close(context.Background()) })
	require.NoError(t, odoo.Login(context.Background()))
	w.odoo = odoo
	return w
}

// renderConfig fills testdata/concord.yaml.tmpl for this world, keeping only
// opts.flows when set.
func renderConfig(t *testing.T, crmURL string, db odootest.Env, opts worldOptions) []byte {
	t.Helper()
	tmpl, err := template.ParseFiles(configTemplate)
	require.NoError(t, err)
	if opts.pollInterval == "" {
		opts.pollInterval = "2s"
	}
	var buf bytes.Buffer
	require.NoError(t, tmpl.Execute(&buf, map[string]string{
		"CRMURL": crmURL, "ERPURL": db.URL, "Database": db.Database, "User": db.User,
		"PollInterval": opts.pollInterval, "InvoiceOrders": opts.invoiceOrders,
	}))
	if opts.flows == nil {
		return buf.Bytes()
	}
	var doc map[string]any
	require.NoError(t, yaml.Unmarshal(buf.Bytes(), &doc))
	flows, ok := doc["flows"].([]any)
	require.True(t, ok, "the config has flows")
	var kept []any
	moved := map[string]bool{}
	for _, f := range flows {
		flow, ok := f.(map[string]any)
		require.True(t, ok)
		if name, _ := flow["name"].(string); slices.Contains(opts.flows, name) {
			kept = append(kept, flow)
			for _, k := range []string{"entity", "target_entity"} {
				if e, ok := flow[k].(string); ok {
					moved[e] = true
				}
			}
		}
	}
	require.Len(t, kept, len(opts.flows), "every flow of %v is in the config", opts.flows)
	doc["flows"] = kept
	ents, ok := doc["entities"].(map[string]any)
	require.True(t, ok, "the config has entities")
	for e := range ents {
		if !moved[e] {
			delete(ents, e)
		}
	}
	out, err := yaml.Marshal(doc)
	require.NoError(t, err)
	return out
}

// concord runs the binary with args against this world's config and returns
// its combined output and exit code.
func (w *world) concord(args ...string) (string, int) {
	w.t.Helper()
	cmd := exec.Command(concordBin, append(args, "--config", w.cfg)...)
	cmd.Dir = w.dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return out.String(), exit.ExitCode()
	}
	require.NoError(w.t, err, "run concord %v", args)
	return out.String(), 0
}

// sync runs one `concord sync --once` and returns its output and exit code
// (1 when a change failed).
func (w *world) sync() (string, int) {
	w.t.Helper()
	start := time.Now()
	out, code := w.concord("sync", "--once", "--progress", "off")
	w.t.Logf("sync --once: exit %d in %s\n%s", code, time.Since(start).Round(time.Millisecond), out)
	return out, code
}

// syncOK runs sync --once and requires it to succeed.
func (w *world) syncOK() string {
	w.t.Helper()
	out, code := w.sync()
	require.Zero(w.t, code, "sync --once: %s", out)
	return out
}

// event is one line of `concord events --json`.
type event struct {
	ID        int64           `json:"id"`
	Flow      string          `json:"flow"`
	Entity    string          `json:"entity"`
	Source    string          `json:"source"`
	SourceID  string          `json:"source_id"`
	Target    string          `json:"target"`
	TargetID  string          `json:"target_id"`
	ConcordID string          `json:"concord_id"`
	Outcome   string          `json:"outcome"`
	Error     string          `json:"error"`
	Attempt   int             `json:"attempt"`
	Snapshot  json.RawMessage `json:"snapshot"`
	Plan      json.RawMessage `json:"plan"`
}

// change is one planned field change of an event.
type change struct {
	Field string      `json:"field"`
	From  model.Value `json:"from"`
	To    model.Value `json:"to"`
}

// changes decodes the event's plan.
func (e event) changes(t *testing.T) []change {
	t.Helper()
	var plan struct {
		Changes []change `json:"changes"`
	}
	if len(e.Plan) > 0 {
		require.NoError(t, json.Unmarshal(e.Plan, &plan), "plan of event %d", e.ID)
	}
	return plan.Changes
}

// planField returns the field the event's plan names as the cause of a
// quarantine or failure, "" when none.
func (e event) planField(t *testing.T) string {
	t.Helper()
	var plan struct {
		Field string `json:"field"`
	}
	if len(e.Plan) > 0 {
		require.NoError(t, json.Unmarshal(e.Plan, &plan), "plan of event %d", e.ID)
	}
	return plan.Field
}

// events lists events through `concord events --json`, newest first.
func (w *world) events(args ...string) []event {
	w.t.Helper()
	out, code := w.concordOut(append([]string{"events", "--json", "--limit", "10000"}, args...)...)
	require.Zero(w.t, code, out)
	var evs []event
	require.NoError(w.t, json.Unmarshal([]byte(out), &evs), out)
	return evs
}

// deadLetter is one line of `concord deadletter list --json`.
type deadLetter struct {
	ID         int64
	Flow       string
	Entity     string
	System     string
	ExternalID string
	Reason     string
	Attempts   int
	EventID    int64
}

// deadLetters lists the dead letters through `concord deadletter list --json`.
func (w *world) deadLetters() []deadLetter {
	w.t.Helper()
	out, code := w.concordOut("deadletter", "list", "--json")
	require.Zero(w.t, code, out)
	var dls []deadLetter
	require.NoError(w.t, json.Unmarshal([]byte(out), &dls), out)
	return dls
}

// concordOut is concord with stdout only (logs on stderr go to the test log).
func (w *world) concordOut(args ...string) (string, int) {
	w.t.Helper()
	cmd := exec.Command(concordBin, append(args, "--config", w.cfg)...)
	cmd.Dir = w.dir
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if errOut.Len() > 0 {
		w.t.Logf("concord %v stderr: %s", args, errOut.String())
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return out.String() + errOut.String(), exit.ExitCode()
	}
	require.NoError(w.t, err, "run concord %v", args)
	return out.String(), 0
}

// logFailures logs the failed, dead and retrying events and the dead letters,
// to explain a failed test.
func (w *world) logFailures() {
	for _, status := range []string{"failed", "dead", "retrying", "waiting", "quarantined"} {
		out, _ := w.concordOut("events", "--status", status, "--limit", "50")
		w.t.Logf("events --status %s:\n%s", status, out)
	}
	out, _ := w.concordOut("deadletter", "list")
	w.t.Logf("deadletter list:\n%s", out)
}

// prop returns one property of a sandbox object, "" when unset.
func prop(o hubspot.Object, name string) string {
	if v := o.Properties[name]; v != nil {
		return *v
	}
	return ""
}

// get reads a sandbox object, which must exist.
func (w *world) get(typ, id string) hubspot.Object {
	w.t.Helper()
	o, ok := w.crm.Get(typ, id)
	require.True(w.t, ok, "%s %s exists in the CRM", typ, id)
	return o
}

// put creates a sandbox object as a CRM user would.
func (w *world) put(typ string, props map[string]string) string {
	w.t.Helper()
	o, err := w.crm.Put(typ, props)
	require.NoError(w.t, err, "create %s %v", typ, props)
	return o.ID
}

// update changes a sandbox object as a CRM user would.
func (w *world) update(typ, id string, props map[string]string) {
	w.t.Helper()
	_, err := w.crm.Update(typ, id, props)
	require.NoError(w.t, err, "update %s %s %v", typ, id, props)
}

// company creates a CRM company with an address.
func (w *world) company(name, city, country string) string {
	w.t.Helper()
	return w.put(hubspot.Companies, map[string]string{"name": name, "address": "1 Main Street", "city": city, "zip": "10001", "country": country, "phone": "+1 212 555 0100"})
}

// contact creates a CRM contact of company.
func (w *world) contact(company, first, last, email string) string {
	w.t.Helper()
	id := w.put(hubspot.Contacts, map[string]string{"firstname": first, "lastname": last, "email": email})
	require.NoError(w.t, w.crm.Associate(hubspot.Contacts, id, hubspot.Companies, company))
	return id
}

// lineSpec is one deal line: a CRM product, a quantity, a unit price and a
// discount percentage ("" for none).
type lineSpec struct {
	product, qty, price, discountPct string
}

// deal creates an open deal of company (and its billing contact, unless "")
// with line items and returns its id and the sum of its line items' amounts
// (as the sandbox computes them, exact).
func (w *world) deal(name, company, contact string, lines ...lineSpec) (string, decimal.Decimal) {
	w.t.Helper()
	id := w.put(hubspot.Deals, map[string]string{"dealname": name, "dealstage": hubspot.StageContractSent, "pipeline": "default", "deal_currency_code": "USD"})
	require.NoError(w.t, w.crm.Associate(hubspot.Deals, id, hubspot.Companies, company))
	if contact != "" {
		require.NoError(w.t, w.crm.Associate(hubspot.Deals, id, hubspot.Contacts, contact))
	}
	total := decimal.Zero
	for _, l := range lines {
		props := map[string]string{"hs_product_id": l.product, "quantity": l.qty, "price": l.price}
		if l.discountPct != "" {
			props["hs_discount_percentage"] = l.discountPct
		}
		li := w.put(hubspot.LineItems, props)
		require.NoError(w.t, w.crm.Associate(hubspot.LineItems, li, hubspot.Deals, id))
		amount, err := decimal.NewFromString(prop(w.get(hubspot.LineItems, li), "amount"))
		require.NoError(w.t, err, "line item %s has an amount", li)
		total = total.Add(amount)
	}
	w.update(hubspot.Deals, id, map[string]string{"amount": total.String()})
	return id, total
}

// win moves deals to closed won, as a sales rep would.
func (w *world) win(ids ...string) {
	w.t.Helper()
	for _, id := range ids {
		w.update(hubspot.Deals, id, map[string]string{"dealstage": hubspot.StageClosedWon})
	}
}

// ctx is the context of Odoo calls.
func (w *world) ctx() context.Context { return w.t.Context() }

// product creates a storable product in Odoo, as the catalogue manager would
// (Odoo's defaults apply: the company's sales tax, units), and returns its
// product.product id.
func (w *world) product(sku, name, price string) int64 {
	w.t.Helper()
	vals := odoorpc.Values{"name": name, "list_price": decimal.RequireFromString(price), "detailed_type": "product"}
	if sku != "" {
		vals["default_code"] = sku
	}
	ids, err := w.odoo.Create(w.ctx(), "product.product", []odoorpc.Values{vals}, nil)
	require.NoError(w.t, err)
	require.Len(w.t, ids, 1)
	return ids[0]
}

// setStock sets the quantity on hand of a product in the main warehouse's
// stock location, as an inventory adjustment (stock.quant in inventory mode).
func (w *world) setStock(product int64, qty string) {
	w.t.Helper()
	whs, err := w.odoo.SearchRead(w.ctx(), "stock.warehouse", odoorpc.Domain{odoorpc.Leaf("code", "=", "WH")}, []string{"lot_stock_id"}, odoorpc.SearchOptions{Limit: 1})
	require.NoError(w.t, err)
	require.Len(w.t, whs, 1, "Odoo has its WH warehouse")
	quants, err := w.odoo.Create(w.ctx(), "stock.quant", []odoorpc.Values{{"product_id": product, "location_id": whs[0].Int("lot_stock_id"),
		"inventory_quantity": decimal.RequireFromString(qty)}}, odoorpc.Context{"inventory_mode": true})
	require.NoError(w.t, err)
	_, err = w.odoo.Call(w.ctx(), "stock.quant", "action_apply_inventory", quants, nil)
	require.NoError(w.t, err)
}

// crmProductOf returns the HubSpot product linked to an Odoo product (its erp_id).
func (w *world) crmProductOf(erpID int64) hubspot.Object {
	w.t.Helper()
	var found []hubspot.Object
	for _, o := range w.crm.Objects(hubspot.Products) {
		if prop(o, "erp_id") == itoa(erpID) {
			found = append(found, o)
		}
	}
	require.Len(w.t, found, 1, "one CRM product linked to Odoo product %d", erpID)
	return found[0]
}

// partners returns Odoo's partners (archived ones too) whose ref is ref.
func (w *world) partners(ref string) []odoorpc.Record {
	w.t.Helper()
	recs, err := w.odoo.SearchRead(w.ctx(), "res.partner", odoorpc.Domain{odoorpc.Leaf("ref", "=", ref)},
		[]string{"name", "is_company", "parent_id", "street", "city", "zip", "country_id", "phone", "email", "customer_rank", "active"},
		odoorpc.SearchOptions{Order: "id asc", Context: odoorpc.Context{"active_test": false}})
	require.NoError(w.t, err)
	return recs
}

// onePartner requires exactly one Odoo partner with ref and returns it.
func (w *world) onePartner(ref string) odoorpc.Record {
	w.t.Helper()
	got := w.partners(ref)
	require.Len(w.t, got, 1, "one Odoo partner with ref %s", ref)
	return got[0]
}

// countryCode returns the ISO code of an Odoo country id.
func (w *world) countryCode(id int64) string {
	w.t.Helper()
	if id == 0 {
		return ""
	}
	recs, err := w.odoo.Read(w.ctx(), "res.country", []int64{id}, []string{"code"}, nil)
	require.NoError(w.t, err)
	require.Len(w.t, recs, 1)
	return recs[0].String("code")
}

// tWriter sends log lines to the test log.
type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// itoa formats a record id.
func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// order is an Odoo sale.order as read over JSON-RPC.
type order struct {
	ID             int64
	Name           string
	Ref            string // client_order_ref: the deal id
	State          string
	Partner        int64
	InvoiceAddress int64
	Untaxed, Tax   decimal.Decimal
	Total          decimal.Decimal
	Lines          []orderLine
	Invoices       []int64
}

// orderLine is one line of a sale.order.
type orderLine struct {
	Product   int64
	Quantity  decimal.Decimal
	UnitPrice decimal.Decimal
	Discount  decimal.Decimal // percent
	Subtotal  decimal.Decimal
	PriceTax  decimal.Decimal
	Taxes     []int64
}

// orders returns Odoo's sale orders whose client_order_ref is ref ("" for all), by id.
func (w *world) orders(ref string) []order {
	w.t.Helper()
	dom := odoorpc.Domain{}
	if ref != "" {
		dom = odoorpc.Domain{odoorpc.Leaf("client_order_ref", "=", ref)}
	}
	recs, err := w.odoo.SearchRead(w.ctx(), "sale.order", dom, []string{"name", "client_order_ref", "state", "partner_id", "partner_invoice_id",
		"amount_untaxed", "amount_tax", "amount_total", "order_line", "invoice_ids"}, odoorpc.SearchOptions{Order: "id asc"})
	require.NoError(w.t, err)
	out := make([]order, 0, len(recs))
	for _, r := range recs {
		o := order{ID: r.ID(), Name: r.String("name"), Ref: r.String("client_order_ref"), State: r.String("state"),
			Partner: r.Int("partner_id"), InvoiceAddress: r.Int("partner_invoice_id"), Invoices: r.IDs("invoice_ids")}
		o.Untaxed, _ = r.Decimal("amount_untaxed")
		o.Tax, _ = r.Decimal("amount_tax")
		o.Total, _ = r.Decimal("amount_total")
		if ids := r.IDs("order_line"); len(ids) > 0 {
			lines, err := w.odoo.SearchRead(w.ctx(), "sale.order.line", odoorpc.Domain{odoorpc.Leaf("id", "in", ids), odoorpc.Leaf("display_type", "=", false)},
				[]string{"product_id", "product_uom_qty", "price_unit", "discount", "price_subtotal", "price_tax", "tax_id"}, odoorpc.SearchOptions{Order: "sequence asc, id asc"})
			require.NoError(w.t, err)
			for _, l := range lines {
				ol := orderLine{Product: l.Int("product_id"), Taxes: l.IDs("tax_id")}
				ol.Quantity, _ = l.Decimal("product_uom_qty")
				ol.UnitPrice, _ = l.Decimal("price_unit")
				ol.Discount, _ = l.Decimal("discount")
				ol.Subtotal, _ = l.Decimal("price_subtotal")
				ol.PriceTax, _ = l.Decimal("price_tax")
				o.Lines = append(o.Lines, ol)
			}
		}
		out = append(out, o)
	}
	return out
}

// oneOrder requires exactly one Odoo sale order for the deal and returns it.
func (w *world) oneOrder(deal string) order {
	w.t.Helper()
	got := w.orders(deal)
	require.Len(w.t, got, 1, "one Odoo sale order with client_order_ref %s", deal)
	return got[0]
}

// invoice is an Odoo customer invoice (account.move) as read over JSON-RPC.
type invoice struct {
	ID           int64
	Name         string
	State        string // draft, posted, cancel
	PaymentState string
	Total        decimal.Decimal
	Residual     decimal.Decimal
}

// invoice reads one account.move.
func (w *world) invoice(id int64) invoice {
	w.t.Helper()
	recs, err := w.odoo.Read(w.ctx(), "account.move", []int64{id}, []string{"name", "state", "payment_state", "amount_total", "amount_residual"}, nil)
	require.NoError(w.t, err)
	require.Len(w.t, recs, 1, "invoice %d", id)
	inv := invoice{ID: id, Name: recs[0].String("name"), State: recs[0].String("state"), PaymentState: recs[0].String("payment_state")}
	inv.Total, _ = recs[0].Decimal("amount_total")
	inv.Residual, _ = recs[0].Decimal("amount_residual")
	return inv
}

// postInvoice posts a draft invoice, as the accountant would.
func (w *world) postInvoice(id int64) {
	w.t.Helper()
	_, err := w.odoo.Call(w.ctx(), "account.move", "action_post", []int64{id}, nil)
	require.NoError(w.t, err, "post invoice %d", id)
}

// payInvoice registers the full payment of a posted invoice through Odoo's
// account.payment.register wizard, as the accountant would.
func (w *world) payInvoice(id int64) {
	w.t.Helper()
	actx := odoorpc.ActiveContext("account.move", id)
	wiz, err := w.odoo.Create(w.ctx(), "account.payment.register", []odoorpc.Values{{}}, actx)
	require.NoError(w.t, err, "payment wizard for invoice %d", id)
	_, err = w.odoo.Call(w.ctx(), "account.payment.register", "action_create_payments", wiz, actx)
	require.NoError(w.t, err, "register the payment of invoice %d", id)
}

// lineNet is a deal line's untaxed amount as Odoo computes it: quantity x unit
// price less the discount, rounded to cents.
func lineNet(l lineSpec) decimal.Decimal {
	net := decimal.RequireFromString(l.qty).Mul(decimal.RequireFromString(l.price))
	if l.discountPct != "" {
		net = net.Mul(decimal.NewFromInt(100).Sub(decimal.RequireFromString(l.discountPct))).Div(decimal.NewFromInt(100))
	}
	return net.Round(2)
}

package e2e

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
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/tryton"
	"github.com/concord-sync/concord/internal/connector/tryton/trytonrpc"
	"github.com/concord-sync/concord/internal/connector/tryton/trytontest"
	"github.com/concord-sync/concord/internal/demo"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/sandbox/hubspot"
)

// exampleConfig is the shipped HubSpot <-> Tryton config every test derives its own from.
const exampleConfig = "../../examples/hubspot-tryton/concord.yaml"

const crmToken = "pat-e2e-0000"

// world is one test's two systems and Concord between them: the HubSpot
// sandbox (driven in-process, served over HTTP), a Tryton database cloned for
// the test (seeded and inspected through the Tryton connector and its RPC
// client), and a directory with concord.yaml, the secret files and the store.
type world struct {
	t   *testing.T
	dir string
	cfg string
	crm *hubspot.Server
	erp *tryton.Conn
	db  trytontest.Env
}

// newWorld sets up a world; everything is torn down when the test ends.
func newWorld(t *testing.T) *world {
	t.Helper()
	db := trytontest.Clone(t)
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
	for name, secret := range map[string]string{"hubspot.token": crmToken, "hubspot.secret": "e2e-client-secret", "tryton.password": db.Password} {
		require.NoError(t, os.WriteFile(filepath.Join(w.dir, name), []byte(secret+"\n"), 0o600))
	}
	w.cfg = filepath.Join(w.dir, "concord.yaml")
	require.NoError(t, os.WriteFile(w.cfg, deriveConfig(t, hs.URL, db), 0o600))
	out, code := w.concord("validate")
	require.Zero(t, code, "the derived config validates: %s", out)
	t.Cleanup(func() {
		if t.Failed() {
			w.logFailures()
		}
	})

	log := slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	erp, err := tryton.Open(context.Background(), tryton.Settings{URL: db.URL, Database: db.Database, Username: db.User, Password: db.Password}, log)
	require.NoError(t, err)
	t.Cleanup(func() { _ = erp.Close(context.Background()) })
	w.erp = erp
	return w
}

// deriveConfig rewrites the example config for this world: the CRM is the
// sandbox, the ERP the clone, secrets are files next to the config, retries
// are fast. Flows, fields and ownership stay as shipped.
func deriveConfig(t *testing.T, crmURL string, db trytontest.Env) []byte {
	t.Helper()
	raw, err := os.ReadFile(exampleConfig)
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, yaml.Unmarshal(raw, &doc))
	doc["store"] = map[string]any{"driver": "sqlite", "path": "concord.db"}
	syncCfg, ok := doc["sync"].(map[string]any)
	require.True(t, ok, "the example has a sync section")
	syncCfg["retry"] = map[string]any{"max_attempts": 3, "backoff": "50ms", "max_backoff": "200ms"}
	systems, ok := doc["systems"].([]any)
	require.True(t, ok, "the example has systems")
	seen := 0
	for _, s := range systems {
		sys, ok := s.(map[string]any)
		require.True(t, ok)
		set, ok := sys["settings"].(map[string]any)
		require.True(t, ok)
		switch sys["name"] {
		case "crm":
			set["base_url"] = crmURL
			set["token"] = "file:hubspot.token"
			set["webhook_secret"] = "file:hubspot.secret"
			// The example's 150 per 10 s, per second: the sandbox has no other
			// apps and the tests have no ten seconds to spare.
			set["rate_interval"] = "1s"
			seen++
		case "erp":
			set["url"] = db.URL
			set["database"] = db.Database
			set["username"] = db.User
			set["password"] = "file:tryton.password"
			seen++
		}
	}
	require.Equal(t, 2, seen, "the example's systems are named crm and erp")
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

// company creates a CRM company with an address.
func (w *world) company(name, city, country string) string {
	w.t.Helper()
	return w.put(hubspot.Companies, map[string]string{"name": name, "address": "1 Main Street", "city": city, "zip": "10001", "country": country, "phone": "+1 212 555 0100"})
}

// lineSpec is one deal line: a CRM product, a quantity, a unit price and a
// discount percentage ("" for none).
type lineSpec struct {
	product, qty, price, discountPct string
}

// deal creates an open deal of company with line items and returns its id and
// the sum of its line items' amounts (as the sandbox computes them, exact).
func (w *world) deal(name, company string, lines ...lineSpec) (string, decimal.Decimal) {
	w.t.Helper()
	id := w.put(hubspot.Deals, map[string]string{"dealname": name, "dealstage": hubspot.StageContractSent, "pipeline": "default", "deal_currency_code": "USD"})
	require.NoError(w.t, w.crm.Associate(hubspot.Deals, id, hubspot.Companies, company))
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
	_, err := w.crm.Update(hubspot.Deals, id, map[string]string{"amount": total.String()})
	require.NoError(w.t, err)
	return id, total
}

// win moves deals to closed won, as a sales rep would.
func (w *world) win(ids ...string) {
	w.t.Helper()
	for _, id := range ids {
		_, err := w.crm.Update(hubspot.Deals, id, map[string]string{"dealstage": hubspot.StageClosedWon})
		require.NoError(w.t, err)
	}
}

// rpc is the Tryton JSON-RPC client of the clone.
func (w *world) rpc() *trytonrpc.Client { return w.erp.Client() }

// product creates a product in Tryton, as the ERP's catalogue manager would,
// and returns its Tryton id.
func (w *world) product(sku, name, price string) string {
	w.t.Helper()
	res, err := w.erp.Write(context.Background(), model.Product, []connector.Op{{Kind: connector.OpCreate, Fields: model.Fields{
		"sku": model.Text(sku), "name": model.Text(name), "list_price": model.Money(decimal.RequireFromString(price), "USD"),
	}}})
	require.NoError(w.t, err)
	require.NoError(w.t, res[0].Err)
	return res[0].ID
}

// crmProductOf returns the HubSpot product linked to a Tryton product (its erp_id).
func (w *world) crmProductOf(erpID string) hubspot.Object {
	w.t.Helper()
	for _, o := range w.crm.Objects(hubspot.Products) {
		if prop(o, "erp_id") == erpID {
			return o
		}
	}
	require.FailNow(w.t, "no CRM product linked to tryton product "+erpID)
	return hubspot.Object{}
}

// sale is a Tryton sale as read over RPC.
type sale struct {
	ID        int64
	Reference string
	State     string
	Number    string
	Party     int64
	Untaxed   decimal.Decimal
	Lines     []saleLine
	Invoices  []int64
}

// saleLine is one line of a Tryton sale.
type saleLine struct {
	Product   int64
	Quantity  decimal.Decimal
	UnitPrice decimal.Decimal
	Amount    decimal.Decimal
}

// sales returns the Tryton sales whose reference is ref ("" for all).
func (w *world) sales(ref string) []sale {
	w.t.Helper()
	ctx := context.Background()
	dom := trytonrpc.Domain{}
	if ref != "" {
		dom = trytonrpc.Domain{trytonrpc.Leaf("reference", "=", ref)}
	}
	recs, err := w.rpc().SearchRead(ctx, "sale.sale", dom, []string{"reference", "state", "number", "party", "untaxed_amount", "lines", "invoices"}, trytonrpc.SearchOptions{Order: []trytonrpc.Order{{Field: "id"}}})
	require.NoError(w.t, err)
	out := make([]sale, 0, len(recs))
	for _, r := range recs {
		s := sale{ID: r.ID(), Reference: r.String("reference"), State: r.String("state"), Number: r.String("number"), Party: r.Int("party"), Invoices: r.IDs("invoices")}
		s.Untaxed, _ = r.Decimal("untaxed_amount")
		if ids := r.IDs("lines"); len(ids) > 0 {
			lines, err := w.rpc().Read(ctx, "sale.line", ids, []string{"product", "quantity", "unit_price", "amount"}, nil)
			require.NoError(w.t, err)
			for _, l := range lines {
				sl := saleLine{Product: l.Int("product")}
				sl.Quantity, _ = l.Decimal("quantity")
				sl.UnitPrice, _ = l.Decimal("unit_price")
				sl.Amount, _ = l.Decimal("amount")
				s.Lines = append(s.Lines, sl)
			}
		}
		out = append(out, s)
	}
	return out
}

// oneSale requires exactly one Tryton sale with reference ref and returns it.
func (w *world) oneSale(ref string) sale {
	w.t.Helper()
	got := w.sales(ref)
	require.Len(w.t, got, 1, "one tryton sale with reference %s", ref)
	return got[0]
}

// id parses a decimal record id.
func id(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	require.NoError(t, err, "id %q", s)
	return n
}

// tWriter sends log lines to the test log.
type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// itoa formats a record id.
func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// logFailures logs the failed, dead and retrying events and the dead letters,
// to explain a failed test.
func (w *world) logFailures() {
	for _, status := range []string{"failed", "dead", "retrying"} {
		out, _ := w.concordOut("events", "--status", status, "--limit", "50")
		w.t.Logf("events --status %s:\n%s", status, out)
	}
	out, _ := w.concordOut("deadletter", "list")
	w.t.Logf("deadletter list:\n%s", out)
	if failed := w.events("--status", "failed", "--limit", "1"); len(failed) > 0 {
		w.t.Logf("newest failed event %d: plan %s", failed[0].ID, failed[0].Plan)
	}
}

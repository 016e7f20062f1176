package e2esalesforce

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
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
	"github.com/concord-sync/concord/internal/model"
	sandbox "github.com/concord-sync/concord/internal/sandbox/salesforce"
)

const exampleConfig = "../../examples/salesforce-tryton/concord.yaml"

// erpFields are the custom fields the example asks the Salesforce admin for.
var erpFields = map[string][]sandbox.CustomField{
	"Account":     {{Name: "ERP_Open_Balance__c", Type: "Currency", Scale: 2}},
	"Product2":    {{Name: "ERP_Stock__c", Type: "Number", Scale: 2}},
	"Opportunity": {{Name: "ERP_Invoice_Number__c", Type: "Text", Length: 80}, {Name: "ERP_Invoice_State__c", Type: "Text", Length: 40}, {Name: "ERP_Amount_Due__c", Type: "Currency", Scale: 2}, {Name: "ERP_Paid_Date__c", Type: "Date"}, {Name: "ERP_Overdue__c", Type: "Checkbox"}, {Name: "ERP_Sync_Status__c", Type: "LongTextArea"}},
}

// world is the Salesforce sandbox, the ERP (a Tryton clone in erp, or an
// Odoo clone, see odoo_test.go) and a directory with the config derived from
// a shipped example.
type world struct {
	t   *testing.T
	dir string
	cfg string
	crm *sandbox.Server
	erp *tryton.Conn
}

func newWorld(t *testing.T) *world {
	t.Helper()
	db := trytontest.Clone(t)
	w, crmURL := newCRM(t)
	w.writeConfig(exampleConfig, crmURL, db.Password, map[string]any{
		"url": db.URL, "database": db.Database, "username": db.User, "password": "file:erp.password"})

	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	erp, err := tryton.Open(context.Background(), tryton.Settings{URL: db.URL, Database: db.Database, Username: db.User, Password: db.Password}, log)
	require.NoError(t, err)
	t.Cleanup(func() { _ = erp.Close(context.Background()) })
	w.erp = erp
	return w
}

// newCRM starts the Salesforce sandbox, with the custom fields the examples
// ask for, and returns a world without config or ERP, and the sandbox's URL.
func newCRM(t *testing.T) (*world, string) {
	t.Helper()
	w := &world{t: t, dir: t.TempDir()}
	w.crm = sandbox.New(sandbox.Config{ClientID: "concord-e2e", ClientSecret: "e2e-secret"})
	srv := httptest.NewServer(w.crm.Handler())
	t.Cleanup(srv.Close)
	for obj, fields := range erpFields {
		for _, f := range fields {
			require.NoError(t, w.crm.DefineField(obj, f))
		}
	}
	return w, srv.URL
}

// writeConfig derives the world's config from a shipped example and checks
// that it validates: the CRM is the sandbox at crmURL, the ERP's settings are
// overridden by erp (its password read from the file erp.password, which holds
// erpPassword), the store is SQLite, retries are fast. Flows, fields and
// ownership stay as shipped.
func (w *world) writeConfig(example, crmURL, erpPassword string, erp map[string]any) {
	t := w.t
	t.Helper()
	for name, secret := range map[string]string{"sf.secret": "e2e-secret", "erp.password": erpPassword} {
		require.NoError(t, os.WriteFile(filepath.Join(w.dir, name), []byte(secret+"\n"), 0o600))
	}
	raw, err := os.ReadFile(example)
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, yaml.Unmarshal(raw, &doc))
	doc["store"] = map[string]any{"driver": "sqlite", "path": "concord.db"}
	doc["sync"].(map[string]any)["retry"] = map[string]any{"max_attempts": 3, "backoff": "50ms", "max_backoff": "200ms"}
	for _, s := range doc["systems"].([]any) {
		sys := s.(map[string]any)
		set := sys["settings"].(map[string]any)
		switch sys["name"] {
		case "crm":
			set["login_url"], set["client_id"], set["client_secret"] = crmURL, "concord-e2e", "file:sf.secret"
		case "erp":
			maps.Copy(set, erp)
		}
	}
	out, err := yaml.Marshal(doc)
	require.NoError(t, err)
	w.cfg = filepath.Join(w.dir, "concord.yaml")
	require.NoError(t, os.WriteFile(w.cfg, out, 0o600))
	o, code := w.concord("validate")
	require.Zero(t, code, "the derived config validates: %s", o)
}

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

func (w *world) syncOK() {
	w.t.Helper()
	start := time.Now()
	out, code := w.concord("sync", "--once", "--progress", "off")
	w.t.Logf("sync --once: exit %d in %s\n%s", code, time.Since(start).Round(time.Millisecond), out)
	require.Zero(w.t, code, "sync --once: %s", out)
}

func (w *world) one(soql string) map[string]any {
	w.t.Helper()
	recs, err := w.crm.Query(soql, false)
	require.NoError(w.t, err)
	require.Len(w.t, recs, 1, soql)
	return recs[0]
}

func (w *world) create(object string, fields map[string]any) string {
	w.t.Helper()
	id, err := w.crm.Create(object, fields)
	require.NoError(w.t, err, "create %s", object)
	return id
}

type saleLine struct {
	product   int64
	qty, unit decimal.Decimal
}

type sale struct {
	id       int64
	state    string
	party    int64
	invoices []int64
	lines    []saleLine
}

func (w *world) sales(ref string) []sale {
	w.t.Helper()
	ctx := context.Background()
	rpc := w.erp.Client()
	dom := trytonrpc.Domain{}
	if ref != "" {
		dom = trytonrpc.Domain{trytonrpc.Leaf("reference", "=", ref)}
	}
	recs, err := rpc.SearchRead(ctx, "sale.sale", dom, []string{"state", "party", "lines", "invoices"}, trytonrpc.SearchOptions{Order: []trytonrpc.Order{{Field: "id"}}})
	require.NoError(w.t, err)
	var out []sale
	for _, r := range recs {
		s := sale{id: r.ID(), state: r.String("state"), party: r.Int("party"), invoices: r.IDs("invoices")}
		if ids := r.IDs("lines"); len(ids) > 0 {
			lines, err := rpc.Read(ctx, "sale.line", ids, []string{"product", "quantity", "unit_price"}, nil)
			require.NoError(w.t, err)
			for _, l := range lines {
				sl := saleLine{product: l.Int("product")}
				sl.qty, _ = l.Decimal("quantity")
				sl.unit, _ = l.Decimal("unit_price")
				s.lines = append(s.lines, sl)
			}
		}
		out = append(out, s)
	}
	return out
}

// TestIntegrationWonOpportunity: Tryton's catalogue reaches Salesforce as
// Product2 records with standard prices; an Opportunity won in Salesforce
// becomes one confirmed, invoiced Tryton sale with its line items, sold to
// its Account (pulled into Tryton with it); its ERP_Sync_Status__c says so;
// a second run hands nothing over again; an open Opportunity stays put; the
// invoice, once paid in Tryton, shows as paid on the Opportunity.
func TestIntegrationWonOpportunity(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	erpProducts := map[string]string{}
	for _, p := range []struct{ sku, name, price string }{{"WID-1", "Widget", "25"}, {"GAD-1", "Gadget", "40"}} {
		res, err := w.erp.Write(ctx, model.Product, []connector.Op{{Kind: connector.OpCreate, Fields: model.Fields{
			"sku": model.Text(p.sku), "name": model.Text(p.name), "list_price": model.Money(decimal.RequireFromString(p.price), "USD"),
		}}})
		require.NoError(t, err)
		require.NoError(t, res[0].Err)
		erpProducts[p.sku] = res[0].ID
	}
	w.syncOK()

	entryOf := map[string]string{}
	for sku, erpID := range erpProducts {
		p := w.one("SELECT Id, ProductCode, Name FROM Product2 WHERE Concord_Id__c = '" + erpID + "'")
		require.Equal(t, sku, p["ProductCode"], "the Salesforce product is the ERP's, linked by Concord_Id__c")
		e := w.one("SELECT Id, UnitPrice, IsActive FROM PricebookEntry WHERE Product2Id = '" + p["Id"].(string) + "'")
		require.Equal(t, true, e["IsActive"])
		entryOf[sku] = e["Id"].(string)
	}
	require.Equal(t, json.Number("40"), w.one("SELECT UnitPrice FROM PricebookEntry WHERE Id = '" + entryOf["GAD-1"] + "'")["UnitPrice"])

	acc := w.create("Account", map[string]any{"Name": "Acme Corp", "BillingStreet": "1 Main Street", "BillingCity": "New York",
		"BillingPostalCode": "10001", "BillingCountry": "US", "Phone": "+1 212 555 0100"})
	ct := w.create("Contact", map[string]any{"FirstName": "Wile", "LastName": "Coyote", "Email": "wile@acme.example", "AccountId": acc})
	opp := w.create("Opportunity", map[string]any{"Name": "Acme - rollout", "StageName": "Negotiation/Review", "CloseDate": "2026-03-31", "AccountId": acc, "ContactId": ct})
	w.create("OpportunityLineItem", map[string]any{"OpportunityId": opp, "PricebookEntryId": entryOf["WID-1"], "Quantity": 3, "UnitPrice": 25})
	w.create("OpportunityLineItem", map[string]any{"OpportunityId": opp, "PricebookEntryId": entryOf["GAD-1"], "Quantity": 2, "UnitPrice": 40, "Discount": 25})
	open := w.create("Opportunity", map[string]any{"Name": "Acme - maybe", "StageName": "Qualification", "CloseDate": "2026-06-30", "AccountId": acc})
	w.create("OpportunityLineItem", map[string]any{"OpportunityId": open, "PricebookEntryId": entryOf["WID-1"], "Quantity": 1, "UnitPrice": 25})
	require.NoError(t, w.crm.Update("Opportunity", opp, map[string]any{"StageName": "Closed Won"}))
	w.syncOK()

	require.Empty(t, w.sales(open), "an open opportunity is not handed over")
	got := w.sales(opp)
	require.Len(t, got, 1, "one sale per won opportunity")
	s := got[0]
	require.Equal(t, "processing", s.state, "quoted and confirmed")
	require.Len(t, s.invoices, 1, "Tryton issued the invoice")
	require.Len(t, s.lines, 2)
	require.Equal(t, erpProducts["WID-1"], strconv.FormatInt(s.lines[0].product, 10), "the linked product")
	require.True(t, decimal.NewFromInt(3).Equal(s.lines[0].qty))
	require.True(t, decimal.NewFromInt(30).Equal(s.lines[1].unit), "40 less 25%% = 30, Tryton has %s", s.lines[1].unit)
	out, code := w.concord("events", "--json", "--flow", "customers", "--source-id", acc, "--status", "created")
	require.Zero(t, code, out)
	var created []struct {
		TargetID string `json:"target_id"`
	}
	require.NoError(t, json.Unmarshal([]byte(out[strings.Index(out, "["):]), &created), out)
	require.Len(t, created, 1, "the Account is created once in Tryton")
	require.Equal(t, strconv.FormatInt(s.party, 10), created[0].TargetID, "sold to the opportunity's Account")

	status := w.one("SELECT ERP_Sync_Status__c FROM Opportunity WHERE Id = '" + opp + "'")["ERP_Sync_Status__c"].(string)
	require.True(t, strings.HasPrefix(status, "synced to erp order "+strconv.FormatInt(s.id, 10)+" "), "status %q", status)

	w.syncOK()
	require.Len(t, w.sales(""), 1, "a second run hands nothing over")

	// Accounting posts and pays the invoice: the opportunity shows it.
	require.NoError(t, trytontest.PostInvoice(ctx, w.erp.Client(), s.invoices[0]))
	require.NoError(t, trytontest.PayInvoice(ctx, w.erp.Client(), s.invoices[0], "Cash"))
	w.syncOK()
	paid := w.one("SELECT ERP_Invoice_Number__c, ERP_Invoice_State__c, ERP_Amount_Due__c, ERP_Paid_Date__c FROM Opportunity WHERE Id = '" + opp + "'")
	require.Equal(t, "paid", paid["ERP_Invoice_State__c"], "%v", paid)
	require.NotEmpty(t, paid["ERP_Invoice_Number__c"])
	require.NotNil(t, paid["ERP_Paid_Date__c"])
	require.True(t, decimal.Zero.Equal(decimal.RequireFromString(string(paid["ERP_Amount_Due__c"].(json.Number)))), "nothing left to pay: %v", paid)
}

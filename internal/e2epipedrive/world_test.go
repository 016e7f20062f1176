package e2epipedrive

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"maps"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/pipedrive/pipedrivehttp"
	"github.com/concord-sync/concord/internal/connector/tryton"
	"github.com/concord-sync/concord/internal/connector/tryton/trytonrpc"
	"github.com/concord-sync/concord/internal/connector/tryton/trytontest"
	"github.com/concord-sync/concord/internal/model"
	sandbox "github.com/concord-sync/concord/internal/sandbox/pipedrive"
)

const (
	exampleConfig = "../../examples/pipedrive-tryton/concord.yaml"
	crmToken      = "pd-e2e-token"
)

// exampleFields are the custom fields the example's header asks for.
var exampleFields = map[string][]sandbox.CustomField{
	sandbox.Organizations: {{Name: "Customer number (ERP)", FieldType: "varchar"}, {Name: "Open balance (ERP)", FieldType: "monetary"}},
	sandbox.Products: {{Name: "Stock (ERP)", FieldType: "double"},
		{Name: "Active (ERP)", FieldType: "enum", Options: []sandbox.Option{{Label: "Yes"}, {Label: "No"}}}},
	sandbox.Deals: {{Name: "Invoice number (ERP)", FieldType: "varchar"}, {Name: "Invoice state (ERP)", FieldType: "varchar"},
		{Name: "Amount due (ERP)", FieldType: "monetary"}, {Name: "Paid on (ERP)", FieldType: "date"},
		{Name: "Overdue (ERP)", FieldType: "enum", Options: []sandbox.Option{{Label: "Yes"}, {Label: "No"}}},
		{Name: "ERP sync status", FieldType: "text"}},
}

// world is the Pipedrive sandbox (with the documented rate limits), the ERP
// (a cloned Tryton database in erp, or an Odoo clone, see odoo_test.go), and
// a directory with the config derived from a shipped example.
type world struct {
	t    *testing.T
	dir  string
	cfg  string
	crm  *sandbox.Server
	api  *pipedrivehttp.Client
	keys map[string]string // custom field name -> key, per kind "kind/name"
	erp  *tryton.Conn
}

func newWorld(t *testing.T) *world {
	t.Helper()
	db := trytontest.Clone(t)
	w, crmURL := newCRM(t)
	w.writeConfig(exampleConfig, crmURL, db.Password, map[string]any{
		"url": db.URL, "database": db.Database, "username": db.User, "password": "file:erp.password"})
	log := slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	erp, err := tryton.Open(context.Background(), tryton.Settings{URL: db.URL, Database: db.Database, Username: db.User, Password: db.Password}, log)
	require.NoError(t, err)
	t.Cleanup(func() { _ = erp.Close(context.Background()) })
	w.erp = erp
	return w
}

// newCRM starts the Pipedrive sandbox (with the documented rate limits and
// the custom fields the examples ask for) and returns a world without config
// or ERP, and the sandbox's URL.
func newCRM(t *testing.T) (*world, string) {
	t.Helper()
	w := &world{t: t, dir: t.TempDir(), keys: map[string]string{}}
	cfg := sandbox.DefaultConfig()
	cfg.Token = crmToken
	w.crm = sandbox.New(cfg)
	t.Cleanup(func() { _ = w.crm.Close() })
	srv := httptest.NewServer(w.crm.Handler())
	t.Cleanup(srv.Close)
	for kind, fs := range exampleFields {
		for _, f := range fs {
			nf, err := w.crm.DefineField(kind, f)
			require.NoError(t, err)
			w.keys[kind+"/"+f.Name] = nf.Key
		}
	}
	api, err := pipedrivehttp.New(pipedrivehttp.Config{BaseURL: srv.URL, Token: crmToken, Limiter: pipedrivehttp.NewLimiter(20, 2*time.Second)})
	require.NoError(t, err)
	w.api = api
	return w, srv.URL
}

// writeConfig derives the world's config from a shipped example and checks
// that it validates: the CRM is the sandbox at crmURL, the ERP's settings are
// overridden by erp (its password read from the file erp.password, which
// holds erpPassword), secrets are files, the store is SQLite, retries are
// fast. Flows, fields and ownership stay as shipped.
func (w *world) writeConfig(example, crmURL, erpPassword string, erp map[string]any) {
	t := w.t
	t.Helper()
	for name, secret := range map[string]string{"pipedrive.token": crmToken, "pipedrive.webhook": "e2e-hook", "erp.password": erpPassword} {
		require.NoError(t, os.WriteFile(filepath.Join(w.dir, name), []byte(secret+"\n"), 0o600))
	}
	w.cfg = filepath.Join(w.dir, "concord.yaml")
	require.NoError(t, os.WriteFile(w.cfg, deriveConfig(t, example, crmURL, erp), 0o600))
	out, code := w.concord("validate")
	require.Zero(t, code, "the derived config validates: %s", out)
	t.Cleanup(func() {
		if t.Failed() {
			for _, status := range []string{"failed", "dead", "retrying", "waiting"} {
				out, _ := w.concord("events", "--status", status, "--limit", "20")
				t.Logf("events --status %s:\n%s", status, out)
			}
		}
	})
}

// deriveConfig rewrites a shipped example for a world: the CRM is the
// sandbox, the ERP's settings are overridden by erp, secrets are files,
// retries fast. Flows, fields and ownership stay as shipped.
func deriveConfig(t *testing.T, example, crmURL string, erp map[string]any) []byte {
	t.Helper()
	raw, err := os.ReadFile(example)
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, yaml.Unmarshal(raw, &doc))
	doc["store"] = map[string]any{"driver": "sqlite", "path": "concord.db"}
	syncCfg := doc["sync"].(map[string]any)
	syncCfg["retry"] = map[string]any{"max_attempts": 3, "backoff": "50ms", "max_backoff": "200ms"}
	seen := 0
	for _, s := range doc["systems"].([]any) {
		sys := s.(map[string]any)
		set := sys["settings"].(map[string]any)
		switch sys["name"] {
		case "crm":
			set["base_url"] = crmURL
			set["api_token"] = "file:pipedrive.token"
			set["webhook_password"] = "file:pipedrive.webhook"
			seen++
		case "erp":
			maps.Copy(set, erp)
			seen++
		}
	}
	require.Equal(t, 2, seen)
	out, err := yaml.Marshal(doc)
	require.NoError(t, err)
	return out
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

// create makes a Pipedrive object as a sales rep would, and returns its id.
func (w *world) create(kind string, body map[string]any) string {
	w.t.Helper()
	o, err := w.api.Create(context.Background(), kind, body)
	require.NoError(w.t, err, "create %s %v", kind, body)
	return o.ID()
}

func (w *world) get(kind, id string) pipedrivehttp.Object {
	w.t.Helper()
	o, err := w.api.Get(context.Background(), kind, id)
	require.NoError(w.t, err)
	return o
}

// custom returns a custom field's value of o, by field name.
func (w *world) custom(kind string, o pipedrivehttp.Object, name string) any {
	w.t.Helper()
	key := w.keys[kind+"/"+name]
	require.NotEmpty(w.t, key, "custom field %s/%s", kind, name)
	cf, _ := o["custom_fields"].(map[string]any)
	return cf[key]
}

// linkKey returns the value of the link field Concord created on o.
func (w *world) linkKey(singular string, o pipedrivehttp.Object) string {
	w.t.Helper()
	fs, err := w.api.Fields(context.Background(), singular)
	require.NoError(w.t, err)
	for _, f := range fs {
		if f.Name == "Concord link" {
			cf, _ := o["custom_fields"].(map[string]any)
			return pipedrivehttp.Str(cf[f.Key])
		}
	}
	require.FailNow(w.t, "no link field on "+singular)
	return ""
}

// product creates a Tryton product and returns its id.
func (w *world) product(sku, name, price string) string {
	w.t.Helper()
	res, err := w.erp.Write(context.Background(), model.Product, []connector.Op{{Kind: connector.OpCreate, Fields: model.Fields{
		"sku": model.Text(sku), "name": model.Text(name), "list_price": model.Money(decimal.RequireFromString(price), "USD"),
	}}})
	require.NoError(w.t, err)
	require.NoError(w.t, res[0].Err)
	return res[0].ID
}

// sale is a Tryton sale as read over RPC.
type sale struct {
	ID       int64
	State    string
	Party    int64
	Lines    []saleLine
	Invoices []int64
}

type saleLine struct {
	Product   int64
	Quantity  decimal.Decimal
	UnitPrice decimal.Decimal
}

// sales returns the Tryton sales with reference ref ("" for all).
func (w *world) sales(ref string) []sale {
	w.t.Helper()
	ctx := context.Background()
	rpc := w.erp.Client()
	dom := trytonrpc.Domain{}
	if ref != "" {
		dom = trytonrpc.Domain{trytonrpc.Leaf("reference", "=", ref)}
	}
	recs, err := rpc.SearchRead(ctx, "sale.sale", dom, []string{"reference", "state", "party", "lines", "invoices"}, trytonrpc.SearchOptions{Order: []trytonrpc.Order{{Field: "id"}}})
	require.NoError(w.t, err)
	var out []sale
	for _, r := range recs {
		s := sale{ID: r.ID(), State: r.String("state"), Party: r.Int("party"), Invoices: r.IDs("invoices")}
		if ids := r.IDs("lines"); len(ids) > 0 {
			lines, err := rpc.Read(ctx, "sale.line", ids, []string{"product", "quantity", "unit_price"}, nil)
			require.NoError(w.t, err)
			for _, l := range lines {
				sl := saleLine{Product: l.Int("product")}
				sl.Quantity, _ = l.Decimal("quantity")
				sl.UnitPrice, _ = l.Decimal("unit_price")
				s.Lines = append(s.Lines, sl)
			}
		}
		out = append(out, s)
	}
	return out
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

package console_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/concord-sync/concord/internal/config"
	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/memory"
	"github.com/concord-sync/concord/internal/console"
	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
	"github.com/concord-sync/concord/internal/store/sqlitestore"
)

// The test world: a real SQLite store and engine between two in-memory
// systems, one flow (customers, crm -> erp: name, email, country), and a
// worker that applies what the engine queues, as serve's workers do.

const (
	alicePassword  = "alice-password-1"
	viewerPassword = "victor-password-1"
	operatorToken  = "operator-token-0123456789abcdef0123456789"
	viewerToken    = "viewer-token-0123456789abcdef0123456789ab"
	// secretSetting is a system setting the console must never show.
	secretSetting = "s3cr3t-erp-password"
)

type world struct {
	t        testing.TB
	ctx      context.Context
	st       store.Store
	crm, erp *memory.Conn
	eng      *engine.Engine
	q        *workQueue
	cfg      *config.Config
	con      *console.Console
	srv      *httptest.Server
}

// workQueue hands the engine's batches to a worker that processes them.
type workQueue struct {
	mu      sync.Mutex
	batches []engine.Batch
	wake    chan struct{}
}

func (q *workQueue) EnqueueTx(_ context.Context, _ store.Tx, bs []engine.Batch, _ time.Time) error {
	q.mu.Lock()
	q.batches = append(q.batches, bs...)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return nil
}

func (q *workQueue) take() []engine.Batch {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.batches
	q.batches = nil
	return out
}

func hash(t testing.TB, pw string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	require.NoError(t, err)
	return string(h)
}

func accountDefs(fields ...string) map[string]model.FieldDef {
	defs := map[string]model.FieldDef{}
	for _, f := range fields {
		d, _ := model.LookupField(model.Account, f)
		defs[f] = d
	}
	return defs
}

func newWorld(t *testing.T) *world {
	t.Helper()
	st, err := sqlitestore.Open(t.Context(), t.TempDir()+"/concord.db", nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return newWorldOn(t, st)
}

// newWorldOn builds the world on a store.
func newWorldOn(t testing.TB, st store.Store) *world {
	t.Helper()
	ctx := t.Context()
	var err error
	w := &world{t: t, ctx: ctx, st: st, crm: memory.New("crm", model.Entities...), erp: memory.New("erp", model.Entities...),
		q: &workQueue{wake: make(chan struct{}, 1)}}
	owners := map[string]string{"name": "crm", "email": "crm", "country": "crm", "credit_limit": "erp"}
	leg := engine.Leg{Name: "customers", Flow: "customers", Source: "crm", Target: "erp", Entity: model.Account,
		Fields: []string{"name", "email", "country"}, Trigger: engine.TriggerChange, Owners: owners,
		Defs:  accountDefs("name", "email", "country"),
		Clean: map[string][]string{"name": {"trim"}, "email": {"trim", "email"}}, Required: map[string]bool{"name": true}}
	w.eng, err = engine.New(engine.Params{Store: st, Connectors: map[string]connector.Connector{"crm": w.crm, "erp": w.erp},
		Legs: []engine.Leg{leg}, ConfigVersion: "cfg1", Queue: w.q, BatchSize: 50,
		Retry: engine.RetryPolicy{MaxAttempts: 1, Backoff: time.Millisecond, MaxBackoff: time.Millisecond}})
	require.NoError(t, err)

	w.cfg = &config.Config{Owner: "ops@example.com", Version: "cfg1",
		Systems: []config.System{{Name: "crm", Connector: "memory"}, {Name: "erp", Connector: "memory", Settings: map[string]any{"password": secretSetting}}},
		Entities: map[model.Entity]*config.Entity{model.Account: {Name: model.Account, Fields: map[string]*config.Field{
			"name": {Name: "name", Owner: "crm", Required: true}, "email": {Name: "email", Owner: "crm"},
			"country": {Name: "country", Owner: "crm"}, "credit_limit": {Name: "credit_limit", Owner: "erp"}}}},
		Flows: []config.Flow{{Name: "customers", Source: "crm", Target: "erp", Entity: model.Account, Fields: []string{"name", "email", "country"}}},
		Console: config.Console{SessionTTL: time.Hour, SecureCookie: true, Users: []config.ConsoleUser{
			{Name: "alice", Role: config.RoleOperator, PasswordHash: hash(t, alicePassword), Token: operatorToken},
			{Name: "victor", Role: config.RoleViewer, PasswordHash: hash(t, viewerPassword), Token: viewerToken},
		}},
	}
	w.con, err = console.New(console.Options{Config: w.cfg, Store: st, Engine: w.eng, Log: slog.New(slog.DiscardHandler),
		RecordURL: func(system string, e model.Entity, id string) string {
			if system == "erp" {
				return "https://erp.example.com/" + string(e) + "/" + id
			}
			return ""
		}})
	require.NoError(t, err)
	mux := http.NewServeMux()
	w.con.Register(mux)
	w.srv = httptest.NewTLSServer(mux)
	t.Cleanup(w.srv.Close)
	return w
}

// work applies queued batches until ctx ends, as serve's workers do.
func (w *world) work(ctx context.Context) {
	for {
		for _, b := range w.q.take() {
			if _, err := w.eng.Process(ctx, b, engine.ProcessOptions{}); err != nil && ctx.Err() == nil {
				w.t.Logf("process: %v", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-w.q.wake:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// sync polls the flow until drained and applies everything queued.
func (w *world) sync() {
	w.t.Helper()
	for {
		res, err := w.eng.Poll(w.ctx, "customers")
		require.NoError(w.t, err)
		if res.Done {
			break
		}
	}
	w.drain()
}

func (w *world) drain() {
	w.t.Helper()
	for bs := w.q.take(); len(bs) > 0; bs = w.q.take() {
		for _, b := range bs {
			_, err := w.eng.Process(w.ctx, b, engine.ProcessOptions{})
			require.NoError(w.t, err)
		}
	}
}

// seed puts four customers in the CRM: two that sync, one with an e-mail
// the clean rule refuses (quarantined), and one the ERP refuses (a dead
// letter: its country is refused by the ERP).
func (w *world) seed() {
	w.t.Helper()
	put := func(id, name, email, country string) {
		w.crm.Put(model.Record{Entity: model.Account, ID: id, Fields: model.Fields{"name": model.Text(name), "email": model.Text(email), "country": model.Text(country)}})
	}
	put("c1", "Alfreds Futterkiste", "maria@alfreds.example", "DE")
	put("c2", "Ana Trujillo", "ana@trujillo.example", "MX")
	put("c3", "Antonio Moreno", "not an e-mail", "MX")
	put("c4", "Around the Horn", "thomas@horn.example", "Atlantis")
	w.erp.SetFailFunc(func(op connector.Op) error {
		if c := op.Fields["country"]; c.Str == "Atlantis" {
			return connector.Permanent("country", errors.New(`country "Atlantis" is not a country the ERP knows`))
		}
		return nil
	})
	w.sync()
}

// client is a browser-like client with a cookie jar, signed in as name.
func (w *world) client(name, password string) *http.Client {
	w.t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(w.t, err)
	c := w.anon()
	c.Jar = jar
	resp, err := c.PostForm(w.srv.URL+"/console/login", url.Values{"name": {name}, "password": {password}, "next": {"/console/"}})
	require.NoError(w.t, err)
	resp.Body.Close()
	require.Equal(w.t, http.StatusSeeOther, resp.StatusCode, "sign-in of %s", name)
	return c
}

// anon is a client of the test server that follows no redirect and keeps
// no cookie.
func (w *world) anon() *http.Client {
	c := *w.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// get fetches a path and returns the status and body.
func get(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := c.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	var b strings.Builder
	_, err = io.Copy(&b, resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b.String()
}

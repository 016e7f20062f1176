package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector/tryton/trytonrpc"
	"github.com/concord-sync/concord/internal/connector/tryton/trytontest"
	"github.com/concord-sync/concord/internal/sandbox/hubspot"
)

// faultHandler answers the first failFirst requests, and the first
// failMatching requests whose body contains match, with a fault, and passes
// every other request to next.
type faultHandler struct {
	next         http.Handler
	fault        string // "502", "429", "reset", "401"
	failFirst    int
	match        string
	failMatching int

	mu       sync.Mutex
	seen     int
	matched  int
	injected int
}

func (f *faultHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	f.mu.Lock()
	f.seen++
	fail := f.seen <= f.failFirst
	if !fail && f.match != "" && (strings.Contains(r.URL.Path, f.match) || bytes.Contains(body, []byte(f.match))) {
		f.matched++
		fail = f.matched <= f.failMatching
	}
	if fail {
		f.injected++
	}
	f.mu.Unlock()
	if !fail {
		f.next.ServeHTTP(w, r)
		return
	}
	switch f.fault {
	case "reset":
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			panic(err)
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // RST, not FIN
		}
		_ = conn.Close()
	case "429":
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, `{"status":"error","message":"You have reached your secondly limit.","category":"RATE_LIMITS","policyName":"SECONDLY"}`)
	case "401":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"status":"error","message":"Authentication credentials not found.","category":"INVALID_AUTHENTICATION"}`)
	default:
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, "<html><body>502 Bad Gateway</body></html>")
	}
}

func (f *faultHandler) counts() (seen, injected int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.seen, f.injected
}

const transientConfig = `version: 1
owner: test@example.com
store: {driver: sqlite, path: concord.db}
systems:
  - name: crm
    connector: hubspot
    settings:
      base_url: %[1]s
      token: file:token
      currency: USD
      create_link_property: true
      entities:
        account: {fields: {name: name, city: city}}
  - name: erp
    connector: sql
    settings:
      driver: sqlite
      path: erp.db
      entities:
        account:
          table: customers
          id: id
          id_kind: auto
          updated_at: updated_at
          link: crm_id
          fields: {name: company, city: town}
entities:
  account:
    fields:
      name: {owner: crm, required: true}
      city: {owner: crm}
flows:
  - {name: customers, source: crm, target: erp, entity: account, fields: [name, city]}
`

// lineOf returns the 1-based line of text that starts with prefix (after
// indentation).
func lineOf(t *testing.T, text, prefix string) int {
	t.Helper()
	for i, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), prefix) {
			return i + 1
		}
	}
	t.Fatalf("no line %q", prefix)
	return 0
}

// hubspotBehindFaults starts the HubSpot sandbox with three companies behind
// f, writes the config and the ERP into a new directory and returns it.
func hubspotBehindFaults(t *testing.T, f *faultHandler) (dir, cfgPath string) {
	t.Helper()
	cfg := hubspot.DefaultConfig()
	cfg.Token = "pat-test"
	cfg.SearchDelay = 10 * time.Millisecond
	crm := hubspot.New(cfg)
	t.Cleanup(func() { _ = crm.Close() })
	for _, name := range []string{"Alfreds Futterkiste", "Berglunds snabbköp", "Wilman Kala"} {
		_, err := crm.Put("companies", map[string]string{"name": name, "city": "Berlin"})
		require.NoError(t, err)
	}
	f.next = crm.Handler()
	hs := httptest.NewServer(f)
	t.Cleanup(hs.Close)
	time.Sleep(3 * cfg.SearchDelay) // the search index shows the companies

	dir = t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "token"), []byte("pat-test\n"), 0o600))
	cfgPath = filepath.Join(dir, "concord.yaml")
	require.NoError(t, os.WriteFile(cfgPath, fmt.Appendf(nil, transientConfig, hs.URL), 0o644))
	erp := openSQLite(t, filepath.Join(dir, "erp.db"))
	_, err := erp.Exec(`CREATE TABLE customers (id INTEGER PRIMARY KEY AUTOINCREMENT, company TEXT, town TEXT, crm_id TEXT UNIQUE, updated_at TEXT NOT NULL)`)
	require.NoError(t, err)
	return dir, cfgPath
}

// runBinary runs the built concord with args and returns stdout, stderr and
// the exit code.
func runBinary(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(buildBinary(t), args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out.String(), errOut.String(), ee.ExitCode()
	}
	require.NoError(t, err)
	return out.String(), errOut.String(), 0
}

// TestSync_TransientErrors runs the real binary against a CRM that fails
// transiently (502, 429 with Retry-After, connection resets) on more requests
// in a row than the HubSpot client's own retries cover, first while the system
// is opened and again while it is polled: sync --once retries with backoff,
// logs each retry naming the system, and ends with every company in the ERP.
func TestSync_TransientErrors(t *testing.T) {
	t.Parallel()
	for _, fault := range []string{"502", "429", "reset"} {
		t.Run(fault, func(t *testing.T) {
			t.Parallel()
			// The client tries a call 6 times: 7 faults in a row reach the command.
			f := &faultHandler{fault: fault, failFirst: 7, match: "/search", failMatching: 7}
			dir, cfgPath := hubspotBehindFaults(t, f)
			stdout, stderr, code := runBinary(t, "sync", "--once", "--progress", "off", "--config", cfgPath, "--log-level", "warn")
			require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
			_, injected := f.counts()
			require.GreaterOrEqual(t, injected, 14, "the faults were served")
			require.Regexp(t, `msg="system failed transiently, retrying" op=open attempt=1 .*system=crm`, stderr)
			require.Regexp(t, `msg="system failed transiently, retrying" op=poll attempt=1 .*system=crm flow=customers`, stderr)
			require.Contains(t, stderr, `msg="system answered again" op=open`)
			require.NotContains(t, stderr, "context canceled")

			var n, distinct int
			erp := openSQLite(t, filepath.Join(dir, "erp.db"))
			require.NoError(t, erp.QueryRow(`SELECT count(*), count(DISTINCT crm_id) FROM customers`).Scan(&n, &distinct))
			require.Equal(t, 3, n, "every company reached the ERP: %s", stdout)
			require.Equal(t, 3, distinct)
		})
	}
}

// TestSync_PermanentErrors: refused credentials stop sync --once at once, with
// no retry, naming the system's line in the config file; so does a source table
// that does not exist, naming the flow's line.
func TestSync_PermanentErrors(t *testing.T) {
	t.Parallel()

	t.Run("ErrUnauthorized", func(t *testing.T) {
		t.Parallel()
		f := &faultHandler{fault: "401", failFirst: 1 << 30}
		_, cfgPath := hubspotBehindFaults(t, f)
		buildBinary(t) // not part of the time measured
		start := time.Now()
		stdout, stderr, code := runBinary(t, "sync", "--once", "--progress", "off", "--config", cfgPath)
		require.Equal(t, exitRuntime, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
		require.Less(t, time.Since(start), 10*time.Second, "no retry of refused credentials")
		line := lineOf(t, transientConfig, "- name: crm")
		require.Contains(t, stderr, fmt.Sprintf("concord: %s:%d: open system crm (hubspot): ", cfgPath, line))
		require.Contains(t, stderr, "401")
		require.NotContains(t, stderr, "retrying")
		seen, _ := f.counts()
		require.Equal(t, 1, seen, "one request, no retry")
	})

	t.Run("ErrUnknownTable", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		cfgPath := filepath.Join(dir, "concord.yaml")
		require.NoError(t, os.WriteFile(cfgPath, []byte(killConfig), 0o644))
		crm := openSQLite(t, filepath.Join(dir, "crm.db"))
		_, err := crm.Exec(`CREATE TABLE unrelated (id INTEGER PRIMARY KEY)`) // the accounts table is missing
		require.NoError(t, err)
		erp := openSQLite(t, filepath.Join(dir, "erp.db"))
		_, err = erp.Exec(`CREATE TABLE customers (id INTEGER PRIMARY KEY AUTOINCREMENT, company TEXT, mail TEXT, town TEXT, crm_id TEXT, updated_at TEXT NOT NULL)`)
		require.NoError(t, err)
		out, code := run(t, "sync", "--once", "--progress", "off", "--config", cfgPath)
		require.Equal(t, exitRuntime, code, out)
		require.Contains(t, out, fmt.Sprintf("%s:%d: flow customers: ", cfgPath, lineOf(t, killConfig, "- {name: customers")))
		require.Contains(t, out, "no such table")
	})
}

const trytonTransientConfig = `version: 1
owner: test@example.com
store: {driver: sqlite, path: concord.db}
systems:
  - name: crm
    connector: sql
    settings:
      driver: sqlite
      path: crm.db
      entities:
        product:
          table: products
          id: id
          id_kind: auto
          updated_at: updated_at
          link: erp_id
          fields: {sku: sku, name: name}
  - name: erp
    connector: tryton
    settings:
      url: %[1]s
      database: %[2]s
      username: %[3]s
      password: file:tryton.password
entities:
  product:
    fields:
      sku:  {owner: erp, required: true}
      name: {owner: erp}
flows:
  - {name: products, source: erp, target: crm, entity: product, fields: [sku, name]}
`

// trytonDir writes the Tryton config pointing at url and the CRM database.
func trytonDir(t *testing.T, url, database, user, password string) (dir, cfgPath string) {
	t.Helper()
	dir = t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tryton.password"), []byte(password+"\n"), 0o600))
	cfgPath = filepath.Join(dir, "concord.yaml")
	require.NoError(t, os.WriteFile(cfgPath, fmt.Appendf(nil, trytonTransientConfig, url, database, user), 0o644))
	crm := openSQLite(t, filepath.Join(dir, "crm.db"))
	_, err := crm.Exec(`CREATE TABLE products (id INTEGER PRIMARY KEY AUTOINCREMENT, sku TEXT, name TEXT, erp_id TEXT UNIQUE, updated_at TEXT NOT NULL)`)
	require.NoError(t, err)
	return dir, cfgPath
}

// TestSync_TrytonUnauthorized: a Tryton (a tiny JSON-RPC server) that refuses
// the login stops sync --once at once, naming the system's config line.
func TestSync_TrytonUnauthorized(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		w.WriteHeader(http.StatusUnauthorized)
	}))
	t.Cleanup(srv.Close)
	_, cfgPath := trytonDir(t, srv.URL, "concord", "concord", "wrong")
	buildBinary(t) // the first test to need the binary builds it: not part of the time measured
	start := time.Now()
	stdout, stderr, code := runBinary(t, "sync", "--once", "--progress", "off", "--config", cfgPath)
	require.Equal(t, exitRuntime, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	require.Less(t, time.Since(start), 10*time.Second)
	line := lineOf(t, trytonTransientConfig, "- name: erp")
	require.Contains(t, stderr, fmt.Sprintf("concord: %s:%d: open system erp (tryton): ", cfgPath, line))
	require.Contains(t, stderr, "401")
	require.NotContains(t, stderr, "retrying")
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, 1, calls, "one login, no retry")
}

// TestIntegrationSync_TrytonTransient puts a proxy answering 502 (then resetting
// connections) in front of the real Tryton, first for its login and again for
// the product poll, more often in a row than the client's own retries: sync
// --once retries, names the system, and ends with exit 0 and Tryton's products
// in the CRM.
func TestIntegrationSync_TrytonTransient(t *testing.T) {
	t.Parallel()
	env := trytontest.Clone(t)
	target, err := url.Parse(env.URL)
	require.NoError(t, err)
	// 5 in a row: one more than the Tryton client's own 4 tries of a read, so
	// that the command's retry is reached.
	f := &faultHandler{fault: "502", failFirst: 5, match: `"model.product.product.search_read"`, failMatching: 5}
	f.next = httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(f)
	t.Cleanup(proxy.Close)
	dir, cfgPath := trytonDir(t, proxy.URL, env.Database, env.User, env.Password)

	stdout, stderr, code := runBinary(t, "sync", "--once", "--progress", "off", "--config", cfgPath)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	_, injected := f.counts()
	require.Equal(t, 10, injected)
	require.Regexp(t, `msg="system failed transiently, retrying" op=open attempt=1 .*system=erp`, stderr)
	require.Regexp(t, `msg="system failed transiently, retrying" op=poll attempt=1 .*system=erp flow=products`, stderr)

	rpc, err := trytonrpc.New(trytonrpc.Config{URL: env.URL, Database: env.Database, Username: env.User, Password: env.Password})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rpc.Close(context.Background()) })
	ids, err := rpc.Search(context.Background(), "product.product", nil, trytonrpc.SearchOptions{})
	require.NoError(t, err)
	var n int
	crm := openSQLite(t, filepath.Join(dir, "crm.db"))
	require.NoError(t, crm.QueryRow(`SELECT count(*) FROM products`).Scan(&n))
	require.Equal(t, len(ids), n, "every Tryton product reached the CRM: %s", stdout)
	t.Logf("%d products synced through %d injected faults", n, injected)
}

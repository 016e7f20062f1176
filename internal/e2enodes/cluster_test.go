package e2enodes

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/sandbox/hubspot"
	"github.com/concord-sync/concord/internal/store/storetest"
)

const crmToken = "pat-nodes-0000"

// cluster is one test's world: an ERP database and a store database, both
// fresh on the PostgreSQL server of TEST_DATABASE_URL, the HubSpot sandbox
// in this process, a config, and the serve nodes.
type cluster struct {
	t        testing.TB
	dir      string
	cfg      string
	storeDSN string
	erp      *sql.DB
	store    *sql.DB
	crm      *hubspot.Server
	nodes    []*node
}

// node is one concord serve process.
type node struct {
	name string
	addr string
	log  string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// clusterConfig is the config every node runs: the ERP's products into the
// CRM, with the CRM's rate budget shared by the nodes.
const clusterConfig = `version: 1
owner: ops@example.com
store:
  driver: postgres
  dsn: env:CONCORD_DATABASE_URL
sync:
  poll_interval: 1s
  partitions: %d
  retry: {max_attempts: 8, backoff: 200ms, max_backoff: 2s}
systems:
  - name: crm
    connector: hubspot
    settings:
      base_url: %s
      token: env:HUBSPOT_TOKEN
      currency: USD
      create_link_property: true
      rate_limit: %d
      entities:
        product:
          object: products
          fields: {name: name, list_price: price}
  - name: erp
    connector: sql
    settings:
      driver: postgres
      dsn: %s
      entities:
        product:
          table: products
          id: product_id
          updated_at: updated_at
          link: crm_id
          fields: {name: product_name, list_price: {column: unit_price, currency: USD}}
entities:
  product:
    fields:
      name: {owner: erp, required: true}
      list_price: {owner: erp}
flows:
  - name: products
    source: erp
    target: crm
    entity: product
    unlinked: create
    fields: [name, list_price]
`

// clusterOpts shape a cluster.
type clusterOpts struct {
	// products are in the ERP from the start.
	products int
	// budget is the CRM's requests per 10 s, in the sandbox and in the
	// config; 0: the sandbox has none, the config a large one.
	budget int
	// latency is added to every CRM request (HubSpot answers in about 0.1 to
	// 0.3 s; the sandbox at once).
	latency time.Duration
	// partitions is sync.partitions; 0 means 1.
	partitions int
}

// newCluster sets up the databases (the ERP with its products rows), the
// sandbox and the config; no node runs.
func newCluster(t testing.TB, o clusterOpts) *cluster {
	t.Helper()
	base := storetest.PostgresURL(t)
	c := &cluster{t: t, dir: t.TempDir()}
	c.storeDSN = freshDatabase(t, base, "concord_nodes_store")
	erpDSN := freshDatabase(t, base, "concord_nodes_erp")
	var err error
	c.erp, err = sql.Open("pgx", erpDSN)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.erp.Close() })
	c.store, err = sql.Open("pgx", c.storeDSN)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.store.Close() })
	_, err = c.erp.Exec(`CREATE TABLE products (
  product_id   SERIAL PRIMARY KEY,
  product_name TEXT NOT NULL,
  unit_price   NUMERIC(12,2) NOT NULL,
  updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
  crm_id       TEXT UNIQUE)`)
	require.NoError(t, err)
	_, err = c.erp.Exec(`INSERT INTO products (product_name, unit_price)
SELECT 'Product ' || lpad(i::text, 5, '0'), 10 + i % 90 FROM generate_series(1, $1) i`, o.products)
	require.NoError(t, err)

	cfg := hubspot.DefaultConfig()
	cfg.Token = crmToken
	cfg.RateLimit, cfg.SearchRateLimit = o.budget, -1
	budget := o.budget
	if budget == 0 {
		cfg.RateLimit, budget = -1, 100000
	}
	cfg.SearchDelay = 5 * time.Millisecond
	c.crm = hubspot.New(cfg)
	t.Cleanup(func() { _ = c.crm.Close() })
	h := c.crm.Handler()
	if o.latency > 0 {
		inner := h
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(o.latency)
			inner.ServeHTTP(w, r)
		})
	}
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)

	c.cfg = filepath.Join(c.dir, "concord.yaml")
	require.NoError(t, os.WriteFile(c.cfg, fmt.Appendf(nil, clusterConfig, max(o.partitions, 1), hs.URL, budget, erpDSN), 0o600))
	t.Cleanup(func() {
		for _, n := range c.nodes {
			if n.cmd != nil && n.running() {
				_ = n.cmd.Process.Kill()
				<-n.done
			}
		}
		if t.Failed() {
			for _, n := range c.nodes {
				raw, _ := os.ReadFile(n.log)
				t.Logf("--- %s log (last 6000 bytes):\n%s", n.name, tail(string(raw), 6000))
			}
		}
	})
	return c
}

// freshDatabase creates an empty database <prefix>_<random> on the server of
// base, drops it when t ends, and returns its URL.
func freshDatabase(t testing.TB, base, prefix string) string {
	t.Helper()
	var raw [6]byte
	_, err := rand.Read(raw[:])
	require.NoError(t, err)
	name := prefix + "_" + hex.EncodeToString(raw[:])
	admin, err := sql.Open("pgx", base)
	require.NoError(t, err)
	_, err = admin.Exec("CREATE DATABASE " + name)
	require.NoError(t, err, "create database")
	t.Cleanup(func() {
		_, err := admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		_ = admin.Close()
		require.NoError(t, err, "drop database")
	})
	u, err := url.Parse(base)
	require.NoError(t, err, "TEST_DATABASE_URL must be a postgres:// URL")
	u.Path = "/" + name
	return u.String()
}

// addNode makes a node slot with its own port; start runs it.
func (c *cluster) addNode() *node {
	c.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(c.t, err)
	addr := ln.Addr().String()
	require.NoError(c.t, ln.Close())
	n := &node{name: fmt.Sprintf("node%d", len(c.nodes)+1), addr: addr}
	n.log = filepath.Join(c.dir, n.name+".log")
	c.nodes = append(c.nodes, n)
	return n
}

// start runs concord serve for n (again, after a stop or a kill).
func (c *cluster) start(n *node) {
	c.t.Helper()
	f, err := os.OpenFile(n.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	require.NoError(c.t, err)
	n.cmd = exec.Command(concordBin, "serve", "--config", c.cfg, "--addr", n.addr)
	n.cmd.Dir = c.dir
	n.cmd.Env = append(os.Environ(), "CONCORD_DATABASE_URL="+c.storeDSN, "HUBSPOT_TOKEN="+crmToken)
	n.cmd.Stdout, n.cmd.Stderr = f, f
	require.NoError(c.t, n.cmd.Start())
	n.done = make(chan struct{})
	go func() {
		n.err = n.cmd.Wait()
		_ = f.Close()
		close(n.done)
	}()
}

func (n *node) running() bool {
	select {
	case <-n.done:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (n *node) kill(t testing.TB) {
	t.Helper()
	require.NoError(t, n.cmd.Process.Signal(syscall.SIGKILL))
	<-n.done
}

// stop sends SIGTERM and requires a clean exit within the grace period.
func (n *node) stop(t testing.TB) {
	t.Helper()
	require.NoError(t, n.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-n.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not stop within 60 s of SIGTERM", n.name)
	}
	require.NoError(t, n.err, "%s exits 0 on SIGTERM", n.name)
}

// ready waits until every running node answers /readyz with 200.
func (c *cluster) ready(timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for _, n := range c.nodes {
		if !n.running() {
			continue
		}
		for {
			resp, err := http.Get("http://" + n.addr + "/readyz")
			if err == nil {
				_ = resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			require.True(c.t, n.running(), "%s exited before it was ready: %v", n.name, n.err)
			require.True(c.t, time.Now().Before(deadline), "%s not ready within %s", n.name, timeout)
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// stats is the part of GET /stats these tests read.
type stats struct {
	Node   string `json:"node"`
	Leases []struct {
		Name    string `json:"name"`
		Holder  string `json:"holder"`
		Expired bool   `json:"expired"`
	} `json:"leases"`
}

func (n *node) stats() (stats, error) {
	var s stats
	resp, err := http.Get("http://" + n.addr + "/stats")
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("stats: %s", resp.Status)
	}
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

// holder returns the node running under the lease name now (a live holder
// of a lease not expired), or nil.
func (c *cluster) holder(name string) *node {
	names := map[string]*node{}
	var leases stats
	for _, n := range c.nodes {
		if !n.running() {
			continue
		}
		s, err := n.stats()
		if err != nil {
			continue
		}
		names[s.Node] = n
		leases = s
	}
	for _, l := range leases.Leases {
		if l.Name == name && !l.Expired {
			return names[l.Holder] // nil when the holder is not a running node
		}
	}
	return nil
}

// crmCount returns how many products the CRM holds.
func (c *cluster) crmCount() int { return len(c.crm.Objects("products")) }

// verdict compares the CRM's products with the ERP's, counted in the two
// systems: duplicates are ERP ids with more than one CRM product (or CRM
// products without one), lost are ERP products missing in the CRM, stale are
// those whose name or price differs.
type verdict struct {
	erp, crm, duplicates, lost, stale int
	example                           string
}

func (c *cluster) verdict() verdict {
	c.t.Helper()
	rows, err := c.erp.Query(`SELECT product_id::text, product_name, unit_price::text FROM products`)
	require.NoError(c.t, err)
	want := map[string][2]string{}
	for rows.Next() {
		var id, name, price string
		require.NoError(c.t, rows.Scan(&id, &name, &price))
		want[id] = [2]string{name, price}
	}
	require.NoError(c.t, rows.Err())
	rows.Close()
	v := verdict{erp: len(want)}
	seen := map[string]int{}
	for _, o := range c.crm.Objects("products") {
		v.crm++
		id := prop(o, "erp_id")
		seen[id]++
		if id == "" || seen[id] == 2 {
			v.duplicates++
			continue
		}
		w, ok := want[id]
		if !ok {
			v.duplicates++ // a product the ERP does not have
			continue
		}
		if prop(o, "name") != w[0] || !samePrice(prop(o, "price"), w[1]) {
			v.stale++
			v.example = fmt.Sprintf("erp %s: %q %s, crm %q %s", id, w[0], w[1], prop(o, "name"), prop(o, "price"))
		}
	}
	for id := range want {
		if seen[id] == 0 {
			v.lost++
		}
	}
	return v
}

func prop(o hubspot.Object, name string) string {
	if p := o.Properties[name]; p != nil {
		return *p
	}
	return ""
}

// samePrice compares "12" with "12.00".
func samePrice(a, b string) bool {
	trim := func(s string) string {
		if strings.Contains(s, ".") {
			s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
		}
		return s
	}
	return trim(a) == trim(b)
}

// openDeadLetters counts the store's open dead letters.
func (c *cluster) openDeadLetters() int {
	var n int
	require.NoError(c.t, c.store.QueryRow(`SELECT count(*) FROM concord_dead_letter WHERE resolved_at IS NULL`).Scan(&n))
	return n
}

// converge waits until the CRM matches the ERP, and returns the verdict.
func (c *cluster) converge(ctx context.Context) verdict {
	c.t.Helper()
	for {
		v := c.verdict()
		if v.lost == 0 && v.stale == 0 && v.crm == v.erp {
			return v
		}
		select {
		case <-ctx.Done():
			return v
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

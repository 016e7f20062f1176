package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/sandbox/hubspot"
)

// prometheusBin is Debian's Prometheus (apt-get install prometheus; .ci/run
// installs it).
const prometheusBin = "/usr/bin/prometheus"

// TestServe_MetricsPrometheus scrapes a running serve with a real Prometheus
// and evaluates every query of the Grafana dashboard (docs/grafana/concord.json)
// through Prometheus's HTTP API: each must return at least one series, so a
// typo in a metric or label name, or a panel for a metric serve does not
// export, fails here. The traffic: companies created in the HubSpot sandbox,
// synced to a SQLite ERP by the first poll and by signed webhooks, and one
// forged webhook.
func TestServe_MetricsPrometheus(t *testing.T) {
	t.Parallel()
	bin := prometheusBin
	if _, err := os.Stat(bin); err != nil {
		if p, lerr := exec.LookPath("prometheus"); lerr == nil {
			bin = p
		} else if os.Getenv("CI") == "true" {
			t.Fatalf("prometheus is not installed (%s): .ci/run installs Debian's prometheus package", prometheusBin)
		} else {
			t.Skipf("prometheus is not installed (%s): apt-get install prometheus to run this test", prometheusBin)
		}
	}
	dir := t.TempDir()
	serveAddr := freeAddr(t)

	cfg := hubspot.DefaultConfig()
	cfg.Token = "pat-test"
	cfg.SearchDelay = 10 * time.Millisecond
	cfg.Webhook.URL = "http://" + serveAddr + "/webhooks/crm"
	cfg.Webhook.ClientSecret = "client-secret"
	cfg.Webhook.AppID = 7
	crm := hubspot.New(cfg)
	t.Cleanup(func() { _ = crm.Close() })
	hs := httptest.NewServer(crm.Handler())
	t.Cleanup(hs.Close)
	for _, name := range []string{"Alfreds Futterkiste", "Berglunds snabbköp", "Wilman Kala"} { // read by the first poll
		_, err := crm.Put("companies", map[string]string{"name": name, "city": "Helsinki"})
		require.NoError(t, err)
	}
	_, err := crm.Subscribe("company.creation", "")
	require.NoError(t, err)

	require.NoError(t, os.WriteFile(filepath.Join(dir, "token"), []byte("pat-test\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "secret"), []byte("client-secret\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "concord.yaml"), fmt.Appendf(nil, hubspotConfig, hs.URL, "http://"+serveAddr), 0o644))
	erp := openSQLite(t, filepath.Join(dir, "erp.db"))
	_, err = erp.Exec(`CREATE TABLE customers (id INTEGER PRIMARY KEY AUTOINCREMENT, company TEXT, town TEXT, crm_id TEXT UNIQUE, updated_at TEXT NOT NULL)`)
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		cmd := newRootCmd()
		cmd.SetArgs([]string{"serve", "--config", filepath.Join(dir, "concord.yaml"), "--addr", serveAddr})
		done <- cmd.ExecuteContext(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	customers := func() int {
		var n int
		_ = erp.QueryRow(`SELECT count(*) FROM customers`).Scan(&n)
		return n
	}
	require.Eventually(t, func() bool { return customers() == 3 }, 20*time.Second, 20*time.Millisecond, "the first poll synced the companies")
	_, err = crm.Put("companies", map[string]string{"name": "Around the Horn", "city": "London"}) // through a webhook
	require.NoError(t, err)
	require.Eventually(t, func() bool { return customers() == 4 }, 20*time.Second, 20*time.Millisecond, "the webhook's company synced")
	req, err := http.NewRequest(http.MethodPost, "http://"+serveAddr+"/webhooks/crm", strings.NewReader(`[{"eventId":1,"objectId":1,"subscriptionType":"company.creation"}]`))
	require.NoError(t, err)
	req.Header.Set("X-HubSpot-Signature-v3", "Zm9yZ2Vk")
	req.Header.Set("X-HubSpot-Request-Timestamp", fmt.Sprint(time.Now().UnixMilli()))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	prom := startPrometheus(t, bin, serveAddr)
	// Enough scrapes for rate() over the dashboard's window.
	require.Eventually(t, func() bool {
		r, err := prom.query(`count_over_time(up{job="concord"}[30s]) >= 4 and up{job="concord"} == 1`)
		return err == nil && len(r) == 1
	}, 60*time.Second, 250*time.Millisecond, "prometheus scrapes serve's /metrics: %s", prom.out)

	// Every query of the dashboard returns series.
	queries, vars := dashboardQueries(t, "../../docs/grafana/concord.json")
	require.GreaterOrEqual(t, len(queries), 15)
	byClause := regexp.MustCompile(`by \(([^)]*)\)`)
	for _, q := range queries {
		r, err := prom.query(q)
		require.NoError(t, err, "dashboard query %s", q)
		require.NotEmpty(t, r, "dashboard query returns nothing: %s", q)
		// The labels it groups by exist (a typo there would group everything
		// under one empty value).
		for _, m := range byClause.FindAllStringSubmatch(q, -1) {
			for l := range strings.SplitSeq(m[1], ",") {
				if l = strings.TrimSpace(l); l == "le" {
					continue
				}
				for _, s := range r {
					require.NotEmpty(t, s.Metric[l], "dashboard query %s: no label %s in %v", q, l, s.Metric)
				}
			}
		}
	}
	for _, v := range vars {
		m := regexp.MustCompile(`^label_values\((\w+),\s*(\w+)\)$`).FindStringSubmatch(v)
		require.NotNil(t, m, "variable query %s", v)
		values, err := prom.labelValues(m[2], m[1])
		require.NoError(t, err)
		require.Contains(t, values, "customers", "variable %s", v)
	}

	// The traffic shows.
	value := func(q string) float64 {
		r, err := prom.query(q)
		require.NoError(t, err, q)
		require.Len(t, r, 1, q)
		var f float64
		_, err = fmt.Sscan(r[0].Value[1].(string), &f)
		require.NoError(t, err)
		return f
	}
	require.InDelta(t, 4, value(`sum(concord_records_processed_total{flow="customers",direction="forward",outcome="created"})`), 0)
	require.GreaterOrEqual(t, value(`sum(concord_records_read_total{flow="customers",system="crm"})`), 3.0)
	require.InDelta(t, 1, value(`sum(concord_webhook_deliveries_total{system="crm",result="forged"})`), 0)
	require.GreaterOrEqual(t, value(`sum(concord_webhook_deliveries_total{system="crm",result="accepted"})`), 1.0)
	require.GreaterOrEqual(t, value(`sum(concord_write_duration_seconds_count{flow="customers",system="erp"})`), 2.0)
	require.InDelta(t, 1, value(`count(concord_build_info{goversion=~"go.+"})`), 0)
}

// freeAddr returns a free local TCP address.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// syncBuffer is a bytes.Buffer safe for a process's output and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type promServer struct {
	base string
	out  *syncBuffer
}

type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// startPrometheus runs Prometheus in its own temp dir on a free port,
// scraping target's /metrics every second; it is stopped when the test ends.
func startPrometheus(t *testing.T, bin, target string) *promServer {
	t.Helper()
	dir := t.TempDir()
	conf := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: concord
    metrics_path: /metrics
    static_configs:
      - targets: [%q]
`, target)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(conf), 0o644))
	addr := freeAddr(t)
	out := &syncBuffer{}
	cmd := exec.Command(bin,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--log.level=warn",
	)
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus output:\n%s", out)
		}
	})
	return &promServer{base: "http://" + addr, out: out}
}

// query evaluates an instant PromQL query now.
func (p *promServer) query(q string) ([]promSample, error) {
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string       `json:"resultType"`
			Result     []promSample `json:"result"`
		} `json:"data"`
	}
	if err := p.get("/api/v1/query?query="+url.QueryEscape(q), &r); err != nil {
		return nil, err
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("query %s: %s", q, r.Error)
	}
	return r.Data.Result, nil
}

// labelValues returns the values of label among the series of metric.
func (p *promServer) labelValues(label, metric string) ([]string, error) {
	var r struct {
		Status string   `json:"status"`
		Data   []string `json:"data"`
	}
	err := p.get("/api/v1/label/"+label+"/values?match[]="+url.QueryEscape(metric), &r)
	return r.Data, err
}

func (p *promServer) get(path string, v any) error {
	resp, err := http.Get(p.base + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("GET %s: status %d: %w", path, resp.StatusCode, err)
	}
	return nil
}

// dashboardQueries returns the PromQL of every panel target of a Grafana
// dashboard, with its variables set as a user would ($flow: the customers
// flow, so that a misspelt flow label finds nothing; $__rate_interval: 30s),
// and its query variables.
func dashboardQueries(t *testing.T, path string) (queries, vars []string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	type target struct {
		Expr string `json:"expr"`
	}
	type panel struct {
		Title   string   `json:"title"`
		Type    string   `json:"type"`
		Targets []target `json:"targets"`
		Panels  []panel  `json:"panels"`
	}
	var d struct {
		Panels     []panel `json:"panels"`
		Templating struct {
			List []struct {
				Type       string `json:"type"`
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	require.NoError(t, json.Unmarshal(raw, &d))
	subst := strings.NewReplacer("$__rate_interval", "30s", "$flow", "customers")
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if p.Type != "row" {
				require.NotEmpty(t, p.Targets, "panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				q := subst.Replace(tg.Expr)
				require.NotContains(t, q, "$", "panel %q uses an unknown variable: %s", p.Title, tg.Expr)
				queries = append(queries, q)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type == "query" {
			vars = append(vars, v.Definition)
		}
	}
	return queries, vars
}

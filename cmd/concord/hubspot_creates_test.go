package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/sandbox/hubspot"
)

const hubspotCreatesConfig = `version: 1
owner: test@example.com
store: {driver: sqlite, path: concord.db}
sync:
  batch_size: 500
systems:
  - name: crm
    connector: hubspot
    settings:
      base_url: %[1]s
      token: file:token
      currency: USD
      create_link_property: true
      rate_limit: %[2]d
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
          updated_at: updated_at
          link: crm_id
          fields: {name: company, city: town}
entities:
  account:
    fields:
      name: {owner: erp, required: true}
      city: {owner: erp}
flows:
  - {name: customers, source: erp, target: crm, entity: account, fields: [name, city], unlinked: create}
`

// hubspotCreates is an ERP of n customers, a HubSpot sandbox with a rate
// budget of limit requests per 10 s, and a config whose one flow creates the
// customers as companies.
type hubspotCreates struct {
	crm *hubspot.Server
	dir string
	cfg string
	log *upsertLog
}

// upsertLog notes when each batch upsert arrived and was answered, and counts
// failed requests: answers 429 or 5xx (a 404 for the link property the
// connector then creates is an answer, not a failure).
type upsertLog struct {
	next http.Handler

	mu       sync.Mutex
	arrived  []time.Time
	answered []time.Time
	failed   int
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (u *upsertLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	u.next.ServeHTTP(sw, r)
	u.mu.Lock()
	defer u.mu.Unlock()
	if sw.status == http.StatusTooManyRequests || sw.status >= 500 {
		u.failed++
	}
	if strings.HasSuffix(r.URL.Path, "/batch/upsert") {
		u.arrived = append(u.arrived, at)
		u.answered = append(u.answered, time.Now())
	}
}

func newHubSpotCreates(tb testing.TB, n, limit int) *hubspotCreates {
	tb.Helper()
	cfg := hubspot.DefaultConfig()
	cfg.Token = "pat-test"
	cfg.RateLimit = limit
	cfg.SearchDelay = 10 * time.Millisecond
	crm := hubspot.New(cfg)
	tb.Cleanup(func() { _ = crm.Close() })
	log := &upsertLog{next: crm.Handler()}
	hs := httptest.NewServer(log)
	tb.Cleanup(hs.Close)

	dir := tb.TempDir()
	require.NoError(tb, os.WriteFile(filepath.Join(dir, "token"), []byte("pat-test\n"), 0o600))
	path := filepath.Join(dir, "concord.yaml")
	require.NoError(tb, os.WriteFile(path, fmt.Appendf(nil, hubspotCreatesConfig, hs.URL, limit), 0o644))
	erp, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "erp.db")+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
	require.NoError(tb, err)
	defer erp.Close()
	_, err = erp.Exec(`CREATE TABLE customers (id TEXT PRIMARY KEY, company TEXT, town TEXT, crm_id TEXT UNIQUE, updated_at TEXT NOT NULL)`)
	require.NoError(tb, err)
	tx, err := erp.Begin()
	require.NoError(tb, err)
	ins, err := tx.Prepare(`INSERT INTO customers (id, company, town, updated_at) VALUES (?, ?, ?, ?)`)
	require.NoError(tb, err)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Format(time.RFC3339)
	for i := range n {
		_, err := ins.Exec(fmt.Sprintf("C%06d", i), fmt.Sprintf("Company %d", i), "Lyon", at)
		require.NoError(tb, err)
	}
	require.NoError(tb, tx.Commit())
	return &hubspotCreates{crm: crm, dir: dir, cfg: path, log: log}
}

// syncOnce runs `concord sync --once` in this process.
func (h *hubspotCreates) syncOnce(tb testing.TB) string {
	tb.Helper()
	var out bytes.Buffer
	cmd := newRootCmd()
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs([]string{"sync", "--once", "--progress", "off", "--log-level", "warn", "--config", h.cfg})
	require.NoError(tb, cmd.ExecuteContext(context.Background()), out.String())
	return out.String()
}

// TestSync_HubSpotCreatesOneRequestPer100 creates 250 ERP customers in
// HubSpot with sync --once: exactly one batch upsert per 100 records and no
// batch read (the link-key lookup is skipped for an unlinked: create flow).
// Run again on a new store (as if every recording were lost), the upserts
// find the companies the first run made: no duplicate, still no lookup.
func TestSync_HubSpotCreatesOneRequestPer100(t *testing.T) {
	t.Parallel()
	h := newHubSpotCreates(t, 250, 190)
	out := h.syncOnce(t)
	require.Len(t, h.crm.Objects("companies"), 250, out)
	reqs := h.crm.Requests()
	require.Equal(t, 3, reqs["POST /crm/v3/objects/companies/batch/upsert"], "%v", reqs)
	require.Zero(t, reqs["POST /crm/v3/objects/companies/batch/read"], "%v", reqs)
	require.Zero(t, h.log.failed)

	require.NoError(t, os.Remove(filepath.Join(h.dir, "concord.db")))
	out = h.syncOnce(t)
	require.Len(t, h.crm.Objects("companies"), 250, "no duplicate: %s", out)
	reqs = h.crm.Requests()
	require.Equal(t, 6, reqs["POST /crm/v3/objects/companies/batch/upsert"], "%v", reqs)
	require.Zero(t, reqs["POST /crm/v3/objects/companies/batch/read"], "%v", reqs)
	for _, o := range h.crm.Objects("companies") {
		require.NotEmpty(t, o.Value("erp_id"))
	}
}

// BenchmarkSync_HubSpotCreates runs sync --once end to end creating 40,000 ERP
// customers as HubSpot companies in the sandbox, with its rate limit (and the
// connector's rate_limit) at 190 requests per 10 s: at 100 records per
// request the budget's ceiling is 1,900 records/s. One iteration is one whole
// run on a new sandbox and store; run it with -benchtime=1x.
//
// The first window's 190 requests go out in a burst, so records/s is
// measured after it, as the sandbox saw the upserts: the records of upserts
// 191..n over the time from the first upsert's arrival plus one window to the
// last upsert's answer. pct_of_ceiling compares that with 1,900/s;
// e2e_records/s is the whole command's wall time (open, read, queue, write,
// record); failed_requests counts 429 and 5xx answers.
func BenchmarkSync_HubSpotCreates(b *testing.B) {
	const n, limit, window = 40_000, 190, 10 * time.Second
	for range b.N {
		b.StopTimer()
		h := newHubSpotCreates(b, n, limit)
		b.StartTimer()
		start := time.Now()
		h.syncOnce(b)
		wall := time.Since(start)
		b.StopTimer()
		if got := len(h.crm.Objects("companies")); got != n {
			b.Fatalf("sandbox holds %d companies, want %d", got, n)
		}
		reqs := h.crm.Requests()
		upserts := reqs["POST /crm/v3/objects/companies/batch/upsert"]
		h.log.mu.Lock()
		first, last := h.log.arrived[0], h.log.answered[len(h.log.answered)-1]
		failed := h.log.failed
		h.log.mu.Unlock()
		steady := float64(100*(upserts-limit)) / last.Sub(first.Add(window)).Seconds()
		b.ReportMetric(steady, "records/s")
		b.ReportMetric(100*steady/(float64(limit)*100/window.Seconds()), "pct_of_ceiling")
		b.ReportMetric(float64(n)/wall.Seconds(), "e2e_records/s")
		b.ReportMetric(float64(upserts), "upserts")
		b.ReportMetric(float64(reqs["POST /crm/v3/objects/companies/batch/read"]), "batch_reads")
		b.ReportMetric(float64(failed), "failed_requests")
		b.StartTimer()
	}
}

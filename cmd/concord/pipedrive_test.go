package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/sandbox/pipedrive"
	"github.com/concord-sync/concord/internal/server"
)

const pipedriveConfig = `version: 1
owner: test@example.com
store: {driver: sqlite, path: concord.db}
sync:
  poll_interval: 1h   # only webhooks move changes in this test, after the first poll
systems:
  - name: crm
    connector: pipedrive
    settings:
      base_url: %[1]s
      api_token: file:token
      webhook_user: concord
      webhook_password: file:hook
      currency: USD
      create_link_field: true
      entities:
        account: {fields: {name: name, city: address.locality}}
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

// TestServe_PipedriveWebhooks runs concord serve against the Pipedrive
// sandbox over real HTTP: an organization created in the CRM reaches the ERP
// through a v2 webhook with basic auth (the poller is idle), and a delivery
// with the wrong password is refused and counted.
func TestServe_PipedriveWebhooks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())

	crm := pipedrive.New(pipedrive.Config{Token: "pd-test"})
	t.Cleanup(func() { _ = crm.Close() })
	srv := httptest.NewServer(crm.Handler())
	t.Cleanup(srv.Close)
	crm.AddWebhook(addr+"/webhooks/crm", "concord", "hook-secret")

	require.NoError(t, os.WriteFile(filepath.Join(dir, "token"), []byte("pd-test\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "hook"), []byte("hook-secret\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "concord.yaml"), fmt.Appendf(nil, pipedriveConfig, srv.URL), 0o644))
	erp := openSQLite(t, filepath.Join(dir, "erp.db"))
	_, err = erp.Exec(`CREATE TABLE customers (id INTEGER PRIMARY KEY AUTOINCREMENT, company TEXT, town TEXT, crm_id TEXT UNIQUE, updated_at TEXT NOT NULL)`)
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		cmd := newRootCmd()
		cmd.SetArgs([]string{"serve", "--config", filepath.Join(dir, "concord.yaml"), "--addr", strings.TrimPrefix(addr, "http://")})
		done <- cmd.ExecuteContext(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	stats := func() []server.WebhookStats {
		resp, err := http.Get(addr + "/stats")
		if err != nil {
			return nil
		}
		defer resp.Body.Close()
		var s struct {
			Webhooks []server.WebhookStats `json:"webhooks"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&s)
		return s.Webhooks
	}
	require.Eventually(t, func() bool { return len(stats()) == 1 }, 10*time.Second, 20*time.Millisecond, "serve is up")

	// A sales rep creates an organization in the CRM.
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/api/v2/organizations",
		strings.NewReader(`{"name": "Wilman Kala", "address": {"locality": "Helsinki", "country": "FI"}}`))
	require.NoError(t, err)
	req.Header.Set("x-api-token", "pd-test")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Eventually(t, func() bool {
		var n int
		return erp.QueryRow(`SELECT count(*) FROM customers WHERE company = 'Wilman Kala' AND town = 'Helsinki'`).Scan(&n) == nil && n == 1
	}, 15*time.Second, 20*time.Millisecond, "the organization reached the ERP through the webhook: %+v", stats())
	require.Positive(t, stats()[0].Events)
	require.Zero(t, stats()[0].Forged)

	// A delivery with the wrong password is refused.
	body := fmt.Sprintf(`{"meta": {"action": "create", "entity": "organization", "entity_id": "1", "id": "x", "version": "2.0", "timestamp": %q}, "data": {"id": 1}}`,
		time.Now().UTC().Format(time.RFC3339))
	req, err = http.NewRequest(http.MethodPost, addr+"/webhooks/crm", strings.NewReader(body))
	require.NoError(t, err)
	req.SetBasicAuth("concord", "guess")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, int64(1), stats()[0].Forged)
}

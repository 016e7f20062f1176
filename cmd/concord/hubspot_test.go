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

	"github.com/concord-sync/concord/internal/sandbox/hubspot"
	"github.com/concord-sync/concord/internal/server"
)

const hubspotConfig = `version: 1
owner: test@example.com
store: {driver: sqlite, path: concord.db}
sync:
  poll_interval: 1h   # only webhooks move changes in this test, after the first poll
systems:
  - name: crm
    connector: hubspot
    settings:
      base_url: %[1]s
      token: file:token
      webhook_secret: file:secret
      webhook_url: %[2]s/webhooks/crm
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

// TestServe_HubSpotWebhooks runs concord serve against the HubSpot-compatible
// sandbox over real HTTP: a company created in the CRM reaches the ERP through a
// signed webhook (the poller is idle), a repeated delivery is ignored, and a
// forged one is refused and counted.
func TestServe_HubSpotWebhooks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())

	cfg := hubspot.DefaultConfig()
	cfg.Token = "pat-test"
	cfg.SearchDelay = 10 * time.Millisecond
	cfg.Webhook.URL = addr + "/webhooks/crm"
	cfg.Webhook.ClientSecret = "client-secret"
	cfg.Webhook.AppID = 7
	crm := hubspot.New(cfg)
	t.Cleanup(func() { _ = crm.Close() })
	hs := httptest.NewServer(crm.Handler())
	t.Cleanup(hs.Close)
	_, err = crm.Subscribe("company.creation", "")
	require.NoError(t, err)

	require.NoError(t, os.WriteFile(filepath.Join(dir, "token"), []byte("pat-test\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "secret"), []byte("client-secret\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "concord.yaml"), fmt.Appendf(nil, hubspotConfig, hs.URL, addr), 0o644))
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

	// A sales rep creates a company in the CRM.
	_, err = crm.Put("companies", map[string]string{"name": "Wilman Kala", "city": "Helsinki"})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		var n int
		return erp.QueryRow(`SELECT count(*) FROM customers WHERE company = 'Wilman Kala' AND town = 'Helsinki'`).Scan(&n) == nil && n == 1
	}, 15*time.Second, 20*time.Millisecond, "the company reached the ERP through the webhook: %+v", stats())
	st := stats()[0]
	require.Equal(t, int64(1), st.Events)
	require.Zero(t, st.Forged)

	// A forged delivery is refused.
	req, err := http.NewRequest(http.MethodPost, addr+"/webhooks/crm", strings.NewReader(`[{"eventId":1,"objectId":1,"subscriptionType":"company.creation"}]`))
	require.NoError(t, err)
	req.Header.Set("X-HubSpot-Signature-v3", "Zm9yZ2Vk")
	req.Header.Set("X-HubSpot-Request-Timestamp", fmt.Sprint(time.Now().UnixMilli()))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, int64(1), stats()[0].Forged)
}

package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/examples/quickstart"
)

// TestServe_Alerts runs concord serve on the quickstart with an alert
// webhook: the CRM's source table renamed under serve fires stale_poll for
// the customers flow, named with the poll's error; renamed back, the alert is
// resolved.
func TestServe_Alerts(t *testing.T) {
	t.Parallel()
	var (
		mu      sync.Mutex
		notices []map[string]any
	)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var n map[string]any
		if json.Unmarshal(b, &n) != nil {
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
		mu.Lock()
		notices = append(notices, n)
		mu.Unlock()
	}))
	t.Cleanup(hook.Close)
	find := func(rule, subject, status string) map[string]any {
		mu.Lock()
		defer mu.Unlock()
		for _, n := range notices {
			s, _ := n["subject"].(map[string]any)
			if n["rule"] == rule && fmt.Sprintf("%s %s", s["kind"], s["name"]) == subject && n["status"] == status {
				return n
			}
		}
		return nil
	}

	dir := t.TempDir()
	require.NoError(t, quickstart.Setup(context.Background(), dir, false))
	cfg := strings.Replace(string(quickstart.Config), "sync:\n", "sync:\n  poll_interval: 100ms\n", 1)
	cfg += fmt.Sprintf("\nalerts:\n  every: 100ms\n  rules:\n    stale_poll: {after: 1s}\n  webhook: {url: %q, format: json}\n", hook.URL+"/alerts")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "concord.yaml"), []byte(cfg), 0o644))

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		cmd := newRootCmd()
		cmd.SetArgs([]string{"serve", "--config", filepath.Join(dir, "concord.yaml"), "--addr", alertsFreeAddr(t)})
		done <- cmd.ExecuteContext(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop")
		}
	})

	// serve polls this file while the test renames its table: wait for its
	// reads rather than fail with SQLITE_BUSY on a loaded machine.
	crm, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "crm.db")+"?_pragma=busy_timeout(10000)")
	require.NoError(t, err)
	t.Cleanup(func() { _ = crm.Close() })
	time.Sleep(500 * time.Millisecond) // serve opened its systems and polls
	_, err = crm.Exec(`ALTER TABLE companies RENAME TO companies_renamed`)
	require.NoError(t, err)

	var fired map[string]any
	require.Eventually(t, func() bool {
		fired = find("stale_poll", "flow customers", "firing")
		return fired != nil
	}, 20*time.Second, 50*time.Millisecond, "stale_poll fires for the customers flow")
	require.Contains(t, fired["summary"], "flow customers has had no successful poll of crm for")
	require.Contains(t, fired["summary"], "companies")
	require.Equal(t, "integration.owner@example.com", fired["owner"])
	require.Nil(t, find("stale_poll", "flow products", "firing"), "the products flow polls fine")

	_, err = crm.Exec(`ALTER TABLE companies_renamed RENAME TO companies`)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return find("stale_poll", "flow customers", "resolved") != nil
	}, 20*time.Second, 50*time.Millisecond, "the alert is resolved once polls succeed")
}

// alertsFreeAddr returns a free 127.0.0.1 address for serve's --addr.
func alertsFreeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/examples/quickstart"
	"github.com/concord-sync/concord/internal/health"
	"github.com/concord-sync/concord/internal/store/storetest"
)

// healthConfig writes the quickstart's config with fast polls and retries,
// and storeYAML (the lines under store:) when not "".
func healthConfig(t *testing.T, dir, storeYAML string) string {
	t.Helper()
	require.NoError(t, quickstart.Setup(context.Background(), dir, false))
	cfg := strings.Replace(string(quickstart.Config), "sync:\n", "sync:\n  poll_interval: 100ms\n", 1)
	cfg = strings.Replace(cfg, "retry: {max_attempts: 5, backoff: 1s, max_backoff: 1m}", "retry: {max_attempts: 2, backoff: 100ms, max_backoff: 200ms}", 1)
	if storeYAML != "" {
		cfg = strings.Replace(cfg, "  driver: sqlite\n  path: concord.db\n", storeYAML, 1)
	}
	path := filepath.Join(dir, "concord.yaml")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o644))
	return path
}

// waitFor polls cond until it holds, failing with its last word after timeout.
func waitFor(t *testing.T, timeout time.Duration, cond func() (bool, string), what string) {
	t.Helper()
	var last string
	for end := time.Now().Add(timeout); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		var ok bool
		if ok, last = cond(); ok {
			return
		}
	}
	t.Fatalf("%s: not after %s; last: %s", what, timeout, last)
}

// startServe runs concord serve in-process until the test ends.
func startServe(t *testing.T, cfg, addr string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		cmd := newRootCmd()
		cmd.SetArgs([]string{"serve", "--config", cfg, "--addr", addr, "--log-level", "error"})
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
}

// get returns the status code and body of GET url.
func get(t *testing.T, url string, accept string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

type statsResp struct {
	DeadLetters int             `json:"dead_letters"`
	Quarantine  int             `json:"quarantine"`
	Health      health.Snapshot `json:"health"`
	Flows       []struct {
		Leg     string `json:"leg"`
		Created int    `json:"created"`
	} `json:"flows"`
}

func stats(t *testing.T, addr string) (statsResp, bool) {
	t.Helper()
	var s statsResp
	code, body := get(t, "http://"+addr+"/stats", "")
	if code != http.StatusOK {
		return s, false
	}
	return s, json.Unmarshal([]byte(body), &s) == nil
}

// TestServe_Health is the watch, on a SQLite and a PostgreSQL store:
// a source table renamed under serve turns /readyz 503 naming the flow and
// the error, and back to 200 when it is back; a target table renamed
// dead-letters the change, /stats counts it open, and 0 again once the retry
// succeeds; concord status reads a running serve, and the store without one.
func TestServe_Health(t *testing.T) {
	t.Parallel()
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			storeYAML := ""
			if driver == "postgres" {
				dsn := storetest.PostgresSchema(t, storetest.PostgresURL(t))
				storeYAML = "  driver: postgres\n  dsn: " + dsn + "\n"
			}
			cfg := healthConfig(t, dir, storeYAML)
			addr := freeAddr(t)
			startServe(t, cfg, addr)
			base := "http://" + addr

			require.Eventually(t, func() bool {
				s, ok := stats(t, addr)
				return ok && len(s.Flows) == 2 && s.Flows[0].Created == 29 && s.Flows[1].Created == 77
			}, 30*time.Second, 50*time.Millisecond, "serve syncs both flows")
			require.Eventually(t, func() bool {
				code, _ := get(t, base+"/readyz", "")
				return code == http.StatusOK
			}, 10*time.Second, 50*time.Millisecond)
			code, body := get(t, base+"/healthz", "")
			require.Equal(t, http.StatusOK, code)
			require.Equal(t, "ok\n", body)
			var s statsResp
			require.Eventually(t, func() bool {
				s, _ = stats(t, addr)
				return s.Quarantine == 1 // the snapshot is collected every 2 s
			}, 10*time.Second, 50*time.Millisecond, "the quickstart's one bad company is in quarantine now: %+v", s)
			require.Zero(t, s.DeadLetters)
			require.True(t, s.Health.Ready, "%+v", s.Health)
			require.Len(t, s.Health.Flows, 2)
			require.Equal(t, "customers", s.Health.Flows[0].Flow)
			require.False(t, s.Health.Flows[0].LastPollOK.IsZero())
			require.False(t, s.Health.Flows[0].LastApplied.IsZero())
			require.True(t, s.Health.Store.Writable)

			out, code2 := run(t, "status", "--addr", addr)
			require.Equal(t, exitOK, code2, out)
			require.Contains(t, out, "ready (concord serve at "+addr)
			require.Regexp(t, `customers\s+\S+ ago\s+\S+ ago`, out)
			require.Regexp(t, `crm\s+sql\s+yes`, out)
			require.Contains(t, out, "STORE  writable")

			// The CRM's source table is renamed under serve.
			crm := openSQLite(t, filepath.Join(dir, "crm.db"))
			_, err := crm.Exec(`ALTER TABLE companies RENAME TO companies_gone`)
			require.NoError(t, err)
			require.Eventually(t, func() bool {
				code, body = get(t, base+"/readyz", "")
				return code == http.StatusServiceUnavailable && strings.Contains(body, "flow customers is failing") && strings.Contains(body, "companies")
			}, 15*time.Second, 100*time.Millisecond, "readyz names the flow and the error: %d %s", code, body)
			t.Logf("readyz: %s", body)
			require.NotContains(t, body, "system crm is unreachable", "crm answers its pings")
			code, body = get(t, base+"/readyz", "application/json")
			require.Equal(t, http.StatusServiceUnavailable, code)
			var snap health.Snapshot
			require.NoError(t, json.Unmarshal([]byte(body), &snap))
			require.False(t, snap.Ready)
			require.True(t, snap.Flows[0].Failing)
			require.Positive(t, snap.Flows[0].ErrorStreak)
			out, code2 = run(t, "status", "--addr", addr, "--json")
			require.Equal(t, exitRuntime, code2, out)
			require.Contains(t, out, `"ready": false`)
			_, err = crm.Exec(`ALTER TABLE companies_gone RENAME TO companies`)
			require.NoError(t, err)
			require.Eventually(t, func() bool {
				code, body = get(t, base+"/readyz", "")
				return code == http.StatusOK && body == "ready\n"
			}, 15*time.Second, 100*time.Millisecond, "ready again: %d %s", code, body)

			// The ERP's target table is renamed: the change dead-letters.
			erp := openSQLite(t, filepath.Join(dir, "erp.db"))
			_, err = erp.Exec(`ALTER TABLE customers RENAME TO customers_gone`)
			require.NoError(t, err)
			_, err = crm.Exec(`UPDATE companies SET city = 'Leeds' WHERE id = 1`)
			require.NoError(t, err)
			require.Eventually(t, func() bool {
				s, _ = stats(t, addr)
				return s.DeadLetters == 1
			}, 30*time.Second, 100*time.Millisecond, "stats counts the open dead letter: %+v", s)
			require.Equal(t, 1, s.Health.Flows[0].DeadLetters)
			_, err = erp.Exec(`ALTER TABLE customers_gone RENAME TO customers`)
			require.NoError(t, err)
			out, code2 = run(t, "deadletter", "retry", "--all", "--config", cfg)
			require.Equal(t, exitOK, code2, out)
			require.Eventually(t, func() bool {
				s, _ = stats(t, addr)
				return s.DeadLetters == 0
			}, 30*time.Second, 100*time.Millisecond, "the counter goes down once the retry succeeds: %+v", s)
			var city string
			require.NoError(t, erp.QueryRow(`SELECT city FROM customers WHERE crm_id = '1'`).Scan(&city))
			require.Equal(t, "Leeds", city)
			waitFor(t, 15*time.Second, func() (bool, string) {
				code, body := get(t, base+"/readyz", "")
				if code != http.StatusOK {
					ev, _ := run(t, "events", "--config", cfg, "--flow", "customers", "--limit", "8")
					body += "\n" + ev
				}
				return code == http.StatusOK, body
			}, "ready once the batch went through")
		})
	}
}

// TestStatus_NoServe: without a serve, status says so and reads the store.
func TestStatus_NoServe(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := healthConfig(t, dir, "")
	out, code := run(t, "sync", "--once", "--config", cfg, "--progress", "off")
	require.Equal(t, exitOK, code, out)
	addr := freeAddr(t)
	out, code = run(t, "status", "--config", cfg, "--addr", addr)
	require.Equal(t, exitRuntime, code, out)
	require.Contains(t, out, "serve is not running (nothing answers at "+addr+")")
	require.Regexp(t, `customers\s+\S+ ago\s+0\s+0\s+1\s+0\s+0`, out, "per flow: the last event and the quarantined company")
	require.Regexp(t, `products\s+\S+ ago\s+0\s+0\s+0`, out)
	require.Contains(t, out, "STORE  writable")

	out, code = run(t, "status", "--config", cfg, "--addr", addr, "--json")
	require.Equal(t, exitRuntime, code, out)
	var snap health.Snapshot
	require.NoError(t, json.Unmarshal([]byte(strings.TrimSuffix(out, "serve is not running")), &snap))
	require.False(t, snap.Ready)
	require.Contains(t, snap.Reasons[0], "serve is not running")
	require.Equal(t, 1, snap.Flows[0].Quarantine)
	require.False(t, snap.Flows[0].LastEvent.IsZero())

	_, code = run(t, "status", "--config", cfg, "--bogus")
	require.Equal(t, exitUsage, code)
}

// TestServe_StoreNotWritable: with the PostgreSQL store's grants revoked,
// /readyz is 503 naming the store; granted again, it is ready.
func TestServe_StoreNotWritable(t *testing.T) {
	t.Parallel()
	base := storetest.PostgresURL(t)
	admin, err := sql.Open("pgx", base)
	require.NoError(t, err)
	t.Cleanup(func() { admin.Close() })
	var raw [4]byte
	_, _ = rand.Read(raw[:])
	role := "concord_w1_" + hex.EncodeToString(raw[:])
	_, err = admin.Exec(`CREATE ROLE ` + role + ` LOGIN`)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = admin.Exec(`DROP ROLE IF EXISTS ` + role) }) // after the schema is dropped
	dsn := storetest.PostgresSchema(t, base)
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	schema := u.Query().Get("search_path")
	_, err = admin.Exec(`ALTER SCHEMA ` + schema + ` OWNER TO ` + role)
	require.NoError(t, err)
	u.User = url.User(role)

	dir := t.TempDir()
	cfg := healthConfig(t, dir, "  driver: postgres\n  dsn: "+u.String()+"\n")
	addr := freeAddr(t)
	startServe(t, cfg, addr)
	readyz := "http://" + addr + "/readyz"
	var code int
	var body string
	require.Eventually(t, func() bool {
		code, body = get(t, readyz, "")
		return code == http.StatusOK
	}, 30*time.Second, 100*time.Millisecond, "ready: %d %s", code, body)

	_, err = admin.Exec(`REVOKE INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ` + schema + ` FROM ` + role)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		code, body = get(t, readyz, "")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "store is not writable") && strings.Contains(body, "permission denied")
	}, 15*time.Second, 100*time.Millisecond, "readyz names the store: %d %s", code, body)
	t.Logf("readyz: %s", body)

	_, err = admin.Exec(`GRANT INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ` + schema + ` TO ` + role)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		code, body = get(t, readyz, "")
		return code == http.StatusOK
	}, 15*time.Second, 100*time.Millisecond, "ready again: %d %s", code, body)
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/examples/quickstart"
	"github.com/concord-sync/concord/internal/console"
)

// TestServe_Console: serve with console users answers the console on its
// port: sign-in by password, the overview with the flows, the API by token,
// and a viewer's change refused.
func TestServe_Console(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, quickstart.Setup(context.Background(), dir, false))
	h, err := console.HashPassword("correct-horse-battery")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "alice.hash"), []byte(h+"\n"), 0o600))
	token := strings.Repeat("k", 40)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "viewer.token"), []byte(token), 0o600))
	cfg := strings.Replace(string(quickstart.Config), "sync:\n", "sync:\n  poll_interval: 100ms\n", 1) + `
console:
  secure_cookie: false
  users:
    - {name: alice, role: operator, password_hash: file:alice.hash}
    - {name: dashboards, token: file:viewer.token}
`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "concord.yaml"), []byte(cfg), 0o644))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	base := "http://" + addr

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		cmd := newRootCmd()
		cmd.SetArgs([]string{"serve", "--config", filepath.Join(dir, "concord.yaml"), "--addr", addr})
		done <- cmd.ExecuteContext(ctx)
	}()
	defer func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(30 * time.Second):
			t.Fatal("serve did not stop")
		}
	}()

	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	require.Eventually(t, func() bool {
		resp, err := c.Get(base + "/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK && resp.Request.URL.Path == "/console/login"
	}, 20*time.Second, 50*time.Millisecond, "/ leads to the sign-in page")

	resp, err := c.PostForm(base+"/console/login", url.Values{"name": {"alice"}, "password": {"correct-horse-battery"}})
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "/console/", resp.Request.URL.Path)
	require.Contains(t, string(page), "alice <span class=\"role\">(operator)</span>")
	require.Contains(t, string(page), "customers")

	var ov struct {
		Flows []struct {
			Leg     string `json:"leg"`
			Applied int    `json:"applied"`
		} `json:"flows"`
	}
	api := func(method, path string, out any) int {
		req, _ := http.NewRequest(method, base+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.NoError(t, json.NewDecoder(resp.Body).Decode(out))
		return resp.StatusCode
	}
	require.Eventually(t, func() bool {
		return api("GET", "/api/v1/overview", &ov) == http.StatusOK && len(ov.Flows) == 2 && ov.Flows[0].Applied+ov.Flows[1].Applied == 106
	}, 20*time.Second, 100*time.Millisecond, "the overview counts what serve applied: %+v", ov)
	var e map[string]string
	require.Equal(t, http.StatusForbidden, api("POST", "/api/v1/events/1/replay", &e))
	require.Contains(t, e["error"], fmt.Sprintf("%s has the viewer role", "dashboards"))
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/examples/quickstart"
	"github.com/concord-sync/concord/internal/engine"
)

// TestServe runs concord serve in-process: it syncs on its own, answers /healthz
// and /stats, and stops cleanly when its context is cancelled (SIGTERM).
func TestServe(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, quickstart.Setup(context.Background(), dir, false))
	cfg := strings.Replace(string(quickstart.Config), "sync:\n", "sync:\n  poll_interval: 100ms\n", 1)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "concord.yaml"), []byte(cfg), 0o644))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		cmd := newRootCmd()
		cmd.SetArgs([]string{"serve", "--config", filepath.Join(dir, "concord.yaml"), "--addr", addr})
		done <- cmd.ExecuteContext(ctx)
	}()

	var stats struct {
		Flows []engine.Stats `json:"flows"`
	}
	require.Eventually(t, func() bool {
		resp, err := http.Get(fmt.Sprintf("http://%s/stats", addr))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		if json.NewDecoder(resp.Body).Decode(&stats) != nil || len(stats.Flows) != 2 {
			return false
		}
		return stats.Flows[0].Created == 29 && stats.Flows[1].Created == 77
	}, 20*time.Second, 50*time.Millisecond, "serve syncs both flows: %+v", stats)

	resp, err := http.Get(fmt.Sprintf("http://%s/healthz", addr))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp.Body.Close()

	// Without console users the console is off, and says how to turn it on.
	resp, err = http.Get(fmt.Sprintf("http://%s/console/", addr))
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Contains(t, string(body), "add console.users to the config")

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err, "graceful shutdown exits 0")
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
}

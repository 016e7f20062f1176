package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/examples/quickstart"
	"github.com/concord-sync/concord/internal/tracing/tracingtest"
)

// tracedQuickstart sets up the quickstart with tracing appended to its config.
func tracedQuickstart(t *testing.T, tracing string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, quickstart.Setup(context.Background(), dir, false))
	cfg := filepath.Join(dir, "concord.yaml")
	data, err := os.ReadFile(cfg)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(cfg, append(data, []byte("\n"+tracing+"\n")...), 0o600))
	return cfg
}

// TestSync_Tracing: sync --once with tracing on sends one trace per poll
// (poll > read) and per batch (batch > plan, write, record) to the OTLP
// receiver, with flow, direction and counts and no record value; off sends
// nothing; a receiver that cannot be reached changes nothing in the sync.
func TestSync_Tracing(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		recv := tracingtest.New(t)
		cfg := tracedQuickstart(t, fmt.Sprintf("tracing:\n  otlp_endpoint: %s\n  service_name: concord-quickstart\n  headers: {X-Scope-OrgID: tenant-1}", recv.URL))
		out, code := run(t, "sync", "--once", "--config", cfg, "--progress", "off")
		require.Equal(t, exitOK, code, out)

		require.Empty(t, recv.Bad())
		require.NotZero(t, recv.Requests(), "spans are flushed before sync exits")
		for i, p := range recv.Paths() {
			require.Equal(t, "/v1/traces", p)
			require.Equal(t, "tenant-1", recv.Headers()[i].Get("X-Scope-OrgID"))
		}
		spans := recv.Spans()
		byID := map[string]tracingtest.Span{}
		for _, s := range spans {
			byID[s.SpanID] = s
			require.Equal(t, "concord-quickstart", s.Resource["service.name"])
			require.Equal(t, "concord", s.Scope)
			require.Contains(t, []string{"customers", "products"}, s.Attrs["concord.flow"], "span %s", s.Name)
			require.Equal(t, "forward", s.Attrs["concord.direction"])
		}

		polls := tracingtest.Named(spans, "poll")
		require.NotEmpty(t, polls)
		read := 0
		for _, p := range polls {
			require.Empty(t, p.ParentID, "a poll is a trace")
			require.Equal(t, []string{"read"}, tracingtest.Children(spans, p))
			read += int(p.Attrs["concord.records"].(int64))
		}
		require.Equal(t, 30+77, read, "the quickstart's 30 companies and 77 products")

		batches := tracingtest.Named(spans, "batch")
		require.NotEmpty(t, batches)
		traces := map[string]bool{}
		created, quarantined := 0, 0
		for _, b := range batches {
			require.Empty(t, b.ParentID, "a batch is a trace")
			require.False(t, traces[b.TraceID], "one trace per batch")
			traces[b.TraceID] = true
			require.Equal(t, "read", b.Attrs["concord.batch.kind"])
			require.Equal(t, int64(1), b.Attrs["concord.attempt"])
			require.False(t, b.Error)
			kids := tracingtest.Children(spans, b)
			require.Contains(t, kids, "plan")
			require.Contains(t, kids, "write")
			require.Contains(t, kids, "record")
			if n, ok := b.Attrs["concord.outcome.created"].(int64); ok {
				created += int(n)
			}
			if n, ok := b.Attrs["concord.outcome.quarantined"].(int64); ok {
				quarantined += int(n)
			}
		}
		require.Equal(t, 29+77, created)
		require.Equal(t, 1, quarantined)
		for _, s := range spans {
			switch s.Name {
			case "plan", "write", "record":
				parent, ok := byID[s.ParentID]
				require.True(t, ok, "%s has its parent", s.Name)
				require.Equal(t, "batch", parent.Name)
			case "read":
				parent, ok := byID[s.ParentID]
				require.True(t, ok, "read has its parent")
				require.Contains(t, []string{"poll", "batch"}, parent.Name)
			case "poll", "batch":
			default:
				t.Fatalf("unexpected span %q", s.Name)
			}
		}

		// No record value reaches a span: the CRM's company and contact names.
		crm := openSQLite(t, filepath.Join(filepath.Dir(cfg), "crm.db"))
		rows, err := crm.Query(`SELECT COALESCE(name, ''), COALESCE(contact_name, '') FROM companies`)
		require.NoError(t, err)
		values := map[string]bool{}
		for rows.Next() {
			var name, contact string
			require.NoError(t, rows.Scan(&name, &contact))
			values[name], values[contact] = true, true
		}
		require.NoError(t, rows.Err())
		delete(values, "")
		require.NotEmpty(t, values)
		for _, s := range spans {
			for k, v := range s.Attrs {
				if str, ok := v.(string); ok {
					require.False(t, values[str], "span %s attribute %s carries a record value", s.Name, k)
				}
			}
		}
	})

	t.Run("Off", func(t *testing.T) {
		t.Parallel()
		recv := tracingtest.New(t)
		cfg := tracedQuickstart(t, fmt.Sprintf("tracing: {enabled: false, otlp_endpoint: '%s'}", recv.URL))
		out, code := run(t, "sync", "--once", "--config", cfg, "--progress", "off")
		require.Equal(t, exitOK, code, out)
		require.Zero(t, recv.Requests())
	})

	t.Run("Unreachable", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		require.NoError(t, ln.Close())
		cfg := tracedQuickstart(t, fmt.Sprintf("tracing: {otlp_endpoint: 'http://%s'}", addr))
		out, code := run(t, "sync", "--once", "--config", cfg, "--progress", "off")
		require.Equal(t, exitOK, code, out)
		require.Regexp(t, `customers\s+30\s+29\s+0\s+0\s+0\s+0\s+1\s+0\s+0`, out)
	})
}

// TestServe_Tracing: serve sends spans while it runs, and flushes the rest
// when it stops.
func TestServe_Tracing(t *testing.T) {
	t.Parallel()
	recv := tracingtest.New(t)
	cfg := tracedQuickstart(t, fmt.Sprintf("tracing: {otlp_endpoint: '%s'}", recv.URL))
	data, err := os.ReadFile(cfg)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(cfg, []byte(strings.Replace(string(data), "sync:\n", "sync:\n  poll_interval: 100ms\n", 1)), 0o600))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		cmd := newRootCmd()
		cmd.SetArgs([]string{"serve", "--config", cfg, "--addr", ""})
		done <- cmd.ExecuteContext(ctx)
	}()
	created := func() int {
		n := 0
		for _, b := range tracingtest.Named(recv.Spans(), "batch") {
			if c, ok := b.Attrs["concord.outcome.created"].(int64); ok {
				n += int(c)
			}
		}
		return n
	}
	require.Eventually(t, func() bool { return len(tracingtest.Named(recv.Spans(), "batch")) > 0 }, 30*time.Second, 50*time.Millisecond,
		"spans are sent while serve runs")
	require.Eventually(t, func() bool { return len(tracingtest.Named(recv.Spans(), "poll")) > 2 }, 30*time.Second, 50*time.Millisecond,
		"every poll is a trace")
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	require.Equal(t, 29+77, created(), "every batch's trace was sent by the time serve exits")
	require.Empty(t, recv.Bad())
}

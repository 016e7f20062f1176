package main

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/examples/quickstart"
)

// logDoc is one line of the log catalogue in docs/operations.md.
type logDoc struct {
	level string
	keys  []string
}

// logCatalogue reads the table of log lines of docs/operations.md: a row
// "| LEVEL | `message` | `key`, `key` ... | meaning |" per line.
func logCatalogue(t *testing.T) map[string]logDoc {
	t.Helper()
	doc, err := os.ReadFile("../../docs/operations.md")
	require.NoError(t, err)
	row := regexp.MustCompile("^\\| (DEBUG|INFO|WARN|ERROR) \\| `([^`]+)` \\|([^|]*)\\|")
	key := regexp.MustCompile("`([a-z_]+)`")
	out := map[string]logDoc{}
	for l := range strings.Lines(string(doc)) {
		m := row.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		d := logDoc{level: m[1]}
		for _, k := range key.FindAllStringSubmatch(m[3], -1) {
			d.keys = append(d.keys, k[1])
		}
		out[m[2]] = d
	}
	require.NotEmpty(t, out, "docs/operations.md has the table of log lines")
	return out
}

// TestServe_Log runs the real binary's serve, at its default level with
// --log-format json, on the quickstart's SQLite databases, with an ERP that
// refuses one company and a CRM lead without a name: every line is JSON, and
// the log says where serve listens, what each poll read, what each batch
// applied with its counts by outcome, each record not synced with its id and
// the reason, and that it stopped; every message and key is one documented in
// docs/operations.md, and none is an internal name.
func TestServe_Log(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, quickstart.Setup(context.Background(), dir, false))
	cfg := strings.Replace(string(quickstart.Config), "sync:\n", "sync:\n  poll_interval: 100ms\n", 1)
	cfgPath := filepath.Join(dir, "concord.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(cfg), 0o644))
	erp := openSQLite(t, filepath.Join(dir, "erp.db"))
	_, err := erp.Exec(`CREATE TRIGGER refuse_co BEFORE INSERT ON customers WHEN NEW.company_name = 'Refused Co'
		BEGIN SELECT RAISE(ABORT, 'company refused by policy'); END`)
	require.NoError(t, err)
	crm := openSQLite(t, filepath.Join(dir, "crm.db"))
	res, err := crm.Exec(`INSERT INTO companies (name, city, country, updated_at) VALUES ('Refused Co', 'Bern', 'Switzerland', '2026-01-02 08:00:00.000000')`)
	require.NoError(t, err)
	refused, err := res.LastInsertId()
	require.NoError(t, err)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	cmd := exec.Command(buildBinary(t), "serve", "--config", cfgPath, "--addr", addr, "--log-format", "json")
	cmd.Env = slices.DeleteFunc(os.Environ(), func(e string) bool { return strings.HasPrefix(e, "CONCORD_LOG_LEVEL=") })
	var stderr lockedBuffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
	})

	lines := func() []map[string]any {
		var out []map[string]any
		for l := range strings.Lines(stderr.String()) {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) == nil {
				out = append(out, m)
			}
		}
		return out
	}
	find := func(match func(map[string]any) bool) map[string]any {
		for _, l := range lines() {
			if match(l) {
				return l
			}
		}
		return nil
	}
	is := func(l map[string]any, msg string, kv ...any) bool {
		if l["msg"] != msg {
			return false
		}
		for i := 0; i < len(kv); i += 2 {
			if l[kv[i].(string)] != kv[i+1] {
				return false
			}
		}
		return true
	}
	waitFor := func(what string, match func(map[string]any) bool) map[string]any {
		t.Helper()
		var got map[string]any
		require.Eventually(t, func() bool { got = find(match); return got != nil }, 30*time.Second, 50*time.Millisecond,
			"no %s line in:\n%s", what, stderr.String())
		return got
	}

	listen := waitFor("listening", func(l map[string]any) bool { return is(l, "listening", "addr", addr) })
	require.Equal(t, "INFO", listen["level"])
	require.Contains(t, listen["endpoints"], "GET /healthz")
	require.Contains(t, listen["endpoints"], "GET /stats")
	require.Contains(t, listen["endpoints"], "POST /webhooks/{system}")
	waitFor("system opened", func(l map[string]any) bool { return is(l, "system opened", "system", "erp", "connector", "sql") })

	// The first pass: 29 suppliers and the refused company read, 29 created,
	// the nameless lead quarantined, the refused company failed.
	polled := waitFor("polled", func(l map[string]any) bool { return is(l, "polled", "flow", "customers", "direction", "forward") })
	require.Equal(t, 31.0, polled["read"], polled)
	require.Equal(t, "crm", polled["source"])
	applied := waitFor("applied", func(l map[string]any) bool {
		return is(l, "applied", "flow", "customers") && l["created"] != nil
	})
	require.Equal(t, "INFO", applied["level"])
	require.Equal(t, "erp", applied["target"])
	require.Contains(t, applied, "took")
	failed := waitFor("record failed", func(l map[string]any) bool { return is(l, "record failed", "flow", "customers") })
	require.Equal(t, "WARN", failed["level"])
	require.Equal(t, "failed", failed["outcome"])
	require.Equal(t, strconv.FormatInt(refused, 10), failed["record"])
	require.Contains(t, failed["reason"], "company refused by policy")
	quarantined := waitFor("record quarantined", func(l map[string]any) bool { return is(l, "record quarantined", "flow", "customers") })
	require.Equal(t, "WARN", quarantined["level"])
	require.Equal(t, "name", quarantined["field"])
	require.Contains(t, quarantined["reason"], "blank")
	require.Eventually(t, func() bool {
		created := 0.0
		for _, l := range lines() {
			if is(l, "applied", "flow", "products") {
				n, _ := l["created"].(float64)
				created += n
			}
		}
		return created == 77
	}, 30*time.Second, 50*time.Millisecond, "77 products created, piece by piece:\n%s", stderr.String())

	// A change while serve runs: one record read, one updated.
	_, err = crm.Exec(`UPDATE companies SET city = 'Lausanne', updated_at = strftime('%Y-%m-%d %H:%M:%f000', 'now') WHERE id = 1`)
	require.NoError(t, err)
	updated := waitFor("applied update", func(l map[string]any) bool { return is(l, "applied", "flow", "customers", "updated", 1.0) })
	require.Contains(t, updated, "lag", "an applied change says how far behind the target was")

	// The source table renamed under serve: each poll of the flow fails, with
	// the flow's config line and the database's reason.
	_, err = crm.Exec(`ALTER TABLE companies RENAME TO companies_old`)
	require.NoError(t, err)
	pollFailed := waitFor("poll failed", func(l map[string]any) bool { return is(l, "poll failed", "flow", "customers") })
	require.Equal(t, "ERROR", pollFailed["level"])
	require.Regexp(t, `concord\.yaml:\d+: flow customers: .*companies`, pollFailed["err"])

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-exited:
		require.NoError(t, err, "serve exits 0 on SIGTERM:\n%s", stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	require.NotNil(t, find(func(l map[string]any) bool { return is(l, "shutting down") }))
	require.NotNil(t, find(func(l map[string]any) bool { return is(l, "stopped") }))

	// Every line: JSON, documented, no internal names, nothing below info.
	docs := logCatalogue(t)
	internal := regexp.MustCompile(`concord_[a-z]|\briver|\bleg_|payload`)
	for l := range strings.Lines(stderr.String()) {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), "not JSON: %q", l)
		msg, _ := m["msg"].(string)
		d, ok := docs[msg]
		require.True(t, ok, "message %q is not in docs/operations.md: %s", msg, l)
		require.Equal(t, d.level, m["level"], "level of %q", msg)
		require.NotEqual(t, "DEBUG", m["level"], l)
		for k := range m {
			if k == "time" || k == "level" || k == "msg" {
				continue
			}
			require.Contains(t, d.keys, k, "key %q of %q is not in docs/operations.md", k, msg)
		}
		require.NotContains(t, m, "leg", l)
		require.NotRegexp(t, internal, l, "an internal name in the log")
	}
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/demo"
	"github.com/concord-sync/concord/internal/store"
	"github.com/concord-sync/concord/internal/store/sqlitestore"
)

// lockedBuffer is an io.Writer safe to read while a process writes to it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func exitCodeOf(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	require.NoError(t, err)
	return 0
}

// TestSync_Interrupt sends SIGTERM to the real binary while sync --once is
// applying a few thousand records: it exits 130 after printing the summary,
// never says "context canceled", every record written to the ERP has its event
// recorded (the running batches finished their write and their recording), and
// the next sync --once finishes the work with no duplicate.
func TestSync_Interrupt(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "concord.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(killConfig), 0o644))
	crm := openSQLite(t, filepath.Join(dir, "crm.db"))
	erp := openSQLite(t, filepath.Join(dir, "erp.db"))
	_, err := crm.Exec(`CREATE TABLE accounts (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT, email TEXT, city TEXT, erp_id TEXT, updated_at TEXT NOT NULL)`)
	require.NoError(t, err)
	// No UNIQUE on crm_id: a duplicate must be able to happen for the test to see it.
	_, err = erp.Exec(`CREATE TABLE customers (id INTEGER PRIMARY KEY AUTOINCREMENT, company TEXT, mail TEXT, town TEXT, crm_id TEXT, updated_at TEXT NOT NULL)`)
	require.NoError(t, err)
	const n = 5000
	tx, err := crm.Begin()
	require.NoError(t, err)
	now := time.Now().UTC()
	for i := range n {
		_, err := tx.Exec(`INSERT INTO accounts (name, email, city, updated_at) VALUES (?, ?, ?, ?)`,
			fmt.Sprintf("Company %d", i), fmt.Sprintf("buyer%d@example.com", i), "Berlin", now.Add(time.Duration(i)*time.Microsecond).Format(sqliteTime))
		require.NoError(t, err)
	}
	require.NoError(t, tx.Commit())
	count := func() int {
		var c int
		require.NoError(t, erp.QueryRow(`SELECT count(*) FROM customers`).Scan(&c))
		return c
	}

	cmd := exec.Command(bin, "sync", "--once", "--progress", "off", "--config", cfgPath, "--grace-period", "30s")
	var stdout, stderr lockedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	require.Eventually(t, func() bool { return count() > 0 }, 60*time.Second, 5*time.Millisecond, "the sync writes: %s", stderr.String())
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	var werr error
	select {
	case werr = <-exited:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("sync did not stop after SIGTERM: %s", stderr.String())
	}
	code := exitCodeOf(t, werr)
	out := stdout.String() + stderr.String()
	require.Equal(t, exitInterrupted, code, out)
	require.Contains(t, stdout.String(), "FLOW", "the summary is printed")
	require.Contains(t, stdout.String(), "total")
	require.Contains(t, stderr.String(), "concord: interrupted")
	require.NotContains(t, out, "context canceled")
	written := count()
	require.Less(t, written, n, "SIGTERM came mid-sync: %s", out)

	// Every record written has its event: the batches ran to their recording.
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, "concord.db"), nil)
	require.NoError(t, err)
	created, err := st.ListEvents(ctx, &store.ListEventsParams{Flow: "customers", Outcome: store.OutcomeCreated, Limit: 2 * n})
	require.NoError(t, err)
	require.NoError(t, st.Close())
	require.Len(t, created, written, "one created event per record written before the stop")

	next, err := exec.Command(bin, "sync", "--once", "--progress", "off", "--config", cfgPath).CombinedOutput()
	require.NoError(t, err, "%s", next)
	var total, distinct int
	require.NoError(t, erp.QueryRow(`SELECT count(*), count(DISTINCT crm_id) FROM customers`).Scan(&total, &distinct))
	require.Equal(t, n, distinct, "the next run finished the work")
	require.Equal(t, n, total, "no duplicate")
	t.Logf("interrupted after %d of %d records; the next run did the rest", written, n)
}

// TestDemo_Interrupt sends Ctrl-C (SIGINT) to the real binary running the demo:
// it prints "interrupted" and the summary and exits 130, never "context canceled".
func TestDemo_Interrupt(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	dir := filepath.Join(t.TempDir(), "demo")
	cmd := exec.Command(bin, "demo", "--erp", "sqlite", "--dir", dir, "--deals", "8", "--rounds", "0", "--pace", "100ms")
	pr, pw, err := os.Pipe()
	require.NoError(t, err)
	var stderr lockedBuffer
	cmd.Stdout, cmd.Stderr = pw, &stderr
	require.NoError(t, cmd.Start())
	pw.Close()
	var stdout lockedBuffer
	round := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		signalled := false
		for sc.Scan() {
			_, _ = stdout.Write(append(sc.Bytes(), '\n'))
			if !signalled && strings.HasPrefix(sc.Text(), "round 2") {
				signalled = true
				close(round)
			}
		}
	}()
	select {
	case <-round:
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("the demo did not reach round 2: %s\n%s", stdout.String(), stderr.String())
	}
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	code := exitCodeOf(t, cmd.Wait())
	out := stdout.String() + stderr.String()
	require.Equal(t, exitInterrupted, code, out)
	require.Contains(t, stdout.String(), "\ninterrupted")
	require.Contains(t, stdout.String(), "\nsummary\n")
	require.Contains(t, stderr.String(), "concord: interrupted")
	require.NotContains(t, out, "context canceled")
}

// TestDemo_Dir: the demo refuses a non-empty directory it did not create and
// touches nothing in it; it reuses its own directory, replacing only its files.
func TestDemo_Dir(t *testing.T) {
	t.Parallel()

	t.Run("ErrNotOurs", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		require.NoError(t, os.Mkdir(filepath.Join(dir, ".git"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o600))
		out, code := run(t, "demo", "--once", "--erp", "sqlite", "--dir", dir, "--deals", "3")
		require.Equal(t, exitUsage, code, out)
		require.Contains(t, out, "not created by concord demo")
		require.Contains(t, out, dir)
		b, err := os.ReadFile(filepath.Join(dir, "notes.txt"))
		require.NoError(t, err)
		require.Equal(t, "mine", string(b))
		require.DirExists(t, filepath.Join(dir, ".git"))
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		require.Len(t, entries, 2, "nothing added")
	})

	t.Run("ReusesItsOwn", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join(t.TempDir(), "demo")
		// An earlier run's directory: the marker, its files, and one of the user's.
		require.NoError(t, demo.PrepareDir(dir))
		for _, name := range []string{"concord.db", "erp.db", "concord.yaml"} {
			require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("an earlier run"), 0o600))
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o600))
		out, code := run(t, "demo", "--once", "--erp", "sqlite", "--dir", dir, "--deals", "3", "--seed", "2")
		require.Equal(t, exitOK, code, out)
		b, err := os.ReadFile(filepath.Join(dir, "notes.txt"))
		require.NoError(t, err)
		require.Equal(t, "mine", string(b), "a file the demo did not write stays")
		for _, name := range []string{"concord.db", "erp.db", "concord.yaml"} {
			b, err := os.ReadFile(filepath.Join(dir, name))
			require.NoError(t, err)
			require.NotEqual(t, "an earlier run", string(b), "%s was replaced", name)
		}
		require.FileExists(t, filepath.Join(dir, demo.DirMarker))
	})
}

// TestDemo_TrytonDatabasePerDir: the Tryton demo clones one database per
// directory, named after it, so two demo directories get two databases.
func TestDemo_TrytonDatabasePerDir(t *testing.T) {
	t.Parallel()
	url := os.Getenv("TRYTON_URL")
	if url == "" || os.Getenv("TRYTON_CLONE_CMD") == "" || os.Getenv("TRYTON_PASSWORD") == "" {
		t.Skip("TRYTON_URL, TRYTON_CLONE_CMD and TRYTON_PASSWORD are unset (bash scripts/tryton.sh env)")
	}
	if os.Getenv("TRYTON_DATABASE") != "" {
		t.Skip("TRYTON_DATABASE is set: the demo would use it instead of a clone")
	}
	ctx := context.Background()
	base := t.TempDir()
	var names []string
	for _, d := range []string{"one", "two"} {
		tr, err := demoTryton(ctx, url, filepath.Join(base, d))
		require.NoError(t, err)
		want, err := demo.DatabaseName(filepath.Join(base, d))
		require.NoError(t, err)
		require.Equal(t, want, tr.Database)
		names = append(names, tr.Database)
		t.Cleanup(func() {
			if drop := os.Getenv("TRYTON_DROP_CMD"); drop != "" {
				_ = exec.Command("sh", "-c", drop+" "+tr.Database).Run()
			}
		})
	}
	require.NotEqual(t, names[0], names[1], "two directories, two databases")
	listed := trytonDatabases(t, url)
	require.Contains(t, listed, names[0])
	require.Contains(t, listed, names[1])
}

// trytonDatabases lists the databases of the Tryton at url (common.db.list,
// which loads no module pool).
func trytonDatabases(t *testing.T, url string) []string {
	t.Helper()
	resp, err := http.Post(strings.TrimRight(url, "/")+"/", "application/json", strings.NewReader(`{"id":1,"method":"common.db.list","params":[]}`))
	require.NoError(t, err)
	defer resp.Body.Close()
	var out struct {
		Result []string `json:"result"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return out.Result
}

// TestServe_RetriesOpen starts the real binary's serve while the CRM answers
// 502 to more requests than one call's retries: serve does not exit, logs the
// system as down, comes up once the CRM answers, syncs, and exits 0 on SIGTERM.
func TestServe_RetriesOpen(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	f := &faultHandler{fault: "502", failFirst: 8}
	dir, cfgPath := hubspotBehindFaults(t, f)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	cmd := exec.Command(bin, "serve", "--config", cfgPath, "--addr", addr, "--grace-period", "10s")
	var stdout, stderr lockedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	// While the CRM is still being opened, /healthz answers and /readyz says so.
	var code int
	var body string
	require.Eventually(t, func() bool {
		code, body = get(t, "http://"+addr+"/readyz", "")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "opening system crm")
	}, 10*time.Second, 20*time.Millisecond, "readyz while opening: %d %s", code, body)
	t.Logf("readyz: %s", body)
	code, body = get(t, "http://"+addr+"/healthz", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "ok\n", body)
	code, _ = get(t, "http://"+addr+"/stats", "")
	require.Equal(t, http.StatusServiceUnavailable, code)

	erp := openSQLite(t, filepath.Join(dir, "erp.db"))
	require.Eventually(t, func() bool {
		select {
		case err := <-exited:
			t.Fatalf("serve exited while the CRM was down: %v\n%s", err, stderr.String())
		default:
		}
		var n int
		return erp.QueryRow(`SELECT count(*) FROM customers`).Scan(&n) == nil && n == 3
	}, 90*time.Second, 50*time.Millisecond, "serve came up and synced: %s", stderr.String())
	require.Regexp(t, `msg="system down, retrying" op=open attempt=1 .*system=crm`, stderr.String())
	require.Contains(t, stderr.String(), `msg="system answered again" op=open`)
	require.Eventually(t, func() bool {
		code, body = get(t, "http://"+addr+"/readyz", "")
		return code == http.StatusOK
	}, 10*time.Second, 50*time.Millisecond, "ready once open: %d %s", code, body)

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-exited:
		require.Equal(t, 0, exitCodeOf(t, err), stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not stop: %s", stderr.String())
	}
	require.NotContains(t, stderr.String(), "context canceled")
}

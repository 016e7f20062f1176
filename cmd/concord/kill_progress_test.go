package main

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/sandbox/hubspot"
)

// progressConfig moves accounts from a SQLite CRM into HubSpot (the sandbox
// behind a slow proxy) in queue jobs of 500 records.
const progressConfig = `version: 1
owner: test@example.com
store: {driver: sqlite, path: concord.db}
sync:
  batch_size: 500
  retry: {max_attempts: 5, backoff: 10ms, max_backoff: 100ms}
systems:
  - name: crm
    connector: sql
    settings:
      driver: sqlite
      path: crm.db
      entities:
        account:
          table: accounts
          id: id
          id_kind: auto
          updated_at: updated_at
          link: hub_id
          fields: {name: name, city: city}
  - name: hub
    connector: hubspot
    settings:
      base_url: %s
      token: file:token
      currency: USD
      create_link_property: true
      entities:
        account: {link_property: crm_id, fields: {name: name, city: city}}
entities:
  account:
    fields:
      name: {owner: crm, required: true}
      city: {owner: crm}
flows:
  # The target starts empty, so there is nothing to match: without this every
  # restart would first read the slow target in full to build its match index.
  - {name: customers, source: crm, target: hub, entity: account, trigger: change, fields: [name, city], unlinked: create}
`

// Shape of TestKill9_Progress. A HubSpot call takes progressLatency, so one job
// of 500 records costs at least ten calls (five batch reads to find earlier
// creates, five batch upserts), about 2 s. A run is killed a random
// progressWindowMin..progressWindowMax after its first call reached HubSpot (so
// a slow start on a loaded machine does not eat the window), always before a
// whole job can be written. The kills stop when every record is recorded, after
// progressMaxRounds runs or after progressBudget, whichever comes first.
const (
	progressRecords   = 1000
	progressLatency   = 200 * time.Millisecond
	progressWindowMin = 800 * time.Millisecond
	progressWindowMax = 1600 * time.Millisecond
	progressMaxRounds = 60
	progressBudget    = 75 * time.Second
)

// slowTarget passes every request to next after a fixed delay, counting the
// requests and the batch upserts (the writes of new records).
type slowTarget struct {
	next     http.Handler
	delay    time.Duration
	requests atomic.Int64
	upserts  atomic.Int64
}

func (s *slowTarget) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	if strings.HasSuffix(r.URL.Path, "/batch/upsert") {
		s.upserts.Add(1)
	}
	// The delay does not stop when the client goes away: like a real slow
	// server, the write still lands after a killed client stopped waiting.
	time.Sleep(s.delay)
	s.next.ServeHTTP(w, r)
}

// countLinks reads how many CRM accounts Concord recorded as present in HubSpot,
// over a read-only connection of its own (the process is dead when it runs).
func countLinks(t *testing.T, path string) int {
	t.Helper()
	if _, err := os.Stat(path); os.IsNotExist(err) {
		return 0
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	require.NoError(t, err)
	defer db.Close()
	var n int
	err = db.QueryRow(`SELECT count(*) FROM concord_link WHERE system = 'hub' AND entity = 'account'`).Scan(&n)
	if err != nil && strings.Contains(err.Error(), "no such table") {
		return 0 // killed before the store's first migration committed
	}
	require.NoError(t, err)
	return n
}

// TestKill9_Progress runs the real binary against a slow target and kills it
// with SIGKILL shortly after each start, before a whole queue job could be
// written, and asserts progress: what Concord recorded grows from kill to kill
// and reaches every record while the kills go on. A last run to completion must
// then leave every record in the target exactly once with the CRM's latest
// values and no dead letter.
func TestKill9_Progress(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	dir := t.TempDir()
	ctx := context.Background()

	cfg := hubspot.DefaultConfig()
	cfg.Token = "pat-test"
	cfg.SearchDelay = 10 * time.Millisecond
	sandbox := hubspot.New(cfg)
	t.Cleanup(func() { _ = sandbox.Close() })
	target := &slowTarget{next: sandbox.Handler(), delay: progressLatency}
	hs := httptest.NewServer(target)
	t.Cleanup(hs.Close)

	require.NoError(t, os.WriteFile(filepath.Join(dir, "token"), []byte("pat-test\n"), 0o600))
	cfgPath := filepath.Join(dir, "concord.yaml")
	require.NoError(t, os.WriteFile(cfgPath, fmt.Appendf(nil, progressConfig, hs.URL), 0o644))
	storePath := filepath.Join(dir, "concord.db")

	crm := openSQLite(t, filepath.Join(dir, "crm.db"))
	_, err := crm.Exec(`CREATE TABLE accounts (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT, city TEXT, hub_id TEXT, updated_at TEXT NOT NULL)`)
	require.NoError(t, err)
	tx, err := crm.Begin()
	require.NoError(t, err)
	now := time.Now().UTC()
	for i := range progressRecords {
		_, err := tx.Exec(`INSERT INTO accounts (name, city, updated_at) VALUES (?, ?, ?)`,
			fmt.Sprintf("Company %d", i), "Berlin", now.Add(time.Duration(i)*time.Microsecond).Format(sqliteTime))
		require.NoError(t, err)
	}
	require.NoError(t, tx.Commit())

	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(seed, 2))
	began := time.Now()
	var counts []int
	kills, grew := 0, 0
	last := 0
	for round := 0; round < progressMaxRounds && last < progressRecords && time.Since(began) < progressBudget; round++ {
		// Users keep editing the CRM between runs.
		for range 10 {
			id := 1 + rnd.IntN(progressRecords)
			_, err := crm.Exec(`UPDATE accounts SET city = ?, updated_at = ? WHERE id = ?`,
				fmt.Sprintf("City %d-%d", round, id), time.Now().UTC().Format(sqliteTime), id)
			require.NoError(t, err)
		}
		before := target.requests.Load()
		cmd := exec.CommandContext(ctx, bin, "sync", "--once", "--progress", "off", "--config", cfgPath)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		require.NoError(t, cmd.Start())
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		killed, err := killAfterFirstCall(cmd, exited, func() bool { return target.requests.Load() > before },
			progressWindowMin+time.Duration(rnd.Int64N(int64(progressWindowMax-progressWindowMin))))
		require.NoError(t, err, "run %d: %s", round, stderr.String())
		if killed {
			kills++
		}
		n := countLinks(t, storePath)
		require.GreaterOrEqual(t, n, last, "run %d: the recorded count went back", round)
		if n > last {
			grew++
		}
		counts = append(counts, n)
		last = n
	}
	took := time.Since(began)
	t.Logf("%d runs, %d killed, %d grew, %s under kills; recorded after each run: %v; %d requests, %d batch upserts",
		len(counts), kills, grew, took.Round(100*time.Millisecond), counts, target.requests.Load(), target.upserts.Load())
	require.Positive(t, kills, "no run was killed: the test proved nothing")
	require.Equal(t, progressRecords, last,
		"every record is recorded while the process is killed every %s-%s: after %d runs it was %v", progressWindowMin, progressWindowMax, len(counts), counts)
	require.GreaterOrEqual(t, 2*grew, len(counts), "the recorded count grew in at least half the runs: %v", counts)

	// A last run to completion applies the edits of the last rounds.
	out, err := exec.CommandContext(ctx, bin, "sync", "--once", "--progress", "off", "--config", cfgPath).CombinedOutput()
	require.NoError(t, err, "%s", out)
	t.Logf("total %s; last run:\n%s", time.Since(began).Round(100*time.Millisecond), out)

	companies := sandbox.Objects("companies")
	byCRM := make(map[string]hubspot.Object, len(companies))
	for _, c := range companies {
		key := c.Properties["crm_id"]
		require.NotNil(t, key, "company %s has no crm_id", c.ID)
		_, dup := byCRM[*key]
		require.False(t, dup, "account %s is in HubSpot twice", *key)
		byCRM[*key] = c
	}
	require.Len(t, companies, progressRecords, "every CRM account is in HubSpot once")

	rows, err := crm.Query(`SELECT id, name, city FROM accounts`)
	require.NoError(t, err)
	defer rows.Close()
	checked := 0
	for rows.Next() {
		var id int
		var name, city string
		require.NoError(t, rows.Scan(&id, &name, &city))
		c, ok := byCRM[fmt.Sprint(id)]
		require.True(t, ok, "account %d is missing in HubSpot", id)
		require.Equal(t, name, deref(c.Properties["name"]), "account %d name", id)
		require.Equal(t, city, deref(c.Properties["city"]), "account %d city: the latest CRM value", id)
		checked++
	}
	require.NoError(t, rows.Err())
	require.Equal(t, progressRecords, checked)

	db, err := sql.Open("sqlite", "file:"+storePath+"?mode=ro&_pragma=busy_timeout(5000)")
	require.NoError(t, err)
	defer db.Close()
	var dead int
	require.NoError(t, db.QueryRow(`SELECT count(*) FROM concord_dead_letter`).Scan(&dead))
	require.Zero(t, dead, "no dead letter: a kill is not a failure")
}

// killAfterFirstCall waits for the run to reach the target (reached), then
// kills it after window. It reports whether the run was killed; an error is a
// run that ended on its own with a failure, or never reached the target.
func killAfterFirstCall(cmd *exec.Cmd, exited <-chan error, reached func() bool, window time.Duration) (bool, error) {
	deadline := time.After(30 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !reached() {
		select {
		case err := <-exited:
			return false, err
		case <-deadline:
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-exited
			return false, fmt.Errorf("run did not reach the target in 30 s")
		case <-tick.C:
		}
	}
	select {
	case err := <-exited:
		return false, err
	case <-time.After(window):
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			return false, fmt.Errorf("kill: %w", err)
		}
		<-exited
		return true, nil
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

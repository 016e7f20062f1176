package main

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"
)

// buildBinary compiles concord once per test binary run.
func buildBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "concord-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "concord")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	require.NoError(t, binErr)
	return binPath
}

const killConfig = `version: 1
owner: test@example.com
store: {driver: sqlite, path: concord.db}
sync:
  batch_size: 100
  retry: {max_attempts: 10, backoff: 10ms, max_backoff: 100ms}
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
          link: erp_id
          fields: {name: name, email: email, city: city}
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
          fields: {name: company, email: mail, city: town}
entities:
  account:
    fields:
      name:  {owner: crm, required: true}
      email: {owner: crm, clean: [email]}
      city:  {owner: crm}
flows:
  - {name: customers, source: crm, target: erp, entity: account, trigger: change, fields: [name, email, city]}
`

const sqliteTime = "2006-01-02 15:04:05.000000"

// TestKill9 runs the real binary, kills it with SIGKILL at random points of a sync
// of a few thousand records while the CRM keeps changing, restarts it, and checks
// that every record exists exactly once in the ERP with the CRM's latest values:
// no duplicates, nothing lost.
func TestKill9(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "concord.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(killConfig), 0o644))
	ctx := context.Background()

	crm := openSQLite(t, filepath.Join(dir, "crm.db"))
	erp := openSQLite(t, filepath.Join(dir, "erp.db"))
	_, err := crm.Exec(`CREATE TABLE accounts (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT, email TEXT, city TEXT, erp_id TEXT, updated_at TEXT NOT NULL)`)
	require.NoError(t, err)
	// No UNIQUE on crm_id: a duplicate must be able to happen for the test to see it.
	_, err = erp.Exec(`CREATE TABLE customers (id INTEGER PRIMARY KEY AUTOINCREMENT, company TEXT, mail TEXT, town TEXT, crm_id TEXT, updated_at TEXT NOT NULL)`)
	require.NoError(t, err)

	const n = 3000
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(seed, 1))
	tx, err := crm.Begin()
	require.NoError(t, err)
	now := time.Now().UTC()
	for i := range n {
		_, err := tx.Exec(`INSERT INTO accounts (name, email, city, updated_at) VALUES (?, ?, ?, ?)`,
			fmt.Sprintf("Company %d", i), fmt.Sprintf("buyer%d@example.com", i), "Berlin", now.Add(time.Duration(i)*time.Microsecond).Format(sqliteTime))
		require.NoError(t, err)
	}
	require.NoError(t, tx.Commit())

	kills := 0
	for round := range 12 {
		// Users keep editing the CRM between runs.
		for range 50 {
			id := 1 + rnd.IntN(n)
			_, err := crm.Exec(`UPDATE accounts SET city = ?, updated_at = ? WHERE id = ?`, fmt.Sprintf("City %d-%d", round, id), time.Now().UTC().Format(sqliteTime), id)
			require.NoError(t, err)
		}
		cmd := exec.CommandContext(ctx, bin, "sync", "--once", "--progress", "off", "--config", cfgPath)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		require.NoError(t, cmd.Start())
		delay := time.Duration(20+rnd.IntN(600)) * time.Millisecond
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		select {
		case err := <-exited:
			require.NoError(t, err, "run %d ended before the kill: %s", round, stderr.String())
		case <-time.After(delay):
			require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
			<-exited
			kills++
		}
	}
	t.Logf("killed %d of 12 runs", kills)
	require.Positive(t, kills, "no run was killed: the test proved nothing")

	// A last run to completion.
	out, err := exec.CommandContext(ctx, bin, "sync", "--once", "--progress", "off", "--config", cfgPath).CombinedOutput()
	require.NoError(t, err, "%s", out)

	var total, distinct int
	require.NoError(t, erp.QueryRow(`SELECT count(*), count(DISTINCT crm_id) FROM customers`).Scan(&total, &distinct))
	require.Equal(t, n, distinct, "every CRM record is in the ERP")
	require.Equal(t, n, total, "no CRM record is in the ERP twice")

	rows, err := crm.Query(`SELECT a.id, a.name, a.email, a.city, c.company, c.mail, c.town FROM accounts a LEFT JOIN erp.customers c ON c.crm_id = CAST(a.id AS TEXT)`)
	if err != nil && strings.Contains(err.Error(), "no such table") {
		t.Fatal(err)
	}
	require.NoError(t, err)
	defer rows.Close()
	checked := 0
	for rows.Next() {
		var id int
		var name, email, city string
		var company, mail, town sql.NullString
		require.NoError(t, rows.Scan(&id, &name, &email, &city, &company, &mail, &town))
		require.Equal(t, name, company.String, "account %d name", id)
		require.Equal(t, email, mail.String, "account %d email", id)
		require.Equal(t, city, town.String, "account %d city: the latest CRM value", id)
		checked++
	}
	require.NoError(t, rows.Err())
	require.Equal(t, n, checked)
}

func openSQLite(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	if strings.HasSuffix(path, "crm.db") {
		// Let the CRM connection see the ERP for the final comparison.
		_, err = db.Exec(`ATTACH DATABASE ? AS erp`, filepath.Join(filepath.Dir(path), "erp.db"))
		require.NoError(t, err)
	}
	return db
}

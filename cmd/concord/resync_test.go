package main

import (
	"bytes"
	"context"
	"encoding/json"
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

	"github.com/concord-sync/concord/examples/quickstart"
)

// runErr is run that also returns stderr.
func runErr(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := newRootCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	code := exitOK
	if err != nil {
		out.WriteString(err.Error())
		code = exitRuntime
		var ee *exitError
		if asExit(err, &ee) {
			code = ee.code
		}
	}
	return out.String(), errOut.String(), code
}

// addZip is the mapping change of the tests: the CRM's companies gain a zip
// column (filled by a bulk import that disables the updated_at trigger, as
// import tools do, so no poll sees it), and the customers flow now moves zip
// into the ERP's postal_code.
func addZip(t *testing.T, dir string) {
	t.Helper()
	crm := openSQLite(t, filepath.Join(dir, "crm.db"))
	var trigger string
	require.NoError(t, crm.QueryRow(`SELECT sql FROM sqlite_schema WHERE type = 'trigger' AND name = 'companies_updated_at_touch'`).Scan(&trigger))
	for _, stmt := range []string{
		`ALTER TABLE companies ADD COLUMN zip TEXT`,
		`DROP TRIGGER companies_updated_at_touch`,
		`UPDATE companies SET zip = printf('%05d', id * 7)`,
		trigger,
	} {
		_, err := crm.Exec(stmt)
		require.NoError(t, err, stmt)
	}
	path := filepath.Join(dir, "concord.yaml")
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	cfg := strings.Replace(string(raw), "            city: city\n", "            city: city\n            zip: zip\n", 1)
	cfg = strings.Replace(cfg, "            city: city\n            country: country\n        product:\n          table: products\n          id: product_id",
		"            city: city\n            zip: postal_code\n            country: country\n        product:\n          table: products\n          id: product_id", 1)
	cfg = strings.Replace(cfg, "      city:          {owner: crm, clean: [trim]}\n", "      city:          {owner: crm, clean: [trim]}\n      zip:           {owner: crm, clean: [trim]}\n", 1)
	cfg = strings.Replace(cfg, "fields: [name, contact_name, contact_title, phone, city, country]", "fields: [name, contact_name, contact_title, phone, city, zip, country]", 1)
	for _, want := range []string{"zip: zip\n", "zip: postal_code\n", "{owner: crm, clean: [trim]}\n      country", "city, zip, country]"} {
		require.Contains(t, cfg, want, "the config changed as intended")
	}
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o644))
}

// TestCLI_Resync: a column newly mapped into a flow is shown by plan for the
// records already synced, without a write; sync --once --resync fills it for
// every linked record, creating none, with its progress and total; a second
// resync writes nothing.
func TestCLI_Resync(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, quickstart.Setup(context.Background(), dir, false))
	cfg := filepath.Join(dir, "concord.yaml")
	out, code := run(t, "sync", "--once", "--config", cfg, "--progress", "off")
	require.Equal(t, exitOK, code, out)
	out, code = run(t, "plan", "--config", cfg)
	require.Equal(t, exitOK, code, out)
	require.NotContains(t, out, "linked records", "nothing changed: no comparison")

	addZip(t, dir)
	erp := openSQLite(t, filepath.Join(dir, "erp.db"))
	count := func(q string) int {
		var n int
		require.NoError(t, erp.QueryRow(q).Scan(&n))
		return n
	}
	customers := count(`SELECT count(*) FROM customers`)
	linked := count(`SELECT count(*) FROM customers WHERE crm_id IS NOT NULL`)
	require.Equal(t, 29, linked)

	out, code = run(t, "plan", "--config", cfg, "--limit", "5")
	require.Equal(t, exitOK, code, out)
	require.Contains(t, out, "flow customers: the mapping changed since its records were last synced (fields added: zip; settings of crm changed; settings of erp changed)")
	require.Contains(t, out, "flow customers: 29 linked records, 29 would change (zip 29)")
	require.Contains(t, out, `zip                "" -> "00007"`)
	require.Contains(t, out, "... 24 more records not shown (--limit 5)")
	require.Contains(t, out, "apply: concord sync --once --resync customers")
	require.NotContains(t, out, "flow products", "its mapping did not change")

	out, code = run(t, "plan", "--config", cfg, "--json")
	require.Equal(t, exitOK, code, out)
	var plans []struct {
		Leg     string `json:"leg"`
		Action  string `json:"action"`
		Preview string `json:"preview"`
		Changes []struct {
			Field string `json:"field"`
		} `json:"changes"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &plans))
	require.Len(t, plans, 29)
	for _, p := range plans {
		require.Equal(t, [3]string{"customers", "update", "resync"}, [3]string{p.Leg, p.Action, p.Preview})
		require.Len(t, p.Changes, 1)
		require.Equal(t, "zip", p.Changes[0].Field)
	}
	require.Zero(t, count(`SELECT count(*) FROM customers WHERE postal_code IS NOT NULL AND crm_id IS NOT NULL`), "plan wrote nothing")

	// A plain sync reads no change: the records keep their old values.
	out, code = run(t, "sync", "--once", "--config", cfg, "--progress", "off")
	require.Equal(t, exitOK, code, out)
	require.Zero(t, count(`SELECT count(*) FROM customers WHERE postal_code IS NOT NULL AND crm_id IS NOT NULL`))

	out, errOut, code := runErr(t, "sync", "--once", "--resync", "customers", "--config", cfg)
	require.Equal(t, exitOK, code, out)
	require.Regexp(t, `customers\s+0\s+0\s+29\s+0`, out)
	require.Contains(t, out, "resync customers: 29 of 29 linked records compared, 29 updated (finished)")
	require.Contains(t, errOut, "resync customers: 0/29 linked records compared (0%)", "the progress has a total")
	require.Contains(t, errOut, "resync customers: 29/29 linked records compared (100%), 29 updated, done")
	require.Equal(t, customers, count(`SELECT count(*) FROM customers`), "a resync creates nothing")
	require.Equal(t, linked, count(`SELECT count(*) FROM customers WHERE postal_code IS NOT NULL AND crm_id IS NOT NULL`))
	require.Equal(t, 1, count(`SELECT count(*) FROM customers WHERE crm_id = '1' AND postal_code = '00007'`))

	out, code = run(t, "plan", "--config", cfg)
	require.Equal(t, exitOK, code, out)
	require.NotContains(t, out, "mapping changed")
	require.NotContains(t, out, "linked records")

	out, code = run(t, "sync", "--once", "--resync", "customers", "--config", cfg, "--progress", "off")
	require.Equal(t, exitOK, code, out)
	require.Regexp(t, `customers\s+0\s+0\s+0\s+29`, out, "the second resync writes nothing")
	require.Contains(t, out, "resync customers: 29 of 29 linked records compared, 0 updated (finished)")

	out, code = run(t, "plan", "--config", cfg, "--resync", "customers")
	require.Equal(t, exitOK, code, out)
	require.Contains(t, out, "flow customers: 29 linked records, 0 would change")

	_, code = run(t, "sync", "--once", "--resync", "nosuch", "--config", cfg)
	require.Equal(t, exitUsage, code)
	_, code = run(t, "plan", "--resync", "nosuch", "--config", cfg)
	require.Equal(t, exitUsage, code)
}

// TestCLI_SweepPreview: plan shows what a schedule flow's next sweep would put
// back: a value edited by hand in the target.
func TestCLI_SweepPreview(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, quickstart.Setup(context.Background(), dir, false))
	cfg := filepath.Join(dir, "concord.yaml")
	raw, err := os.ReadFile(cfg)
	require.NoError(t, err)
	sched := strings.Replace(string(raw), "    entity: account\n    trigger: change\n", "    entity: account\n    trigger: schedule\n    every: 1h\n", 1)
	require.NotEqual(t, string(raw), sched)
	require.NoError(t, os.WriteFile(cfg, []byte(sched), 0o644))
	out, code := run(t, "sync", "--once", "--config", cfg, "--progress", "off")
	require.Equal(t, exitOK, code, out)
	out, code = run(t, "plan", "--config", cfg)
	require.Equal(t, exitOK, code, out)
	require.Contains(t, out, "next sweep of flow customers would put back: 0 of 29 linked records")

	erp := openSQLite(t, filepath.Join(dir, "erp.db"))
	_, err = erp.Exec(`UPDATE customers SET city = 'Edited by hand' WHERE crm_id = '1'`)
	require.NoError(t, err)
	out, code = run(t, "plan", "--config", cfg)
	require.Equal(t, exitOK, code, out)
	require.Contains(t, out, "next sweep of flow customers would put back: 1 of 29 linked records (city 1)")
	require.Contains(t, out, `city               "Edited by hand" -> "London"`)
	require.NotContains(t, out, "apply: concord sync", "a sweep needs no resync")
	var city string
	require.NoError(t, erp.QueryRow(`SELECT city FROM customers WHERE crm_id = '1'`).Scan(&city))
	require.Equal(t, "Edited by hand", city, "plan wrote nothing")

	out, code = run(t, "sync", "--once", "--config", cfg, "--progress", "off")
	require.Equal(t, exitOK, code, out)
	require.NoError(t, erp.QueryRow(`SELECT city FROM customers WHERE crm_id = '1'`).Scan(&city))
	require.Equal(t, "London", city, "the sweep put it back")
}

// TestKill9_Resync: a resync of 3,000 linked records killed with SIGKILL at
// random points, then finished by a plain sync --once, writes every record's
// new column exactly once and creates nothing.
func TestKill9_Resync(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("slow: runs the binary repeatedly")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "concord.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(killConfig), 0o644))
	ctx := context.Background()
	crm := openSQLite(t, filepath.Join(dir, "crm.db"))
	erp := openSQLite(t, filepath.Join(dir, "erp.db"))
	_, err := crm.Exec(`CREATE TABLE accounts (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT, email TEXT, city TEXT, phone TEXT, erp_id TEXT, updated_at TEXT NOT NULL)`)
	require.NoError(t, err)
	_, err = erp.Exec(`CREATE TABLE customers (id INTEGER PRIMARY KEY AUTOINCREMENT, company TEXT, mail TEXT, town TEXT, tel TEXT, crm_id TEXT, updated_at TEXT NOT NULL)`)
	require.NoError(t, err)
	// Every write of the new column, however often it happens.
	_, err = erp.Exec(`CREATE TABLE tel_writes (customer INTEGER NOT NULL)`)
	require.NoError(t, err)
	_, err = erp.Exec(`CREATE TRIGGER tel_written AFTER UPDATE OF tel ON customers BEGIN INSERT INTO tel_writes VALUES (NEW.id); END`)
	require.NoError(t, err)

	const n = 3000
	tx, err := crm.Begin()
	require.NoError(t, err)
	now := time.Now().UTC()
	for i := range n {
		_, err := tx.Exec(`INSERT INTO accounts (name, email, city, phone, updated_at) VALUES (?, ?, ?, ?, ?)`,
			fmt.Sprintf("Company %d", i), fmt.Sprintf("buyer%d@example.com", i), "Berlin", fmt.Sprintf("+4930%07d", i), now.Add(time.Duration(i)*time.Microsecond).Format(sqliteTime))
		require.NoError(t, err)
	}
	require.NoError(t, tx.Commit())
	out, err := exec.CommandContext(ctx, bin, "sync", "--once", "--progress", "off", "--config", cfgPath).CombinedOutput()
	require.NoError(t, err, "%s", out)

	// The mapping change: the flow now moves phone into the ERP's tel.
	cfg := strings.Replace(killConfig, "fields: {name: company, email: mail, city: town}", "fields: {name: company, email: mail, city: town, phone: tel}", 1)
	cfg = strings.Replace(cfg, "fields: {name: name, email: email, city: city}", "fields: {name: name, email: email, city: city, phone: phone}", 1)
	cfg = strings.Replace(cfg, "      city:  {owner: crm}\n", "      city:  {owner: crm}\n      phone: {owner: crm}\n", 1)
	cfg = strings.Replace(cfg, "fields: [name, email, city]}", "fields: [name, email, city, phone]}", 1)
	require.NotEqual(t, killConfig, cfg)
	require.NoError(t, os.WriteFile(cfgPath, []byte(cfg), 0o644))

	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(seed, 2))
	kills := 0
	var allErr strings.Builder // every run's stderr: a run killed before its first progress line prints none
	written := 0
	for round := range 8 {
		// Killed 100-600 ms in; while nothing was written yet (a loaded
		// machine starts the binary slowly) a little later each round.
		wait := time.Duration(100+rnd.IntN(500)) * time.Millisecond
		if written == 0 {
			wait += time.Duration(250*round) * time.Millisecond
		}
		cmd := exec.CommandContext(ctx, bin, "sync", "--once", "--resync", "customers", "--config", cfgPath)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		require.NoError(t, cmd.Start())
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		select {
		case err := <-exited:
			require.NoError(t, err, "run %d: %s", round, stderr.String())
		case <-time.After(wait):
			require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
			<-exited
			kills++
		}
		allErr.WriteString(stderr.String())
		require.NoError(t, erp.QueryRow(`SELECT count(*) FROM tel_writes`).Scan(&written))
		t.Logf("run %d: %d records written so far", round, written)
		if written > n/2 {
			break // the rest is for the plain sync
		}
	}
	t.Logf("killed %d runs", kills)
	require.Positive(t, kills, "no run was killed: the test proved nothing")
	require.Contains(t, allErr.String(), fmt.Sprintf("/%d linked records compared", n), "the progress line has the total")

	// A plain sync finishes the resync.
	out, err = exec.CommandContext(ctx, bin, "sync", "--once", "--progress", "off", "--config", cfgPath).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), fmt.Sprintf("resync customers: %d of %d linked records compared", n, n))
	require.Contains(t, string(out), "(finished)")

	var total, distinct, writes, writtenOnce int
	require.NoError(t, erp.QueryRow(`SELECT count(*), count(DISTINCT crm_id) FROM customers`).Scan(&total, &distinct))
	require.Equal(t, n, total, "a resync creates nothing")
	require.Equal(t, n, distinct)
	require.NoError(t, erp.QueryRow(`SELECT count(*), count(DISTINCT customer) FROM tel_writes`).Scan(&writes, &writtenOnce))
	require.Equal(t, n, writtenOnce, "every record written")
	require.Equal(t, n, writes, "every record written exactly once")
	var wrong int
	require.NoError(t, crm.QueryRow(`SELECT count(*) FROM accounts a JOIN erp.customers c ON c.crm_id = CAST(a.id AS TEXT) WHERE c.tel IS NOT a.phone`).Scan(&wrong))
	require.Zero(t, wrong)

	out, err = exec.CommandContext(ctx, bin, "plan", "--config", cfgPath).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.NotContains(t, string(out), "mapping changed", "the resync remembered the mapping")
}

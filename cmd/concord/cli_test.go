package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/examples/quickstart"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
)

// run executes concord in-process and returns stdout and the exit code.
func run(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := newRootCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	if err != nil {
		out.WriteString(err.Error())
	}
	code := exitOK
	if err != nil {
		code = exitRuntime
		var ee *exitError
		if ok := asExit(err, &ee); ok {
			code = ee.code
		}
	}
	return out.String(), code
}

func TestCLI_Validate(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		require.NoError(t, quickstart.Setup(context.Background(), dir, false))
		out, code := run(t, "validate", "--config", filepath.Join(dir, "concord.yaml"))
		require.Equal(t, exitOK, code, out)
		require.Contains(t, out, "valid (owner integration.owner@example.com; 2 systems, 2 entities, 2 flows")
	})

	t.Run("ErrEveryProblemWithPosition", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		cfg := strings.NewReplacer(
			"owner: integration.owner@example.com\n", "",
			"      contact_title: {owner: crm, clean: [trim]}\n", "      contact_title: {clean: [trim]}\n",
			"      stock:      {owner: erp}\n", "      stock:      {owner: crm}\n",
		).Replace(string(quickstart.Config))
		path := filepath.Join(dir, "concord.yaml")
		require.NoError(t, os.WriteFile(path, []byte(cfg), 0o644))
		out, code := run(t, "validate", "--config", path)
		require.Equal(t, exitUsage, code, out)
		require.Contains(t, out, path+":")
		require.Contains(t, out, "owner")
		require.Contains(t, out, "contact_title")
		require.Contains(t, out, "stock")
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			parts := strings.SplitN(strings.TrimPrefix(line, path+":"), ":", 3)
			require.Len(t, parts, 3, "line %q is FILE:LINE:COL: message", line)
			_, err := strconv.Atoi(parts[0])
			require.NoError(t, err, "line %q", line)
		}
	})

	t.Run("ErrUsage", func(t *testing.T) {
		t.Parallel()
		_, code := run(t, "sync")
		require.Equal(t, exitUsage, code)
		_, code = run(t, "events", "--no-such-flag")
		require.Equal(t, exitUsage, code)
	})
}

// TestCLI_Quickstart drives the commands a user runs on the quickstart: plan
// writes nothing, sync applies, events/replay/links/quarantine show it.
func TestCLI_Quickstart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, quickstart.Setup(context.Background(), dir, false))
	cfg := filepath.Join(dir, "concord.yaml")
	erp := openSQLite(t, filepath.Join(dir, "erp.db"))
	count := func(db *sql.DB, q string) int {
		var n int
		require.NoError(t, db.QueryRow(q).Scan(&n))
		return n
	}
	customersBefore := count(erp, `SELECT count(*) FROM customers`)

	out, code := run(t, "plan", "--config", cfg, "--json")
	require.Equal(t, exitOK, code, out)
	var plans []struct {
		Leg    string `json:"leg"`
		Action string `json:"action"`
		Field  string `json:"field"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &plans))
	actions := map[string]int{}
	for _, p := range plans {
		actions[p.Leg+"/"+p.Action]++
	}
	require.Equal(t, map[string]int{"customers/create": 29, "customers/quarantine": 1, "products/create": 77}, actions)
	require.Equal(t, customersBefore, count(erp, `SELECT count(*) FROM customers`), "plan wrote nothing")

	out, code = run(t, "sync", "--once", "--config", cfg, "--progress", "off")
	require.Equal(t, exitOK, code, out)
	require.Regexp(t, `customers\s+30\s+29\s+0\s+0\s+0\s+0\s+1\s+0\s+0`, out)
	require.Equal(t, customersBefore+29, count(erp, `SELECT count(*) FROM customers`))

	// A sales rep fixes a company's city in the CRM; plan shows the field, sync moves it.
	crm := openSQLite(t, filepath.Join(dir, "crm.db"))
	_, err := crm.Exec(`UPDATE companies SET city = 'Manchester', updated_at = ? WHERE id = 1`, time.Now().UTC().Format(sqliteTime))
	require.NoError(t, err)
	out, code = run(t, "plan", "--config", cfg)
	require.Equal(t, exitOK, code, out)
	require.Contains(t, out, `city               "London" -> "Manchester"`)
	out, code = run(t, "sync", "--once", "--config", cfg, "--progress", "off")
	require.Equal(t, exitOK, code, out)
	require.Equal(t, 1, count(erp, `SELECT count(*) FROM customers WHERE crm_id = '1' AND city = 'Manchester'`))

	out, code = run(t, "events", "--config", cfg, "--status", "updated", "--json")
	require.Equal(t, exitOK, code, out)
	var evs []eventJSON
	require.NoError(t, json.Unmarshal([]byte(out), &evs))
	require.Len(t, evs, 1)
	require.Equal(t, "1", evs[0].SourceID)
	require.Contains(t, string(evs[0].Plan), "Manchester")

	out, code = run(t, "replay", "--config", cfg, strconv.FormatInt(evs[0].ID, 10))
	require.Equal(t, exitOK, code, out)
	require.Contains(t, out, ": unchanged")

	out, code = run(t, "events", "--config", cfg, "show", strconv.FormatInt(evs[0].ID, 10))
	require.Equal(t, exitOK, code, out)
	require.Contains(t, out, `"snapshot"`)
	require.Contains(t, out, `"config_version"`)

	out, code = run(t, "quarantine", "--config", cfg)
	require.Equal(t, exitOK, code, out)
	require.Contains(t, out, "required field is blank")

	out, code = run(t, "links", "--config", cfg, "--entity", "product", "--system", "crm", "--json")
	require.Equal(t, exitOK, code, out)
	var links []map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &links))
	require.Len(t, links, 77)

	out, code = run(t, "deadletter", "list", "--config", cfg, "--json")
	require.Equal(t, exitOK, code, out)
	require.JSONEq(t, `[]`, out)

	_, code = run(t, "events", "--config", cfg, "show", "999999")
	require.Equal(t, exitRuntime, code)
}

// TestCLI_DeadLetterRetryWhileServing: with serve holding the SQLite store's
// queue, sync --once refuses to start and deadletter retry only queues.
func TestCLI_DeadLetterRetryWhileServing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, quickstart.Setup(context.Background(), dir, false))
	cfg := filepath.Join(dir, "concord.yaml")
	out, code := run(t, "sync", "--once", "--config", cfg, "--progress", "off")
	require.Equal(t, exitOK, code, out)
	g := &globals{config: cfg, logLevel: "error", logFormat: "text"}
	a, err := openApp(context.Background(), g)
	require.NoError(t, err)
	defer a.Close(context.Background())
	require.NoError(t, a.queue.Start(context.Background(), a.eng)) // stands for a running serve

	out, code = run(t, "sync", "--once", "--config", cfg, "--progress", "off")
	require.Equal(t, exitRuntime, code)
	require.Contains(t, out, "another concord process is running")

	evs, err := a.store.ListEvents(context.Background(), &store.ListEventsParams{Flow: "customers", Outcome: store.OutcomeCreated, Limit: 1})
	require.NoError(t, err)
	require.Len(t, evs, 1)
	out, code = run(t, "replay", "--config", cfg, strconv.FormatInt(evs[0].ID, 10))
	require.Equal(t, exitOK, code, out)
	require.Contains(t, out, "queued for replay; the running concord serve applies it")
	require.Eventually(t, func() bool {
		replays, err := a.store.ListEvents(context.Background(), &store.ListEventsParams{Flow: "customers", SourceID: evs[0].SourceID, Limit: 5})
		return err == nil && len(replays) > 0 && replays[0].Replay == evs[0].ID
	}, 10*time.Second, 20*time.Millisecond, "serve applied the replay")

	_, err = a.store.InsertDeadLetters(context.Background(), []store.DeadLetter{{Flow: "customers", Entity: model.Account, System: "crm", ExternalID: "1",
		Snapshot: []byte(`{"entity":"account","id":"1","updated_at":"2026-01-01T00:00:00Z","fields":{"name":{"k":"text","s":"Exotic Liquids"}}}`), Reason: "test", Attempts: 5, CreatedAt: time.Now()}})
	require.NoError(t, err)
	out, code = run(t, "deadletter", "retry", "--all", "--config", cfg)
	require.Equal(t, exitOK, code, out)
	require.Contains(t, out, "re-queued 1 dead letters")
	require.Contains(t, out, "the running concord serve applies them")
	require.Eventually(t, func() bool {
		left, err := a.store.ListDeadLetters(context.Background(), &store.ListDeadLettersParams{})
		return err == nil && len(left) == 0
	}, 10*time.Second, 20*time.Millisecond, "serve applied the retry and the letter closed when the record synced")
	all, err := a.store.ListDeadLetters(context.Background(), &store.ListDeadLettersParams{IncludeClosed: true})
	require.NoError(t, err)
	require.Len(t, all, 1)
	require.Equal(t, "synced", all[0].Resolution)
}

package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/examples/quickstart"
	"github.com/concord-sync/concord/internal/config"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
	"github.com/concord-sync/concord/internal/store/sqlitestore"
)

// TestCLI_EventsPrune: a schedule flow's passes show as summaries, not as an
// event per unchanged record; events prune deletes old events in a dry run
// only when asked to, and keeps the event of a record in quarantine.
func TestCLI_EventsPrune(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, quickstart.Setup(context.Background(), dir, false))
	cfg := filepath.Join(dir, "concord.yaml")
	yaml, err := os.ReadFile(cfg)
	require.NoError(t, err)
	const change = "    entity: product\n    trigger: change\n"
	require.Contains(t, string(yaml), change)
	yaml = []byte(strings.Replace(string(yaml), change, "    entity: product\n    trigger: schedule\n    every: 1h\n", 1))
	require.NoError(t, os.WriteFile(cfg, yaml, 0o600))

	for range 2 {
		out, code := run(t, "sync", "--once", "--config", cfg, "--progress", "off")
		require.Equal(t, exitOK, code, out)
	}
	events := func(args ...string) []eventJSON {
		t.Helper()
		out, code := run(t, append([]string{"events", "--config", cfg, "--json", "--limit", "1000"}, args...)...)
		require.Equal(t, exitOK, code, out)
		var evs []eventJSON
		require.NoError(t, json.Unmarshal([]byte(out), &evs))
		return evs
	}
	sweeps := func() []sweepJSON {
		t.Helper()
		out, code := run(t, "events", "--config", cfg, "--sweeps", "--json")
		require.Equal(t, exitOK, code, out)
		var sw []sweepJSON
		require.NoError(t, json.Unmarshal([]byte(out), &sw))
		return sw
	}
	require.Len(t, events("--flow", "products"), 77, "the second pass wrote no event")
	sw := sweeps()
	require.Len(t, sw, 2)
	require.Equal(t, [4]int{77, 77, 0, 0}, [4]int{sw[0].Compared, sw[0].Unchanged, sw[0].Changed, sw[0].Other})
	require.Equal(t, [4]int{77, 0, 77, 0}, [4]int{sw[1].Compared, sw[1].Unchanged, sw[1].Changed, sw[1].Other})
	out, code := run(t, "events", "--config", cfg, "--sweeps")
	require.Equal(t, exitOK, code, out)
	require.Regexp(t, `(?m)^\d+\s+products\s+\S+ \S+\s+\S+ \S+\s+77\s+77\s+0\s+0$`, out)
	_, code = run(t, "events", "--config", cfg, "--sweeps", "--status", "failed")
	require.Equal(t, exitUsage, code)
	require.Len(t, events(), 107, "29 customers created, 1 quarantined, 77 products created")

	// Everything happened 100 days ago, but the second pass.
	db := openSQLite(t, filepath.Join(dir, "concord.db"))
	const days100 = 100 * 86400 * 1_000_000
	_, err = db.Exec(`UPDATE concord_event SET started_at = started_at - ?`, days100)
	require.NoError(t, err)
	_, err = db.Exec(`UPDATE concord_sweep SET started_at = started_at - ?, updated_at = updated_at - ? WHERE id = ?`, days100, days100, sw[1].ID)
	require.NoError(t, err)

	out, code = run(t, "events", "prune", "--config", cfg, "--older-than", "30d", "--dry-run")
	require.Equal(t, exitOK, code, out)
	require.Contains(t, out, "would prune 106 events and 1 sweep summaries older than ")
	require.Contains(t, out, "(30d); kept 1 older events that open dead letters, waits or quarantine entries need")
	require.Len(t, events(), 107, "a dry run deletes nothing")

	out, code = run(t, "events", "prune", "--config", cfg, "--older-than", "720h")
	require.Equal(t, exitOK, code, out)
	require.Contains(t, out, "pruned 106 events and 1 sweep summaries older than ")
	left := events()
	require.Len(t, left, 1)
	require.Equal(t, "quarantined", string(left[0].Outcome), "the context of a record in quarantine is kept")
	require.Len(t, sweeps(), 1)

	// Without --older-than, retention.events (default 90d) applies.
	out, code = run(t, "events", "prune", "--config", cfg, "--dry-run")
	require.Equal(t, exitOK, code, out)
	require.Contains(t, out, "would prune 0 events and 0 sweep summaries older than ")
	require.Contains(t, out, "(90d); kept 1")

	t.Run("ErrPeriod", func(t *testing.T) {
		t.Parallel()
		out, code := run(t, "events", "prune", "--config", cfg, "--older-than", "6m")
		require.Equal(t, exitUsage, code, out)
		require.Contains(t, out, `--older-than: "6m" is shorter than 1h`)
		out, code = run(t, "events", "prune", "--config", cfg, "--older-than", "soon")
		require.Equal(t, exitUsage, code, out)
		require.Contains(t, out, "not a period such as 30d")
	})

	t.Run("ErrKeepForever", func(t *testing.T) {
		t.Parallel()
		forever := filepath.Join(dir, "forever.yaml")
		require.NoError(t, os.WriteFile(forever, append(yaml, []byte("\nretention: {events: forever}\n")...), 0o600))
		out, code := run(t, "events", "prune", "--config", forever)
		require.Equal(t, exitUsage, code, out)
		require.Contains(t, out, "keeps events forever")
		require.Len(t, events(), 1)
	})
}

// TestApp_PruneLoop: serve applies retention.events when it starts (and then
// every interval) and stops with its context.
func TestApp_PruneLoop(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "concord.db"), nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	now := time.Now()
	ev := func(id string, age time.Duration) store.Event {
		return store.Event{Flow: "customers", Entity: model.Account, SourceSystem: "crm", SourceID: id, TargetSystem: "erp",
			Outcome: store.OutcomeUpdated, StartedAt: now.Add(-age)}
	}
	_, err = st.InsertEvents(ctx, []store.Event{ev("old", 31*24*time.Hour), ev("new", 29*24*time.Hour)})
	require.NoError(t, err)

	cfg := config.DefaultConfig()
	cfg.Retention.Events = 30 * 24 * time.Hour
	a := &app{cfg: cfg, store: st, log: slog.New(slog.DiscardHandler)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.pruneLoop(ctx, time.Hour)
	}()
	require.Eventually(t, func() bool {
		evs, err := st.ListEvents(ctx, nil)
		return err == nil && len(evs) == 1 && evs[0].SourceID == "new"
	}, 10*time.Second, 10*time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("pruneLoop did not stop with its context")
	}
}

package console_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
	"github.com/concord-sync/concord/internal/store/sqlitestore"
)

// benchEvents is the size of the event log the page benchmarks run on.
const benchEvents = 1_000_000

// benchStore returns a SQLite store holding benchEvents events over the last
// 30 days (four flows, 90 % updates, 3 % failures, snapshots and plans of
// the size the engine records), 1,000 open dead letters and 500 quarantined
// records. Filling it takes about a minute; the file is kept in the temp
// dir ($CONCORD_BENCH_DIR) for the next run.
func benchStore(b *testing.B) store.Store {
	b.Helper()
	dir := os.Getenv("CONCORD_BENCH_DIR")
	if dir == "" {
		dir = os.TempDir()
	}
	path := filepath.Join(dir, fmt.Sprintf("concord-console-bench-%d.db", benchEvents))
	ready := path + ".ready"
	if _, err := os.Stat(ready); err != nil {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			_ = os.Remove(path + suffix) // an unfinished fill of an earlier run
		}
		fillBenchStore(b, path)
		require.NoError(b, os.WriteFile(ready, nil, 0o644))
	}
	st, err := sqlitestore.Open(context.Background(), path, nil)
	require.NoError(b, err)
	b.Cleanup(func() { _ = st.Close() })
	return st
}

func fillBenchStore(b *testing.B, path string) {
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, path, nil)
	require.NoError(b, err)
	defer st.Close()
	rnd := rand.New(rand.NewPCG(1, 2))
	flows := []string{"customers", "orders", "payments", "products"}
	start := time.Now().Add(-30 * 24 * time.Hour)
	step := 30 * 24 * time.Hour / benchEvents
	snapshot := func(id string) []byte {
		return fmt.Appendf(nil, `{"entity":"account","id":%q,"version":"7","updated_at":"2026-11-30T10:00:00Z","fields":{"name":{"k":"text","s":"Company %s GmbH"},"email":{"k":"text","s":"buyer@company-%s.example"},"phone":{"k":"text","s":"+49 30 1234567"},"country":{"k":"text","s":"DE"},"street":{"k":"text","s":"Hauptstrasse 1"},"city":{"k":"text","s":"Berlin"},"vat":{"k":"text","s":"DE123456789"}}}`, id, id, id)
	}
	const chunk = 5000
	batch := make([]store.Event, 0, chunk)
	for i := range benchEvents {
		id := fmt.Sprintf("c%d", rnd.IntN(50000))
		e := store.Event{Flow: flows[i%4], Entity: model.Account, SourceSystem: "crm", SourceID: id, TargetSystem: "erp",
			TargetID: "e" + id[1:], ConcordID: "k" + id[1:], ConfigVersion: "cfg1", Snapshot: snapshot(id),
			Plan:     []byte(`{"action":"update","changes":[{"field":"email","from":{"k":"text","s":"old@example.com"},"to":{"k":"text","s":"new@example.com"}}]}`),
			Response: []byte(`{"id":"e1","version":"8"}`), Outcome: store.OutcomeUpdated, Attempt: 1,
			StartedAt: start.Add(time.Duration(i) * step), Duration: 3 * time.Millisecond}
		switch r := rnd.IntN(100); {
		case r < 5:
			e.Outcome = store.OutcomeCreated
		case r < 8:
			e.Outcome, e.Error = store.OutcomeFailed, "erp refused account: field country: unknown country"
		case r < 10:
			e.Outcome = store.OutcomeUnchanged
		}
		batch = append(batch, e)
		if len(batch) == chunk {
			_, err := st.InsertEvents(ctx, batch)
			require.NoError(b, err)
			batch = batch[:0]
		}
	}
	var letters []store.DeadLetter
	var held []store.QuarantineEntry
	for i := range 1000 {
		id := fmt.Sprintf("c%d", i)
		letters = append(letters, store.DeadLetter{Flow: "customers", Entity: model.Account, System: "crm", ExternalID: id,
			Snapshot: snapshot(id), Reason: "erp refused account: field country: unknown country", Attempts: 5, EventID: int64(i + 1)})
		if i < 500 {
			held = append(held, store.QuarantineEntry{Flow: "customers", System: "crm", Entity: model.Account, ExternalID: "q" + id,
				Field: "email", Reason: "not an e-mail address", Snapshot: snapshot(id)})
		}
	}
	_, err = st.InsertDeadLetters(ctx, letters)
	require.NoError(b, err)
	require.NoError(b, st.Quarantine(ctx, held))
}

// BenchmarkPages_1MEvents loads each console page, signed in, from a store
// of one million events: the time per load is the page's server time
// (docs/benchmarks.md; the target is under 200 ms).
func BenchmarkPages_1MEvents(b *testing.B) {
	st := benchStore(b)
	w := newWorldOn(b, st)
	c := w.client("alice", alicePassword)
	var lastEvent int64
	evs, err := st.ListEvents(b.Context(), &store.ListEventsParams{Limit: 1})
	require.NoError(b, err)
	lastEvent = evs[0].ID
	yesterday := time.Now().UTC().Add(-24 * time.Hour).Format("2006-01-02T15:04")
	tenDaysAgo := time.Now().UTC().Add(-10 * 24 * time.Hour).Format("2006-01-02T15:04")
	for _, p := range []struct{ name, path string }{
		{"overview", "/console/"},
		{"events", "/console/events"},
		{"events-page-100", fmt.Sprintf("/console/events?before=%d", lastEvent-100*50)},
		{"events-flow", "/console/events?flow=orders"},
		{"events-failed", "/console/events?outcome=failed"},
		{"events-record", "/console/events?record=c4242"},
		{"events-system", "/console/events?system=erp"},
		{"events-last-day", "/console/events?since=" + yesterday},
		{"events-ten-days-ago", "/console/events?since=" + tenDaysAgo + "&flow=payments&outcome=failed"},
		{"event", fmt.Sprintf("/console/events/%d", lastEvent-500000)},
		{"dead-letters", "/console/dead-letters"},
		{"quarantine", "/console/quarantine"},
		{"links", "/console/links?record=c4242"},
		{"api-events", "/api/v1/events?limit=100"},
		{"api-overview", "/api/v1/overview"},
	} {
		b.Run(p.name, func(b *testing.B) {
			for b.Loop() {
				resp, err := c.Get(w.srv.URL + p.path)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("%s: %s", p.path, resp.Status)
				}
			}
		})
	}
}

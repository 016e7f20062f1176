// Package bench measures the engine end to end: N changes synced between two
// in-memory systems through the real store and the real queue, next to the raw
// rate of inserting the same rows into the same store in one transaction.
package bench

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/memory"
	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/queue"
	"github.com/concord-sync/concord/internal/store"
	"github.com/concord-sync/concord/internal/store/pgstore"
	"github.com/concord-sync/concord/internal/store/sqlitestore"
)

// Params configure a run.
type Params struct {
	Records   int
	BatchSize int
	// Store is "sqlite" (a file in Dir) or "postgres" (DSN).
	Store string
	DSN   string
	Dir   string
	// Systems is "stream" (a generated source and a counting sink, which hold
	// nothing per record: the memory measured is Concord's) or "memory" (two
	// in-memory systems holding every record).
	Systems string
	Log     *slog.Logger
}

// Result is what one run measured.
type Result struct {
	Store       string
	Records     int
	Elapsed     time.Duration
	ChangesPerS float64
	// RawPerS is the rate of inserting the same rows (events, links,
	// fingerprints) into the same store in one transaction.
	RawPerS float64
	// PeakRSS is the process's peak resident memory in bytes (VmHWM), 0 if unknown.
	PeakRSS uint64
	// PeakHeap is the largest Go heap in use seen during the sync.
	PeakHeap uint64
	// RSSAt is the resident memory when 10 %, 50 % and 100 % of the records
	// were written (0 when unknown), to show whether memory stays flat.
	RSSAt [3]uint64
}

// Ratio is how many times slower the sync is than the raw insert.
func (r Result) Ratio() float64 { return r.RawPerS / r.ChangesPerS }

// openStore opens a fresh store: a file in p.Dir for SQLite, a new schema for
// PostgreSQL (dropped by the returned func).
func openStore(ctx context.Context, p Params, name string) (store.Store, func(), error) {
	if p.Store != "postgres" {
		st, err := sqlitestore.Open(ctx, filepath.Join(p.Dir, name), p.Log)
		return st, func() {}, err
	}
	db, err := sql.Open("pgx", p.DSN)
	if err != nil {
		return nil, nil, err
	}
	schema := fmt.Sprintf("concord_bench_%s_%d", strings.TrimSuffix(name, ".db"), time.Now().UnixNano())
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("bench: create schema: %w", err)
	}
	drop := func() {
		_, _ = db.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		db.Close()
	}
	u, err := url.Parse(p.DSN)
	if err != nil {
		drop()
		return nil, nil, fmt.Errorf("bench: --dsn must be a postgres:// URL: %w", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	st, err := pgstore.Open(ctx, u.String(), p.Log)
	if err != nil {
		drop()
		return nil, nil, err
	}
	return st, drop, nil
}

var benchFields = []string{"name", "email", "phone", "city", "country", "credit_limit"}

func records(n int) []model.Record {
	out := make([]model.Record, n)
	for i := range n {
		out[i] = account(i)
	}
	return out
}

// Run syncs p.Records accounts from one in-memory system to another through the
// store and the queue, then measures the raw insert rate on a fresh store.
func Run(ctx context.Context, p Params) (Result, error) {
	if p.Log == nil {
		p.Log = slog.New(slog.DiscardHandler)
	}
	if p.BatchSize < 1 {
		p.BatchSize = 1000
	}
	res := Result{Store: p.Store, Records: p.Records}
	st, drop, err := openStore(ctx, p, "sync.db")
	if err != nil {
		return res, err
	}
	defer drop()
	defer st.Close()

	var crm, erp connector.Connector
	var arrived func() int
	marks := [3]int64{int64(p.Records) / 10, int64(p.Records) / 2, int64(p.Records)}
	var next atomic.Int32
	switch p.Systems {
	case "", "stream":
		sink := &countingSink{onWrite: func(total int64) {
			for {
				k := next.Load()
				if k >= int32(len(marks)) || total < marks[k] {
					return
				}
				if next.CompareAndSwap(k, k+1) {
					res.RSSAt[k] = currentRSS()
				}
			}
		}}
		crm, erp = newStreamSource(p.Records), sink
		arrived = func() int { return int(sink.written()) }
	case "memory":
		mcrm, merp := memory.New("crm", model.Account), memory.New("erp", model.Account)
		for _, r := range records(p.Records) {
			mcrm.Put(r)
		}
		crm, erp = mcrm, merp
		arrived = func() int { return merp.Count(model.Account) }
	default:
		return res, fmt.Errorf("bench: systems %q: want stream or memory", p.Systems)
	}
	defs, owners := map[string]model.FieldDef{}, map[string]string{}
	for _, f := range benchFields {
		defs[f], _ = model.LookupField(model.Account, f)
		owners[f] = "crm"
	}
	leg := engine.Leg{Name: "bench", Flow: "bench", Source: "crm", Target: "erp", Entity: model.Account, Fields: benchFields,
		Trigger: engine.TriggerChange, Owners: owners, Defs: defs, Clean: map[string][]string{"email": {"email"}, "phone": {"phone"}}}
	eng, q, err := newEngine(ctx, st, leg, crm, erp, p.BatchSize, p.Log)
	if err != nil {
		return res, err
	}
	stopHeap := watchHeap(&res.PeakHeap)
	start := time.Now()
	if err := syncOnce(ctx, eng, q, "bench"); err != nil {
		return res, err
	}
	res.Elapsed = time.Since(start)
	stopHeap()
	if got := arrived(); got != p.Records {
		return res, fmt.Errorf("bench: %d of %d records arrived", got, p.Records)
	}
	res.ChangesPerS = float64(p.Records) / res.Elapsed.Seconds()
	res.PeakRSS = peakRSS() // before the raw insert, which is not the sync's
	res.RawPerS, err = rawInsert(ctx, p)
	if err != nil {
		return res, err
	}
	return res, nil
}

// newEngine wires the engine and its queue for one leg from "crm" to "erp",
// as the config would.
func newEngine(ctx context.Context, st store.Store, leg engine.Leg, crm, erp connector.Connector, batch int, log *slog.Logger) (*engine.Engine, *queue.Queue, error) {
	q, err := queue.New(ctx, st, queue.Config{Legs: []string{leg.Name}, PollInterval: 10 * time.Millisecond}, log)
	if err != nil {
		return nil, nil, err
	}
	eng, err := engine.New(engine.Params{Store: st, Connectors: map[string]connector.Connector{"crm": crm, "erp": erp},
		Legs: []engine.Leg{leg}, ConfigVersion: "bench", Queue: q, BatchSize: batch, Logger: log})
	if err != nil {
		return nil, nil, err
	}
	return eng, q, nil
}

// rawInsert writes, in one transaction on a fresh store, the rows a sync of
// p.Records changes records: one event (with a snapshot, plan and answer of the
// sizes the sync records), two links and one fingerprint each.
func rawInsert(ctx context.Context, p Params) (float64, error) {
	st, drop, err := openStore(ctx, p, "raw.db")
	if err != nil {
		return 0, err
	}
	defer drop()
	defer st.Close()
	now := time.Now().UTC()
	const chunk = 10000
	start := time.Now()
	err = st.InTx(ctx, func(tx store.Tx) error {
		for from := 0; from < p.Records; from += chunk {
			n := min(chunk, p.Records-from)
			events := make([]store.Event, n)
			links := make([]store.Link, 0, 2*n)
			fps := make([]store.Fingerprint, n)
			for k := range n {
				i := from + k
				r := account(i)
				cid := fmt.Sprintf("raw-%d", i)
				events[k] = store.Event{Flow: "raw", Entity: model.Account, SourceSystem: "crm", SourceID: r.ID, TargetSystem: "erp", TargetID: "m" + r.ID,
					ConcordID: cid, ConfigVersion: "bench", Snapshot: r.AppendJSON(nil), Plan: createPlan(r), Response: fmt.Appendf(nil, `{"id":"m%s","version":"v1"}`, r.ID),
					Outcome: store.OutcomeCreated, Attempt: 1, StartedAt: now}
				links = append(links, store.Link{Entity: model.Account, ConcordID: cid, System: "crm", ExternalID: r.ID},
					store.Link{Entity: model.Account, ConcordID: cid, System: "erp", ExternalID: "m" + r.ID})
				fps[k] = store.Fingerprint{Flow: "raw", System: "crm", Entity: model.Account, ExternalID: r.ID, Hash: r.Fields.Fingerprint(benchFields), UpdatedAt: now}
			}
			if _, err := tx.InsertEvents(ctx, events); err != nil {
				return err
			}
			if err := tx.PutLinks(ctx, &store.PutLinksParams{Links: links}); err != nil {
				return err
			}
			if err := tx.PutFingerprints(ctx, fps); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("raw insert: %w", err)
	}
	return float64(p.Records) / time.Since(start).Seconds(), nil
}

// createPlan is an event plan of the size the sync records for a create: every
// field moved, from nothing to its value.
func createPlan(r model.Record) []byte {
	b := []byte(`{"action":"create","changes":[`)
	for i, f := range benchFields {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"field":`...)
		b = model.AppendJSONString(b, f)
		b = append(b, `,"from":null,"to":`...)
		b = r.Fields[f].AppendJSON(b)
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

// syncOnce is what sync --once does for one leg: a tick, polls until the
// source is drained while the workers apply the batches, then a drained queue.
func syncOnce(ctx context.Context, eng *engine.Engine, q *queue.Queue, leg string) (err error) {
	if _, err := eng.Tick(ctx); err != nil {
		return err
	}
	if err := q.Start(ctx, eng); err != nil {
		return err
	}
	defer func() {
		if serr := q.Stop(context.WithoutCancel(ctx)); serr != nil && err == nil {
			err = serr
		}
	}()
	for {
		if err := q.WaitRoom(ctx); err != nil {
			return err
		}
		r, err := eng.Poll(ctx, leg)
		if err != nil {
			return err
		}
		if r.Done {
			break
		}
	}
	if err := q.Drain(ctx, 25*time.Millisecond); err != nil {
		return fmt.Errorf("wait for queue: %w", err)
	}
	return nil
}

// watchHeap samples the Go heap until the returned func is called.
func watchHeap(peak *uint64) func() {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			*peak = max(*peak, ms.HeapInuse)
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); <-finished }
}

// peakRSS reads VmHWM from /proc/self/status (Linux); 0 elsewhere.
func peakRSS() uint64 { return procStatus("VmHWM:") }

// currentRSS reads VmRSS from /proc/self/status (Linux); 0 elsewhere.
func currentRSS() uint64 { return procStatus("VmRSS:") }

func procStatus(key string) uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), key); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/memory"
	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
	"github.com/concord-sync/concord/internal/store/sqlitestore"
)

// captureQueue is an engine.Enqueuer that keeps batches in memory, so tests can
// run them by hand and see retries with their schedule.
type captureQueue struct {
	mu      sync.Mutex
	batches []engine.Batch
	at      []time.Time
}

func (q *captureQueue) EnqueueTx(_ context.Context, _ store.Tx, bs []engine.Batch, at time.Time) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, b := range bs {
		q.batches = append(q.batches, b)
		q.at = append(q.at, at)
	}
	return nil
}

func (q *captureQueue) take() []engine.Batch {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.batches
	q.batches, q.at = nil, nil
	return out
}

type testBundle struct {
	ctx   context.Context
	st    store.Store
	crm   *memory.Conn
	erp   *memory.Conn
	queue *captureQueue
	eng   *engine.Engine
}

var owners = map[string]string{"name": "crm", "email": "crm", "country": "crm", "credit_limit": "erp", "customer_number": "erp"}

func accountDefs(fields ...string) map[string]model.FieldDef {
	defs := map[string]model.FieldDef{}
	for _, f := range fields {
		d, _ := model.LookupField(model.Account, f)
		defs[f] = d
	}
	return defs
}

func forwardLeg() engine.Leg {
	return engine.Leg{
		Name: "customers", Flow: "customers", Source: "crm", Target: "erp", Entity: model.Account,
		Fields: []string{"name", "email", "country"}, Trigger: engine.TriggerChange, Owners: owners,
		Defs:     accountDefs("name", "email", "country"),
		Clean:    map[string][]string{"name": {"trim"}, "email": {"trim", "email"}, "country": {"country"}},
		Required: map[string]bool{"name": true},
	}
}

func reverseLeg() engine.Leg {
	return engine.Leg{
		Name: "credit", Flow: "credit", Source: "erp", Target: "crm", Entity: model.Account,
		Fields: []string{"credit_limit"}, Trigger: engine.TriggerChange, Owners: owners,
		Defs: accountDefs("credit_limit"),
	}
}

func openStore(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), t.TempDir()+"/concord.db", nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func setup(t *testing.T, legs ...engine.Leg) *testBundle {
	t.Helper()
	return setupWith(t, nil, legs...)
}

// setupWith is setup with engine parameters changed by mod.
func setupWith(t *testing.T, mod func(*engine.Params), legs ...engine.Leg) *testBundle {
	t.Helper()
	if len(legs) == 0 {
		legs = []engine.Leg{forwardLeg()}
	}
	b := &testBundle{ctx: context.Background(), st: openStore(t), crm: memory.New("crm", model.Entities...), erp: memory.New("erp", model.Entities...), queue: &captureQueue{}}
	p := engine.Params{
		Store: b.st, Connectors: map[string]connector.Connector{"crm": b.crm, "erp": b.erp}, Legs: legs,
		ConfigVersion: "test", Queue: b.queue, BatchSize: 50,
		Retry: engine.RetryPolicy{MaxAttempts: 3, Backoff: time.Second, MaxBackoff: time.Minute},
	}
	if mod != nil {
		mod(&p)
	}
	var err error
	b.eng, err = engine.New(p)
	require.NoError(t, err)
	return b
}

func account(id, name, email string) model.Record {
	return model.Record{Entity: model.Account, ID: id, Fields: model.Fields{"name": model.Text(name), "email": model.Text(email), "country": model.Text("Germany")}}
}

// run polls leg until its source is drained and processes every queued batch,
// retries included, until the queue is empty.
func (b *testBundle) run(t *testing.T, leg string) []engine.Outcome {
	t.Helper()
	for {
		res, err := b.eng.Poll(b.ctx, leg)
		require.NoError(t, err)
		if res.Done {
			break
		}
	}
	var outs []engine.Outcome
	for batches := b.queue.take(); len(batches) > 0; batches = b.queue.take() {
		for _, batch := range batches {
			o, err := b.eng.Process(b.ctx, batch, engine.ProcessOptions{})
			require.NoError(t, err)
			outs = append(outs, o...)
		}
	}
	return outs
}

func countOutcomes(outs []engine.Outcome) map[store.Outcome]int {
	m := map[store.Outcome]int{}
	for _, o := range outs {
		m[o.Outcome]++
	}
	return m
}

func byLinkKey(t *testing.T, c *memory.Conn, key string) model.Record {
	t.Helper()
	found, err := c.Lookup(context.Background(), model.Account, []string{key})
	require.NoError(t, err)
	rec, ok := found[key]
	require.True(t, ok, "no %s record with link key %s", c.Name(), key)
	return rec
}

func TestEngine_Sync(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for i := range 120 {
			b.crm.Put(account(fmt.Sprintf("c%d", i), fmt.Sprintf("  Company   %d ", i), fmt.Sprintf("buyer%d@Example.COM", i)))
		}
		outs := b.run(t, "customers")
		require.Equal(t, map[store.Outcome]int{store.OutcomeCreated: 120}, countOutcomes(outs))
		require.Equal(t, 120, b.erp.Count(model.Account))
		rec := byLinkKey(t, b.erp, "c7")
		require.Equal(t, "Company 7", rec.Fields["name"].Str, "cleaned before it was copied")
		require.Equal(t, "buyer7@example.com", rec.Fields["email"].Str)
		require.Equal(t, "DE", rec.Fields["country"].Str)

		links, err := b.st.GetLinks(b.ctx, &store.GetLinksParams{System: "erp", Entity: model.Account, ExternalIDs: []string{rec.ID}})
		require.NoError(t, err)
		src, err := b.st.GetLinks(b.ctx, &store.GetLinksParams{System: "crm", Entity: model.Account, ExternalIDs: []string{"c7"}})
		require.NoError(t, err)
		require.Equal(t, src["c7"].ConcordID, links[rec.ID].ConcordID)

		// A second pass reads nothing new and writes nothing.
		require.Empty(t, b.run(t, "customers"))
	})

	t.Run("NoDiffNoWrite", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.crm.Put(account("c1", "Alfreds", "a@alfreds.de"))
		b.run(t, "customers")
		before := byLinkKey(t, b.erp, "c1")
		// The CRM record is touched but the moved fields keep their values.
		rec := b.crm.All(model.Account)[0]
		rec.Fields["phone"] = model.Text("+4930123456")
		b.crm.Put(rec)
		outs := b.run(t, "customers")
		require.Empty(t, countOutcomes(outs)[store.OutcomeUpdated])
		require.Equal(t, before.UpdatedAt, byLinkKey(t, b.erp, "c1").UpdatedAt, "no write when no moved field changed")
	})

	t.Run("Update", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.crm.Put(account("c1", "Alfreds", "a@alfreds.de"))
		b.run(t, "customers")
		rec := b.crm.All(model.Account)[0]
		rec.Fields["name"] = model.Text("Alfreds Futterkiste")
		b.crm.Put(rec)
		outs := b.run(t, "customers")
		require.Equal(t, map[store.Outcome]int{store.OutcomeUpdated: 1}, countOutcomes(outs))
		require.Equal(t, "Alfreds Futterkiste", byLinkKey(t, b.erp, "c1").Fields["name"].Str)
		require.Equal(t, 1, b.erp.Count(model.Account))

		evs, err := b.st.ListEvents(b.ctx, &store.ListEventsParams{Flow: "customers", Outcome: store.OutcomeUpdated})
		require.NoError(t, err)
		require.Len(t, evs, 1)
		require.Contains(t, string(evs[0].Plan), `"field":"name"`)
		require.Contains(t, string(evs[0].Snapshot), "Alfreds Futterkiste")
		require.Equal(t, "test", evs[0].ConfigVersion)
	})
}

// TestEngine_Ownership tries to write a field into the system that owns it.
func TestEngine_Ownership(t *testing.T) {
	t.Parallel()

	t.Run("ErrLegWritesIntoOwner", func(t *testing.T) {
		t.Parallel()
		leg := forwardLeg()
		leg.Fields = append(leg.Fields, "credit_limit")
		leg.Defs["credit_limit"] = model.FieldDef{Name: "credit_limit", Type: model.TypeMoney}
		_, err := engine.New(engine.Params{Store: openStore(t), Queue: &captureQueue{}, Legs: []engine.Leg{leg},
			Connectors: map[string]connector.Connector{"crm": memory.New("crm"), "erp": memory.New("erp")}})
		var oe *engine.OwnershipError
		require.ErrorAs(t, err, &oe)
		require.Equal(t, "credit_limit", oe.Field)
	})

	t.Run("ErrPlanTamperedAtWriteTime", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.crm.Put(account("c1", "Alfreds", "a@alfreds.de"))
		_, err := b.eng.Poll(b.ctx, "customers")
		require.NoError(t, err)
		batches := b.queue.take()
		require.Len(t, batches, 1)
		bp, err := b.eng.Plan(b.ctx, batches[0])
		require.NoError(t, err)
		require.Equal(t, engine.ActionCreate, bp.Records[0].Action)
		// A bug (or a bad mapping) slips an ERP-owned field into the write.
		bp.Records[0].Writes()["credit_limit"] = model.Money(decimal.RequireFromString("1000"), "EUR")
		outs, err := b.eng.Execute(b.ctx, bp)
		require.NoError(t, err)
		require.Equal(t, store.OutcomeFailed, outs[0].Outcome)
		require.Contains(t, outs[0].Reason, "ownership")
		require.Equal(t, "credit_limit", outs[0].Field)
		require.Zero(t, b.erp.Count(model.Account), "nothing written")
	})
}

// TestEngine_NoDuplicates simulates a crash between the target write and the
// recording of the link: the retry must find the record, not create a second.
func TestEngine_NoDuplicates(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for i := range 10 {
		b.crm.Put(account(fmt.Sprintf("c%d", i), fmt.Sprintf("Company %d", i), ""))
	}
	_, err := b.eng.Poll(b.ctx, "customers")
	require.NoError(t, err)
	batch := b.queue.take()[0]
	bp, err := b.eng.Plan(b.ctx, batch)
	require.NoError(t, err)
	// The write lands in the target for the first 6 records, then the process dies.
	var ops []connector.Op
	for _, p := range bp.Records[:6] {
		ops = append(ops, connector.Op{Kind: connector.OpCreate, LinkKey: p.Source.ID, Fields: p.Writes()})
	}
	_, err = b.erp.Write(b.ctx, model.Account, ops)
	require.NoError(t, err)

	// The batch is processed again after the restart.
	outs, err := b.eng.Process(b.ctx, batch, engine.ProcessOptions{})
	require.NoError(t, err)
	// The 6 creates of the killed attempt are recorded as created, adopted:
	// the events tell what happened in the target.
	require.Equal(t, map[store.Outcome]int{store.OutcomeCreated: 10}, countOutcomes(outs))
	adopted := 0
	for _, o := range outs {
		ev, err := b.st.GetEvent(b.ctx, o.EventID)
		require.NoError(t, err)
		if strings.Contains(string(ev.Plan), `"adopted":true`) {
			adopted++
		}
	}
	require.Equal(t, 6, adopted)
	require.Equal(t, 10, b.erp.Count(model.Account))
	links, err := b.st.ListLinks(b.ctx, &store.ListLinksParams{System: "erp", Entity: model.Account})
	require.NoError(t, err)
	require.Len(t, links, 10, "adopted records are linked")
}

// TestEngine_OlderNeverOverwritesNewer applies a newer change, then an older one.
func TestEngine_OlderNeverOverwritesNewer(t *testing.T) {
	t.Parallel()
	b := setup(t)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	older := account("c1", "Old Name", "")
	older.UpdatedAt = t0
	newer := account("c1", "New Name", "")
	newer.UpdatedAt = t0.Add(time.Minute)

	_, err := b.eng.Process(b.ctx, engine.Batch{Leg: "customers", Records: []model.Record{newer}, Attempt: 1}, engine.ProcessOptions{})
	require.NoError(t, err)
	outs, err := b.eng.Process(b.ctx, engine.Batch{Leg: "customers", Records: []model.Record{older}, Attempt: 1}, engine.ProcessOptions{})
	require.NoError(t, err)
	require.Equal(t, store.OutcomeStale, outs[0].Outcome)
	require.Equal(t, "New Name", byLinkKey(t, b.erp, "c1").Fields["name"].Str)

	// Within one batch the newest version wins whatever the order.
	b2 := setup(t)
	_, err = b2.eng.Process(b2.ctx, engine.Batch{Leg: "customers", Records: []model.Record{newer, older}, Attempt: 1}, engine.ProcessOptions{})
	require.NoError(t, err)
	require.Equal(t, "New Name", byLinkKey(t, b2.erp, "c1").Fields["name"].Str)

	// A replay of the older event is refused as stale too.
	evs, err := b.st.ListEvents(b.ctx, &store.ListEventsParams{Flow: "customers", Outcome: store.OutcomeStale})
	require.NoError(t, err)
	require.Len(t, evs, 1)
	out, err := b.eng.Replay(b.ctx, evs[0].ID)
	require.NoError(t, err)
	require.Equal(t, store.OutcomeStale, out.Outcome)
	require.Equal(t, "New Name", byLinkKey(t, b.erp, "c1").Fields["name"].Str)
}

// TestEngine_NoEcho runs a flow each way and checks that what Concord wrote into
// one system is not read back as a change to send to the other.
func TestEngine_NoEcho(t *testing.T) {
	t.Parallel()
	b := setup(t, forwardLeg(), reverseLeg())
	for i := range 5 {
		b.crm.Put(account(fmt.Sprintf("c%d", i), fmt.Sprintf("Company %d", i), ""))
	}
	b.run(t, "customers")
	// Finance sets credit limits in the ERP; the reverse flow carries them back.
	for _, rec := range b.erp.All(model.Account) {
		rec.Fields["credit_limit"] = model.Money(decimal.RequireFromString("5000.00"), "EUR")
		b.erp.Put(rec)
	}
	outs := b.run(t, "credit")
	require.Equal(t, map[store.Outcome]int{store.OutcomeUpdated: 5}, countOutcomes(outs), "reverse flow adopts the records through their link key")
	require.Equal(t, 5, b.crm.Count(model.Account), "no record created back in the CRM")
	crmBefore := b.crm.All(model.Account)

	// The credit write touched the CRM records: the forward flow must see them as
	// echoes, not as changes.
	outs = b.run(t, "customers")
	require.Empty(t, countOutcomes(outs)[store.OutcomeUpdated])
	require.Empty(t, countOutcomes(outs)[store.OutcomeCreated])

	// A real CRM change moves forward; the ERP write it causes is no credit change.
	rec := b.crm.All(model.Account)[0]
	rec.Fields["name"] = model.Text("Renamed")
	b.crm.Put(rec)
	require.Equal(t, map[store.Outcome]int{store.OutcomeUpdated: 1}, countOutcomes(b.run(t, "customers")))
	outs = b.run(t, "credit")
	for _, o := range outs {
		require.NotEqual(t, store.OutcomeUpdated, o.Outcome, "echo of our own ERP write was sent back to the CRM")
	}
	for _, after := range b.crm.All(model.Account) {
		for _, before := range crmBefore {
			if before.ID == after.ID && before.ID != rec.ID {
				require.Equal(t, before.UpdatedAt, after.UpdatedAt, "CRM record %s written again", before.ID)
			}
		}
	}
	stats := b.eng.Stats()
	require.Positive(t, stats[1].Skipped, "echoes are counted as skipped")
}

func TestEngine_Quarantine(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.crm.Put(account("c1", "Good One", "ok@example.com"))
	bad := b.crm.Put(account("c2", "Bad Mail", "not-an-address"))
	b.crm.Put(account("c3", "", "x@example.com"))
	b.crm.Put(account("c4", "Good Two", ""))
	outs := b.run(t, "customers")
	require.Equal(t, map[store.Outcome]int{store.OutcomeCreated: 2, store.OutcomeQuarantined: 2}, countOutcomes(outs))

	q, err := b.st.ListQuarantine(b.ctx, &store.ListQuarantineParams{Flow: "customers"})
	require.NoError(t, err)
	require.Len(t, q, 2)
	reasons := map[string]store.QuarantineEntry{}
	for _, e := range q {
		reasons[e.ExternalID] = e
	}
	require.Equal(t, "email", reasons["c2"].Field)
	require.Contains(t, reasons["c2"].Reason, "not-an-address")
	require.Equal(t, "name", reasons["c3"].Field)
	require.Equal(t, 2, b.erp.Count(model.Account), "the rest of the batch went on")
	evs, err := b.st.ListEvents(b.ctx, &store.ListEventsParams{Outcome: store.OutcomeQuarantined})
	require.NoError(t, err)
	errs := map[string]string{}
	for _, ev := range evs {
		errs[ev.SourceID] = ev.Error
	}
	require.Equal(t, "name: required field is blank", errs["c3"], "the event names the field")

	// Fixed at the source, the record passes and leaves the quarantine.
	bad.Fields["email"] = model.Text("fixed@example.com")
	b.crm.Put(bad)
	require.Equal(t, map[store.Outcome]int{store.OutcomeCreated: 1}, countOutcomes(b.run(t, "customers")))
	q, err = b.st.ListQuarantine(b.ctx, &store.ListQuarantineParams{Flow: "customers"})
	require.NoError(t, err)
	require.Len(t, q, 1)
	require.Equal(t, "c3", q[0].ExternalID)
}

func TestEngine_Failures(t *testing.T) {
	t.Parallel()

	t.Run("PartialPermanent", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.erp.SetFailFunc(func(op connector.Op) error {
			if op.LinkKey == "c2" {
				return connector.Permanent("name", errors.New("name too long for the ERP"))
			}
			return nil
		})
		for i := range 4 {
			b.crm.Put(account(fmt.Sprintf("c%d", i), fmt.Sprintf("Company %d", i), ""))
		}
		outs := b.run(t, "customers")
		require.Equal(t, map[store.Outcome]int{store.OutcomeCreated: 3, store.OutcomeFailed: 1}, countOutcomes(outs))
		dl, err := b.st.ListDeadLetters(b.ctx, &store.ListDeadLettersParams{})
		require.NoError(t, err)
		require.Len(t, dl, 1)
		require.Equal(t, "c2", dl[0].ExternalID)
		require.Contains(t, dl[0].Reason, "name too long")
		ev, err := b.st.GetEvent(b.ctx, dl[0].EventID)
		require.NoError(t, err)
		require.Equal(t, store.OutcomeFailed, ev.Outcome)
		require.Contains(t, string(ev.Response), "name too long")

		// Fixed in the ERP's rules, the dead letter is retried by hand and lands.
		b.erp.SetFailFunc(nil)
		n, err := b.eng.RetryDeadLetters(b.ctx, dl, nil)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.Equal(t, map[store.Outcome]int{store.OutcomeCreated: 1}, countOutcomes(b.run(t, "customers")))
		require.Equal(t, 4, b.erp.Count(model.Account))
		dl, err = b.st.ListDeadLetters(b.ctx, &store.ListDeadLettersParams{})
		require.NoError(t, err)
		require.Empty(t, dl)
	})

	t.Run("RetryThenDeadLetter", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		calls := 0
		b.erp.SetFailFunc(func(op connector.Op) error {
			if op.LinkKey == "c1" {
				calls++
				return errors.New("connection reset by peer")
			}
			return nil
		})
		b.crm.Put(account("c0", "Zero", ""))
		b.crm.Put(account("c1", "One", ""))
		_, err := b.eng.Poll(b.ctx, "customers")
		require.NoError(t, err)
		batch := b.queue.take()[0]
		var last []engine.Outcome
		for attempt := 1; ; attempt++ {
			require.Equal(t, attempt, batch.Attempt)
			last, err = b.eng.Process(b.ctx, batch, engine.ProcessOptions{})
			require.NoError(t, err)
			next := b.queue.take()
			if len(next) == 0 {
				break
			}
			require.Len(t, next, 1)
			require.Len(t, next[0].Records, 1, "only the failed record is retried")
			batch = next[0]
		}
		require.Equal(t, 3, calls, "MaxAttempts tries")
		require.Equal(t, store.OutcomeDead, last[0].Outcome)
		dl, err := b.st.ListDeadLetters(b.ctx, &store.ListDeadLettersParams{})
		require.NoError(t, err)
		require.Len(t, dl, 1)
		require.Equal(t, 3, dl[0].Attempts)
	})

	t.Run("RetryBackoffGrows", func(t *testing.T) {
		t.Parallel()
		p := engine.RetryPolicy{MaxAttempts: 5, Backoff: time.Second, MaxBackoff: 5 * time.Second}
		require.Equal(t, 500*time.Millisecond, p.Delay(1, 0))
		require.Equal(t, 3*time.Second, p.Delay(2, 1))
		require.Equal(t, 5*time.Second, p.Delay(10, 0.5), "capped")
	})
}

func TestEngine_Replay(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.crm.Put(account("c1", "Alfreds", "a@alfreds.de"))
	outs := b.run(t, "customers")
	require.Equal(t, store.OutcomeCreated, outs[0].Outcome)
	before := byLinkKey(t, b.erp, "c1")

	out, err := b.eng.Replay(b.ctx, outs[0].EventID)
	require.NoError(t, err)
	require.Equal(t, store.OutcomeUnchanged, out.Outcome, "a replay of an applied event writes nothing")
	require.Equal(t, before.UpdatedAt, byLinkKey(t, b.erp, "c1").UpdatedAt)
	ev, err := b.st.GetEvent(b.ctx, out.EventID)
	require.NoError(t, err)
	require.Equal(t, outs[0].EventID, ev.Replay)

	// Someone changes the ERP copy by hand; replaying puts the CRM's value back.
	rec := byLinkKey(t, b.erp, "c1")
	rec.Fields["name"] = model.Text("Typo")
	b.erp.Put(rec)
	out, err = b.eng.Replay(b.ctx, outs[0].EventID)
	require.NoError(t, err)
	require.Equal(t, store.OutcomeUpdated, out.Outcome)
	require.Equal(t, "Alfreds", byLinkKey(t, b.erp, "c1").Fields["name"].Str)
}

func dealLeg() engine.Leg {
	return engine.Leg{
		Name: "deals", Flow: "deals", Source: "crm", Target: "erp", Entity: model.Deal,
		Fields: []string{"name", "account"}, Trigger: engine.TriggerDealWon,
		Owners: map[string]string{"name": "crm", "account": "crm", "stage": "crm"},
		Defs:   map[string]model.FieldDef{"name": {Name: "name", Type: model.TypeText}, "account": {Name: "account", Type: model.TypeRef, Ref: model.Account}},
	}
}

func deal(id, name, stage, account string) model.Record {
	return model.Record{Entity: model.Deal, ID: id, Fields: model.Fields{"name": model.Text(name), "stage": model.Text(stage), "account": model.Ref(model.Account, account)}}
}

func TestEngine_References(t *testing.T) {
	t.Parallel()

	t.Run("NoFlowForTheReference", func(t *testing.T) {
		t.Parallel()
		b := setup(t, dealLeg())
		b.crm.Put(account("c1", "Alfreds", ""))
		b.crm.Put(deal("d1", "Big deal", "won", "c1"))
		outs := b.run(t, "deals")
		require.Len(t, outs, 1, "the deal waits; it is not retried into a dead letter")
		require.Equal(t, store.OutcomeWaiting, outs[0].Outcome)
		require.Contains(t, outs[0].Reason, "crm account c1 is not linked to a record in erp")
		waits, err := b.st.ListWaits(b.ctx, nil)
		require.NoError(t, err)
		require.Len(t, waits, 1)
		require.Equal(t, "c1", waits[0].AwaitID)
		dls, err := b.st.ListDeadLetters(b.ctx, nil)
		require.NoError(t, err)
		require.Empty(t, dls)
		require.Zero(t, b.erp.Count(model.Deal))
	})

	t.Run("WonDealPullsItsAccount", func(t *testing.T) {
		t.Parallel()
		accounts := forwardLeg()
		accounts.Trigger = engine.TriggerDealWon
		b := setup(t, accounts, dealLeg())
		b.crm.Put(account("c1", "Alfreds", ""))
		b.crm.Put(account("c2", "Prospect Ltd", ""))
		b.crm.Put(deal("d1", "Big deal", "won", "c1"))
		b.crm.Put(deal("d2", "Open deal", "qualified", "c2"))

		// No deal is won for these accounts yet as far as the ERP knows: nothing moves.
		require.Empty(t, b.run(t, "customers"))
		require.Zero(t, b.erp.Count(model.Account))

		outs := b.run(t, "deals")
		got := countOutcomes(outs)
		require.Equal(t, 1, got[store.OutcomeWaiting], "the deal waits for its account: %+v", outs)
		require.Contains(t, outs[0].Reason, "pulling it through flow customers")
		require.Equal(t, 2, got[store.OutcomeCreated], "the pulled account, then the deal, woken by its link: %+v", outs)
		n, err := b.st.CountWaits(b.ctx, "")
		require.NoError(t, err)
		require.Zero(t, n, "nothing waits any more")
		require.Empty(t, b.run(t, "deals"))
		require.Equal(t, 1, b.erp.Count(model.Account), "only the won deal's account is in the ERP")
		deals := b.erp.All(model.Deal)
		require.Len(t, deals, 1)
		require.Equal(t, byLinkKey(t, b.erp, "c1").ID, deals[0].Fields["account"].Str, "the reference is translated to the ERP's id")

		// From now on every change of the linked account moves; the prospect's do not.
		for _, id := range []string{"c1", "c2"} {
			found, err := b.crm.Get(b.ctx, model.Account, []string{id})
			require.NoError(t, err)
			rec := found[id]
			rec.Fields["name"] = model.Text(rec.Fields["name"].Str + " (renamed)")
			b.crm.Put(rec)
		}
		require.Equal(t, map[store.Outcome]int{store.OutcomeUpdated: 1}, countOutcomes(b.run(t, "customers")))
		require.Equal(t, "Alfreds (renamed)", byLinkKey(t, b.erp, "c1").Fields["name"].Str)
		require.Equal(t, 1, b.erp.Count(model.Account))
	})
}

// TestEngine_ScheduleSweep: a schedule flow compares every record with the
// target on each pass, so a mirrored value changed by hand in the target is put
// back, and the event says so.
func TestEngine_ScheduleSweep(t *testing.T) {
	t.Parallel()
	leg := forwardLeg()
	leg.Trigger = engine.TriggerSchedule
	b := setup(t, leg)
	b.crm.Put(account("c1", "Alfreds", ""))
	b.crm.Put(account("c2", "Berglunds", ""))
	require.NoError(t, b.eng.StartSweep(b.ctx, "customers"))
	require.Equal(t, map[store.Outcome]int{store.OutcomeCreated: 2}, countOutcomes(b.run(t, "customers")))

	rec := byLinkKey(t, b.erp, "c2")
	rec.Fields["name"] = model.Text("Edited in the ERP")
	b.erp.Put(rec)

	require.NoError(t, b.eng.StartSweep(b.ctx, "customers"))
	outs := b.run(t, "customers")
	require.Equal(t, map[store.Outcome]int{store.OutcomeUnchanged: 1, store.OutcomeUpdated: 1}, countOutcomes(outs))
	require.Equal(t, "Berglunds", byLinkKey(t, b.erp, "c2").Fields["name"].Str)
	evs, err := b.st.ListEvents(b.ctx, &store.ListEventsParams{Outcome: store.OutcomeUpdated})
	require.NoError(t, err)
	require.Len(t, evs, 1)
	require.Contains(t, string(evs[0].Plan), "Edited in the ERP", "the event shows the overwritten value")
}

func defs(e model.Entity, fields ...string) map[string]model.FieldDef {
	out := map[string]model.FieldDef{}
	for _, f := range fields {
		d, ok := model.LookupField(e, f)
		if !ok {
			panic("no field " + f)
		}
		out[f] = d
	}
	return out
}

// o2cLegs are the order-to-cash legs between two in-memory systems: accounts
// pulled by won deals, the ERP's products, won deals handed over as orders, and
// the orders' invoices reported back onto the deals.
func o2cLegs() (accounts, products, handoff, payments engine.Leg) {
	dealOwners := map[string]string{"name": "crm", "stage": "crm", "account": "crm", "lines": "crm",
		"invoice_number": "erp", "invoice_state": "erp", "amount_due": "erp", "paid_date": "erp", "erp_sync_status": "erp"}
	orderOwners := map[string]string{"account": "crm", "lines": "crm", "number": "erp", "state": "erp", "total": "erp"}
	accounts = forwardLeg()
	accounts.Trigger = engine.TriggerDealWon
	products = engine.Leg{Name: "products", Flow: "products", Source: "erp", Target: "crm", Entity: model.Product,
		Fields: []string{"name", "sku"}, Trigger: engine.TriggerChange, Owners: map[string]string{"name": "erp", "sku": "erp"}, Defs: defs(model.Product, "name", "sku")}
	handoff = engine.Leg{Name: "orders", Flow: "orders", Source: "crm", Target: "erp", Entity: model.Deal, TargetEntity: model.Order,
		Fields: []string{"account", "lines"}, Trigger: engine.TriggerDealWon, Owners: dealOwners, TargetOwners: orderOwners, Defs: defs(model.Deal, "account", "lines")}
	payments = engine.Leg{Name: "payments", Flow: "payments", Source: "erp", Target: "crm", Entity: model.Invoice, TargetEntity: model.Deal, LinkBy: "order",
		Fields: []string{"number", "state", "amount_due", "paid_date"}, Map: map[string]string{"number": "invoice_number", "state": "invoice_state"},
		Trigger: engine.TriggerChange, Owners: map[string]string{"number": "erp", "state": "erp", "amount_due": "erp", "paid_date": "erp", "order": "erp"},
		TargetOwners: dealOwners, Defs: defs(model.Invoice, "number", "state", "amount_due", "paid_date")}

	return accounts, products, handoff, payments
}

// TestEngine_CrossEntity runs order-to-cash between two in-memory systems: a won
// deal becomes an ERP order with the ERP's ids for its account and products,
// and the invoice of that order reports back onto the deal.
func TestEngine_CrossEntity(t *testing.T) {
	t.Parallel()
	accounts, products, handoff, payments := o2cLegs()
	t.Run("ErrTargetFieldOwnedByTarget", func(t *testing.T) {
		t.Parallel()
		bad := handoff
		bad.TargetOwners = map[string]string{"account": "crm", "lines": "erp"}
		_, err := engine.New(engine.Params{Store: openStore(t), Queue: &captureQueue{}, Legs: []engine.Leg{bad},
			Connectors: map[string]connector.Connector{"crm": memory.New("crm"), "erp": memory.New("erp")}})
		var oe *engine.OwnershipError
		require.ErrorAs(t, err, &oe)
		require.Equal(t, model.Order, oe.Entity)
		require.Equal(t, "lines", oe.Field)
	})

	t.Run("HandoffStatusOnTheDeal", func(t *testing.T) {
		t.Parallel()
		withStatus := handoff
		withStatus.StatusField = "erp_sync_status"
		b := setup(t, accounts, withStatus)
		b.crm.Put(account("c1", "Alfreds", ""))
		won := deal("d1", "Unknown product", "won", "c1")
		won.Fields["lines"] = model.Lines([]model.Record{{Entity: model.OrderLine, Fields: model.Fields{
			"product": model.Ref(model.Product, "p-not-in-erp"), "quantity": model.Decimal(decimal.NewFromInt(1))}}})
		b.crm.Put(won)
		_, err := b.eng.Poll(b.ctx, "orders")
		require.NoError(t, err)
		batch := b.queue.take()
		_, err = b.eng.Process(b.ctx, batch[0], engine.ProcessOptions{})
		require.NoError(t, err)
		status := func() string {
			got, err := b.crm.Get(b.ctx, model.Deal, []string{"d1"})
			require.NoError(t, err)
			return got["d1"].Fields["erp_sync_status"].Str
		}
		require.Contains(t, status(), "waiting: crm account c1 is not linked to a record in erp yet")

		b.run(t, "orders") // the account arrives; the product never does
		require.Contains(t, status(), "waiting: lines.product: crm product p-not-in-erp is not linked to a record in erp yet", "a reason a sales person can act on, on the deal")
		require.Zero(t, b.erp.Count(model.Order))

		// The status written onto the deal is a change of the deal in the CRM;
		// reading it again tries nothing and logs nothing.
		before, err := b.st.ListEvents(b.ctx, &store.ListEventsParams{Flow: "orders"})
		require.NoError(t, err)
		require.Equal(t, map[store.Outcome]int{"": 1}, countOutcomes(b.run(t, "orders")), "skipped")
		after, err := b.st.ListEvents(b.ctx, &store.ListEventsParams{Flow: "orders"})
		require.NoError(t, err)
		require.Len(t, after, len(before), "the status write did not re-trigger the deal")

		bad := handoff
		bad.StatusField = "name"
		_, err = engine.New(engine.Params{Store: openStore(t), Queue: &captureQueue{}, Legs: []engine.Leg{bad},
			Connectors: map[string]connector.Connector{"crm": memory.New("crm"), "erp": memory.New("erp")}})
		var oe *engine.OwnershipError
		require.ErrorAs(t, err, &oe, "a status field the source owns would overwrite the source's own data")
	})

	t.Run("HandoffStatusSurvivesACrash", func(t *testing.T) {
		// The status is written after the outcome is recorded; a process
		// killed (or a CRM refusing the write) in between must not leave the
		// deal saying what it said before: the recording queued the status.
		t.Parallel()
		withStatus := handoff
		withStatus.StatusField = "erp_sync_status"
		b := setup(t, accounts, withStatus)
		b.crm.Put(account("c1", "Alfreds", ""))
		b.run(t, "customers")
		b.crm.Put(deal("d1", "Chai", "won", "c1"))
		_, err := b.eng.Poll(b.ctx, "orders")
		require.NoError(t, err)
		var refused atomic.Int32
		b.crm.SetFailFunc(func(op connector.Op) error {
			if v, ok := op.Fields["erp_sync_status"]; ok && strings.HasPrefix(v.Str, "synced") && refused.Add(1) == 1 {
				return errors.New("connection reset by peer")
			}
			return nil
		})
		// Run everything but the status batches: the account is pulled,
		// the order handed over, the deal's status write refused once.
		var status []engine.Batch
		for range 10 {
			bs := b.queue.take()
			if len(bs) == 0 {
				break
			}
			for _, batch := range bs {
				if len(batch.Status) > 0 {
					status = append(status, batch)
					continue
				}
				_, err = b.eng.Process(b.ctx, batch, engine.ProcessOptions{})
				require.NoError(t, err)
			}
		}
		require.Equal(t, 1, b.erp.Count(model.Order), "handed over")
		got, err := b.crm.Get(b.ctx, model.Deal, []string{"d1"})
		require.NoError(t, err)
		require.NotContains(t, got["d1"].Fields["erp_sync_status"].Str, "synced", "the write after recording failed")
		var last engine.Batch
		for _, st := range status {
			if strings.Contains(st.Status["d1"], "synced") {
				last = st
			}
		}
		require.NotEmpty(t, last.Status, "the recording queued the status: %v", status)
		status = []engine.Batch{last}
		require.Contains(t, status[0].Status["d1"], "synced to erp order")
		// The queue carries it through JSON.
		raw, err := json.Marshal(status[0])
		require.NoError(t, err)
		var decoded engine.Batch
		require.NoError(t, json.Unmarshal(raw, &decoded))
		_, err = b.eng.Process(b.ctx, decoded, engine.ProcessOptions{})
		require.NoError(t, err)
		got, err = b.crm.Get(b.ctx, model.Deal, []string{"d1"})
		require.NoError(t, err)
		require.Contains(t, got["d1"].Fields["erp_sync_status"].Str, "synced to erp order")
		// Once written, running it again writes nothing.
		writes := refused.Load()
		_, err = b.eng.Process(b.ctx, decoded, engine.ProcessOptions{})
		require.NoError(t, err)
		require.Equal(t, writes, refused.Load(), "no second write")
	})

	t.Run("OrderToCash", func(t *testing.T) {
		t.Parallel()
		b := setup(t, accounts, products, handoff, payments)
		money := func(s string) model.Value { return model.Money(decimal.RequireFromString(s), "EUR") }
		erpProduct := b.erp.Put(model.Record{Entity: model.Product, ID: "P-CHAI", Fields: model.Fields{"name": model.Text("Chai"), "sku": model.Text("NW-001")}})
		require.Len(t, b.run(t, "products"), 1)
		crmProduct := b.crm.All(model.Product)[0]
		require.Equal(t, erpProduct.ID, crmProduct.LinkKey)

		b.crm.Put(account("c1", "Alfreds", ""))
		won := deal("d1", "Chai for Alfreds", "won", "c1")
		won.Fields["lines"] = model.Lines([]model.Record{{Entity: model.OrderLine, Fields: model.Fields{
			"product": model.Ref(model.Product, crmProduct.ID), "quantity": model.Decimal(decimal.NewFromInt(3)), "unit_price": money("19.99")}}})
		b.crm.Put(won)
		b.run(t, "orders")
		orders := b.erp.All(model.Order)
		require.Len(t, orders, 1, "the won deal is an ERP order")
		order := orders[0]
		require.Equal(t, "d1", order.LinkKey, "the deal id travels with the order")
		require.Equal(t, byLinkKey(t, b.erp, "c1").ID, order.Fields["account"].Str, "the ERP's own account id")
		line := order.Fields["lines"].Lines[0]
		require.Equal(t, "P-CHAI", line.Fields["product"].Str, "matched through the product link, not by name")
		require.Equal(t, "19.99 EUR", line.Fields["unit_price"].String())

		// The ERP invoices the order; the deal shows it.
		inv := b.erp.Put(model.Record{Entity: model.Invoice, ID: "INV-1", Fields: model.Fields{"number": model.Text("2026/0001"), "state": model.Text("posted"),
			"order": model.Ref(model.Order, order.ID), "amount_due": money("59.97")}})
		require.Equal(t, map[store.Outcome]int{store.OutcomeUpdated: 1}, countOutcomes(b.run(t, "payments")))
		got, err := b.crm.Get(b.ctx, model.Deal, []string{"d1"})
		require.NoError(t, err)
		require.Equal(t, "2026/0001", got["d1"].Fields["invoice_number"].Str)
		require.Equal(t, "posted", got["d1"].Fields["invoice_state"].Str)
		require.Equal(t, "Chai for Alfreds", got["d1"].Fields["name"].Str, "CRM-owned fields untouched")

		// Paid.
		inv.Fields["state"], inv.Fields["amount_due"] = model.Text("paid"), money("0")
		inv.Fields["paid_date"] = model.Date(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
		b.erp.Put(inv)
		b.run(t, "payments")
		got, err = b.crm.Get(b.ctx, model.Deal, []string{"d1"})
		require.NoError(t, err)
		require.Equal(t, "paid", got["d1"].Fields["invoice_state"].Str)
		require.Equal(t, "2026-12-01", got["d1"].Fields["paid_date"].String())
		require.Equal(t, 1, b.erp.Count(model.Order), "the deal's own updates do not make a second order")

		// An invoice of an order Concord did not hand over waits, with a reason.
		b.erp.Put(model.Record{Entity: model.Invoice, ID: "INV-2", Fields: model.Fields{"number": model.Text("2026/0002"), "state": model.Text("posted"),
			"order": model.Ref(model.Order, "ORDER-BY-HAND")}})
		outs := b.run(t, "payments")
		require.Equal(t, store.OutcomeWaiting, outs[0].Outcome)
		require.Contains(t, outs[0].Reason, "erp order ORDER-BY-HAND is not linked to a deal in crm yet")
	})
}

// TestEngine_LinkRace: two flows between the same systems pair the same records
// at the same time (each plans before the other records); both must end on one
// concord id, and neither batch fails.
func TestEngine_LinkRace(t *testing.T) {
	t.Parallel()
	b := setup(t, forwardLeg(), reverseLeg())
	crmRec := b.crm.Put(account("c1", "Alfreds", ""))
	erpRec := b.erp.Put(model.Record{Entity: model.Account, ID: "ALFKI", LinkKey: "c1", Fields: model.Fields{
		"name": model.Text("Alfreds"), "credit_limit": model.Money(decimal.RequireFromString("5000"), "EUR")}})
	require.Equal(t, "c1", crmRec.ID)

	fwd, err := b.eng.Plan(b.ctx, engine.Batch{Leg: "customers", Records: []model.Record{crmRec}, Attempt: 1})
	require.NoError(t, err)
	rev, err := b.eng.Plan(b.ctx, engine.Batch{Leg: "credit", Records: []model.Record{erpRec}, Attempt: 1})
	require.NoError(t, err)
	require.NotEqual(t, fwd.Records[0].ConcordID, rev.Records[0].ConcordID, "each flow minted its own concord id")

	_, err = b.eng.Execute(b.ctx, fwd)
	require.NoError(t, err)
	outs, err := b.eng.Execute(b.ctx, rev)
	require.NoError(t, err, "the second flow adopts the first one's pairing")
	ev, err := b.st.GetEvent(b.ctx, outs[0].EventID)
	require.NoError(t, err)

	links, err := b.st.ListLinks(b.ctx, &store.ListLinksParams{Entity: model.Account})
	require.NoError(t, err)
	require.Len(t, links, 2)
	require.Equal(t, links[0].ConcordID, links[1].ConcordID)
	require.Equal(t, links[0].ConcordID, ev.ConcordID, "the event names the settled concord id")
	require.Equal(t, 1, b.erp.Count(model.Account))
	require.Equal(t, 1, b.crm.Count(model.Account))
}

// TestEngine_PullRefused: a won deal whose account the target refuses says why
// (the account's own refusal), not just that it is waiting.
func TestEngine_PullRefused(t *testing.T) {
	t.Parallel()
	accounts := forwardLeg()
	accounts.Trigger = engine.TriggerDealWon
	b := setup(t, accounts, dealLeg())
	b.erp.SetFailFunc(func(op connector.Op) error {
		if op.LinkKey == "c1" {
			return connector.Permanent("country", errors.New("no country with code \"MX\" in erp"))
		}
		return nil
	})
	b.crm.Put(account("c1", "Ana Trujillo", ""))
	b.crm.Put(deal("d1", "Tacos", "won", "c1"))
	var last engine.Outcome
	for _, o := range b.run(t, "deals") {
		if o.SourceID == "d1" {
			last = o
		}
	}
	require.Equal(t, store.OutcomeWaiting, last.Outcome, "the deal waits for its account")
	require.Contains(t, last.Reason, "crm account c1 cannot reach erp: erp refused account c1: field country: no country with code \"MX\" in erp")
	dls, err := b.st.ListDeadLetters(b.ctx, nil)
	require.NoError(t, err)
	require.Len(t, dls, 1, "one letter, the account's: %+v", dls)
	require.Equal(t, "c1", dls[0].ExternalID)

	// The account is fixed at the source: the waiting deal's pull takes it
	// across, and the deal follows.
	b.erp.SetFailFunc(nil)
	acc := b.crm.All(model.Account)[0]
	acc.Fields["country"] = model.Text("Mexico")
	b.crm.Put(acc)
	outs := b.run(t, "customers")
	require.Equal(t, map[store.Outcome]int{store.OutcomeCreated: 2}, countOutcomes(outs), "the account, then the woken deal: %+v", outs)
	require.Equal(t, 1, b.erp.Count(model.Deal))
	dls, err = b.st.ListDeadLetters(b.ctx, nil)
	require.NoError(t, err)
	require.Empty(t, dls, "the account's letter closed when it synced")
}

// TestEngine_BuryAnnounced: a batch of records announced by webhook that failed as
// a whole leaves a dead letter per record, and a retry reads them again.
func TestEngine_BuryAnnounced(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.crm.Put(account("c1", "Alfreds", ""))
	b.crm.Put(account("c2", "Berglunds", ""))
	require.NoError(t, b.eng.Bury(b.ctx, engine.Batch{Leg: "customers", Fetch: []string{"c1", "c2"}, Attempt: 5}, "crm api down", 5))
	dls, err := b.st.ListDeadLetters(b.ctx, &store.ListDeadLettersParams{})
	require.NoError(t, err)
	require.Len(t, dls, 2)
	require.Equal(t, "crm api down", dls[0].Reason)
	evs, err := b.st.ListEvents(b.ctx, &store.ListEventsParams{Outcome: store.OutcomeDead})
	require.NoError(t, err)
	require.Len(t, evs, 2, "every announced record has its event")

	// A letter of a flow that is gone is reported and left; the others are retried.
	dls = append(dls, store.DeadLetter{ID: 999, Flow: "renamed-flow", Snapshot: []byte(`{"entity":"account","id":"x","fields":{}}`)})
	n, err := b.eng.RetryDeadLetters(b.ctx, dls, nil)
	require.ErrorContains(t, err, `flow "renamed-flow" is not in the config`)
	require.Equal(t, 2, n)
	batches := b.queue.take()
	require.Len(t, batches, 1)
	require.Equal(t, []string{"c1", "c2"}, batches[0].Fetch, "read again from the source")
	outs, err := b.eng.Process(b.ctx, batches[0], engine.ProcessOptions{})
	require.NoError(t, err)
	require.Equal(t, map[store.Outcome]int{store.OutcomeCreated: 2}, countOutcomes(outs))
}

// TestEngine_DealWonOwnHandover: an account another flow paired (the ERP's credit
// flow) still does not move through a deal_won flow until a won deal pulls it.
func TestEngine_DealWonOwnHandover(t *testing.T) {
	t.Parallel()
	accounts := forwardLeg()
	accounts.Trigger = engine.TriggerDealWon
	b := setup(t, accounts, reverseLeg())
	b.crm.Put(account("c1", "Prospect", ""))
	b.erp.Put(model.Record{Entity: model.Account, ID: "E1", LinkKey: "c1", Fields: model.Fields{
		"name": model.Text("Prospect (ERP spelling)"), "credit_limit": model.Money(decimal.RequireFromString("100"), "EUR")}})
	require.Equal(t, map[store.Outcome]int{store.OutcomeUpdated: 1}, countOutcomes(b.run(t, "credit")), "the credit flow pairs c1 and E1")

	rec := b.crm.All(model.Account)[0]
	rec.Fields["name"] = model.Text("Prospect Renamed")
	b.crm.Put(rec)
	require.Empty(t, b.run(t, "customers"), "no won deal, no handover")
	found, err := b.erp.Get(b.ctx, model.Account, []string{"E1"})
	require.NoError(t, err)
	require.Equal(t, "Prospect (ERP spelling)", found["E1"].Fields["name"].Str)
}

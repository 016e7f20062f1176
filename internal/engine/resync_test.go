package engine_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
)

// phoneLeg is forwardLeg after a mapping change: the flow now moves phone too.
func phoneLeg() engine.Leg {
	l := forwardLeg()
	l.Owners = maps.Clone(owners)
	l.Owners["phone"] = "crm"
	l.Fields = append(slices.Clone(l.Fields), "phone")
	l.Defs = accountDefs("name", "email", "country", "phone")
	return l
}

// resyncBundle is a store and two systems synced with forwardLeg, with an
// engine per config (a config change is a new process).
type resyncBundle struct {
	*testBundle
	writes atomic.Int64 // ops written to the ERP
}

func setupResync(t *testing.T, n int) *resyncBundle {
	t.Helper()
	b := &resyncBundle{testBundle: setup(t)}
	for i := range n {
		rec := account(fmt.Sprintf("c%02d", i), fmt.Sprintf("Customer %d", i), "")
		rec.Fields["phone"] = model.Text(fmt.Sprintf("+4930%06d", i))
		b.crm.Put(rec)
	}
	require.Equal(t, map[store.Outcome]int{store.OutcomeCreated: n}, countOutcomes(b.run(t, "customers")))
	require.NoError(t, b.eng.RememberMapping(b.ctx, "customers", true), "the first sync remembers the mapping")
	b.erp.SetFailFunc(func(op connector.Op) error {
		b.writes.Add(1)
		return nil
	})
	return b
}

// reconfigure replaces the engine, as a process started with a changed config.
func (b *resyncBundle) reconfigure(t *testing.T, legs ...engine.Leg) {
	t.Helper()
	var err error
	b.eng, err = engine.New(engine.Params{Store: b.st, Connectors: map[string]connector.Connector{"crm": b.crm, "erp": b.erp}, Legs: legs,
		ConfigVersion: "test2", Queue: b.queue, BatchSize: 50})
	require.NoError(t, err)
}

// resync queues every page of the leg's resync and runs the queue.
func (b *resyncBundle) resync(t *testing.T, leg string) []engine.Outcome {
	t.Helper()
	_, err := b.eng.StartResync(b.ctx, leg)
	require.NoError(t, err)
	for {
		all, err := b.eng.QueueResync(b.ctx, leg)
		require.NoError(t, err)
		if all {
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
	done, err := b.eng.FinishResync(b.ctx, leg)
	require.NoError(t, err)
	require.True(t, done)
	return outs
}

func (b *resyncBundle) phones(t *testing.T) int {
	t.Helper()
	n := 0
	for _, r := range b.erp.All(model.Account) {
		if !r.Fields["phone"].IsNull() {
			n++
		}
	}
	return n
}

func (b *resyncBundle) events(t *testing.T) int {
	t.Helper()
	evs, err := b.st.ListEvents(b.ctx, &store.ListEventsParams{Flow: "customers", Limit: 10000})
	require.NoError(t, err)
	return len(evs)
}

// TestEngine_Resync: a field added to a flow is previewed for the linked
// records without a write, filled by a resync for every linked record (never
// creating one), and a second resync writes nothing.
func TestEngine_Resync(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setupResync(t, 60)
		// A CRM record not synced yet: not linked, so a resync leaves it alone.
		b.crm.Put(account("c99", "Not linked", ""))
		st, err := b.eng.MappingStatus(b.ctx, "customers")
		require.NoError(t, err)
		require.Equal(t, engine.MappingStatus{Leg: "customers", Known: true, Since: st.Since}, st)

		b.reconfigure(t, phoneLeg())
		st, err = b.eng.MappingStatus(b.ctx, "customers")
		require.NoError(t, err)
		require.True(t, st.Changed)
		require.Equal(t, []string{"fields added: phone"}, st.What)

		events := b.events(t)
		pv, err := b.eng.PreviewLinked(b.ctx, "customers", 5)
		require.NoError(t, err)
		require.Equal(t, 60, pv.Linked)
		require.Equal(t, 60, pv.Change)
		require.Equal(t, map[string]int{"phone": 60}, pv.Fields)
		require.Equal(t, "phone 60", pv.FieldSummary())
		require.Len(t, pv.Records, 5)
		require.Equal(t, "c00", pv.Records[0].Source.ID)
		require.Equal(t, []engine.Change{{Field: "phone", From: model.Null, To: model.Text("+4930000000")}}, pv.Records[0].Changes)
		require.Zero(t, b.writes.Load(), "a preview writes nothing")
		require.Zero(t, b.phones(t))
		require.Equal(t, events, b.events(t))

		outs := b.resync(t, "customers")
		require.Equal(t, map[store.Outcome]int{store.OutcomeUpdated: 60}, countOutcomes(outs))
		require.Equal(t, int64(60), b.writes.Load())
		require.Equal(t, 60, b.phones(t))
		require.Equal(t, 60, b.erp.Count(model.Account), "nothing created")
		require.Equal(t, events+60, b.events(t), "an event per record written")
		r, err := b.eng.Resync(b.ctx, "customers")
		require.NoError(t, err)
		require.Equal(t, [4]int{60, 60, 60, 60}, [4]int{r.Total, r.Queued, r.Compared, r.Changed})
		require.True(t, r.Finished())
		st, err = b.eng.MappingStatus(b.ctx, "customers")
		require.NoError(t, err)
		require.False(t, st.Changed, "the resync remembered the mapping")

		// The same resync again: nothing written, no event.
		outs = b.resync(t, "customers")
		require.Equal(t, map[store.Outcome]int{store.OutcomeUnchanged: 60}, countOutcomes(outs))
		require.Equal(t, int64(60), b.writes.Load())
		require.Equal(t, events+60, b.events(t))
		r, err = b.eng.Resync(b.ctx, "customers")
		require.NoError(t, err)
		require.Equal(t, [2]int{60, 0}, [2]int{r.Compared, r.Changed})

		pv, err = b.eng.PreviewLinked(b.ctx, "customers", 5)
		require.NoError(t, err)
		require.Equal(t, [2]int{60, 0}, [2]int{pv.Linked, pv.Change})
		require.Empty(t, pv.Records)
	})

	// Stopped after the first page was queued and after the first piece of
	// its batch was recorded, the resync resumes in a new process: the rest
	// of the batch from its checkpoint, the second page queued then, every
	// record written exactly once.
	t.Run("Resume", func(t *testing.T) {
		t.Parallel()
		b := setupResync(t, 70)
		b.reconfigure(t, phoneLeg())
		r, err := b.eng.StartResync(b.ctx, "customers")
		require.NoError(t, err)
		require.Equal(t, 70, r.Total)
		all, err := b.eng.QueueResync(b.ctx, "customers")
		require.NoError(t, err)
		require.False(t, all)
		batches := b.queue.take()
		require.Len(t, batches, 1)
		require.Len(t, batches[0].Fetch, 50)
		var rest engine.Batch
		_, err = b.eng.Process(b.ctx, batches[0], engine.ProcessOptions{
			Checkpoint: func(_ context.Context, _ store.Tx, r engine.Batch) error { rest = r; return nil },
			Stop:       func() bool { return true },
		})
		require.ErrorIs(t, err, engine.ErrStopped)
		written := b.writes.Load()
		require.Positive(t, written)
		require.Len(t, rest.Records, 50-int(written))
		require.True(t, rest.Resync && rest.Force)

		// A new process: plain sync finds the resync running and goes on.
		b.reconfigure(t, phoneLeg())
		running, err := b.eng.RunningResyncs(b.ctx, []string{"customers"})
		require.NoError(t, err)
		require.Equal(t, []string{"customers"}, running)
		again, err := b.eng.StartResync(b.ctx, "customers")
		require.NoError(t, err)
		require.Equal(t, r.StartedAt, again.StartedAt, "the running resync goes on")
		require.Equal(t, "c49", again.After)
		b.queue.batches = append(b.queue.batches, rest)
		outs := b.resync(t, "customers")
		require.Equal(t, map[store.Outcome]int{store.OutcomeUpdated: 70 - int(written)}, countOutcomes(outs))
		require.Equal(t, int64(70), b.writes.Load(), "every record written exactly once")
		require.Equal(t, 70, b.phones(t))
		require.Equal(t, 70, b.erp.Count(model.Account))
		r, err = b.eng.Resync(b.ctx, "customers")
		require.NoError(t, err)
		require.Equal(t, [4]int{70, 70, 70, 70}, [4]int{r.Total, r.Queued, r.Compared, r.Changed})
	})

	// A job whose last piece was recorded is run again when the process died
	// before the queue recorded it done: the checkpoint of its last piece
	// leaves nothing to compare, or count, twice.
	t.Run("RerunAfterLastPiece", func(t *testing.T) {
		t.Parallel()
		b := setupResync(t, 10)
		b.reconfigure(t, phoneLeg())
		_, err := b.eng.StartResync(b.ctx, "customers")
		require.NoError(t, err)
		all, err := b.eng.QueueResync(b.ctx, "customers")
		require.NoError(t, err)
		require.True(t, all)
		batches := b.queue.take()
		require.Len(t, batches, 1)
		var last *engine.Batch
		cp := engine.ProcessOptions{Checkpoint: func(_ context.Context, _ store.Tx, r engine.Batch) error { last = &r; return nil }}
		outs, err := b.eng.Process(b.ctx, batches[0], cp)
		require.NoError(t, err)
		require.Len(t, outs, 10)
		require.NotNil(t, last, "the last piece checkpoints")
		require.Empty(t, last.Records)
		require.Empty(t, last.Fetch)
		outs, err = b.eng.Process(b.ctx, *last, cp)
		require.NoError(t, err)
		require.Empty(t, outs)
		r, err := b.eng.Resync(b.ctx, "customers")
		require.NoError(t, err)
		require.Equal(t, [2]int{10, 10}, [2]int{r.Compared, r.Changed})
	})

	// A resync started under one mapping and changed again before it ended
	// starts over.
	t.Run("MappingChangedAgain", func(t *testing.T) {
		t.Parallel()
		b := setupResync(t, 10)
		b.reconfigure(t, phoneLeg())
		_, err := b.eng.StartResync(b.ctx, "customers")
		require.NoError(t, err)
		_, err = b.eng.QueueResync(b.ctx, "customers")
		require.NoError(t, err)
		b.queue.take() // never run
		b.reconfigure(t, forwardLeg())
		done, err := b.eng.FinishResync(b.ctx, "customers")
		require.NoError(t, err)
		require.False(t, done, "not the current mapping")
		r, err := b.eng.StartResync(b.ctx, "customers")
		require.NoError(t, err)
		require.Empty(t, r.After, "started over")
		require.False(t, r.QueuedAll)
	})

	t.Run("ErrLinkBy", func(t *testing.T) {
		t.Parallel()
		l := forwardLeg()
		l.Name, l.Flow = "invoices", "invoices"
		l.LinkBy = "name" // only its presence matters here
		b := setup(t, l)
		_, err := b.eng.StartResync(b.ctx, "invoices")
		require.ErrorContains(t, err, "nothing to resync")
	})
}

// TestEngine_SweepPreview: what a schedule flow's next sweep would put back is
// the linked records whose target was edited by hand, shown without a write.
func TestEngine_SweepPreview(t *testing.T) {
	t.Parallel()
	leg := forwardLeg()
	leg.Trigger = engine.TriggerSchedule
	b := setup(t, leg)
	for i := range 12 {
		b.crm.Put(account(fmt.Sprintf("c%02d", i), fmt.Sprintf("Customer %d", i), ""))
	}
	require.NoError(t, b.eng.StartSweep(b.ctx, "customers"))
	b.run(t, "customers")
	pv, err := b.eng.PreviewLinked(b.ctx, "customers", 10)
	require.NoError(t, err)
	require.Equal(t, [2]int{12, 0}, [2]int{pv.Linked, pv.Change})

	rec := byLinkKey(t, b.erp, "c07")
	rec.Fields["name"] = model.Text("Edited in the ERP")
	b.erp.Put(rec)
	pv, err = b.eng.PreviewLinked(b.ctx, "customers", 10)
	require.NoError(t, err)
	require.Equal(t, [2]int{12, 1}, [2]int{pv.Linked, pv.Change})
	require.Equal(t, "name 1", pv.FieldSummary())
	require.Len(t, pv.Records, 1)
	require.Equal(t, []engine.Change{{Field: "name", From: model.Text("Edited in the ERP"), To: model.Text("Customer 7")}}, pv.Records[0].Changes)
	require.Equal(t, "Edited in the ERP", byLinkKey(t, b.erp, "c07").Fields["name"].Str, "nothing written")

	// The sweep puts back exactly that.
	require.NoError(t, b.eng.StartSweep(b.ctx, "customers"))
	require.Equal(t, map[store.Outcome]int{store.OutcomeUnchanged: 11, store.OutcomeUpdated: 1}, countOutcomes(b.run(t, "customers")))
	require.Equal(t, "Customer 7", byLinkKey(t, b.erp, "c07").Fields["name"].Str)
}

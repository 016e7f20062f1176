package engine_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
)

// TestEngine_SweepSummary: a schedule leg's pass that changes nothing writes
// one summary row, not an event per record, however many batches and pieces
// it takes; records it changes or cannot send keep their events, and those
// replay.
func TestEngine_SweepSummary(t *testing.T) {
	t.Parallel()
	leg := forwardLeg()
	leg.Trigger = engine.TriggerSchedule
	// 50 records in batches of 20: three batches (and several pieces) a pass.
	b := setupWith(t, func(p *engine.Params) { p.BatchSize = 20 }, leg)
	for i := range 50 {
		b.crm.Put(account(fmt.Sprintf("c%02d", i), fmt.Sprintf("Customer %d", i), ""))
	}
	sweep := func() []engine.Outcome {
		t.Helper()
		require.NoError(t, b.eng.StartSweep(b.ctx, "customers"))
		return b.run(t, "customers")
	}
	events := func() []store.Event {
		t.Helper()
		evs, err := b.st.ListEvents(b.ctx, &store.ListEventsParams{Flow: "customers", Limit: 1000})
		require.NoError(t, err)
		return evs
	}
	sweeps := func() []store.Sweep {
		t.Helper()
		sw, err := b.st.ListSweeps(b.ctx, &store.ListSweepsParams{Flow: "customers"})
		require.NoError(t, err)
		return sw
	}

	require.Equal(t, map[store.Outcome]int{store.OutcomeCreated: 50}, countOutcomes(sweep()))
	require.Len(t, events(), 50, "every create has its event")
	first := sweeps()
	require.Len(t, first, 1)
	require.Equal(t, [3]int{50, 0, 50}, [3]int{first[0].Compared, first[0].Unchanged, first[0].Changed})

	for range 3 {
		outs := sweep()
		require.Equal(t, map[store.Outcome]int{store.OutcomeUnchanged: 50}, countOutcomes(outs))
		for _, o := range outs {
			require.Zero(t, o.EventID, "%s: an unchanged record of a sweep gets no event", o.SourceID)
		}
	}
	require.Len(t, events(), 50, "three passes that changed nothing wrote no event")
	sw := sweeps()
	require.Len(t, sw, 4, "one summary row per pass")
	for _, s := range sw[:3] {
		require.Equal(t, [3]int{50, 50, 0}, [3]int{s.Compared, s.Unchanged, s.Changed}, "pass %d", s.ID)
		require.False(t, s.UpdatedAt.Before(s.StartedAt))
	}

	// A value edited by hand in the target is put back, with its event; a
	// record that no longer passes validation keeps its event too.
	rec := byLinkKey(t, b.erp, "c07")
	rec.Fields["name"] = model.Text("Edited in the ERP")
	b.erp.Put(rec)
	b.crm.Put(account("c13", "  ", ""))
	outs := sweep()
	require.Equal(t, map[store.Outcome]int{store.OutcomeUnchanged: 48, store.OutcomeUpdated: 1, store.OutcomeQuarantined: 1}, countOutcomes(outs))
	evs := events()
	require.Len(t, evs, 52)
	require.Equal(t, store.OutcomeQuarantined, evs[0].Outcome)
	require.Equal(t, "c13", evs[0].SourceID)
	require.Equal(t, store.OutcomeUpdated, evs[1].Outcome)
	require.Equal(t, "c07", evs[1].SourceID)
	require.Contains(t, string(evs[1].Plan), "Edited in the ERP", "the event shows the overwritten value")
	last := sweeps()[0]
	require.Equal(t, [4]int{50, 48, 1, 1}, [4]int{last.Compared, last.Unchanged, last.Changed, last.Other()})

	// The sweep's event replays, and the replay is recorded even though it
	// changes nothing: a replay is not a sweep.
	out, err := b.eng.Replay(b.ctx, evs[1].ID)
	require.NoError(t, err)
	require.Equal(t, store.OutcomeUnchanged, out.Outcome)
	require.NotZero(t, out.EventID)
	ev, err := b.st.GetEvent(b.ctx, out.EventID)
	require.NoError(t, err)
	require.Equal(t, evs[1].ID, ev.Replay)
	require.Len(t, sweeps(), 5, "a replay opens no pass")
	require.Equal(t, 50, sweeps()[0].Compared, "nor counts in one")

	// A fresh store over the same systems: the pass finds every record in
	// the target by its link key and adopts it (created, adopted). Nothing is
	// written, but each link made keeps its event, and counts as a change.
	t.Run("LinkedKeepEvents", func(t *testing.T) {
		t.Parallel()
		fresh := &testBundle{ctx: b.ctx, st: openStore(t), crm: b.crm, erp: b.erp, queue: &captureQueue{}}
		var err error
		fresh.eng, err = engine.New(engine.Params{Store: fresh.st, Connectors: map[string]connector.Connector{"crm": b.crm, "erp": b.erp},
			Legs: []engine.Leg{leg}, ConfigVersion: "test", Queue: fresh.queue, BatchSize: 20})
		require.NoError(t, err)
		require.NoError(t, fresh.eng.StartSweep(fresh.ctx, "customers"))
		outs := fresh.run(t, "customers")
		require.Equal(t, map[store.Outcome]int{store.OutcomeCreated: 49, store.OutcomeQuarantined: 1}, countOutcomes(outs))
		evs, err := fresh.st.ListEvents(fresh.ctx, &store.ListEventsParams{Limit: 1000})
		require.NoError(t, err)
		require.Len(t, evs, 50)
		sw, err := fresh.st.ListSweeps(fresh.ctx, nil)
		require.NoError(t, err)
		require.Len(t, sw, 1)
		require.Equal(t, [4]int{50, 0, 49, 1}, [4]int{sw[0].Compared, sw[0].Unchanged, sw[0].Changed, sw[0].Other()})
	})

	// A change flow keeps an event per record, unchanged ones included.
	t.Run("ChangeFlowUnaffected", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.crm.Put(account("c1", "Alfreds", ""))
		b.run(t, "customers")
		require.NoError(t, b.eng.StartSweep(b.ctx, "customers"), "no pass for a change flow")
		read, err := b.crm.Read(b.ctx, connector.ReadRequest{Entity: model.Account, Limit: 10})
		require.NoError(t, err)
		require.Len(t, read.Records, 1)
		out, err := b.eng.Process(b.ctx, engine.Batch{Leg: "customers", Records: read.Records, Attempt: 1, Force: true}, engine.ProcessOptions{})
		require.NoError(t, err)
		require.Equal(t, store.OutcomeUnchanged, out[0].Outcome)
		require.NotZero(t, out[0].EventID)
		sw, err := b.st.ListSweeps(b.ctx, nil)
		require.NoError(t, err)
		require.Empty(t, sw)
	})
}

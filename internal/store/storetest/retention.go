package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/store"
)

func exerciseSweeps(t *testing.T, setup setupFunc) {
	t.Run("OnePerPass", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		// Pieces before any pass open one.
		require.NoError(t, s.AddSweepCounts(ctx, &store.SweepCounts{Flow: "products", At: ts(1), Compared: 3, Unchanged: 3}))
		require.NoError(t, s.StartSweep(ctx, "products", ts(2)))
		require.NoError(t, s.StartSweep(ctx, "other", ts(2)))
		for i := range 4 {
			require.NoError(t, s.InTx(ctx, func(tx store.Tx) error {
				return tx.AddSweepCounts(ctx, &store.SweepCounts{Flow: "products", At: ts(3 + i), Compared: 25, Unchanged: 24, Changed: 1})
			}))
		}
		require.NoError(t, s.AddSweepCounts(ctx, &store.SweepCounts{Flow: "products", At: ts(9)}), "an empty piece is ignored")

		got, err := s.ListSweeps(ctx, &store.ListSweepsParams{Flow: "products"})
		require.NoError(t, err)
		require.Len(t, got, 2)
		require.Equal(t, store.Sweep{ID: got[0].ID, Flow: "products", StartedAt: stored(ts(2)), UpdatedAt: stored(ts(6)),
			Compared: 100, Unchanged: 96, Changed: 4}, got[0])
		require.Zero(t, got[0].Other())
		require.Equal(t, store.Sweep{ID: got[1].ID, Flow: "products", StartedAt: stored(ts(1)), UpdatedAt: stored(ts(1)),
			Compared: 3, Unchanged: 3}, got[1])

		all, err := s.ListSweeps(ctx, nil)
		require.NoError(t, err)
		require.Len(t, all, 3)
		require.Equal(t, "other", all[0].Flow, "newest first")
		require.Zero(t, all[0].Compared)
	})
}

func exercisePrune(t *testing.T, setup setupFunc) {
	at := func(days int) time.Time { return time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC).AddDate(0, 0, days) }
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		// An event whose clock ran ahead of the next ones' is never deleted early.
		early := event("contacts", "early", store.OutcomeUpdated)
		early.StartedAt = at(-1)
		earlyID, err := s.InsertEvents(ctx, []store.Event{early})
		require.NoError(t, err)
		// Old events something still needs: an open dead letter's, a wait's,
		// and those of a record in quarantine.
		needed, err := s.InsertEvents(ctx, []store.Event{
			{Flow: "orders", Entity: "order", SourceSystem: "shop", SourceID: "o1", TargetSystem: "erp", Outcome: store.OutcomeDead, StartedAt: at(-200)},
			{Flow: "orders", Entity: "order", SourceSystem: "shop", SourceID: "o2", TargetSystem: "erp", Outcome: store.OutcomeDead, StartedAt: at(-200)},
			{Flow: "deals", Entity: "deal", SourceSystem: "crm", SourceID: "d1", TargetSystem: "erp", Outcome: store.OutcomeWaiting, StartedAt: at(-200)},
			func() store.Event {
				e := event("contacts", "q1", store.OutcomeQuarantined)
				e.StartedAt = at(-200)
				return e
			}(),
			func() store.Event {
				e := event("contacts", "q1", store.OutcomeQuarantined)
				e.StartedAt = at(-150)
				return e
			}(),
		})
		require.NoError(t, err)
		// Then 2,500 old events (more than two chunks), and 30 recent ones:
		// ids ascend with time, but for the first.
		var evs []store.Event
		for i := range 2530 {
			e := event("contacts", fmt.Sprintf("c%d", i), store.OutcomeUpdated)
			e.StartedAt = at(-100)
			if i >= 2500 {
				e.StartedAt = at(-1)
			}
			evs = append(evs, e)
		}
		ids, err := s.InsertEvents(ctx, evs)
		require.NoError(t, err)
		open, closed := deadLetter("orders", "o1"), deadLetter("orders", "o2")
		open.EventID, closed.EventID = needed[0], needed[1]
		_, err = s.InsertDeadLetters(ctx, []store.DeadLetter{open, closed})
		require.NoError(t, err)
		require.NoError(t, s.ResolveDeadLetters(ctx, &store.ResolveDeadLettersParams{Flow: "orders", System: "shop", Entity: "order", ExternalIDs: []string{"o2"}, Resolution: "synced"}))
		w := wait("deals", "d1", "a1")
		w.EventID = needed[2]
		require.NoError(t, s.PutWaits(ctx, []store.Wait{w}))
		require.NoError(t, s.Quarantine(ctx, []store.QuarantineEntry{quarantine("contacts", "q1", "email: not an address")}))
		// Sweep passes: one old, one recent.
		require.NoError(t, s.StartSweep(ctx, "products", at(-120)))
		require.NoError(t, s.StartSweep(ctx, "products", at(-1)))

		p := &store.PruneEventsParams{Before: at(-30), DryRun: true}
		dry, err := s.PruneEvents(ctx, p)
		require.NoError(t, err)
		require.Equal(t, store.PruneResult{Events: 2501, Sweeps: 1, Kept: 4}, dry, "the closed letter's event goes")
		n, err := countEvents(t, s)
		require.NoError(t, err)
		require.Equal(t, 2536, n, "a dry run deletes nothing")

		p.DryRun = false
		got, err := s.PruneEvents(ctx, p)
		require.NoError(t, err)
		require.Equal(t, dry, got)
		left, err := s.ListEvents(ctx, &store.ListEventsParams{Limit: 1000})
		require.NoError(t, err)
		keep := append([]int64{earlyID[0], needed[4], needed[3], needed[2], needed[0]}, ids[2500:]...)
		require.ElementsMatch(t, keep, eventIDs(left))
		sw, err := s.ListSweeps(ctx, nil)
		require.NoError(t, err)
		require.Len(t, sw, 1)
		require.Equal(t, stored(at(-1)), sw[0].StartedAt)

		again, err := s.PruneEvents(ctx, p)
		require.NoError(t, err)
		require.Equal(t, store.PruneResult{Kept: 4}, again)

		// Once the letter closes, the wait goes and the record leaves
		// quarantine, their events go too.
		require.NoError(t, s.ResolveDeadLetters(ctx, &store.ResolveDeadLettersParams{Flow: "orders", System: "shop", Entity: "order", ExternalIDs: []string{"o1"}, Resolution: "synced"}))
		require.NoError(t, s.DeleteWaits(ctx, &store.DeleteWaitsParams{Flow: "deals", System: "crm", Entity: "deal", ExternalIDs: []string{"d1"}}))
		require.NoError(t, s.ReleaseQuarantine(ctx, &store.ReleaseQuarantineParams{Flow: "contacts", System: "hubspot", Entity: "contact", ExternalIDs: []string{"q1"}}))
		got, err = s.PruneEvents(ctx, &store.PruneEventsParams{Before: at(-30), Chunk: 3})
		require.NoError(t, err)
		require.Equal(t, store.PruneResult{Events: 4}, got)
		n, err = countEvents(t, s)
		require.NoError(t, err)
		require.Equal(t, 31, n)
	})

	t.Run("ErrNoCutoff", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		_, err := s.PruneEvents(ctx, &store.PruneEventsParams{})
		require.Error(t, err)
	})

	t.Run("ErrCancelled", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		evs := make([]store.Event, 10)
		for i := range evs {
			evs[i] = event("contacts", fmt.Sprintf("c%d", i), store.OutcomeUpdated)
			evs[i].StartedAt = at(-100)
		}
		_, err := s.InsertEvents(ctx, evs)
		require.NoError(t, err)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		got, err := s.PruneEvents(cctx, &store.PruneEventsParams{Before: at(-30), Chunk: 2})
		require.ErrorIs(t, err, context.Canceled)
		require.Zero(t, got.Events)
		n, err := countEvents(t, s)
		require.NoError(t, err)
		require.Equal(t, 10, n)
	})
}

func countEvents(t *testing.T, s store.Store) (int, error) {
	t.Helper()
	var n int
	err := s.DB().QueryRowContext(t.Context(), "SELECT COUNT(*) FROM concord_event").Scan(&n)
	return n, err
}

package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
)

// exerciseEventSearch checks the console's event search: by system, by a
// source or target record id, by time, and paging both ways.
func exerciseEventSearch(t *testing.T, setup setupFunc) {
	t.Run("Filters", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		base := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
		var batch []store.Event
		for i := range 60 {
			e := store.Event{Flow: "customers", Entity: model.Account, SourceSystem: "crm", SourceID: fmt.Sprintf("c%d", i%6),
				TargetSystem: "erp", TargetID: fmt.Sprintf("e%d", i%4), Outcome: store.OutcomeUpdated, StartedAt: base.Add(time.Duration(i) * time.Minute)}
			if i%2 == 1 {
				e.Flow, e.SourceSystem, e.TargetSystem = "products", "erp", "shop"
			}
			batch = append(batch, e)
		}
		ids, err := s.InsertEvents(ctx, batch)
		require.NoError(t, err)

		got, err := s.ListEvents(ctx, &store.ListEventsParams{System: "shop", Limit: 1000})
		require.NoError(t, err)
		require.Len(t, got, 30)
		got, err = s.ListEvents(ctx, &store.ListEventsParams{System: "erp", Limit: 1000})
		require.NoError(t, err)
		require.Len(t, got, 60, "erp is the target of one flow and the source of the other")

		// e1 is the target of events 1, 5, 9, ...; c1 the source of 1, 7, 13, ...
		got, err = s.ListEvents(ctx, &store.ListEventsParams{RecordID: "e1", Limit: 1000})
		require.NoError(t, err)
		require.Len(t, got, 15)
		for _, e := range got {
			require.Equal(t, "e1", e.TargetID)
		}
		got, err = s.ListEvents(ctx, &store.ListEventsParams{RecordID: "c1", Limit: 1000})
		require.NoError(t, err)
		require.Len(t, got, 10)

		got, err = s.ListEvents(ctx, &store.ListEventsParams{Since: base.Add(10 * time.Minute), Until: base.Add(20 * time.Minute), Limit: 1000})
		require.NoError(t, err)
		require.Equal(t, ids[10:20], reversed(eventIDs(got)), "[since, until)")
		got, err = s.ListEvents(ctx, &store.ListEventsParams{Since: base.Add(55 * time.Minute), Limit: 1000})
		require.NoError(t, err)
		require.Len(t, got, 5)

		got, err = s.ListEvents(ctx, &store.ListEventsParams{AfterID: ids[10], Limit: 3})
		require.NoError(t, err)
		require.Equal(t, []int64{ids[13], ids[12], ids[11]}, eventIDs(got), "the events just above, newest first")
	})

	t.Run("Counts", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		base := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
		var batch []store.Event
		for i := range 90 {
			outcome := store.OutcomeCreated
			if i%3 == 0 {
				outcome = store.OutcomeFailed
			}
			batch = append(batch, store.Event{Flow: "orders", Entity: model.Deal, SourceSystem: "crm", SourceID: fmt.Sprint(i),
				TargetSystem: "erp", Outcome: outcome, StartedAt: base.Add(time.Duration(i) * 20 * time.Second)})
		}
		// Two calls: the counts of one minute add up across batches.
		_, err := s.InsertEvents(ctx, batch[:45])
		require.NoError(t, err)
		require.NoError(t, s.InTx(ctx, func(tx store.Tx) error {
			_, err := tx.InsertEvents(ctx, batch[45:])
			return err
		}))
		counts, err := s.CountEvents(ctx, &store.CountEventsParams{Since: base, Bucket: 10 * time.Minute})
		require.NoError(t, err)
		// 90 events 20 s apart: 30 minutes, three 10-minute buckets of 30.
		sum := map[time.Time]map[store.Outcome]int{}
		for _, c := range counts {
			require.Equal(t, "orders", c.Flow)
			if sum[c.Minute] == nil {
				sum[c.Minute] = map[store.Outcome]int{}
			}
			sum[c.Minute][c.Outcome] += c.N
		}
		require.Equal(t, map[time.Time]map[store.Outcome]int{
			base:                       {store.OutcomeCreated: 20, store.OutcomeFailed: 10},
			base.Add(10 * time.Minute): {store.OutcomeCreated: 20, store.OutcomeFailed: 10},
			base.Add(20 * time.Minute): {store.OutcomeCreated: 20, store.OutcomeFailed: 10},
		}, sum)

		later, err := s.CountEvents(ctx, &store.CountEventsParams{Since: base.Add(25 * time.Minute)})
		require.NoError(t, err)
		n := 0
		for _, c := range later {
			n += c.N
		}
		require.Equal(t, 15, n, "minutes 25 to 29, 3 events each")

		// A rolled-back insert leaves no count behind.
		require.Error(t, s.InTx(ctx, func(tx store.Tx) error {
			if _, err := tx.InsertEvents(ctx, batch[:1]); err != nil {
				return err
			}
			return fmt.Errorf("roll back")
		}))
		again, err := s.CountEvents(ctx, &store.CountEventsParams{Since: base})
		require.NoError(t, err)
		n = 0
		for _, c := range again {
			n += c.N
		}
		require.Equal(t, 90, n)
	})
}

func reversed(ids []int64) []int64 {
	out := make([]int64, len(ids))
	for i, id := range ids {
		out[len(ids)-1-i] = id
	}
	return out
}

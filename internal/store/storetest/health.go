package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
)

func exerciseHealth(t *testing.T, setup setupFunc) {
	t.Run("Backlog", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		got, err := s.Backlog(ctx, &store.BacklogParams{LastEvent: true})
		require.NoError(t, err)
		require.Empty(t, got, "an empty store has nothing open")

		_, err = s.InsertDeadLetters(ctx, []store.DeadLetter{deadLetter("orders", "o1"), deadLetter("orders", "o2"), deadLetter("deals", "d1")})
		require.NoError(t, err)
		q1, q2 := quarantine("contacts", "c1", "bad email"), quarantine("contacts", "c2", "bad email")
		q1.CreatedAt, q2.CreatedAt = ts(1), ts(2)
		require.NoError(t, s.Quarantine(ctx, []store.QuarantineEntry{q1, q2}))
		w2 := wait("deals", "d2", "a2")
		w2.Since = ts(5)
		require.NoError(t, s.PutWaits(ctx, []store.Wait{wait("deals", "d1", "a1"), w2}))
		r2 := review("customers", "c2", "E2", 0.9)
		r2.CreatedAt = ts(7)
		require.NoError(t, s.PutReviews(ctx, []store.Review{review("customers", "c1", "E1", 0.8), r2}))
		_, err = s.InsertEvents(ctx, []store.Event{
			{Flow: "orders", Entity: model.Order, Outcome: store.OutcomeFailed, StartedAt: ts(3)},
			{Flow: "orders", Entity: model.Order, Outcome: store.OutcomeDead, StartedAt: ts(4)},
			{Flow: "deals", Entity: model.Deal, Outcome: store.OutcomeWaiting, StartedAt: ts(9)},
		})
		require.NoError(t, err)

		got, err = s.Backlog(ctx, nil)
		require.NoError(t, err)
		require.Equal(t, map[string]store.LegBacklog{
			"orders":    {DeadLetters: 2},
			"deals":     {DeadLetters: 1, Waiting: 2, OldestWait: stored(ts(1))},
			"contacts":  {Quarantine: 2},
			"customers": {PendingReviews: 2, OldestReview: stored(ts(1))},
		}, got)

		// Counts go down when things are fixed.
		require.NoError(t, s.ResolveDeadLetters(ctx, &store.ResolveDeadLettersParams{Flow: "orders", System: "shop", Entity: model.Order, ExternalIDs: []string{"o1"}, Resolution: "synced"}))
		require.NoError(t, s.ReleaseQuarantine(ctx, &store.ReleaseQuarantineParams{Flow: "contacts", System: "hubspot", Entity: model.Contact, ExternalIDs: []string{"c1", "c2"}}))
		require.NoError(t, s.DeleteWaits(ctx, &store.DeleteWaitsParams{Flow: "deals", System: "crm", Entity: model.Deal, ExternalIDs: []string{"d1"}}))
		reviews, err := s.ListReviews(ctx, &store.ListReviewsParams{Flow: "customers", ExternalIDs: []string{"c1"}, System: "crm", Entity: model.Account})
		require.NoError(t, err)
		require.Len(t, reviews, 1)
		_, err = s.DecideReviews(ctx, &store.DecideReviewsParams{IDs: []int64{reviews[0].ID}, State: store.ReviewRejected})
		require.NoError(t, err)

		got, err = s.Backlog(ctx, &store.BacklogParams{LastEvent: true})
		require.NoError(t, err)
		require.Equal(t, map[string]store.LegBacklog{
			"orders":    {DeadLetters: 1, LastEvent: stored(ts(4))},
			"deals":     {DeadLetters: 1, Waiting: 1, OldestWait: stored(ts(5)), LastEvent: stored(ts(9))},
			"customers": {PendingReviews: 1, OldestReview: stored(ts(7))},
		}, got)
	})

	t.Run("Heartbeat", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		require.NoError(t, s.Heartbeat(ctx, "node-a", ts(1)))
		require.NoError(t, s.Heartbeat(ctx, "node-a", ts(2)), "a second beat replaces the first")
		require.NoError(t, s.Heartbeat(ctx, "node-b", time.Time{}), "zero means now")
		var n int
		require.NoError(t, s.DB().QueryRowContext(ctx, "SELECT count(*) FROM concord_heartbeat").Scan(&n))
		require.Equal(t, 2, n)
	})
}

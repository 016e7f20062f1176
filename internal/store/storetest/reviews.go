package storetest

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
)

func review(flow, id, targetID string, score float64) store.Review {
	return store.Review{Flow: flow, System: "crm", Entity: model.Account, ExternalID: id,
		TargetSystem: "erp", TargetEntity: model.Account, TargetID: targetID, Score: score,
		Fields: []byte(`[{"field":"name","a":"Alfreds","b":"ALFREDS","score":1}]`), Snapshot: []byte(`{"id":"` + id + `"}`),
		Target: []byte(`{"id":"` + targetID + `"}`), EventID: 7, CreatedAt: ts(1)}
}

func reviewKeys(rs []store.Review) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Flow + "/" + r.ExternalID + "~" + r.TargetID
	}
	return out
}

func exerciseReviews(t *testing.T, setup setupFunc) {
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		require.NoError(t, s.PutReviews(ctx, []store.Review{review("customers", "c1", "E1", 0.85), review("customers", "c2", "E2", 0.91), review("other", "c1", "E1", 0.8)}))
		n, err := s.CountReviews(ctx, "")
		require.NoError(t, err)
		require.Equal(t, 3, n)
		n, err = s.CountReviews(ctx, "customers")
		require.NoError(t, err)
		require.Equal(t, 2, n)

		list, err := s.ListReviews(ctx, &store.ListReviewsParams{Flow: "customers"})
		require.NoError(t, err)
		require.Equal(t, []string{"customers/c1~E1", "customers/c2~E2"}, reviewKeys(list))
		got := list[0]
		require.Equal(t, store.ReviewPending, got.State)
		require.Equal(t, model.Account, got.Entity)
		require.Equal(t, "erp", got.TargetSystem)
		require.InDelta(t, 0.85, got.Score, 1e-9)
		require.JSONEq(t, `[{"field":"name","a":"Alfreds","b":"ALFREDS","score":1}]`, string(got.Fields))
		require.Equal(t, stored(ts(1)), got.CreatedAt)
		require.True(t, got.DecidedAt.IsZero())
		one, err := s.GetReview(ctx, got.ID)
		require.NoError(t, err)
		require.Equal(t, got, one)

		above, err := s.ListReviews(ctx, &store.ListReviewsParams{MinScore: 0.9})
		require.NoError(t, err)
		require.Equal(t, []string{"customers/c2~E2"}, reviewKeys(above))
		of, err := s.ListReviews(ctx, &store.ListReviewsParams{Flow: "customers", System: "crm", Entity: model.Account, ExternalIDs: []string{"c1", "c9"}})
		require.NoError(t, err)
		require.Equal(t, []string{"customers/c1~E1"}, reviewKeys(of))

		// A pending pair put again is updated in place.
		again := review("customers", "c1", "E1", 0.88)
		again.EventID = 9
		require.NoError(t, s.PutReviews(ctx, []store.Review{again}))
		one, err = s.GetReview(ctx, got.ID)
		require.NoError(t, err)
		require.InDelta(t, 0.88, one.Score, 1e-9)
		require.Equal(t, int64(9), one.EventID)

		// Decided reviews leave the pending list; deciding again changes nothing.
		k, err := s.DecideReviews(ctx, &store.DecideReviewsParams{IDs: []int64{got.ID}, State: store.ReviewRejected, At: ts(5)})
		require.NoError(t, err)
		require.Equal(t, 1, k)
		k, err = s.DecideReviews(ctx, &store.DecideReviewsParams{IDs: []int64{got.ID}, State: store.ReviewAccepted})
		require.NoError(t, err)
		require.Zero(t, k)
		one, err = s.GetReview(ctx, got.ID)
		require.NoError(t, err)
		require.Equal(t, store.ReviewRejected, one.State)
		require.Equal(t, stored(ts(5)), one.DecidedAt)
		n, err = s.CountReviews(ctx, "customers")
		require.NoError(t, err)
		require.Equal(t, 1, n)

		// A rejected pair stays rejected when it is put again.
		require.NoError(t, s.PutReviews(ctx, []store.Review{review("customers", "c1", "E1", 0.9)}))
		one, err = s.GetReview(ctx, got.ID)
		require.NoError(t, err)
		require.Equal(t, store.ReviewRejected, one.State)
		all, err := s.ListReviews(ctx, &store.ListReviewsParams{Flow: "customers", States: []store.ReviewState{store.ReviewPending, store.ReviewRejected}})
		require.NoError(t, err)
		require.Len(t, all, 2)
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		_, err := s.GetReview(ctx, 42)
		require.True(t, errors.Is(err, store.ErrNotFound), "got %v", err)
		_, err = s.DecideReviews(ctx, &store.DecideReviewsParams{IDs: []int64{1}, State: store.ReviewPending})
		require.Error(t, err)
	})
}

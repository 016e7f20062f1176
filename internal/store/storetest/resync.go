package storetest

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
)

// exerciseResync covers what a resync of a leg keeps: the linked records it
// pages through, the leg's remembered mapping and the resync's progress.
func exerciseResync(t *testing.T, setup setupFunc) {
	t.Run("ListLinked", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		var links []store.Link
		for i := range 25 {
			cid := fmt.Sprintf("cid-%02d", i)
			links = append(links, link(model.Account, cid, "crm", fmt.Sprintf("c%02d", i)))
			if i%5 != 0 { // c00, c05, ... have no counterpart in the ERP
				links = append(links, link(model.Account, cid, "erp", fmt.Sprintf("E%02d", i)))
			}
			// Another entity between the same systems, and another target.
			links = append(links, link(model.Deal, "deal-"+cid, "crm", fmt.Sprintf("c%02d", i)), link(model.Deal, "deal-"+cid, "erp", fmt.Sprintf("D%02d", i)))
			links = append(links, link(model.Account, cid, "shop", fmt.Sprintf("S%02d", i)))
		}
		require.NoError(t, s.PutLinks(ctx, &store.PutLinksParams{Links: links}))
		p := &store.ListLinkedParams{System: "crm", Entity: model.Account, TargetSystem: "erp", TargetEntity: model.Account, Limit: 7}
		n, err := s.CountLinked(ctx, p)
		require.NoError(t, err)
		require.Equal(t, 20, n)
		var all []string
		for {
			page, err := s.ListLinked(ctx, p)
			require.NoError(t, err)
			if len(page) == 0 {
				break
			}
			require.LessOrEqual(t, len(page), 7)
			all = append(all, page...)
			p.After = page[len(page)-1]
		}
		require.Len(t, all, 20)
		require.IsIncreasing(t, all)
		require.NotContains(t, all, "c05")
		require.Contains(t, all, "c24")

		// The other direction, and a cross-entity pairing (same concord id).
		back, err := s.ListLinked(ctx, &store.ListLinkedParams{System: "erp", Entity: model.Account, TargetSystem: "crm", TargetEntity: model.Account})
		require.NoError(t, err)
		require.Len(t, back, 20)
		require.Equal(t, "E01", back[0])
		none, err := s.CountLinked(ctx, &store.ListLinkedParams{System: "crm", Entity: model.Account, TargetSystem: "erp", TargetEntity: model.Deal})
		require.NoError(t, err)
		require.Zero(t, none)
	})

	t.Run("LegMapping", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		_, err := s.GetLegMapping(ctx, "customers")
		require.ErrorIs(t, err, store.ErrNotFound)
		require.NoError(t, s.PutLegMapping(ctx, &store.LegMapping{Leg: "customers", Fingerprint: "a1", Description: `{"fields":"name"}`, UpdatedAt: ts(1)}))
		require.NoError(t, s.PutLegMapping(ctx, &store.LegMapping{Leg: "customers", Fingerprint: "b2", Description: `{"fields":"name,zip"}`, UpdatedAt: ts(2)}))
		m, err := s.GetLegMapping(ctx, "customers")
		require.NoError(t, err)
		require.Equal(t, store.LegMapping{Leg: "customers", Fingerprint: "b2", Description: `{"fields":"name,zip"}`, UpdatedAt: stored(ts(2))}, m)
	})

	t.Run("Progress", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		_, err := s.GetResync(ctx, "customers")
		require.ErrorIs(t, err, store.ErrNotFound)
		// Counts without a resync are dropped.
		require.NoError(t, s.AddResyncCounts(ctx, &store.ResyncCounts{Leg: "customers", Compared: 3, Changed: 1}))

		require.NoError(t, s.StartResync(ctx, &store.Resync{Leg: "customers", Mapping: "b2", Total: 88, StartedAt: ts(1)}))
		require.NoError(t, s.InTx(ctx, func(tx store.Tx) error {
			if err := tx.AdvanceResync(ctx, &store.AdvanceResyncParams{Leg: "customers", After: "c40", Queued: 40, At: ts(2)}); err != nil {
				return err
			}
			return tx.AddResyncCounts(ctx, &store.ResyncCounts{Leg: "customers", Compared: 25, Changed: 20, At: ts(3)})
		}))
		require.NoError(t, s.AdvanceResync(ctx, &store.AdvanceResyncParams{Leg: "customers", After: "c88", Queued: 48, QueuedAll: true, At: ts(4)}))
		require.NoError(t, s.AddResyncCounts(ctx, &store.ResyncCounts{Leg: "customers", Compared: 63, Changed: 41, At: ts(5)}))
		r, err := s.GetResync(ctx, "customers")
		require.NoError(t, err)
		require.Equal(t, store.Resync{Leg: "customers", Mapping: "b2", StartedAt: stored(ts(1)), UpdatedAt: stored(ts(5)), Total: 88,
			After: "c88", Queued: 88, QueuedAll: true, Compared: 88, Changed: 61}, r)
		require.False(t, r.Finished())

		require.NoError(t, s.FinishResync(ctx, "customers", ts(6)))
		require.NoError(t, s.FinishResync(ctx, "customers", ts(7)), "finishing twice keeps the first time")
		require.NoError(t, s.AddResyncCounts(ctx, &store.ResyncCounts{Leg: "customers", Compared: 5, Changed: 5}))
		r, err = s.GetResync(ctx, "customers")
		require.NoError(t, err)
		require.True(t, r.Finished())
		require.Equal(t, stored(ts(6)), r.FinishedAt)
		require.Equal(t, 88, r.Compared, "a finished resync counts nothing more")

		// A new resync replaces it, from the start.
		require.NoError(t, s.StartResync(ctx, &store.Resync{Leg: "customers", Mapping: "c3", Total: 90, StartedAt: ts(8)}))
		r, err = s.GetResync(ctx, "customers")
		require.NoError(t, err)
		require.Equal(t, store.Resync{Leg: "customers", Mapping: "c3", StartedAt: stored(ts(8)), UpdatedAt: stored(ts(8)), Total: 90}, r)
	})
}

package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
)

// Exercise runs the conformance suite against the store returned by open, which
// must give each call a fresh, empty store. Subtests run in parallel; Exercise
// closes every store it opens.
func Exercise(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()

	setup := func(t *testing.T) (store.Store, context.Context) {
		t.Helper()
		s := open(t)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		return s, t.Context()
	}

	t.Run("Store", func(t *testing.T) {
		t.Parallel()
		t.Run("DialectAndDB", func(t *testing.T) {
			t.Parallel()
			s, ctx := setup(t)
			require.Contains(t, []string{"sqlite", "postgres"}, s.Dialect())
			require.NoError(t, s.DB().PingContext(ctx))
			var n int
			require.NoError(t, s.DB().QueryRowContext(ctx,
				"SELECT COUNT(*) FROM concord_migration").Scan(&n))
			require.GreaterOrEqual(t, n, 1, "migrations recorded")
		})
		t.Run("CloseTwice", func(t *testing.T) {
			t.Parallel()
			s := open(t)
			require.NoError(t, s.Close())
			require.NoError(t, s.Close())
		})
	})

	t.Run("PutLinks", func(t *testing.T) { t.Parallel(); exerciseLinks(t, setup) })
	t.Run("InsertWebhookEvents", func(t *testing.T) { t.Parallel(); exerciseWebhooks(t, setup) })
	t.Run("MarkAnnounced", func(t *testing.T) { t.Parallel(); exerciseAnnounced(t, setup) })
	t.Run("ListLinks", func(t *testing.T) { t.Parallel(); exerciseListLinks(t, setup) })
	t.Run("InsertEvents", func(t *testing.T) { t.Parallel(); exerciseEvents(t, setup) })
	t.Run("EventSearch", func(t *testing.T) { t.Parallel(); exerciseEventSearch(t, setup) })
	t.Run("Cursor", func(t *testing.T) { t.Parallel(); exerciseCursors(t, setup) })
	t.Run("Fingerprints", func(t *testing.T) { t.Parallel(); exerciseFingerprints(t, setup) })
	t.Run("Quarantine", func(t *testing.T) { t.Parallel(); exerciseQuarantine(t, setup) })
	t.Run("DeadLetters", func(t *testing.T) { t.Parallel(); exerciseDeadLetters(t, setup) })
	t.Run("Waits", func(t *testing.T) { t.Parallel(); exerciseWaits(t, setup) })
	t.Run("Sweeps", func(t *testing.T) { t.Parallel(); exerciseSweeps(t, setup) })
	t.Run("PruneEvents", func(t *testing.T) { t.Parallel(); exercisePrune(t, setup) })
	t.Run("Reviews", func(t *testing.T) { t.Parallel(); exerciseReviews(t, setup) })
	t.Run("InTx", func(t *testing.T) { t.Parallel(); exerciseTx(t, setup) })
	t.Run("EmptyCalls", func(t *testing.T) { t.Parallel(); exerciseEmpty(t, setup) })
	t.Run("Resync", func(t *testing.T) { t.Parallel(); exerciseResync(t, setup) })
	t.Run("Health", func(t *testing.T) { t.Parallel(); exerciseHealth(t, setup) })
	t.Run("Leases", func(t *testing.T) { t.Parallel(); exerciseLeases(t, setup) })
	t.Run("TakeTokens", func(t *testing.T) { t.Parallel(); exerciseTokens(t, setup) })
}

type setupFunc func(t *testing.T) (store.Store, context.Context)

// ts is a time with nanoseconds and a non-UTC zone; stores return it truncated
// to the microsecond, in UTC.
func ts(sec int) time.Time {
	return time.Date(2025, 3, 14, 15, 9, sec, 265358979, time.FixedZone("CET", 3600))
}

func stored(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func link(entity model.Entity, concordID, system, externalID string) store.Link {
	return store.Link{Entity: entity, ConcordID: concordID, System: system, ExternalID: externalID}
}

func exerciseLinks(t *testing.T, setup setupFunc) {
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		in := link(model.Contact, "c1", "hubspot", "h1")
		in.CreatedAt, in.UpdatedAt = ts(1), ts(2)
		require.NoError(t, s.PutLinks(ctx, &store.PutLinksParams{Links: []store.Link{
			in, link(model.Contact, "c2", "hubspot", "h2"), link(model.Contact, "c1", "tryton", "t1"),
		}}))

		got, err := s.GetLinks(ctx, &store.GetLinksParams{System: "hubspot", Entity: model.Contact,
			ExternalIDs: []string{"h1", "h2", "h1", "nope"}})
		require.NoError(t, err)
		require.Len(t, got, 2)
		want := in
		want.CreatedAt, want.UpdatedAt = stored(in.CreatedAt), stored(in.UpdatedAt)
		require.Equal(t, want, got["h1"])
		require.Equal(t, "c2", got["h2"].ConcordID)
		require.Equal(t, time.UTC, got["h2"].CreatedAt.Location())
		require.WithinDuration(t, time.Now(), got["h2"].CreatedAt, time.Minute, "zero time set to now")
		require.NotContains(t, got, "nope")

		byConcord, err := s.GetLinksByConcordID(ctx, &store.GetLinksByConcordIDParams{System: "tryton",
			Entity: model.Contact, ConcordIDs: []string{"c1", "c2"}})
		require.NoError(t, err)
		require.Len(t, byConcord, 1)
		require.Equal(t, "t1", byConcord["c1"].ExternalID)

		// Other entities and systems are separate key spaces.
		got, err = s.GetLinks(ctx, &store.GetLinksParams{System: "hubspot", Entity: model.Account,
			ExternalIDs: []string{"h1"}})
		require.NoError(t, err)
		require.Empty(t, got)
	})

	t.Run("UpdateExternalID", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		first := link(model.Deal, "c1", "erp", "e1")
		first.CreatedAt, first.UpdatedAt = ts(1), ts(1)
		require.NoError(t, s.PutLinks(ctx, &store.PutLinksParams{Links: []store.Link{first}}))
		second := link(model.Deal, "c1", "erp", "e2")
		second.CreatedAt, second.UpdatedAt = ts(5), ts(6)
		require.NoError(t, s.PutLinks(ctx, &store.PutLinksParams{Links: []store.Link{second}}))

		got, err := s.GetLinksByConcordID(ctx, &store.GetLinksByConcordIDParams{System: "erp",
			Entity: model.Deal, ConcordIDs: []string{"c1"}})
		require.NoError(t, err)
		require.Equal(t, "e2", got["c1"].ExternalID)
		require.Equal(t, stored(ts(1)), got["c1"].CreatedAt, "created_at kept")
		require.Equal(t, stored(ts(6)), got["c1"].UpdatedAt)

		old, err := s.GetLinks(ctx, &store.GetLinksParams{System: "erp", Entity: model.Deal,
			ExternalIDs: []string{"e1", "e2"}})
		require.NoError(t, err)
		require.Len(t, old, 1, "the old external id is released")
		require.Contains(t, old, "e2")

		// The released external id can go to another concord id.
		require.NoError(t, s.PutLinks(ctx, &store.PutLinksParams{Links: []store.Link{link(model.Deal, "c9", "erp", "e1")}}))

		// Last one wins within a batch.
		require.NoError(t, s.PutLinks(ctx, &store.PutLinksParams{Links: []store.Link{
			link(model.Deal, "c2", "erp", "x"), link(model.Deal, "c2", "erp", "y"),
		}}))
		got, err = s.GetLinksByConcordID(ctx, &store.GetLinksByConcordIDParams{System: "erp",
			Entity: model.Deal, ConcordIDs: []string{"c2"}})
		require.NoError(t, err)
		require.Equal(t, "y", got["c2"].ExternalID)
	})

	t.Run("ErrConflict", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		require.NoError(t, s.PutLinks(ctx, &store.PutLinksParams{Links: []store.Link{link(model.Contact, "c1", "hubspot", "h1")}}))

		err := s.PutLinks(ctx, &store.PutLinksParams{Links: []store.Link{
			link(model.Contact, "c3", "hubspot", "h3"), // fine alone
			link(model.Contact, "c2", "hubspot", "h1"), // h1 belongs to c1
		}})
		require.ErrorIs(t, err, store.ErrConflict)
		got, err := s.GetLinks(ctx, &store.GetLinksParams{System: "hubspot", Entity: model.Contact,
			ExternalIDs: []string{"h1", "h3"}})
		require.NoError(t, err)
		require.Len(t, got, 1, "nothing of the failed batch written")
		require.Equal(t, "c1", got["h1"].ConcordID)

		// Two concord ids for one external id within the batch.
		err = s.PutLinks(ctx, &store.PutLinksParams{Links: []store.Link{
			link(model.Contact, "c4", "hubspot", "h4"), link(model.Contact, "c5", "hubspot", "h4"),
		}})
		require.ErrorIs(t, err, store.ErrConflict)
		got, err = s.GetLinks(ctx, &store.GetLinksParams{System: "hubspot", Entity: model.Contact, ExternalIDs: []string{"h4"}})
		require.NoError(t, err)
		require.Empty(t, got)
	})

	t.Run("ErrConflictInTx", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		require.NoError(t, s.PutLinks(ctx, &store.PutLinksParams{Links: []store.Link{link(model.Order, "c1", "erp", "o1")}}))

		// Over one chunk, so that the conflict is found late, inside a caller's tx.
		batch := make([]store.Link, 0, 2501)
		for i := range 2500 {
			batch = append(batch, link(model.Order, fmt.Sprintf("n%d", i), "erp", fmt.Sprintf("p%d", i)))
		}
		batch = append(batch, link(model.Order, "c2", "erp", "o1"))
		err := s.InTx(ctx, func(tx store.Tx) error {
			require.NoError(t, tx.PutLinks(ctx, &store.PutLinksParams{Links: []store.Link{link(model.Order, "k", "erp", "k1")}}))
			err := tx.PutLinks(ctx, &store.PutLinksParams{Links: batch})
			require.ErrorIs(t, err, store.ErrConflict)
			// The transaction is still usable, and only the failed batch is gone.
			got, err := tx.GetLinks(ctx, &store.GetLinksParams{System: "erp", Entity: model.Order,
				ExternalIDs: []string{"k1", "p0", "p2499"}})
			require.NoError(t, err)
			require.Len(t, got, 1)
			return tx.PutLinks(ctx, &store.PutLinksParams{Links: []store.Link{link(model.Order, "k2", "erp", "k2")}})
		})
		require.NoError(t, err)
		all, err := s.ListLinks(ctx, &store.ListLinksParams{Entity: model.Order, Limit: 10000})
		require.NoError(t, err)
		require.Len(t, all, 3)
	})

	t.Run("LargeBatch", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		const n = 5000
		links := make([]store.Link, n)
		ext := make([]string, n)
		con := make([]string, n)
		for i := range links {
			ext[i], con[i] = fmt.Sprintf("x%05d", i), fmt.Sprintf("c%05d", i)
			links[i] = link(model.Product, con[i], "shop", ext[i])
		}
		require.NoError(t, s.PutLinks(ctx, &store.PutLinksParams{Links: links}))
		got, err := s.GetLinks(ctx, &store.GetLinksParams{System: "shop", Entity: model.Product, ExternalIDs: ext})
		require.NoError(t, err)
		require.Len(t, got, n)
		require.Equal(t, "c04999", got["x04999"].ConcordID)
		byConcord, err := s.GetLinksByConcordID(ctx, &store.GetLinksByConcordIDParams{System: "shop",
			Entity: model.Product, ConcordIDs: con})
		require.NoError(t, err)
		require.Len(t, byConcord, n)
		require.Equal(t, "x00000", byConcord["c00000"].ExternalID)

		// Re-putting the same batch is an idempotent update.
		require.NoError(t, s.PutLinks(ctx, &store.PutLinksParams{Links: links}))
		// A conflict in the last row leaves nothing of a new large batch.
		fresh := make([]store.Link, n)
		for i := range fresh {
			fresh[i] = link(model.Product, fmt.Sprintf("d%05d", i), "shop", fmt.Sprintf("y%05d", i))
		}
		fresh[n-1] = link(model.Product, "d-last", "shop", "x00000")
		require.ErrorIs(t, s.PutLinks(ctx, &store.PutLinksParams{Links: fresh}), store.ErrConflict)
		got, err = s.GetLinks(ctx, &store.GetLinksParams{System: "shop", Entity: model.Product,
			ExternalIDs: []string{"y00000", "y04998"}})
		require.NoError(t, err)
		require.Empty(t, got)
	})
}

func exerciseListLinks(t *testing.T, setup setupFunc) {
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		for i := range 5 {
			l := link(model.Contact, fmt.Sprintf("c%d", i), "hubspot", fmt.Sprintf("h%d", i))
			l.UpdatedAt = ts(i)
			require.NoError(t, s.PutLinks(ctx, &store.PutLinksParams{Links: []store.Link{l}}))
		}
		require.NoError(t, s.PutLinks(ctx, &store.PutLinksParams{Links: []store.Link{
			link(model.Contact, "c0", "tryton", "t0"), link(model.Account, "a0", "hubspot", "ha0"),
		}}))

		all, err := s.ListLinks(ctx, nil)
		require.NoError(t, err)
		require.Len(t, all, 7)

		got, err := s.ListLinks(ctx, &store.ListLinksParams{Entity: model.Contact, System: "hubspot", Limit: 3})
		require.NoError(t, err)
		require.Equal(t, []string{"h4", "h3", "h2"}, externalIDs(got), "newest first")

		got, err = s.ListLinks(ctx, &store.ListLinksParams{ConcordID: "c0"})
		require.NoError(t, err)
		require.Len(t, got, 2)
		for _, l := range got {
			require.Equal(t, "c0", l.ConcordID)
		}
	})
	t.Run("DefaultLimit", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		links := make([]store.Link, 130)
		for i := range links {
			links[i] = link(model.Contact, fmt.Sprintf("c%d", i), "hubspot", fmt.Sprintf("h%d", i))
		}
		require.NoError(t, s.PutLinks(ctx, &store.PutLinksParams{Links: links}))
		got, err := s.ListLinks(ctx, &store.ListLinksParams{})
		require.NoError(t, err)
		require.Len(t, got, 100)
	})
}

func externalIDs(links []store.Link) []string {
	out := make([]string, len(links))
	for i, l := range links {
		out[i] = l.ExternalID
	}
	return out
}

func event(flow, sourceID string, outcome store.Outcome) store.Event {
	return store.Event{Flow: flow, Entity: model.Contact, SourceSystem: "hubspot", SourceID: sourceID,
		TargetSystem: "tryton", Outcome: outcome}
}

func exerciseEvents(t *testing.T, setup setupFunc) {
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		full := store.Event{
			Flow: "contacts", Entity: model.Contact, SourceSystem: "hubspot", SourceID: "h1",
			TargetSystem: "tryton", TargetID: "t1", ConcordID: "c1", ConfigVersion: "v3",
			Snapshot: []byte(`{"id":"h1"}`), Plan: []byte(`{"set":{"name":"Ada"}}`), Response: []byte(`{"ok":true}`),
			Outcome: store.OutcomeCreated, Error: "", Attempt: 2, Replay: 7,
			StartedAt: ts(3), Duration: 1234567891 * time.Nanosecond,
		}
		ids, err := s.InsertEvents(ctx, []store.Event{full, event("contacts", "h2", store.OutcomeFailed)})
		require.NoError(t, err)
		require.Len(t, ids, 2)
		require.Less(t, ids[0], ids[1])

		got, err := s.GetEvent(ctx, ids[0])
		require.NoError(t, err)
		want := full
		want.ID, want.StartedAt = ids[0], stored(full.StartedAt)
		require.Equal(t, want, got)

		bare, err := s.GetEvent(ctx, ids[1])
		require.NoError(t, err)
		require.Nil(t, bare.Snapshot)
		require.True(t, bare.StartedAt.IsZero())
		require.Equal(t, "h2", bare.SourceID)

		_, err = s.GetEvent(ctx, ids[1]+1000)
		require.ErrorIs(t, err, store.ErrNotFound)
	})

	t.Run("List", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		var batch []store.Event
		for i := range 150 {
			flow, outcome := "contacts", store.OutcomeUpdated
			if i%3 == 0 {
				flow = "deals"
			}
			if i%5 == 0 {
				outcome = store.OutcomeFailed
			}
			batch = append(batch, event(flow, fmt.Sprintf("s%d", i%10), outcome))
		}
		ids, err := s.InsertEvents(ctx, batch)
		require.NoError(t, err)
		require.Len(t, ids, 150)

		got, err := s.ListEvents(ctx, nil)
		require.NoError(t, err)
		require.Len(t, got, 100, "default limit")
		require.Equal(t, ids[149], got[0].ID, "newest first")
		require.True(t, slices.IsSortedFunc(got, func(a, b store.Event) int { return int(b.ID - a.ID) }))

		got, err = s.ListEvents(ctx, &store.ListEventsParams{Flow: "deals", Outcome: store.OutcomeFailed, Limit: 1000})
		require.NoError(t, err)
		require.Len(t, got, 10) // i%15 == 0
		for _, e := range got {
			require.Equal(t, "deals", e.Flow)
			require.Equal(t, store.OutcomeFailed, e.Outcome)
		}

		got, err = s.ListEvents(ctx, &store.ListEventsParams{SourceID: "s3", Limit: 1000})
		require.NoError(t, err)
		require.Len(t, got, 15)

		got, err = s.ListEvents(ctx, &store.ListEventsParams{BeforeID: ids[10], Limit: 4})
		require.NoError(t, err)
		require.Equal(t, []int64{ids[9], ids[8], ids[7], ids[6]}, eventIDs(got))
	})

	t.Run("LargeBatch", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		batch := make([]store.Event, 4500)
		for i := range batch {
			batch[i] = event("bulk", fmt.Sprintf("s%d", i), store.OutcomeCreated)
			batch[i].Attempt = i
		}
		ids, err := s.InsertEvents(ctx, batch)
		require.NoError(t, err)
		require.Len(t, ids, len(batch))
		require.True(t, slices.IsSorted(ids))
		for _, i := range []int{0, 999, 1000, 2345, 4499} {
			e, err := s.GetEvent(ctx, ids[i])
			require.NoError(t, err)
			require.Equal(t, i, e.Attempt, "id %d belongs to event %d", ids[i], i)
			require.Equal(t, fmt.Sprintf("s%d", i), e.SourceID)
		}
	})
}

func eventIDs(events []store.Event) []int64 {
	out := make([]int64, len(events))
	for i, e := range events {
		out[i] = e.ID
	}
	return out
}

func exerciseCursors(t *testing.T, setup setupFunc) {
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		key := store.CursorKey{Flow: "contacts", System: "hubspot", Entity: model.Contact}
		got, err := s.GetCursor(ctx, &key)
		require.NoError(t, err)
		require.Empty(t, got, "no cursor yet")

		require.NoError(t, s.SetCursor(ctx, &store.SetCursorParams{CursorKey: key, Cursor: "100"}))
		require.NoError(t, s.SetCursor(ctx, &store.SetCursorParams{CursorKey: key, Cursor: "200"}))
		other := store.CursorKey{Flow: "contacts", System: "hubspot", Entity: model.Account}
		require.NoError(t, s.SetCursor(ctx, &store.SetCursorParams{CursorKey: other, Cursor: "x"}))

		got, err = s.GetCursor(ctx, &key)
		require.NoError(t, err)
		require.Equal(t, "200", got)
		got, err = s.GetCursor(ctx, &other)
		require.NoError(t, err)
		require.Equal(t, "x", got)
	})
}

func fingerprint(externalID, hash, version string) store.Fingerprint {
	return store.Fingerprint{Flow: "contacts", System: "hubspot", Entity: model.Contact,
		ExternalID: externalID, Hash: hash, Version: version}
}

func exerciseFingerprints(t *testing.T, setup setupFunc) {
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		first := fingerprint("h1", "aaa", "1")
		first.UpdatedAt = ts(4)
		require.NoError(t, s.PutFingerprints(ctx, []store.Fingerprint{first, fingerprint("h2", "bbb", "1")}))
		require.NoError(t, s.PutFingerprints(ctx, []store.Fingerprint{
			fingerprint("h2", "ccc", "2"), fingerprint("h2", "ddd", "3"), // last wins
		}))
		otherFlow := fingerprint("h1", "zzz", "9")
		otherFlow.Flow = "backfill"
		require.NoError(t, s.PutFingerprints(ctx, []store.Fingerprint{otherFlow}))

		got, err := s.GetFingerprints(ctx, &store.GetFingerprintsParams{Flow: "contacts", System: "hubspot",
			Entity: model.Contact, ExternalIDs: []string{"h1", "h2", "h3"}})
		require.NoError(t, err)
		require.Len(t, got, 2)
		want := first
		want.UpdatedAt = stored(first.UpdatedAt)
		require.Equal(t, want, got["h1"])
		require.Equal(t, "ddd", got["h2"].Hash)
		require.Equal(t, "3", got["h2"].Version)
		require.WithinDuration(t, time.Now(), got["h2"].UpdatedAt, time.Minute)
	})
	t.Run("LargeBatch", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		fps := make([]store.Fingerprint, 5000)
		ids := make([]string, len(fps))
		for i := range fps {
			ids[i] = fmt.Sprintf("h%d", i)
			fps[i] = fingerprint(ids[i], fmt.Sprintf("hash%d", i), "1")
		}
		require.NoError(t, s.PutFingerprints(ctx, fps))
		got, err := s.GetFingerprints(ctx, &store.GetFingerprintsParams{Flow: "contacts", System: "hubspot",
			Entity: model.Contact, ExternalIDs: ids})
		require.NoError(t, err)
		require.Len(t, got, len(fps))
		require.Equal(t, "hash4321", got["h4321"].Hash)
	})
}

func quarantine(flow, externalID, reason string) store.QuarantineEntry {
	return store.QuarantineEntry{Flow: flow, System: "hubspot", Entity: model.Contact, ExternalID: externalID,
		Field: "email", Reason: reason, Snapshot: []byte(`{"email":"nope"}`)}
}

func exerciseQuarantine(t *testing.T, setup setupFunc) {
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		a := quarantine("contacts", "h1", "bad email")
		a.CreatedAt = ts(1)
		b := quarantine("contacts", "h2", "bad email")
		b.CreatedAt = ts(2)
		c := quarantine("deals", "d1", "no amount")
		c.CreatedAt = ts(3)
		require.NoError(t, s.Quarantine(ctx, []store.QuarantineEntry{a, b, c}))

		got, err := s.ListQuarantine(ctx, &store.ListQuarantineParams{Flow: "contacts"})
		require.NoError(t, err)
		require.Len(t, got, 2)
		require.Equal(t, "h2", got[0].ExternalID, "newest first")
		require.NotZero(t, got[1].ID)
		wantA := a
		wantA.ID, wantA.CreatedAt = got[1].ID, stored(a.CreatedAt)
		require.Equal(t, wantA, got[1])
		one, err := s.GetQuarantineEntry(ctx, got[1].ID)
		require.NoError(t, err)
		require.Equal(t, wantA, one)
		_, err = s.GetQuarantineEntry(ctx, got[1].ID+1000)
		require.ErrorIs(t, err, store.ErrNotFound)

		// Replacing an open entry keeps one entry with the new reason.
		a2 := quarantine("contacts", "h1", "still bad")
		a2.CreatedAt = ts(9)
		require.NoError(t, s.Quarantine(ctx, []store.QuarantineEntry{a2}))
		got, err = s.ListQuarantine(ctx, &store.ListQuarantineParams{Flow: "contacts"})
		require.NoError(t, err)
		require.Len(t, got, 2)
		require.Equal(t, "h1", got[0].ExternalID)
		require.Equal(t, "still bad", got[0].Reason)

		all, err := s.ListQuarantine(ctx, nil)
		require.NoError(t, err)
		require.Len(t, all, 3)
		limited, err := s.ListQuarantine(ctx, &store.ListQuarantineParams{Limit: 1})
		require.NoError(t, err)
		require.Len(t, limited, 1)

		// Release closes only the named records of that flow.
		require.NoError(t, s.ReleaseQuarantine(ctx, &store.ReleaseQuarantineParams{Flow: "contacts",
			System: "hubspot", Entity: model.Contact, ExternalIDs: []string{"h1", "unknown"}}))
		got, err = s.ListQuarantine(ctx, nil)
		require.NoError(t, err)
		require.Len(t, got, 2)
		for _, e := range got {
			require.NotEqual(t, "h1", e.ExternalID)
		}

		// A record can be quarantined again after release: a new open entry.
		require.NoError(t, s.Quarantine(ctx, []store.QuarantineEntry{quarantine("contacts", "h1", "again")}))
		got, err = s.ListQuarantine(ctx, &store.ListQuarantineParams{Flow: "contacts"})
		require.NoError(t, err)
		require.Len(t, got, 2)
		require.Equal(t, "again", got[0].Reason)
		require.NotEqual(t, wantA.ID, got[0].ID)
		var total int
		require.NoError(t, s.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM concord_quarantine").Scan(&total))
		require.Equal(t, 4, total, "released entry kept")
	})
}

func deadLetter(flow, externalID string) store.DeadLetter {
	return store.DeadLetter{Flow: flow, Entity: model.Order, System: "shop", ExternalID: externalID,
		Snapshot: []byte(`{"id":"` + externalID + `"}`), Reason: "target refused", Attempts: 5}
}

func exerciseDeadLetters(t *testing.T, setup setupFunc) {
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		evIDs, err := s.InsertEvents(ctx, []store.Event{event("orders", "o1", store.OutcomeDead)})
		require.NoError(t, err)
		first := deadLetter("orders", "o1")
		first.EventID, first.CreatedAt = evIDs[0], ts(7)
		ids, err := s.InsertDeadLetters(ctx, []store.DeadLetter{first, deadLetter("orders", "o2"), deadLetter("other", "x")})
		require.NoError(t, err)
		require.Len(t, ids, 3)
		require.True(t, slices.IsSorted(ids))

		got, err := s.GetDeadLetter(ctx, ids[0])
		require.NoError(t, err)
		want := first
		want.ID, want.CreatedAt, want.UpdatedAt, want.Cause = ids[0], stored(first.CreatedAt), stored(first.CreatedAt), "target refused"
		require.Equal(t, want, got)
		require.True(t, got.Open())

		_, err = s.GetDeadLetter(ctx, ids[2]+100)
		require.ErrorIs(t, err, store.ErrNotFound)

		list, err := s.ListDeadLetters(ctx, &store.ListDeadLettersParams{Flow: "orders"})
		require.NoError(t, err)
		require.Equal(t, []string{"o1", "o2"}, letterExternalIDs(list), "oldest first")

		require.NoError(t, s.MarkDeadLettersRetried(ctx, &store.MarkDeadLettersRetriedParams{IDs: []int64{ids[0], ids[2] + 100}, Auto: true}))
		got, err = s.GetDeadLetter(ctx, ids[0])
		require.NoError(t, err)
		require.True(t, got.Open(), "a retried letter stays open until its record syncs")
		require.True(t, got.Pending())
		require.Equal(t, 1, got.AutoRetries)
		require.WithinDuration(t, time.Now(), got.RetriedAt, time.Minute)
		require.Equal(t, time.UTC, got.RetriedAt.Location())

		require.NoError(t, s.ResolveDeadLetters(ctx, &store.ResolveDeadLettersParams{Flow: "orders", System: "shop", Entity: model.Order, ExternalIDs: []string{"o1", "nope"}}))
		list, err = s.ListDeadLetters(ctx, nil)
		require.NoError(t, err)
		require.Equal(t, []string{"o2", "x"}, letterExternalIDs(list), "resolved letters are not listed")

		list, err = s.ListDeadLetters(ctx, &store.ListDeadLettersParams{Flow: "orders", IncludeClosed: true, Limit: 1})
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Equal(t, "o1", list[0].ExternalID)
		require.False(t, list[0].Open())
		require.Equal(t, "synced", list[0].Resolution)
	})

	t.Run("OnePerRecordAndCause", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		a := deadLetter("orders", "o1")
		a.Reason, a.Attempts = "batch failed 5 times: connection refused", 5
		ids, err := s.InsertDeadLetters(ctx, []store.DeadLetter{a})
		require.NoError(t, err)

		// The same cause again (other numbers): the letter is updated, attempts add up.
		b := a
		b.Reason, b.Attempts, b.Retryable = "batch failed 6 times: connection refused", 6, true
		again, err := s.InsertDeadLetters(ctx, []store.DeadLetter{b})
		require.NoError(t, err)
		require.Equal(t, ids, again)
		got, err := s.GetDeadLetter(ctx, ids[0])
		require.NoError(t, err)
		require.Equal(t, 11, got.Attempts)
		require.Equal(t, b.Reason, got.Reason)
		require.True(t, got.Retryable)
		require.False(t, got.Pending(), "a failure after the retry makes it due again")

		// Another cause supersedes the open letter.
		c := a
		c.Reason, c.Attempts = "target refused: name is required", 1
		other, err := s.InsertDeadLetters(ctx, []store.DeadLetter{c})
		require.NoError(t, err)
		require.NotEqual(t, ids, other)
		old, err := s.GetDeadLetter(ctx, ids[0])
		require.NoError(t, err)
		require.False(t, old.Open())
		require.Equal(t, "superseded", old.Resolution)

		list, err := s.ListDeadLetters(ctx, nil)
		require.NoError(t, err)
		require.Len(t, list, 1, "one open letter per record")
		require.Equal(t, c.Reason, list[0].Reason)
		require.Equal(t, 1, list[0].Attempts)

		retryable, err := s.ListDeadLetters(ctx, &store.ListDeadLettersParams{RetryableOnly: true})
		require.NoError(t, err)
		require.Empty(t, retryable)
	})
}

func wait(flow, id, awaitID string) store.Wait {
	return store.Wait{Flow: flow, System: "crm", Entity: model.Deal, ExternalID: id,
		AwaitSystem: "crm", AwaitEntity: model.Account, AwaitID: awaitID, AwaitIn: "erp", AwaitInEntity: model.Account,
		Reason: "account " + awaitID + " is not linked yet", Since: ts(1), Deadline: ts(100)}
}

func exerciseWaits(t *testing.T, setup setupFunc) {
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		require.NoError(t, s.PutWaits(ctx, []store.Wait{wait("deals", "d1", "a1"), wait("deals", "d2", "a2"), wait("other", "d1", "a1")}))
		n, err := s.CountWaits(ctx, "")
		require.NoError(t, err)
		require.Equal(t, 3, n)

		ready, err := s.ReadyWaits(ctx, nil)
		require.NoError(t, err)
		require.Empty(t, ready, "nothing is linked yet")
		on, err := s.WaitedOn(ctx, &store.WaitedOnParams{System: "crm", Entity: model.Account, ExternalIDs: []string{"a1", "a3"}})
		require.NoError(t, err)
		require.Equal(t, map[string]bool{"a1": true}, on)

		// a1 linked in crm only: not ready; then in erp too: ready.
		require.NoError(t, s.PutLinks(ctx, &store.PutLinksParams{Links: []store.Link{link(model.Account, "c1", "crm", "a1")}}))
		ready, err = s.ReadyWaits(ctx, nil)
		require.NoError(t, err)
		require.Empty(t, ready)
		require.NoError(t, s.PutLinks(ctx, &store.PutLinksParams{Links: []store.Link{link(model.Account, "c1", "erp", "9")}}))
		ready, err = s.ReadyWaits(ctx, &store.ReadyWaitsParams{AwaitSystem: "crm", AwaitEntity: model.Account, AwaitIDs: []string{"a1", "zz"}})
		require.NoError(t, err)
		require.ElementsMatch(t, []string{"deals/d1", "other/d1"}, waitKeys(ready))
		ready, err = s.ReadyWaits(ctx, &store.ReadyWaitsParams{AwaitSystem: "crm", AwaitEntity: model.Account, AwaitIDs: []string{"a2"}})
		require.NoError(t, err)
		require.Empty(t, ready)

		// Woken waits are not ready again until parked again; re-parking keeps Since.
		require.NoError(t, s.MarkWaitsWoken(ctx, &store.DeleteWaitsParams{Flow: "deals", System: "crm", Entity: model.Deal, ExternalIDs: []string{"d1"}}))
		ready, err = s.ReadyWaits(ctx, nil)
		require.NoError(t, err)
		require.Equal(t, []string{"other/d1"}, waitKeys(ready))
		again := wait("deals", "d1", "a1")
		again.Since, again.Reason = ts(50), "still waiting"
		require.NoError(t, s.PutWaits(ctx, []store.Wait{again}))
		list, err := s.ListWaits(ctx, &store.ListWaitsParams{Flow: "deals"})
		require.NoError(t, err)
		require.Equal(t, []string{"deals/d1", "deals/d2"}, waitKeys(list))
		require.Equal(t, stored(ts(1)), list[0].Since, "a re-parked record keeps its first time")
		require.Equal(t, "still waiting", list[0].Reason)
		require.True(t, list[0].WokenAt.IsZero())

		expired, err := s.ListWaits(ctx, &store.ListWaitsParams{DeadlineBefore: ts(100)})
		require.NoError(t, err)
		require.Empty(t, expired)
		expired, err = s.ListWaits(ctx, &store.ListWaitsParams{DeadlineBefore: ts(101)})
		require.NoError(t, err)
		require.Len(t, expired, 3)

		require.NoError(t, s.DeleteWaits(ctx, &store.DeleteWaitsParams{Flow: "deals", System: "crm", Entity: model.Deal, ExternalIDs: []string{"d1", "d2", "d9"}}))
		n, err = s.CountWaits(ctx, "deals")
		require.NoError(t, err)
		require.Zero(t, n)
		n, err = s.CountWaits(ctx, "")
		require.NoError(t, err)
		require.Equal(t, 1, n)
	})
}

func waitKeys(ws []store.Wait) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.Flow + "/" + w.ExternalID
	}
	return out
}

func letterExternalIDs(letters []store.DeadLetter) []string {
	out := make([]string, len(letters))
	for i, l := range letters {
		out[i] = l.ExternalID
	}
	return out
}

func exerciseTx(t *testing.T, setup setupFunc) {
	countEvents := func(t *testing.T, s store.Store) int {
		t.Helper()
		var n int
		require.NoError(t, s.DB().QueryRowContext(t.Context(), "SELECT COUNT(*) FROM concord_event").Scan(&n))
		return n
	}
	writeAll := func(ctx context.Context, t *testing.T, tx store.Tx, id string) {
		t.Helper()
		_, err := tx.InsertEvents(ctx, []store.Event{event("f", id, store.OutcomeCreated)})
		require.NoError(t, err)
		require.NoError(t, tx.PutLinks(ctx, &store.PutLinksParams{Links: []store.Link{link(model.Contact, "c"+id, "hubspot", id)}}))
		require.NoError(t, tx.PutFingerprints(ctx, []store.Fingerprint{fingerprint(id, "h", "1")}))
		require.NoError(t, tx.SetCursor(ctx, &store.SetCursorParams{
			CursorKey: store.CursorKey{Flow: "f", System: "hubspot", Entity: model.Contact}, Cursor: id}))
	}

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		require.NoError(t, s.InTx(ctx, func(tx store.Tx) error {
			require.NotNil(t, tx.SQL())
			writeAll(ctx, t, tx, "a")
			// The tx sees its own writes, and its *sql.Tx is the same transaction.
			var n int
			require.NoError(t, tx.SQL().QueryRowContext(ctx, "SELECT COUNT(*) FROM concord_event").Scan(&n))
			require.Equal(t, 1, n)
			cur, err := tx.GetCursor(ctx, &store.CursorKey{Flow: "f", System: "hubspot", Entity: model.Contact})
			require.NoError(t, err)
			require.Equal(t, "a", cur)
			return nil
		}))
		require.Equal(t, 1, countEvents(t, s))
		links, err := s.GetLinks(ctx, &store.GetLinksParams{System: "hubspot", Entity: model.Contact, ExternalIDs: []string{"a"}})
		require.NoError(t, err)
		require.Len(t, links, 1)
	})

	t.Run("RollbackOnError", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		boom := errors.New("boom")
		err := s.InTx(ctx, func(tx store.Tx) error {
			writeAll(ctx, t, tx, "a")
			return boom
		})
		require.ErrorIs(t, err, boom)
		requireEmpty(t, s)
	})

	t.Run("RollbackOnPanic", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		require.PanicsWithValue(t, "boom", func() {
			_ = s.InTx(ctx, func(tx store.Tx) error {
				writeAll(ctx, t, tx, "a")
				panic("boom")
			})
		})
		requireEmpty(t, s)
		// The store still works after the panic (the connection was released).
		require.NoError(t, s.InTx(ctx, func(tx store.Tx) error { writeAll(ctx, t, tx, "b"); return nil }))
		require.Equal(t, 1, countEvents(t, s))
	})

	t.Run("Concurrent", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		const workers, rounds = 8, 10
		var wg sync.WaitGroup
		errs := make(chan error, workers*rounds)
		for w := range workers {
			wg.Go(func() {
				for r := range rounds {
					errs <- s.InTx(ctx, func(tx store.Tx) error {
						id := fmt.Sprintf("w%d-r%d", w, r)
						if _, err := tx.InsertEvents(ctx, []store.Event{event("f", id, store.OutcomeCreated)}); err != nil {
							return err
						}
						if err := tx.PutLinks(ctx, &store.PutLinksParams{Links: []store.Link{
							link(model.Contact, "c"+id, "hubspot", id)}}); err != nil {
							return err
						}
						// Every worker bumps the same fingerprint: the last write wins, no deadlock.
						return tx.PutFingerprints(ctx, []store.Fingerprint{fingerprint("shared", id, "1")})
					})
				}
			})
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			t.Fatal("concurrent transactions did not finish: deadlock?")
		}
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		require.Equal(t, workers*rounds, countEvents(t, s))
		links, err := s.ListLinks(ctx, &store.ListLinksParams{Limit: 1000})
		require.NoError(t, err)
		require.Len(t, links, workers*rounds)
	})
}

func requireEmpty(t *testing.T, s store.Store) {
	t.Helper()
	for _, table := range []string{"concord_event", "concord_link", "concord_fingerprint", "concord_cursor"} {
		var n int
		require.NoError(t, s.DB().QueryRowContext(t.Context(), "SELECT COUNT(*) FROM "+table).Scan(&n))
		require.Zero(t, n, "%s is empty after rollback", table)
	}
}

func exerciseEmpty(t *testing.T, setup setupFunc) {
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		check := func(ops store.Ops) {
			require.NoError(t, ops.PutLinks(ctx, &store.PutLinksParams{}))
			links, err := ops.GetLinks(ctx, &store.GetLinksParams{System: "x", Entity: model.Contact})
			require.NoError(t, err)
			require.Empty(t, links)
			links, err = ops.GetLinksByConcordID(ctx, &store.GetLinksByConcordIDParams{System: "x", Entity: model.Contact})
			require.NoError(t, err)
			require.Empty(t, links)
			ids, err := ops.InsertEvents(ctx, nil)
			require.NoError(t, err)
			require.Empty(t, ids)
			fps, err := ops.GetFingerprints(ctx, &store.GetFingerprintsParams{Flow: "f"})
			require.NoError(t, err)
			require.Empty(t, fps)
			require.NoError(t, ops.PutFingerprints(ctx, nil))
			require.NoError(t, ops.Quarantine(ctx, nil))
			require.NoError(t, ops.ReleaseQuarantine(ctx, &store.ReleaseQuarantineParams{Flow: "f"}))
			ids, err = ops.InsertDeadLetters(ctx, []store.DeadLetter{})
			require.NoError(t, err)
			require.Empty(t, ids)
			require.NoError(t, ops.MarkDeadLettersRetried(ctx, nil))
			evs, err := ops.ListEvents(ctx, &store.ListEventsParams{})
			require.NoError(t, err)
			require.Empty(t, evs)
			dls, err := ops.ListDeadLetters(ctx, &store.ListDeadLettersParams{})
			require.NoError(t, err)
			require.Empty(t, dls)
			qs, err := ops.ListQuarantine(ctx, &store.ListQuarantineParams{})
			require.NoError(t, err)
			require.Empty(t, qs)
		}
		check(s)
		require.NoError(t, s.InTx(ctx, func(tx store.Tx) error { check(tx); return nil }))
		requireEmpty(t, s)
	})
}

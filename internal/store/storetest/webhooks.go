package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
)

func exerciseWebhooks(t *testing.T, setup func(t *testing.T) (store.Store, context.Context)) {
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		now := time.Now().UTC()
		body := []byte(`[{"eventId":1},{"eventId":2}]`)
		evs := []store.WebhookEvent{
			{System: "crm", EventID: "1", Entity: model.Account, RecordID: "42", Body: body, ReceivedAt: now},
			{System: "crm", EventID: "2", Entity: model.Deal, RecordID: "7", Body: body, ReceivedAt: now},
		}
		fresh, err := s.InsertWebhookEvents(ctx, evs)
		require.NoError(t, err)
		require.Equal(t, []bool{true, true}, fresh)

		// The sender repeats a delivery, with one new event; another system may reuse ids.
		again := []store.WebhookEvent{evs[1], {System: "crm", EventID: "3", Entity: model.Deal, RecordID: "8", ReceivedAt: now}, {System: "erp", EventID: "1", Entity: model.Invoice, RecordID: "9", ReceivedAt: now}}
		fresh, err = s.InsertWebhookEvents(ctx, again)
		require.NoError(t, err)
		require.Equal(t, []bool{false, true, true}, fresh)

		var n int
		require.NoError(t, s.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM concord_webhook_event").Scan(&n))
		require.Equal(t, 4, n)
	})

	t.Run("KeyNotEventID", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		now := time.Now().UTC()
		// HubSpot's event ids are not unique: two distinct events share id 1 and
		// both are kept; a repeated delivery of either (same key) is not.
		a := store.WebhookEvent{System: "crm", EventID: "1", Key: "k-a", Entity: model.Account, RecordID: "42", ReceivedAt: now}
		b := store.WebhookEvent{System: "crm", EventID: "1", Key: "k-b", Entity: model.Account, RecordID: "43", ReceivedAt: now}
		skipped := store.WebhookEvent{System: "crm", EventID: "2", Key: "k-c", RecordID: "7", Skipped: "deal.associationChange: association changes are not read", ReceivedAt: now}
		fresh, err := s.InsertWebhookEvents(ctx, []store.WebhookEvent{a, b, skipped})
		require.NoError(t, err)
		require.Equal(t, []bool{true, true, true}, fresh)
		fresh, err = s.InsertWebhookEvents(ctx, []store.WebhookEvent{b, a, skipped})
		require.NoError(t, err)
		require.Equal(t, []bool{false, false, false}, fresh)

		var reason string
		require.NoError(t, s.DB().QueryRowContext(ctx, "SELECT skipped FROM concord_webhook_event WHERE dedup_key = 'k-c'").Scan(&reason))
		require.Equal(t, skipped.Skipped, reason)
		var n int
		require.NoError(t, s.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM concord_webhook_event WHERE skipped IS NULL").Scan(&n))
		require.Equal(t, 2, n)
	})

	t.Run("SameKeyInOneCall", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		now := time.Now().UTC()
		// A group of deliveries stored at once holds one event twice (the
		// sender retried while the first was being stored): the first is new.
		a := store.WebhookEvent{System: "crm", EventID: "1", Key: "k-a", Entity: model.Account, RecordID: "42", Body: []byte(`[1]`), ReceivedAt: now}
		b := store.WebhookEvent{System: "crm", EventID: "2", Key: "k-b", Entity: model.Account, RecordID: "43", ReceivedAt: now}
		other := a
		other.System = "erp" // the same key from another system is another event
		fresh, err := s.InsertWebhookEvents(ctx, []store.WebhookEvent{a, b, a, other, b})
		require.NoError(t, err)
		require.Equal(t, []bool{true, true, false, true, false}, fresh)
		c := store.WebhookEvent{System: "crm", EventID: "3", Key: "k-c", Entity: model.Account, RecordID: "44", ReceivedAt: now}
		fresh, err = s.InsertWebhookEvents(ctx, []store.WebhookEvent{c, a, c})
		require.NoError(t, err)
		require.Equal(t, []bool{true, false, false}, fresh)
		var n int
		require.NoError(t, s.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM concord_webhook_event").Scan(&n))
		require.Equal(t, 4, n)
		var body []byte
		require.NoError(t, s.DB().QueryRowContext(ctx, "SELECT body FROM concord_webhook_event WHERE system = 'crm' AND dedup_key = 'k-a'").Scan(&body))
		require.Equal(t, `[1]`, string(body))
	})

	t.Run("RollbackForgets", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		ev := store.WebhookEvent{System: "crm", EventID: "x", Entity: model.Account, RecordID: "1", ReceivedAt: time.Now()}
		boom := errors.New("enqueue failed")
		err := s.InTx(ctx, func(tx store.Tx) error {
			fresh, err := tx.InsertWebhookEvents(ctx, []store.WebhookEvent{ev})
			require.NoError(t, err)
			require.Equal(t, []bool{true}, fresh)
			return boom
		})
		require.ErrorIs(t, err, boom)
		fresh, err := s.InsertWebhookEvents(ctx, []store.WebhookEvent{ev})
		require.NoError(t, err)
		require.Equal(t, []bool{true}, fresh, "a delivery whose work was not queued is taken again")
	})
}

func exerciseAnnounced(t *testing.T, setup func(t *testing.T) (store.Store, context.Context)) {
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		now := time.Now().UTC()
		stale := now.Add(-time.Hour)
		fresh, err := s.MarkAnnounced(ctx, "customers", []string{"1", "2"}, now, stale)
		require.NoError(t, err)
		require.Equal(t, []bool{true, true}, fresh)

		// Announced again before the job started: nothing new; another leg is apart.
		fresh, err = s.MarkAnnounced(ctx, "customers", []string{"2", "3"}, now.Add(time.Second), stale)
		require.NoError(t, err)
		require.Equal(t, []bool{false, true}, fresh)
		fresh, err = s.MarkAnnounced(ctx, "deals", []string{"1"}, now, stale)
		require.NoError(t, err)
		require.Equal(t, []bool{true}, fresh)

		// The job starts: its ids are unmarked, so the next announcement is new.
		require.NoError(t, s.UnmarkAnnounced(ctx, "customers", []string{"1", "2", "9"}))
		fresh, err = s.MarkAnnounced(ctx, "customers", []string{"1", "3"}, now.Add(2*time.Second), stale)
		require.NoError(t, err)
		require.Equal(t, []bool{true, false}, fresh)

		// A mark older than staleBefore (its job lost) is renewed and reported new.
		fresh, err = s.MarkAnnounced(ctx, "customers", []string{"3"}, now.Add(3*time.Hour), now.Add(2*time.Hour))
		require.NoError(t, err)
		require.Equal(t, []bool{true}, fresh)
		fresh, err = s.MarkAnnounced(ctx, "customers", []string{"3"}, now.Add(3*time.Hour), now.Add(2*time.Hour))
		require.NoError(t, err)
		require.Equal(t, []bool{false}, fresh, "renewed: no longer stale")
	})

	t.Run("SameIDInOneCall", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		now := time.Now().UTC()
		stale := now.Add(-time.Hour)
		fresh, err := s.MarkAnnounced(ctx, "customers", []string{"1", "2", "1", "3", "2"}, now, stale)
		require.NoError(t, err)
		require.Equal(t, []bool{true, true, false, true, false}, fresh)
		fresh, err = s.MarkAnnounced(ctx, "customers", []string{"4", "1", "4"}, now, stale)
		require.NoError(t, err)
		require.Equal(t, []bool{true, false, false}, fresh)
	})

	t.Run("RollbackForgets", func(t *testing.T) {
		t.Parallel()
		s, ctx := setup(t)
		now := time.Now().UTC()
		boom := errors.New("enqueue failed")
		err := s.InTx(ctx, func(tx store.Tx) error {
			fresh, err := tx.MarkAnnounced(ctx, "customers", []string{"1"}, now, now.Add(-time.Hour))
			require.NoError(t, err)
			require.Equal(t, []bool{true}, fresh)
			return boom
		})
		require.ErrorIs(t, err, boom)
		fresh, err := s.MarkAnnounced(ctx, "customers", []string{"1"}, now, now.Add(-time.Hour))
		require.NoError(t, err)
		require.Equal(t, []bool{true}, fresh, "a mark whose job was not queued is not kept")
	})
}

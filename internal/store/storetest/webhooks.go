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

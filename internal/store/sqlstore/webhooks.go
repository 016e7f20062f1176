package sqlstore

import (
	"context"
	"fmt"

	"github.com/concord-sync/concord/internal/store"
)

// InsertWebhookEvents stores webhook events, ignoring those already stored, and
// reports which were new.
func (o *ops) InsertWebhookEvents(ctx context.Context, events []store.WebhookEvent) ([]bool, error) {
	fresh := make([]bool, len(events))
	q := o.rebind(`INSERT INTO concord_webhook_event (system, event_id, entity, record_id, body, received_at)
VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (system, event_id) DO NOTHING`)
	for i, e := range events {
		res, err := o.q.ExecContext(ctx, q, e.System, e.EventID, string(e.Entity), e.RecordID, bytesArg(e.Body), o.timeArg(e.ReceivedAt))
		if err != nil {
			return nil, fmt.Errorf("insert webhook event %s/%s: %w", e.System, e.EventID, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, fmt.Errorf("insert webhook event: %w", err)
		}
		fresh[i] = n == 1
	}
	return fresh, nil
}

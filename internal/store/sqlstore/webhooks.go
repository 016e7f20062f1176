package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/concord-sync/concord/internal/store"
)

// The webhook statements run once per event or record of every delivery; on
// SQLite they are prepared once at open (PrepareHot) instead of parsed per row.
const (
	webhookEventInsertSQL = `INSERT INTO concord_webhook_event (system, event_id, dedup_key, entity, record_id, skipped, body, received_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (system, dedup_key) DO NOTHING`
	markAnnouncedSQL = `INSERT INTO concord_announced (leg, record_id, queued_at) VALUES (?, ?, ?)
ON CONFLICT (leg, record_id) DO UPDATE SET queued_at = excluded.queued_at WHERE concord_announced.queued_at < ?`
	unmarkAnnouncedSQL = `DELETE FROM concord_announced WHERE leg = ? AND record_id = ?`
)

// InsertWebhookEvents stores webhook events, ignoring those whose (system, key)
// is already stored, and reports which were new.
func (o *ops) InsertWebhookEvents(ctx context.Context, events []store.WebhookEvent) ([]bool, error) {
	fresh := make([]bool, len(events))
	q := o.rebind(webhookEventInsertSQL)
	for i, e := range events {
		key := e.Key
		if key == "" {
			key = e.EventID
		}
		var skipped any
		if e.Skipped != "" {
			skipped = e.Skipped
		}
		res, err := o.exec(ctx, q, e.System, e.EventID, key, string(e.Entity), e.RecordID, skipped, bytesArg(e.Body), o.timeArg(e.ReceivedAt))
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

// MarkAnnounced marks announced ids of a leg as waiting for their job.
func (o *ops) MarkAnnounced(ctx context.Context, leg string, ids []string, at, staleBefore time.Time) ([]bool, error) {
	fresh := make([]bool, len(ids))
	q := o.rebind(markAnnouncedSQL)
	for i, id := range ids {
		res, err := o.exec(ctx, q, leg, id, o.timeArg(at), o.timeArg(staleBefore))
		if err != nil {
			return nil, fmt.Errorf("mark announced %s/%s: %w", leg, id, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, fmt.Errorf("mark announced: %w", err)
		}
		fresh[i] = n == 1
	}
	return fresh, nil
}

// UnmarkAnnounced removes the waiting marks of ids of a leg.
func (o *ops) UnmarkAnnounced(ctx context.Context, leg string, ids []string) error {
	q := o.rebind(unmarkAnnouncedSQL)
	for _, id := range ids {
		if _, err := o.exec(ctx, q, leg, id); err != nil {
			return fmt.Errorf("unmark announced %s/%s: %w", leg, id, err)
		}
	}
	return nil
}

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
	if o.pg() && len(events) > 1 {
		return o.insertWebhookEventsPostgres(ctx, events)
	}
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
	if o.pg() && len(ids) > 1 {
		return o.markAnnouncedPostgres(ctx, leg, ids, at, staleBefore)
	}
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
// A job's ids go in one statement on PostgreSQL and in one transaction on
// SQLite, not one commit per id.
func (o *ops) UnmarkAnnounced(ctx context.Context, leg string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if o.pg() {
		if _, err := o.q.ExecContext(ctx, `DELETE FROM concord_announced WHERE leg = $1 AND record_id = ANY($2::text[])`, o.batch(leg, ids)...); err != nil {
			return fmt.Errorf("unmark %d announced %s: %w", len(ids), leg, err)
		}
		return nil
	}
	return o.atomic(ctx, func(o *ops) error {
		q := o.rebind(unmarkAnnouncedSQL)
		for _, id := range ids {
			if _, err := o.exec(ctx, q, leg, id); err != nil {
				return fmt.Errorf("unmark announced %s/%s: %w", leg, id, err)
			}
		}
		return nil
	})
}

// insertWebhookEventsPostgres is InsertWebhookEvents in one statement (a group
// of deliveries is one round trip, not one per event). Rows are inserted in
// order, so of two events with the same key the first is the fresh one.
func (o *ops) insertWebhookEventsPostgres(ctx context.Context, events []store.WebhookEvent) ([]bool, error) {
	n := len(events)
	system, eventID, key, entity, record := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	skipped, body, received := make([]*string, n), make([][]byte, n), make([]time.Time, n)
	for i := range events {
		e := &events[i]
		system[i], eventID[i], key[i], entity[i], record[i] = e.System, e.EventID, e.Key, string(e.Entity), e.RecordID
		if key[i] == "" {
			key[i] = e.EventID
		}
		if e.Skipped != "" {
			skipped[i] = &e.Skipped
		}
		body[i], received[i] = nilIfEmpty(e.Body), e.ReceivedAt.UTC().Truncate(time.Microsecond)
	}
	const q = `INSERT INTO concord_webhook_event (system, event_id, dedup_key, entity, record_id, skipped, body, received_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bytea[], $8::timestamptz[])
ON CONFLICT (system, dedup_key) DO NOTHING RETURNING system, dedup_key`
	rows, err := o.q.QueryContext(ctx, q, o.batch(system, eventID, key, entity, record, skipped, body, received)...)
	if err != nil {
		return nil, fmt.Errorf("insert %d webhook events: %w", n, err)
	}
	defer rows.Close()
	inserted := map[[2]string]bool{}
	for rows.Next() {
		var k [2]string
		if err := rows.Scan(&k[0], &k[1]); err != nil {
			return nil, fmt.Errorf("insert webhook events: %w", err)
		}
		inserted[k] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("insert webhook events: %w", err)
	}
	fresh := make([]bool, n)
	for i := range events {
		k := [2]string{system[i], key[i]}
		if inserted[k] {
			fresh[i] = true
			delete(inserted, k) // a later copy of the key is a duplicate
		}
	}
	return fresh, nil
}

// markAnnouncedPostgres is MarkAnnounced in one statement. An id given twice is
// fresh at its first place only, as row by row.
func (o *ops) markAnnouncedPostgres(ctx context.Context, leg string, ids []string, at, staleBefore time.Time) ([]bool, error) {
	uniq := make([]string, 0, len(ids))
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			uniq = append(uniq, id)
		}
	}
	const q = `INSERT INTO concord_announced (leg, record_id, queued_at) SELECT $1, unnest($2::text[]), $3
ON CONFLICT (leg, record_id) DO UPDATE SET queued_at = excluded.queued_at WHERE concord_announced.queued_at < $4
RETURNING record_id`
	rows, err := o.q.QueryContext(ctx, q, o.batch(leg, uniq, o.timeArg(at), o.timeArg(staleBefore))...)
	if err != nil {
		return nil, fmt.Errorf("mark %d announced %s: %w", len(uniq), leg, err)
	}
	defer rows.Close()
	marked := make(map[string]bool, len(uniq))
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("mark announced: %w", err)
		}
		marked[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("mark announced: %w", err)
	}
	fresh := make([]bool, len(ids))
	for i, id := range ids {
		if marked[id] {
			fresh[i] = true
			delete(marked, id)
		}
	}
	return fresh, nil
}

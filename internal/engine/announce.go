package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
)

// AnnounceStale is how long an announced record may wait for its job before a
// new announcement of it queues another job anyway (the first one lost, say, by
// a leg removed from the config and put back). A job that waited that long in a
// backlog only makes the record be read twice.
const AnnounceStale = time.Hour

// EnqueueAnnounced queues, inside tx, the records a system announced as changed
// (by webhook) on every leg that reads entity from system, as live work: the
// records are read from the system when the batch runs. Announcements coalesce:
// a record already announced on a leg whose job has not started adds nothing to
// the queue, since that job reads the record's latest values; only the newly
// announced ids are queued, in one batch per leg, which a queue that is an
// AnnounceEnqueuer appends to the leg's announcement job that has not started
// (one waiting job per leg however many records). The marks are written in tx,
// so they exist if and only if the jobs do. It returns the number of legs that
// take the change; 0 means no flow reads it.
func (e *Engine) EnqueueAnnounced(ctx context.Context, tx store.Tx, system string, entity model.Entity, ids []string) (int, error) {
	now := e.now().UTC()
	legs := 0
	var batches []Batch
	for _, name := range e.order {
		l := e.legs[name]
		if l.Source != system || l.Entity != entity {
			continue
		}
		legs++
		fresh, err := tx.MarkAnnounced(ctx, name, ids, now, now.Add(-AnnounceStale))
		if err != nil {
			return 0, fmt.Errorf("enqueue announced %s %s: %w", system, entity, err)
		}
		var queue []string
		for i, id := range ids {
			if fresh[i] {
				queue = append(queue, id)
			}
		}
		if len(queue) > 0 {
			batches = append(batches, Batch{Leg: name, Fetch: queue, Attempt: 1, Live: true})
		}
	}
	if len(batches) == 0 {
		return legs, nil
	}
	if aq, ok := e.queue.(AnnounceEnqueuer); ok {
		for _, b := range batches {
			if err := aq.AnnounceTx(ctx, tx, b); err != nil {
				return 0, fmt.Errorf("enqueue announced %s %s: %w", system, entity, err)
			}
		}
		return legs, nil
	}
	if err := e.queue.EnqueueTx(ctx, tx, batches, time.Time{}); err != nil {
		return 0, fmt.Errorf("enqueue announced %s %s: %w", system, entity, err)
	}
	return legs, nil
}

// AnnounceEnqueuer is a queue that can merge announced records into a leg's
// announcement job that has not started yet (*queue.Queue is one); with it,
// the announcements of many records wait as one job per leg.
type AnnounceEnqueuer interface {
	// AnnounceTx queues b (a live batch of ids to fetch) inside tx, appended to
	// the leg's waiting announcement job when there is one.
	AnnounceTx(ctx context.Context, tx store.Tx, b Batch) error
}

// startAnnounced is called when a batch starts to read announced records: it
// removes their marks first, so that an announcement arriving from now on (a
// change the read may miss) queues a new job. A retried or crashed job keeps its
// ids in its own batch, so removing a mark never loses a record.
func (e *Engine) startAnnounced(ctx context.Context, leg string, ids []string) error {
	if err := e.store.UnmarkAnnounced(ctx, leg, ids); err != nil {
		return fmt.Errorf("start announced %s: %w", leg, err)
	}
	return nil
}

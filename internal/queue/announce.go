package queue

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/store"
)

// MaxAnnounced is the most record ids one announcement job carries; past it
// AnnounceTx queues a new job.
const MaxAnnounced = 1000

// AnnounceTx implements engine.AnnounceEnqueuer: it queues, inside tx, a live
// batch of record ids to read (b.Fetch) by appending them to the leg's
// announcement job that has not started yet, or as a new job when there is
// none (or it is full). So a burst of webhook deliveries about many records
// waits as one job per leg, read in one go, instead of a job per delivery.
//
// A job a worker has fetched is never changed: on SQLite the store's single
// connection orders this transaction and River's fetch; on PostgreSQL the
// waiting job's row is locked (FOR UPDATE SKIP LOCKED) until tx ends, so
// River's fetch, which skips locked rows, takes it after the appended ids are
// committed, and a job being fetched is skipped here (a new job is queued).
func (q *Queue) AnnounceTx(ctx context.Context, tx store.Tx, b engine.Batch) error {
	if len(b.Fetch) == 0 {
		return nil
	}
	name, ok := q.queues[b.Leg]
	if !ok {
		return fmt.Errorf("announce: leg %q has no queue", b.Leg)
	}
	find := `SELECT json_extract(args, '$.payload') FROM river_job
WHERE state = 'available' AND queue = ? AND kind = 'concord_apply' AND json_extract(args, '$.announce') = 1
ORDER BY id DESC LIMIT 1`
	if q.st.Dialect() == "postgres" {
		find = `SELECT (args->>'payload')::bigint FROM river_job
WHERE state = 'available' AND queue = $1 AND kind = 'concord_apply' AND args->>'announce' = 'true'
ORDER BY id DESC LIMIT 1 FOR UPDATE SKIP LOCKED`
	}
	var payload int64
	err := tx.SQL().QueryRowContext(ctx, find, name).Scan(&payload)
	if errors.Is(err, sql.ErrNoRows) {
		return q.enqueue(ctx, tx, []engine.Batch{b}, time.Time{}, true)
	}
	if err != nil {
		return fmt.Errorf("announce: find the waiting job of %s: %w", b.Leg, err)
	}
	var blob []byte
	err = tx.SQL().QueryRowContext(ctx, q.sql(`SELECT batch FROM concord_queue_payload WHERE id = $1`), payload).Scan(&blob)
	if errors.Is(err, sql.ErrNoRows) {
		return q.enqueue(ctx, tx, []engine.Batch{b}, time.Time{}, true)
	}
	if err != nil {
		return fmt.Errorf("announce: load batch %d: %w", payload, err)
	}
	var waiting engine.Batch
	if err := json.Unmarshal(blob, &waiting); err != nil {
		return fmt.Errorf("announce: decode batch %d: %w", payload, err)
	}
	var add []string
	for _, id := range b.Fetch {
		if !slices.Contains(waiting.Fetch, id) && !slices.Contains(add, id) {
			add = append(add, id)
		}
	}
	if len(add) == 0 {
		return nil
	}
	if len(waiting.Fetch)+len(add) > MaxAnnounced {
		return q.enqueue(ctx, tx, []engine.Batch{b}, time.Time{}, true)
	}
	waiting.Fetch = append(waiting.Fetch, add...)
	blob, err = json.Marshal(waiting)
	if err != nil {
		return fmt.Errorf("announce: encode batch %d: %w", payload, err)
	}
	if _, err := tx.SQL().ExecContext(ctx, q.sql(`UPDATE concord_queue_payload SET batch = $1 WHERE id = $2`), blob, payload); err != nil {
		return fmt.Errorf("announce: append to batch %d: %w", payload, err)
	}
	// The kept copy lacks the appended ids: the worker reads the stored one.
	q.drop(payload)
	return nil
}

// drop forgets a kept batch.
func (q *Queue) drop(id int64) {
	q.hotMu.Lock()
	defer q.hotMu.Unlock()
	delete(q.hot, id)
}

var _ engine.AnnounceEnqueuer = (*Queue)(nil)

package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
)

// Replay re-applies the change recorded by an event, now, through the whole plan:
// a change already applied plans no write, and a change older than the one last
// applied is refused as stale. The replay is itself recorded as a new event.
func (e *Engine) Replay(ctx context.Context, eventID int64) (Outcome, error) {
	ev, err := e.store.GetEvent(ctx, eventID)
	if err != nil {
		return Outcome{}, fmt.Errorf("replay event %d: %w", eventID, err)
	}
	if _, ok := e.legs[ev.Flow]; !ok {
		return Outcome{}, fmt.Errorf("replay event %d: flow %q is not in the config", eventID, ev.Flow)
	}
	var rec model.Record
	if err := json.Unmarshal(ev.Snapshot, &rec); err != nil {
		return Outcome{}, fmt.Errorf("replay event %d: decode snapshot: %w", eventID, err)
	}
	outs, err := e.Process(ctx, Batch{Leg: ev.Flow, Records: []model.Record{rec}, Attempt: 1, Force: true, ReplayOf: eventID}, ProcessOptions{})
	if err != nil {
		return Outcome{}, fmt.Errorf("replay event %d: %w", eventID, err)
	}
	return outs[0], nil
}

// QueueReplay puts the change recorded by an event on the queue as live work,
// for the process that runs the queue to re-apply (like Replay, recorded as a new
// event pointing at this one). It returns the source record's id.
func (e *Engine) QueueReplay(ctx context.Context, eventID int64) (string, error) {
	ev, err := e.store.GetEvent(ctx, eventID)
	if err != nil {
		return "", fmt.Errorf("replay event %d: %w", eventID, err)
	}
	if _, ok := e.legs[ev.Flow]; !ok {
		return "", fmt.Errorf("replay event %d: flow %q is not in the config", eventID, ev.Flow)
	}
	var rec model.Record
	if err := json.Unmarshal(ev.Snapshot, &rec); err != nil {
		return "", fmt.Errorf("replay event %d: decode snapshot: %w", eventID, err)
	}
	err = e.store.InTx(ctx, func(tx store.Tx) error {
		return e.queue.EnqueueTx(ctx, tx, []Batch{{Leg: ev.Flow, Records: []model.Record{rec}, Attempt: 1, Force: true, ReplayOf: eventID, Live: true}}, time.Time{})
	})
	if err != nil {
		return "", fmt.Errorf("replay event %d: enqueue: %w", eventID, err)
	}
	return rec.ID, nil
}

// RetryDeadLetters puts dead letters back on the queue as live work and marks
// them retried, in one transaction. Each record is read again from its source
// when the retry runs, so a value fixed at the source is what is sent; set, when
// not empty, overrides source fields of every retried record (a value fixed in
// the retry instead). A letter stays open until its record syncs. Letters of
// flows no longer configured are left as they are and returned in the error,
// after the others are queued.
func (e *Engine) RetryDeadLetters(ctx context.Context, letters []store.DeadLetter, set model.Fields) (int, error) {
	if len(set) > 0 {
		for _, dl := range letters {
			l, ok := e.legs[dl.Flow]
			if !ok {
				continue
			}
			for f := range set {
				if !slices.Contains(l.Fields, f) {
					return 0, fmt.Errorf("dead letter %d: flow %s does not move field %q (it moves %s)", dl.ID, l.Flow, f, strings.Join(l.Fields, ", "))
				}
			}
		}
	}
	return e.retryLetters(ctx, letters, set, false)
}

func (e *Engine) retryLetters(ctx context.Context, letters []store.DeadLetter, set model.Fields, auto bool) (int, error) {
	fetch := map[string][]string{}
	var ids []int64
	var skipped []error
	for _, dl := range letters {
		if _, ok := e.legs[dl.Flow]; !ok {
			skipped = append(skipped, fmt.Errorf("dead letter %d: flow %q is not in the config; not retried", dl.ID, dl.Flow))
			continue
		}
		if !slices.Contains(fetch[dl.Flow], dl.ExternalID) {
			fetch[dl.Flow] = append(fetch[dl.Flow], dl.ExternalID)
		}
		ids = append(ids, dl.ID)
	}
	if len(ids) == 0 {
		return 0, errors.Join(skipped...)
	}
	err := e.store.InTx(ctx, func(tx store.Tx) error {
		var batches []Batch
		for _, leg := range sortedKeys(fetch) {
			recs := fetch[leg]
			for start := 0; start < len(recs); start += e.batch {
				b := Batch{Leg: leg, Fetch: recs[start:min(start+e.batch, len(recs))], Attempt: 1, Force: true, Live: true}
				if len(set) > 0 {
					b.Set = make(map[string]model.Fields, len(b.Fetch))
					for _, id := range b.Fetch {
						b.Set[id] = set
					}
				}
				batches = append(batches, b)
			}
		}
		if err := e.queue.EnqueueTx(ctx, tx, batches, e.now()); err != nil {
			return fmt.Errorf("enqueue: %w", err)
		}
		return tx.MarkDeadLettersRetried(ctx, &store.MarkDeadLettersRetriedParams{IDs: ids, Auto: auto, At: e.now().UTC()})
	})
	if err != nil {
		return 0, fmt.Errorf("retry dead letters: %w", err)
	}
	return len(ids), errors.Join(skipped...)
}

// Bury dead-letters every record of a batch whose processing failed as a whole
// on its last attempt (attempts tries), with the reason, and logs a dead event
// for each. The letters are of a passing cause: Tick retries them with backoff.
func (e *Engine) Bury(ctx context.Context, b Batch, reason string, attempts int) error {
	l, ok := e.legs[b.Leg]
	if !ok {
		return fmt.Errorf("bury: unknown leg %q", b.Leg)
	}
	now := e.now().UTC()
	recs := b.Records
	for _, id := range b.Fetch {
		// Announced, pulled or woken and never read: the letter names the
		// record; a retry reads it again.
		recs = append(recs, model.Record{Entity: l.Entity, ID: id})
	}
	b.Records = recs
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.ID
	}
	err := e.store.InTx(ctx, func(tx store.Tx) error {
		events := make([]store.Event, len(b.Records))
		for i, r := range b.Records {
			events[i] = store.Event{Flow: l.Name, Entity: l.Entity, SourceSystem: l.Source, SourceID: r.ID, TargetSystem: l.Target,
				ConfigVersion: e.version, Snapshot: mustJSON(r), Outcome: store.OutcomeDead, Error: reason, Attempt: attempts, Replay: b.ReplayOf, StartedAt: now}
		}
		evIDs, err := tx.InsertEvents(ctx, events)
		if err != nil {
			return fmt.Errorf("insert events: %w", err)
		}
		letters := make([]store.DeadLetter, len(b.Records))
		for i, r := range b.Records {
			letters[i] = store.DeadLetter{Flow: l.Name, Entity: l.Entity, System: l.Source, ExternalID: r.ID, Snapshot: mustJSON(r),
				Reason: reason, Attempts: attempts, Retryable: true, EventID: evIDs[i], CreatedAt: now}
		}
		if _, err := tx.InsertDeadLetters(ctx, letters); err != nil {
			return err
		}
		return tx.DeleteWaits(ctx, &store.DeleteWaitsParams{Flow: l.Name, System: l.Source, Entity: l.Entity, ExternalIDs: ids})
	})
	if err != nil {
		return fmt.Errorf("bury %s batch of %d: %w", l.Name, len(b.Records), err)
	}
	e.backlog.Store(true)
	e.count(l.Name, func(s *Stats) { s.Failed += len(b.Records) })
	return nil
}

// Preview plans the changes waiting on a leg since its cursor, up to limit
// records, without writing anything anywhere and without moving the cursor.
func (e *Engine) Preview(ctx context.Context, legName string, limit int) ([]*RecordPlan, error) {
	l, ok := e.legs[legName]
	if !ok {
		return nil, fmt.Errorf("preview: unknown leg %q", legName)
	}
	cursor, err := e.store.GetCursor(ctx, &store.CursorKey{Flow: l.Name, System: l.Source, Entity: l.Entity})
	if err != nil {
		return nil, fmt.Errorf("preview %s: get cursor: %w", l.Name, err)
	}
	var out []*RecordPlan
	for len(out) < limit {
		res, err := e.conns[l.Source].Read(ctx, connector.ReadRequest{Entity: l.Entity, Cursor: cursor, Limit: min(e.batch, limit-len(out))})
		if err != nil {
			return nil, fmt.Errorf("preview %s: read %s: %w", l.Name, l.Source, err)
		}
		recs, err := e.selectTriggered(ctx, l, res.Records)
		if err != nil {
			return nil, fmt.Errorf("preview %s: %w", l.Name, err)
		}
		if len(recs) > 0 {
			bp, err := e.Plan(ctx, Batch{Leg: l.Name, Records: recs, Attempt: 1})
			if err != nil {
				return nil, err
			}
			out = append(out, bp.Records...)
		}
		if res.Done || len(res.Records) == 0 || res.Next == cursor {
			break
		}
		cursor = res.Next
	}
	return out, nil
}

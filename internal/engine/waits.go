package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
)

// park stores the waits of the records that need another record first, inside
// the recording transaction, and wakes at once those whose awaited record was
// linked meanwhile (by another leg's batch that committed before this one).
func (e *Engine) park(ctx context.Context, tx store.Tx, bp *BatchPlan, idx []int, outs []Outcome, now time.Time) error {
	l := bp.Leg
	waits := make([]store.Wait, 0, len(idx))
	type key struct {
		system string
		entity model.Entity
	}
	awaited := map[key][]string{}
	for _, i := range idx {
		p := bp.Records[i]
		a := p.await
		waits = append(waits, store.Wait{
			Flow: l.Name, System: l.Source, Entity: l.Entity, ExternalID: p.Source.ID,
			AwaitSystem: a.System, AwaitEntity: a.Entity, AwaitID: a.ID, AwaitIn: a.In, AwaitInEntity: a.InEntity,
			Reason: p.Reason, EventID: outs[i].EventID, Since: now, Deadline: now.Add(e.waitLimit), UpdatedAt: now,
		})
		k := key{a.System, a.Entity}
		awaited[k] = append(awaited[k], a.ID)
	}
	if err := tx.PutWaits(ctx, waits); err != nil {
		return fmt.Errorf("park: %w", err)
	}
	for k, ids := range awaited {
		ready, err := tx.ReadyWaits(ctx, &store.ReadyWaitsParams{AwaitSystem: k.system, AwaitEntity: k.entity, AwaitIDs: ids})
		if err != nil {
			return fmt.Errorf("park: %w", err)
		}
		if _, err := e.wake(ctx, tx, ready); err != nil {
			return err
		}
	}
	return nil
}

// wakeLinked wakes, inside the recording transaction, the records that waited
// for the records just linked.
func (e *Engine) wakeLinked(ctx context.Context, tx store.Tx, links []store.Link) error {
	type key struct {
		system string
		entity model.Entity
	}
	by := map[key][]string{}
	for _, lk := range links {
		k := key{lk.System, lk.Entity}
		by[k] = append(by[k], lk.ExternalID)
	}
	for k, ids := range by {
		ready, err := tx.ReadyWaits(ctx, &store.ReadyWaitsParams{AwaitSystem: k.system, AwaitEntity: k.entity, AwaitIDs: ids})
		if err != nil {
			return fmt.Errorf("wake: %w", err)
		}
		if _, err := e.wake(ctx, tx, ready); err != nil {
			return err
		}
	}
	return nil
}

// wakeRefused wakes, inside the recording transaction, the records that wait
// for records this batch could not hand over (refused, quarantined): planned
// again, they say why on their own event and status field, and wait on without
// pulling again.
func (e *Engine) wakeRefused(ctx context.Context, tx store.Tx, bp *BatchPlan, deadIdx []int, quar []store.QuarantineEntry) error {
	l := bp.Leg
	ids := make([]string, 0, len(deadIdx)+len(quar))
	for _, i := range deadIdx {
		ids = append(ids, bp.Records[i].Source.ID)
	}
	for _, q := range quar {
		ids = append(ids, q.ExternalID)
	}
	waiting, err := tx.ListWaits(ctx, &store.ListWaitsParams{AwaitSystem: l.Source, AwaitEntity: l.Entity, AwaitIDs: ids})
	if err != nil {
		return fmt.Errorf("wake: %w", err)
	}
	_, err = e.wake(ctx, tx, waiting)
	return err
}

// wake queues the waiting records, read again from their source, as live work
// of their legs and marks their waits woken. Waits of legs no longer in the
// config are left alone.
func (e *Engine) wake(ctx context.Context, tx store.Tx, ready []store.Wait) (int, error) {
	if len(ready) == 0 {
		return 0, nil
	}
	byLeg := map[string][]string{}
	for _, w := range ready {
		if _, ok := e.legs[w.Flow]; ok {
			byLeg[w.Flow] = append(byLeg[w.Flow], w.ExternalID)
		}
	}
	var batches []Batch
	n := 0
	for _, leg := range sortedKeys(byLeg) {
		ids := byLeg[leg]
		l := e.legs[leg]
		if err := tx.MarkWaitsWoken(ctx, &store.DeleteWaitsParams{Flow: leg, System: l.Source, Entity: l.Entity, ExternalIDs: ids}); err != nil {
			return 0, fmt.Errorf("wake: %w", err)
		}
		for start := 0; start < len(ids); start += e.batch {
			batches = append(batches, Batch{Leg: leg, Fetch: ids[start:min(start+e.batch, len(ids))], Attempt: 1, Live: true, Wake: true})
		}
		n += len(ids)
	}
	if len(batches) == 0 {
		return 0, nil
	}
	if err := e.queue.EnqueueTx(ctx, tx, batches, time.Time{}); err != nil {
		return 0, fmt.Errorf("wake: enqueue: %w", err)
	}
	e.log.DebugContext(ctx, "woke waiting records", "records", n)
	return n, nil
}

// TickResult says what one Tick did.
type TickResult struct {
	// Woken records waited for a record that is linked now; they are queued.
	Woken int
	// Expired records waited longer than the wait limit: dead-lettered.
	Expired int
	// Retried dead letters of passing causes were queued again.
	Retried int
	// Waiting is the number of records still waiting after the tick.
	Waiting int
}

// Tick does the engine's periodic work; serve calls it every few seconds and
// sync --once after the queue drained: it wakes waiting records whose awaited
// record got linked without the wake being noticed (another node linked it),
// dead-letters records that waited past the wait limit (an error the owner
// must hear of), and retries dead letters of passing causes whose backoff is
// over. It is safe to call concurrently with the workers.
func (e *Engine) Tick(ctx context.Context) (TickResult, error) {
	var res TickResult
	ready, err := e.store.ReadyWaits(ctx, &store.ReadyWaitsParams{})
	if err != nil {
		return res, fmt.Errorf("tick: %w", err)
	}
	if len(ready) > 0 {
		err = e.store.InTx(ctx, func(tx store.Tx) error {
			res.Woken, err = e.wake(ctx, tx, ready)
			return err
		})
		if err != nil {
			return res, fmt.Errorf("tick: %w", err)
		}
	}
	if res.Expired, err = e.expireWaits(ctx); err != nil {
		return res, fmt.Errorf("tick: %w", err)
	}
	if res.Retried, err = e.retryDue(ctx); err != nil {
		return res, fmt.Errorf("tick: %w", err)
	}
	if res.Waiting, err = e.store.CountWaits(ctx, ""); err != nil {
		return res, fmt.Errorf("tick: %w", err)
	}
	letters, err := e.store.ListDeadLetters(ctx, &store.ListDeadLettersParams{Limit: 1})
	if err != nil {
		return res, fmt.Errorf("tick: %w", err)
	}
	e.backlog.Store(res.Waiting > 0 || len(letters) > 0)
	return res, nil
}

// expireWaits dead-letters the records that waited past their deadline.
func (e *Engine) expireWaits(ctx context.Context) (int, error) {
	now := e.now().UTC()
	expired, err := e.store.ListWaits(ctx, &store.ListWaitsParams{DeadlineBefore: now})
	if err != nil {
		return 0, err
	}
	var mine []store.Wait
	for _, w := range expired {
		if _, ok := e.legs[w.Flow]; ok {
			mine = append(mine, w)
		}
	}
	if len(mine) == 0 {
		return 0, nil
	}
	err = e.store.InTx(ctx, func(tx store.Tx) error {
		for _, w := range mine {
			l := e.legs[w.Flow]
			reason := fmt.Sprintf("waited %s (since %s) for %s %s %s to be linked in %s, then gave up: %s",
				now.Sub(w.Since).Round(time.Minute), w.Since.Format(time.RFC3339), w.AwaitSystem, w.AwaitEntity, w.AwaitID, w.AwaitIn, w.Reason)
			ids, err := tx.InsertEvents(ctx, []store.Event{{Flow: l.Name, Entity: l.Entity, SourceSystem: l.Source, SourceID: w.ExternalID,
				TargetSystem: l.Target, ConfigVersion: e.version, Outcome: store.OutcomeDead, Error: reason, Attempt: 1, StartedAt: now}})
			if err != nil {
				return fmt.Errorf("expire waits: %w", err)
			}
			snap := mustJSON(model.Record{Entity: l.Entity, ID: w.ExternalID})
			if _, err := tx.InsertDeadLetters(ctx, []store.DeadLetter{{Flow: l.Name, Entity: l.Entity, System: l.Source, ExternalID: w.ExternalID,
				Snapshot: snap, Reason: reason, Attempts: 1, EventID: ids[0], CreatedAt: now}}); err != nil {
				return fmt.Errorf("expire waits: %w", err)
			}
			if err := tx.DeleteWaits(ctx, &store.DeleteWaitsParams{Flow: l.Name, System: l.Source, Entity: l.Entity, ExternalIDs: []string{w.ExternalID}}); err != nil {
				return fmt.Errorf("expire waits: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	e.backlog.Store(true)
	e.writeExpiredStatus(ctx, mine, now)
	for _, w := range mine {
		// The owner's alarm: a record gave up waiting.
		e.log.ErrorContext(ctx, "record waited too long; dead-lettered", FlowAttr(w.Flow), "record", w.ExternalID,
			"awaited", string(w.AwaitEntity)+" "+w.AwaitID, "since", w.Since, "limit", e.waitLimit)
		e.count(w.Flow, func(s *Stats) { s.Failed++ })
	}
	return len(mine), nil
}

// writeExpiredStatus tells the people working in the source that a record
// gave up waiting, on legs with a status field.
func (e *Engine) writeExpiredStatus(ctx context.Context, expired []store.Wait, now time.Time) {
	byLeg := map[string][]store.Wait{}
	for _, w := range expired {
		if l := e.legs[w.Flow]; l.StatusField != "" {
			byLeg[w.Flow] = append(byLeg[w.Flow], w)
		}
	}
	for leg, ws := range byLeg {
		l := e.legs[leg]
		ops := make([]connector.Op, len(ws))
		for i, w := range ws {
			o := Outcome{Outcome: store.OutcomeDead, Reason: fmt.Sprintf("waited since %s for %s %s %s, which never reached %s: %s",
				w.Since.UTC().Format("2006-01-02 15:04 UTC"), w.AwaitSystem, w.AwaitEntity, w.AwaitID, w.AwaitIn, w.Reason)}
			ops[i] = connector.Op{Kind: connector.OpUpdate, ID: w.ExternalID, Fields: model.Fields{l.StatusField: model.Text(statusText(l, o, now))}}
		}
		if _, err := e.conns[l.Source].Write(ctx, l.Entity, ops); err != nil {
			e.log.WarnContext(ctx, "write status field", FlowAttr(l.Name), "system", l.Source, "field", l.StatusField, "err", err)
		}
	}
}

// retryDue re-queues the open dead letters of passing causes whose backoff is
// over (doubling per automatic retry, from LetterRetry.Backoff up to
// LetterRetry.MaxBackoff) and whose last retry is not still running.
func (e *Engine) retryDue(ctx context.Context) (int, error) {
	letters, err := e.store.ListDeadLetters(ctx, &store.ListDeadLettersParams{RetryableOnly: true})
	if err != nil {
		return 0, err
	}
	now := e.now()
	var due []store.DeadLetter
	for _, dl := range letters {
		if dl.Pending() {
			continue
		}
		wait := e.letterRetry.Backoff
		for i := 0; i < dl.AutoRetries && wait < e.letterRetry.MaxBackoff; i++ {
			wait *= 2
		}
		if !now.Before(dl.UpdatedAt.Add(min(wait, e.letterRetry.MaxBackoff))) {
			due = append(due, dl)
		}
	}
	if len(due) == 0 {
		return 0, nil
	}
	n, err := e.retryLetters(ctx, due, nil, true)
	if n > 0 {
		e.log.InfoContext(ctx, "retrying dead letters automatically", "letters", n)
	}
	return n, err
}

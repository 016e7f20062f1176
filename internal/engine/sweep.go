package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/concord-sync/concord/internal/store"
)

// StartSweep begins a new pass of a schedule leg: its cursor goes back to the
// start, so the next polls read every record, and each is compared with the
// target (a value changed by hand in the target is put back). The pass gets
// one summary row in the store (store.Sweep) that the pass's pieces add their
// counts to: the records it finds unchanged get no event of their own. Other
// legs are left alone.
func (e *Engine) StartSweep(ctx context.Context, legName string) error {
	l, ok := e.legs[legName]
	if !ok {
		return fmt.Errorf("sweep: unknown leg %q", legName)
	}
	if l.Trigger != TriggerSchedule {
		return nil
	}
	err := e.store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.SetCursor(ctx, &store.SetCursorParams{CursorKey: store.CursorKey{Flow: l.Name, System: l.Source, Entity: l.Entity}}); err != nil {
			return fmt.Errorf("reset cursor: %w", err)
		}
		return tx.StartSweep(ctx, l.Name, e.now())
	})
	if err != nil {
		return fmt.Errorf("sweep %s: %w", l.Name, err)
	}
	return nil
}

// sweeping reports whether b is part of a pass of a schedule leg's sweep (read
// by Poll after StartSweep, or a retry of such records), not a replay, a
// dead-letter retry, a pull, a wake, a resync or a webhook's batch.
func (l *Leg) sweeping(b *Batch) bool {
	return l.Trigger == TriggerSchedule && b.Force && !b.Live && b.ReplayOf == 0 && !b.Pull && !b.Wake && len(b.Set) == 0 && !b.Resync
}

// sweepEvents is the hook of record for sweeps: for a piece of a sweep it
// drops the events of the records the pass found unchanged (and linked
// already), and returns the piece's counts for the pass's summary row. The
// events kept, with the record index of each (evIdx's form), are returned; for
// any other batch events and evIdx come back as they are and counts is nil.
// Records that changed, failed, waited or were linked now keep their events.
func sweepEvents(bp *BatchPlan, outs []Outcome, events []store.Event, evIdx []int, at time.Time) ([]store.Event, []int, *store.SweepCounts) {
	if !bp.Leg.sweeping(&bp.Batch) {
		return events, evIdx, nil
	}
	c := &store.SweepCounts{Flow: bp.Leg.Name, At: at}
	keptEv, keptIdx := events[:0:0], evIdx[:0:0]
	for k, i := range evIdx {
		p := bp.Records[i]
		c.Compared++
		switch outs[i].Outcome {
		case store.OutcomeCreated, store.OutcomeUpdated:
			c.Changed++
		case store.OutcomeUnchanged:
			if !p.Adopted && !p.newSourceLink {
				c.Unchanged++
				continue
			}
			c.Changed++ // equal, but linked now
		case store.OutcomeNotCreated:
			c.Unchanged++ // never created by this leg: nothing new to say
			continue
		case store.OutcomeReview:
			if p.reviewPending {
				c.Unchanged++ // still waiting for the same person
				continue
			}
		}
		keptEv, keptIdx = append(keptEv, events[k]), append(keptIdx, i)
	}
	return keptEv, keptIdx, c
}

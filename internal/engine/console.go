package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
)

// ErrRecordGone is returned by SourceRecord when the source system no
// longer has the record.
var ErrRecordGone = errors.New("the source system no longer has the record")

// SourceRecord reads one record of a leg from its source system as it is now
// (for a person deciding how to fix a dead letter).
func (e *Engine) SourceRecord(ctx context.Context, leg, id string) (model.Record, error) {
	l, ok := e.legs[leg]
	if !ok {
		return model.Record{}, fmt.Errorf("flow %q is not in the config", leg)
	}
	recs, err := e.conns[l.Source].Get(ctx, l.Entity, []string{id})
	if err != nil {
		return model.Record{}, fmt.Errorf("read %s %s from %s: %w", l.Entity, id, l.Source, err)
	}
	r, ok := recs[id]
	if !ok {
		return model.Record{}, fmt.Errorf("%s %s in %s: %w", l.Entity, id, l.Source, ErrRecordGone)
	}
	return r, nil
}

// Requeue reads records of a leg again from its source and queues them as a
// forced live batch, with set overriding source fields (a value corrected by
// a person; nil: none): a quarantined record released with its fix, or one a
// person asks to sync again. The queue's workers apply it.
func (e *Engine) Requeue(ctx context.Context, leg string, ids []string, set model.Fields) error {
	l, ok := e.legs[leg]
	if !ok {
		return fmt.Errorf("flow %q is not in the config", leg)
	}
	for f := range set {
		if !slices.Contains(l.Fields, f) {
			return fmt.Errorf("flow %s does not move field %q (it moves %s)", l.Flow, f, strings.Join(l.Fields, ", "))
		}
	}
	var batches []Batch
	for start := 0; start < len(ids); start += e.batch {
		b := Batch{Leg: leg, Fetch: ids[start:min(start+e.batch, len(ids))], Attempt: 1, Force: true, Live: true}
		if len(set) > 0 {
			b.Set = make(map[string]model.Fields, len(b.Fetch))
			for _, id := range b.Fetch {
				b.Set[id] = set
			}
		}
		batches = append(batches, b)
	}
	err := e.store.InTx(ctx, func(tx store.Tx) error {
		return e.queue.EnqueueTx(ctx, tx, batches, e.now())
	})
	if err != nil {
		return fmt.Errorf("requeue %s: %w", leg, err)
	}
	return nil
}

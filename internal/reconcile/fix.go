package reconcile

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
)

// Planner plans a batch without writing: *engine.Engine.
type Planner interface {
	Plan(ctx context.Context, b engine.Batch) (*engine.BatchPlan, error)
}

// fixLeg is the owner's records of one leg that --fix sends again.
type fixLeg struct {
	leg    *engine.Leg
	source string
	entity model.Entity
	ids    []string
}

// fixes groups the fixable drift by the leg that carries each field from its
// owner to the other system: only a leg whose source is the owner carries
// it, so a correction never writes into the field's owner. Drift marked
// fixable that no leg carries is an error naming it.
func fixes(legs []engine.Leg, drift []Drift) ([]*fixLeg, error) {
	byLeg := map[string]*fixLeg{}
	var out []*fixLeg
	for _, d := range drift {
		if !d.Fixable {
			continue
		}
		i := slices.IndexFunc(legs, func(l engine.Leg) bool {
			return l.Flow == d.Flow && l.Source == d.Owner && l.Target == d.Other && string(l.Entity) == d.Entity && slices.Contains(l.Fields, d.Field)
		})
		if i < 0 {
			return nil, fmt.Errorf("fix %s %s field %s: no flow %s carries it from %s to %s", d.Entity, d.OwnerID, d.Field, d.Flow, d.Owner, d.Other)
		}
		l := &legs[i]
		f := byLeg[l.Name]
		if f == nil {
			f = &fixLeg{leg: l, source: l.Source, entity: l.Entity}
			byLeg[l.Name] = f
			out = append(out, f)
		}
		f.ids = append(f.ids, d.OwnerID)
	}
	for _, f := range out {
		slices.Sort(f.ids)
		f.ids = slices.Compact(f.ids)
	}
	slices.SortFunc(out, func(x, y *fixLeg) int { return strings.Compare(x.leg.Name, y.leg.Name) })
	return out, nil
}

// pages splits ids into slices of at most n.
func pages(ids []string, n int) [][]string {
	if n <= 0 {
		n = 1000
	}
	var out [][]string
	for start := 0; start < len(ids); start += n {
		out = append(out, ids[start:min(start+n, len(ids))])
	}
	return out
}

// PlanFix shows what Fix would queue: the owner's records of the fixable
// drift, read from the owner by id (in pages of src.PageSize) and planned by
// the engine as forced batches on the legs that carry the fields, the plans
// `concord plan` prints. It writes nothing. Records gone from the owner since
// the comparison are left out.
func PlanFix(ctx context.Context, src Sources, eng Planner, drift []Drift) ([]*engine.RecordPlan, error) {
	fx, err := fixes(src.Legs, drift)
	if err != nil {
		return nil, err
	}
	var out []*engine.RecordPlan
	for _, f := range fx {
		conn, ok := src.Conns[f.source]
		if !ok {
			return nil, fmt.Errorf("plan fix of flow %s: system %s is not open", f.leg.Flow, f.source)
		}
		for _, ids := range pages(f.ids, src.PageSize) {
			recs, err := conn.Get(ctx, f.entity, ids)
			if err != nil {
				return nil, fmt.Errorf("plan fix of flow %s: get %d %s records from %s: %w", f.leg.Flow, len(ids), f.entity, f.source, err)
			}
			b := engine.Batch{Leg: f.leg.Name, Attempt: 1, Force: true}
			for _, id := range ids {
				if r, ok := recs[id]; ok {
					b.Records = append(b.Records, r)
				}
			}
			if len(b.Records) == 0 {
				continue
			}
			bp, err := eng.Plan(ctx, b)
			if err != nil {
				return nil, fmt.Errorf("plan fix of flow %s: %w", f.leg.Flow, err)
			}
			out = append(out, bp.Records...)
		}
	}
	return out, nil
}

// Fix queues, in one store transaction, the corrections of the fixable
// drift: per leg that carries a drifted field from its owner to the other
// system, forced live batches naming the owner's record ids (in pages of
// src.PageSize), read again from the owner when they run, so that the normal
// path writes the owner's value back; the engine checks ownership again
// before it writes. Drift that is not Fixable is left alone. It returns the
// number of records queued.
func Fix(ctx context.Context, src Sources, q engine.Enqueuer, drift []Drift) (int, error) {
	fx, err := fixes(src.Legs, drift)
	if err != nil {
		return 0, err
	}
	var batches []engine.Batch
	n := 0
	for _, f := range fx {
		for _, ids := range pages(f.ids, src.PageSize) {
			batches = append(batches, engine.Batch{Leg: f.leg.Name, Fetch: ids, Attempt: 1, Force: true, Live: true})
			n += len(ids)
		}
	}
	if len(batches) == 0 {
		return 0, nil
	}
	err = src.Store.InTx(ctx, func(tx store.Tx) error {
		return q.EnqueueTx(ctx, tx, batches, time.Time{})
	})
	if err != nil {
		return 0, fmt.Errorf("queue fixes: %w", err)
	}
	return n, nil
}

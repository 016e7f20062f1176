package hubspothttp

import "context"

// Priority orders callers waiting for the rate limiter: every waiting Live
// caller is served before any waiting Backfill caller.
type Priority int

// The priorities. Backfill is the zero value and the default.
const (
	Backfill Priority = iota
	Live
)

// String returns "live" or "backfill".
func (p Priority) String() string {
	if p == Live {
		return "live"
	}
	return "backfill"
}

type priorityKey struct{}

// WithPriority returns a copy of ctx whose HubSpot calls wait for the rate
// limiter with priority p.
func WithPriority(ctx context.Context, p Priority) context.Context {
	return context.WithValue(ctx, priorityKey{}, p)
}

// PriorityFrom returns the priority set on ctx with WithPriority, or Backfill.
func PriorityFrom(ctx context.Context) Priority {
	p, _ := ctx.Value(priorityKey{}).(Priority)
	return p
}

package connector

import (
	"context"
	"time"
)

// Budgets hands out rate budgets shared by every process on one store
// (several concord serve nodes on PostgreSQL). A connector that keeps an
// external account under a request budget takes it from here when
// OpenParams.Budgets is set, on top of its own per-process limiter.
type Budgets interface {
	// Budget returns the shared budget of account (a digest naming the
	// external account, never a secret): limit requests in any interval, all
	// processes together. Calls with the same account return the same budget.
	Budget(account string, limit int, interval time.Duration) Budget
}

// Budget is one account's shared rate budget.
type Budget interface {
	// Take waits until one request may be sent; live work (see WithLive)
	// goes before polls and backfills. It returns ctx's error when ctx ends first.
	Take(ctx context.Context, live bool) error
}

type liveKey struct{}

// WithLive marks ctx as carrying live work (webhook announcements, pulls,
// wakes, replays: engine.Batch.Live), which connectors with a rate budget
// serve before backfills and polls.
func WithLive(ctx context.Context) context.Context {
	return context.WithValue(ctx, liveKey{}, true)
}

// IsLive reports whether ctx was marked with WithLive.
func IsLive(ctx context.Context) bool {
	live, _ := ctx.Value(liveKey{}).(bool)
	return live
}

// Package budget shares an external account's rate budget between every
// concord serve node on one store: a token bucket per account in the store
// (store.TakeTokens), taken a few tokens at a time so that the store is not
// asked per request, with live work served before backfills.
//
// The bucket is sized so that the account never sees more than the budget in
// any window, whatever the number of nodes: for a budget of N requests per
// interval I, the bucket holds C = N/10 (at least 1) and refills at (N - C) /
// (I + Hold) per second, and a node drops the tokens it has not used within
// Hold. The requests sent in any window of length I then used tokens taken
// from the store within I + Hold, at most C + rate x (I + Hold) = N. The
// price is a sustained rate a little under N per I (about 86% with a 10 s
// interval).
//
// Live work goes first: a poll or backfill never takes the bucket's last C/2
// tokens (its floor), live work (connector.WithLive: the engine's live
// batches) may.
package budget

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/store"
)

// Store is what a Budget needs from the store; store.Store is one.
type Store interface {
	TakeTokens(ctx context.Context, p *store.TakeTokensParams) (store.TokenGrant, error)
}

// Hold is how long a node keeps tokens taken from the store before it drops
// them unused.
const Hold = 500 * time.Millisecond

// maxWait bounds one sleep for a token, so that a caller re-asks the store
// and notices when another node stopped using the budget.
const maxWait = time.Second

// Budget is one account's rate budget, shared through the store. It is safe
// for concurrent use.
type Budget struct {
	st       Store
	bucket   string
	capacity int
	rate     float64
	grant    int
	floor    int // a backfill's floor
	now      func() time.Time

	mu      sync.Mutex
	tokens  int
	takenAt time.Time
}

// New returns the budget named bucket (one per external account: never a
// token, a digest of one) allowing limit requests in any interval to all the
// nodes on st together. A limit below 1 is treated as 1.
func New(st Store, bucket string, limit int, interval time.Duration) *Budget {
	limit = max(limit, 1)
	capacity := max(1, limit/10)
	rate := float64(limit-capacity) / (interval + Hold).Seconds()
	if rate <= 0 {
		rate = 1 / (interval + Hold).Seconds()
	}
	return &Budget{st: st, bucket: bucket, capacity: capacity, rate: rate,
		grant: min(10, max(1, capacity/2)), floor: capacity / 2, now: time.Now}
}

// Take waits until one request may be sent, live (webhook and poll work)
// before backfill. It returns ctx's error when ctx ends first, and the
// store's error when the store cannot be asked.
func (b *Budget) Take(ctx context.Context, live bool) error {
	floor := b.floor
	if live {
		floor = 0
	}
	for {
		b.mu.Lock()
		if b.tokens > 0 && b.now().Sub(b.takenAt) < Hold {
			b.tokens--
			b.mu.Unlock()
			return nil
		}
		b.tokens = 0 // held too long: dropped, they may no longer be spent
		g, err := b.st.TakeTokens(ctx, &store.TakeTokensParams{Bucket: b.bucket, Want: b.grant, Capacity: b.capacity, Rate: b.rate, Floor: floor})
		if err != nil {
			b.mu.Unlock()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("shared rate budget: %w", err)
		}
		if g.Granted > 0 {
			b.tokens, b.takenAt = g.Granted-1, b.now()
			b.mu.Unlock()
			return nil
		}
		b.mu.Unlock()
		t := time.NewTimer(min(max(g.Wait, time.Millisecond), maxWait))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Set hands out one Budget per account on one store: connector.Budgets. It
// is safe for concurrent use.
type Set struct {
	st Store
	mu sync.Mutex
	m  map[string]*Budget
}

var _ connector.Budgets = (*Set)(nil)

// NewSet returns the budgets kept in st.
func NewSet(st Store) *Set { return &Set{st: st, m: map[string]*Budget{}} }

// Budget returns account's budget, created with limit and interval on first
// use; later calls return the same one.
func (s *Set) Budget(account string, limit int, interval time.Duration) connector.Budget {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.m[account]
	if !ok {
		b = New(s.st, account, limit, interval)
		s.m[account] = b
	}
	return b
}

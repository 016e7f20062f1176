// Package gate bounds how many batches are written into one system at once
// by every concord process on a store together (several serve nodes): a
// system with max_concurrency k has k write slots, each a lease in the store
// ("write:<system>:<i>"), held while a batch writes and renewed while it
// lasts. A process that dies holding one frees it when the lease expires.
package gate

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/concord-sync/concord/internal/store"
)

// Store is what a Gate needs from the store; store.Store is one.
type Store interface {
	AcquireLease(ctx context.Context, p *store.LeaseParams) (bool, error)
	ReleaseLease(ctx context.Context, p *store.LeaseParams) error
}

// TTL is how long a slot stays held without renewal (a dead process's slot
// is free again after it); a held slot is renewed every TTL/3.
const TTL = 15 * time.Second

// Gate hands out the write slots of the systems with a bound. It is safe for
// concurrent use.
type Gate struct {
	st     Store
	node   string
	limits map[string]int
	seq    atomic.Int64
	// Poll is how long a caller waits before trying the slots again.
	Poll time.Duration
}

// New returns a gate for the systems in limits (system name -> at most so
// many batches at once); node names this process in the leases.
func New(st Store, node string, limits map[string]int) *Gate {
	return &Gate{st: st, node: node, limits: limits, Poll: 100 * time.Millisecond}
}

// Enter waits for a free write slot of system and holds it until leave is
// called (leave is safe to call once; it gives the slot back at once). A
// system without a bound returns at once. It returns ctx's error when ctx
// ends first.
func (g *Gate) Enter(ctx context.Context, system string) (leave func(), err error) {
	if g == nil || g.limits[system] <= 0 {
		return func() {}, nil
	}
	k := g.limits[system]
	holder := g.node + "#" + strconv.FormatInt(g.seq.Add(1), 10)
	first := rand.IntN(k) // spread the callers over the slots
	for {
		for j := range k {
			p := &store.LeaseParams{Name: fmt.Sprintf("write:%s:%d", system, (first+j)%k), Holder: holder, TTL: TTL}
			ok, err := g.st.AcquireLease(ctx, p)
			if err != nil {
				return nil, fmt.Errorf("write slot of %s: %w", system, err)
			}
			if ok {
				return g.hold(p), nil
			}
		}
		t := time.NewTimer(g.Poll/2 + rand.N(g.Poll))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// hold renews the slot p until the returned leave is called, then gives it
// back.
func (g *Gate) hold(p *store.LeaseParams) (leave func()) {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(TTL / 3)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				// A failed renewal is retried at the next tick; the slot
				// outlives two missed renewals.
				_, _ = g.st.AcquireLease(context.Background(), p)
			}
		}
	}()
	var left atomic.Bool
	return func() {
		if !left.CompareAndSwap(false, true) {
			return
		}
		close(stop)
		<-done
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = g.st.ReleaseLease(ctx, p) // else it expires within TTL
	}
}

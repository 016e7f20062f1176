package queue

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
	"github.com/concord-sync/concord/internal/store/sqlitestore"
	"github.com/concord-sync/concord/internal/store/storetest"
)

type slowProc struct{ delay time.Duration }

func (p slowProc) Process(context.Context, engine.Batch, engine.ProcessOptions) ([]engine.Outcome, error) {
	time.Sleep(p.delay)
	return nil, nil
}

func (slowProc) Bury(context.Context, engine.Batch, string, int) error { return nil }

// TestDrain_CountsWhenWorked: while batches run, Drain counts the pending
// jobs when a job finishes (and on a backoff), not every interval: 6 batches
// of 150 ms drained with a 1 ms interval count a few times per batch, where a
// ticker would count about 900 times. It still returns soon after the last.
func TestDrain_CountsWhenWorked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, t.TempDir()+"/concord.db", storetest.Logger(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	q, err := New(ctx, st, Config{Legs: []string{"customers"}, PollInterval: 10 * time.Millisecond}, storetest.Logger(t))
	require.NoError(t, err)
	const batches = 6
	require.NoError(t, st.InTx(ctx, func(tx store.Tx) error {
		var bs []engine.Batch
		for i := range batches {
			bs = append(bs, engine.Batch{Leg: "customers", Attempt: 1, Records: []model.Record{{Entity: model.Account, ID: string(rune('a' + i))}}})
		}
		return q.EnqueueTx(ctx, tx, bs, time.Time{})
	}))
	require.NoError(t, q.Start(ctx, slowProc{delay: 150 * time.Millisecond}))
	defer q.Stop(ctx)
	start := time.Now()
	dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	require.NoError(t, q.Drain(dctx, time.Millisecond))
	took := time.Since(start)
	n, err := q.Pending(ctx)
	require.NoError(t, err)
	require.Zero(t, n)
	counts := q.counts.Load()
	t.Logf("drained %d batches in %s with %d counts", batches, took, counts)
	require.Less(t, counts, int64(40), "Drain polled the job count instead of waiting for jobs to finish")
	require.GreaterOrEqual(t, took, batches*150*time.Millisecond)
}

// gateProc blocks each batch until gate is closed, and says when it started one.
type gateProc struct {
	gate    chan struct{}
	started chan struct{}
}

func (p gateProc) Process(context.Context, engine.Batch, engine.ProcessOptions) ([]engine.Outcome, error) {
	select {
	case p.started <- struct{}{}:
	default:
	}
	<-p.gate
	return nil, nil
}

func (gateProc) Bury(context.Context, engine.Batch, string, int) error { return nil }

// TestWaitRoom: a poller waits while the in-memory hand-over is full and the
// workers have not taken it, until a batch is applied; without running
// workers it never waits.
func TestWaitRoom(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, t.TempDir()+"/concord.db", storetest.Logger(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	q, err := New(ctx, st, Config{Legs: []string{"customers"}, PollInterval: 10 * time.Millisecond}, storetest.Logger(t))
	require.NoError(t, err)
	enqueue := func(n int) {
		require.NoError(t, st.InTx(ctx, func(tx store.Tx) error {
			var bs []engine.Batch
			for i := range n {
				bs = append(bs, engine.Batch{Leg: "customers", Attempt: 1, Records: []model.Record{{Entity: model.Account, ID: string(rune('a' + i))}}})
			}
			return q.EnqueueTx(ctx, tx, bs, time.Time{})
		}))
	}
	hot := func() int {
		q.hotMu.Lock()
		defer q.hotMu.Unlock()
		return len(q.hot)
	}
	enqueue(hotMax + 2)
	require.Equal(t, hotMax, hot(), "the hand-over keeps hotMax batches")
	start := time.Now()
	require.NoError(t, q.WaitRoom(ctx))
	require.Less(t, time.Since(start), 500*time.Millisecond, "no workers: no wait")

	p := gateProc{gate: make(chan struct{}), started: make(chan struct{}, 1)}
	require.NoError(t, q.Start(ctx, p))
	defer q.Stop(ctx)
	<-p.started // the worker took one batch and is stuck in it
	enqueue(1)
	require.Equal(t, hotMax, hot())
	done := make(chan error, 1)
	go func() { done <- q.WaitRoom(ctx) }()
	select {
	case err := <-done:
		t.Fatalf("WaitRoom returned while the hand-over was full and no batch was applied: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	close(p.gate)
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("WaitRoom still waiting after batches were applied")
	}
	require.Less(t, hot(), hotMax)
}

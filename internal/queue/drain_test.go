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

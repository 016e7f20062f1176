package queue

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
	"github.com/concord-sync/concord/internal/store/pgstore"
	"github.com/concord-sync/concord/internal/store/storetest"
)

// seenProc records the first record id of each batch it applies.
type seenProc struct {
	mu   sync.Mutex
	seen []string
}

func (p *seenProc) Process(_ context.Context, b engine.Batch, _ engine.ProcessOptions) ([]engine.Outcome, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen = append(p.seen, b.Records[0].ID)
	return nil, nil
}

func (*seenProc) Bury(context.Context, engine.Batch, string, int) error { return nil }

func (p *seenProc) ids() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}

// TestQueue_RescueDeadNode: on PostgreSQL a job left running by a node whose
// lease is gone (killed) is taken by a live node within the lease's TTL plus
// a rescue interval, with its attempt given back; a job running on a live
// node is left alone.
func TestQueue_RescueDeadNode(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st, err := pgstore.Open(ctx, storetest.PostgresSchema(t, storetest.PostgresURL(t)), storetest.Logger(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	q, err := New(ctx, st, Config{Node: "node-b", Legs: []string{"customers", "orders"}, PollInterval: 20 * time.Millisecond}, storetest.Logger(t))
	require.NoError(t, err)
	require.NoError(t, st.InTx(ctx, func(tx store.Tx) error {
		return q.EnqueueTx(ctx, tx, []engine.Batch{
			{Leg: "customers", Records: []model.Record{{Entity: model.Account, ID: "of-the-dead"}}},
			{Leg: "orders", Records: []model.Record{{Entity: model.Order, ID: "of-the-living"}}},
		}, time.Time{})
	}))
	// Both jobs were fetched a minute ago: one by a node that died, one by a
	// node that is alive (it holds its lease).
	_, err = st.DB().ExecContext(ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now() - interval '1 minute',
attempted_by = CASE WHEN queue = $1 THEN '{node-dead}'::text[] ELSE '{node-live}'::text[] END`, QueueName("customers"))
	require.NoError(t, err)
	ok, err := st.AcquireLease(ctx, &store.LeaseParams{Name: "node:node-live", Holder: "node-live", TTL: time.Minute})
	require.NoError(t, err)
	require.True(t, ok)

	proc := &seenProc{}
	require.NoError(t, q.Start(ctx, proc))
	defer q.Stop(context.WithoutCancel(ctx))
	require.Eventually(t, func() bool { return len(proc.ids()) > 0 }, 15*time.Second, 50*time.Millisecond,
		"the dead node's job is resumed within a rescue interval")
	require.Equal(t, []string{"of-the-dead"}, proc.ids())
	var attempt int
	var by []byte
	require.NoError(t, st.DB().QueryRowContext(ctx, `SELECT attempt, array_to_string(attempted_by, ',') FROM river_job WHERE queue = $1`, QueueName("customers")).Scan(&attempt, &by))
	require.Equal(t, 1, attempt, "the dead node's attempt was given back: this is the first that counts")
	require.Equal(t, "node-dead,node-b", string(by))
	var state string
	require.NoError(t, st.DB().QueryRowContext(ctx, `SELECT state FROM river_job WHERE queue = $1`, QueueName("orders")).Scan(&state))
	require.Equal(t, "running", state, "a live node's job is left alone")

	leases, err := st.Leases(ctx)
	require.NoError(t, err)
	var names []string
	for _, l := range leases {
		names = append(names, l.Name)
	}
	require.Contains(t, names, "node:node-b", "the running queue holds its node's lease")
	require.NoError(t, q.Stop(ctx))
	leases, err = st.Leases(ctx)
	require.NoError(t, err)
	for _, l := range leases {
		require.NotEqual(t, "node:node-b", l.Name, "a stopped queue released its node's lease")
	}
}

// overlapProc applies batches slowly and counts how many run at once, and
// which records it applied.
type overlapProc struct {
	mu      sync.Mutex
	now     int
	most    int
	applied map[string]int
	busy    map[string]bool
	clash   bool // a record was applied by two batches at once
}

func (p *overlapProc) Process(_ context.Context, b engine.Batch, _ engine.ProcessOptions) ([]engine.Outcome, error) {
	p.mu.Lock()
	p.now++
	p.most = max(p.most, p.now)
	for _, r := range b.Records {
		if p.busy[r.ID] {
			p.clash = true
		}
		p.busy[r.ID] = true
	}
	p.mu.Unlock()
	time.Sleep(150 * time.Millisecond)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.now--
	for _, r := range b.Records {
		delete(p.busy, r.ID)
		p.applied[r.ID]++
	}
	return nil, nil
}

func (*overlapProc) Bury(context.Context, engine.Batch, string, int) error { return nil }

// TestQueue_Partitions: with sync.partitions 4 on PostgreSQL, two nodes apply
// one leg's batches at once, never the same record at once, each record once.
func TestQueue_Partitions(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dsn := storetest.PostgresSchema(t, storetest.PostgresURL(t))
	proc := &overlapProc{applied: map[string]int{}, busy: map[string]bool{}}
	var queues []*Queue
	for _, node := range []string{"node-a", "node-b"} {
		st, err := pgstore.Open(ctx, dsn, storetest.Logger(t))
		require.NoError(t, err)
		t.Cleanup(func() { _ = st.Close() })
		q, err := New(ctx, st, Config{Node: node, Partitions: 4, Legs: []string{"customers"}, PollInterval: 20 * time.Millisecond}, storetest.Logger(t))
		require.NoError(t, err)
		queues = append(queues, q)
	}
	q := queues[0]
	const pages, perPage = 4, 40
	require.NoError(t, q.st.InTx(ctx, func(tx store.Tx) error {
		var bs []engine.Batch
		for p := range pages { // the same records on every page: four changes each
			b := engine.Batch{Leg: "customers"}
			for i := range perPage {
				b.Records = append(b.Records, model.Record{Entity: model.Account, ID: fmt.Sprintf("c%02d", i), Fields: model.Fields{"page": model.Text(fmt.Sprint(p))}})
			}
			bs = append(bs, b)
		}
		return q.EnqueueTx(ctx, tx, bs, time.Time{})
	}))
	parts := map[int]bool{}
	rows, err := q.st.DB().QueryContext(ctx, `SELECT (args->>'part')::int FROM river_job`)
	require.NoError(t, err)
	for rows.Next() {
		var p int
		require.NoError(t, rows.Scan(&p))
		parts[p] = true
	}
	require.NoError(t, rows.Err())
	rows.Close()
	require.Len(t, parts, 4, "each page split in 4 partitions")
	require.NotContains(t, parts, 0)

	for _, q := range queues {
		require.NoError(t, q.Start(ctx, proc))
		defer q.Stop(context.WithoutCancel(ctx))
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, q.Drain(dctx, 10*time.Millisecond))
	proc.mu.Lock()
	defer proc.mu.Unlock()
	require.Equal(t, 2, proc.most, "the two nodes applied two partitions at once")
	require.False(t, proc.clash, "never one record in two batches at once")
	require.Len(t, proc.applied, perPage)
	for id, n := range proc.applied {
		require.Equal(t, pages, n, "record %s applied once per page", id)
	}
}

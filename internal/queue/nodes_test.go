package queue

import (
	"context"
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

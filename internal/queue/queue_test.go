package queue_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/memory"
	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/queue"
	"github.com/concord-sync/concord/internal/store"
	"github.com/concord-sync/concord/internal/store/pgstore"
	"github.com/concord-sync/concord/internal/store/sqlitestore"
	"github.com/concord-sync/concord/internal/store/storetest"
)

type testBundle struct {
	ctx context.Context
	st  store.Store
	crm *memory.Conn
	erp *memory.Conn
	q   *queue.Queue
	eng *engine.Engine
}

func leg() engine.Leg {
	name, _ := model.LookupField(model.Account, "name")
	return engine.Leg{Name: "customers", Flow: "customers", Source: "crm", Target: "erp", Entity: model.Account,
		Fields: []string{"name"}, Trigger: engine.TriggerChange, Owners: map[string]string{"name": "crm"},
		Defs: map[string]model.FieldDef{"name": name}}
}

func setup(t *testing.T, st store.Store, maxAttempts int) *testBundle {
	t.Helper()
	b := &testBundle{ctx: context.Background(), st: st, crm: memory.New("crm", model.Account), erp: memory.New("erp", model.Account)}
	log := storetest.Logger(t)
	var err error
	b.q, err = queue.New(b.ctx, st, queue.Config{Legs: []string{"customers"}, MaxAttempts: maxAttempts, Backoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, PollInterval: 10 * time.Millisecond}, log)
	require.NoError(t, err)
	b.eng, err = engine.New(engine.Params{Store: st, Connectors: map[string]connector.Connector{"crm": b.crm, "erp": b.erp},
		Legs: []engine.Leg{leg()}, Queue: b.q, BatchSize: 40, Logger: log,
		Retry: engine.RetryPolicy{MaxAttempts: maxAttempts, Backoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond}})
	require.NoError(t, err)
	require.NoError(t, b.q.Start(b.ctx, b.eng))
	t.Cleanup(func() { require.NoError(t, b.q.Stop(context.Background())) })
	return b
}

func (b *testBundle) sync(t *testing.T) {
	t.Helper()
	for {
		r, err := b.eng.Poll(b.ctx, "customers")
		require.NoError(t, err)
		if r.Done {
			break
		}
	}
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, b.q.Drain(ctx, 5*time.Millisecond))
}

func exercise(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open(t), 3)
		for i := range 200 {
			b.crm.Put(model.Record{Entity: model.Account, ID: fmt.Sprintf("c%d", i), Fields: model.Fields{"name": model.Text(fmt.Sprintf("Company %d", i))}})
		}
		b.sync(t)
		require.Equal(t, 200, b.erp.Count(model.Account))
		// Many versions of one record, queued in separate batches, apply in order.
		for v := range 30 {
			b.crm.Put(model.Record{Entity: model.Account, ID: "c1", Fields: model.Fields{"name": model.Text(fmt.Sprintf("Version %d", v))}})
			_, err := b.eng.Poll(b.ctx, "customers")
			require.NoError(t, err)
		}
		b.sync(t)
		found, err := b.erp.Lookup(b.ctx, model.Account, []string{"c1"})
		require.NoError(t, err)
		require.Equal(t, "Version 29", found["c1"].Fields["name"].Str)
		n, err := b.q.Pending(b.ctx)
		require.NoError(t, err)
		require.Zero(t, n)
	})

	t.Run("Depth", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		ctx := context.Background()
		log := storetest.Logger(t)
		q, err := queue.New(ctx, st, queue.Config{Legs: []string{"customers", "other"}, PollInterval: 10 * time.Millisecond}, log)
		require.NoError(t, err)
		crm, erp := memory.New("crm", model.Account), memory.New("erp", model.Account)
		eng, err := engine.New(engine.Params{Store: st, Connectors: map[string]connector.Connector{"crm": crm, "erp": erp},
			Legs: []engine.Leg{leg()}, Queue: q, BatchSize: 4, Logger: log})
		require.NoError(t, err)
		d, err := q.Depth(ctx)
		require.NoError(t, err)
		require.Empty(t, d)

		before := time.Now().Add(-time.Second)
		for i := range 10 {
			crm.Put(model.Record{Entity: model.Account, ID: fmt.Sprintf("c%d", i), Fields: model.Fields{"name": model.Text("x")}})
		}
		for {
			r, err := eng.Poll(ctx, "customers")
			require.NoError(t, err)
			if r.Done {
				break
			}
		}
		d, err = q.Depth(ctx)
		require.NoError(t, err)
		require.Len(t, d, 1, "only the leg with work: %v", d)
		require.Equal(t, 3, d["customers"].Batches)
		require.Equal(t, 10, d["customers"].Records)
		require.WithinRange(t, d["customers"].Oldest, before, time.Now().Add(time.Second))

		require.NoError(t, q.Start(ctx, eng))
		t.Cleanup(func() { require.NoError(t, q.Stop(context.Background())) })
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		require.NoError(t, q.Drain(dctx, 5*time.Millisecond))
		d, err = q.Depth(ctx)
		require.NoError(t, err)
		require.Empty(t, d, "the depth goes down once the work is done")
	})

	t.Run("WholeBatchFailsThenDeadLetter", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open(t), 2)
		b.erp.SetWriteErr(errors.New("erp is down"))
		for i := range 5 {
			b.crm.Put(model.Record{Entity: model.Account, ID: fmt.Sprintf("c%d", i), Fields: model.Fields{"name": model.Text("x")}})
		}
		b.sync(t)
		dls, err := b.st.ListDeadLetters(b.ctx, &store.ListDeadLettersParams{})
		require.NoError(t, err)
		require.Len(t, dls, 5, "every record of the batch is dead-lettered after its last attempt")
		require.Contains(t, dls[0].Reason, "erp is down")

		b.erp.SetWriteErr(nil)
		_, err = b.eng.RetryDeadLetters(b.ctx, dls, nil)
		require.NoError(t, err)
		b.sync(t)
		require.Equal(t, 5, b.erp.Count(model.Account))
	})
}

func TestQueue_SQLite(t *testing.T) {
	t.Parallel()
	exercise(t, func(t *testing.T) store.Store {
		st, err := sqlitestore.Open(context.Background(), t.TempDir()+"/concord.db", storetest.Logger(t))
		require.NoError(t, err)
		t.Cleanup(func() { _ = st.Close() })
		return st
	})
}

func TestQueue_Postgres(t *testing.T) {
	t.Parallel()
	base := storetest.PostgresURL(t)
	exercise(t, func(t *testing.T) store.Store {
		st, err := pgstore.Open(context.Background(), storetest.PostgresSchema(t, base), storetest.Logger(t))
		require.NoError(t, err)
		t.Cleanup(func() { _ = st.Close() })
		return st
	})
}

func TestQueueName(t *testing.T) {
	t.Parallel()
	require.NotEqual(t, queue.QueueName("a b"), queue.QueueName("a_b"), "distinct legs never share a queue")
	require.Regexp(t, `^leg_customers_reverse_[0-9a-f]{8}$`, queue.QueueName("customers:reverse"))
}

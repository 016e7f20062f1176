package queue_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/queue"
	"github.com/concord-sync/concord/internal/store"
	"github.com/concord-sync/concord/internal/store/pgstore"
	"github.com/concord-sync/concord/internal/store/sqlitestore"
	"github.com/concord-sync/concord/internal/store/storetest"
)

// recorder is a Processor that records the batches it runs and how many run at once.
type recorder struct {
	mu      sync.Mutex
	legs    []string
	running atomic.Int32
	peak    atomic.Int32
	delay   time.Duration
}

func (r *recorder) Process(_ context.Context, b engine.Batch, _ engine.ProcessOptions) ([]engine.Outcome, error) {
	n := r.running.Add(1)
	defer r.running.Add(-1)
	for {
		p := r.peak.Load()
		if n <= p || r.peak.CompareAndSwap(p, n) {
			break
		}
	}
	time.Sleep(r.delay)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range b.Records {
		r.legs = append(r.legs, rec.ID)
	}
	return nil, nil
}

func (r *recorder) Bury(context.Context, engine.Batch, string, int) error { return nil }

func (r *recorder) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.legs...)
}

func newQueue(t *testing.T, st store.Store) *queue.Queue {
	t.Helper()
	q, err := queue.New(context.Background(), st, queue.Config{Legs: []string{"customers"}, PollInterval: 10 * time.Millisecond}, storetest.Logger(t))
	require.NoError(t, err)
	return q
}

func enqueue(t *testing.T, st store.Store, q *queue.Queue, id string, commit bool) {
	t.Helper()
	err := st.InTx(context.Background(), func(tx store.Tx) error {
		if err := q.EnqueueTx(context.Background(), tx, []engine.Batch{{Leg: "customers", Attempt: 1, Records: []model.Record{{Entity: model.Account, ID: id}}}}, time.Time{}); err != nil {
			return err
		}
		if !commit {
			return errors.New("roll back")
		}
		return nil
	})
	if commit {
		require.NoError(t, err)
	}
}

func TestQueue_SQLiteOneProcess(t *testing.T) {
	t.Parallel()
	path := t.TempDir() + "/concord.db"
	open := func() store.Store {
		st, err := sqlitestore.Open(context.Background(), path, storetest.Logger(t))
		require.NoError(t, err)
		t.Cleanup(func() { _ = st.Close() })
		return st
	}
	st1, st2 := open(), open()
	q1, q2 := newQueue(t, st1), newQueue(t, st2)
	require.NoError(t, q1.Start(context.Background(), &recorder{}))
	err := q2.Start(context.Background(), &recorder{})
	require.ErrorIs(t, err, queue.ErrBusy, "a second process must not rescue and run the first one's jobs")
	require.NoError(t, q1.Stop(context.Background()))
	require.NoError(t, q2.Start(context.Background(), &recorder{}), "free once the first stops")
	require.NoError(t, q2.Stop(context.Background()))
}

// TestQueue_RolledBackPayload: SQLite hands a rolled-back payload's id out again;
// the worker must run the committed batch, not the rolled-back one.
func TestQueue_RolledBackPayload(t *testing.T) {
	t.Parallel()
	st, err := sqlitestore.Open(context.Background(), t.TempDir()+"/concord.db", storetest.Logger(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	q := newQueue(t, st)
	enqueue(t, st, q, "rolled-back", false)
	enqueue(t, st, q, "committed", true)
	rec := &recorder{}
	require.NoError(t, q.Start(context.Background(), rec))
	defer q.Stop(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, q.Drain(ctx, 5*time.Millisecond))
	require.Equal(t, []string{"committed"}, rec.seen())
}

// TestQueue_PostgresLegSerialised: two nodes on one PostgreSQL store never run
// two batches of the same leg at once.
func TestQueue_PostgresLegSerialised(t *testing.T) {
	t.Parallel()
	dsn := storetest.PostgresSchema(t, storetest.PostgresURL(t))
	open := func() store.Store {
		st, err := pgstore.Open(context.Background(), dsn, storetest.Logger(t))
		require.NoError(t, err)
		t.Cleanup(func() { _ = st.Close() })
		return st
	}
	st1, st2 := open(), open()
	q1, q2 := newQueue(t, st1), newQueue(t, st2)
	for _, id := range []string{"a", "b", "c", "d", "e", "f"} {
		enqueue(t, st1, q1, id, true)
	}
	r1, r2 := &recorder{delay: 50 * time.Millisecond}, &recorder{delay: 50 * time.Millisecond}
	var running atomic.Int32
	var peak atomic.Int32
	track := func(r *recorder) *sharedRecorder { return &sharedRecorder{r: r, running: &running, peak: &peak} }
	require.NoError(t, q1.Start(context.Background(), track(r1)))
	defer q1.Stop(context.Background())
	require.NoError(t, q2.Start(context.Background(), track(r2)))
	defer q2.Stop(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, q1.Drain(ctx, 5*time.Millisecond))
	require.Len(t, append(r1.seen(), r2.seen()...), 6)
	require.Equal(t, int32(1), peak.Load(), "batches of one leg ran concurrently on two nodes")
}

// sharedRecorder counts concurrency across two nodes' processors.
type sharedRecorder struct {
	r       *recorder
	running *atomic.Int32
	peak    *atomic.Int32
}

func (s *sharedRecorder) Process(ctx context.Context, b engine.Batch, opt engine.ProcessOptions) ([]engine.Outcome, error) {
	n := s.running.Add(1)
	defer s.running.Add(-1)
	for {
		p := s.peak.Load()
		if n <= p || s.peak.CompareAndSwap(p, n) {
			break
		}
	}
	return s.r.Process(ctx, b, opt)
}

func (s *sharedRecorder) Bury(ctx context.Context, b engine.Batch, reason string, attempts int) error {
	return s.r.Bury(ctx, b, reason, attempts)
}

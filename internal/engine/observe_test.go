package engine_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
)

type recordingObserver struct {
	mu     sync.Mutex
	polls  []engine.PollReport
	pieces []engine.PieceReport
	failed []engine.BatchFailure
}

func (o *recordingObserver) Polled(r engine.PollReport) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.polls = append(o.polls, r)
}

func (o *recordingObserver) Recorded(r engine.PieceReport) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.pieces = append(o.pieces, r)
}

func (o *recordingObserver) BatchFailed(r engine.BatchFailure) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.failed = append(o.failed, r)
}

// TestEngine_Observer: every poll, recorded piece and failed batch is told,
// with the outcome counts, the failures and their reasons, and the oldest
// applied change.
func TestEngine_Observer(t *testing.T) {
	t.Parallel()
	obs := &recordingObserver{}
	var down atomic.Bool
	b := setupWith(t, func(p *engine.Params) {
		p.Observer = engine.Observers{obs}
		p.Connectors["erp"] = readDown{Connector: p.Connectors["erp"], down: &down}
	})
	good := b.crm.Put(account("c1", "Good One", "ok@example.com"))
	b.crm.Put(account("c2", "Bad Mail", "not-an-address"))
	outs := b.run(t, "customers")
	require.Len(t, outs, 2)

	require.NotEmpty(t, obs.polls)
	require.Equal(t, 2, obs.polls[0].Read)
	require.Equal(t, "customers", obs.polls[0].Flow)
	require.NoError(t, obs.polls[0].Err)
	require.Len(t, obs.pieces, 1)
	p := obs.pieces[0]
	require.Equal(t, map[store.Outcome]int{store.OutcomeCreated: 1, store.OutcomeQuarantined: 1}, p.Outcomes)
	require.Len(t, p.Failures, 1)
	require.Equal(t, "c2", p.Failures[0].SourceID)
	require.Equal(t, "email", p.Failures[0].Field)
	require.True(t, p.Oldest.Equal(good.UpdatedAt), "oldest applied change %v, want %v", p.Oldest, good.UpdatedAt)
	require.Positive(t, p.Write)

	// A write refused for a passing reason is recorded as retrying, with why.
	b.erp.SetWriteErr(errors.New("connection refused"))
	b.crm.Put(account("c3", "Third", "c3@example.com"))
	_, err := b.eng.Poll(b.ctx, "customers")
	require.NoError(t, err)
	for _, batch := range b.queue.take() {
		_, err := b.eng.Process(b.ctx, batch, engine.ProcessOptions{})
		require.NoError(t, err)
	}
	last := obs.pieces[len(obs.pieces)-1]
	require.Equal(t, map[store.Outcome]int{store.OutcomeRetrying: 1}, last.Outcomes)
	require.Contains(t, last.Failures[0].Reason, "connection refused")
	b.erp.SetWriteErr(nil)

	// A target that cannot even be read fails the batch as a whole.
	down.Store(true)
	b.crm.Put(account("c4", "Fourth", "c4@example.com"))
	_, err = b.eng.Poll(b.ctx, "customers")
	require.NoError(t, err)
	for _, batch := range b.queue.take() {
		_, err := b.eng.Process(b.ctx, batch, engine.ProcessOptions{})
		require.Error(t, err)
	}
	require.Len(t, obs.failed, 2, "c3's retry and c4's batch")
	for _, f := range obs.failed {
		require.Equal(t, "customers", f.Flow)
		require.Equal(t, 1, f.Records)
		require.ErrorContains(t, f.Err, "erp is down")
	}
}

// readDown is a connector whose reads fail while down is set.
type readDown struct {
	connector.Connector
	down *atomic.Bool
}

func (c readDown) Get(ctx context.Context, e model.Entity, ids []string) (map[string]model.Record, error) {
	if c.down.Load() {
		return nil, errors.New("erp is down")
	}
	return c.Connector.Get(ctx, e, ids)
}

func (c readDown) Lookup(ctx context.Context, e model.Entity, keys []string) (map[string]model.Record, error) {
	if c.down.Load() {
		return nil, errors.New("erp is down")
	}
	return c.Connector.Lookup(ctx, e, keys)
}

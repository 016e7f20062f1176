package engine_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
)

// upsertTarget is a memory target whose creates are upserts by link key, as
// HubSpot's batch/upsert is: it says so (connector.CreateUpserter), reports
// Existed for a create that found its link key, and counts the engine's
// lookups.
type upsertTarget struct {
	connector.Connector
	lookups atomic.Int64
}

func (u *upsertTarget) CreatesUpsert(model.Entity) bool { return true }

func (u *upsertTarget) Lookup(ctx context.Context, e model.Entity, keys []string) (map[string]model.Record, error) {
	u.lookups.Add(1)
	return u.Connector.Lookup(ctx, e, keys)
}

func (u *upsertTarget) Write(ctx context.Context, e model.Entity, ops []connector.Op) ([]connector.Result, error) {
	var keys []string
	for _, op := range ops {
		if op.Kind == connector.OpCreate {
			keys = append(keys, op.LinkKey)
		}
	}
	found, err := u.Connector.Lookup(ctx, e, keys) // the upsert's own answer, not the engine's lookup
	if err != nil {
		return nil, err
	}
	res, err := u.Connector.Write(ctx, e, ops)
	for i, op := range ops {
		if _, ok := found[op.LinkKey]; ok && op.Kind == connector.OpCreate && err == nil && res[i].Err == nil {
			res[i].Existed = true
		}
	}
	return res, err
}

// TestEngine_UpsertCreates: a leg that only creates, into a target whose
// creates are upserts by link key, writes without looking up first, and still
// never duplicates: the records an earlier attempt created (killed before it
// recorded) are updated and recorded as created, adopted. A target record
// already paired with another source record is refused, not taken over in
// the links.
func TestEngine_UpsertCreates(t *testing.T) {
	t.Parallel()
	leg := forwardLeg()
	leg.Unlinked = engine.UnlinkedCreate
	var target *upsertTarget
	b := setupWith(t, func(p *engine.Params) {
		target = &upsertTarget{Connector: p.Connectors["erp"]}
		p.Connectors["erp"] = target
	}, leg)
	for i := range 10 {
		b.crm.Put(account(fmt.Sprintf("c%d", i), fmt.Sprintf("Company %d", i), ""))
	}
	// An earlier attempt created c0..c5 in the target and died before recording.
	var ops []connector.Op
	for i := range 6 {
		ops = append(ops, connector.Op{Kind: connector.OpCreate, LinkKey: fmt.Sprintf("c%d", i), Fields: model.Fields{"name": model.Text(fmt.Sprintf("Company %d", i))}})
	}
	_, err := b.erp.Write(b.ctx, model.Account, ops)
	require.NoError(t, err)

	outs := b.run(t, "customers")
	require.Equal(t, map[store.Outcome]int{store.OutcomeCreated: 10}, countOutcomes(outs))
	require.Zero(t, target.lookups.Load(), "no lookup before the upserts")
	require.Equal(t, 10, b.erp.Count(model.Account), "no duplicate of the 6 records the earlier attempt made")
	adopted := 0
	for _, o := range outs {
		ev, err := b.st.GetEvent(b.ctx, o.EventID)
		require.NoError(t, err)
		if strings.Contains(string(ev.Plan), `"adopted":true`) {
			adopted++
		}
	}
	require.Equal(t, 6, adopted, "the records the earlier attempt made are recorded as adopted")
}

// TestEngine_UpsertCreates_TakenRefused: when the upsert lands on a target
// record already paired with another source record (its link key edited by
// hand to this record's id), the record is refused with the reason and the
// links are not moved: two source records never share one target record.
func TestEngine_UpsertCreates_TakenRefused(t *testing.T) {
	t.Parallel()
	leg := forwardLeg()
	leg.Unlinked = engine.UnlinkedCreate
	b := setupWith(t, func(p *engine.Params) {
		p.Connectors["erp"] = &upsertTarget{Connector: p.Connectors["erp"]}
	}, leg)
	b.crm.Put(account("s1", "First", ""))
	require.Equal(t, map[store.Outcome]int{store.OutcomeCreated: 1}, countOutcomes(b.run(t, "customers")))
	t1 := byLinkKey(t, b.erp, "s1")

	// Someone re-keys the target record to another source id.
	t1.LinkKey = "s2"
	b.erp.Put(t1)
	b.crm.Put(account("s2", "Second", ""))
	outs := b.run(t, "customers")
	require.Equal(t, map[store.Outcome]int{store.OutcomeFailed: 1}, countOutcomes(outs))
	require.Contains(t, outs[0].Reason, "already paired with crm record s1")
	links, err := b.st.GetLinks(b.ctx, &store.GetLinksParams{System: "erp", Entity: model.Account, ExternalIDs: []string{t1.ID}})
	require.NoError(t, err)
	src, err := b.st.GetLinks(b.ctx, &store.GetLinksParams{System: "crm", Entity: model.Account, ExternalIDs: []string{"s1", "s2"}})
	require.NoError(t, err)
	require.Equal(t, src["s1"].ConcordID, links[t1.ID].ConcordID, "the target record stays paired with s1")
	require.NotEqual(t, src["s1"].ConcordID, src["s2"].ConcordID)
}

package reconcile_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/reconcile"
)

func TestFix(t *testing.T) {
	t.Parallel()

	// drifted is the world with the ERP's copy of a CRM-owned name and the
	// CRM's copy of an ERP-owned customer number edited by hand.
	drifted := func(t *testing.T) (*testBundle, []reconcile.Drift, model.Record) {
		t.Helper()
		b := setup(t)
		world(t, b)
		e1 := edit(t, b.erp, b.erpOf(t, model.Account, "c1"), model.Fields{"name": model.Text("Alfreds Futterkiste GmbH")})
		edit(t, b.crm, model.Record{Entity: model.Account, ID: "c2"}, model.Fields{"customer_number": model.Text("K-99")})
		drift, _, _, err := reconcile.Records(b.ctx, b.src)
		require.NoError(t, err)
		require.Len(t, drift, 2)
		return b, drift, e1
	}

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b, drift, e1 := drifted(t)
		e2 := b.erpOf(t, model.Account, "c2")
		// Drift --fix may not correct (newest_wins kept the other side's) is
		// left alone.
		drift = append(drift, reconcile.Drift{Flow: "customers", Entity: "account", Field: "email", Owner: "crm", OwnerID: "c3", Other: "erp", OtherID: "x", Fixable: false})

		plans, err := reconcile.PlanFix(b.ctx, b.src, b.eng, drift)
		require.NoError(t, err)
		require.Len(t, plans, 2)
		byLeg := map[string]*engine.RecordPlan{}
		for _, p := range plans {
			byLeg[p.Leg] = p
		}
		fwd := byLeg["customers"]
		require.Equal(t, engine.ActionUpdate, fwd.Action)
		require.Equal(t, "c1", fwd.Source.ID)
		require.Equal(t, e1.ID, fwd.TargetID)
		require.Equal(t, []engine.Change{{Field: "name", From: model.Text("Alfreds Futterkiste GmbH"), To: model.Text("Alfreds Futterkiste")}}, fwd.Changes)
		rev := byLeg["customers:reverse"]
		require.Equal(t, engine.ActionUpdate, rev.Action)
		require.Equal(t, e2.ID, rev.Source.ID)
		require.Equal(t, "c2", rev.TargetID)
		require.Equal(t, []engine.Change{{Field: "customer_number", From: model.Text("K-99"), To: model.Text("K-2")}}, rev.Changes)
		require.Empty(t, b.queue.take(), "a plan queues nothing")
		again, _, _, err := reconcile.Records(b.ctx, b.src)
		require.NoError(t, err)
		require.Len(t, again, 2, "a plan writes nothing")

		n, err := reconcile.Fix(b.ctx, b.src, b.queue, drift)
		require.NoError(t, err)
		require.Equal(t, 2, n)
		batches := b.queue.take()
		require.Equal(t, []engine.Batch{
			{Leg: "customers", Fetch: []string{"c1"}, Attempt: 1, Force: true, Live: true},
			{Leg: "customers:reverse", Fetch: []string{e2.ID}, Attempt: 1, Force: true, Live: true},
		}, batches)
		b.queue.batches = batches
		b.drain(t)

		after, unlinked, _, err := reconcile.Records(b.ctx, b.src)
		require.NoError(t, err)
		require.Empty(t, after, "the owner's values are back")
		require.Empty(t, unlinked)
		// The owners kept their values: nothing was written into them.
		got, err := b.crm.Get(b.ctx, model.Account, []string{"c1"})
		require.NoError(t, err)
		require.Equal(t, "Alfreds Futterkiste", got["c1"].Fields["name"].Str)
		require.Equal(t, "K-2", b.erpOf(t, model.Account, "c2").Fields["customer_number"].Str)
		require.Equal(t, "K-2", must(b.crm.Get(b.ctx, model.Account, []string{"c2"}))["c2"].Fields["customer_number"].Str)
	})

	t.Run("ErrNeverIntoTheOwner", func(t *testing.T) {
		t.Parallel()
		b, _, e1 := drifted(t)
		// A drift entry that names the wrong owner would write the CRM's name
		// from the ERP: no flow carries it that way, so nothing is queued.
		wrong := []reconcile.Drift{{Flow: "customers", Entity: "account", Field: "name", Owner: "erp", OwnerID: e1.ID, Other: "crm", OtherID: "c1", Fixable: true}}
		_, err := reconcile.Fix(b.ctx, b.src, b.queue, wrong)
		require.ErrorContains(t, err, "no flow customers carries it from erp to crm")
		require.Empty(t, b.queue.take())
		_, err = reconcile.PlanFix(b.ctx, b.src, b.eng, wrong)
		require.Error(t, err)

		// Even a forced batch on the leg that reads the ERP never writes the
		// name into the CRM: that leg does not carry it, and the engine's
		// guard refuses a leg that would.
		b.queue.batches = []engine.Batch{{Leg: "customers:reverse", Fetch: []string{e1.ID}, Attempt: 1, Force: true}}
		b.drain(t)
		got := must(b.crm.Get(b.ctx, model.Account, []string{"c1"}))
		require.Equal(t, "Alfreds Futterkiste", got["c1"].Fields["name"].Str)
		legs := customerLegs("customers", "customers")
		legs[1].Fields = append(legs[1].Fields, "name")
		legs[1].Defs["name"] = model.FieldDef{Name: "name", Type: model.TypeText}
		_, err = engine.New(engine.Params{Store: b.st, Queue: b.queue, Legs: legs, Connectors: b.src.Conns})
		var oe *engine.OwnershipError
		require.ErrorAs(t, err, &oe)
	})

	t.Run("NothingFixable", func(t *testing.T) {
		t.Parallel()
		b, drift, _ := drifted(t)
		for i := range drift {
			drift[i].Fixable = false
		}
		n, err := reconcile.Fix(b.ctx, b.src, b.queue, drift)
		require.NoError(t, err)
		require.Zero(t, n)
		require.Empty(t, b.queue.take())
		plans, err := reconcile.PlanFix(b.ctx, b.src, b.eng, drift)
		require.NoError(t, err)
		require.Empty(t, plans)
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

package alert_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/alert"
	"github.com/concord-sync/concord/internal/config"
)

func TestEvaluator_Drift(t *testing.T) {
	t.Parallel()
	customers := alert.Subject{Kind: alert.KindFlow, Name: "customers"}
	handoffs := alert.Subject{Kind: alert.KindOrderToCash, Name: "won_deal_without_order"}
	found := alert.Reconciled{At: t0, Findings: []alert.Finding{
		{Subject: customers, Count: 2, Summary: "flow customers: 2 fields drifted, the ERP is wrong"},
		{Subject: handoffs, Count: 1, Summary: "1 won deal without an ERP order"},
	}}

	t.Run("FiresAndResolves", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		require.Empty(t, b.eval(t, healthy(b.now)), "nothing before a reconcile")
		b.e.Reconciled(found)
		got := b.eval(t, healthy(b.now))
		require.Len(t, got, 2)
		for _, n := range got {
			require.Equal(t, alert.RuleDrift, n.Rule)
			require.Equal(t, alert.Firing, n.State)
			require.Contains(t, n.Action, "concord reconcile")
		}
		require.Equal(t, customers, got[0].Subject)
		require.Contains(t, got[0].Summary, "2 fields drifted")

		b.e.Reconciled(alert.Reconciled{At: t0})
		got = b.eval(t, healthy(b.now))
		require.Len(t, got, 2)
		require.Equal(t, alert.Resolved, got[0].State)
	})

	t.Run("Over", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(c *config.Alerts) { c.Drift.Over = 2 })
		b.e.Reconciled(found)
		got := b.eval(t, healthy(b.now))
		require.Len(t, got, 1, "one handoff is under over: 2")
		require.Equal(t, customers, got[0].Subject)
	})

	t.Run("Off", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(c *config.Alerts) { c.Drift.Enabled = false })
		b.e.Reconciled(found)
		require.Empty(t, b.eval(t, healthy(b.now)))
	})
}

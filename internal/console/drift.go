package console

import (
	"time"

	"github.com/concord-sync/concord/internal/reconcile"
)

// DriftView is the last reconcile report serve made, or why there is none.
type DriftView struct {
	// Ran is false when serve has not reconciled (reconcile.every unset, or
	// the first run not finished).
	Ran      bool                 `json:"ran"`
	Every    string               `json:"every,omitempty"`
	At       time.Time            `json:"at,omitzero"`
	Drift    []reconcile.Drift    `json:"drift"`
	Unlinked []reconcile.Unlinked `json:"unlinked"`
	Handoffs []reconcile.Handoff  `json:"handoffs"`
	Months   []reconcile.Month    `json:"months"`
	Compared map[string]int       `json:"compared,omitempty"`
	Notes    []string             `json:"notes,omitempty"`
}

func (c *Console) drift() DriftView {
	v := DriftView{Drift: []reconcile.Drift{}, Unlinked: []reconcile.Unlinked{}, Handoffs: []reconcile.Handoff{}, Months: []reconcile.Month{}}
	if e := c.o.Config.Reconcile.Every; e > 0 {
		v.Every = e.String()
	}
	if c.o.Reconcile == nil {
		return v
	}
	r := c.o.Reconcile()
	if r == nil {
		return v
	}
	v.Ran, v.At, v.Compared, v.Notes = true, r.At, r.Compared, r.Notes
	v.Drift = append(v.Drift, r.Drift...)
	v.Unlinked = append(v.Unlinked, r.Unlinked...)
	v.Handoffs = append(v.Handoffs, r.Handoffs...)
	v.Months = append(v.Months, r.Months...)
	return v
}

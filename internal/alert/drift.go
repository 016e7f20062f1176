package alert

import "time"

// RuleDrift is the rule fed by the scheduled reconcile (reconcile.every):
// the two systems disagree.
const RuleDrift = "drift"

// KindOrderToCash is the Subject kind of the order-to-cash findings of a
// reconcile; its name is the finding's kind (won_deal_without_order, ...,
// or months).
const KindOrderToCash = "order_to_cash"

// Reconciled is what one reconcile found, counted per subject: the drifted
// fields and unlinked records of a flow, the handoffs of one kind, the months
// with an unexplained variance.
type Reconciled struct {
	At       time.Time
	Findings []Finding
}

// Finding is one subject's count of findings and what to say about it.
type Finding struct {
	Subject Subject
	Count   int
	// Summary says what was found, with its numbers, in one line.
	Summary string
}

// Reconciled remembers the findings of the last reconcile; the drift rule
// fires at the next evaluation for each subject with at least
// alerts.rules.drift.over findings, and resolves once a reconcile no longer
// finds them. Safe for concurrent use.
func (e *Evaluator) Reconciled(r Reconciled) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.reconciled = &r
}

// driftConditions adds the drift rule's conditions. Called with e.mu held.
func (e *Evaluator) driftConditions(add func(rule string, s Subject, format string, args ...any)) {
	if !e.cfg.Drift.Enabled || e.reconciled == nil {
		return
	}
	for _, f := range e.reconciled.Findings {
		if f.Count >= max(e.cfg.Drift.Over, 1) {
			add(RuleDrift, f.Subject, "%s (reconcile at %s)", f.Summary, e.reconciled.At.UTC().Format(time.RFC3339))
		}
	}
}

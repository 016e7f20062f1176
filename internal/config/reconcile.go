package config

import (
	"strings"
	"time"
)

// Reconcile says when `concord serve` runs `concord reconcile` by itself.
// It is off by default: a run reads both systems in full.
type Reconcile struct {
	// Every is how often serve reconciles; zero: never.
	Every time.Duration
	// Months is how many months the scheduled report covers, the current
	// one included.
	Months int
	// Currency, when set, is the ISO 4217 currency the months are reported
	// in, converted with the ERP's rates (concord reconcile --currency and
	// the scheduled report); empty: per currency.
	Currency string
}

// DefaultReconcileMonths is the months a scheduled reconcile covers when
// reconcile.months is not set.
const DefaultReconcileMonths = 12

// DriftRule fires when the last scheduled reconcile found at least Over
// findings of one kind (drift of one flow, unlinked records of one flow,
// handoffs of one kind, months with an unexplained variance).
type DriftRule struct {
	Enabled bool
	Over    int
}

var reconcileSchema = object("When `concord serve` reconciles the two systems by itself (see docs/reconcile.md). Optional: off unless every is set.", map[string]*jsonSchema{
	"every":    duration("How often serve runs reconcile (reading both systems in full) and keeps the report at GET /reconcile; findings feed the drift alert rule. Default: never.", "24h"),
	"currency": currencySchema("The currency reconcile reports the months in (concord reconcile and the scheduled report; --currency overrides it), converted with the ERP's own exchange rates at each record's date. Not set: per currency, nothing converted."),
	"months":   positive("How many months the scheduled report's won vs invoiced comparison covers, the current month included.", DefaultReconcileMonths),
})

var driftRuleSchema = rule("The last scheduled reconcile (reconcile.every) found drift, unlinked records, missing handoffs or an unexplained variance.", map[string]*jsonSchema{
	"over": positive("The fewest findings of one kind that fire.", 1),
})

func (l *loader) reconcile(n *node) {
	m := l.object(n, "reconcile", reconcileSchema)
	r := &l.cfg.Reconcile
	if v, ok := l.duration(m["every"].v, "reconcile.every"); ok {
		if v < time.Minute {
			l.add(m["every"].v, "reconcile.every: %s is shorter than 1m; a run reads both systems in full", v)
		} else {
			r.Every = v
		}
	}
	if v, ok := l.integer(m["months"].v, "reconcile.months", 1); ok {
		r.Months = v
	}
	if e, ok := m["currency"]; ok {
		r.Currency, _ = l.currency(e.v, "reconcile.currency")
	}
}

// currencySchema is an ISO 4217 currency code setting.
func currencySchema(desc string) *jsonSchema {
	return &jsonSchema{Type: "string", Pattern: `^[A-Za-z]{3}$`, Examples: []any{"EUR"}, Description: desc}
}

// currency reads an ISO 4217 code, in upper case.
func (l *loader) currency(n *node, path string) (string, bool) {
	v, ok := l.str(n, path)
	if !ok {
		return "", false
	}
	if len(v) != 3 || strings.Trim(strings.ToUpper(v), "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
		l.add(n, "%s: %q is not an ISO 4217 currency code (such as EUR)", path, v)
		return "", false
	}
	return strings.ToUpper(v), true
}

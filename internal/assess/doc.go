// Package assess measures, read-only and before any flow is switched on, how
// much the gap between a CRM and an ERP costs: customers both systems hold
// (found by internal/match, never by exact name) and the fields that drifted
// between them, won deals with no ERP order, invoices with no CRM deal,
// duplicates inside each system, values cleaning would quarantine, and the
// delay between a deal won and its order. Each measure becomes an estimated
// weekly cost under stated, adjustable Assumptions; the pains are ranked and
// the first flow to switch on is recommended with its minimal field list and
// a config snippet.
//
// Assess does no I/O: it works on an Input of records read in full from both
// systems (ReadAll pages through a connector's bulk read). It never uses
// Concord's store; ids one system holds of the other's records (a link column,
// a reference field) pair deals, orders and invoices when they exist, and
// matched customer, amount and date pair them otherwise. `concord assess`
// prints a Report as a table, JSON or HTML (internal/htmlreport); see
// docs/assess.md.
package assess

// Package reconcile finds where the two systems disagree, read-only, against
// the live systems: field drift on linked records (which side is wrong follows
// the config's ownership), records unlinked on either side (with candidate
// matches), order-to-cash handoffs that did not happen, and per month the CRM's
// won amount against the ERP's invoiced amount with the variance explained
// record by record. `concord reconcile` prints a Report.
package reconcile

import (
	"time"

	"github.com/shopspring/decimal"

	"github.com/concord-sync/concord/internal/match"
)

// Report is one reconciliation.
type Report struct {
	At       time.Time  `json:"at"`
	Drift    []Drift    `json:"drift"`
	Unlinked []Unlinked `json:"unlinked"`
	Handoffs []Handoff  `json:"handoffs"`
	Months   []Month    `json:"months"`
	// Compared counts the records compared per flow (linked pairs read on
	// both sides).
	Compared map[string]int `json:"compared"`
	// O2C counts what the order-to-cash checks read; nil when they did not
	// run.
	O2C *O2C `json:"order_to_cash,omitempty"`
	// Notes say what could not be checked and why (a field the config does
	// not map, amounts in several currencies without rates).
	Notes []string `json:"notes,omitempty"`
}

// Drift is one field of one linked pair whose values differ. The owner's
// value is right by the config's ownership; the other side drifted.
type Drift struct {
	Flow      string `json:"flow"`
	Entity    string `json:"entity"`
	ConcordID string `json:"concord_id"`
	Field     string `json:"field"`
	// Owner is the system that owns Field; Other the one that drifted.
	Owner      string `json:"owner"`
	OwnerID    string `json:"owner_id"`
	OwnerValue string `json:"owner_value"`
	Other      string `json:"other"`
	OtherID    string `json:"other_id"`
	OtherValue string `json:"other_value"`
	// Fixable is true when a flow carries Field from Owner to Other: --fix
	// can put the owner's value back.
	Fixable bool `json:"fixable"`
}

// Unlinked is a record of one system with no counterpart linked in the other.
type Unlinked struct {
	System string `json:"system"`
	Entity string `json:"entity"`
	ID     string `json:"id"`
	Name   string `json:"name"`
	// Other is the system it has no counterpart in; Candidates are its likely
	// counterparts there, best first (empty when matching finds none).
	Other      string            `json:"other"`
	Candidates []match.Candidate `json:"candidates,omitempty"`
	// LinkedTo is set when a stored link pairs the record with a record of
	// Other that Other no longer has: that record's id there.
	LinkedTo string `json:"linked_to,omitempty"`
}

// Handoff kinds.
const (
	WonWithoutOrder      = "won_deal_without_order"
	OrderWithoutInvoice  = "order_without_invoice"
	PaidNotOnDeal        = "paid_invoice_not_on_deal"
	InvoiceWithoutDeal   = "invoice_without_deal"
	AmountDiffersFromWon = "order_amount_differs_from_deal"
	UnpaidShownPaid      = "unpaid_invoice_shown_paid"
)

// Handoff is an order-to-cash step that did not happen (or not fully).
type Handoff struct {
	Kind      string          `json:"kind"`
	DealID    string          `json:"deal_id,omitempty"`
	OrderID   string          `json:"order_id,omitempty"`
	InvoiceID string          `json:"invoice_id,omitempty"`
	Account   string          `json:"account,omitempty"`
	Amount    decimal.Decimal `json:"amount"`
	Currency  string          `json:"currency,omitempty"`
	// Since is when the step should have happened (the deal's close date,
	// the order's date, the payment's date).
	Since  time.Time `json:"since,omitzero"`
	Detail string    `json:"detail"`
}

// Month compares one month's CRM won amount with the ERP's invoiced amount,
// in one currency.
type Month struct {
	Month       string          `json:"month"` // 2026-03
	Currency    string          `json:"currency"`
	CRMWon      decimal.Decimal `json:"crm_won"`
	ERPInvoiced decimal.Decimal `json:"erp_invoiced"`
	// Variance is ERPInvoiced - CRMWon; Explained sums to Variance -
	// Unexplained.
	Variance    decimal.Decimal `json:"variance"`
	Explained   []Explanation   `json:"explained"`
	Unexplained decimal.Decimal `json:"unexplained"`
	// Rates name the ERP rates the month's amounts were converted at (with
	// a target currency; empty when nothing was converted).
	Rates []string `json:"rates,omitempty"`
}

// Explanation kinds.
const (
	Timing         = "timing"          // won in one month, invoiced in another
	Discount       = "discount"        // lines discounted below the deal amount
	Tax            = "tax"             // the invoice total includes taxes the deal amount does not
	CreditNote     = "credit_note"     // a credit note reduced what was invoiced
	MissingHandoff = "missing_handoff" // won, never ordered or never invoiced
	NotFromCRM     = "not_from_crm"    // invoiced without a CRM deal
	Rounding       = "rounding"        // line rounding
	ExchangeRate   = "exchange_rate"   // converted at the rates of different dates
)

// Explanation is one record's share of a month's variance.
type Explanation struct {
	Kind      string          `json:"kind"`
	Amount    decimal.Decimal `json:"amount"`
	DealID    string          `json:"deal_id,omitempty"`
	InvoiceID string          `json:"invoice_id,omitempty"`
	Detail    string          `json:"detail"`
	// Rate names the ERP rate Amount was converted at into the month's
	// currency; empty when it was not converted.
	Rate string `json:"rate,omitempty"`
}

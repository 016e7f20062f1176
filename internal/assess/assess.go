package assess

import (
	"time"

	"github.com/shopspring/decimal"

	"github.com/concord-sync/concord/internal/match"
	"github.com/concord-sync/concord/internal/model"
)

// System is one system as read for the assessment.
type System struct {
	// Name is the system's name in the config (crm, erp).
	Name string
	// Fields are the canonical fields the system maps, per entity; an entity
	// the system does not map is absent.
	Fields map[model.Entity][]string
	// Records are every live (not archived) record the system holds, per
	// entity.
	Records map[model.Entity][]model.Record
	// DefaultCountry reads phone numbers of records without a country
	// (the system's default_country); may be empty.
	DefaultCountry string
}

// Maps reports whether s maps field of entity e.
func (s *System) Maps(e model.Entity, field string) bool {
	for _, f := range s.Fields[e] {
		if f == field {
			return true
		}
	}
	return false
}

// Input is what Assess compares: the CRM and the ERP read in full, and what
// the config says about fields.
type Input struct {
	CRM, ERP System
	// Rules are the match rules per entity (the config's match blocks, else
	// match.DefaultRules); an entity without rules is not matched.
	Rules map[model.Entity]match.Rules
	// Clean are the config's clean rules per entity and field.
	Clean map[model.Entity]map[string][]string
	// Owners are the config's field owners per entity (system names).
	Owners map[model.Entity]map[string]string
	// Required are the config's required fields per entity.
	Required map[model.Entity]map[string]bool
	// Now is when the systems were read.
	Now time.Time
}

// Assumptions turn the measures into a weekly cost. Every one is printed
// with the report and can be changed (flags of concord assess).
type Assumptions struct {
	// MinutesPerEntry is the time one manual re-entry or correction of a
	// record takes (typing an order, fixing a value, putting a drifted field
	// back).
	MinutesPerEntry decimal.Decimal `json:"minutes_per_entry"`
	// MinutesPerInvestigation is the time it takes to chase one broken
	// handoff or merge one duplicate (find out why a won deal has no order,
	// which deal an invoice belongs to, which copy of a customer is right).
	MinutesPerInvestigation decimal.Decimal `json:"minutes_per_investigation"`
	// HourlyCost is the loaded cost of one hour of the people doing it, in
	// Currency.
	HourlyCost decimal.Decimal `json:"hourly_cost"`
	// Currency is the currency of HourlyCost and of every cost.
	Currency string `json:"currency"`
	// CapitalRate is the yearly cost of money (0.08 = 8%) a delayed order
	// costs on its amount for the days of delay.
	CapitalRate decimal.Decimal `json:"capital_rate"`
	// Weeks is the period the records accumulated over; zero measures it
	// from the won deals' close dates (DefaultWeeks when they have none).
	Weeks decimal.Decimal `json:"weeks"`
	// AmountTolerance is the relative difference (0.01 = 1%) within which a
	// deal's amount and an order's or invoice's total are the same amount
	// when pairing without a reference.
	AmountTolerance decimal.Decimal `json:"amount_tolerance"`
	// WindowDays is how many days after a deal's close date its order (or
	// invoice) may be dated when pairing without a reference; it may also
	// be dated up to WindowDays/10 days before.
	WindowDays int `json:"window_days"`
}

// DefaultWeeks is the period assumed when the won deals carry no close date.
const DefaultWeeks = 52

// DefaultAssumptions are the assumptions concord assess starts from.
func DefaultAssumptions() Assumptions {
	return Assumptions{
		MinutesPerEntry:         decimal.NewFromInt(4),
		MinutesPerInvestigation: decimal.NewFromInt(15),
		HourlyCost:              decimal.NewFromInt(45),
		Currency:                "USD",
		CapitalRate:             decimal.RequireFromString("0.08"),
		AmountTolerance:         decimal.RequireFromString("0.01"),
		WindowDays:              30,
	}
}

// Report is one assessment.
type Report struct {
	At  time.Time `json:"at"`
	CRM string    `json:"crm"`
	ERP string    `json:"erp"`
	// Weeks is the period the counts are spread over, and WeeksFrom says
	// where it comes from.
	Weeks       decimal.Decimal `json:"weeks"`
	WeeksFrom   string          `json:"weeks_from"`
	Assumptions Assumptions     `json:"assumptions"`

	Customers  Customers      `json:"customers"`
	Drift      []FieldDrift   `json:"drift"`
	Deals      Deals          `json:"deals"`
	Invoices   Invoices       `json:"invoices"`
	Duplicates []Duplicates   `json:"duplicates"`
	Quality    []Quality      `json:"quality"`
	Delay      *Delay         `json:"delay,omitempty"`
	Pains      []Pain         `json:"pains"`
	Top        []Pain         `json:"top"`
	Recommend  *Recommend     `json:"recommendation,omitempty"`
	Notes      []string       `json:"notes"`
	Counts     map[string]int `json:"records"`
}

// Customers are the customers (accounts) each system holds and those both
// hold, matched by internal/match.
type Customers struct {
	CRM int `json:"crm"`
	ERP int `json:"erp"`
	// Matched pairs scored at or above the rules' auto_link; Likely between
	// review and auto_link (a person would decide). Pairs are one to one.
	Matched int `json:"matched"`
	Likely  int `json:"likely"`
	OnlyCRM int `json:"only_crm"`
	OnlyERP int `json:"only_erp"`
	// Pairs are the matched and likely pairs, best score first.
	Pairs []CustomerPair `json:"pairs"`
}

// CustomerPair is one customer both systems hold.
type CustomerPair struct {
	CRMID   string  `json:"crm_id"`
	ERPID   string  `json:"erp_id"`
	CRMName string  `json:"crm_name"`
	ERPName string  `json:"erp_name"`
	Score   float64 `json:"score"`
	Key     string  `json:"key,omitempty"`
	Likely  bool    `json:"likely,omitempty"`
}

// FieldDrift is one field that differs, after cleaning, between customers
// both systems hold (matched and likely pairs).
type FieldDrift struct {
	Field string `json:"field"`
	// Owner is the system the config says owns the field ("" when none).
	Owner    string         `json:"owner,omitempty"`
	Pairs    int            `json:"pairs"`
	Examples []DriftExample `json:"examples"`
}

// DriftExample is one drifted pair.
type DriftExample struct {
	CRMID    string `json:"crm_id"`
	ERPID    string `json:"erp_id"`
	CRMValue string `json:"crm_value"`
	ERPValue string `json:"erp_value"`
}

// Deals are the CRM's won deals and their ERP orders.
type Deals struct {
	Won int `json:"won"`
	// ByReference were paired with an order through an id one system holds
	// of the other's record; ByMatch by matched customer, amount and date.
	ByReference int `json:"paired_by_reference"`
	ByMatch     int `json:"paired_by_match"`
	// Lines are the won deals' line items (re-keyed with the order).
	Lines int `json:"lines"`
	// WithoutOrder are the won deals no order was found for.
	WithoutOrder []Item `json:"without_order"`
	// Orders is how many orders the ERP holds; OrdersWithoutDeal of them
	// paired with no won deal.
	Orders            int `json:"orders"`
	OrdersWithoutDeal int `json:"orders_without_deal"`
}

// Invoices are the ERP's invoices and their CRM deals.
type Invoices struct {
	Total       int    `json:"total"`
	WithDeal    int    `json:"with_deal"`
	WithoutDeal []Item `json:"without_deal"`
}

// Item is one record of a list: a deal without order, an invoice without
// deal.
type Item struct {
	ID      string          `json:"id"`
	Name    string          `json:"name,omitempty"`
	Account string          `json:"account,omitempty"`
	Amount  decimal.Decimal `json:"amount"`
	// Currency is empty when the amount is unknown.
	Currency string    `json:"currency,omitempty"`
	Date     time.Time `json:"date,omitzero"`
}

// Duplicates are the clusters of likely duplicates of one entity inside one
// system (match.Within).
type Duplicates struct {
	System   string       `json:"system"`
	Entity   model.Entity `json:"entity"`
	Records  int          `json:"records"`
	Clusters int          `json:"clusters"`
	// Extra is the records beyond the first of each cluster: the ones to
	// merge away.
	Extra    int             `json:"extra"`
	Examples []match.Cluster `json:"examples"`
}

// Quality is one field of one system whose values cleaning would
// quarantine.
type Quality struct {
	System  string       `json:"system"`
	Entity  model.Entity `json:"entity"`
	Field   string       `json:"field"`
	Rules   []string     `json:"rules"`
	Checked int          `json:"checked"`
	Failed  int          `json:"failed"`
	// Examples are the first failures, with the rule's reason.
	Examples []QualityExample `json:"examples"`
}

// QualityExample is one value cleaning would quarantine.
type QualityExample struct {
	ID     string `json:"id"`
	Value  string `json:"value"`
	Reason string `json:"reason"`
}

// Delay is the time from a deal won (its close date) to its ERP order (the
// order date), over the pairs that carry both dates.
type Delay struct {
	Pairs      int     `json:"pairs"`
	MeanDays   float64 `json:"mean_days"`
	MedianDays float64 `json:"median_days"`
	P90Days    float64 `json:"p90_days"`
	MaxDays    float64 `json:"max_days"`
}

// maxExamples bounds the examples kept per measure.
const maxExamples = 5

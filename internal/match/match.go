package match

import (
	"github.com/concord-sync/concord/internal/model"
)

// Record is one record as the matcher sees it: canonical field name -> text.
// Values need not be cleaned; the matcher normalises them.
type Record struct {
	ID     string
	Fields map[string]string
}

// Rules say how records of one entity are compared.
type Rules struct {
	// Keys are fields whose normalised equal values identify the same thing
	// (vat, customer_number, sku, email, domain). A key match scores 1.
	Keys []string
	// Fields are the fields the similarity score compares.
	Fields []string
	// Weights are the similarity weights of Fields; a field missing here
	// weighs as in DefaultWeight.
	Weights map[string]float64
	// AutoLink is the score at or above which a pair is linked without review.
	AutoLink float64
	// Review is the score at or above which a pair waits for a person.
	Review float64
}

// Decision is what to do with a record given its best candidate.
type Decision string

// The decisions.
const (
	Create Decision = "create"
	Review Decision = "review"
	Link   Decision = "link"
)

// Decide returns the decision for a best candidate's score.
func (r Rules) Decide(score float64) Decision {
	switch {
	case score >= r.AutoLink:
		return Link
	case score >= r.Review:
		return Review
	}
	return Create
}

// DefaultRules returns the rules for an entity when the config sets none;
// ok is false for entities that are not matched (deals, orders, invoices:
// these are never created twice by hand).
func DefaultRules(e model.Entity) (r Rules, ok bool) {
	switch e {
	case model.Account:
		return Rules{Keys: []string{"vat", "customer_number", "domain"}, Fields: []string{"name", "street", "city", "zip", "country", "phone"}, AutoLink: 0.9, Review: 0.7}, true
	case model.Contact:
		return Rules{Keys: []string{"email"}, Fields: []string{"first_name", "last_name", "phone"}, AutoLink: 0.95, Review: 0.8}, true
	case model.Product:
		return Rules{Keys: []string{"sku"}, Fields: []string{"name"}, AutoLink: 0.92, Review: 0.8}, true
	}
	return Rules{}, false
}

// FieldScore is how one field compared.
type FieldScore struct {
	Field string  `json:"field"`
	A     string  `json:"a"`
	B     string  `json:"b"`
	Score float64 `json:"score"`
}

// Candidate is one possible counterpart of a record.
type Candidate struct {
	// ID is the candidate record's id.
	ID string `json:"id"`
	// Score is in [0,1].
	Score float64 `json:"score"`
	// Key names the deterministic key that matched, empty when the score is a
	// similarity.
	Key string `json:"key,omitempty"`
	// Fields are the fields that decided the score, most decisive first.
	Fields []FieldScore `json:"fields"`
}

// Compare scores a against b: 1 when a key of rules matches (and no strong
// key conflicts), else the weighted similarity of rules' fields present on
// both sides, lowered by conflicts. It is safe for concurrent use.
func Compare(rules Rules, a, b Record) Candidate {
	c := compile(rules)
	fa, fb := c.features(a), c.features(b)
	return c.candidate(fa, fb, c.score(fa, fb, false))
}

// Pair is a candidate pair inside one system.
type Pair struct {
	A string `json:"a"`
	Candidate
}

// Cluster is a group of records of one system that are likely the same thing.
type Cluster struct {
	IDs   []string `json:"ids"`
	Pairs []Pair   `json:"pairs"`
}

// DefaultWeight returns the similarity weight of a field whose rules set
// none: name 4, phone 2, street 1.5, city 1, zip 1, country 0.5, last_name
// 2.5, first_name 1.5, any other field 1.
func DefaultWeight(field string) float64 {
	if w, ok := defaultWeights[field]; ok {
		return w
	}
	return 1
}

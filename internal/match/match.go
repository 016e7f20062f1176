// Package match finds the same real-world thing in two systems (or twice in
// one): deterministic keys first (a VAT number, a customer number, a SKU, an
// e-mail, a web domain), then a similarity score over names, addresses and
// phones. It knows nothing of the engine or the store: it compares Records.
//
// A score is in [0,1]. Rules.Decide turns it into what the engine does with an
// unlinked record: link it (at or above AutoLink), ask a person (at or above
// Review), or create it.
package match

import (
	"slices"
	"strings"

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
		return Rules{Keys: []string{"vat", "customer_number", "domain"}, Fields: []string{"name", "street", "city", "zip", "country", "phone"}, AutoLink: 0.92, Review: 0.75}, true
	case model.Contact:
		return Rules{Keys: []string{"email"}, Fields: []string{"first_name", "last_name", "phone"}, AutoLink: 0.95, Review: 0.8}, true
	case model.Product:
		return Rules{Keys: []string{"sku"}, Fields: []string{"name"}, AutoLink: 0.95, Review: 0.8}, true
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

// Index holds one side's records for matching. It is not safe for concurrent
// use.
type Index struct {
	rules Rules
	recs  map[string]Record
}

// NewIndex returns an empty index for rules.
func NewIndex(rules Rules) *Index { return &Index{rules: rules, recs: map[string]Record{}} }

// Add adds r, replacing a record with the same ID.
func (ix *Index) Add(r Record) { ix.recs[r.ID] = r }

// Remove removes the record with id.
func (ix *Index) Remove(id string) { delete(ix.recs, id) }

// Len returns the number of records.
func (ix *Index) Len() int { return len(ix.recs) }

// Candidates returns up to n candidates for r, best first, skipping ids for
// which skip returns true (nil skips none). Candidates scoring below the
// rules' Review threshold are not returned.
func (ix *Index) Candidates(r Record, n int, skip func(id string) bool) []Candidate {
	var out []Candidate
	for _, c := range ix.recs {
		if skip != nil && skip(c.ID) {
			continue
		}
		cand := Compare(ix.rules, r, c)
		if cand.Score >= ix.rules.Review {
			out = append(out, cand)
		}
	}
	slices.SortFunc(out, func(a, b Candidate) int {
		if a.Score != b.Score {
			if a.Score > b.Score {
				return -1
			}
			return 1
		}
		return strings.Compare(a.ID, b.ID)
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// Compare scores a against b.
func Compare(rules Rules, a, b Record) Candidate {
	c := Candidate{ID: b.ID}
	for _, k := range rules.Keys {
		va, vb := norm(a.Fields[k]), norm(b.Fields[k])
		if va != "" && va == vb {
			c.Score, c.Key = 1, k
			c.Fields = []FieldScore{{Field: k, A: a.Fields[k], B: b.Fields[k], Score: 1}}
			return c
		}
	}
	var sum float64
	var n int
	for _, f := range rules.Fields {
		va, vb := norm(a.Fields[f]), norm(b.Fields[f])
		if va == "" || vb == "" {
			continue
		}
		s := 0.0
		if va == vb {
			s = 1
		}
		sum += s
		n++
		c.Fields = append(c.Fields, FieldScore{Field: f, A: a.Fields[f], B: b.Fields[f], Score: s})
	}
	if n > 0 {
		c.Score = sum / float64(n)
	}
	return c
}

func norm(s string) string {
	return strings.Join(strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127)
	}), " ")
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

// Within returns the clusters of likely duplicates among recs: records joined
// by a pair scoring at or above the rules' Review threshold.
func Within(rules Rules, recs []Record) []Cluster {
	ix := NewIndex(rules)
	for _, r := range recs {
		ix.Add(r)
	}
	parent := map[string]string{}
	var find func(string) string
	find = func(x string) string {
		if p, ok := parent[x]; ok && p != x {
			root := find(p)
			parent[x] = root
			return root
		}
		return x
	}
	var pairs []Pair
	for _, r := range recs {
		for _, c := range ix.Candidates(r, 5, func(id string) bool { return id <= r.ID }) {
			pairs = append(pairs, Pair{A: r.ID, Candidate: c})
			ra, rb := find(r.ID), find(c.ID)
			if ra != rb {
				parent[rb] = ra
			}
		}
	}
	byRoot := map[string]*Cluster{}
	var roots []string
	for _, p := range pairs {
		root := find(p.A)
		cl, ok := byRoot[root]
		if !ok {
			cl = &Cluster{}
			byRoot[root] = cl
			roots = append(roots, root)
		}
		cl.Pairs = append(cl.Pairs, p)
		for _, id := range []string{p.A, p.ID} {
			if !slices.Contains(cl.IDs, id) {
				cl.IDs = append(cl.IDs, id)
			}
		}
	}
	out := make([]Cluster, 0, len(roots))
	for _, root := range roots {
		cl := byRoot[root]
		slices.Sort(cl.IDs)
		out = append(out, *cl)
	}
	return out
}

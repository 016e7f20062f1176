package model

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"time"
)

// Fields maps canonical field names to values.
type Fields map[string]Value

// Get returns the value of name, or Null.
func (f Fields) Get(name string) Value { return f[name] }

// Names returns the field names in sorted order.
func (f Fields) Names() []string {
	names := make([]string, 0, len(f))
	for n := range f {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Equal reports whether f and g hold equal values for the union of their names;
// a missing field equals a null one.
func (f Fields) Equal(g Fields) bool {
	for n, v := range f {
		if !v.Equal(g[n]) {
			return false
		}
	}
	for n, v := range g {
		if _, ok := f[n]; !ok && !v.IsNull() {
			return false
		}
	}
	return true
}

// Only returns a copy of f restricted to names (missing names become Null).
func (f Fields) Only(names []string) Fields {
	out := make(Fields, len(names))
	for _, n := range names {
		out[n] = f[n]
	}
	return out
}

// String renders f as "a=1, b=x" in name order.
func (f Fields) String() string {
	var b strings.Builder
	for i, n := range f.Names() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(n)
		b.WriteByte('=')
		b.WriteString(f[n].String())
	}
	return b.String()
}

// Fingerprint returns a stable hash of the values of names in f. Two records with
// equal values for names have the same fingerprint whatever their other fields.
func (f Fields) Fingerprint(names []string) string {
	sorted := slices.Clone(names)
	slices.Sort(sorted)
	h := sha256.New()
	for _, n := range sorted {
		v := f[n]
		h.Write([]byte(n))
		h.Write([]byte{0})
		if !v.IsNull() {
			h.Write([]byte(v.Kind.String()))
			h.Write([]byte{0})
			h.Write([]byte(v.String()))
		}
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Record is one canonical record as read from, or written to, one system.
type Record struct {
	// Entity is the canonical entity type.
	Entity Entity `json:"entity"`
	// ID is the record's stable id in its own system (primary key, HubSpot id, Tryton id).
	ID string `json:"id"`
	// Version is the system's version token for optimistic concurrency (Tryton
	// _timestamp, a row version); empty when the system has none.
	Version string `json:"version,omitempty"`
	// UpdatedAt is when the system last changed the record; it orders changes, so an
	// older change never overwrites a newer one.
	UpdatedAt time.Time `json:"updated_at"`
	// LinkKey is the id of the paired record in the other system as stored in this
	// record (a link column, a unique property); empty when not linked there.
	LinkKey string `json:"link_key,omitempty"`
	// Archived is true when the system archived or deleted the record.
	Archived bool `json:"archived,omitempty"`
	// Fields holds the canonical field values.
	Fields Fields `json:"fields"`
}

// Clone returns a copy of r whose Fields map may be changed independently.
func (r Record) Clone() Record {
	out := r
	out.Fields = make(Fields, len(r.Fields))
	for k, v := range r.Fields {
		out.Fields[k] = v
	}
	return out
}

package trytonrpc

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/shopspring/decimal"
)

// Values are the field values of a create or write. decimal.Decimal, time.Time
// (sent as a naive UTC datetime), Date, time.Duration and []byte values are
// encoded in Tryton's special form.
type Values map[string]any

// Domain is a Tryton search domain: leaves like []any{"name", "=", "x"}, ANDed
// by default, or with "OR" as the first element.
type Domain []any

// Leaf returns the domain leaf [field, op, value].
func Leaf(field, op string, value any) []any { return []any{field, op, value} }

// Context is the Tryton context sent as the last parameter of every call.
type Context map[string]any

// Record is one record as read: field name to decoded value. Many2one fields
// are ids, x2many fields id lists, and dotted reads ("addresses.city") come back
// under the key "addresses." as a Record or a list of Records.
type Record map[string]any

// ID returns the record's id, 0 when absent.
func (r Record) ID() int64 { return r.Int("id") }

// Has reports whether the field is present and not null.
func (r Record) Has(name string) bool { return r[name] != nil }

// Int returns an integer field (a many2one id, for instance); 0 when null.
func (r Record) Int(name string) int64 {
	switch v := r[name].(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i
		}
		f, _ := v.Float64()
		return int64(f)
	case float64:
		return int64(v)
	case int64:
		return v
	case int:
		return int64(v)
	}
	return 0
}

// String returns a char, text or selection field; "" when null or false.
func (r Record) String(name string) string {
	switch v := r[name].(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	}
	return ""
}

// Bool returns a boolean field. SQLite backends send 1/0, PostgreSQL true/false;
// both are accepted. Null is false.
func (r Record) Bool(name string) bool {
	switch v := r[name].(type) {
	case bool:
		return v
	case json.Number:
		f, err := v.Float64()
		return err == nil && f != 0
	case float64:
		return v != 0
	case int64:
		return v != 0
	case int:
		return v != 0
	}
	return false
}

// Decimal returns a numeric field; ok is false when it is null. Float fields
// (stock quantities) are converted from their exact JSON text.
func (r Record) Decimal(name string) (d decimal.Decimal, ok bool) {
	switch v := r[name].(type) {
	case decimal.Decimal:
		return v, true
	case json.Number:
		d, err := decimal.NewFromString(v.String())
		return d, err == nil
	case float64:
		return decimal.NewFromFloat(v), true
	case string:
		d, err := decimal.NewFromString(v)
		return d, err == nil
	}
	return decimal.Decimal{}, false
}

// Time returns a datetime field in UTC; the zero time when null.
func (r Record) Time(name string) time.Time {
	if t, ok := r[name].(time.Time); ok {
		return t
	}
	return time.Time{}
}

// Date returns a date field; ok is false when it is null.
func (r Record) Date(name string) (Date, bool) {
	d, ok := r[name].(Date)
	return d, ok
}

// IDs returns an x2many field's ids.
func (r Record) IDs(name string) []int64 {
	list, _ := r[name].([]any)
	out := make([]int64, 0, len(list))
	for _, e := range list {
		out = append(out, Record{"v": e}.Int("v"))
	}
	return out
}

// Related returns the record read through a dotted many2one field: for
// "country.code" it is r.Related("country"). Nil when the relation is null.
func (r Record) Related(name string) Record {
	m, _ := r[name+"."].(map[string]any)
	return m
}

// RelatedList returns the records read through a dotted x2many field: for
// "addresses.city" it is r.RelatedList("addresses").
func (r Record) RelatedList(name string) []Record {
	list, _ := r[name+"."].([]any)
	out := make([]Record, 0, len(list))
	for _, e := range list {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// Timestamp returns the record's "_timestamp" (an opaque version string).
func (r Record) Timestamp() string {
	switch v := r["_timestamp"].(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	}
	return ""
}

// toRecords converts a decoded result that should be a list of records.
func toRecords(v any) ([]Record, error) {
	list, ok := v.([]any)
	if !ok {
		if v == nil {
			return nil, nil
		}
		return nil, fmt.Errorf("decode records: want a list, got %T", v)
	}
	out := make([]Record, len(list))
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("decode records: item %d is %T", i, e)
		}
		out[i] = m
	}
	return out, nil
}

// toIDs converts a decoded result that should be a list of ids.
func toIDs(v any) ([]int64, error) {
	list, ok := v.([]any)
	if !ok {
		if v == nil {
			return nil, nil
		}
		return nil, fmt.Errorf("decode ids: want a list, got %T", v)
	}
	out := make([]int64, len(list))
	for i, e := range list {
		n, ok := e.(json.Number)
		if !ok {
			return nil, fmt.Errorf("decode ids: item %d is %T", i, e)
		}
		id, err := strconv.ParseInt(n.String(), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("decode ids: %w", err)
		}
		out[i] = id
	}
	return out, nil
}

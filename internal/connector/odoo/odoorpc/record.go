package odoorpc

import (
	"encoding/json"
	"time"

	"github.com/shopspring/decimal"
)

// Odoo's wire formats for dates and datetimes (datetimes are UTC).
const (
	DateFormat     = "2006-01-02"
	DatetimeFormat = "2006-01-02 15:04:05"
)

// Values are the field values of a create or write. decimal.Decimal is sent as
// a JSON number, time.Time as a UTC datetime string, Date as a date string and
// Command as Odoo's x2many command triple.
type Values map[string]any

// Context is the Odoo context sent with a call (lang, tz, active_test,
// active_model, active_ids ...).
type Context map[string]any

// Domain is an Odoo search domain: leaves like []any{"name", "=", "x"}, ANDed
// by default, with the prefix operators "&", "|" and "!" in Polish notation.
type Domain []any

// Leaf returns the domain leaf [field, op, value].
func Leaf(field, op string, value any) []any { return []any{field, op, value} }

// Record is one record as read: field name to decoded value.
type Record map[string]any

// ID returns the record's id, 0 when absent.
func (r Record) ID() int64 { return r.Int("id") }

// Has reports whether the field is present and set: Odoo sends false for an
// empty field of any type except booleans, so Has is false for them too.
func (r Record) Has(name string) bool {
	v, ok := r[name]
	return ok && v != nil && v != false
}

// Int returns an integer field; for a many2one it returns the id. 0 when empty.
func (r Record) Int(name string) int64 {
	return toInt(r[name])
}

func toInt(v any) int64 {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return int64(f)
	case float64:
		return int64(x)
	case int64:
		return x
	case int:
		return int64(x)
	case []any: // many2one [id, name]
		if len(x) > 0 {
			return toInt(x[0])
		}
	}
	return 0
}

// String returns a char, text, html or selection field; "" when empty.
func (r Record) String(name string) string {
	switch v := r[name].(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	}
	return ""
}

// Bool returns a boolean field; false when absent.
func (r Record) Bool(name string) bool {
	b, _ := r[name].(bool)
	return b
}

// Decimal returns a float or monetary field from its exact JSON text. ok is
// false when the field is absent. Odoo sends 0 (never false) for an empty
// number, except for a field the server cannot compute.
func (r Record) Decimal(name string) (d decimal.Decimal, ok bool) {
	switch v := r[name].(type) {
	case json.Number:
		d, err := decimal.NewFromString(v.String())
		return d, err == nil
	case float64:
		return decimal.NewFromFloat(v), true
	case int64:
		return decimal.NewFromInt(v), true
	case int:
		return decimal.NewFromInt(int64(v)), true
	}
	return decimal.Decimal{}, false
}

// Rounded returns a float or monetary field rounded half away from zero to
// places decimals. Odoo sends Python floats (a price of 19.99 may come back as
// 19.990000000000002); round to the field's digits (fields_get "digits", 2
// for prices and amounts in most companies). ok is false when absent.
func (r Record) Rounded(name string, places int32) (d decimal.Decimal, ok bool) {
	d, ok = r.Decimal(name)
	if ok {
		d = d.Round(places)
	}
	return d, ok
}

// Many2one returns a many2one field's id and display name; 0 and "" when
// empty.
func (r Record) Many2one(name string) (id int64, display string) {
	list, ok := r[name].([]any)
	if !ok || len(list) == 0 {
		return 0, ""
	}
	if len(list) > 1 {
		display, _ = list[1].(string)
	}
	return toInt(list[0]), display
}

// IDs returns an x2many field's ids.
func (r Record) IDs(name string) []int64 {
	list, _ := r[name].([]any)
	out := make([]int64, 0, len(list))
	for _, e := range list {
		out = append(out, toInt(e))
	}
	return out
}

// Time returns a datetime field ("2006-01-02 15:04:05", UTC) as a UTC time;
// the zero time when empty or unreadable.
func (r Record) Time(name string) time.Time {
	s, _ := r[name].(string)
	t, err := time.ParseInLocation(DatetimeFormat, s, time.UTC)
	if err != nil {
		return time.Time{}
	}
	return t
}

// Date returns a date field ("2006-01-02"); ok is false when empty.
func (r Record) Date(name string) (Date, bool) {
	s, _ := r[name].(string)
	t, err := time.ParseInLocation(DateFormat, s, time.UTC)
	if err != nil {
		return Date{}, false
	}
	return DateOf(t), true
}

// Date is a calendar date, sent as "2006-01-02".
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf returns the calendar date of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{Year: y, Month: m, Day: d}
}

// Time returns the date at 00:00 UTC.
func (d Date) Time() time.Time { return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC) }

// String returns the date as 2006-01-02.
func (d Date) String() string { return d.Time().Format(DateFormat) }

// MarshalJSON encodes the date as Odoo reads it.
func (d Date) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// IsZero reports whether d is the zero Date.
func (d Date) IsZero() bool { return d == Date{} }

func toRecords(call string, v any) ([]Record, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, &decodeError{call: call, want: "a list of records", got: v}
	}
	out := make([]Record, 0, len(list))
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, &decodeError{call: call, want: "a record", got: e}
		}
		out = append(out, Record(m))
	}
	return out, nil
}

func toIDs(call string, v any) ([]int64, error) {
	switch x := v.(type) {
	case []any:
		out := make([]int64, 0, len(x))
		for _, e := range x {
			id := toInt(e)
			if id == 0 {
				return nil, &decodeError{call: call, want: "an id", got: e}
			}
			out = append(out, id)
		}
		return out, nil
	case json.Number:
		return []int64{toInt(x)}, nil
	}
	return nil, &decodeError{call: call, want: "ids", got: v}
}

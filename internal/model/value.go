package model

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// Kind is the type of a Value.
type Kind uint8

// The kinds of value a canonical field can hold.
const (
	KindNull    Kind = iota // no value
	KindText                // free text; also enums (see FieldType)
	KindDecimal             // exact decimal number without currency
	KindMoney               // exact decimal amount with an ISO 4217 currency
	KindDate                // calendar date, no time zone (stored at 00:00 UTC)
	KindTime                // instant, UTC
	KindBool                // true or false
	KindRef                 // reference to a record of another entity, by the id native to the record's system
	KindLines               // child records (order lines of a deal, order or invoice)
)

var kindNames = [...]string{"null", "text", "decimal", "money", "date", "time", "bool", "ref", "lines"}

// String returns the kind's name as used in JSON snapshots and the config file.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Value is one typed field value. The zero Value is null. Values are immutable by
// convention: Lines is shared, not copied.
type Value struct {
	Kind     Kind
	Str      string          // text, enum, or the referenced record's id for KindRef
	Num      decimal.Decimal // decimal and money
	Currency string          // ISO 4217 code for money
	Time     time.Time       // date and time, always UTC
	Bool     bool
	Entity   Entity   // referenced entity for KindRef
	Lines    []Record // child records for KindLines
}

// Null is the null value.
var Null = Value{}

// Text returns a text value.
func Text(s string) Value { return Value{Kind: KindText, Str: s} }

// Decimal returns an exact decimal value.
func Decimal(d decimal.Decimal) Value { return Value{Kind: KindDecimal, Num: d} }

// Money returns an amount in the given ISO 4217 currency (upper-cased).
func Money(d decimal.Decimal, currency string) Value {
	return Value{Kind: KindMoney, Num: d, Currency: strings.ToUpper(currency)}
}

// Date returns a calendar date; the time of day and zone of t are dropped.
func Date(t time.Time) Value {
	y, m, d := t.Date()
	return Value{Kind: KindDate, Time: time.Date(y, m, d, 0, 0, 0, 0, time.UTC)}
}

// Time returns an instant, normalised to UTC.
func Time(t time.Time) Value { return Value{Kind: KindTime, Time: t.UTC()} }

// Bool returns a boolean value.
func Bool(b bool) Value { return Value{Kind: KindBool, Bool: b} }

// Ref returns a reference to the record of entity with the given id in the record's
// own system. The engine translates references between systems through links.
func Ref(entity Entity, id string) Value { return Value{Kind: KindRef, Entity: entity, Str: id} }

// Lines returns a list of child records.
func Lines(lines []Record) Value { return Value{Kind: KindLines, Lines: lines} }

// IsNull reports whether v holds no value. Empty text counts as null: most systems
// do not distinguish the two, and treating them alike keeps plans free of noise.
func (v Value) IsNull() bool {
	switch v.Kind {
	case KindNull:
		return true
	case KindText:
		return v.Str == ""
	case KindRef:
		return v.Str == ""
	}
	return false
}

// Equal reports whether v and w hold the same value. Decimals compare by value
// (1.50 equals 1.5); money also compares its currency.
func (v Value) Equal(w Value) bool {
	if v.IsNull() || w.IsNull() {
		return v.IsNull() && w.IsNull()
	}
	if v.Kind != w.Kind {
		return false
	}
	switch v.Kind {
	case KindText:
		return v.Str == w.Str
	case KindDecimal:
		return v.Num.Equal(w.Num)
	case KindMoney:
		return v.Num.Equal(w.Num) && v.Currency == w.Currency
	case KindDate, KindTime:
		return v.Time.Equal(w.Time)
	case KindBool:
		return v.Bool == w.Bool
	case KindRef:
		return v.Entity == w.Entity && v.Str == w.Str
	case KindLines:
		if len(v.Lines) != len(w.Lines) {
			return false
		}
		for i := range v.Lines {
			if !v.Lines[i].Fields.Equal(w.Lines[i].Fields) {
				return false
			}
		}
		return true
	}
	return false
}

// String returns a stable, human-readable form of v, used in plans, logs and
// fingerprints: decimals without trailing zeros, money as "12.5 EUR", dates as
// 2006-01-02, times as RFC 3339 in UTC.
func (v Value) String() string {
	if v.IsNull() {
		return ""
	}
	switch v.Kind {
	case KindText:
		return v.Str
	case KindDecimal:
		return v.Num.String()
	case KindMoney:
		return v.Num.String() + " " + v.Currency
	case KindDate:
		return v.Time.Format(time.DateOnly)
	case KindTime:
		return v.Time.Format(time.RFC3339Nano)
	case KindBool:
		return strconv.FormatBool(v.Bool)
	case KindRef:
		return string(v.Entity) + ":" + v.Str
	case KindLines:
		var b strings.Builder
		b.WriteByte('[')
		for i, l := range v.Lines {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(l.Fields.String())
		}
		b.WriteByte(']')
		return b.String()
	}
	return ""
}

// jsonValue is the wire form of a Value in snapshots, job arguments and --json output.
type jsonValue struct {
	Kind     string   `json:"k"`
	Str      string   `json:"s,omitempty"`
	Num      string   `json:"n,omitempty"`
	Currency string   `json:"c,omitempty"`
	Time     string   `json:"t,omitempty"`
	Bool     bool     `json:"b,omitempty"`
	Entity   Entity   `json:"e,omitempty"`
	Lines    []Record `json:"l,omitempty"`
}

// UnmarshalJSON decodes the form written by MarshalJSON.
func (v *Value) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*v = Null
		return nil
	}
	var j jsonValue
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	kind, ok := ParseKind(j.Kind)
	if !ok {
		return fmt.Errorf("unknown value kind %q", j.Kind)
	}
	out := Value{Kind: kind, Str: j.Str, Currency: j.Currency, Bool: j.Bool, Entity: j.Entity, Lines: j.Lines}
	switch kind {
	case KindDecimal, KindMoney:
		d, err := decimal.NewFromString(j.Num)
		if err != nil {
			return fmt.Errorf("decode %s value %q: %w", j.Kind, j.Num, err)
		}
		out.Num = d
	case KindDate:
		t, err := time.Parse(time.DateOnly, j.Time)
		if err != nil {
			return fmt.Errorf("decode date %q: %w", j.Time, err)
		}
		out.Time = t
	case KindTime:
		t, err := time.Parse(time.RFC3339Nano, j.Time)
		if err != nil {
			return fmt.Errorf("decode time %q: %w", j.Time, err)
		}
		out.Time = t.UTC()
	}
	*v = out
	return nil
}

// ParseKind returns the Kind named s.
func ParseKind(s string) (Kind, bool) {
	for i, n := range kindNames {
		if n == s {
			return Kind(i), true
		}
	}
	return KindNull, false
}

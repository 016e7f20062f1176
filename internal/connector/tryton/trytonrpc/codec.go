package trytonrpc

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/shopspring/decimal"
)

// Date is a calendar date as Tryton sends it ({"__class__": "date"}).
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
func (d Date) String() string { return d.Time().Format(time.DateOnly) }

// MarshalJSON encodes the date in Tryton's form.
func (d Date) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]any{"__class__": "date", "year": d.Year, "month": int(d.Month), "day": d.Day})
}

// TimeOfDay is a time without date as Tryton sends it ({"__class__": "time"}).
type TimeOfDay struct {
	Hour, Minute, Second, Microsecond int
}

// MarshalJSON encodes the time of day in Tryton's form.
func (t TimeOfDay) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]any{
		"__class__": "time", "hour": t.Hour, "minute": t.Minute,
		"second": t.Second, "microsecond": t.Microsecond,
	})
}

// encodeValue converts the Go values Tryton has a special form for. It walks
// maps and slices built from map[string]any, []any, Values and Domain; any other
// value is left to encoding/json (Date and TimeOfDay marshal themselves).
func encodeValue(v any) any {
	switch x := v.(type) {
	case decimal.Decimal:
		return map[string]any{"__class__": "Decimal", "decimal": x.String()}
	case *decimal.Decimal:
		if x == nil {
			return nil
		}
		return encodeValue(*x)
	case time.Time:
		u := x.UTC()
		return map[string]any{
			"__class__": "datetime", "year": u.Year(), "month": int(u.Month()), "day": u.Day(),
			"hour": u.Hour(), "minute": u.Minute(), "second": u.Second(), "microsecond": u.Nanosecond() / 1000,
		}
	case time.Duration:
		return map[string]any{"__class__": "timedelta", "seconds": x.Seconds()}
	case []byte:
		return map[string]any{"__class__": "bytes", "base64": base64.StdEncoding.EncodeToString(x)}
	case Values:
		return encodeMap(x)
	case Record:
		return encodeMap(x)
	case Context:
		return encodeMap(x)
	case map[string]any:
		return encodeMap(x)
	case []Values:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = encodeMap(e)
		}
		return out
	case []map[string]any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = encodeMap(e)
		}
		return out
	case Domain:
		return encodeSlice(x)
	case []any:
		return encodeSlice(x)
	}
	return v
}

func encodeMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = encodeValue(v)
	}
	return out
}

func encodeSlice(s []any) []any {
	if s == nil {
		return nil
	}
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = encodeValue(v)
	}
	return out
}

// decodeJSON parses a JSON document and converts Tryton's special objects.
// Numbers stay json.Number so that ids and quantities are exact.
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return convert(v)
}

func convert(v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		if cls, ok := x["__class__"].(string); ok {
			return convertClass(cls, x)
		}
		for k, e := range x {
			c, err := convert(e)
			if err != nil {
				return nil, fmt.Errorf("field %s: %w", k, err)
			}
			x[k] = c
		}
		return x, nil
	case []any:
		for i, e := range x {
			c, err := convert(e)
			if err != nil {
				return nil, err
			}
			x[i] = c
		}
		return x, nil
	}
	return v, nil
}

func convertClass(cls string, m map[string]any) (any, error) {
	num := func(k string) (int, error) {
		n, ok := m[k].(json.Number)
		if !ok {
			if m[k] == nil {
				return 0, nil
			}
			return 0, fmt.Errorf("decode %s: %s is not a number", cls, k)
		}
		i, err := n.Int64()
		if err != nil {
			return 0, fmt.Errorf("decode %s.%s: %w", cls, k, err)
		}
		return int(i), nil
	}
	ints := func(keys ...string) ([]int, error) {
		out := make([]int, len(keys))
		for i, k := range keys {
			n, err := num(k)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	}
	switch cls {
	case "Decimal":
		s, ok := m["decimal"].(string)
		if !ok {
			return nil, fmt.Errorf("decode Decimal: no decimal string")
		}
		d, err := decimal.NewFromString(s)
		if err != nil {
			return nil, fmt.Errorf("decode Decimal %q: %w", s, err)
		}
		return d, nil
	case "datetime":
		p, err := ints("year", "month", "day", "hour", "minute", "second", "microsecond")
		if err != nil {
			return nil, err
		}
		// Tryton stores and sends naive UTC times.
		return time.Date(p[0], time.Month(p[1]), p[2], p[3], p[4], p[5], p[6]*1000, time.UTC), nil
	case "date":
		p, err := ints("year", "month", "day")
		if err != nil {
			return nil, err
		}
		return Date{Year: p[0], Month: time.Month(p[1]), Day: p[2]}, nil
	case "time":
		p, err := ints("hour", "minute", "second", "microsecond")
		if err != nil {
			return nil, err
		}
		return TimeOfDay{Hour: p[0], Minute: p[1], Second: p[2], Microsecond: p[3]}, nil
	case "timedelta":
		n, ok := m["seconds"].(json.Number)
		if !ok {
			return nil, fmt.Errorf("decode timedelta: no seconds")
		}
		f, err := n.Float64()
		if err != nil {
			return nil, fmt.Errorf("decode timedelta: %w", err)
		}
		return time.Duration(math.Round(f * float64(time.Second))), nil
	case "bytes":
		s, _ := m["base64"].(string)
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("decode bytes: %w", err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("decode: unknown __class__ %q", cls)
}

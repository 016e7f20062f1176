package odoorpc

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/shopspring/decimal"
)

// encodeValue converts the Go values Odoo has its own form for: decimals are
// JSON numbers, times UTC datetime strings. It walks maps and slices built from
// map[string]any, []any, Values, Context and Domain; other values are left to
// encoding/json (Date and Command marshal themselves).
func encodeValue(v any) any {
	switch x := v.(type) {
	case decimal.Decimal:
		return json.Number(x.String())
	case *decimal.Decimal:
		if x == nil {
			return false
		}
		return json.Number(x.String())
	case time.Time:
		if x.IsZero() {
			return false
		}
		return x.UTC().Format(DatetimeFormat)
	case Values:
		return encodeMap(x)
	case Context:
		return encodeMap(x)
	case Kwargs:
		return encodeMap(x)
	case Record:
		return encodeMap(x)
	case map[string]any:
		return encodeMap(x)
	case []Values:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = encodeMap(e)
		}
		return out
	case Domain:
		return encodeArgs(x)
	case []any:
		return encodeArgs(x)
	}
	return v
}

func encodeMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = encodeValue(v)
	}
	return out
}

func encodeArgs(s []any) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = encodeValue(v)
	}
	return out
}

// decodeError is an answer of an unexpected shape.
type decodeError struct {
	call string
	want string
	got  any
}

func (e *decodeError) Error() string {
	return fmt.Sprintf("odoo %s: want %s in the answer, got %T", e.call, e.want, e.got)
}

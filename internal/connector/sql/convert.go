package sqlconn

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/model"
)

// timeLayouts are the text forms of instants the connector reads, UTC unless
// they carry a zone.
var timeLayouts = []string{
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999-07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02",
}

// parseTime reads an instant from a driver value.
func parseTime(raw any) (time.Time, error) {
	switch v := raw.(type) {
	case time.Time:
		return v.UTC(), nil
	case string:
		return parseTimeText(v)
	case []byte:
		return parseTimeText(string(v))
	case int64:
		return time.Unix(v, 0).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("read time: unexpected %T", raw)
}

func parseTimeText(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("read time: unknown format %q", s)
}

// asString reads text from a driver value.
func asString(raw any) (string, error) {
	switch v := raw.(type) {
	case string:
		return v, nil
	case []byte:
		return string(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case bool:
		return strconv.FormatBool(v), nil
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano), nil
	case fmt.Stringer:
		return v.String(), nil
	}
	return "", fmt.Errorf("read text: unexpected %T", raw)
}

// errFloat is returned for a number the driver handed over as a float: the
// connector reads numbers as text and never rounds them through float64.
var errFloat = errors.New("number read as float; cannot convert exactly")

// asDecimal reads an exact decimal from a driver value.
func asDecimal(raw any) (decimal.Decimal, error) {
	switch v := raw.(type) {
	case string:
		return decimal.NewFromString(strings.TrimSpace(v))
	case []byte:
		return decimal.NewFromString(strings.TrimSpace(string(v)))
	case int64:
		return decimal.NewFromInt(v), nil
	case float64, float32:
		return decimal.Decimal{}, errFloat
	}
	return decimal.Decimal{}, fmt.Errorf("read decimal: unexpected %T", raw)
}

// asBool reads a boolean from a driver value.
func asBool(raw any) (bool, error) {
	switch v := raw.(type) {
	case bool:
		return v, nil
	case int64:
		return v != 0, nil
	case string, []byte:
		s, _ := asString(v)
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "1", "t", "true", "y", "yes":
			return true, nil
		case "0", "f", "false", "n", "no", "":
			return false, nil
		}
		return false, fmt.Errorf("read bool: %q", s)
	}
	return false, fmt.Errorf("read bool: unexpected %T", raw)
}

// decodeValue converts a column value (and, for money with a currency column,
// that column's value) to a canonical value.
func decodeValue(c *column, raw, currency any) (model.Value, error) {
	if raw == nil {
		return model.Null, nil
	}
	switch c.typ {
	case model.TypeText, model.TypeEnum:
		s, err := asString(raw)
		return model.Text(s), err
	case model.TypeRef:
		s, err := asString(raw)
		return model.Ref(c.ref, s), err
	case model.TypeDecimal:
		d, err := asDecimal(raw)
		return model.Decimal(d), err
	case model.TypeMoney:
		d, err := asDecimal(raw)
		if err != nil {
			return model.Null, err
		}
		cur := c.currency
		if c.currencyColumn != "" {
			if currency == nil {
				return model.Null, fmt.Errorf("amount without currency in %s", c.currencyColumn)
			}
			if cur, err = asString(currency); err != nil {
				return model.Null, err
			}
		}
		return model.Money(d, strings.TrimSpace(cur)), nil
	case model.TypeDate:
		t, err := parseTime(raw)
		return model.Date(t), err
	case model.TypeDateTime:
		t, err := parseTime(raw)
		return model.Time(t), err
	case model.TypeBool:
		b, err := asBool(raw)
		return model.Bool(b), err
	}
	return model.Null, fmt.Errorf("read %s: unsupported type %s", c.field, c.typ)
}

// encodeValue converts a canonical value to bind values: the column's and, for
// money with a currency column, the currency column's. Refusals are permanent
// and name the field.
func (d *dialect) encodeValue(e model.Entity, c *column, v model.Value) (val, currency any, err error) {
	def, ok := model.LookupField(e, c.field)
	if !ok {
		def = model.FieldDef{Name: c.field, Type: c.typ}
	}
	if err := def.Check(v); err != nil {
		return nil, nil, connector.Permanent(c.field, err)
	}
	if v.IsNull() {
		return nil, nil, nil
	}
	if c.typ == model.TypeRef && v.Entity != c.ref {
		return nil, nil, connector.Permanent(c.field, fmt.Errorf("reference to %s, but the column refers to %s", v.Entity, c.ref))
	}
	switch c.typ {
	case model.TypeText, model.TypeEnum, model.TypeRef:
		return v.Str, nil, nil
	case model.TypeDecimal:
		return v.Num.String(), nil, nil
	case model.TypeMoney:
		if c.currencyColumn != "" {
			return v.Num.String(), v.Currency, nil
		}
		if v.Currency != c.currency {
			return nil, nil, connector.Permanent(c.field, fmt.Errorf("currency %s, but the column holds %s", v.Currency, c.currency))
		}
		return v.Num.String(), nil, nil
	case model.TypeDate:
		return v.Time.Format(time.DateOnly), nil, nil
	case model.TypeDateTime:
		return d.encodeTime(v.Time), nil, nil
	case model.TypeBool:
		return d.encodeBool(v.Bool), nil, nil
	}
	return nil, nil, connector.Permanent(c.field, fmt.Errorf("unsupported type %s", c.typ))
}

package engine

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/concord-sync/concord/internal/model"
)

// ParseOverride turns "field=value" as typed by a person into a field value of
// the leg's source entity, for a dead letter retried with a corrected value:
// text and enums as given, decimals, money as "AMOUNT CUR", dates as
// YYYY-MM-DD, times as RFC 3339, bools, references by id; an empty value is
// null.
func (e *Engine) ParseOverride(leg, assignment string) (string, model.Value, error) {
	l, ok := e.legs[leg]
	if !ok {
		return "", model.Null, fmt.Errorf("flow %q is not in the config", leg)
	}
	field, text, ok := strings.Cut(assignment, "=")
	field = strings.TrimSpace(field)
	if !ok || field == "" {
		return "", model.Null, fmt.Errorf("%q is not field=value", assignment)
	}
	def, ok := l.Defs[field]
	if !ok {
		return "", model.Null, fmt.Errorf("flow %s does not move field %q (it moves %s)", l.Flow, field, strings.Join(l.Fields, ", "))
	}
	if text == "" {
		return field, model.Null, nil
	}
	var v model.Value
	var err error
	switch def.Type.Kind() {
	case model.KindText:
		v = model.Text(text)
	case model.KindDecimal:
		var d decimal.Decimal
		d, err = decimal.NewFromString(strings.TrimSpace(text))
		v = model.Decimal(d)
	case model.KindMoney:
		amount, cur, _ := strings.Cut(strings.TrimSpace(text), " ")
		var d decimal.Decimal
		if d, err = decimal.NewFromString(amount); err == nil {
			if cur = strings.ToUpper(strings.TrimSpace(cur)); len(cur) != 3 {
				err = fmt.Errorf("money is written AMOUNT CUR, such as 12.50 EUR")
			}
			v = model.Money(d, cur)
		}
	case model.KindDate:
		var t time.Time
		t, err = time.Parse(time.DateOnly, strings.TrimSpace(text))
		v = model.Date(t)
	case model.KindTime:
		var t time.Time
		t, err = time.Parse(time.RFC3339, strings.TrimSpace(text))
		v = model.Time(t)
	case model.KindBool:
		var b bool
		b, err = strconv.ParseBool(strings.TrimSpace(text))
		v = model.Bool(b)
	case model.KindRef:
		v = model.Ref(def.Ref, strings.TrimSpace(text))
	default:
		err = fmt.Errorf("a %s field cannot be set here", def.Type)
	}
	if err == nil {
		err = def.Check(v)
	}
	if err != nil {
		return "", model.Null, fmt.Errorf("field %s: %q: %w", field, text, err)
	}
	return field, v, nil
}

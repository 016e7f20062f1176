package report

import (
	"database/sql/driver"
	"fmt"
	"sync"

	"github.com/shopspring/decimal"
	"modernc.org/sqlite"
)

// The exact decimal functions of the reporting database. SQLite stores money
// as text and its sum() would add floating point numbers, so Concord registers
// these in the SQLite driver; PostgreSQL gets them from functions_postgres.sql
// over numeric. A NULL argument gives NULL, as SQL arithmetic does; dec_sum
// skips NULLs and is NULL over no value, as sum() is.
var registerOnce = sync.OnceValue(func() error {
	scalar := func(name string, n int32, f func(args []decimal.Decimal, raw []driver.Value) (driver.Value, error)) error {
		return sqlite.RegisterFunction(name, &sqlite.FunctionImpl{NArgs: n, Deterministic: true,
			Scalar: func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
				ds := make([]decimal.Decimal, len(args))
				for i, a := range args {
					d, ok, err := toDecimal(a)
					if err != nil {
						return nil, fmt.Errorf("%s: argument %d: %w", name, i+1, err)
					}
					if !ok {
						return nil, nil
					}
					ds[i] = d
				}
				return f(ds, args)
			}})
	}
	err := scalar("dec_add", 2, func(d []decimal.Decimal, _ []driver.Value) (driver.Value, error) { return decText(d[0].Add(d[1])), nil })
	if err == nil {
		err = scalar("dec_sub", 2, func(d []decimal.Decimal, _ []driver.Value) (driver.Value, error) { return decText(d[0].Sub(d[1])), nil })
	}
	if err == nil {
		err = scalar("dec_mul", 2, func(d []decimal.Decimal, _ []driver.Value) (driver.Value, error) { return decText(d[0].Mul(d[1])), nil })
	}
	if err == nil {
		err = scalar("dec_div", 3, func(d []decimal.Decimal, _ []driver.Value) (driver.Value, error) {
			if d[1].IsZero() {
				return nil, nil
			}
			return d[0].DivRound(d[1], int32(d[2].IntPart())).String(), nil
		})
	}
	if err == nil {
		err = scalar("dec_round", 2, func(d []decimal.Decimal, _ []driver.Value) (driver.Value, error) {
			return d[0].Round(int32(d[1].IntPart())).String(), nil
		})
	}
	if err == nil {
		err = scalar("dec_fx", 3, func(d []decimal.Decimal, _ []driver.Value) (driver.Value, error) {
			if d[2].IsZero() {
				return nil, nil
			}
			return d[0].Mul(d[1]).DivRound(d[2], ConvertedScale).StringFixed(ConvertedScale), nil
		})
	}
	if err == nil {
		err = sqlite.RegisterFunction("dec_sum", &sqlite.FunctionImpl{NArgs: 1, Deterministic: true,
			MakeAggregate: func(sqlite.FunctionContext) (sqlite.AggregateFunction, error) { return &decSum{}, nil }})
	}
	if err != nil {
		return fmt.Errorf("report: register decimal functions: %w", err)
	}
	return nil
})

// toDecimal reads a SQLite value as an exact decimal; ok is false for NULL.
func toDecimal(v driver.Value) (decimal.Decimal, bool, error) {
	switch x := v.(type) {
	case nil:
		return decimal.Decimal{}, false, nil
	case int64:
		return decimal.NewFromInt(x), true, nil
	case float64:
		// a REAL stored by hand; its shortest text form is what the user wrote
		return decimal.NewFromFloat(x), true, nil
	case string:
		if x == "" {
			return decimal.Decimal{}, false, nil
		}
		d, err := decimal.NewFromString(x)
		return d, err == nil, err
	case []byte:
		if len(x) == 0 {
			return decimal.Decimal{}, false, nil
		}
		d, err := decimal.NewFromString(string(x))
		return d, err == nil, err
	}
	return decimal.Decimal{}, false, fmt.Errorf("not a number: %T", v)
}

// decSum is dec_sum: the exact sum of the non-NULL values.
type decSum struct {
	sum decimal.Decimal
	n   int
}

func (s *decSum) Step(_ *sqlite.FunctionContext, args []driver.Value) error {
	d, ok, err := toDecimal(args[0])
	if err != nil {
		return fmt.Errorf("dec_sum: %w", err)
	}
	if ok {
		s.sum = s.sum.Add(d)
		s.n++
	}
	return nil
}

func (s *decSum) WindowInverse(_ *sqlite.FunctionContext, args []driver.Value) error {
	d, ok, err := toDecimal(args[0])
	if err != nil {
		return fmt.Errorf("dec_sum: %w", err)
	}
	if ok {
		s.sum = s.sum.Sub(d)
		s.n--
	}
	return nil
}

func (s *decSum) WindowValue(*sqlite.FunctionContext) (driver.Value, error) {
	if s.n == 0 {
		return nil, nil
	}
	return decText(s.sum), nil
}

func (s *decSum) Final(*sqlite.FunctionContext) {}

// decText is d as exact text: without trailing zeros, except for a converted
// amount (ConvertedScale places or more), whose scale marks it as one until
// its final figure, as PostgreSQL's numeric keeps its scale.
func decText(d decimal.Decimal) string {
	if d.Exponent() <= -ConvertedScale {
		return d.StringFixed(-d.Exponent())
	}
	return d.String()
}

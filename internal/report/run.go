package report

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/concord-sync/concord/internal/connector"
)

// Params are a report's parameters.
type Params struct {
	// Since is the first date the report covers, YYYY-MM-DD; empty for all.
	Since string
	// Today is the date reports count days to, YYYY-MM-DD; empty for today
	// (UTC).
	Today string
	// Currency, when set, is the ISO 4217 currency the report's money is in:
	// every amount of the fact views converted with the ERP's rates
	// (dim_rate) at its record's date, exactly until the final figure; an
	// amount without a rate stays in its own currency. Empty: per currency.
	Currency string
}

// Result is a report's output: its columns and rows. A cell is nil (SQL
// NULL), an int64 (counts, days) or a string (text, dates, and exact
// decimals such as money).
type Result struct {
	Report  *Report  `json:"-"`
	Params  Params   `json:"-"`
	Columns []string `json:"columns"`
	Rows    [][]any  `json:"rows"`
	// Rates are the ERP's rates a converted report used (Params.Currency),
	// by currency, base and date.
	Rates []connector.Rate `json:"-"`
	// Notes say how the report converted: the rates, the amounts left in
	// their own currency and why.
	Notes []string `json:"-"`
}

// paramRe finds :since and :today (not a PostgreSQL ::cast).
var paramRe = regexp.MustCompile(`(^|[^:\w]):(since|today)\b`)

// bind replaces the named parameters of q with positional ones ($1, $2) and
// returns their values.
func bind(q string, p Params) (string, []any) {
	var args []any
	index := map[string]int{}
	out := paramRe.ReplaceAllStringFunc(q, func(m string) string {
		sub := paramRe.FindStringSubmatch(m)
		name := sub[2]
		i, ok := index[name]
		if !ok {
			switch name {
			case "since":
				args = append(args, p.Since)
			case "today":
				args = append(args, p.Today)
			}
			i = len(args)
			index[name] = i
		}
		return sub[1] + "$" + strconv.Itoa(i)
	})
	return out, args
}

// Run runs r on d. With p.Currency it runs in a transaction that shadows the
// fact views with converted ones (see convert), rolled back at the end: a
// report never writes to the reporting database.
func Run(ctx context.Context, d *DB, r *Report, p Params) (*Result, error) {
	if p.Since == "" {
		p.Since = "0001-01-01"
	}
	if p.Today == "" {
		p.Today = time.Now().UTC().Format(time.DateOnly)
	}
	var q querier = d.db
	res := &Result{Report: r, Params: p, Rows: [][]any{}}
	if p.Currency != "" {
		if !currencyRe.MatchString(p.Currency) {
			return nil, fmt.Errorf("report %s: currency %q is not an ISO 4217 code such as EUR", r.Name, p.Currency)
		}
		if _, err := time.Parse(time.DateOnly, p.Today); err != nil {
			return nil, fmt.Errorf("report %s: today %q is not a date (YYYY-MM-DD)", r.Name, p.Today)
		}
		p.Currency = strings.ToUpper(p.Currency)
		res.Params = p
		tx, err := d.db.BeginTx(ctx, nil)
		if err != nil {
			return nil, fmt.Errorf("report %s: %w", r.Name, err)
		}
		defer func() { _ = tx.Rollback() }()
		conv, err := convert(ctx, tx, d, r.SQL, p)
		if err != nil {
			return nil, err
		}
		res.Rates, res.Notes = conv.rates, conv.notes
		q = tx
	}
	qs, args := bind(r.SQL, p)
	rows, err := q.QueryContext(ctx, qs, args...)
	if err != nil {
		return nil, fmt.Errorf("report %s (%s): %w", r.Name, r.Source, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, fmt.Errorf("report %s: %w", r.Name, err)
	}
	res.Columns = cols
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("report %s: %w", r.Name, err)
		}
		for i, v := range vals {
			vals[i] = cell(v, p.Currency)
		}
		res.Rows = append(res.Rows, vals)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("report %s (%s): %w", r.Name, r.Source, err)
	}
	return res, nil
}

// currencyRe is an ISO 4217 currency code, in either case.
var currencyRe = regexp.MustCompile(`^[A-Za-z]{3}$`)

// decimalRe is a plain decimal number with a fraction.
var decimalRe = regexp.MustCompile(`^-?[0-9]+\.[0-9]+$`)

// cell normalises a scanned value: nil, int64 or string; decimals without
// trailing zeros (PostgreSQL's numeric keeps them, SQLite's text does not), so
// that both databases print the same figures. In a report converted into
// currency, a converted figure (ConvertedScale places) is rounded once to
// currency's minor unit: its final figure.
func cell(v any, currency string) any {
	switch x := v.(type) {
	case nil:
		return nil
	case int64:
		return x
	case int32:
		return int64(x)
	case bool:
		if x {
			return int64(1)
		}
		return int64(0)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case []byte:
		return cell(string(x), currency)
	case string:
		if decimalRe.MatchString(x) {
			if currency != "" {
				if f, ok := finalFigure(x, currency); ok {
					return f
				}
			}
			if d, err := decimal.NewFromString(x); err == nil {
				return d.String()
			}
		}
		return x
	case time.Time:
		return x.UTC().Format(time.DateOnly)
	}
	return fmt.Sprint(v)
}

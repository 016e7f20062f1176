package report

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/fx"
)

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// ConvertedScale is the number of decimal places a converted amount is
// carried with until its final figure: amount x factor, the ERP's rates'
// exact fraction, rounded once at 10^-20. Every figure of a converted report
// with at least this many decimals is a converted amount (sums, differences
// and products keep the scale) and is rounded once, half to even, to the
// target currency's minor unit when the report is read.
const ConvertedScale = 20

// factView is a fact view whose money a converted report converts: each
// amount at the rate of its record's date.
type factView struct {
	name string
	// date is the record's date, an SQL expression over the view's alias v;
	// :today is replaced by today's date.
	date  string
	money []string
}

// factViews are the fact views and the dates their amounts convert at.
var factViews = []factView{
	{"fact_invoice_line", "v.invoice_date", []string{"unit_price", "amount", "cost"}},
	{"fact_invoice", "v.invoice_date", []string{"total", "untaxed", "tax", "amount_due"}},
	// a won deal at its won date; an open or lost one at its (expected)
	// close date, else today
	{"fact_deal", "COALESCE(v.won_date, v.close_date, :today)", []string{"amount"}},
	{"fact_payment", "v.paid_on", []string{"amount"}},
}

// conversion is what converting a report into one currency used.
type conversion struct {
	rates []connector.Rate
	notes []string
}

// convert shadows, inside tx, the fact views with temporary views of the
// same names whose money is in p.Currency: each amount converted with the
// ERP's rates in dim_rate at its record's date, when it has one; an amount
// without one stays in its own currency. The report then runs in tx and
// sees the converted views; rolling tx back drops them.
//
// The rates and notes cover the amounts of the fact views the report's query
// names, dated from p.Since on.
func convert(ctx context.Context, tx *sql.Tx, d *DB, query string, p Params) (*conversion, error) {
	to := strings.ToUpper(p.Currency)
	today := p.Today
	table, err := loadRates(ctx, tx)
	if err != nil {
		return nil, err
	}
	conv := &conversion{}
	if table.Len() == 0 {
		conv.notes = append(conv.notes, fmt.Sprintf("The reporting database holds no exchange rates of the ERP: nothing is converted to %s (the sql connector reads them with its rates setting, tryton from its currencies; a refresh copies them).", to))
	}

	// The factor of every currency and date the facts hold.
	type key struct {
		cur, on sql.NullString
	}
	seen := map[key]bool{}
	for _, v := range factViews {
		named := regexp.MustCompile(`\b` + v.name + `\b`).MatchString(query)
		q := fmt.Sprintf(`SELECT DISTINCT v.currency, %s FROM %s v`, strings.ReplaceAll(v.date, ":today", quote(today)), d.qualified(v.name))
		rows, err := tx.QueryContext(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("report: convert to %s: %w", to, err)
		}
		for rows.Next() {
			var k key
			if err := rows.Scan(&k.cur, &k.on); err != nil {
				rows.Close()
				return nil, fmt.Errorf("report: convert to %s: %w", to, err)
			}
			seen[k] = seen[k] || named
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("report: convert to %s: %w", to, err)
		}
	}
	money := "TEXT"
	if d.dialect == Postgres {
		money = "NUMERIC"
	}
	if _, err := tx.ExecContext(ctx, `CREATE TEMP TABLE fx_factor (currency TEXT NOT NULL, on_date TEXT NOT NULL, num `+money+` NOT NULL, den `+money+` NOT NULL)`); err != nil {
		return nil, fmt.Errorf("report: convert to %s: %w", to, err)
	}
	type missing struct {
		first, last string
		dates       int
		why         string
	}
	var (
		undated, uncurrencied int
		absent                = map[string]*missing{}
		used                  = map[string]connector.Rate{}
		args                  []any
	)
	flush := func() error {
		if len(args) == 0 {
			return nil
		}
		var b strings.Builder
		b.WriteString(`INSERT INTO fx_factor (currency, on_date, num, den) VALUES `)
		for i := 0; i < len(args); i += 4 {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(placeholders(d.dialect, i, 4))
		}
		_, err := tx.ExecContext(ctx, b.String(), args...)
		args = args[:0]
		return err
	}
	keys := slices.SortedFunc(maps.Keys(seen), func(a, b key) int {
		return strings.Compare(a.cur.String+" "+a.on.String, b.cur.String+" "+b.on.String)
	})
	for _, k := range keys {
		switch {
		case !k.cur.Valid || k.cur.String == "":
			if seen[k] {
				uncurrencied++
			}
			continue
		case !k.on.Valid || k.on.String == "":
			if seen[k] {
				undated++
			}
			continue
		}
		on, err := time.Parse(time.DateOnly, k.on.String[:min(10, len(k.on.String))])
		if err != nil {
			if seen[k] {
				undated++
			}
			continue
		}
		_, c, why, ok := table.Convert(decimal.NewFromInt(1), k.cur.String, to, on)
		inReport := seen[k] && k.on.String >= p.Since
		if !ok {
			if inReport {
				cur := strings.ToUpper(k.cur.String)
				m := absent[cur]
				if m == nil {
					m = &missing{first: k.on.String, why: why}
					absent[cur] = m
				}
				m.last = k.on.String
				m.dates++
			}
			continue
		}
		if inReport {
			for _, r := range c.Rates {
				used[fx.RateString(r)] = r
			}
		}
		args = append(args, k.cur.String, k.on.String, c.Factor.Num().String(), c.Factor.Denom().String())
		if len(args) >= 4*200 {
			if err := flush(); err != nil {
				return nil, fmt.Errorf("report: convert to %s: %w", to, err)
			}
		}
	}
	if err := flush(); err != nil {
		return nil, fmt.Errorf("report: convert to %s: %w", to, err)
	}

	for _, v := range factViews {
		if err := d.shadow(ctx, tx, v, to, today); err != nil {
			return nil, fmt.Errorf("report: convert %s to %s: %w", v.name, to, err)
		}
	}

	conv.rates = slices.SortedFunc(maps.Values(used), func(a, b connector.Rate) int {
		if c := strings.Compare(a.Currency+" "+a.Base, b.Currency+" "+b.Base); c != 0 {
			return c
		}
		return a.Date.Compare(b.Date)
	})
	if len(conv.rates) > 0 {
		conv.notes = append(conv.notes, fmt.Sprintf("Converted to %s with the ERP's exchange rates, each amount at the latest rate on or before its date: %s.", to, rateList(conv.rates)))
	}
	for _, cur := range slices.Sorted(maps.Keys(absent)) {
		m := absent[cur]
		span := "dated " + m.first
		if m.dates > 1 {
			span = fmt.Sprintf("of %d dates from %s to %s", m.dates, m.first, m.last)
		}
		conv.notes = append(conv.notes, fmt.Sprintf("Not converted to %s, left in their own currency: %s amounts %s (%s).", to, cur, span, m.why))
	}
	if undated > 0 {
		conv.notes = append(conv.notes, fmt.Sprintf("Not converted to %s, left in their own currency: amounts without a date to take a rate of.", to))
	}
	if uncurrencied > 0 {
		conv.notes = append(conv.notes, fmt.Sprintf("Not converted to %s: amounts without a currency.", to))
	}
	return conv, nil
}

// shadow creates the temporary view that shadows the fact view v: the same
// columns, money converted into to where fx_factor has the record's
// currency and date, and currency then to.
func (d *DB) shadow(ctx context.Context, tx *sql.Tx, v factView, to, today string) error {
	rows, err := tx.QueryContext(ctx, `SELECT * FROM `+d.qualified(v.name)+` WHERE 1 = 0`)
	if err != nil {
		return err
	}
	cols, err := rows.Columns()
	rows.Close()
	if err != nil {
		return err
	}
	sel := make([]string, len(cols))
	for i, c := range cols {
		id := quoteIdent(c)
		switch {
		case slices.Contains(v.money, c):
			sel[i] = fmt.Sprintf("CASE WHEN f.num IS NULL THEN v.%s ELSE dec_fx(v.%s, f.num, f.den) END AS %s", id, id, id)
		case c == "currency":
			sel[i] = fmt.Sprintf("CASE WHEN f.num IS NULL THEN v.currency ELSE %s END AS currency", quote(to))
		default:
			sel[i] = "v." + id
		}
	}
	q := fmt.Sprintf(`CREATE TEMP VIEW %s AS SELECT %s FROM %s v LEFT JOIN fx_factor f ON f.currency = v.currency AND f.on_date = %s`,
		v.name, strings.Join(sel, ", "), d.qualified(v.name), strings.ReplaceAll(v.date, ":today", quote(today)))
	_, err = tx.ExecContext(ctx, q)
	return err
}

// qualified names the reporting database's own view or table name, past the
// temporary views that shadow it.
func (d *DB) qualified(name string) string {
	if d.dialect == Postgres {
		return pgx.Identifier{d.schema, name}.Sanitize()
	}
	return "main." + name
}

// quote is s as an SQL string literal.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// quoteIdent is s as an SQL identifier.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// maxListedRates is how many rates of one pair a note names one by one.
const maxListedRates = 6

// rateList names rates: each of them, or per pair the first and the last and
// how many.
func rateList(rates []connector.Rate) string {
	var parts []string
	for i := 0; i < len(rates); {
		j := i
		for j < len(rates) && rates[j].Currency == rates[i].Currency && rates[j].Base == rates[i].Base {
			j++
		}
		pair := rates[i:j]
		if len(pair) <= maxListedRates {
			for _, r := range pair {
				parts = append(parts, fx.RateString(r))
			}
		} else {
			parts = append(parts, fmt.Sprintf("%d rates of %s against %s, from %s to %s", len(pair), pair[0].Currency, pair[0].Base,
				fx.RateString(pair[0]), fx.RateString(pair[len(pair)-1])))
		}
		i = j
	}
	return strings.Join(parts, ", ")
}

// finalFigure rounds a converted figure (a decimal with ConvertedScale or
// more places) once, half to even, to currency's minor unit; other values
// are returned as they are.
func finalFigure(s, currency string) (string, bool) {
	dot := strings.IndexByte(s, '.')
	if dot < 0 || len(s)-dot-1 < ConvertedScale {
		return s, false
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return s, false
	}
	return fx.Round(fx.Rat(d), currency).String(), true
}

package sqlconn

import (
	"context"
	"fmt"
	"strings"

	"github.com/concord-sync/concord/internal/connector"
)

var _ connector.RateReader = (*Conn)(nil)

// RatesSettings name the ERP's table of exchange rates: one row per currency
// and date, saying that from that date on one unit of the base currency is
// worth rate units of the currency. The base is a column (Base) or fixed
// (BaseCurrency), one of the two.
type RatesSettings struct {
	Table        string `json:"table"`
	Currency     string `json:"currency"`
	Date         string `json:"date"`
	Rate         string `json:"rate"`
	Base         string `json:"base"`
	BaseCurrency string `json:"base_currency"`
}

// ratesTable is the resolved rates setting.
type ratesTable struct {
	name                       []string
	currency, date, rate, base string
	baseCurrency               string
}

// decodeRates checks the rates setting at path.
func decodeRates(path string, s RatesSettings) (*ratesTable, []error) {
	t := &ratesTable{currency: s.Currency, date: s.Date, rate: s.Rate, base: s.Base, baseCurrency: strings.ToUpper(strings.TrimSpace(s.BaseCurrency))}
	name, errs := decodeTableName(path+".table", s.Table)
	t.name = name
	errs = append(errs, checkIdent(path+".currency", s.Currency, true)...)
	errs = append(errs, checkIdent(path+".date", s.Date, true)...)
	errs = append(errs, checkIdent(path+".rate", s.Rate, true)...)
	errs = append(errs, checkIdent(path+".base", s.Base, false)...)
	switch {
	case s.Base == "" && t.baseCurrency == "":
		errs = append(errs, settingErr(path, "give base (the column of the base currency) or base_currency (one fixed base, such as EUR)"))
	case s.Base != "" && t.baseCurrency != "":
		errs = append(errs, settingErr(path, "give base or base_currency, not both"))
	case t.baseCurrency != "" && len(t.baseCurrency) != 3:
		errs = append(errs, settingErr(path+".base_currency", "%q is not an ISO 4217 code", s.BaseCurrency))
	}
	return t, errs
}

// Rates reads every row of the rates table (one query; a rates table holds a
// few rows per currency and day). Without a rates setting it returns none. A
// row it cannot read (a rate that is not a number, a date that is not a date)
// is an error naming the table, the row and the column.
func (c *Conn) Rates(ctx context.Context) ([]connector.Rate, error) {
	rt := c.cfg.rates
	if rt == nil {
		return nil, nil
	}
	base := "NULL"
	if rt.base != "" {
		base = c.d.ident(rt.base)
	}
	table := strings.Join(rt.name, ".")
	q := fmt.Sprintf("SELECT %s, %s, %s, %s FROM %s", c.d.ident(rt.currency), c.d.ident(rt.date), c.d.asText(rt.rate), base, c.d.ident(rt.name...))
	rows, err := c.db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("sql system %s: read rates from %s: %w", c.system, table, err)
	}
	defer rows.Close()
	var out []connector.Rate
	for n := 1; rows.Next(); n++ {
		var cur, on, rate, b any
		if err := rows.Scan(&cur, &on, &rate, &b); err != nil {
			return nil, fmt.Errorf("sql system %s: read rates from %s: %w", c.system, table, err)
		}
		r := connector.Rate{Base: rt.baseCurrency}
		where := func(col string, err error) error {
			return fmt.Errorf("sql system %s: rates table %s, row %d, column %s: %w", c.system, table, n, col, err)
		}
		if cur == nil || on == nil || rate == nil {
			continue // an incomplete row holds no rate
		}
		s, err := asString(cur)
		if err != nil {
			return nil, where(rt.currency, err)
		}
		r.Currency = strings.ToUpper(strings.TrimSpace(s))
		if r.Date, err = parseTime(on); err != nil {
			return nil, where(rt.date, err)
		}
		if r.Rate, err = asDecimal(rate); err != nil {
			return nil, where(rt.rate, err)
		}
		if rt.base != "" {
			if b == nil {
				continue
			}
			s, err := asString(b)
			if err != nil {
				return nil, where(rt.base, err)
			}
			r.Base = strings.ToUpper(strings.TrimSpace(s))
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sql system %s: read rates from %s: %w", c.system, table, err)
	}
	return out, nil
}

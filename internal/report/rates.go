package report

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/fx"
)

// rateEntity names the exchange rates in a refresh's stats.
const rateEntity = "exchange_rate"

// rates replaces dim_rate with the ERP's exchange rates, in one transaction.
func (r *Refresher) rates(ctx context.Context, rr connector.RateReader) (EntityStats, error) {
	es := EntityStats{System: r.ERP.Name, Entity: rateEntity, Pages: 1}
	rates, err := rr.Rates(ctx)
	if err != nil {
		return es, fmt.Errorf("report: read the exchange rates of %s: %w", r.ERP.Name, err)
	}
	// fx keeps one rate per pair and day (the last given) and drops rates
	// that convert nothing; dim_rate holds what a conversion can use.
	rates = fx.NewTable(rates).Rates()
	es.Read = len(rates)
	tx, err := r.DB.db.BeginTx(ctx, nil)
	if err != nil {
		return es, fmt.Errorf("report: refresh %s exchange rates: %w", r.ERP.Name, err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `DELETE FROM dim_rate`); err != nil {
		return es, fmt.Errorf("report: refresh %s exchange rates: %w", r.ERP.Name, err)
	}
	for _, rt := range rates {
		if _, err := tx.ExecContext(ctx, `INSERT INTO dim_rate (currency, base, valid_from, rate) VALUES ($1, $2, $3, $4)`,
			rt.Currency, rt.Base, rt.Date.Format(time.DateOnly), rt.Rate.String()); err != nil {
			return es, fmt.Errorf("report: %s exchange rate %s: %w", r.ERP.Name, fx.RateString(rt), err)
		}
	}
	if err := tx.Commit(); err != nil {
		return es, fmt.Errorf("report: refresh %s exchange rates: %w", r.ERP.Name, err)
	}
	return es, nil
}

// loadRates reads dim_rate.
func loadRates(ctx context.Context, q querier) (*fx.Table, error) {
	rows, err := q.QueryContext(ctx, `SELECT currency, base, valid_from, rate FROM dim_rate`)
	if err != nil {
		return nil, fmt.Errorf("report: read dim_rate: %w", err)
	}
	defer rows.Close()
	var out []connector.Rate
	for rows.Next() {
		var cur, base, from string
		var rate any
		if err := rows.Scan(&cur, &base, &from, &rate); err != nil {
			return nil, fmt.Errorf("report: read dim_rate: %w", err)
		}
		d, ok, err := toDecimal(normalise(rate))
		if err != nil || !ok {
			return nil, fmt.Errorf("report: dim_rate %s against %s from %s: rate %v is not a number", cur, base, from, rate)
		}
		on, err := time.Parse(time.DateOnly, strings.TrimSpace(from)[:min(10, len(strings.TrimSpace(from)))])
		if err != nil {
			return nil, fmt.Errorf("report: dim_rate %s against %s: valid_from %q is not a date (YYYY-MM-DD)", cur, base, from)
		}
		out = append(out, connector.Rate{Currency: cur, Base: base, Date: on, Rate: d})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("report: read dim_rate: %w", err)
	}
	return fx.NewTable(out), nil
}

// normalise turns a scanned number into what toDecimal reads.
func normalise(v any) any {
	switch x := v.(type) {
	case decimal.Decimal:
		return x.String()
	case float32:
		return float64(x)
	case int32:
		return int64(x)
	}
	return v
}

package tryton

import (
	"context"
	"fmt"
	"strings"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/tryton/trytonrpc"
)

var _ connector.RateReader = (*Conn)(nil)

// Rates reads Tryton's exchange rates (currency.currency.rate, one search_read):
// each currency's rate from its date on, against the company currency, as
// Tryton keeps them (the company currency's own rate is 1). The company
// currency's rates against itself are left out. ctx cancels the read.
func (c *Conn) Rates(ctx context.Context) ([]connector.Rate, error) {
	recs, err := c.rpc.SearchRead(ctx, "currency.currency.rate", nil, []string{"currency.code", "date", "rate"},
		trytonrpc.SearchOptions{Order: []trytonrpc.Order{{Field: "date"}, {Field: "id"}}})
	if err != nil {
		return nil, fmt.Errorf("tryton %s: read currency.currency.rate: %w", c.database, err)
	}
	out := make([]connector.Rate, 0, len(recs))
	for _, r := range recs {
		code := strings.ToUpper(r.Related("currency").String("code"))
		d, okDate := r.Date("date")
		rate, okRate := r.Decimal("rate")
		if code == "" || !okDate || !okRate {
			return nil, fmt.Errorf("tryton %s: currency.currency.rate %d: want a currency, a date and a rate", c.database, r.ID())
		}
		if code == c.currency {
			continue
		}
		out = append(out, connector.Rate{Currency: code, Base: c.currency, Date: d.Time(), Rate: rate})
	}
	return out, nil
}

package tryton

import (
	"github.com/shopspring/decimal"

	"github.com/concord-sync/concord/internal/model"
)

// FieldDigits implements engine.Limiter: the prices Tryton keeps to
// priceDigits decimals (product list and cost prices, sale line unit prices)
// and refuses with more. Quantities are left out: their digits depend on each
// line's unit of measure.
func (c *Conn) FieldDigits(entity model.Entity) map[string]model.Digits {
	price := model.Digits{Scale: priceDigits}
	switch entity {
	case model.Product:
		return map[string]model.Digits{"list_price": price, "cost_price": price}
	case model.Order:
		return map[string]model.Digits{"lines.unit_price": price}
	}
	return nil
}

// netUnitPrice returns the unit price to send for a sale line of quantity q
// at price less discount (a fraction). Tryton has no discount here
// (sale_discount is not installed), so the discount goes into the price,
// rounded to priceDigits places; Tryton then computes the line amount as
// currency.round(quantity x unit price), half to even. That is Concord's
// rounding rule (model.RoundMoney) applied to the exact q x price x
// (1 - discount), except where the price's last place tips a line over a half
// cent (1993 x 23.39 less 12.3456789 %): then the price is the one whose
// amount is the rule's.
func netUnitPrice(q, price, discount decimal.Decimal, currency string) decimal.Decimal {
	exact := price.Mul(decimal.NewFromInt(1).Sub(discount))
	net := exact.Round(priceDigits)
	if q.IsZero() {
		return net
	}
	want := model.RoundMoney(model.LineAmount(q, price, discount), currency)
	// The nearest price first, then its two neighbours at priceDigits places
	// (one of which lies on the exact amount's side of the half cent), then the
	// price of the rule's amount itself.
	for _, p := range []decimal.Decimal{net, exact.RoundFloor(priceDigits), exact.RoundCeil(priceDigits), want.DivRound(q, priceDigits)} {
		if model.RoundMoney(q.Mul(p), currency).Equal(want) {
			return p
		}
	}
	return net
}

package tryton

import (
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/model"
)

var _ engine.Limiter = (*Conn)(nil)

// trytonLineAmount is what Tryton computes for a sale line:
// currency.round(Decimal(str(quantity)) * unit_price), ROUND_HALF_EVEN.
func trytonLineAmount(q, unitPrice decimal.Decimal) decimal.Decimal {
	return q.Mul(unitPrice).RoundBank(2)
}

func TestNetUnitPrice(t *testing.T) {
	t.Parallel()
	d := decimal.RequireFromString
	tests := []struct {
		name                 string
		q, price, discount   string
		wantPrice, wantTotal string
	}{
		{"WholePercent", "7", "7.25", "0.1", "6.525", "45.68"},                          // 45.675 -> 45.68
		{"HalfCentEven", "1", "0.125", "0", "0.125", "0.12"},                            // half to even
		{"FractionalPercent", "1000", "19.99", "0.125", "17.49125", "17491.25"},         // exact at 8 places
		{"PriceTipsTheCent", "1993", "23.39", "0.123456789", "20.50234570", "40861.17"}, // at 8 places 20.50234571 makes 40861.18
		{"Zero", "0", "10", "0.5", "5", "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := netUnitPrice(d(tt.q), d(tt.price), d(tt.discount), "USD")
			require.True(t, d(tt.wantPrice).Equal(got), "unit price %s, want %s", got, tt.wantPrice)
			rule := model.RoundMoney(model.LineAmount(d(tt.q), d(tt.price), d(tt.discount)), "USD")
			require.True(t, rule.Equal(trytonLineAmount(d(tt.q), got)), "tryton's amount %s is the rule's %s", trytonLineAmount(d(tt.q), got), rule)
			require.True(t, d(tt.wantTotal).Equal(rule))
		})
	}
}

// TestNetUnitPrice_Search checks the rule on a grid of quantities, prices and
// awkward discounts: Tryton's line amount always equals the rule's.
func TestNetUnitPrice_Search(t *testing.T) {
	t.Parallel()
	for _, ds := range []string{"0.123456789", "0.3333333333", "0.05", "0.0666666667"} {
		disc := decimal.RequireFromString(ds)
		for pc := int64(2300); pc < 2500; pc += 7 {
			price := decimal.New(pc, -2)
			for q := int64(1900); q < 2000; q++ {
				qty := decimal.NewFromInt(q)
				got := netUnitPrice(qty, price, disc, "USD")
				rule := model.RoundMoney(model.LineAmount(qty, price, disc), "USD")
				require.True(t, rule.Equal(trytonLineAmount(qty, got)), "%d x %s less %s: tryton %s, rule %s", q, price, disc, trytonLineAmount(qty, got), rule)
			}
		}
	}
}

func TestConn_FieldDigits(t *testing.T) {
	t.Parallel()
	c := &Conn{}
	require.Equal(t, model.Digits{Scale: priceDigits}, c.FieldDigits(model.Order)["lines.unit_price"])
	require.Equal(t, model.Digits{Scale: priceDigits}, c.FieldDigits(model.Product)["list_price"])
	require.Nil(t, c.FieldDigits(model.Account))
}

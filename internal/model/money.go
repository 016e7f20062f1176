package model

import (
	"fmt"
	"strings"

	"github.com/shopspring/decimal"
)

// Concord's rounding rule for money, the ERP's (Tryton's currency.round, which
// sale lines and invoices use): each line amount, quantity x unit price x
// (1 - discount), is rounded once to the currency's minor unit, half to even
// (3754.875 -> 3754.88, 3754.865 -> 3754.86); a total is the sum of its
// rounded lines, never rounded again. See docs/money.md.

// CurrencyDigits returns the number of decimal places of the ISO 4217 currency
// code's minor unit: 0 for JPY and the like, 3 for BHD and the like, 2 for
// every other code, including an empty or unknown one.
func CurrencyDigits(code string) int32 {
	switch strings.ToUpper(code) {
	case "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF":
		return 0
	case "BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND":
		return 3
	}
	return 2
}

// RoundMoney rounds d to the minor unit of currency with Concord's rule: half
// to even.
func RoundMoney(d decimal.Decimal, currency string) decimal.Decimal {
	return d.RoundBank(CurrencyDigits(currency))
}

// LineAmount returns quantity x unit price x (1 - discount), exactly, where
// discount is a fraction (0.1 is 10 %).
func LineAmount(quantity, unitPrice, discount decimal.Decimal) decimal.Decimal {
	return quantity.Mul(unitPrice).Mul(decimal.NewFromInt(1).Sub(discount))
}

// Cents returns d in minor units of currency as text with its sign, for
// messages: "1 cent", "-2 cents" (for a currency with two decimals), or the
// amount itself for other currencies.
func Cents(d decimal.Decimal, currency string) string {
	if CurrencyDigits(currency) != 2 {
		return d.String() + " " + strings.ToUpper(currency)
	}
	n := d.Shift(2)
	if n.Abs().Equal(decimal.NewFromInt(1)) {
		return n.String() + " cent"
	}
	return n.String() + " cents"
}

// Digits is how much of a number a system's field holds, as in SQL's
// numeric(precision, scale): at most Precision significant digits of which
// Scale after the decimal point. Precision 0 means no limit on the digits
// before the point (Tryton checks only its fields' decimals).
type Digits struct {
	Precision int32
	Scale     int32
}

// String returns "numeric(12,2)", or "8 decimals" without a precision.
func (d Digits) String() string {
	if d.Precision == 0 {
		return fmt.Sprintf("%d decimals", d.Scale)
	}
	return fmt.Sprintf("numeric(%d,%d)", d.Precision, d.Scale)
}

// Check returns why v does not fit in d, or nil when it fits: more decimals
// than Scale (the target would round it its own way, or refuse it), or more
// digits before the point than Precision - Scale (the target would overflow).
// The error says how many digits v has and how many fit: "9 decimals, more
// than the 8 it holds".
func (d Digits) Check(v decimal.Decimal) error {
	if !v.Equal(v.Truncate(d.Scale)) {
		places := d.Scale + 1
		for places < -v.Exponent() && !v.Equal(v.Truncate(places)) {
			places++
		}
		return fmt.Errorf("%d decimals, more than the %d it holds", places, d.Scale)
	}
	if d.Precision > 0 {
		whole := v.Abs().Truncate(0)
		n := int32(len(whole.String()))
		if whole.IsZero() {
			n = 0
		}
		if most := d.Precision - d.Scale; n > most {
			return fmt.Errorf("%d digits before the decimal point, more than the %d it holds", n, most)
		}
	}
	return nil
}

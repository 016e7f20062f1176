// Package fx converts amounts between currencies with the exchange rates an
// ERP holds (connector.RateReader), exactly: a converted amount is a fraction
// (amount x rate, or amount / rate), never rounded until the caller's final
// figure (Round).
package fx

import (
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/model"
)

// Table is a system's exchange rates, by pair and date. It is safe for
// concurrent reads once built.
type Table struct {
	// pairs maps currency and base to their rates, oldest first.
	pairs map[pair][]connector.Rate
	bases []string
}

type pair struct{ currency, base string }

// NewTable indexes rates. Currency codes are compared in upper case; a rate
// that is not positive is left out (it converts nothing), and of two rates of
// one pair on one day the later in rates wins.
func NewTable(rates []connector.Rate) *Table {
	t := &Table{pairs: map[pair][]connector.Rate{}}
	bases := map[string]bool{}
	for _, r := range rates {
		if !r.Rate.IsPositive() || r.Currency == "" || r.Base == "" {
			continue
		}
		r.Currency, r.Base = strings.ToUpper(r.Currency), strings.ToUpper(r.Base)
		r.Date = day(r.Date)
		k := pair{r.Currency, r.Base}
		t.pairs[k] = append(t.pairs[k], r)
		bases[r.Base] = true
	}
	for k, rs := range t.pairs {
		slices.SortStableFunc(rs, func(a, b connector.Rate) int { return a.Date.Compare(b.Date) })
		// Keep the last rate given for a day.
		out := rs[:0]
		for _, r := range rs {
			if n := len(out); n > 0 && out[n-1].Date.Equal(r.Date) {
				out[n-1] = r
				continue
			}
			out = append(out, r)
		}
		t.pairs[k] = out
	}
	for b := range bases {
		t.bases = append(t.bases, b)
	}
	slices.Sort(t.bases)
	return t
}

// Len returns the number of rates in t.
func (t *Table) Len() int {
	n := 0
	for _, rs := range t.pairs {
		n += len(rs)
	}
	return n
}

// Rates returns every rate of t, by currency, base and date.
func (t *Table) Rates() []connector.Rate {
	var out []connector.Rate
	for _, rs := range t.pairs {
		out = append(out, rs...)
	}
	slices.SortFunc(out, func(a, b connector.Rate) int {
		if c := strings.Compare(a.Currency+" "+a.Base, b.Currency+" "+b.Base); c != 0 {
			return c
		}
		return a.Date.Compare(b.Date)
	})
	return out
}

// on returns the latest rate of p on or before d.
func (t *Table) on(p pair, d time.Time) (connector.Rate, bool) {
	rs := t.pairs[p]
	i, _ := slices.BinarySearchFunc(rs, d, func(r connector.Rate, d time.Time) int {
		if r.Date.After(d) {
			return 1
		}
		return -1
	})
	if i == 0 {
		return connector.Rate{}, false
	}
	return rs[i-1], true
}

// Conversion says how an amount was converted: from one currency to another,
// with one rate of the ERP (the pair itself) or two (both currencies against
// a common base).
type Conversion struct {
	From, To string
	Rates    []connector.Rate
	// Factor is what the amount was multiplied by, exactly.
	Factor *big.Rat
}

// String names the rates: "1 EUR = 1.08 USD (ERP rate of 2026-03-01)".
func (c Conversion) String() string {
	parts := make([]string, len(c.Rates))
	for i, r := range c.Rates {
		parts[i] = RateString(r)
	}
	return strings.Join(parts, " and ")
}

// RateString names one rate: "1 EUR = 1.08 USD (ERP rate of 2026-03-01)".
func RateString(r connector.Rate) string {
	return fmt.Sprintf("1 %s = %s %s (ERP rate of %s)", r.Base, r.Rate, r.Currency, r.Date.Format(time.DateOnly))
}

// Convert converts amount from one currency into another at the rates of
// on's day: the latest rate on or before it. It tries the pair itself (a rate
// of from against to, or of to against from), then both currencies against a
// common base. The result is exact. When from and to are the same the amount
// is returned with a Conversion without rates. ok is false when t holds no
// rate for it on or before that day; why then says so, for a note.
func (t *Table) Convert(amount decimal.Decimal, from, to string, on time.Time) (_ *big.Rat, _ Conversion, why string, ok bool) {
	from, to = strings.ToUpper(from), strings.ToUpper(to)
	c := Conversion{From: from, To: to, Factor: big.NewRat(1, 1)}
	if from == to {
		return Rat(amount), c, "", true
	}
	d := day(on)
	if r, ok := t.on(pair{from, to}, d); ok { // 1 to = r from
		c.Rates = []connector.Rate{r}
		c.Factor = new(big.Rat).Inv(Rat(r.Rate))
		return new(big.Rat).Mul(Rat(amount), c.Factor), c, "", true
	}
	if r, ok := t.on(pair{to, from}, d); ok { // 1 from = r to
		c.Rates = []connector.Rate{r}
		c.Factor = Rat(r.Rate)
		return new(big.Rat).Mul(Rat(amount), c.Factor), c, "", true
	}
	for _, b := range t.bases {
		rf, okf := t.on(pair{from, b}, d)
		rt, okt := t.on(pair{to, b}, d)
		if okf && okt { // 1 b = rf from = rt to
			c.Rates = []connector.Rate{rf, rt}
			c.Factor = new(big.Rat).Quo(Rat(rt.Rate), Rat(rf.Rate))
			return new(big.Rat).Mul(Rat(amount), c.Factor), c, "", true
		}
	}
	return nil, c, t.missing(from, to, d), false
}

// missing says why from has no rate into to on d.
func (t *Table) missing(from, to string, d time.Time) string {
	var first time.Time
	for p, rs := range t.pairs {
		related := (p.currency == from && p.base == to) || (p.currency == to && p.base == from) || p.currency == from
		if related && (first.IsZero() || rs[0].Date.Before(first)) {
			first = rs[0].Date
		}
	}
	if first.IsZero() {
		return fmt.Sprintf("the ERP holds no rate between %s and %s", from, to)
	}
	return fmt.Sprintf("the ERP holds no rate between %s and %s on or before %s (its first is of %s)", from, to, d.Format(time.DateOnly), first.Format(time.DateOnly))
}

// Rat returns d as an exact fraction.
func Rat(d decimal.Decimal) *big.Rat {
	r := new(big.Rat).SetInt(d.Coefficient())
	return r.Mul(r, scale(d.Exponent()))
}

// scale returns 10^exp as a fraction.
func scale(exp int32) *big.Rat {
	p := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(exp))), nil)
	if exp < 0 {
		return new(big.Rat).SetFrac(big.NewInt(1), p)
	}
	return new(big.Rat).SetInt(p)
}

func abs(x int32) int32 {
	if x < 0 {
		return -x
	}
	return x
}

// Round is the final figure of an exact amount in currency: rounded once,
// half to even, to the currency's minor unit (model.CurrencyDigits), as the
// ERP rounds money.
func Round(r *big.Rat, currency string) decimal.Decimal {
	places := model.CurrencyDigits(currency)
	num := new(big.Int).Mul(r.Num(), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(places)), nil))
	den := r.Denom()
	q, rem := new(big.Int).QuoRem(num, den, new(big.Int))
	// rem has num's sign; compare 2|rem| with den.
	twice := new(big.Int).Abs(rem)
	twice.Lsh(twice, 1)
	switch c := twice.Cmp(den); {
	case c > 0, c == 0 && q.Bit(0) == 1:
		if num.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return decimal.NewFromBigInt(q, -places)
}

// day is t's day at midnight UTC.
func day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Exact returns r as a decimal when it has a finite decimal expansion (its
// denominator divides a power of ten); ok is false otherwise.
func Exact(r *big.Rat) (_ decimal.Decimal, ok bool) {
	den := new(big.Int).Set(r.Denom())
	twos := 0
	for den.Bit(0) == 0 {
		den.Rsh(den, 1)
		twos++
	}
	fives := 0
	five, mod := big.NewInt(5), new(big.Int)
	for {
		q, m := new(big.Int).QuoRem(den, five, mod)
		if m.Sign() != 0 {
			break
		}
		den = q
		fives++
	}
	if den.Cmp(big.NewInt(1)) != 0 {
		return decimal.Zero, false
	}
	k := max(twos, fives)
	num := new(big.Int).Mul(r.Num(), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(k)), nil))
	num.Quo(num, r.Denom())
	return decimal.NewFromBigInt(num, -int32(k)), true
}

package fx_test

import (
	"math/big"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/fx"
)

func date(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

func rate(cur, base, on, r string) connector.Rate {
	return connector.Rate{Currency: cur, Base: base, Date: date(on), Rate: decimal.RequireFromString(r)}
}

func TestTable_Convert(t *testing.T) {
	t.Parallel()
	tab := fx.NewTable([]connector.Rate{
		rate("USD", "EUR", "2026-03-01", "1.25"),
		rate("USD", "EUR", "2026-03-15", "1.6"),
		rate("GBP", "EUR", "2026-03-01", "0.8"),
		rate("usd", "eur", "2026-03-20", "0"), // not positive: left out
	})
	require.Equal(t, 3, tab.Len())
	tests := []struct {
		name, amount, from, to, on string
		want                       string // exact fraction, "" when not converted
		rates                      int
	}{
		{"SameCurrency", "10.005", "EUR", "EUR", "2020-01-01", "2001/200", 0},
		{"ToBase", "100", "USD", "EUR", "2026-03-01", "80", 1},
		{"LatestOnOrBefore", "100", "USD", "EUR", "2026-03-14", "80", 1},
		{"SecondRate", "100", "USD", "EUR", "2026-03-15", "125/2", 1},
		{"FromBase", "100", "EUR", "USD", "2026-03-31", "160", 1},
		{"Cross", "100", "USD", "GBP", "2026-03-02", "64", 2},
		{"BeforeFirstRate", "100", "USD", "EUR", "2026-02-28", "", 0},
		{"NoRate", "100", "JPY", "EUR", "2026-03-02", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, c, why, ok := tab.Convert(decimal.RequireFromString(tt.amount), tt.from, tt.to, date(tt.on))
			if tt.want == "" {
				require.False(t, ok)
				require.Contains(t, why, "the ERP holds no rate between "+tt.from+" and "+tt.to)
				return
			}
			require.True(t, ok, why)
			want, _ := new(big.Rat).SetString(tt.want)
			require.Equal(t, want.String(), got.String())
			require.Len(t, c.Rates, tt.rates)
		})
	}
	_, c, _, _ := tab.Convert(decimal.NewFromInt(1), "USD", "EUR", date("2026-03-16"))
	require.Equal(t, "1 EUR = 1.6 USD (ERP rate of 2026-03-15)", c.String())
	_, _, why, _ := tab.Convert(decimal.NewFromInt(1), "USD", "EUR", date("2026-01-16"))
	require.Equal(t, "the ERP holds no rate between USD and EUR on or before 2026-01-16 (its first is of 2026-03-01)", why)
}

func TestRound(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, cur, want string }{
		{"10/3", "EUR", "3.33"},
		{"20/3", "EUR", "6.67"},
		{"-20/3", "EUR", "-6.67"},
		{"1/200", "EUR", "0"},      // 0.005: half to even
		{"3/200", "EUR", "0.02"},   // 0.015
		{"-3/200", "EUR", "-0.02"}, // -0.015
		{"603/2", "JPY", "302"},
		{"100", "EUR", "100"},
	}
	for _, tt := range tests {
		r, _ := new(big.Rat).SetString(tt.in)
		require.Equal(t, tt.want, fx.Round(r, tt.cur).String(), tt.in)
	}
}

func TestExact(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"1/8": "0.125", "-2001/200": "-10.005", "7": "7", "1/3": "", "1/12": ""} {
		r, _ := new(big.Rat).SetString(in)
		d, ok := fx.Exact(r)
		if want == "" {
			require.False(t, ok, in)
			continue
		}
		require.True(t, ok, in)
		require.Equal(t, want, d.String(), in)
	}
}

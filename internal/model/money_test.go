package model_test

import (
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/model"
)

func TestRoundMoney(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, currency, want string
	}{
		{"3754.875", "USD", "3754.88"}, // half to even: 7 is odd, up
		{"3754.865", "USD", "3754.86"}, // 6 is even, stays
		{"3754.8651", "USD", "3754.87"},
		{"-0.005", "EUR", "0"},
		{"-0.015", "EUR", "-0.02"},
		{"0.125", "usd", "0.12"},
		{"12.5", "JPY", "12"},
		{"13.5", "JPY", "14"},
		{"1.0005", "KWD", "1"},
		{"1.0015", "KWD", "1.002"},
		{"7.005", "", "7"},
	}
	for _, tt := range tests {
		t.Run(tt.in+tt.currency, func(t *testing.T) {
			t.Parallel()
			got := model.RoundMoney(decimal.RequireFromString(tt.in), tt.currency)
			require.True(t, got.Equal(decimal.RequireFromString(tt.want)), "got %s want %s", got, tt.want)
		})
	}
}

func TestLineAmount(t *testing.T) {
	t.Parallel()
	d := decimal.RequireFromString
	require.Equal(t, "3754.875", model.LineAmount(d("3"), d("1472.5"), d("0.15")).String())
	require.Equal(t, "17491.25", model.LineAmount(d("1000"), d("19.99"), d("0.125")).String())
	require.Equal(t, "-59.97", model.LineAmount(d("-3"), d("19.99"), decimal.Zero).String())
}

func TestCents(t *testing.T) {
	t.Parallel()
	d := decimal.RequireFromString
	require.Equal(t, "1 cent", model.Cents(d("0.01"), "USD"))
	require.Equal(t, "-1 cent", model.Cents(d("-0.01"), "USD"))
	require.Equal(t, "3 cents", model.Cents(d("0.03"), "EUR"))
	require.Equal(t, "1 JPY", model.Cents(d("1"), "jpy"))
}

func TestDigits_String(t *testing.T) {
	t.Parallel()
	require.Equal(t, "numeric(12,2)", model.Digits{Precision: 12, Scale: 2}.String())
	require.Equal(t, "8 decimals", model.Digits{Scale: 8}.String())
}

func TestDigits_Check(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		digits  model.Digits
		in      string
		wantErr string
	}{
		{"Fits", model.Digits{Precision: 12, Scale: 2}, "9999999999.99", ""},
		{"TrailingZeros", model.Digits{Precision: 12, Scale: 2}, "1.5000", ""},
		{"Negative", model.Digits{Precision: 12, Scale: 2}, "-9999999999.99", ""},
		{"Zero", model.Digits{Precision: 2, Scale: 2}, "0.5", ""},
		{"ErrTooManyDecimals", model.Digits{Precision: 12, Scale: 2}, "3754.875", "3 decimals, more than the 2 it holds"},
		{"ErrTooBig", model.Digits{Precision: 12, Scale: 2}, "12345678901", "11 digits before the decimal point, more than the 10 it holds"},
		{"ErrTooBigNegative", model.Digits{Precision: 5, Scale: 2}, "-1000", "4 digits before the decimal point, more than the 3 it holds"},
		{"NoPrecision", model.Digits{Scale: 8}, "123456789012345678901.12345678", ""},
		{"ErrNoPrecisionDecimals", model.Digits{Scale: 8}, "1.123456789", "9 decimals, more than the 8 it holds"},
		{"ErrTrailingZerosNotCounted", model.Digits{Scale: 8}, "1.12345678900", "9 decimals"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.digits.Check(decimal.RequireFromString(tt.in))
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

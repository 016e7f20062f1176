package tryton

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector/tryton/trytonrpc"
	"github.com/concord-sync/concord/internal/fx"
)

// TestIntegrationRates: a second currency with two rates, created as admin,
// is read back against the company currency, and converts exactly.
func TestIntegrationRates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, env := openTest(t)

	before, err := c.Rates(ctx)
	require.NoError(t, err)

	admin, err := trytonrpc.New(trytonrpc.Config{URL: env.URL, Database: env.Database, Username: "admin", Password: env.AdminPassword})
	require.NoError(t, err)
	t.Cleanup(func() { _ = admin.Close(context.Background()) })
	code := "XTS" // ISO 4217's code for testing
	ids, err := admin.Create(ctx, "currency.currency", []trytonrpc.Values{{
		"name": "Concord test currency", "code": code, "symbol": "T", "rounding": decimal.RequireFromString("0.01"), "digits": 2,
	}}, nil)
	require.NoError(t, err)
	_, err = admin.Create(ctx, "currency.currency.rate", []trytonrpc.Values{
		{"currency": ids[0], "date": trytonrpc.DateOf(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)), "rate": decimal.RequireFromString("1.25")},
		{"currency": ids[0], "date": trytonrpc.DateOf(time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC)), "rate": decimal.RequireFromString("1.6")},
	}, nil)
	require.NoError(t, err)

	rates, err := c.Rates(ctx)
	require.NoError(t, err)
	require.Len(t, rates, len(before)+2)
	var got []string
	for _, r := range rates {
		require.NotEqual(t, c.currency, r.Currency, "the company currency against itself is left out")
		if r.Currency == code {
			got = append(got, fmt.Sprintf("%s 1 %s = %s %s", r.Date.Format(time.DateOnly), r.Base, r.Rate, r.Currency))
		}
	}
	cur := c.currency
	require.Equal(t, []string{"2026-03-01 1 " + cur + " = 1.25 XTS", "2026-03-15 1 " + cur + " = 1.6 XTS"}, got)

	// 100 XTS on 2026-03-20 are 62.5 in the company currency.
	r, conv, why, ok := fx.NewTable(rates).Convert(decimal.NewFromInt(100), code, cur, time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC))
	require.True(t, ok, why)
	require.Equal(t, "125/2", r.String())
	require.Equal(t, "1 "+cur+" = 1.6 XTS (ERP rate of 2026-03-15)", conv.String())
}

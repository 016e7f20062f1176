package trytonrpc_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector/tryton/trytonrpc"
	"github.com/concord-sync/concord/internal/connector/tryton/trytontest"
)

func TestIntegrationClient(t *testing.T) {
	t.Parallel()
	env := trytontest.Clone(t)
	ctx := context.Background()
	c, err := trytonrpc.New(trytonrpc.Config{URL: env.URL, Database: env.Database, Username: env.User, Password: env.Password})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Close(context.Background())) })
	require.NoError(t, c.Login(ctx))
	require.NotZero(t, c.Context()["company"], "the user's preferences carry the company")

	t.Run("CreateReadChangedSince", func(t *testing.T) {
		since := time.Now().UTC().Add(-2 * time.Second)
		ids, err := c.Create(ctx, "party.party", []trytonrpc.Values{
			{"name": "Acme Corp", "contact_mechanisms": []any{[]any{"create", []trytonrpc.Values{{"type": "email", "value": "billing@acme.example"}}}},
				"addresses": []any{[]any{"create", []trytonrpc.Values{{"street": "1 Main St", "city": "New York", "postal_code": "10001"}}}}},
			{"name": "Beta Ltd", "active": false},
		}, nil)
		require.NoError(t, err)
		require.Len(t, ids, 2)
		recs, err := c.Read(ctx, "party.party", ids, []string{"name", "email", "active", "create_date", "write_date", "_timestamp", "addresses.city"}, nil)
		require.NoError(t, err)
		require.Equal(t, "billing@acme.example", recs[0].String("email"))
		require.True(t, recs[0].Bool("active"))
		require.False(t, recs[1].Bool("active"))
		require.Equal(t, "New York", recs[0].RelatedList("addresses")[0].String("city"))
		require.WithinDuration(t, time.Now().UTC(), recs[0].Time("create_date"), time.Minute, "naive UTC")
		require.NotEmpty(t, recs[0].Timestamp())
		found, err := c.Search(ctx, "party.party", trytonrpc.Domain{
			"OR", trytonrpc.Leaf("create_date", ">=", since), trytonrpc.Leaf("write_date", ">=", since),
		}, trytonrpc.SearchOptions{Context: trytonrpc.Context{"active_test": false}})
		require.NoError(t, err)
		require.Subset(t, found, ids)
	})

	t.Run("Decimal", func(t *testing.T) {
		recs, err := c.SearchRead(ctx, "currency.currency", trytonrpc.Domain{trytonrpc.Leaf("code", "=", "USD")}, []string{"rounding"}, trytonrpc.SearchOptions{Limit: 1})
		require.NoError(t, err)
		d, ok := recs[0].Decimal("rounding")
		require.True(t, ok)
		require.True(t, d.Equal(decimal.RequireFromString("0.01")))
		today, err := c.Today(ctx)
		require.NoError(t, err)
		require.NotZero(t, today.Year)
	})

	t.Run("ErrConcurrency", func(t *testing.T) {
		ids, err := c.Create(ctx, "party.party", []trytonrpc.Values{{"name": "Versioned"}}, nil)
		require.NoError(t, err)
		recs, err := c.Read(ctx, "party.party", ids, []string{"_timestamp"}, nil)
		require.NoError(t, err)
		stale := trytonrpc.Timestamps("party.party", map[int64]string{ids[0]: recs[0].Timestamp()})
		time.Sleep(1100 * time.Millisecond) // _timestamp has 1 s resolution on SQLite
		require.NoError(t, c.Write(ctx, "party.party", ids, trytonrpc.Values{"name": "Versioned 2"}, stale))
		err = c.Write(ctx, "party.party", ids, trytonrpc.Values{"name": "Versioned 3"}, stale)
		require.ErrorIs(t, err, trytonrpc.ErrConcurrency)
	})

	t.Run("ErrUserError", func(t *testing.T) {
		_, err := c.Create(ctx, "party.contact_mechanism", []trytonrpc.Values{{"type": "email", "value": "x@example.com"}}, nil)
		var ue *trytonrpc.UserError
		require.ErrorAs(t, err, &ue)
		require.Contains(t, ue.Message, `"Party"`)
		require.True(t, trytonrpc.IsPermanent(err))
	})

	t.Run("OneSession", func(t *testing.T) {
		require.Equal(t, 1, c.Logins())
	})

	t.Run("ErrUnauthorized", func(t *testing.T) {
		// A login name of its own: failed logins lock that login out for 300 s.
		login := fmt.Sprintf("nobody%d", time.Now().UnixNano())
		bad, err := trytonrpc.New(trytonrpc.Config{URL: env.URL, Database: env.Database, Username: login, Password: "Wrong-Password-1"})
		require.NoError(t, err)
		err = bad.Login(ctx)
		require.ErrorIs(t, err, trytonrpc.ErrUnauthorized)
		require.NotContains(t, err.Error(), "Wrong-Password-1")
	})
}

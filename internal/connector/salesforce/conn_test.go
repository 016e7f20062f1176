package salesforce_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/hubspot/hubspothttp"
	"github.com/concord-sync/concord/internal/connector/salesforce"
	"github.com/concord-sync/concord/internal/model"
	sandbox "github.com/concord-sync/concord/internal/sandbox/salesforce"
)

func usd(s string) model.Value { return model.Money(decimal.RequireFromString(s), "USD") }

func create(t *testing.T, c connector.Connector, e model.Entity, key string, f model.Fields) string {
	t.Helper()
	res, err := c.Write(context.Background(), e, []connector.Op{{Kind: connector.OpCreate, LinkKey: key, Fields: f}})
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
	return res[0].ID
}

func TestConn_DealWithLines(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newFixture(t, sandbox.Config{}).open(t, nil)
	chai := create(t, c, model.Product, "p1", model.Fields{"sku": model.Text("NW-001"), "name": model.Text("Chai"), "active": model.Bool(true), "list_price": usd("18")})
	tofu := create(t, c, model.Product, "p2", model.Fields{"sku": model.Text("NW-014"), "name": model.Text("Tofu"), "active": model.Bool(true), "list_price": usd("23.25")})
	acc := create(t, c, model.Account, "a1", model.Fields{"name": model.Text("Alfreds")})
	ct := create(t, c, model.Contact, "c1", model.Fields{"last_name": model.Text("Anders"), "account": model.Ref(model.Account, acc)})

	line := func(product, qty, price, discount string) model.Record {
		return model.Record{Entity: model.OrderLine, Fields: model.Fields{
			"product": model.Ref(model.Product, product), "quantity": model.Decimal(decimal.RequireFromString(qty)),
			"unit_price": usd(price), "discount": model.Decimal(decimal.RequireFromString(discount)),
		}}
	}
	deal := model.Fields{
		"name": model.Text("Alfreds - order 1"), "stage": model.Text("contract"), "close_date": model.Date(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)),
		"account": model.Ref(model.Account, acc), "contact": model.Ref(model.Contact, ct),
		"lines": model.Lines([]model.Record{line(chai, "3", "18", "0"), line(tofu, "2", "20", "0.1")}),
	}
	id := create(t, c, model.Deal, "d1", deal)
	got, err := c.Get(ctx, model.Deal, []string{id})
	require.NoError(t, err)
	d := got[id]
	require.Equal(t, "contract", d.Fields.Get("stage").Str)
	require.Equal(t, acc, d.Fields.Get("account").Str)
	require.Equal(t, ct, d.Fields.Get("contact").Str)
	lines := d.Fields.Get("lines").Lines
	require.Len(t, lines, 2)
	require.Equal(t, chai, lines[0].Fields.Get("product").Str)
	require.True(t, decimal.RequireFromString("0.1").Equal(lines[1].Fields.Get("discount").Num))
	require.Equal(t, "90", lines[0].Fields.Get("amount").Num.Add(lines[1].Fields.Get("amount").Num).String(),
		"54 (3 x 18) + 36 (2 x 20 less 10%)")
	require.True(t, decimal.RequireFromString("90").Equal(d.Fields.Get("amount").Num), "Salesforce sums the lines into Amount: %s", d.Fields.Get("amount"))

	// Won, and the lines replaced by one.
	res, err := c.Write(ctx, model.Deal, []connector.Op{{Kind: connector.OpUpdate, ID: id, Fields: model.Fields{
		"stage": model.Text("won"), "lines": model.Lines([]model.Record{line(tofu, "1", "23.25", "0")}),
	}}})
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
	got, err = c.Get(ctx, model.Deal, []string{id})
	require.NoError(t, err)
	require.Equal(t, "won", got[id].Fields.Get("stage").Str)
	require.Len(t, got[id].Fields.Get("lines").Lines, 1)
	require.True(t, decimal.RequireFromString("23.25").Equal(got[id].Fields.Get("amount").Num))

	t.Run("ErrProductWithoutPrice", func(t *testing.T) {
		res, err := c.Write(ctx, model.Deal, []connector.Op{{Kind: connector.OpCreate, LinkKey: "d2", Fields: model.Fields{
			"name": model.Text("Bad"), "stage": model.Text("won"), "close_date": model.Date(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)),
			"lines": model.Lines([]model.Record{line("01t5g0000000zzzAAA", "1", "1", "0")}),
		}}})
		require.NoError(t, err)
		var perr *connector.PermanentError
		require.True(t, errors.As(res[0].Err, &perr), "%v", res[0].Err)
		require.Equal(t, "lines", perr.Field)
	})
}

func TestConn_RetriedCreateNeverDuplicates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newFixture(t, sandbox.Config{}).open(t, nil)
	op := connector.Op{Kind: connector.OpCreate, LinkKey: "erp-42", Fields: model.Fields{"name": model.Text("Once")}}
	first, err := c.Write(ctx, model.Account, []connector.Op{op})
	require.NoError(t, err)
	require.False(t, first[0].Existed)
	again, err := c.Write(ctx, model.Account, []connector.Op{op})
	require.NoError(t, err)
	require.NoError(t, again[0].Err)
	require.True(t, again[0].Existed, "the retry updated the record the first attempt made")
	require.Equal(t, first[0].ID, again[0].ID)
	require.True(t, c.CreatesUpsert(model.Account))
	found, err := c.Lookup(ctx, model.Account, []string{"erp-42"})
	require.NoError(t, err)
	require.Len(t, found, 1)
}

func TestConn_Paging(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, sandbox.Config{})
	c := f.open(t, nil)
	const n = 450 // three Collections calls of at most 200
	ops := make([]connector.Op, n)
	for i := range ops {
		fields := model.Fields{"name": model.Text(fmt.Sprintf("Acc %03d", i))}
		if i%97 == 5 {
			fields["name"] = model.Text(strings.Repeat("x", 256)) // refused, in every call
		}
		ops[i] = connector.Op{Kind: connector.OpCreate, LinkKey: fmt.Sprintf("k%03d", i), Fields: fields}
	}
	before := c.Client().Stats().Requests
	res, err := c.Write(ctx, model.Account, ops)
	require.NoError(t, err)
	require.Equal(t, int64(3), c.Client().Stats().Requests-before, "one Collections call per 200 records")
	refused := 0
	for i, r := range res {
		if i%97 == 5 {
			require.Error(t, r.Err, "op %d", i)
			var perr *connector.PermanentError
			require.True(t, errors.As(r.Err, &perr))
			require.Equal(t, "name", perr.Field)
			refused++
			continue
		}
		require.NoError(t, r.Err, "op %d", i)
	}
	require.Equal(t, 5, refused)

	seen := map[string]bool{}
	cursor := ""
	for page := 0; ; page++ {
		require.Less(t, page, 20)
		out, err := c.Read(ctx, connector.ReadRequest{Entity: model.Account, Cursor: cursor, Limit: 100})
		require.NoError(t, err)
		require.LessOrEqual(t, len(out.Records), 100)
		for _, r := range out.Records {
			seen[r.ID] = true
		}
		cursor = out.Next
		if out.Done {
			break
		}
	}
	require.Len(t, seen, n-refused)
}

func TestConn_RateLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("OK", func(t *testing.T) {
		// The org allows 25 requests per 2 s and the connector is told so:
		// every write waits for the budget, none is refused.
		f := newFixture(t, sandbox.Config{DailyLimit: 25, LimitWindow: 2 * time.Second})
		settings := f.with(map[string]any{"rate_limit": 24, "rate_interval": "2s"})
		c := f.open(t, settings, salesforce.Options{Limiter: hubspothttp.NewLimiter(24, 2*time.Second)})
		for b := range 12 {
			ops := make([]connector.Op, 10)
			for i := range ops {
				ops[i] = connector.Op{Kind: connector.OpCreate, LinkKey: fmt.Sprintf("b%d-%d", b, i), Fields: model.Fields{"name": model.Text("x")}}
			}
			res, err := c.Write(ctx, model.Account, ops)
			require.NoError(t, err)
			for _, r := range res {
				require.NoError(t, r.Err)
			}
		}
		require.Zero(t, f.srv.Counts().LimitRefused, "no request over the org's limit")
		require.Zero(t, c.Client().Stats().RateLimited)
	})
	t.Run("ErrLimitExceeded", func(t *testing.T) {
		// Other integrations spent the org's allocation: the refusal is a
		// transient rate-limit error with a wait, never a silent loss.
		f := newFixture(t, sandbox.Config{DailyLimit: 8, LimitWindow: time.Hour})
		c := f.open(t, nil)
		var err error
		for i := 0; i < 20 && err == nil; i++ {
			_, err = c.Write(ctx, model.Account, []connector.Op{{Kind: connector.OpCreate, LinkKey: fmt.Sprint(i), Fields: model.Fields{"name": model.Text("x")}}})
		}
		require.Error(t, err)
		require.ErrorIs(t, err, connector.ErrRateLimited)
		require.True(t, connector.IsTransient(err))
		var ra *connector.RetryAfterError
		require.True(t, errors.As(err, &ra))
		require.Positive(t, ra.After)
		used, allocation := c.Client().LimitUse()
		require.Equal(t, int64(8), allocation)
		require.Equal(t, int64(8), used)
	})
}

func TestConn_SessionExpired(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, sandbox.Config{})
	c := f.open(t, nil)
	create(t, c, model.Account, "a", model.Fields{"name": model.Text("Before")})
	f.srv.ExpireTokens()
	create(t, c, model.Account, "b", model.Fields{"name": model.Text("After")})
	got, err := c.Lookup(ctx, model.Account, []string{"a", "b"})
	require.NoError(t, err)
	require.Len(t, got, 2)
}

func TestConn_JWTBearer(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	f := newFixture(t, sandbox.Config{ClientID: "jwt-app", JWTKey: &key.PublicKey})
	settings := f.with(map[string]any{"client_secret": "", "username": "integration@example.com", "private_key": pemKey})
	delete(settings, "client_secret")
	c := f.open(t, settings)
	create(t, c, model.Account, "a", model.Fields{"name": model.Text("Signed in with a JWT")})

	t.Run("ErrWrongKey", func(t *testing.T) {
		other, err := rsa.GenerateKey(rand.Reader, 2048)
		require.NoError(t, err)
		settings["private_key"] = string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(other)}))
		_, err = salesforce.Open(context.Background(), connector.OpenParams{System: "crm", Settings: settings})
		require.ErrorIs(t, err, connector.ErrUnauthorized)
	})
}

func TestConn_LinkFieldMissing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, sandbox.Config{})
	c := f.open(t, f.with(map[string]any{"create_link_field": false}))
	require.False(t, c.CreatesUpsert(model.Account))
	res, err := c.Write(ctx, model.Account, []connector.Op{{Kind: connector.OpCreate, LinkKey: "x", Fields: model.Fields{"name": model.Text("x")}}})
	require.NoError(t, err)
	require.True(t, connector.IsPermanent(res[0].Err))
	require.Contains(t, res[0].Err.Error(), "Concord_Id__c does not exist")
	found, err := c.Lookup(ctx, model.Account, []string{"x"})
	require.NoError(t, err)
	require.Empty(t, found)
}

func TestValidate(t *testing.T) {
	t.Parallel()
	errs := salesforce.Validate(map[string]any{"client_id": "x", "currency": "euro", "api_version": "30.0",
		"entities": map[string]any{"account": map[string]any{"link_field": "NoSuffix", "fields": map[string]any{"name": "Name", "rating": "Rating__c"}}}})
	var paths []string
	for _, err := range errs {
		var se *connector.SettingError
		if errors.As(err, &se) {
			paths = append(paths, se.Path)
		}
	}
	require.ElementsMatch(t, []string{"client_secret", "currency", "api_version", "entities.account.link_field", "entities.account.fields.rating"}, paths)
	require.Empty(t, salesforce.Validate(map[string]any{"client_id": "x", "client_secret": "y", "currency": "USD", "entities": map[string]any{"account": map[string]any{}}}))
}

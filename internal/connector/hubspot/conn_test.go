package hubspot_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/hubspot"
	"github.com/concord-sync/concord/internal/connector/hubspot/hubspothttp"
	"github.com/concord-sync/concord/internal/model"
	sandbox "github.com/concord-sync/concord/internal/sandbox/hubspot"
)

// readAll reads entity from cursor until Done and returns the deliveries and
// the final cursor.
func readAll(t *testing.T, c connector.Connector, entity model.Entity, cursor string, limit int) ([]model.Record, string) {
	t.Helper()
	var out []model.Record
	for range 10000 {
		res, err := c.Read(context.Background(), connector.ReadRequest{Entity: entity, Cursor: cursor, Limit: limit})
		require.NoError(t, err)
		out = append(out, res.Records...)
		cursor = res.Next
		if res.Done {
			return out, cursor
		}
	}
	require.FailNow(t, "read never reported Done")
	return nil, ""
}

func TestConn_ReadSearchCeiling(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("seeds 10,050 companies")
	}
	f := newFixture(t, sandbox.Config{SearchRateLimit: -1, RateLimit: -1})
	const n = 10050
	want := map[string]bool{}
	for i := range n {
		o, err := f.srv.Put("companies", map[string]string{"name": fmt.Sprintf("Company %05d", i)})
		require.NoError(t, err)
		want[o.ID] = true
	}

	// The sandbox enforces the ceiling: offset paging cannot reach the end.
	api := f.open(t, f.with(map[string]any{"search_rate_limit": 1000, "rate_limit": 100000})).Client()
	_, err := api.Search(context.Background(), "companies", hubspothttp.SearchRequest{Limit: 100, After: "10000"})
	require.Equal(t, http.StatusBadRequest, hubspothttp.StatusOf(err), "sandbox must refuse paging past 10,000: %v", err)

	c := f.open(t, f.with(map[string]any{"search_rate_limit": 1000, "rate_limit": 100000}))
	recs, cursor := readAll(t, c, model.Account, "", 0)
	seen := map[string]int{}
	for _, r := range recs {
		seen[r.ID]++
		require.False(t, r.Archived)
	}
	require.Len(t, seen, n, "every company read")
	for id := range want {
		require.Equal(t, 1, seen[id], "company %s read %d times", id, seen[id])
	}
	for i := 1; i < len(recs); i++ {
		require.False(t, recs[i].UpdatedAt.Before(recs[i-1].UpdatedAt), "oldest first")
	}
	require.Greater(t, c.Client().Stats().Requests, int64(n/200), "paged in search pages of 200")

	// A poll from the final cursor re-reads only the overlap window.
	again, _ := readAll(t, c, model.Account, cursor, 0)
	require.LessOrEqual(t, len(again), n)
}

func TestConn_ReadSearchDelay(t *testing.T) {
	t.Parallel()
	const delay = 300 * time.Millisecond
	f := newFixture(t, sandbox.Config{SearchDelay: delay})
	c := f.open(t, f.with(map[string]any{"overlap": "2s"}))
	ctx := context.Background()
	_, cursor := readAll(t, c, model.Account, "", 0)

	res, err := c.Write(ctx, model.Account, []connector.Op{{Kind: connector.OpCreate, LinkKey: "E1", Fields: model.Fields{"name": model.Text("Late")}}})
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
	id := res[0].ID
	contains := func(recs []model.Record) bool {
		for _, r := range recs {
			if r.ID == id {
				return true
			}
		}
		return false
	}

	recs, next := readAll(t, c, model.Account, cursor, 0)
	require.False(t, contains(recs), "search has not indexed the create yet")
	time.Sleep(delay + 100*time.Millisecond)
	recs, _ = readAll(t, c, model.Account, next, 0)
	require.True(t, contains(recs), "the next poll reads it once indexed")

	// HubSpot's delay varies per record: a newer change may be indexed first and
	// move the cursor past an older one. Only the overlap then finds it.
	late := res[0].UpdatedAt.Add(500 * time.Millisecond).UnixMilli()
	passed := fmt.Sprintf(`hs1:{"s":%d}`, late)
	recs, _ = readAll(t, c, model.Account, passed, 0)
	require.True(t, contains(recs), "overlap 2s re-reads the record 500ms behind the cursor")
	noOverlap := f.open(t, f.with(map[string]any{"overlap": "0s"}))
	recs, _ = readAll(t, noOverlap, model.Account, passed, 0)
	require.False(t, contains(recs), "without overlap it is lost")
}

func TestConn_Write(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("RetriedCreateFindsTheRecord", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, sandbox.Config{})
		c := f.open(t, nil)
		op := connector.Op{Kind: connector.OpCreate, LinkKey: "ERP-42", Fields: model.Fields{"name": model.Text("Acme")}}
		first, err := c.Write(ctx, model.Account, []connector.Op{op})
		require.NoError(t, err)
		require.NoError(t, first[0].Err)
		// The process "crashes" here: the result is lost. The retry looks the
		// link key up, then (as the engine does when it finds nothing) creates.
		found, err := c.Lookup(ctx, model.Account, []string{"ERP-42"})
		require.NoError(t, err)
		require.Equal(t, first[0].ID, found["ERP-42"].ID)
		again, err := c.Write(ctx, model.Account, []connector.Op{op})
		require.NoError(t, err)
		require.NoError(t, again[0].Err)
		require.Equal(t, first[0].ID, again[0].ID, "the upsert by link property updates, never duplicates")
		require.Len(t, f.srv.Objects("companies"), 1)
	})

	t.Run("SameRecordTwiceInOneWrite", func(t *testing.T) {
		t.Parallel()
		// HubSpot refuses a whole batch that names one id twice (400 "Duplicate
		// IDs found in batch input"), and so does the sandbox: the connector
		// never sends one.
		f := newFixture(t, sandbox.Config{})
		proxy, refused := countRefusals(t, f.url)
		c := f.open(t, f.with(map[string]any{"base_url": proxy}))
		res, err := c.Write(ctx, model.Account, []connector.Op{
			{Kind: connector.OpCreate, LinkKey: "A", Fields: model.Fields{"name": model.Text("A1")}},
			{Kind: connector.OpCreate, LinkKey: "B", Fields: model.Fields{"name": model.Text("B")}},
			{Kind: connector.OpCreate, LinkKey: "A", Fields: model.Fields{"name": model.Text("A2")}},
		})
		require.NoError(t, err)
		for _, r := range res {
			require.NoError(t, r.Err)
		}
		require.Equal(t, res[0].ID, res[2].ID, "one record, written twice in order")
		res, err = c.Write(ctx, model.Account, []connector.Op{
			{Kind: connector.OpUpdate, ID: res[0].ID, Fields: model.Fields{"city": model.Text("Paris")}},
			{Kind: connector.OpUpdate, ID: res[1].ID, Fields: model.Fields{"city": model.Text("Rome")}},
			{Kind: connector.OpUpdate, ID: res[0].ID, Fields: model.Fields{"city": model.Text("Lyon")}},
		})
		require.NoError(t, err)
		for _, r := range res {
			require.NoError(t, r.Err)
		}
		require.Zero(t, refused.Load(), "no batch was refused")
		got, err := c.Get(ctx, model.Account, []string{res[0].ID})
		require.NoError(t, err)
		require.Equal(t, "A2", got[res[0].ID].Fields.Get("name").Str)
		require.Equal(t, "Lyon", got[res[0].ID].Fields.Get("city").Str, "the later op wins")
		require.Len(t, f.srv.Objects("companies"), 2)
	})

	t.Run("PartialUpdateFailure", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, sandbox.Config{})
		c := f.open(t, nil)
		res, err := c.Write(ctx, model.Account, []connector.Op{
			{Kind: connector.OpCreate, LinkKey: "A", Fields: model.Fields{"name": model.Text("A")}},
			{Kind: connector.OpCreate, LinkKey: "B", Fields: model.Fields{"name": model.Text("B")}},
		})
		require.NoError(t, err)
		res, err = c.Write(ctx, model.Account, []connector.Op{
			{Kind: connector.OpUpdate, ID: res[0].ID, Fields: model.Fields{"city": model.Text("Paris")}},
			{Kind: connector.OpUpdate, ID: "999999", Fields: model.Fields{"city": model.Text("Nowhere")}},
			{Kind: connector.OpUpdate, ID: res[1].ID, Fields: model.Fields{"city": model.Text("Rome")}},
		})
		require.NoError(t, err)
		require.NoError(t, res[0].Err)
		require.NoError(t, res[2].Err)
		require.ErrorIs(t, res[1].Err, connector.ErrNotFound)
		require.True(t, connector.IsPermanent(res[1].Err))
		got, err := c.Get(ctx, model.Account, []string{res[0].ID, res[2].ID})
		require.NoError(t, err)
		require.Equal(t, "Paris", got[res[0].ID].Fields.Get("city").Str)
		require.Equal(t, "Rome", got[res[2].ID].Fields.Get("city").Str)
	})

	t.Run("WholeBatchRefusalIsSplit", func(t *testing.T) {
		t.Parallel()
		// Real HubSpot often answers 400 for a whole batch when one input is
		// bad. A proxy in front of the sandbox does that; the connector halves
		// the batch until the bad input is alone.
		f := newFixture(t, sandbox.Config{})
		proxy := refuseWholeBatch(t, f.url, "Bad")
		c := f.open(t, f.with(map[string]any{"base_url": proxy}))
		ops := make([]connector.Op, 7)
		for i := range ops {
			name := fmt.Sprintf("Good %d", i)
			if i == 4 {
				name = "Bad"
			}
			ops[i] = connector.Op{Kind: connector.OpCreate, LinkKey: fmt.Sprint("K", i), Fields: model.Fields{"name": model.Text(name)}}
		}
		res, err := c.Write(ctx, model.Account, ops)
		require.NoError(t, err)
		for i, r := range res {
			if i == 4 {
				require.True(t, connector.IsPermanent(r.Err), "bad input refused permanently: %v", r.Err)
				continue
			}
			require.NoError(t, r.Err, "op %d", i)
		}
		require.Len(t, f.srv.Objects("companies"), 6)
	})

	t.Run("ClientSideTypeErrorNamesField", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, sandbox.Config{})
		c := f.open(t, nil)
		res, err := c.Write(ctx, model.Product, []connector.Op{
			{Kind: connector.OpCreate, LinkKey: "P1", Fields: model.Fields{"list_price": model.Money(decimal.NewFromInt(1), "EUR")}},
		})
		require.NoError(t, err)
		var perr *connector.PermanentError
		require.ErrorAs(t, res[0].Err, &perr)
		require.Equal(t, "list_price", perr.Field)
	})
}

func TestConn_DealAssociations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, sandbox.Config{})
	c := f.open(t, f.with(map[string]any{"entities": map[string]any{
		"account": map[string]any{}, "product": map[string]any{}, "deal": map[string]any{}, "order_line": map[string]any{},
	}}))
	acc, err := c.Write(ctx, model.Account, []connector.Op{{Kind: connector.OpCreate, LinkKey: "C1", Fields: model.Fields{"name": model.Text("Acme")}}})
	require.NoError(t, err)
	prod, err := c.Write(ctx, model.Product, []connector.Op{{Kind: connector.OpCreate, LinkKey: "P1", Fields: model.Fields{
		"sku": model.Text("NW-001"), "name": model.Text("Chai"), "list_price": model.Money(decimal.RequireFromString("18.00"), "USD")}}})
	require.NoError(t, err)
	line := func(qty, price string) model.Record {
		return model.Record{Entity: model.OrderLine, Fields: model.Fields{
			"product":    model.Ref(model.Product, prod[0].ID),
			"quantity":   model.Decimal(decimal.RequireFromString(qty)),
			"unit_price": model.Money(decimal.RequireFromString(price), "USD"),
			"discount":   model.Decimal(decimal.RequireFromString("0.1")),
		}}
	}
	deal := model.Fields{
		"name":       model.Text("Big order"),
		"stage":      model.Text("won"),
		"amount":     model.Money(decimal.RequireFromString("0.3"), "EUR"),
		"close_date": model.Date(time.Date(2025, 3, 31, 0, 0, 0, 0, time.UTC)),
		"account":    model.Ref(model.Account, acc[0].ID),
		"lines":      model.Lines([]model.Record{line("3", "18.10"), line("0.5", "7.25")}),
	}
	res, err := c.Write(ctx, model.Deal, []connector.Op{{Kind: connector.OpCreate, LinkKey: "SO-1", Fields: deal}})
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
	id := res[0].ID
	require.Equal(t, "closedwon", mustGet(t, f, "deals", id).Value("dealstage"))
	require.Equal(t, "EUR", mustGet(t, f, "deals", id).Value("deal_currency_code"))

	got, err := c.Get(ctx, model.Deal, []string{id})
	require.NoError(t, err)
	r := got[id]
	for _, name := range []string{"name", "stage", "amount", "close_date", "account"} {
		require.True(t, deal[name].Equal(r.Fields[name]), "%s: want %s, got %s", name, deal[name], r.Fields[name])
	}
	lines := r.Fields.Get("lines").Lines
	require.Len(t, lines, 2)
	require.Equal(t, "54.3", lines[0].Fields.Get("unit_price").Num.Mul(lines[0].Fields.Get("quantity").Num).String())
	// 3 x 18.10 less 10 % = 48.87, computed by HubSpot, exact.
	require.Equal(t, "48.87", lines[0].Fields.Get("amount").Num.String())
	require.True(t, lines[0].Fields.Get("discount").Equal(model.Decimal(decimal.RequireFromString("0.1"))))
	require.Equal(t, prod[0].ID, lines[0].Fields.Get("product").Str)

	// Replacing the lines and the account keeps one of each.
	acc2, err := c.Write(ctx, model.Account, []connector.Op{{Kind: connector.OpCreate, LinkKey: "C2", Fields: model.Fields{"name": model.Text("Beta")}}})
	require.NoError(t, err)
	res, err = c.Write(ctx, model.Deal, []connector.Op{{Kind: connector.OpUpdate, ID: id, Fields: model.Fields{
		"account": model.Ref(model.Account, acc2[0].ID), "lines": model.Lines([]model.Record{line("1", "1")}),
	}}})
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
	require.Equal(t, []string{acc2[0].ID}, f.srv.Associations("deals", id, "companies"))
	require.Len(t, f.srv.Associations("deals", id, "line_items"), 1)

	// Read returns the deal with its associations.
	recs, _ := readAll(t, c, model.Deal, "", 0)
	require.Len(t, recs, 1)
	require.Equal(t, acc2[0].ID, recs[0].Fields.Get("account").Str)
	require.Len(t, recs[0].Fields.Get("lines").Lines, 1)
}

func mustGet(t *testing.T, f *fixture, typ, id string) sandbox.Object {
	t.Helper()
	o, ok := f.srv.Get(typ, id)
	require.True(t, ok, "%s %s", typ, id)
	return o
}

func TestConn_ReadArchived(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, sandbox.Config{})
	c := f.open(t, nil)
	a, err := f.srv.Put("companies", map[string]string{"name": "Gone soon"})
	require.NoError(t, err)
	_, cursor := readAll(t, c, model.Account, "", 0)
	require.NoError(t, f.srv.Archive("companies", a.ID))

	recs, _ := readAll(t, c, model.Account, cursor, 0)
	var archived []model.Record
	for _, r := range recs {
		if r.ID == a.ID && r.Archived {
			archived = append(archived, r)
		}
	}
	require.Len(t, archived, 1, "the archive is a change Read reports")
	got, err := c.Get(ctx, model.Account, []string{a.ID})
	require.NoError(t, err)
	require.True(t, got[a.ID].Archived)
}

func TestOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("ErrUnauthorized", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, sandbox.Config{})
		_, err := hubspot.Open(ctx, connector.OpenParams{System: "crm", Settings: f.with(map[string]any{"token": "wrong"})})
		require.ErrorIs(t, err, connector.ErrUnauthorized)
	})

	t.Run("MissingLinkPropertyFailsCreates", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, sandbox.Config{})
		c := f.open(t, f.with(map[string]any{"create_link_property": false}))
		res, err := c.Write(ctx, model.Account, []connector.Op{{Kind: connector.OpCreate, LinkKey: "X", Fields: model.Fields{"name": model.Text("X")}}})
		require.NoError(t, err)
		require.True(t, connector.IsPermanent(res[0].Err))
		require.Contains(t, res[0].Err.Error(), "erp_id")
		require.Empty(t, f.srv.Objects("companies"))
	})

	t.Run("CreatesUniqueLinkProperty", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, sandbox.Config{})
		c := f.open(t, nil)
		p, err := c.Client().GetProperty(ctx, "companies", "erp_id")
		require.NoError(t, err)
		require.True(t, p.HasUniqueValue)
	})
}

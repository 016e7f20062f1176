package pipedrive_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/pipedrive"
	"github.com/concord-sync/concord/internal/connector/pipedrive/pipedrivehttp"
	"github.com/concord-sync/concord/internal/model"
	sandbox "github.com/concord-sync/concord/internal/sandbox/pipedrive"
)

func createAccounts(t *testing.T, c connector.Connector, first, n int) []string {
	t.Helper()
	ops := make([]connector.Op, n)
	for i := range n {
		ops[i] = connector.Op{Kind: connector.OpCreate, LinkKey: fmt.Sprint("erp-", first+i), Fields: model.Fields{"name": model.Text(fmt.Sprint("Org ", first+i))}}
	}
	res, err := c.Write(context.Background(), model.Account, ops)
	require.NoError(t, err)
	ids := make([]string, n)
	for i, r := range res {
		require.NoError(t, r.Err)
		ids[i] = r.ID
	}
	return ids
}

// TestConn_ReadPaging reads 1,203 accounts in pages of Pipedrive's largest
// size and then only what changed, with an overlap that re-delivers but never
// loses, on a clock where many records share one update_time second.
func TestConn_ReadPaging(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sandbox.Config{RateLimit: -1})
	c := f.open(t, f.with(map[string]any{"overlap": "1s"}))
	ctx := context.Background()
	ids := createAccounts(t, c, 0, 1203)

	seen := map[string]int{}
	cursor, pages := "", 0
	for {
		res, err := c.Read(ctx, connector.ReadRequest{Entity: model.Account, Cursor: cursor})
		require.NoError(t, err)
		require.LessOrEqual(t, len(res.Records), 500)
		pages++
		for _, r := range res.Records {
			seen[r.ID]++
		}
		cursor = res.Next
		if res.Done {
			break
		}
	}
	require.Len(t, seen, len(ids))
	require.Equal(t, 3, pages, "500 per page")

	changed := []string{ids[5], ids[700], ids[1202]}
	for _, id := range changed {
		res, err := c.Write(ctx, model.Account, []connector.Op{{Kind: connector.OpUpdate, ID: id, Fields: model.Fields{"name": model.Text("changed " + id)}}})
		require.NoError(t, err)
		require.NoError(t, res[0].Err)
	}
	got := map[string]model.Record{}
	for {
		res, err := c.Read(ctx, connector.ReadRequest{Entity: model.Account, Cursor: cursor, Limit: 50})
		require.NoError(t, err)
		for _, r := range res.Records {
			got[r.ID] = r
		}
		cursor = res.Next
		if res.Done {
			break
		}
	}
	for _, id := range changed {
		require.Equal(t, "changed "+id, got[id].Fields.Get("name").Str, "change of %s read", id)
	}
	require.LessOrEqual(t, len(got), len(ids), "the overlap re-reads only its window")
}

// TestConn_PartialBatch: one batch with a valid create, a refused create, an
// update of a record that does not exist, and a valid update: each has its
// own outcome and the valid ones land.
func TestConn_PartialBatch(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sandbox.Config{RateLimit: -1})
	c := f.open(t, nil)
	ctx := context.Background()
	ids := createAccounts(t, c, 0, 1)
	res, err := c.Write(ctx, model.Account, []connector.Op{
		{Kind: connector.OpCreate, LinkKey: "ok", Fields: model.Fields{"name": model.Text("Fine")}},
		{Kind: connector.OpCreate, LinkKey: "bad", Fields: model.Fields{"city": model.Text("No name")}},
		{Kind: connector.OpUpdate, ID: "424242", Fields: model.Fields{"name": model.Text("Gone")}},
		{Kind: connector.OpUpdate, ID: ids[0], Fields: model.Fields{"city": model.Text("Oslo")}},
	})
	require.NoError(t, err)
	require.Len(t, res, 4)
	require.NoError(t, res[0].Err)
	require.True(t, connector.IsPermanent(res[1].Err), "missing name: %v", res[1].Err)
	require.ErrorContains(t, res[1].Err, "name")
	require.ErrorIs(t, res[2].Err, connector.ErrNotFound)
	require.True(t, connector.IsPermanent(res[2].Err))
	require.NoError(t, res[3].Err)
	got, err := c.Get(ctx, model.Account, []string{res[0].ID, ids[0]})
	require.NoError(t, err)
	require.Equal(t, "Fine", got[res[0].ID].Fields.Get("name").Str)
	require.Equal(t, "Oslo", got[ids[0]].Fields.Get("city").Str)
	require.Equal(t, "Org 0", got[ids[0]].Fields.Get("name").Str, "an update writes only its fields")
}

// counting wraps the sandbox to count the 429s it sends the connector (not
// those of requests marked X-Other-Client).
func counting(h http.Handler, n429 *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		if rec.status == http.StatusTooManyRequests && r.Header.Get("X-Other-Client") == "" {
			n429.Add(1)
		}
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func TestConn_RateLimit(t *testing.T) {
	t.Parallel()
	// The sandbox allows 10 requests per 200 ms window.
	newSrv := func(t *testing.T) (*sandbox.Server, string, *atomic.Int64) {
		srv := sandbox.New(sandbox.Config{Token: token, RateLimit: 10, Window: 200 * time.Millisecond})
		var n429 atomic.Int64
		ts := httptest.NewServer(counting(srv.Handler(), &n429))
		t.Cleanup(func() { ts.Close(); _ = srv.Close() })
		return srv, ts.URL, &n429
	}
	settings := func(url string) map[string]any {
		return map[string]any{"base_url": url, "api_token": token, "currency": "USD", "create_link_field": true,
			"rate_limit": 10, "rate_interval": "200ms", "entities": map[string]any{"account": map[string]any{}}}
	}
	open := func(t *testing.T, url string, lim *pipedrivehttp.Limiter) *pipedrive.Conn {
		c, err := pipedrive.OpenWith(context.Background(), connector.OpenParams{System: "crm", Settings: settings(url), Logger: testLogger(t)},
			pipedrive.Options{Limiter: lim})
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close(context.Background()) })
		return c
	}
	t.Run("WithinBudget", func(t *testing.T) {
		t.Parallel()
		_, url, n429 := newSrv(t)
		c := open(t, url, pipedrivehttp.NewLimiter(10, 200*time.Millisecond))
		ids := createAccounts(t, c, 0, 60)
		require.Len(t, ids, 60)
		require.Zero(t, n429.Load(), "the limiter keeps under the documented budget")
		waits, _ := c.RateLimitWaits()
		require.Positive(t, waits, "60 writes at 10 per window must wait")
	})
	t.Run("SharedToken", func(t *testing.T) {
		t.Parallel()
		// Another client spends the same token all along: the connector
		// meets 429s, which it waits out.
		_, url, n429 := newSrv(t)
		c := open(t, url, pipedrivehttp.NewLimiter(10, 200*time.Millisecond))
		ctx, stop := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/api/v2/stages", nil)
				req.Header.Set("x-api-token", token)
				req.Header.Set("X-Other-Client", "1")
				if resp, err := http.DefaultClient.Do(req); err == nil {
					_ = resp.Body.Close()
				}
				time.Sleep(30 * time.Millisecond)
			}
		}()
		ids := createAccounts(t, c, 0, 60)
		stop()
		<-done
		require.Len(t, ids, 60, "every record lands: no 429 reaches the caller")
		require.Positive(t, n429.Load(), "the sandbox did refuse some requests")
		got, err := c.Lookup(context.Background(), model.Account, []string{"erp-0", "erp-59"})
		require.NoError(t, err)
		require.Len(t, got, 2)
	})
}

func TestConn_VerifyWebhook(t *testing.T) {
	t.Parallel()
	now := time.Now()
	events := make(chan []connector.WebhookEvent, 10)
	errs := make(chan error, 10)
	var c *pipedrive.Conn
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		evs, err := c.VerifyWebhook(r, body)
		if err != nil {
			errs <- err
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		events <- evs
	}))
	t.Cleanup(recv.Close)
	f := newFixture(t, sandbox.Config{RateLimit: -1, WebhookRetries: []time.Duration{}})
	c = f.open(t, f.with(map[string]any{"webhook_user": "concord", "webhook_password": "s3cret"}), pipedrive.Options{Now: func() time.Time { return now }})
	f.srv.AddWebhook(recv.URL, "concord", "s3cret")
	next := func() []connector.WebhookEvent {
		select {
		case evs := <-events:
			return evs
		case err := <-errs:
			t.Fatalf("refused: %v", err)
		case <-time.After(5 * time.Second):
			t.Fatal("no delivery")
		}
		return nil
	}

	t.Run("OK", func(t *testing.T) {
		ids := createAccounts(t, c, 0, 1)
		evs := next()
		require.Len(t, evs, 1)
		require.Equal(t, model.Account, evs[0].Entity)
		require.Equal(t, ids[0], evs[0].RecordID)
		require.Empty(t, evs[0].Unrouted)
		require.NotEmpty(t, evs[0].Key)
	})
	sign := func(user, pass string, body map[string]any) error {
		b, _ := json.Marshal(body)
		req := httptest.NewRequest(http.MethodPost, "/webhooks/crm", bytes.NewReader(b))
		req.SetBasicAuth(user, pass)
		_, err := c.VerifyWebhook(req, b)
		return err
	}
	event := func(ts string) map[string]any {
		return map[string]any{"meta": map[string]any{"action": "change", "entity": "deal", "entity_id": "7", "id": "e1",
			"timestamp": ts, "version": "2.0"}, "data": map[string]any{"id": 7}}
	}
	t.Run("ErrForged", func(t *testing.T) {
		err := sign("concord", "guess", event(now.UTC().Format(time.RFC3339)))
		require.ErrorIs(t, err, connector.ErrWebhookForged)
		require.ErrorIs(t, sign("", "", event(now.UTC().Format(time.RFC3339))), connector.ErrWebhookForged)
	})
	t.Run("ErrStale", func(t *testing.T) {
		err := sign("concord", "s3cret", event(now.Add(-time.Hour).UTC().Format(time.RFC3339)))
		require.ErrorIs(t, err, connector.ErrWebhookStale)
	})
	t.Run("ErrMalformed", func(t *testing.T) {
		ev := event(now.UTC().Format(time.RFC3339))
		ev["meta"].(map[string]any)["version"] = "1.0"
		require.ErrorIs(t, sign("concord", "s3cret", ev), connector.ErrWebhookMalformed)
	})
	t.Run("DealProductAnnouncesDeal", func(t *testing.T) {
		b, _ := json.Marshal(map[string]any{"meta": map[string]any{"action": "create", "entity": "deal_product", "entity_id": "31",
			"id": "e2", "timestamp": now.Unix(), "version": "2.0"}, "data": map[string]any{"id": 31, "deal_id": 9}})
		req := httptest.NewRequest(http.MethodPost, "/webhooks/crm", bytes.NewReader(b))
		req.SetBasicAuth("concord", "s3cret")
		evs, err := c.VerifyWebhook(req, b)
		require.NoError(t, err)
		require.Equal(t, model.Deal, evs[0].Entity)
		require.Equal(t, "9", evs[0].RecordID)
	})
	t.Run("Unrouted", func(t *testing.T) {
		b, _ := json.Marshal(map[string]any{"meta": map[string]any{"action": "create", "entity": "activity", "entity_id": "3",
			"id": "e3", "timestamp": now.UTC().Format(time.RFC3339), "version": "2.0"}})
		req := httptest.NewRequest(http.MethodPost, "/webhooks/crm", bytes.NewReader(b))
		req.SetBasicAuth("concord", "s3cret")
		evs, err := c.VerifyWebhook(req, b)
		require.NoError(t, err)
		require.NotEmpty(t, evs[0].Unrouted)
	})
}

func TestOpen_Errors(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sandbox.Config{RateLimit: -1})
	t.Run("ErrUnauthorized", func(t *testing.T) {
		_, err := pipedrive.OpenWith(context.Background(), connector.OpenParams{System: "crm", Settings: f.with(map[string]any{"api_token": "wrong"})},
			pipedrive.Options{Limiter: pipedrivehttp.NewLimiter(100, time.Second)})
		require.ErrorIs(t, err, connector.ErrUnauthorized)
	})
	t.Run("ErrMissingCustomField", func(t *testing.T) {
		_, err := pipedrive.OpenWith(context.Background(), connector.OpenParams{System: "crm", Settings: f.with(map[string]any{
			"entities": map[string]any{"account": map[string]any{"fields": map[string]any{"vat": "VAT number"}}}})},
			pipedrive.Options{Limiter: pipedrivehttp.NewLimiter(100, time.Second)})
		require.ErrorContains(t, err, `custom field "VAT number"`)
	})
	t.Run("NoLinkField", func(t *testing.T) {
		g := newFixture(t, sandbox.Config{RateLimit: -1})
		c := g.open(t, g.with(map[string]any{"create_link_field": false}))
		res, err := c.Write(context.Background(), model.Account, []connector.Op{{Kind: connector.OpCreate, LinkKey: "x", Fields: model.Fields{"name": model.Text("A")}}})
		require.NoError(t, err)
		require.True(t, connector.IsPermanent(res[0].Err))
		require.ErrorContains(t, res[0].Err, "link field")
	})
	t.Run("Validate", func(t *testing.T) {
		errs := pipedrive.Validate(map[string]any{"currency": "usd", "stages": map[string]any{"won": 3}, "entities": map[string]any{"order": map[string]any{}}})
		var msgs []string
		for _, e := range errs {
			var se *connector.SettingError
			require.True(t, errors.As(e, &se), "%v", e)
			msgs = append(msgs, se.Path)
		}
		require.Contains(t, msgs, "api_token")
		require.Contains(t, msgs, "stages.won")
		require.Contains(t, msgs, "entities.order")
	})
}

func TestConn_Diagnose(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sandbox.Config{RateLimit: -1})
	_, err := f.srv.DefineField(sandbox.Organizations, sandbox.CustomField{Name: "VAT", FieldType: "date"})
	require.NoError(t, err)
	settings := f.with(map[string]any{"create_link_field": false, "entities": map[string]any{"account": map[string]any{"fields": map[string]any{
		"name": "name", "vat": "VAT", "customer_number": "Customer number"}}}})
	c, err := pipedrive.OpenWith(context.Background(), connector.OpenParams{System: "crm", Settings: settings, ReadOnly: true},
		pipedrive.Options{Limiter: pipedrivehttp.NewLimiter(100, time.Second)})
	require.NoError(t, err, "a read-only open reports problems instead of failing")
	probs, err := c.Diagnose(context.Background())
	require.NoError(t, err)
	bySetting := map[string]connector.Problem{}
	for _, p := range probs {
		bySetting[p.Setting] = p
	}
	require.Len(t, probs, 3, "%+v", probs)
	require.Contains(t, bySetting["entities.account.fields.vat"].Msg, "is date and cannot hold text")
	require.Contains(t, bySetting["entities.account.fields.customer_number"].Msg, "does not exist")
	require.Contains(t, bySetting["entities.account.fields.customer_number"].Fix, `"Customer number"`)
	require.True(t, bySetting["link_field"].Writes, "a missing link field matters for writes only")

	_, err = pipedrive.OpenWith(context.Background(), connector.OpenParams{System: "crm", Settings: settings},
		pipedrive.Options{Limiter: pipedrivehttp.NewLimiter(100, time.Second)})
	require.ErrorContains(t, err, `custom field "Customer number"`, "a sync's open still fails on a mapped field it cannot use")
}

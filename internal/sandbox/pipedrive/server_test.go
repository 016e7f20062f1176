package pipedrive_test

import (
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/northwind"
	"github.com/concord-sync/concord/internal/sandbox/pipedrive"
)

const token = "tok"

type testBundle struct {
	srv *pipedrive.Server
	url string
}

func setup(t *testing.T, cfg pipedrive.Config) *testBundle {
	t.Helper()
	if cfg.Token == "" {
		cfg.Token = token
	}
	srv := pipedrive.New(cfg)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ts.Close()
		_ = srv.Close()
	})
	return &testBundle{srv: srv, url: ts.URL}
}

// call sends a request with the API token header and decodes the body.
func (b *testBundle) call(t *testing.T, method, path string, body any, hdr ...string) (int, map[string]any, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, b.url+path, rd)
	require.NoError(t, err)
	if len(hdr) == 0 {
		hdr = []string{"x-api-token", token}
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	require.NoError(t, dec.Decode(&out))
	return resp.StatusCode, out, resp.Header
}

func data(t *testing.T, body map[string]any) map[string]any {
	t.Helper()
	require.Equal(t, true, body["success"], "body: %v", body)
	m, ok := body["data"].(map[string]any)
	require.True(t, ok, "data is not an object: %v", body["data"])
	return m
}

func TestServer_Auth(t *testing.T) {
	t.Parallel()
	b := setup(t, pipedrive.Config{OAuthToken: "oauth"})
	status, body, _ := b.call(t, "GET", "/api/v2/deals", nil, "x-api-token", "wrong")
	require.Equal(t, http.StatusUnauthorized, status)
	require.Equal(t, false, body["success"])
	require.Equal(t, "unauthorized access", body["error"])
	status, _, _ = b.call(t, "GET", "/api/v2/deals", nil, "Accept", "application/json")
	require.Equal(t, http.StatusUnauthorized, status)

	status, _, _ = b.call(t, "GET", "/api/v2/deals?api_token="+token, nil, "Accept", "application/json")
	require.Equal(t, http.StatusOK, status, "api_token query parameter")
	status, _, _ = b.call(t, "GET", "/api/v2/deals", nil, "Authorization", "Bearer oauth")
	require.Equal(t, http.StatusOK, status, "OAuth bearer")
	status, _, _ = b.call(t, "GET", "/api/v2/deals", nil, "Authorization", "Bearer other")
	require.Equal(t, http.StatusUnauthorized, status)
}

func TestServer_ListPaging(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	tick := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	b := setup(t, pipedrive.Config{Now: clock, RateLimit: -1})
	var ids []string
	for i := range 7 {
		status, body, _ := b.call(t, "POST", "/api/v2/organizations", map[string]any{"name": "Org " + string(rune('A'+i))})
		require.Equal(t, http.StatusOK, status, "%v", body)
		ids = append(ids, data(t, body)["id"].(json.Number).String())
		tick(time.Second)
	}
	// Touch the first: it moves to the end of an update_time listing.
	_, body, _ := b.call(t, "PATCH", "/api/v2/organizations/"+ids[0], map[string]any{"name": "Org A2"})
	require.Equal(t, "Org A2", data(t, body)["name"])

	t.Run("Cursor", func(t *testing.T) {
		var got []string
		cursor := ""
		pages := 0
		for {
			path := "/api/v2/organizations?limit=3&sort_by=update_time"
			if cursor != "" {
				path += "&cursor=" + cursor
			}
			status, body, _ := b.call(t, "GET", path, nil)
			require.Equal(t, http.StatusOK, status)
			pages++
			items := body["data"].([]any)
			require.LessOrEqual(t, len(items), 3)
			for _, it := range items {
				got = append(got, it.(map[string]any)["id"].(json.Number).String())
			}
			next := body["additional_data"].(map[string]any)["next_cursor"]
			if next == nil {
				break
			}
			cursor = next.(string)
		}
		require.Equal(t, 3, pages)
		require.Equal(t, append(ids[1:], ids[0]), got, "sorted by update_time, then id")
	})
	t.Run("UpdatedSince", func(t *testing.T) {
		since := time.Date(2026, 1, 2, 3, 4, 10, 0, time.UTC).Format(time.RFC3339)
		status, body, _ := b.call(t, "GET", "/api/v2/organizations?sort_by=update_time&updated_since="+since, nil)
		require.Equal(t, http.StatusOK, status)
		var got []string
		for _, it := range body["data"].([]any) {
			got = append(got, it.(map[string]any)["id"].(json.Number).String())
		}
		require.Equal(t, []string{ids[5], ids[6], ids[0]}, got, "inclusive of updated_since")
	})
	t.Run("ErrLimit", func(t *testing.T) {
		status, body, _ := b.call(t, "GET", "/api/v2/organizations?limit=501", nil)
		require.Equal(t, http.StatusBadRequest, status)
		require.Equal(t, "ERR_SCHEMA_VALIDATION_FAILED", body["code"])
	})
}

func TestServer_Validation(t *testing.T) {
	t.Parallel()
	b := setup(t, pipedrive.Config{RateLimit: -1})
	tier, err := b.srv.DefineField(pipedrive.Deals, pipedrive.CustomField{Name: "Tier", FieldType: "enum", Options: []pipedrive.Option{{Label: "Gold"}}})
	require.NoError(t, err)
	require.Len(t, tier.Key, 40, "custom fields are keyed by a 40-character hash")
	for name, tc := range map[string]struct {
		body map[string]any
		msg  string
	}{
		"RequiredTitle":  {map[string]any{"value": 10}, "Parameter 'title' is required"},
		"UnknownParam":   {map[string]any{"title": "x", "colour": "red"}, "Parameter 'colour' is not allowed"},
		"BadStatus":      {map[string]any{"title": "x", "status": "closed"}, "Parameter 'status' must be one of"},
		"NumberAsString": {map[string]any{"title": "x", "value": "10"}, "Parameter 'value' must be a number"},
		"UnknownCustom":  {map[string]any{"title": "x", "custom_fields": map[string]any{"abc": 1}}, "custom field 'abc' does not exist"},
		"BadOption":      {map[string]any{"title": "x", "custom_fields": map[string]any{tier.Key: 999}}, tier.Key},
		"NoSuchOrg":      {map[string]any{"title": "x", "org_id": 42}, "organization with id 42 does not exist"},
	} {
		t.Run(name, func(t *testing.T) {
			status, body, _ := b.call(t, "POST", "/api/v2/deals", tc.body)
			require.Equal(t, http.StatusBadRequest, status)
			require.Equal(t, false, body["success"])
			require.Contains(t, body["error"], tc.msg)
			require.Equal(t, "ERR_SCHEMA_VALIDATION_FAILED", body["code"])
			require.NotEmpty(t, body["error_info"])
		})
	}
	status, body, _ := b.call(t, "GET", "/api/v2/deals/77", nil)
	require.Equal(t, http.StatusNotFound, status)
	require.Equal(t, false, body["success"])
}

func TestServer_DealStatus(t *testing.T) {
	t.Parallel()
	b := setup(t, pipedrive.Config{RateLimit: -1})
	_, body, _ := b.call(t, "POST", "/api/v2/deals", map[string]any{"title": "Big", "value": 100.5, "currency": "EUR"})
	d := data(t, body)
	require.Equal(t, "open", d["status"])
	require.Nil(t, d["won_time"])
	require.Equal(t, json.Number("1"), d["stage_id"], "the pipeline's first stage")
	id := d["id"].(json.Number).String()

	_, body, _ = b.call(t, "PATCH", "/api/v2/deals/"+id, map[string]any{"status": "won"})
	d = data(t, body)
	require.Equal(t, "won", d["status"])
	require.NotNil(t, d["won_time"])
	require.Equal(t, d["won_time"], d["close_time"])
	_, err := time.Parse(time.RFC3339, d["won_time"].(string))
	require.NoError(t, err, "RFC 3339 timestamps")

	_, body, _ = b.call(t, "PATCH", "/api/v2/deals/"+id, map[string]any{"status": "open"})
	require.Nil(t, data(t, body)["won_time"], "reopening clears won_time")

	status, body, _ := b.call(t, "DELETE", "/api/v2/deals/"+id, nil)
	require.Equal(t, http.StatusOK, status)
	_, body, _ = b.call(t, "GET", "/api/v2/deals", nil)
	require.Empty(t, body["data"], "deleted deals are not listed")
	_, body, _ = b.call(t, "GET", "/api/v2/deals?status=deleted", nil)
	require.Len(t, body["data"], 1)
}

func TestServer_DealProducts(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var mu sync.Mutex
	b := setup(t, pipedrive.Config{RateLimit: -1, Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }})
	_, body, _ := b.call(t, "POST", "/api/v2/products", map[string]any{"name": "Tea", "prices": []any{map[string]any{"currency": "USD", "price": 18}}})
	pid := data(t, body)["id"]
	_, body, _ = b.call(t, "POST", "/api/v2/deals", map[string]any{"title": "D"})
	deal := data(t, body)
	did := deal["id"].(json.Number).String()
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	status, body, _ := b.call(t, "POST", "/api/v2/deals/"+did+"/products", map[string]any{"product_id": pid, "item_price": 12.5, "quantity": 3, "discount": 10})
	require.Equal(t, http.StatusCreated, status, "%v", body)
	dp := data(t, body)
	require.True(t, decimal.RequireFromString("33.75").Equal(decimal.RequireFromString(dp["sum"].(json.Number).String())), "sum %v", dp["sum"])

	_, body, _ = b.call(t, "GET", "/api/v2/deals/"+did, nil)
	require.NotEqual(t, deal["update_time"], data(t, body)["update_time"], "a product change is a change of the deal")

	_, body, _ = b.call(t, "GET", "/api/v2/deals/products?deal_ids="+did, nil)
	require.Len(t, body["data"], 1)
	dpid := dp["id"].(json.Number).String()
	_, body, _ = b.call(t, "PATCH", "/api/v2/deals/"+did+"/products/"+dpid, map[string]any{"quantity": 1})
	require.Equal(t, json.Number("11.25"), data(t, body)["sum"])
	status, _, _ = b.call(t, "DELETE", "/api/v2/deals/"+did+"/products/"+dpid, nil)
	require.Equal(t, http.StatusOK, status)
	_, body, _ = b.call(t, "GET", "/api/v2/deals/"+did+"/products", nil)
	require.Empty(t, body["data"])
}

func TestServer_RateLimit(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var mu sync.Mutex
	b := setup(t, pipedrive.Config{RateLimit: 3, Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }})
	for i := range 3 {
		status, _, h := b.call(t, "GET", "/api/v2/deals", nil)
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "3", h.Get("x-ratelimit-limit"))
		require.Equal(t, []string{"2", "1", "0"}[i], h.Get("x-ratelimit-remaining"))
		require.Equal(t, "2", h.Get("x-ratelimit-reset"))
	}
	status, body, h := b.call(t, "GET", "/api/v2/deals", nil)
	require.Equal(t, http.StatusTooManyRequests, status)
	require.Equal(t, false, body["success"])
	require.Equal(t, "Request over limit", body["error"])
	require.Equal(t, "0", h.Get("x-ratelimit-remaining"))
	require.Equal(t, "2", h.Get("Retry-After"))

	_, _, h = b.call(t, "POST", "/api/v2/deals", map[string]any{"title": "x"}, "x-api-token", "tok")
	require.Empty(t, h.Get("x-daily-requests-left"), "a refused request spends no write")

	mu.Lock()
	now = now.Add(2 * time.Second)
	mu.Unlock()
	status, _, h = b.call(t, "POST", "/api/v2/deals", map[string]any{"title": "x"})
	require.Equal(t, http.StatusOK, status, "a new window")
	require.Equal(t, "9999", h.Get("x-daily-requests-left"))
}

func TestServer_Webhooks(t *testing.T) {
	t.Parallel()
	type got struct {
		user, pass string
		body       map[string]any
	}
	deliveries := make(chan got, 10)
	fail := make(chan bool, 1)
	fail <- true // the first delivery is answered 500
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-fail:
			w.WriteHeader(http.StatusInternalServerError)
			return
		default:
		}
		u, p, _ := r.BasicAuth()
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		deliveries <- got{u, p, body}
	}))
	t.Cleanup(recv.Close)
	b := setup(t, pipedrive.Config{RateLimit: -1, WebhookRetries: []time.Duration{10 * time.Millisecond}})
	status, body, _ := b.call(t, "POST", "/api/v1/webhooks", map[string]any{"subscription_url": recv.URL, "event_action": "*",
		"event_object": "deal", "http_auth_user": "u", "http_auth_password": "p", "version": "2.0"})
	require.Equal(t, http.StatusCreated, status, "%v", body)
	require.Empty(t, data(t, body)["http_auth_password"], "the password is never shown")

	_, body, _ = b.call(t, "POST", "/api/v2/organizations", map[string]any{"name": "Not subscribed"})
	_, body, _ = b.call(t, "POST", "/api/v2/deals", map[string]any{"title": "Hooked"})
	id := data(t, body)["id"].(json.Number).String()

	select {
	case d := <-deliveries:
		require.Equal(t, "u", d.user)
		require.Equal(t, "p", d.pass)
		meta := d.body["meta"].(map[string]any)
		require.Equal(t, "create", meta["action"])
		require.Equal(t, "deal", meta["entity"])
		require.Equal(t, id, meta["entity_id"])
		require.Equal(t, "2.0", meta["version"])
		require.EqualValues(t, 2, meta["attempt"], "the failed first attempt is retried")
		require.Equal(t, "Hooked", d.body["data"].(map[string]any)["title"])
		require.Nil(t, d.body["previous"])
	case <-time.After(5 * time.Second):
		t.Fatal("no webhook delivered")
	}
	select {
	case d := <-deliveries:
		t.Fatalf("unexpected delivery %v", d.body["meta"])
	case <-time.After(100 * time.Millisecond):
	}
}

func TestServer_Seed(t *testing.T) {
	t.Parallel()
	b := setup(t, pipedrive.Config{RateLimit: -1})
	nw, err := northwind.Load()
	require.NoError(t, err)
	require.NoError(t, b.srv.Seed(nw, 20, rand.New(rand.NewPCG(1, 1))))
	count := func(kind string) int {
		n, cursor := 0, ""
		for {
			_, body, _ := b.call(t, "GET", "/api/v2/"+kind+"?limit=500&cursor="+cursor, nil)
			n += len(body["data"].([]any))
			next := body["additional_data"].(map[string]any)["next_cursor"]
			if next == nil {
				return n
			}
			cursor = next.(string)
		}
	}
	require.Equal(t, len(nw.Customers), count("organizations"))
	orgs := b.srv.Objects(pipedrive.Organizations)
	_, body, _ := b.call(t, "GET", "/api/v1/organizationFields", nil)
	var nwKey string
	for _, f := range body["data"].([]any) {
		if f.(map[string]any)["name"] == pipedrive.NorthwindIDField {
			nwKey = f.(map[string]any)["key"].(string)
		}
	}
	require.Len(t, nwKey, 40, "the Northwind ID custom field is listed")
	require.Equal(t, nw.Customers[0].ID, orgs[0]["custom_fields"].(map[string]any)[nwKey], "organizations carry their customer code")
	require.Equal(t, len(nw.Products), count("products"))
	require.Equal(t, 20, count("deals"))
	_, body, _ = b.call(t, "GET", "/api/v2/deals?limit=20", nil)
	for _, it := range body["data"].([]any) {
		d := it.(map[string]any)
		id := d["id"].(json.Number).String()
		_, pb, _ := b.call(t, "GET", "/api/v2/deals/"+id+"/products", nil)
		sum := decimal.Zero
		for _, p := range pb["data"].([]any) {
			sum = sum.Add(decimal.RequireFromString(p.(map[string]any)["sum"].(json.Number).String()))
		}
		require.NotEmpty(t, pb["data"], "deal %s has products", id)
		require.True(t, sum.Equal(decimal.RequireFromString(d["value"].(json.Number).String())), "deal %s value %v, products %s", id, d["value"], sum)
	}
}

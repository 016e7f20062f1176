package odoorpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
)

const (
	testUser     = "concord"
	testPassword = "S3cret-Pa55word!"
)

type fakeCall struct {
	Service, Method string
	Args            []any
}

// fakeServer answers like Odoo's /jsonrpc: common.login with uid 6 for
// testPassword, execute_kw with the answer recorded in testdata for
// "model.method", or with a status.
type fakeServer struct {
	t      *testing.T
	mu     sync.Mutex
	routes map[string]string // "model.method" -> testdata file or inline JSON result
	status map[string]int
	calls  []fakeCall
}

func newFake(t *testing.T, routes map[string]string) (*fakeServer, *Client) {
	t.Helper()
	f := &fakeServer{t: t, routes: routes, status: map[string]int{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	var logs bytes.Buffer
	c, err := New(Config{URL: srv.URL + "/", Database: "crm", Username: testUser, Password: testPassword,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	require.NoError(t, err)
	t.Cleanup(func() { require.NotContains(t, logs.String(), testPassword, "logs never carry the password") })
	return f, c
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	require.Equal(f.t, "/jsonrpc", r.URL.Path)
	require.Equal(f.t, "application/json", r.Header.Get("Content-Type"))
	body, _ := io.ReadAll(r.Body)
	var req request
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	require.NoError(f.t, dec.Decode(&req))
	require.Equal(f.t, "2.0", req.JSONRPC)
	require.Equal(f.t, "call", req.Method)
	f.mu.Lock()
	f.calls = append(f.calls, fakeCall{req.Params.Service, req.Params.Method, req.Params.Args})
	f.mu.Unlock()
	key := req.Params.Service + "." + req.Params.Method
	if key == "object.execute_kw" {
		key = fmt.Sprint(req.Params.Args[3]) + "." + fmt.Sprint(req.Params.Args[4])
		if req.Params.Args[2] != testPassword {
			f.file(w, req.ID, "access_denied.json")
			return
		}
	}
	f.mu.Lock()
	st := f.status[key]
	f.mu.Unlock()
	if st != 0 {
		w.Header().Set("Retry-After", "7")
		http.Error(w, "<html>busy</html>", st)
		return
	}
	switch key {
	case "common.login":
		if req.Params.Args[2] == testPassword {
			fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%d,"result":6}`, req.ID)
		} else {
			fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%d,"result":false}`, req.ID)
		}
		return
	case "common.version":
		fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%d,"result":{"server_version":"17.0-20240709","server_serie":"17.0","protocol_version":1}}`, req.ID)
		return
	}
	route, ok := f.routes[key]
	if !ok {
		f.file(w, req.ID, "user_error.json")
		return
	}
	if strings.HasSuffix(route, ".json") {
		f.file(w, req.ID, route)
		return
	}
	fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%d,"result":%s}`, req.ID, route)
}

// file answers a recorded answer of the real Odoo 17, with the request's id.
func (f *fakeServer) file(w http.ResponseWriter, id int64, name string) {
	data, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(f.t, err)
	var m map[string]any
	require.NoError(f.t, json.Unmarshal(data, &m))
	m["id"] = id
	require.NoError(f.t, json.NewEncoder(w).Encode(m))
}

func (f *fakeServer) last() fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[len(f.calls)-1]
}

func (f *fakeServer) count(service, method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if c.Service == service && c.Method == method {
			n++
		}
	}
	return n
}

func TestNew(t *testing.T) {
	t.Parallel()
	t.Run("ErrMissingSettings", func(t *testing.T) {
		_, err := New(Config{})
		require.ErrorContains(t, err, "url is required")
		require.ErrorContains(t, err, "database is required")
		require.ErrorContains(t, err, "username is required")
		require.ErrorContains(t, err, "password or API key is required")
	})
}

func TestClient_ExecuteKw(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		f, c := newFake(t, map[string]string{"res.partner.search_read": "search_read.json"})
		recs, err := c.SearchRead(t.Context(), "res.partner", Domain{Leaf("id", "=", 3)}, []string{"name", "country_id"},
			SearchOptions{Limit: 5, Order: "id asc", Context: Context{"active_test": false}})
		require.NoError(t, err)
		require.Equal(t, int64(6), c.UserID(), "logged in first")
		call := f.last()
		require.Equal(t, []any{"crm", json.Number("6"), testPassword, "res.partner", "search_read"}, call.Args[:5])
		require.Equal(t, []any{[]any{[]any{"id", "=", json.Number("3")}}}, call.Args[5])
		kw := call.Args[6].(map[string]any)
		require.Equal(t, json.Number("5"), kw["limit"])
		require.Equal(t, "id asc", kw["order"])
		require.Equal(t, []any{"name", "country_id"}, kw["fields"])
		require.Equal(t, map[string]any{"lang": "en_US", "tz": "UTC", "active_test": false}, kw["context"], "the client's context under the caller's")

		require.Len(t, recs, 1)
		r := recs[0]
		require.Equal(t, int64(3), r.ID())
		require.Equal(t, "Administrator", r.String("name"))
		id, name := r.Many2one("country_id")
		require.Zero(t, id)
		require.Empty(t, name)
		require.False(t, r.Has("vat"))
		require.Empty(t, r.IDs("child_ids"))
		require.True(t, r.Bool("active"))
		require.Equal(t, time.Date(2026, 12, 1, 17, 38, 50, 0, time.UTC), r.Time("write_date"))
		d, ok := r.Decimal("credit_limit")
		require.True(t, ok)
		require.True(t, d.IsZero())
	})

	t.Run("CreateBatchEncodesValues", func(t *testing.T) {
		t.Parallel()
		f, c := newFake(t, map[string]string{"sale.order.create": "[11,12]"})
		when := time.Date(2026, 3, 4, 5, 6, 7, 0, time.FixedZone("x", 3600))
		ids, err := c.Create(t.Context(), "sale.order", []Values{
			{"partner_id": int64(7), "date_order": when, "validity_date": Date{2026, 4, 1},
				"order_line": []Command{Create(Values{"price_unit": decimal.RequireFromString("19.99"), "product_uom_qty": 3}),
					Update(4, Values{"discount": 10}), Delete(5), Unlink(6), Link(7), Clear()},
				"tag_ids": []Command{Set(1, 2)}},
			{"partner_id": int64(8), "tag_ids": []Command{Set()}},
		}, Context{"lang": "de_DE"})
		require.NoError(t, err)
		require.Equal(t, []int64{11, 12}, ids)
		call := f.last()
		list := call.Args[5].([]any)[0].([]any)
		require.Len(t, list, 2, "one call for the batch")
		first := list[0].(map[string]any)
		require.Equal(t, "2026-03-04 04:06:07", first["date_order"], "UTC")
		require.Equal(t, "2026-04-01", first["validity_date"])
		b, _ := json.Marshal(first["order_line"])
		require.JSONEq(t, `[[0,0,{"price_unit":19.99,"product_uom_qty":3}],[1,4,{"discount":10}],[2,5,0],[3,6,0],[4,7,0],[5,0,0]]`, string(b))
		b, _ = json.Marshal(first["tag_ids"])
		require.JSONEq(t, `[[6,0,[1,2]]]`, string(b))
		b, _ = json.Marshal(list[1].(map[string]any)["tag_ids"])
		require.JSONEq(t, `[[6,0,[]]]`, string(b))
		require.Equal(t, "de_DE", call.Args[6].(map[string]any)["context"].(map[string]any)["lang"])
	})

	t.Run("ReadKeepsOrder", func(t *testing.T) {
		t.Parallel()
		_, c := newFake(t, map[string]string{"res.partner.read": `[{"id":1,"name":"a"},{"id":2,"name":"b"}]`})
		recs, err := c.Read(t.Context(), "res.partner", []int64{2, 1}, []string{"name"}, nil)
		require.NoError(t, err)
		require.Equal(t, "b", recs[0].String("name"))
	})

	t.Run("ErrCreateCountMismatch", func(t *testing.T) {
		t.Parallel()
		_, c := newFake(t, map[string]string{"res.partner.create": "[1]"})
		_, err := c.Create(t.Context(), "res.partner", []Values{{"name": "a"}, {"name": "b"}}, nil)
		require.ErrorContains(t, err, "sent 2 records, got 1 ids")
	})

	t.Run("ErrUnauthorized", func(t *testing.T) {
		t.Parallel()
		_, c := newFake(t, nil)
		c.cfg.Password = "wrong"
		err := c.Login(t.Context())
		require.ErrorIs(t, err, ErrUnauthorized)
		require.False(t, connector.IsTransient(err))
		// A key revoked after login: execute_kw answers AccessDenied.
		c.uid = 6
		_, err = c.SearchCount(t.Context(), "res.partner", nil, nil)
		require.ErrorIs(t, err, ErrUnauthorized)
		require.NotContains(t, err.Error(), "wrong")
	})

	t.Run("ErrClosed", func(t *testing.T) {
		t.Parallel()
		_, c := newFake(t, nil)
		require.NoError(t, c.Close(t.Context()))
		require.NoError(t, c.Close(t.Context()))
		_, err := c.Search(t.Context(), "res.partner", nil, SearchOptions{})
		require.ErrorIs(t, err, ErrClosed)
	})
}

func TestParseError(t *testing.T) {
	t.Parallel()
	cases := []struct {
		file      string
		sentinel  error
		kind      string
		transient bool
		field     string
		model     string
		contains  string
	}{
		{"validation_error.json", ErrValidation, "ValidationError", false, "partner_id", "sale.order", "mandatory field is not set"},
		{"access_error.json", ErrAccess, "AccessError", false, "", "", "not allowed to create 'User'"},
		{"missing_error.json", ErrMissing, "MissingError", false, "", "", "does not exist or has been deleted"},
		{"access_denied.json", ErrUnauthorized, "AccessDenied", false, "", "", "Access Denied"},
		{"user_error.json", ErrUser, "UserError", false, "", "", "no.such.model"},
		{"no_database.json", nil, "OperationalError", false, "", "", `database "nope_db" does not exist`},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(filepath.Join("testdata", tc.file))
			require.NoError(t, err)
			var env response
			require.NoError(t, json.Unmarshal(data, &env))
			err = parseError("m.x", env.Error)
			var oe *Error
			require.ErrorAs(t, err, &oe)
			require.Equal(t, tc.kind, oe.Kind())
			if tc.sentinel != nil {
				require.ErrorIs(t, err, tc.sentinel)
			}
			for _, s := range []error{ErrValidation, ErrAccess, ErrMissing, ErrUnauthorized, ErrUser, ErrRateLimited} {
				if s != tc.sentinel {
					require.NotErrorIs(t, err, s)
				}
			}
			require.Equal(t, tc.transient, connector.IsTransient(err))
			require.Equal(t, !tc.transient, IsPermanent(err))
			require.Equal(t, tc.field, oe.Field())
			require.Equal(t, tc.model, oe.Model())
			require.Contains(t, err.Error(), tc.contains)
			require.NotContains(t, err.Error(), "Traceback")
		})
	}
}

func TestError_Transient(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, message string
		transient     bool
		sentinel      error
		after         time.Duration
	}{
		{"psycopg2.errors.SerializationFailure", "could not serialize access due to concurrent update", true, nil, 0},
		{"psycopg2.errors.LockNotAvailable", "could not obtain lock on row in relation \"res_partner\"", true, nil, 0},
		{"psycopg2.OperationalError", "server closed the connection unexpectedly", true, nil, 0},
		{"psycopg2.OperationalError", "FATAL:  database \"x\" does not exist", false, nil, 0},
		{"odoo.exceptions.AccessDenied", "Too many login failures, please wait a bit before trying again.", true, ErrRateLimited, time.Minute},
		{"odoo.exceptions.AccessDenied", "Access Denied", false, ErrUnauthorized, 0},
		{"builtins.ValueError", "Invalid field 'nope' on model 'res.partner'", false, nil, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name+"/"+tc.message[:10], func(t *testing.T) {
			t.Parallel()
			err := fmt.Errorf("wrapped: %w", &Error{Call: "res.partner.write", Name: tc.name, Message: tc.message})
			require.Equal(t, tc.transient, connector.IsTransient(err))
			require.Equal(t, tc.after, connector.RetryAfter(err))
			if tc.sentinel != nil {
				require.ErrorIs(t, err, tc.sentinel)
			}
		})
	}
}

// TestClient_ReadOnlyCallsRetried: a read-only call that fails transiently is
// sent again; a call that writes is sent once (repeating it could apply it
// twice), and a refusal is not repeated.
func TestClient_ReadOnlyCallsRetried(t *testing.T) {
	t.Parallel()
	f, c := newFake(t, map[string]string{"res.partner.search_read": "[]", "res.partner.create": "[1]", "res.partner.fields_get": "{}"})
	require.NoError(t, c.Login(t.Context()))
	f.status["res.partner.search_read"] = http.StatusBadGateway
	f.status["res.partner.create"] = http.StatusBadGateway
	f.status["res.partner.fields_get"] = http.StatusBadRequest
	go func() {
		time.Sleep(150 * time.Millisecond)
		f.mu.Lock()
		delete(f.status, "res.partner.search_read")
		f.mu.Unlock()
	}()
	_, err := c.SearchRead(t.Context(), "res.partner", nil, nil, SearchOptions{})
	require.NoError(t, err, "502s, then the answer")
	require.GreaterOrEqual(t, f.count("object", "execute_kw"), 2)

	before := f.count("object", "execute_kw")
	_, err = c.Create(t.Context(), "res.partner", []Values{{"name": "x"}}, nil)
	var he *HTTPError
	require.ErrorAs(t, err, &he)
	require.Equal(t, http.StatusBadGateway, he.Status)
	require.Equal(t, 7*time.Second, connector.RetryAfter(err))
	require.True(t, connector.IsTransient(err))
	require.NotContains(t, err.Error(), "busy", "the body is not kept")
	require.Equal(t, before+1, f.count("object", "execute_kw"), "a write is sent once")

	before = f.count("object", "execute_kw")
	_, err = c.ExecuteKw(t.Context(), "res.partner", "fields_get", nil, nil)
	require.Error(t, err)
	require.True(t, IsPermanent(err))
	require.Equal(t, before+1, f.count("object", "execute_kw"), "a refusal is not repeated")
}

func TestClient_ErrNetwork(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c, err := New(Config{URL: url, Database: "crm", Username: testUser, Password: testPassword})
	require.NoError(t, err)
	err = c.Login(t.Context())
	require.True(t, connector.IsTransient(err), "refused connection: %v", err)
	require.NotContains(t, err.Error(), testPassword)
	require.False(t, errors.Is(err, ErrUnauthorized))
}

func TestRecord(t *testing.T) {
	t.Parallel()
	v, err := decodeJSON([]byte(`{"id":5,"partner_id":[7,"Acme"],"tag_ids":[1,2],"price":19.990000000000002,"name":false,"date":"2026-02-03","n":3}`))
	require.NoError(t, err)
	r := Record(v.(map[string]any))
	id, name := r.Many2one("partner_id")
	require.Equal(t, int64(7), id)
	require.Equal(t, "Acme", name)
	require.Equal(t, int64(7), r.Int("partner_id"))
	require.Equal(t, []int64{1, 2}, r.IDs("tag_ids"))
	p, ok := r.Rounded("price", 2)
	require.True(t, ok)
	require.Equal(t, "19.99", p.String())
	require.False(t, r.Has("name"))
	require.Equal(t, "", r.String("name"))
	d, ok := r.Date("date")
	require.True(t, ok)
	require.Equal(t, Date{2026, time.February, 3}, d)
	_, ok = r.Date("name")
	require.False(t, ok)
	require.True(t, r.Time("date").IsZero(), "a date is no datetime")
	require.Equal(t, int64(3), r.Int("n"))
}

package trytonrpc

import (
	"bytes"
	"context"
	"encoding/base64"
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
)

const (
	testUser     = "concord"
	testPassword = "S3cret-Pa55word!"
)

type fakeRequest struct {
	Method string
	Params []any
	Auth   string
}

// fakeServer answers like trytond with the responses recorded in testdata.
type fakeServer struct {
	t      *testing.T
	mu     sync.Mutex
	routes map[string]string // method -> testdata file
	status map[string]int    // method -> HTTP status to answer instead
	header map[string]string // extra headers for status answers
	reqs   []fakeRequest
	logins int
	key    string
	expire bool // answer 401 to the next authenticated call
}

func newFakeServer(t *testing.T, routes map[string]string) (*fakeServer, *httptest.Server) {
	t.Helper()
	f := &fakeServer{t: t, routes: routes, status: map[string]int{}, header: map[string]string{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req struct {
		ID     int64  `json:"id"`
		Method string `json:"method"`
		Params []any  `json:"params"`
	}
	if r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &req) != nil {
		http.Error(w, "<html>bad request</html>", http.StatusInternalServerError)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, fakeRequest{Method: req.Method, Params: req.Params, Auth: r.Header.Get("Authorization")})
	if st, ok := f.status[req.Method]; ok {
		for k, v := range f.header {
			w.Header().Set(k, v)
		}
		http.Error(w, "<html>status page</html>", st)
		return
	}
	switch req.Method {
	case "common.db.login":
		pw, _ := req.Params[1].(map[string]any)["password"].(string)
		if req.Params[0] != testUser || pw != testPassword {
			http.Error(w, "<html>401 Unauthorized</html>", http.StatusUnauthorized)
			return
		}
		f.logins++
		f.key = fmt.Sprintf("%064d", f.logins)
		fmt.Fprintf(w, `{"id":%d,"result":[2,%q]}`, req.ID, f.key)
		return
	case "common.server.version":
		w.Header().Set("Date", "Fri, 27 Nov 2026 07:48:24 GMT")
		fmt.Fprintf(w, `{"id":%d,"result":"6.0.29"}`, req.ID)
		return
	}
	want := "Session " + base64.StdEncoding.EncodeToString([]byte(testUser+":2:"+f.key))
	if f.key == "" || r.Header.Get("Authorization") != want || f.expire {
		f.expire = false
		f.key = "expired"
		http.Error(w, "<html>401 Unauthorized</html>", http.StatusUnauthorized)
		return
	}
	file, ok := f.routes[req.Method]
	if !ok {
		fmt.Fprintf(w, `{"id":%d,"result":null}`, req.ID)
		return
	}
	data, err := os.ReadFile(filepath.Join("testdata", file))
	require.NoError(f.t, err)
	_, _ = w.Write(data)
}

func (f *fakeServer) requests(method string) []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeRequest
	for _, r := range f.reqs {
		if r.Method == method {
			out = append(out, r)
		}
	}
	return out
}

type testBundle struct {
	fake   *fakeServer
	client *Client
	logs   *bytes.Buffer
}

func setup(t *testing.T, routes map[string]string) testBundle {
	t.Helper()
	if routes == nil {
		routes = map[string]string{}
	}
	routes["model.res.user.get_preferences"] = "preferences.json"
	fake, srv := newFakeServer(t, routes)
	logs := &bytes.Buffer{}
	c, err := New(Config{
		URL: srv.URL, Database: "crm", Username: testUser, Password: testPassword,
		Logger: slog.New(slog.NewTextHandler(&lockedWriter{w: logs}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	require.NoError(t, err)
	return testBundle{fake: fake, client: c, logs: logs}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestNew(t *testing.T) {
	t.Parallel()
	_, err := New(Config{})
	require.Error(t, err)
	for _, want := range []string{"url", "database", "username", "password"} {
		require.Contains(t, err.Error(), want)
	}
}

func TestClient_Call(t *testing.T) {
	t.Parallel()

	t.Run("OneSessionWithContext", func(t *testing.T) {
		t.Parallel()
		b := setup(t, map[string]string{"model.party.party.search": "search_ids.json"})
		ctx := context.Background()
		for range 3 {
			ids, err := b.client.Search(ctx, "party.party", Domain{Leaf("name", "=", "x")}, SearchOptions{Limit: 10})
			require.NoError(t, err)
			require.Equal(t, []int64{3, 5, 8}, ids)
		}
		require.Equal(t, 1, b.client.Logins())
		require.Len(t, b.fake.requests("common.db.login"), 1)
		reqs := b.fake.requests("model.party.party.search")
		require.Len(t, reqs, 3)
		for _, r := range reqs {
			// domain, offset, limit, order, context
			require.Len(t, r.Params, 5)
			ctxParam := r.Params[4].(map[string]any)
			require.EqualValues(t, 1, ctxParam["company"])
			require.EqualValues(t, 1, ctxParam["employee"])
			require.Equal(t, "en", ctxParam["language"])
			require.NotContains(t, ctxParam, "company.rec_name")
			require.True(t, strings.HasPrefix(r.Auth, "Session "))
		}
	})

	t.Run("ExtraContextMerged", func(t *testing.T) {
		t.Parallel()
		b := setup(t, map[string]string{"model.party.party.read": "party_read_sqlite.json"})
		_, err := b.client.Read(context.Background(), "party.party", []int64{3}, []string{"name"}, Context{"active_test": false})
		require.NoError(t, err)
		r := b.fake.requests("model.party.party.read")[0]
		ctxParam := r.Params[2].(map[string]any)
		require.Equal(t, false, ctxParam["active_test"])
		require.EqualValues(t, 1, ctxParam["company"])
	})

	t.Run("ReloginOn401", func(t *testing.T) {
		t.Parallel()
		b := setup(t, map[string]string{"model.ir.date.today": "today.json"})
		ctx := context.Background()
		_, err := b.client.Today(ctx)
		require.NoError(t, err)
		b.fake.mu.Lock()
		b.fake.expire = true
		b.fake.mu.Unlock()
		d, err := b.client.Today(ctx)
		require.NoError(t, err)
		require.Equal(t, Date{2026, time.November, 27}, d)
		require.Equal(t, 2, b.client.Logins())
	})

	t.Run("ErrUnauthorizedBadPassword", func(t *testing.T) {
		t.Parallel()
		fake, srv := newFakeServer(t, map[string]string{})
		logs := &bytes.Buffer{}
		c, err := New(Config{URL: srv.URL, Database: "crm", Username: testUser, Password: "wrong-" + testPassword,
			Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
		require.NoError(t, err)
		_, err = c.Call(context.Background(), "model.ir.date.today")
		require.ErrorIs(t, err, ErrUnauthorized)
		require.NotContains(t, err.Error(), testPassword)
		require.NotContains(t, logs.String(), testPassword)
		require.Len(t, fake.requests("common.db.login"), 1, "a refused login is not retried")
	})

	t.Run("ServerTime", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		ts, err := b.client.ServerTime(context.Background())
		require.NoError(t, err)
		require.Equal(t, time.Date(2026, 11, 27, 7, 48, 24, 0, time.UTC), ts)
	})

	t.Run("ErrClosed", func(t *testing.T) {
		t.Parallel()
		b := setup(t, map[string]string{"model.ir.date.today": "today.json"})
		ctx := context.Background()
		_, err := b.client.Today(ctx)
		require.NoError(t, err)
		require.NoError(t, b.client.Close(ctx))
		require.NoError(t, b.client.Close(ctx))
		require.Len(t, b.fake.requests("common.db.logout"), 1)
		_, err = b.client.Today(ctx)
		require.ErrorIs(t, err, ErrClosed)
	})
}

func TestClient_Read(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct{ backend, file, timestamp string }{
		{"SQLite", "party_read_sqlite.json", "1795765703"},
		{"PostgreSQL", "party_read_postgresql.json", "1795755956.880749"},
	} {
		t.Run(tc.backend, func(t *testing.T) {
			t.Parallel()
			b := setup(t, map[string]string{"model.party.party.read": tc.file})
			recs, err := b.client.Read(context.Background(), "party.party", []int64{3}, nil, nil)
			require.NoError(t, err)
			require.Len(t, recs, 1)
			r := recs[0]
			require.Equal(t, int64(3), r.ID())
			require.False(t, r.Bool("active"))
			require.Equal(t, "Acme Corp", r.String("name"))
			require.Equal(t, "3", r.String("code"))
			require.Equal(t, tc.timestamp, r.Timestamp())
			require.Equal(t, time.Date(2026, 11, 27, 7, 48, 23, 840707000, time.UTC), r.Time("create_date"))
			require.Equal(t, []int64{3}, r.IDs("addresses"))
			addrs := r.RelatedList("addresses")
			require.Len(t, addrs, 1)
			require.Equal(t, "New York", addrs[0].String("city"))
		})
	}

	t.Run("SpecialTypes", func(t *testing.T) {
		t.Parallel()
		b := setup(t, map[string]string{"model.x.read": "special_types.json"})
		recs, err := b.client.Read(context.Background(), "x", []int64{1}, nil, nil)
		require.NoError(t, err)
		r := recs[0]
		d, ok := r.Decimal("rounding")
		require.True(t, ok)
		require.True(t, d.Equal(decimal.RequireFromString("0.01")))
		day, ok := r.Date("day")
		require.True(t, ok)
		require.Equal(t, "2026-11-27", day.String())
		require.Equal(t, TimeOfDay{13, 5, 7, 250}, r["at"])
		require.Equal(t, 90500*time.Millisecond, r["delay"])
		require.Equal(t, []byte("hello"), r["blob"])
		q, ok := r.Decimal("quantity")
		require.True(t, ok)
		require.Equal(t, "97", q.String())
		require.True(t, r.Bool("salable"))
		require.Equal(t, "US", r.Related("country").String("code"))
		require.Nil(t, r.Related("parent"))
		_, ok = r.Decimal("missing")
		require.False(t, ok)
	})

	t.Run("OrderOfIDs", func(t *testing.T) {
		t.Parallel()
		b := setup(t, map[string]string{"model.party.party.read": "party_read_sqlite.json"})
		recs, err := b.client.Read(context.Background(), "party.party", []int64{99, 3}, nil, nil)
		require.NoError(t, err)
		require.Len(t, recs, 1, "ids the server did not return are absent")
	})
}

func TestClient_Create(t *testing.T) {
	t.Parallel()
	b := setup(t, map[string]string{"model.sale.line.create": "create_ids.json"})
	at := time.Date(2026, 11, 27, 9, 30, 0, 5000, time.FixedZone("CET", 3600))
	ids, err := b.client.Create(context.Background(), "sale.line", []Values{
		{"unit_price": decimal.RequireFromString("25.00"), "since": at, "day": Date{2026, 11, 27}},
		{"taxes": []any{[]any{"add", []int64{1}}}, "delay": 90 * time.Second, "data": []byte("hi")},
	}, nil)
	require.NoError(t, err)
	require.Equal(t, []int64{10, 11}, ids)
	r := b.fake.requests("model.sale.line.create")[0]
	vals := r.Params[0].([]any)
	first := vals[0].(map[string]any)
	require.Equal(t, map[string]any{"__class__": "Decimal", "decimal": "25"}, first["unit_price"])
	since := first["since"].(map[string]any)
	require.Equal(t, "datetime", since["__class__"])
	require.EqualValues(t, 8, since["hour"], "times are sent as naive UTC")
	require.EqualValues(t, 5, since["microsecond"])
	require.Equal(t, map[string]any{"__class__": "date", "year": float64(2026), "month": float64(11), "day": float64(27)}, first["day"])
	second := vals[1].(map[string]any)
	require.Equal(t, map[string]any{"__class__": "timedelta", "seconds": float64(90)}, second["delay"])
	require.Equal(t, map[string]any{"__class__": "bytes", "base64": "aGk="}, second["data"])
}

func TestParseError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		file  string
		check func(t *testing.T, err error)
	}{
		{"UserError", "error_user.json", func(t *testing.T, err error) {
			var ue *UserError
			require.ErrorAs(t, err, &ue)
			require.Equal(t, `A value is required for field "Party" in "Contact Mechanism".`, ue.Message)
			require.True(t, IsPermanent(err))
		}},
		{"UserErrorDropsDomain", "error_user_domain.json", func(t *testing.T, err error) {
			var ue *UserError
			require.ErrorAs(t, err, &ue)
			require.NotContains(t, err.Error(), "relation")
			require.NotContains(t, err.Error(), "many2one")
		}},
		{"UserWarning", "error_warning.json", func(t *testing.T, err error) {
			var uw *UserWarning
			require.ErrorAs(t, err, &uw)
			require.Equal(t, "invoice_payment_term_2", uw.Name)
			require.Contains(t, uw.Message, "in the past")
		}},
		{"Concurrency", "error_concurrency.json", func(t *testing.T, err error) {
			require.ErrorIs(t, err, ErrConcurrency)
			require.NotErrorIs(t, err, ErrLocked)
			require.False(t, IsPermanent(err))
		}},
		{"Locked", "error_locked.json", func(t *testing.T, err error) {
			require.ErrorIs(t, err, ErrLocked)
			require.False(t, IsPermanent(err))
			require.NotContains(t, err.Error(), "Traceback")
		}},
		{"UnknownField", "error_unknown_field.json", func(t *testing.T, err error) {
			var se *ServerError
			require.ErrorAs(t, err, &se)
			require.Equal(t, "'nonexistent'", se.Message)
			require.True(t, IsPermanent(err))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, map[string]string{"model.party.party.write": tc.file})
			err := b.client.Write(context.Background(), "party.party", []int64{3}, Values{"name": "x"}, nil)
			require.Error(t, err)
			require.Contains(t, err.Error(), "model.party.party.write")
			tc.check(t, err)
		})
	}
}

func TestClient_HTTPStatus(t *testing.T) {
	t.Parallel()

	t.Run("ErrRateLimited", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.fake.status["common.db.login"] = http.StatusTooManyRequests
		b.fake.header["Retry-After"] = "42"
		err := b.client.Login(context.Background())
		var rl *RateLimitError
		require.ErrorAs(t, err, &rl)
		require.Equal(t, 42*time.Second, rl.RetryAfter)
	})

	t.Run("ErrRateLimitedDefault", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.fake.status["common.db.login"] = http.StatusTooManyRequests
		err := b.client.Login(context.Background())
		var rl *RateLimitError
		require.ErrorAs(t, err, &rl)
		require.Equal(t, 5*time.Minute, rl.RetryAfter)
	})

	t.Run("ErrForbidden", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.fake.status["model.party.party.save"] = http.StatusForbidden
		_, err := b.client.Call(context.Background(), "model.party.party.save", []int64{1})
		var he *HTTPError
		require.ErrorAs(t, err, &he)
		require.Equal(t, http.StatusForbidden, he.Status)
		require.True(t, IsPermanent(err))
		require.NotContains(t, err.Error(), "html")
	})
}

// TestClient_Secrets forces errors and checks that neither the password nor the
// session key shows up in error texts or logs.
func TestClient_Secrets(t *testing.T) {
	t.Parallel()
	b := setup(t, map[string]string{"model.party.party.write": "error_user.json"})
	ctx := context.Background()
	require.NoError(t, b.client.Login(ctx))
	b.fake.mu.Lock()
	key := b.fake.key
	b.fake.mu.Unlock()
	require.NotEmpty(t, key)
	auth := base64.StdEncoding.EncodeToString([]byte(testUser + ":2:" + key))

	var errs []error
	errs = append(errs, b.client.Write(ctx, "party.party", []int64{3}, Values{"name": "x"}, nil))
	b.fake.mu.Lock()
	b.fake.status["model.party.party.read"] = http.StatusInternalServerError
	b.fake.mu.Unlock()
	_, err := b.client.Read(ctx, "party.party", []int64{3}, nil, nil)
	errs = append(errs, err)
	bad, err := New(Config{URL: "http://127.0.0.1:1", Database: "crm", Username: testUser, Password: testPassword})
	require.NoError(t, err)
	errs = append(errs, bad.Login(ctx))
	for _, err := range errs {
		require.Error(t, err)
		msg := fmt.Sprintf("%v %+v %#v", err, err, errors.Unwrap(err))
		require.NotContains(t, msg, testPassword)
		require.NotContains(t, msg, key)
		require.NotContains(t, msg, auth)
	}
	require.NotEmpty(t, b.logs.String())
	require.NotContains(t, b.logs.String(), testPassword)
	require.NotContains(t, b.logs.String(), key)
	require.NotContains(t, b.logs.String(), auth)
}

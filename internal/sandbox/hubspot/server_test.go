package hubspot_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/sandbox/hubspot"
)

const testToken = "pat-test-token"

// fakeClock is a settable clock for rate-limit and search-delay tests.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type testBundle struct {
	srv   *hubspot.Server
	ts    *httptest.Server
	clock *fakeClock
}

type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimSpace(p)))
	return len(p), nil
}

func testLogger(t *testing.T) *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("CONCORD_DEBUG") == "1" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: level}))
}

// setup starts a server on a fake clock; mutate may adjust the config.
func setup(t *testing.T, mutate func(*hubspot.Config)) *testBundle {
	t.Helper()
	clock := &fakeClock{now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	cfg := hubspot.Config{
		Token:       testToken,
		RateLimit:   -1,
		SearchDelay: 500 * time.Millisecond,
		Now:         clock.Now,
		Logger:      testLogger(t),
	}
	cfg.SearchRateLimit = -1
	if mutate != nil {
		mutate(&cfg)
	}
	srv := hubspot.New(cfg)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ts.Close()
		require.NoError(t, srv.Close())
	})
	return &testBundle{srv: srv, ts: ts, clock: clock}
}

// do sends an authenticated JSON request and decodes the JSON answer.
func (b *testBundle) do(t *testing.T, method, path string, body any) (*http.Response, map[string]any) {
	t.Helper()
	return b.doToken(t, testToken, method, path, body)
}

func (b *testBundle) doToken(t *testing.T, token, method, path string, body any) (*http.Response, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, b.ts.URL+path, rd)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]any
	if len(bytes.TrimSpace(raw)) > 0 {
		require.NoError(t, json.Unmarshal(raw, &out), "body: %s", raw)
	}
	return resp, out
}

func props(o any) map[string]any {
	return o.(map[string]any)["properties"].(map[string]any)
}

func results(body map[string]any) []any {
	return body["results"].([]any)
}

func (b *testBundle) create(t *testing.T, typ string, p map[string]any) string {
	t.Helper()
	resp, body := b.do(t, http.MethodPost, "/crm/v3/objects/"+typ, map[string]any{"properties": p})
	require.Equal(t, http.StatusCreated, resp.StatusCode, "body: %v", body)
	return body["id"].(string)
}

func requireHubSpotError(t *testing.T, body map[string]any, category string) {
	t.Helper()
	require.Equal(t, "error", body["status"])
	require.Equal(t, category, body["category"], "body: %v", body)
	require.NotEmpty(t, body["message"])
	require.NotEmpty(t, body["correlationId"])
}

func TestServer_Auth(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)

	t.Run("ErrMissingToken", func(t *testing.T) {
		t.Parallel()
		resp, body := b.doToken(t, "", http.MethodGet, "/crm/v3/objects/companies", nil)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		requireHubSpotError(t, body, "INVALID_AUTHENTICATION")
	})
	t.Run("ErrWrongToken", func(t *testing.T) {
		t.Parallel()
		resp, body := b.doToken(t, "pat-other", http.MethodGet, "/crm/v3/objects/companies", nil)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		requireHubSpotError(t, body, "INVALID_AUTHENTICATION")
	})
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		resp, body := b.do(t, http.MethodGet, "/crm/v3/objects/companies", nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.NotNil(t, body["results"])
	})
	t.Run("ErrUnknownRoute", func(t *testing.T) {
		t.Parallel()
		resp, body := b.do(t, http.MethodGet, "/crm/v3/nothing", nil)
		require.Equal(t, http.StatusNotFound, resp.StatusCode)
		requireHubSpotError(t, body, "OBJECT_NOT_FOUND")
	})
}

func TestConfig_Validate(t *testing.T) {
	t.Parallel()
	require.NoError(t, hubspot.DefaultConfig().Validate())
	cfg := hubspot.DefaultConfig()
	cfg.SearchDelay = -1
	cfg.Webhook.URL = "ftp://x"
	err := cfg.Validate()
	require.ErrorContains(t, err, "search delay")
	require.ErrorContains(t, err, "http or https")
	require.ErrorContains(t, err, "client secret")
}

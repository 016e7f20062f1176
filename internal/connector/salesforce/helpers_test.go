package salesforce_test

import (
	"context"
	"log/slog"
	"maps"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/hubspot/hubspothttp"
	"github.com/concord-sync/concord/internal/connector/salesforce"
	sandbox "github.com/concord-sync/concord/internal/sandbox/salesforce"
)

// fixture is one sandbox org served over real HTTP.
type fixture struct {
	srv      *sandbox.Server
	url      string
	settings map[string]any
}

func newFixture(t testing.TB, cfg sandbox.Config) *fixture {
	t.Helper()
	if cfg.ClientID == "" {
		cfg.ClientID, cfg.ClientSecret = "concord-test", "s3cret"
	}
	srv := sandbox.New(cfg)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ts.Close()
		_ = srv.Close()
	})
	return &fixture{srv: srv, url: ts.URL, settings: map[string]any{
		"login_url":         ts.URL,
		"client_id":         cfg.ClientID,
		"client_secret":     cfg.ClientSecret,
		"currency":          "USD",
		"create_link_field": true,
		"entities": map[string]any{
			"account": map[string]any{},
			"contact": map[string]any{},
			"product": map[string]any{},
			"deal":    map[string]any{},
		},
	}}
}

// with returns a copy of the settings with kv set.
func (f *fixture) with(kv map[string]any) map[string]any {
	out := maps.Clone(f.settings)
	maps.Copy(out, kv)
	return out
}

func testLogger(t testing.TB) *slog.Logger {
	level := slog.LevelInfo
	if os.Getenv("CONCORD_DEBUG") == "1" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: level}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// open opens the connector with settings (the fixture's when nil) and a
// limiter of its own, so parallel tests do not share a budget.
func (f *fixture) open(t testing.TB, settings map[string]any, opts ...salesforce.Options) *salesforce.Conn {
	t.Helper()
	if settings == nil {
		settings = f.settings
	}
	o := salesforce.Options{Limiter: hubspothttp.NewLimiter(100000, time.Hour)}
	if len(opts) > 0 {
		o = opts[0]
	}
	c, err := salesforce.OpenWith(context.Background(), connector.OpenParams{System: "crm", Settings: settings, Logger: testLogger(t)}, o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

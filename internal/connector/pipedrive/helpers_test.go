package pipedrive_test

import (
	"context"
	"log/slog"
	"maps"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/pipedrive"
	"github.com/concord-sync/concord/internal/connector/pipedrive/pipedrivehttp"
	sandbox "github.com/concord-sync/concord/internal/sandbox/pipedrive"
)

const token = "sandbox-token"

// fixture is one sandbox company served over real HTTP.
type fixture struct {
	srv      *sandbox.Server
	url      string
	settings map[string]any
}

func newFixture(t testing.TB, cfg sandbox.Config) *fixture {
	t.Helper()
	if cfg.Token == "" {
		cfg.Token = token
	}
	srv := sandbox.New(cfg)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ts.Close()
		_ = srv.Close()
	})
	return &fixture{srv: srv, url: ts.URL, settings: map[string]any{
		"base_url":          ts.URL,
		"api_token":         cfg.Token,
		"currency":          "USD",
		"create_link_field": true,
		"entities": map[string]any{
			"account": map[string]any{},
			"contact": map[string]any{},
			"deal":    map[string]any{},
			"product": map[string]any{},
		},
	}}
}

func (f *fixture) with(kv map[string]any) map[string]any {
	out := maps.Clone(f.settings)
	maps.Copy(out, kv)
	return out
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	level := slog.LevelInfo
	if os.Getenv("CONCORD_DEBUG") == "1" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: level}))
}

// open opens the connector with settings (the fixture's when nil) and a
// limiter of its own unless one is given.
func (f *fixture) open(t testing.TB, settings map[string]any, opts ...pipedrive.Options) *pipedrive.Conn {
	t.Helper()
	if settings == nil {
		settings = f.settings
	}
	var o pipedrive.Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.Limiter == nil {
		o.Limiter = pipedrivehttp.NewLimiter(1000, pipedrive.DefaultRateInterval)
	}
	c, err := pipedrive.OpenWith(context.Background(), connector.OpenParams{System: "crm", Settings: settings, Logger: testLogger(t)}, o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

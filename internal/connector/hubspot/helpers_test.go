package hubspot_test

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
	"github.com/concord-sync/concord/internal/connector/hubspot"
	sandbox "github.com/concord-sync/concord/internal/sandbox/hubspot"
)

const token = "sandbox-token"

// fixture is one sandbox portal served over real HTTP.
type fixture struct {
	srv      *sandbox.Server
	url      string
	settings map[string]any
}

// newFixture starts a sandbox with cfg (search delay ~0 unless set) and the
// connector settings to reach it.
func newFixture(t testing.TB, cfg sandbox.Config) *fixture {
	t.Helper()
	if cfg.Token == "" {
		cfg.Token = token
	}
	if cfg.SearchDelay == 0 {
		cfg.SearchDelay = time.Nanosecond
	}
	srv := sandbox.New(cfg)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ts.Close()
		_ = srv.Close()
	})
	return &fixture{srv: srv, url: ts.URL, settings: map[string]any{
		"base_url":             ts.URL,
		"token":                cfg.Token,
		"currency":             "USD",
		"create_link_property": true,
		"entities": map[string]any{
			"account": map[string]any{},
			"product": map[string]any{},
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
func (f *fixture) open(t testing.TB, settings map[string]any, opts ...hubspot.Options) *hubspot.Conn {
	t.Helper()
	if settings == nil {
		settings = f.settings
	}
	var o hubspot.Options
	if len(opts) > 0 {
		o = opts[0]
	}
	c, err := hubspot.OpenWith(context.Background(), connector.OpenParams{System: "crm", Settings: settings, Logger: testLogger(t)}, o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

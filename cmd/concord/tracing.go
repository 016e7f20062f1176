package main

import (
	"context"
	"log/slog"

	"github.com/concord-sync/concord/internal/config"
	"github.com/concord-sync/concord/internal/tracing"
)

// startTracing returns the tracer provider of the config's tracing section:
// an OTLP/HTTP exporter when an endpoint is configured (tracing.otlp_endpoint,
// else OTEL_EXPORTER_OTLP_ENDPOINT), else a no-op. It does no network I/O.
func startTracing(ctx context.Context, cfg *config.Config, log *slog.Logger) (*tracing.Provider, error) {
	t := cfg.Tracing
	if !t.Enabled() {
		return tracing.Off(), nil
	}
	p, err := tracing.New(ctx, tracing.Config{
		Endpoint: t.Endpoint, Headers: t.Headers, SampleRatio: t.SampleRatio,
		ServiceName: t.ServiceName, ServiceVersion: buildVersion(),
	}, log.With("component", "tracing"))
	if err != nil {
		return nil, err
	}
	log.InfoContext(ctx, "tracing on", "endpoint", p.Endpoint(), "from", t.EndpointFrom, "sample_ratio", t.SampleRatio, "service", t.ServiceName)
	return p, nil
}

// buildVersion is concord's version as concord version prints it (the
// release's -ldflags value, else the module version), "" for a development
// build.
func buildVersion() string {
	if v := versionInfo().Version; v != "devel" {
		return v
	}
	return ""
}

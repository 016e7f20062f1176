package tracing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Config says where spans go. The zero Config is tracing off.
type Config struct {
	// Endpoint is the full URL spans are posted to (http://collector:4318/v1/traces);
	// empty turns tracing off.
	Endpoint string
	// Headers are sent with every export. Their values are never logged.
	Headers map[string]string
	// SampleRatio is the share of traces kept, in [0, 1]. A span whose parent
	// was sampled is kept with it.
	SampleRatio float64
	// ServiceName and ServiceVersion describe the process (service.name,
	// service.version); ServiceName defaults to "concord".
	ServiceName, ServiceVersion string
	// ExportTimeout bounds one export, its retries included; default
	// DefaultExportTimeout.
	ExportTimeout time.Duration
	// FlushTimeout bounds the flush of the spans left at Shutdown; default
	// DefaultFlushTimeout.
	FlushTimeout time.Duration
	// BatchTimeout is how long a span may wait to be sent with others;
	// default DefaultBatchTimeout.
	BatchTimeout time.Duration
}

// Defaults of Config.
const (
	DefaultExportTimeout = 10 * time.Second
	DefaultFlushTimeout  = 5 * time.Second
	DefaultBatchTimeout  = 5 * time.Second
	DefaultServiceName   = "concord"
)

// Provider is the process's tracer provider: an exporting one, or a no-op. It
// is safe for concurrent use.
type Provider struct {
	trace.TracerProvider
	sdk      *sdktrace.TracerProvider
	flush    time.Duration
	endpoint string
	log      *slog.Logger
	once     sync.Once
	err      error
}

// Off returns the no-op Provider: spans cost next to nothing and go nowhere.
func Off() *Provider {
	return &Provider{TracerProvider: noop.NewTracerProvider()}
}

// New returns a Provider for cfg: Off when cfg.Endpoint is empty, else one
// that exports over OTLP/HTTP in the background. It does no network I/O; a
// receiver that cannot be reached is found at the first export and logged on
// log (once per outage). Shut the Provider down to flush its spans.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*Provider, error) {
	if cfg.Endpoint == "" {
		return Off(), nil
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.SampleRatio < 0 || cfg.SampleRatio > 1 {
		return nil, fmt.Errorf("tracing: sample ratio %g is not between 0 and 1", cfg.SampleRatio)
	}
	if cfg.ServiceName == "" {
		cfg.ServiceName = DefaultServiceName
	}
	if cfg.ExportTimeout <= 0 {
		cfg.ExportTimeout = DefaultExportTimeout
	}
	if cfg.FlushTimeout <= 0 {
		cfg.FlushTimeout = DefaultFlushTimeout
	}
	if cfg.BatchTimeout <= 0 {
		cfg.BatchTimeout = DefaultBatchTimeout
	}
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("tracing: the endpoint is not an http(s) URL")
	}
	opts := []otlptracehttp.Option{
		otlptracehttp.WithEndpointURL(cfg.Endpoint),
		otlptracehttp.WithTimeout(cfg.ExportTimeout),
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{
			Enabled: true, InitialInterval: 500 * time.Millisecond, MaxInterval: 5 * time.Second, MaxElapsedTime: cfg.ExportTimeout,
		}),
	}
	if len(cfg.Headers) > 0 {
		opts = append(opts, otlptracehttp.WithHeaders(cfg.Headers))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("tracing: exporter: %w", err)
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", cfg.ServiceName)}
	if cfg.ServiceVersion != "" {
		attrs = append(attrs, attribute.String("service.version", cfg.ServiceVersion))
	}
	// The defaults add the SDK's name and version and OTEL_RESOURCE_ATTRIBUTES;
	// the service name is ours.
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(attrs...))
	if err != nil {
		res = resource.NewSchemaless(attrs...)
	}
	endpoint := redact(u)
	sdk := sdktrace.NewTracerProvider(
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio))),
		sdktrace.WithBatcher(&loggingExporter{SpanExporter: exp, log: log, endpoint: endpoint},
			sdktrace.WithBatchTimeout(cfg.BatchTimeout),
			sdktrace.WithExportTimeout(cfg.ExportTimeout)),
	)
	return &Provider{TracerProvider: sdk, sdk: sdk, flush: cfg.FlushTimeout, endpoint: endpoint, log: log}, nil
}

// Enabled reports whether spans are exported.
func (p *Provider) Enabled() bool { return p != nil && p.sdk != nil }

// Endpoint is the URL spans go to, without its query; "" when off.
func (p *Provider) Endpoint() string {
	if p == nil {
		return ""
	}
	return p.endpoint
}

// Shutdown sends the spans not sent yet and stops the exporter, waiting at
// most Config.FlushTimeout (or until ctx is done, when sooner): spans that
// cannot be sent by then are dropped. It is safe to call twice, on a nil
// Provider and on one that is off; the second call returns the first's error.
func (p *Provider) Shutdown(ctx context.Context) error {
	if !p.Enabled() {
		return nil
	}
	p.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.flush)
		defer cancel()
		if err := p.sdk.Shutdown(ctx); err != nil {
			p.err = fmt.Errorf("tracing: flush spans to %s: %w", p.endpoint, err)
		}
	})
	return p.err
}

// loggingExporter logs failed exports on the process's logger, once per
// outage, instead of the OpenTelemetry global error handler (which prints to
// stderr every time).
type loggingExporter struct {
	sdktrace.SpanExporter
	log      *slog.Logger
	endpoint string
	failing  atomic.Bool
}

// ExportSpans implements sdktrace.SpanExporter.
func (e *loggingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := e.SpanExporter.ExportSpans(ctx, spans)
	if err != nil {
		if !e.failing.Swap(true) {
			e.log.WarnContext(ctx, "trace export failed, dropping spans until the receiver answers", "endpoint", e.endpoint, "spans", len(spans), "err", err)
		}
		return nil
	}
	if e.failing.Swap(false) {
		e.log.InfoContext(ctx, "trace export works again", "endpoint", e.endpoint)
	}
	return nil
}

// redact returns u without user info or query, for logs.
func redact(u *url.URL) string {
	c := *u
	c.User, c.RawQuery, c.Fragment = nil, "", ""
	return c.String()
}

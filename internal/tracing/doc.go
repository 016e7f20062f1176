// Package tracing sets up OpenTelemetry tracing for serve and sync --once: a
// tracer provider that batches the engine's spans and posts them to an
// OTLP/HTTP receiver (an OpenTelemetry collector, Jaeger, Grafana Tempo), or a
// no-op provider when tracing is off, which starts no goroutine and sends
// nothing. Export never blocks the engine: spans are queued and sent in the
// background, a queue that is full drops spans, and an unreachable receiver is
// logged once, not retried for longer than Config.ExportTimeout.
package tracing

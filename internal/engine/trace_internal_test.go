package engine

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// BenchmarkSpan measures what one engine span costs: Off is tracing off (the
// default no-op tracer: no attribute is built), Sampled a recording span.
func BenchmarkSpan(b *testing.B) {
	l := &Leg{Name: "customers:reverse", Flow: "customers", Source: "erp", Target: "crm"}
	attrs := func() []attribute.KeyValue { return []attribute.KeyValue{AttrRecords.Int(25), AttrAttempt.Int(1)} }
	for name, tracer := range map[string]*Engine{
		"Off":     {tracer: noop.NewTracerProvider().Tracer(TracerName)},
		"Sampled": {tracer: sdktrace.NewTracerProvider().Tracer(TracerName)},
	} {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				_, span := tracer.span(ctx, SpanPlan, l, attrs)
				endSpan(span, nil)
			}
		})
	}
}

package engine

import (
	"context"
	"errors"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/concord-sync/concord/internal/store"
)

// TracerName is the instrumentation scope of the engine's spans.
const TracerName = "concord"

// Span names. A batch is one trace: "batch" with, per piece, "plan", "write"
// and "record" (and "read" when the batch reads its records by id); a poll is
// another: "poll" with "read".
const (
	SpanBatch  = "batch"
	SpanPoll   = "poll"
	SpanRead   = "read"
	SpanPlan   = "plan"
	SpanWrite  = "write"
	SpanRecord = "record"
)

// Span attributes. They carry names, counts and outcomes, never a record's
// values or ids.
const (
	AttrFlow      = attribute.Key("concord.flow")
	AttrDirection = attribute.Key("concord.direction") // forward or reverse
	AttrSource    = attribute.Key("concord.source")
	AttrTarget    = attribute.Key("concord.target")
	AttrEntity    = attribute.Key("concord.entity")
	AttrRecords   = attribute.Key("concord.records")
	AttrAttempt   = attribute.Key("concord.attempt")
	AttrKind      = attribute.Key("concord.batch.kind") // read, webhook, retry, requeue, pull, wake, replay, resync, sweep
	AttrPieces    = attribute.Key("concord.pieces")
	AttrQueued    = attribute.Key("concord.queued")
	AttrStopped   = attribute.Key("concord.stopped")
	AttrRefused   = attribute.Key("concord.refused") // records the target refused in a write
	// AttrOutcome prefixes the count of records per outcome:
	// concord.outcome.created, concord.outcome.failed, ...
	AttrOutcome = "concord.outcome."
	// AttrPlan prefixes the count of a piece's records per planned action:
	// concord.plan.create, concord.plan.update, concord.plan.none, ...
	AttrPlan = "concord.plan."
)

// Directions of a leg.
const (
	DirectionForward = "forward"
	DirectionReverse = "reverse"
)

// Direction is "reverse" for the second leg of a two-way flow, else "forward".
func (l *Leg) Direction() string {
	if l.Name != l.Flow && strings.HasSuffix(l.Name, ":reverse") {
		return DirectionReverse
	}
	return DirectionForward
}

// span starts a span of leg l. Its attributes are computed only when the span
// records, so that tracing off costs next to nothing.
func (e *Engine) span(ctx context.Context, name string, l *Leg, attrs func() []attribute.KeyValue) (context.Context, trace.Span) {
	ctx, span := e.tracer.Start(ctx, name)
	if span.IsRecording() {
		span.SetAttributes(AttrFlow.String(l.Flow), AttrDirection.String(l.Direction()))
		if attrs != nil {
			span.SetAttributes(attrs()...)
		}
	}
	return ctx, span
}

// endSpan ends a span, recording err (but a stop between pieces, which is no
// failure).
func endSpan(span trace.Span, err error) {
	switch {
	case err == nil:
	case errors.Is(err, ErrStopped) || errors.Is(err, context.Canceled):
		span.SetAttributes(AttrStopped.Bool(true))
	default:
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// outcomeAttrs counts outs by outcome.
func outcomeAttrs(outs []Outcome) []attribute.KeyValue {
	counts := map[store.Outcome]int{}
	for _, o := range outs {
		counts[o.Outcome]++
	}
	attrs := make([]attribute.KeyValue, 0, len(counts))
	for o, n := range counts {
		attrs = append(attrs, attribute.Int(AttrOutcome+string(o), n))
	}
	return attrs
}

// batchKind names what brought a batch, for its span.
func batchKind(b Batch) string {
	switch {
	case b.Resync:
		return "resync"
	case b.ReplayOf != 0:
		return "replay"
	case b.Wake:
		return "wake"
	case b.Pull:
		return "pull"
	case b.Attempt > 1:
		return "retry"
	case b.Force && (len(b.Set) > 0 || len(b.Fetch) > 0):
		return "requeue" // a dead letter retried, a match decided
	case b.Force:
		return "sweep"
	case len(b.Fetch) > 0:
		return "webhook"
	}
	return "read"
}

// actionAttrs counts a plan's records by action: concord.plan.create, ...
func actionAttrs(bp *BatchPlan) []attribute.KeyValue {
	counts := map[Action]int{}
	for _, p := range bp.Records {
		counts[p.Action]++
	}
	attrs := make([]attribute.KeyValue, 0, len(counts))
	for a, n := range counts {
		attrs = append(attrs, attribute.Int(AttrPlan+string(a), n))
	}
	return attrs
}

package engine_test

import (
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/concord-sync/concord/internal/engine"
)

// spanAttrs returns a span's attributes by key.
func spanAttrs(s sdktrace.ReadOnlySpan) map[string]attribute.Value {
	out := map[string]attribute.Value{}
	for _, kv := range s.Attributes() {
		out[string(kv.Key)] = kv.Value
	}
	return out
}

// traceTree indexes ended spans by id, and finds children.
type traceTree []sdktrace.ReadOnlySpan

func (tr traceTree) named(name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range tr {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

func (tr traceTree) children(parent sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, s := range tr {
		if s.Parent().SpanID() == parent.SpanContext().SpanID() && s.SpanContext().TraceID() == parent.SpanContext().TraceID() {
			out = append(out, s.Name())
		}
	}
	return out
}

// TestEngine_Tracing: a poll is a trace (poll > read), a batch another (batch >
// plan, write, record), with flow, direction and counts as attributes and no
// record value or id among them; failures are recorded on the spans.
func TestEngine_Tracing(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	var down atomic.Bool
	b := setupWith(t, func(p *engine.Params) {
		p.Tracer = tp
		p.Connectors["erp"] = readDown{Connector: p.Connectors["erp"], down: &down}
	})
	b.crm.Put(account("c1", "Good One", "ok@example.com"))
	b.crm.Put(account("c2", "Bad Mail", "not-an-address"))
	outs := b.run(t, "customers")
	require.Len(t, outs, 2)

	spans := traceTree(rec.Ended())
	polls := spans.named(engine.SpanPoll)
	require.NotEmpty(t, polls)
	poll := polls[0]
	require.False(t, poll.Parent().IsValid(), "a poll is a trace of its own")
	require.Equal(t, []string{engine.SpanRead}, spans.children(poll))
	pa := spanAttrs(poll)
	require.Equal(t, "customers", pa["concord.flow"].AsString())
	require.Equal(t, "forward", pa["concord.direction"].AsString())
	require.Equal(t, int64(2), pa["concord.records"].AsInt64())
	require.Equal(t, int64(2), pa["concord.queued"].AsInt64())

	batches := spans.named(engine.SpanBatch)
	require.Len(t, batches, 1)
	batch := batches[0]
	require.False(t, batch.Parent().IsValid(), "a batch is a trace of its own")
	require.NotEqual(t, poll.SpanContext().TraceID(), batch.SpanContext().TraceID())
	require.Equal(t, []string{engine.SpanPlan, engine.SpanWrite, engine.SpanRecord}, spans.children(batch))
	ba := spanAttrs(batch)
	require.Equal(t, "customers", ba["concord.flow"].AsString())
	require.Equal(t, "forward", ba["concord.direction"].AsString())
	require.Equal(t, int64(2), ba["concord.records"].AsInt64())
	require.Equal(t, int64(1), ba["concord.attempt"].AsInt64())
	require.Equal(t, "read", ba["concord.batch.kind"].AsString())
	require.Equal(t, int64(1), ba["concord.pieces"].AsInt64())
	require.Equal(t, int64(1), ba["concord.outcome.created"].AsInt64())
	require.Equal(t, int64(1), ba["concord.outcome.quarantined"].AsInt64())
	require.Equal(t, codes.Unset, batch.Status().Code)

	plan := spanAttrs(spans.named(engine.SpanPlan)[0])
	require.Equal(t, int64(1), plan["concord.plan.create"].AsInt64())
	require.Equal(t, int64(1), plan["concord.plan.quarantine"].AsInt64())
	write := spanAttrs(spans.named(engine.SpanWrite)[0])
	require.Equal(t, int64(1), write["concord.records"].AsInt64(), "only the created record is written")
	require.Equal(t, "erp", write["concord.target"].AsString())
	record := spanAttrs(spans.named(engine.SpanRecord)[0])
	require.Equal(t, int64(1), record["concord.outcome.created"].AsInt64())

	for _, s := range spans {
		for k, v := range spanAttrs(s) {
			for _, secret := range []string{"c1", "c2", "Good One", "ok@example.com", "not-an-address", "Germany"} {
				require.NotContains(t, v.Emit(), secret, "span %s attribute %s carries a record's value or id", s.Name(), k)
			}
		}
	}

	t.Run("ErrWrite", func(t *testing.T) {
		rec.Reset()
		b.erp.SetWriteErr(errString("connection refused"))
		defer b.erp.SetWriteErr(nil)
		b.crm.Put(account("c3", "Third", "c3@example.com"))
		_, err := b.eng.Poll(b.ctx, "customers")
		require.NoError(t, err)
		for _, batch := range b.queue.take() {
			_, err := b.eng.Process(b.ctx, batch, engine.ProcessOptions{})
			require.NoError(t, err, "a failed write is a retry, not a failed batch")
		}
		spans := traceTree(rec.Ended())
		write := spans.named(engine.SpanWrite)
		require.Len(t, write, 1)
		require.Equal(t, codes.Error, write[0].Status().Code)
		require.Contains(t, write[0].Status().Description, "connection refused")
		require.NotEmpty(t, write[0].Events(), "the error is recorded as an event")
		require.Equal(t, int64(1), spanAttrs(spans.named(engine.SpanBatch)[0])["concord.outcome.retrying"].AsInt64())
	})

	t.Run("ErrBatch", func(t *testing.T) {
		rec.Reset()
		down.Store(true)
		defer down.Store(false)
		b.crm.Put(account("c4", "Fourth", "c4@example.com"))
		_, err := b.eng.Poll(b.ctx, "customers")
		require.NoError(t, err)
		var batches []engine.Batch
		for _, batch := range b.queue.take() {
			if batch.Attempt == 1 {
				batches = append(batches, batch)
			}
		}
		require.Len(t, batches, 1)
		_, err = b.eng.Process(b.ctx, batches[0], engine.ProcessOptions{})
		require.Error(t, err)
		spans := traceTree(rec.Ended())
		batch := spans.named(engine.SpanBatch)
		require.Len(t, batch, 1)
		require.Equal(t, codes.Error, batch[0].Status().Code)
		require.Contains(t, batch[0].Status().Description, "erp is down")
		plan := spans.named(engine.SpanPlan)
		require.Len(t, plan, 1)
		require.Equal(t, codes.Error, plan[0].Status().Code)
		require.Empty(t, spans.named(engine.SpanWrite), "nothing was written")
	})
}

type errString string

func (e errString) Error() string { return string(e) }

func TestLeg_Direction(t *testing.T) {
	t.Parallel()
	require.Equal(t, "forward", (&engine.Leg{Name: "customers", Flow: "customers"}).Direction())
	require.Equal(t, "reverse", (&engine.Leg{Name: "customers:reverse", Flow: "customers"}).Direction())
}

// TestEngine_TracingOff: without a tracer the engine makes no span (the
// default), and with one whose sampler drops everything nothing is recorded.
func TestEngine_TracingOff(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithSampler(sdktrace.NeverSample()))
	b := setupWith(t, func(p *engine.Params) { p.Tracer = tp })
	b.crm.Put(account("c1", "Good One", "ok@example.com"))
	require.Len(t, b.run(t, "customers"), 1)
	require.Empty(t, rec.Ended())

	plain := setup(t)
	plain.crm.Put(account("c1", "Good One", "ok@example.com"))
	require.Len(t, plain.run(t, "customers"), 1)
}

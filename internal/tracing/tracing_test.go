package tracing_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"

	"github.com/concord-sync/concord/internal/tracing"
	"github.com/concord-sync/concord/internal/tracing/tracingtest"
)

// syncBuffer is a bytes.Buffer safe for the exporter's goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// emit makes a little trace: a root with two children, the second failing.
func emit(p *tracing.Provider) {
	tr := p.Tracer("concord")
	ctx, root := tr.Start(context.Background(), "batch")
	root.SetAttributes(attribute.String("concord.flow", "customers"), attribute.Int("concord.records", 3))
	_, plan := tr.Start(ctx, "plan")
	plan.End()
	_, write := tr.Start(ctx, "write")
	write.RecordError(errors.New("erp refused"))
	write.SetStatus(codes.Error, "erp refused")
	write.End()
	root.End()
}

func TestNew(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		recv := tracingtest.New(t)
		p, err := tracing.New(context.Background(), tracing.Config{
			Endpoint: recv.URL + "/v1/traces", SampleRatio: 1, ServiceName: "concord-test", ServiceVersion: "1.2.3",
			Headers: map[string]string{"X-Api-Key": "k-123"},
		}, nil)
		require.NoError(t, err)
		require.True(t, p.Enabled())
		emit(p)
		require.Zero(t, recv.Requests(), "spans wait for the batch timeout or the flush")
		require.NoError(t, p.Shutdown(context.Background()))
		require.NoError(t, p.Shutdown(context.Background()), "twice is fine")

		require.Empty(t, recv.Bad())
		require.Equal(t, []string{"/v1/traces"}, recv.Paths())
		require.Equal(t, "k-123", recv.Headers()[0].Get("X-Api-Key"))
		spans := recv.Spans()
		require.Len(t, spans, 3)
		root := tracingtest.Named(spans, "batch")[0]
		require.Empty(t, root.ParentID)
		require.Equal(t, []string{"plan", "write"}, tracingtest.Children(spans, root))
		require.Equal(t, "customers", root.Attrs["concord.flow"])
		require.Equal(t, int64(3), root.Attrs["concord.records"])
		require.Equal(t, "concord-test", root.Resource["service.name"])
		require.Equal(t, "1.2.3", root.Resource["service.version"])
		require.Equal(t, "concord", root.Scope)
		write := tracingtest.Named(spans, "write")[0]
		require.True(t, write.Error)
		require.Equal(t, "erp refused", write.Message)
		require.Equal(t, []string{"exception"}, write.Events)
	})

	t.Run("Off", func(t *testing.T) {
		t.Parallel()
		p, err := tracing.New(context.Background(), tracing.Config{}, nil)
		require.NoError(t, err)
		require.False(t, p.Enabled())
		_, span := p.Tracer("concord").Start(context.Background(), "batch")
		require.False(t, span.IsRecording())
		span.End()
		require.NoError(t, p.Shutdown(context.Background()))
		var nilp *tracing.Provider
		require.NoError(t, nilp.Shutdown(context.Background()))
	})

	t.Run("SampledOut", func(t *testing.T) {
		t.Parallel()
		recv := tracingtest.New(t)
		p, err := tracing.New(context.Background(), tracing.Config{Endpoint: recv.URL + "/v1/traces", SampleRatio: 0}, nil)
		require.NoError(t, err)
		emit(p)
		require.NoError(t, p.Shutdown(context.Background()))
		require.Zero(t, recv.Requests())
	})

	t.Run("BatchTimeout", func(t *testing.T) {
		t.Parallel()
		recv := tracingtest.New(t)
		p, err := tracing.New(context.Background(), tracing.Config{Endpoint: recv.URL + "/v1/traces", SampleRatio: 1, BatchTimeout: 50 * time.Millisecond}, nil)
		require.NoError(t, err)
		t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
		emit(p)
		require.Eventually(t, func() bool { return len(recv.Spans()) == 3 }, 10*time.Second, 20*time.Millisecond, "spans are sent while the process runs")
	})

	t.Run("ErrEndpoint", func(t *testing.T) {
		t.Parallel()
		_, err := tracing.New(context.Background(), tracing.Config{Endpoint: "collector:4318", SampleRatio: 1}, nil)
		require.Error(t, err)
		_, err = tracing.New(context.Background(), tracing.Config{Endpoint: "http://collector:4318", SampleRatio: 2}, nil)
		require.Error(t, err)
	})
}

// TestProvider_Unreachable: a receiver that refuses connections or never
// answers does not block span ends, is logged once, and the flush at shutdown
// gives up after its timeout.
func TestProvider_Unreachable(t *testing.T) {
	t.Parallel()

	// hanging accepts exports and never answers them.
	stop := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(hanging.Close)
	t.Cleanup(func() { close(stop) }) // runs first
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	refused := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())

	for name, base := range map[string]string{"Hanging": hanging.URL, "Refused": refused} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var logs syncBuffer
			log := slog.New(slog.NewTextHandler(&logs, nil))
			const flush = 300 * time.Millisecond
			p, err := tracing.New(context.Background(), tracing.Config{
				Endpoint: base + "/v1/traces", SampleRatio: 1, BatchTimeout: 20 * time.Millisecond,
				ExportTimeout: 200 * time.Millisecond, FlushTimeout: flush,
			}, log)
			require.NoError(t, err)
			for range 3000 { // more than the queue holds: spans are dropped, never waited for
				emit(p)
			}
			require.Eventually(t, func() bool { return bytes.Contains([]byte(logs.String()), []byte("trace export failed")) }, 10*time.Second, 10*time.Millisecond)
			began := time.Now()
			_ = p.Shutdown(context.Background())
			require.Less(t, time.Since(began), 10*flush, "the flush is bounded")
			require.Equal(t, 1, bytes.Count([]byte(logs.String()), []byte("trace export failed")), "logged once per outage:\n%s", logs.String())
		})
	}
}

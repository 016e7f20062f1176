package logwatch_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/logwatch"
	"github.com/concord-sync/concord/internal/store"
)

type testBundle struct {
	buf *bytes.Buffer
	obs *logwatch.Observer
}

// setup returns an Observer logging JSON at level into a buffer.
func setup(t *testing.T, level slog.Level) *testBundle {
	t.Helper()
	buf := &bytes.Buffer{}
	return &testBundle{buf: buf, obs: logwatch.New(slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: level})))}
}

// lines parses every line written as JSON.
func (b *testBundle) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for l := range strings.Lines(b.buf.String()) {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), "line %q", l)
		require.NotContains(t, m, "leg", "line %q", l)
		out = append(out, m)
	}
	return out
}

var at = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestObserver_Polled(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setup(t, slog.LevelInfo)
		b.obs.Polled(engine.PollReport{Leg: "customers:reverse", Flow: "customers", Source: "erp", At: at, Took: 42 * time.Millisecond, Read: 7, Queued: 5})
		b.obs.Polled(engine.PollReport{Leg: "customers", Flow: "customers", Source: "crm", At: at, Took: time.Millisecond}) // nothing read: debug
		b.obs.Polled(engine.PollReport{Leg: "customers", Flow: "customers", Source: "crm", At: at, Err: errors.New("no such table")})
		ls := b.lines(t)
		require.Len(t, ls, 1)
		require.Equal(t, map[string]any{
			"time": ls[0]["time"], "level": "INFO", "msg": "polled", "flow": "customers", "direction": "reverse",
			"source": "erp", "read": 7.0, "queued": 5.0, "took": float64(42 * time.Millisecond),
		}, ls[0])
	})

	t.Run("Debug", func(t *testing.T) {
		t.Parallel()
		b := setup(t, slog.LevelDebug)
		b.obs.Polled(engine.PollReport{Leg: "customers", Flow: "customers", Source: "crm", At: at})
		b.obs.Polled(engine.PollReport{Leg: "customers", Flow: "customers", Source: "crm", At: at, Err: errors.New("no such table")})
		ls := b.lines(t)
		require.Len(t, ls, 2)
		require.Equal(t, "DEBUG", ls[0]["level"])
		require.Equal(t, 0.0, ls[0]["read"])
		require.Equal(t, "poll attempt failed", ls[1]["msg"])
		require.Equal(t, "no such table", ls[1]["err"])
	})
}

func TestObserver_Recorded(t *testing.T) {
	t.Parallel()
	b := setup(t, slog.LevelInfo)
	b.obs.Recorded(engine.PieceReport{
		Leg: "customers", Flow: "customers", Source: "crm", Target: "erp", At: at,
		Took: 1500 * time.Millisecond, Write: 900 * time.Millisecond, QueueWait: 2 * time.Second, Oldest: at.Add(-time.Minute),
		Outcomes: map[store.Outcome]int{store.OutcomeCreated: 3, store.OutcomeUpdated: 2, store.OutcomeQuarantined: 1, store.OutcomeFailed: 1,
			store.OutcomeRetrying: 1, store.OutcomeReview: 1, store.OutcomeDead: 1},
		Failures: []engine.Outcome{
			{SourceID: "c7", Outcome: store.OutcomeQuarantined, Field: "name", Reason: "required field is blank"},
			{SourceID: "c8", Outcome: store.OutcomeFailed, Reason: "company refused"},
			{SourceID: "c9", Outcome: store.OutcomeRetrying, Reason: "connection refused"},
			{SourceID: "c10", Outcome: store.OutcomeReview, Reason: "possible match"},
			{SourceID: "c11", Outcome: store.OutcomeDead, Reason: "timeout"},
		},
	})
	ls := b.lines(t)
	require.Len(t, ls, 6)
	applied := ls[0]
	require.Equal(t, map[string]any{
		"time": applied["time"], "level": "INFO", "msg": "applied", "flow": "customers", "direction": "forward",
		"source": "crm", "target": "erp", "records": 10.0, "created": 3.0, "updated": 2.0, "quarantined": 1.0, "failed": 1.0,
		"retrying": 1.0, "review": 1.0, "dead": 1.0, "took": float64(1500 * time.Millisecond), "write": float64(900 * time.Millisecond),
		"queue_wait": float64(2 * time.Second), "lag": float64(time.Minute),
	}, applied)
	for i, want := range []struct{ level, msg, record, outcome string }{
		{"WARN", "record quarantined", "c7", "quarantined"},
		{"WARN", "record failed", "c8", "failed"},
		{"INFO", "record failed, retrying", "c9", "retrying"},
		{"INFO", "record waits for review", "c10", "review"},
		{"WARN", "record dead-lettered", "c11", "dead"},
	} {
		l := ls[i+1]
		require.Equal(t, want.level, l["level"], l)
		require.Equal(t, want.msg, l["msg"], l)
		require.Equal(t, want.record, l["record"], l)
		require.Equal(t, want.outcome, l["outcome"], l)
		require.Equal(t, "customers", l["flow"], l)
		require.Equal(t, "erp", l["target"], l)
		require.NotEmpty(t, l["reason"], l)
	}
	require.Equal(t, "name", ls[1]["field"])
	require.NotContains(t, ls[2], "field")
}

func TestObserver_BatchFailed(t *testing.T) {
	t.Parallel()
	b := setup(t, slog.LevelInfo)
	f := engine.BatchFailure{Leg: "customers", Flow: "customers", Source: "crm", Target: "erp", At: at, Records: 3, Err: errors.New("erp down")}
	b.obs.BatchFailed(f)
	require.Empty(t, b.lines(t), "the queue logs failed batches at warn and error")

	b = setup(t, slog.LevelDebug)
	b.obs.BatchFailed(f)
	ls := b.lines(t)
	require.Len(t, ls, 1)
	require.Equal(t, "batch attempt failed", ls[0]["msg"])
	require.Equal(t, "erp down", ls[0]["err"])
	require.Equal(t, 3.0, ls[0]["records"])
}

// TestObserver_Text: the text format carries the same keys, durations
// readable.
func TestObserver_Text(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	obs := logwatch.New(slog.New(slog.NewTextHandler(&buf, nil)))
	obs.Recorded(engine.PieceReport{Leg: "customers:reverse", Flow: "customers", Source: "erp", Target: "crm", At: at,
		Took: 123456789 * time.Nanosecond, Write: 3456 * time.Microsecond, Outcomes: map[store.Outcome]int{store.OutcomeUpdated: 4}})
	require.Contains(t, buf.String(), `msg=applied flow=customers direction=reverse source=erp target=crm records=4 updated=4 took=123ms write=3.456ms`)
}

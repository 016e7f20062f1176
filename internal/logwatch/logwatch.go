package logwatch

import (
	"context"
	"log/slog"
	"time"

	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/store"
)

// Messages of the lines the Observer writes, and those reserved for the
// others of the owner's watch (docs/operations.md lists them all).
const (
	MsgPolled         = "polled"
	MsgPollFailed     = "poll attempt failed"
	MsgApplied        = "applied"
	MsgBatchFailed    = "batch attempt failed"
	MsgRecordFailed   = "record failed"
	MsgRecordDead     = "record dead-lettered"
	MsgRecordRetrying = "record failed, retrying"
	MsgQuarantined    = "record quarantined"
	MsgReview         = "record waits for review"
	// MsgAlertFired and MsgAlertResolved are the alert loop's (internal/alert).
	MsgAlertFired    = "alert fired"
	MsgAlertResolved = "alert resolved"
)

// Attribute keys.
const (
	KeyFlow      = "flow"
	KeyDirection = "direction"
	KeySource    = "source"
	KeyTarget    = "target"
	KeyRead      = "read"
	KeyQueued    = "queued"
	KeyTook      = "took"
	KeyRecords   = "records"
	KeyWrite     = "write"
	KeyQueueWait = "queue_wait"
	KeyLag       = "lag"
	KeyRecord    = "record"
	KeyOutcome   = "outcome"
	KeyField     = "field"
	KeyReason    = "reason"
	KeyErr       = "err"
)

// outcomes are the outcome counts an applied line may carry, in the order it
// carries them; each is a key (its store name), present when not zero.
var outcomes = []store.Outcome{
	store.OutcomeCreated, store.OutcomeUpdated, store.OutcomeUnchanged, store.OutcomeStale,
	store.OutcomeNotCreated, store.OutcomeWaiting, store.OutcomeReview, store.OutcomeQuarantined,
	store.OutcomeRetrying, store.OutcomeFailed, store.OutcomeDead,
}

// Observer logs what the engine reports. It is safe for concurrent use; each
// report costs a few log lines and never blocks longer than the logger's
// handler.
type Observer struct {
	log *slog.Logger
}

var _ engine.Observer = (*Observer)(nil)

// New returns an Observer that writes to log.
func New(log *slog.Logger) *Observer {
	return &Observer{log: log}
}

// Polled implements engine.Observer: a poll that read records at info, one
// that read nothing at debug. A failed poll is logged at debug only: serve
// logs it ("poll failed", with the flow's config line) once its retries are
// over, and each retry of a system down is a "system down, retrying" warning.
func (o *Observer) Polled(r engine.PollReport) {
	ctx := context.Background()
	if r.Err != nil {
		o.log.DebugContext(ctx, MsgPollFailed, flow(r.Leg), KeySource, r.Source, KeyTook, round(r.Took), KeyErr, r.Err)
		return
	}
	lvl := slog.LevelInfo
	if r.Read == 0 {
		lvl = slog.LevelDebug
	}
	o.log.Log(ctx, lvl, MsgPolled, flow(r.Leg), KeySource, r.Source, KeyRead, r.Read, KeyQueued, r.Queued, KeyTook, round(r.Took))
}

// Recorded implements engine.Observer: one info line for the piece, with its
// counts by outcome, then one line per record not synced (see level).
func (o *Observer) Recorded(r engine.PieceReport) {
	ctx := context.Background()
	total := 0
	for _, n := range r.Outcomes {
		total += n
	}
	args := make([]any, 0, 16+2*len(r.Outcomes))
	args = append(args, flow(r.Leg), KeySource, r.Source, KeyTarget, r.Target, KeyRecords, total)
	for _, oc := range outcomes {
		if n := r.Outcomes[oc]; n > 0 {
			args = append(args, string(oc), n)
		}
	}
	args = append(args, KeyTook, round(r.Took), KeyWrite, round(r.Write))
	if r.QueueWait > 0 {
		args = append(args, KeyQueueWait, round(r.QueueWait))
	}
	if !r.Oldest.IsZero() && r.At.After(r.Oldest) {
		args = append(args, KeyLag, round(r.At.Sub(r.Oldest)))
	}
	o.log.InfoContext(ctx, MsgApplied, args...)
	for _, f := range r.Failures {
		lvl, msg := level(f.Outcome)
		args := []any{flow(r.Leg), KeySource, r.Source, KeyTarget, r.Target, KeyRecord, f.SourceID, KeyOutcome, string(f.Outcome)}
		if f.Field != "" {
			args = append(args, KeyField, f.Field)
		}
		args = append(args, KeyReason, f.Reason)
		o.log.Log(ctx, lvl, msg, args...)
	}
}

// BatchFailed implements engine.Observer, at debug: the queue logs each
// failed attempt of a batch ("batch failed, retrying" at warn, "batch
// dead-lettered" at error), with its attempt.
func (o *Observer) BatchFailed(r engine.BatchFailure) {
	o.log.DebugContext(context.Background(), MsgBatchFailed, flow(r.Leg), KeySource, r.Source, KeyTarget, r.Target,
		KeyRecords, r.Records, KeyErr, r.Err)
}

// level is the level and message of a record not synced: warn when a person
// must act (the target refused it, it failed its last attempt, its data must
// be fixed at the source); info when Concord goes on by itself (a retry) or a
// person's decision is the normal course (a possible match, concord match).
func level(o store.Outcome) (slog.Level, string) {
	switch o {
	case store.OutcomeDead:
		return slog.LevelWarn, MsgRecordDead
	case store.OutcomeQuarantined:
		return slog.LevelWarn, MsgQuarantined
	case store.OutcomeRetrying:
		return slog.LevelInfo, MsgRecordRetrying
	case store.OutcomeReview:
		return slog.LevelInfo, MsgReview
	default:
		return slog.LevelWarn, MsgRecordFailed
	}
}

// flow names a leg as users know it.
func flow(leg string) slog.Attr { return engine.FlowAttr(leg) }

// round keeps durations readable in text logs: milliseconds from 10 ms,
// microseconds below.
func round(d time.Duration) time.Duration {
	if d >= 10*time.Millisecond {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Microsecond)
}

package engine

import (
	"time"

	"github.com/concord-sync/concord/internal/store"
)

// Observer is told what the engine does, for the owner's watch: health
// (internal/health), metrics and logs each implement it. Calls are made
// synchronously on the engine's goroutines, after the work they report is
// durable; an Observer must be cheap and safe for concurrent use, and never
// block. Reports carry counts, durations and reasons; record ids only in
// Failures, which logs may print and metrics must not label with.
type Observer interface {
	// Polled reports one poll of a leg's source: what it read and queued, or
	// the error that stopped it.
	Polled(r PollReport)
	// Recorded reports one recorded piece of a batch: its outcomes.
	Recorded(r PieceReport)
	// BatchFailed reports a batch that failed as a whole before it could be
	// recorded (the target or the store down): the queue retries it or, after
	// its last attempt, buries it as dead letters.
	BatchFailed(r BatchFailure)
}

// PollReport is one poll.
type PollReport struct {
	Leg, Flow, Source string
	At                time.Time
	Took              time.Duration
	Read, Queued      int
	// Err is why the poll failed; nil on success.
	Err error
}

// PieceReport is one recorded piece of a batch.
type PieceReport struct {
	Leg, Flow, Source, Target string
	At                        time.Time
	// Took is the piece's planning, writing and recording; Write the target's
	// write call alone (zero when nothing was written).
	Took, Write time.Duration
	// QueueWait is how long the batch waited in the queue before it started
	// (zero for its later pieces, and when unknown).
	QueueWait time.Duration
	// Outcomes counts the piece's records by outcome.
	Outcomes map[store.Outcome]int
	// Oldest is the source change time of the oldest record applied (created,
	// updated or unchanged) in the piece: At - Oldest is how far behind the
	// target was. Zero when none was applied.
	Oldest time.Time
	// Failures are the records that failed (for good, dead-lettered after
	// their last attempt, or to be retried), were quarantined or went to
	// review, with the reason.
	Failures []Outcome
}

// BatchFailure is a batch that failed as a whole.
type BatchFailure struct {
	Leg, Flow, Source, Target string
	At                        time.Time
	Records                   int
	Err                       error
}

// Observers fans reports out to several observers.
type Observers []Observer

// Polled implements Observer.
func (o Observers) Polled(r PollReport) {
	for _, x := range o {
		x.Polled(r)
	}
}

// Recorded implements Observer.
func (o Observers) Recorded(r PieceReport) {
	for _, x := range o {
		x.Recorded(r)
	}
}

// BatchFailed implements Observer.
func (o Observers) BatchFailed(r BatchFailure) {
	for _, x := range o {
		x.BatchFailed(r)
	}
}

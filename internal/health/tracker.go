package health

import (
	"fmt"
	"sync"
	"time"

	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/store"
)

// Tracker remembers what the engine did, per leg and per system, for the
// Collector's snapshots: last polls, last applied change, error streaks, the
// last error and counters since start. It implements engine.Observer; it is
// safe for concurrent use and never blocks on I/O.
type Tracker struct {
	mu      sync.Mutex
	legs    map[string]*legState
	systems map[string]*systemState
	opening string
}

var _ engine.Observer = (*Tracker)(nil)

type legState struct {
	lastPoll, lastPollOK, lastApplied time.Time
	// pollErrs and batchErrs are the polls and batches that failed in a row;
	// each kind is reset by its own success, so a source that reads well does
	// not hide a target that refuses every batch.
	pollErrs, batchErrs int
	lastError           string
	lastErrorAt         time.Time
	read, applied       int64
	failed              int64
	// behind is how far behind the target was when the last change was
	// applied (the last piece's At - Oldest).
	behind time.Duration
}

type systemState struct {
	lastOK      time.Time
	streak      int
	lastError   string
	lastErrorAt time.Time
	// pingOK and pingAt are the last ping's result and time.
	pinged bool
	pingOK bool
	pingAt time.Time
}

// NewTracker returns an empty tracker.
func NewTracker() *Tracker {
	return &Tracker{legs: map[string]*legState{}, systems: map[string]*systemState{}}
}

// Opening records what serve is opening now ("store", "system crm"), said
// by /readyz until the Collector has its sources; "" when done.
func (t *Tracker) Opening(what string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.opening = what
}

func (t *Tracker) leg(name string) *legState {
	l, ok := t.legs[name]
	if !ok {
		l = &legState{}
		t.legs[name] = l
	}
	return l
}

func (t *Tracker) system(name string) *systemState {
	s, ok := t.systems[name]
	if !ok {
		s = &systemState{}
		t.systems[name] = s
	}
	return s
}

func (s *systemState) ok(at time.Time) {
	if at.After(s.lastOK) {
		s.lastOK = at
	}
	s.streak = 0
}

func (s *systemState) fail(at time.Time, err error) {
	s.streak++
	s.lastError, s.lastErrorAt = err.Error(), at
}

// Polled implements engine.Observer.
func (t *Tracker) Polled(r engine.PollReport) {
	t.mu.Lock()
	defer t.mu.Unlock()
	l, sys := t.leg(r.Leg), t.system(r.Source)
	l.lastPoll = r.At
	if r.Err != nil {
		l.pollErrs++
		l.lastError, l.lastErrorAt = r.Err.Error(), r.At
		sys.fail(r.At, r.Err)
		return
	}
	l.pollErrs = 0
	l.lastPollOK = r.At
	l.read += int64(r.Read)
	sys.ok(r.At)
}

// Recorded implements engine.Observer.
func (t *Tracker) Recorded(r engine.PieceReport) {
	t.mu.Lock()
	defer t.mu.Unlock()
	l := t.leg(r.Leg)
	l.batchErrs = 0
	applied := r.Outcomes[store.OutcomeCreated] + r.Outcomes[store.OutcomeUpdated] + r.Outcomes[store.OutcomeUnchanged]
	l.applied += int64(applied)
	l.failed += int64(r.Outcomes[store.OutcomeFailed] + r.Outcomes[store.OutcomeRetrying] + r.Outcomes[store.OutcomeDead])
	if applied > 0 {
		l.lastApplied = r.At
		if !r.Oldest.IsZero() {
			l.behind = max(0, r.At.Sub(r.Oldest))
		}
	}
	t.system(r.Source).ok(r.At)
	t.system(r.Target).ok(r.At)
}

// BatchFailed implements engine.Observer.
func (t *Tracker) BatchFailed(r engine.BatchFailure) {
	t.mu.Lock()
	defer t.mu.Unlock()
	l := t.leg(r.Leg)
	l.batchErrs++
	l.failed += int64(r.Records)
	if r.Err != nil {
		l.lastError, l.lastErrorAt = fmt.Sprintf("batch of %d records to %s: %v", r.Records, r.Target, r.Err), r.At
	}
}

// Pinged records a ping of a system (the Collector's, for connectors that
// implement connector.Pinger); err nil means it answered.
func (t *Tracker) Pinged(system string, at time.Time, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.system(system)
	s.pinged, s.pingOK, s.pingAt = true, err == nil, at
	if err != nil {
		s.fail(at, err)
		return
	}
	s.ok(at)
}

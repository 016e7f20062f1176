// Package health is the integration's state as its owner watches it: per flow
// and per system, what happened last, how far behind the target is, what is
// stuck. A Snapshot is what /readyz, /stats, `concord status`, the metrics'
// gauges and the alerts read; one type, so they never disagree.
package health

import "time"

// Snapshot is the state at one moment.
type Snapshot struct {
	At time.Time `json:"at"`
	// Ready is false when a system or the store is unreachable or a flow is
	// failing; Reasons say which and why, one sentence each.
	Ready   bool     `json:"ready"`
	Reasons []string `json:"reasons,omitempty"`
	Store   Store    `json:"store"`
	Systems []System `json:"systems"`
	Flows   []Flow   `json:"flows"`
}

// Store is the state of Concord's own store.
type Store struct {
	Writable  bool      `json:"writable"`
	CheckedAt time.Time `json:"checked_at,omitzero"`
	LastError string    `json:"last_error,omitempty"`
}

// System is the state of one connected system.
type System struct {
	Name      string `json:"name"`
	Connector string `json:"connector"`
	Reachable bool   `json:"reachable"`
	// LastOK is the last time a call to the system succeeded (a poll, a
	// write, a ping).
	LastOK    time.Time `json:"last_ok,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	// ErrorStreak counts the calls that failed in a row since LastOK.
	ErrorStreak int `json:"error_streak"`
	// WebhookRefusals counts refused webhook deliveries (forged, stale,
	// malformed) since start.
	WebhookRefusals int64 `json:"webhook_refusals"`
	// RateLimitUse is the share of the system's rate-limit budget in use, in
	// [0,1]; -1 when the system has no known budget.
	RateLimitUse float64 `json:"rate_limit_use"`
}

// Flow is the state of one direction of a flow (a leg: a two-way flow has
// two, the second named "<flow>:reverse").
type Flow struct {
	Flow   string `json:"flow"`
	Leg    string `json:"leg"`
	Source string `json:"source"`
	Target string `json:"target"`
	// LastPoll is the last poll's time, LastPollOK the last successful one's.
	LastPoll   time.Time `json:"last_poll,omitzero"`
	LastPollOK time.Time `json:"last_poll_ok,omitzero"`
	// LastApplied is when a change was last applied to the target.
	LastApplied time.Time `json:"last_applied,omitzero"`
	// Lag is the age of the oldest change read and not yet applied (queued,
	// retrying or waiting), or when none, how far behind the last applied
	// change was when it was applied.
	Lag time.Duration `json:"lag"`
	// ErrorStreak counts the polls and batches that failed in a row;
	// LastError is the latest one's reason.
	ErrorStreak int    `json:"error_streak"`
	LastError   string `json:"last_error,omitempty"`
	// Counters since start.
	Read    int64 `json:"read"`
	Applied int64 `json:"applied"`
	Failed  int64 `json:"failed"`
	// Current state, from the store: it goes down when things are fixed.
	QueueDepth     int       `json:"queue_depth"`
	DeadLetters    int       `json:"dead_letters"`
	Quarantine     int       `json:"quarantine"`
	Waiting        int       `json:"waiting"`
	PendingReviews int       `json:"pending_reviews"`
	OldestReview   time.Time `json:"oldest_review,omitzero"`
	// Failing is true when the flow's last poll or batch failed.
	Failing bool `json:"failing"`
	// LastEvent is the time of the flow's latest event in the store (set by
	// concord status when serve is not running).
	LastEvent time.Time `json:"last_event,omitzero"`
}

// DeadLetters is the number of open dead letters over every flow.
func (s Snapshot) DeadLetters() int {
	n := 0
	for _, f := range s.Flows {
		n += f.DeadLetters
	}
	return n
}

// Quarantined is the number of records in quarantine now over every flow.
func (s Snapshot) Quarantined() int {
	n := 0
	for _, f := range s.Flows {
		n += f.Quarantine
	}
	return n
}

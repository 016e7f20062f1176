package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Retention says how long the store keeps history.
type Retention struct {
	// Events is how long events (and sweep summaries) are kept: `concord serve`
	// deletes older ones every hour, except those an open dead letter, a wait
	// or a quarantine entry needs. Zero keeps them forever.
	Events time.Duration
}

// DefaultEventRetention is how long events are kept when the file does not say.
const DefaultEventRetention = 90 * 24 * time.Hour

// MinRetention is the shortest retention accepted: a shorter one is almost
// always a typo (6m is six minutes, not six months).
const MinRetention = time.Hour

// KeepForever is the retention value that never deletes.
const KeepForever = "forever"

// ParseRetention parses a retention period: a number of days (30d), a Go
// duration (720h, 36h30m), or "forever" (0: never delete). Periods shorter
// than MinRetention are refused.
func ParseRetention(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == KeepForever {
		return 0, nil
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 || n > 100*365 {
			return 0, fmt.Errorf("%q is not a period such as 30d, 720h or forever", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		v, err := time.ParseDuration(s)
		if err != nil || v <= 0 {
			return 0, fmt.Errorf("%q is not a period such as 30d, 720h or forever", s)
		}
		d = v
	}
	if d < MinRetention {
		return 0, fmt.Errorf("%q is shorter than 1h (m is minutes; write days as 30d)", s)
	}
	return d, nil
}

// retentionPattern matches what ParseRetention accepts (except its minimum).
const retentionPattern = `^([0-9]+d|([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+|forever)$`

var retentionSchema = object("How long the store keeps history. Optional.", map[string]*jsonSchema{
	"events": {Type: "string", Pattern: retentionPattern, Default: "90d", Examples: []any{"90d", "720h", KeepForever},
		Description: "How long events and sweep summaries are kept: a number of days (30d), a duration (720h) or forever. `concord serve` deletes older ones every hour, except those an open dead letter, a wait or a quarantine entry needs. At least 1h."},
})

func (l *loader) retention(n *node) {
	m := l.object(n, "retention", retentionSchema)
	e, ok := m["events"]
	if !ok || e.v == nil || e.v.kind == kindNull {
		return
	}
	s, ok := e.v.str()
	if !ok {
		l.add(e.v, "retention.events: want a period such as 90d, 720h or forever, got %s", e.v.describe())
		return
	}
	d, err := ParseRetention(s)
	if err != nil {
		l.add(e.v, "retention.events: %v", err)
		return
	}
	l.cfg.Retention.Events = d
}

package alert

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/concord-sync/concord/internal/config"
	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/health"
	"github.com/concord-sync/concord/internal/store"
)

// actions say what to do when a rule fires; docs/alerts.md says more.
var actions = map[string]string{
	RuleLag:             "look for a failing or slow target and for retrying records (/stats, the serve log, concord waits); changes are applied once the cause is gone.",
	RuleStalePoll:       "read the poll error in the serve log or /stats: a renamed table, refused credentials or a system that is down; fix it and the next poll catches up.",
	RuleSilence:         "check that the source still records changes where the flow reads them (table, entity, webhook subscription) and that nothing upstream stopped.",
	RuleErrorRate:       "list the failures with concord deadletter list and concord events; fix the cause (a rule in the target, a mapping) and retry them with concord deadletter retry.",
	RuleDeadLetters:     "list them with concord deadletter list, fix the cause and retry them with concord deadletter retry.",
	RuleQuarantine:      "records failed validation: fix them at their source (the reason names the field); they are released when they sync.",
	RuleWebhookRefusals: "deliveries fail verification: check the webhook secret configured for the system and the sender's settings, or look for someone forging deliveries.",
	RuleUnreachable:     "check the system, the network and the credentials; serve keeps retrying and catches up when it answers.",
	RuleStore:           "check the store's disk space, permissions and database server; nothing is recorded until it is writable again.",
	RuleReviews:         "decide the waiting pairs with concord match; their records are not synced until then.",
	RuleDrift:           "run concord reconcile (or GET /reconcile) for the records; concord reconcile --fix queues the corrections the ownership allows.",
}

// failedOutcomes are the outcomes the error_rate rule counts as failures.
var failedOutcomes = []store.Outcome{store.OutcomeFailed, store.OutcomeRetrying, store.OutcomeDead}

// maxGaps is how many intervals between changes a flow remembers.
const maxGaps = 32

// legHistory is what the Observer has seen of one flow direction.
type legHistory struct {
	flow string
	// lastRead is the last poll that read records; gaps the intervals
	// between such polls, oldest first.
	lastRead time.Time
	gaps     []time.Duration
	// polled is true once a poll was reported; pollOK is whether the last one
	// succeeded, lastOK when one last did, lastErr the last failure's reason.
	polled, pollOK bool
	lastOK         time.Time
	lastErr        string
	// records are the outcomes of recent pieces, oldest first.
	records []tally
}

type tally struct {
	at            time.Time
	total, failed int
}

func (e *Evaluator) leg(name, flow string) *legHistory {
	h, ok := e.legs[name]
	if !ok {
		h = &legHistory{flow: flow}
		e.legs[name] = h
	}
	return h
}

// Polled implements engine.Observer: it learns the flow's usual interval
// between changes.
func (e *Evaluator) Polled(r engine.PollReport) {
	e.mu.Lock()
	defer e.mu.Unlock()
	h := e.leg(r.Leg, r.Flow)
	h.polled, h.pollOK = true, r.Err == nil
	if r.Err != nil {
		h.lastErr = r.Err.Error()
	} else if r.At.After(h.lastOK) {
		h.lastOK = r.At
	}
	if r.Err != nil || r.Read == 0 {
		return
	}
	// Polls draining one backlog come back to back: closer than half an
	// interval they are one change.
	merge := max(e.intervals[r.Leg]/2, time.Second)
	if !h.lastRead.IsZero() {
		if gap := r.At.Sub(h.lastRead); gap >= merge {
			h.gaps = append(h.gaps, gap)
			if len(h.gaps) > maxGaps {
				h.gaps = slices.Delete(h.gaps, 0, len(h.gaps)-maxGaps)
			}
		}
	}
	if r.At.After(h.lastRead) {
		h.lastRead = r.At
	}
}

// Recorded implements engine.Observer: it counts the piece's records and
// failures for the error_rate rule.
func (e *Evaluator) Recorded(r engine.PieceReport) {
	t := tally{at: r.At}
	for o, n := range r.Outcomes {
		t.total += n
		if slices.Contains(failedOutcomes, o) {
			t.failed += n
		}
	}
	if t.total == 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.addTally(e.leg(r.Leg, r.Flow), t)
}

// BatchFailed implements engine.Observer: every record of the batch counts as
// failed.
func (e *Evaluator) BatchFailed(r engine.BatchFailure) {
	if r.Records <= 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.addTally(e.leg(r.Leg, r.Flow), tally{at: r.At, total: r.Records, failed: r.Records})
}

func (e *Evaluator) addTally(h *legHistory, t tally) {
	h.records = append(h.records, t)
	e.pruneTallies(h, t.at)
}

func (e *Evaluator) pruneTallies(h *legHistory, now time.Time) {
	from := now.Add(-e.cfg.ErrorRate.Window)
	i := 0
	for i < len(h.records) && h.records[i].at.Before(from) {
		i++
	}
	h.records = slices.Delete(h.records, 0, i)
}

// conditions returns the rules that hold now, by rule and subject. Called
// with e.mu held.
func (e *Evaluator) conditions(snap health.Snapshot, now time.Time) map[key]condition {
	out := map[key]condition{}
	add := func(rule string, s Subject, format string, args ...any) {
		out[key{rule, s}] = condition{summary: fmt.Sprintf(format, args...)}
	}
	c := e.cfg
	seenSeries := map[key]bool{}
	seenBad := map[key]bool{}
	growth := func(g config.GrowthRule, rule string, s Subject, value int64, what string) {
		if !g.Enabled {
			return
		}
		k := key{rule, s}
		seenSeries[k] = true
		sr := e.series[k]
		if sr == nil {
			sr = &series{}
			e.series[k] = sr
		}
		if low, grew := sr.observe(now, value, g.Window); grew >= int64(g.Over) {
			add(rule, s, "%s %s: %d, up %d from %d within %s", s, what, value, grew, low, roundDur(g.Window))
		}
	}
	// downFor returns how long a subject has been bad: since its last good
	// moment when known, else since the evaluator first saw it bad; -1 when
	// it is fine.
	downFor := func(k key, bad bool, since time.Time) time.Duration {
		if !bad {
			return -1
		}
		seenBad[k] = true
		first, ok := e.bad[k]
		if !ok {
			first = now
			e.bad[k] = now
		}
		if since.IsZero() { // never answered since start: since first seen down
			since = first
		}
		return now.Sub(since)
	}

	shared := e.shared()
	for _, f := range snap.Flows {
		s := Subject{Kind: KindFlow, Name: f.Leg}
		pollSince, polls := e.polls(f.Leg)
		if shared && c.Lag.Enabled && f.Lag > c.Lag.After && (f.QueueDepth > 0 || f.Waiting > 0) {
			add(RuleLag, s, "%s is %s behind (over %s): %d batches queued, %d records waiting", s, roundDur(f.Lag), roundDur(c.Lag.After), f.QueueDepth, f.Waiting)
		}
		if c.StalePoll.Enabled && polls {
			limit := max(c.StalePoll.After, 3*e.intervals[f.Leg])
			// Serve gets limit from its start (or from when this node
			// started to poll the leg) to poll successfully; the polls
			// observed count too.
			last, lastErr := latest(latest(f.LastPollOK, e.start), pollSince), f.LastError
			if h, ok := e.legs[f.Leg]; ok {
				last = latest(last, h.lastOK)
				if lastErr == "" && !h.pollOK {
					lastErr = h.lastErr
				}
			}
			if d := now.Sub(last); d > limit {
				msg := fmt.Sprintf("%s has had no successful poll of %s for %s", s, f.Source, roundDur(d))
				if lastErr != "" {
					msg += "; last error: " + clip(lastErr)
				}
				add(RuleStalePoll, s, "%s", msg)
			}
		}
		if !shared {
			continue
		}
		if c.Reviews.Enabled && f.PendingReviews > 0 && !f.OldestReview.IsZero() {
			if d := now.Sub(f.OldestReview); d > c.Reviews.After {
				add(RuleReviews, s, "%s has %d pairs waiting in concord match, the oldest for %s", s, f.PendingReviews, roundDur(d))
			}
		}
		growth(c.DeadLetters, RuleDeadLetters, s, int64(f.DeadLetters), "open dead letters")
		growth(c.Quarantine, RuleQuarantine, s, int64(f.Quarantine), "records in quarantine")
	}
	for _, sys := range snap.Systems {
		s := Subject{Kind: KindSystem, Name: sys.Name}
		if c.Unreachable.Enabled {
			if d := downFor(key{RuleUnreachable, s}, !sys.Reachable, sys.LastOK); d >= c.Unreachable.After {
				msg := fmt.Sprintf("%s has been unreachable for %s", s, roundDur(d))
				if sys.LastError != "" {
					msg += "; last error: " + clip(sys.LastError)
				}
				add(RuleUnreachable, s, "%s", msg)
			}
		}
		growth(c.WebhookRefusals, RuleWebhookRefusals, s, sys.WebhookRefusals, "refused webhook deliveries")
	}
	if c.Store.Enabled {
		s := Subject{Kind: KindStore}
		if d := downFor(key{RuleStore, s}, !snap.Store.Writable, time.Time{}); d >= c.Store.After {
			msg := fmt.Sprintf("the store has not been writable for %s", roundDur(d))
			if snap.Store.LastError != "" {
				msg += "; last error: " + clip(snap.Store.LastError)
			}
			add(RuleStore, s, "%s", msg)
		}
	}
	for name, h := range e.legs {
		s := Subject{Kind: KindFlow, Name: name}
		_, polls := e.polls(name)
		if c.Silence.Enabled && polls && h.polled && h.pollOK && len(h.gaps) >= c.Silence.Learn {
			usual := median(h.gaps)
			limit := max(time.Duration(c.Silence.Factor)*usual, c.Silence.Min)
			if d := now.Sub(h.lastRead); d > limit {
				add(RuleSilence, s, "%s has read no record for %s, while changes usually come every %s (learned from the last %d)", s, roundDur(d), roundDur(usual), len(h.gaps))
			}
		}
		if c.ErrorRate.Enabled {
			e.pruneTallies(h, now)
			var total, failed int
			for _, t := range h.records {
				total += t.total
				failed += t.failed
			}
			if total >= c.ErrorRate.MinRecords && float64(failed) > c.ErrorRate.Over*float64(total) {
				add(RuleErrorRate, s, "%s: %d of %d records failed within %s (%.0f%%, over %.0f%%)", s, failed, total, roundDur(c.ErrorRate.Window),
					100*float64(failed)/float64(total), 100*c.ErrorRate.Over)
			}
		}
	}
	e.driftConditions(add) // drift.go: the last scheduled reconcile
	for k := range e.series {
		if !seenSeries[k] {
			delete(e.series, k)
		}
	}
	for k := range e.bad {
		if !seenBad[k] {
			delete(e.bad, k)
		}
	}
	return out
}

// series remembers a count's recent values.
type series struct {
	samples []sample
}

type sample struct {
	at    time.Time
	value int64
}

// observe adds value at now and returns the lowest value within window
// before it and how much value is above it.
func (s *series) observe(now time.Time, value int64, window time.Duration) (low, grew int64) {
	from := now.Add(-window)
	i := 0
	for i < len(s.samples) && s.samples[i].at.Before(from) {
		i++
	}
	s.samples = slices.Delete(s.samples, 0, i)
	s.samples = append(s.samples, sample{now, value})
	low = value
	for _, x := range s.samples {
		low = min(low, x.value)
	}
	return low, value - low
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// clip shortens an error for a notice.
func clip(s string) string {
	const limit = 300
	if len(s) <= limit {
		return s
	}
	return strings.ToValidUTF8(s[:limit], "") + "..."
}

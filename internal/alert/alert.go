package alert

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/concord-sync/concord/internal/config"
	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/health"
)

// Rule names, as written under alerts.rules in the config and shown in alerts.
const (
	RuleLag             = "lag"
	RuleStalePoll       = "stale_poll"
	RuleSilence         = "silence"
	RuleErrorRate       = "error_rate"
	RuleDeadLetters     = "dead_letters"
	RuleQuarantine      = "quarantine"
	RuleWebhookRefusals = "webhook_refusals"
	RuleUnreachable     = "unreachable"
	RuleStore           = "store"
	RuleReviews         = "reviews"
)

// Kinds of Subject.
const (
	KindFlow   = "flow"
	KindSystem = "system"
	KindStore  = "store"
)

// Subject is what an alert is about: a flow (a direction of one: "customers"
// or "customers:reverse"), a system, or the store.
type Subject struct {
	Kind string `json:"kind"`
	Name string `json:"name,omitempty"`
}

// String renders the subject as users read it: "flow customers", "system
// crm", "store".
func (s Subject) String() string {
	if s.Name == "" {
		return s.Kind
	}
	return s.Kind + " " + s.Name
}

// State is whether a notice says an alert fires or is resolved.
type State string

// States of a Notice.
const (
	Firing   State = "firing"
	Resolved State = "resolved"
)

// Notice is one message about one alert: it fired, it still fires (Repeat >
// 0), or it is resolved.
type Notice struct {
	Rule    string  `json:"rule"`
	Subject Subject `json:"subject"`
	State   State   `json:"status"`
	// Repeat counts the times a firing alert was sent before; 0 the first time.
	Repeat int `json:"repeat"`
	// Since is when the alert started firing; At when this notice was made.
	Since time.Time `json:"since"`
	At    time.Time `json:"at"`
	// Summary says what is wrong, with its numbers (for a resolved alert, what
	// was wrong).
	Summary string `json:"summary"`
	// Action says what to do about it.
	Action string `json:"action,omitempty"`
	// Owner is the integration's owner, from the config.
	Owner string `json:"owner,omitempty"`
}

// Title is the notice's one-line title: "[concord] FIRING lag: flow
// customers".
func (n Notice) Title() string {
	word := "FIRING"
	switch {
	case n.State == Resolved:
		word = "RESOLVED"
	case n.Repeat > 0:
		word = "STILL FIRING"
	}
	return fmt.Sprintf("[concord] %s %s: %s", word, n.Rule, n.Subject)
}

// Text is the notice's body as plain text: the summary, since when, and what
// to do.
func (n Notice) Text() string {
	var b strings.Builder
	switch n.State {
	case Resolved:
		fmt.Fprintf(&b, "Resolved after %s (firing since %s).\nIt was: %s\n", roundDur(n.At.Sub(n.Since)), n.Since.UTC().Format(time.RFC3339), n.Summary)
	default:
		fmt.Fprintf(&b, "%s\nFiring since %s (%s).\n", n.Summary, n.Since.UTC().Format(time.RFC3339), roundDur(n.At.Sub(n.Since)))
		if n.Action != "" {
			fmt.Fprintf(&b, "What to do: %s\n", n.Action)
		}
	}
	fmt.Fprintf(&b, "Rule %q, see docs/alerts.md.\n", n.Rule)
	return b.String()
}

// Notifier delivers notices over one channel. Notify must honour ctx's
// deadline; an error means the notice was not delivered and will be offered
// again.
type Notifier interface {
	// Channel names the channel in logs: "email", "webhook".
	Channel() string
	Notify(ctx context.Context, n Notice) error
}

// Params configures an Evaluator.
type Params struct {
	// Config holds the rules, their thresholds and the repeat interval.
	Config config.Alerts
	// Notifiers are the channels; none means alerts are only logged.
	Notifiers []Notifier
	// Owner is put on every notice.
	Owner string
	// Intervals is each flow direction's poll interval, by leg name: a flow's
	// stale_poll threshold is at least three of them, and polls closer than
	// half of one count as one when learning the interval between changes.
	Intervals map[string]time.Duration
	Logger    *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Timeout bounds one delivery; zero means DefaultTimeout.
	Timeout time.Duration
	// Polls, when set, tells whether this node polls a flow direction now
	// and since when (several serve nodes on one store: the node holding the
	// leg's lease). The stale_poll and silence rules then watch only the legs
	// this node polls, counting from when it started to. Nil: every leg.
	Polls func(leg string) (since time.Time, ok bool)
	// Shared, when set, tells whether this node evaluates the rules on what
	// every node shares (lag, dead_letters, quarantine, reviews), so that one
	// node, not each, sends them. Nil: this node does.
	Shared func() bool
}

// DefaultTimeout bounds one delivery of one notice over one channel.
const DefaultTimeout = 20 * time.Second

// maxOutbox bounds the notices waiting for delivery per channel; older ones
// are dropped (and logged) past it.
const maxOutbox = 200

// Evaluator decides which alerts fire and delivers their notices. It is an
// engine.Observer; its methods are safe for concurrent use. Evaluate is meant
// to be called from one goroutine (Run).
type Evaluator struct {
	cfg       config.Alerts
	notifiers []Notifier
	owner     string
	intervals map[string]time.Duration
	log       *slog.Logger
	now       func() time.Time
	timeout   time.Duration
	polls     func(leg string) (time.Time, bool)
	shared    func() bool

	mu     sync.Mutex
	start  time.Time
	legs   map[string]*legHistory
	active map[key]*active
	series map[key]*series
	bad    map[key]time.Time // since when a system or the store is seen down
	// reconciled is the last reconcile's findings (drift.go); nil before one.
	reconciled *Reconciled

	// outbox holds, per notifier, the notices not delivered yet, oldest
	// first. Only Evaluate touches it.
	outbox [][]pending
}

var _ engine.Observer = (*Evaluator)(nil)

type key struct {
	rule    string
	subject Subject
}

// active is a firing alert.
type active struct {
	since, lastSent time.Time
	repeat          int
	summary         string
}

type pending struct {
	n        Notice
	attempts int
}

// condition is a rule that holds for a subject now.
type condition struct {
	summary string
}

// New returns an Evaluator; it starts nothing.
func New(p Params) *Evaluator {
	e := &Evaluator{
		cfg: p.Config, notifiers: p.Notifiers, owner: p.Owner, intervals: p.Intervals,
		log: p.Logger, now: p.Now, timeout: p.Timeout, polls: p.Polls, shared: p.Shared,
		legs: map[string]*legHistory{}, active: map[key]*active{}, series: map[key]*series{}, bad: map[key]time.Time{},
		outbox: make([][]pending, len(p.Notifiers)),
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.timeout <= 0 {
		e.timeout = DefaultTimeout
	}
	if e.polls == nil {
		e.polls = func(string) (time.Time, bool) { return time.Time{}, true }
	}
	if e.shared == nil {
		e.shared = func() bool { return true }
	}
	if e.cfg.Every <= 0 {
		e.cfg.Every = config.DefaultAlerts().Every
	}
	if e.cfg.Repeat <= 0 {
		e.cfg.Repeat = config.DefaultAlerts().Repeat
	}
	return e
}

// Run evaluates the rules every alerts.every on the snapshots snapshot
// returns, until ctx is done.
func (e *Evaluator) Run(ctx context.Context, snapshot func(context.Context) health.Snapshot) {
	t := time.NewTicker(e.cfg.Every)
	defer t.Stop()
	for {
		e.Evaluate(ctx, snapshot(ctx))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Evaluate checks every rule against snap and the history observed so far,
// fires new alerts, repeats lasting ones, resolves ended ones (logging each),
// and delivers the notices waiting, with a timeout per delivery. A channel
// that fails keeps its notices for the next call.
func (e *Evaluator) Evaluate(ctx context.Context, snap health.Snapshot) {
	now := e.now()
	e.mu.Lock()
	if e.start.IsZero() {
		e.start = now
	}
	conds := e.conditions(snap, now)
	notices := e.transition(ctx, conds, now)
	e.mu.Unlock()
	for i := range e.notifiers {
		for _, n := range notices {
			e.outbox[i] = append(e.outbox[i], pending{n: n})
		}
		if over := len(e.outbox[i]) - maxOutbox; over > 0 {
			e.log.WarnContext(ctx, "alert notices dropped", "channel", e.notifiers[i].Channel(), "dropped", over)
			e.outbox[i] = slices.Delete(e.outbox[i], 0, over)
		}
	}
	e.deliver(ctx)
}

// transition turns the conditions that hold now into notices. Called with
// e.mu held.
func (e *Evaluator) transition(ctx context.Context, conds map[key]condition, now time.Time) []Notice {
	var out []Notice
	for _, k := range sortedKeys(conds) {
		c := conds[k]
		a, ok := e.active[k]
		switch {
		case !ok:
			a = &active{since: now, lastSent: now, summary: c.summary}
			e.active[k] = a
			e.log.WarnContext(ctx, "alert fired", "rule", k.rule, "subject", k.subject.String(), "summary", c.summary)
			out = append(out, e.notice(k, a, Firing, now))
		case now.Sub(a.lastSent) >= e.cfg.Repeat:
			a.summary = c.summary
			a.repeat++
			a.lastSent = now
			e.log.WarnContext(ctx, "alert still firing", "rule", k.rule, "subject", k.subject.String(), "summary", c.summary,
				"since", a.since, "for", roundDur(now.Sub(a.since)))
			out = append(out, e.notice(k, a, Firing, now))
		default:
			a.summary = c.summary
		}
	}
	for _, k := range sortedKeys(e.active) {
		if _, ok := conds[k]; ok {
			continue
		}
		a := e.active[k]
		delete(e.active, k)
		e.log.InfoContext(ctx, "alert resolved", "rule", k.rule, "subject", k.subject.String(), "was", a.summary,
			"since", a.since, "for", roundDur(now.Sub(a.since)))
		out = append(out, e.notice(k, a, Resolved, now))
	}
	return out
}

func (e *Evaluator) notice(k key, a *active, s State, now time.Time) Notice {
	n := Notice{Rule: k.rule, Subject: k.subject, State: s, Repeat: a.repeat, Since: a.since, At: now, Summary: a.summary, Owner: e.owner}
	if s == Firing {
		n.Action = actions[k.rule]
	}
	return n
}

// deliver offers each channel its waiting notices in order; the first
// failure stops that channel until the next call.
func (e *Evaluator) deliver(ctx context.Context) {
	for i, nt := range e.notifiers {
		q := e.outbox[i]
		sent := 0
		for _, p := range q {
			if ctx.Err() != nil {
				break
			}
			dctx, cancel := context.WithTimeout(ctx, e.timeout)
			err := nt.Notify(dctx, p.n)
			cancel()
			if err != nil {
				q[sent].attempts++
				e.log.WarnContext(ctx, "alert delivery failed, retrying at the next evaluation", "channel", nt.Channel(),
					"rule", p.n.Rule, "subject", p.n.Subject.String(), "status", string(p.n.State), "attempts", q[sent].attempts, "err", err)
				break
			}
			if q[sent].attempts > 0 {
				e.log.InfoContext(ctx, "alert delivered after retries", "channel", nt.Channel(),
					"rule", p.n.Rule, "subject", p.n.Subject.String(), "status", string(p.n.State), "attempts", q[sent].attempts+1)
			}
			sent++
		}
		e.outbox[i] = slices.Delete(q, 0, sent)
	}
}

// Active returns the alerts firing now, as notices, sorted by rule and
// subject.
func (e *Evaluator) Active() []Notice {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	out := make([]Notice, 0, len(e.active))
	for _, k := range sortedKeys(e.active) {
		out = append(out, e.notice(k, e.active[k], Firing, now))
	}
	return out
}

func sortedKeys[V any](m map[key]V) []key {
	keys := make([]key, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int {
		if c := strings.Compare(a.rule, b.rule); c != 0 {
			return c
		}
		if c := strings.Compare(a.subject.Kind, b.subject.Kind); c != 0 {
			return c
		}
		return strings.Compare(a.subject.Name, b.subject.Name)
	})
	return keys
}

// roundDur rounds d for people: seconds under a minute, minutes under a day.
func roundDur(d time.Duration) time.Duration {
	switch {
	case d < time.Minute:
		return d.Round(time.Second)
	case d < 24*time.Hour:
		return d.Round(time.Minute)
	}
	return d.Round(time.Hour)
}

// Notifiers returns the channels cfg configures: e-mail, then webhook; none
// when neither is set.
func Notifiers(cfg config.Alerts) []Notifier {
	var out []Notifier
	if cfg.Email != nil {
		out = append(out, NewEmail(*cfg.Email))
	}
	if cfg.Webhook != nil {
		out = append(out, NewWebhook(*cfg.Webhook, nil))
	}
	return out
}

package console

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/concord-sync/concord/internal/config"
	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/health"
	"github.com/concord-sync/concord/internal/match"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
)

// The views: what the pages show and the API answers, built once for both.

// FlowView is one leg on the overview.
type FlowView struct {
	Leg            string    `json:"leg"`
	Flow           string    `json:"flow"`
	Entity         string    `json:"entity"`
	Source         string    `json:"source"`
	Target         string    `json:"target"`
	State          string    `json:"state"` // ok, failing, idle
	LagSeconds     float64   `json:"lag_seconds"`
	LastPoll       time.Time `json:"last_poll,omitzero"`
	LastApplied    time.Time `json:"last_applied,omitzero"`
	LastError      string    `json:"last_error,omitempty"`
	Read           int64     `json:"read"`
	Applied        int64     `json:"applied"`
	Failed         int64     `json:"failed"`
	DeadLetters    int       `json:"dead_letters"`
	Quarantine     int       `json:"quarantine"`
	Waiting        int       `json:"waiting"`
	PendingReviews int       `json:"pending_reviews"`
}

// OverviewView is the overview page and GET /api/v1/overview.
type OverviewView struct {
	At time.Time `json:"at"`
	// Checked is false where no health checks run (the demo): Ready,
	// Reasons, Store, Systems and the flows' state and lag say nothing then.
	Checked bool             `json:"checked"`
	Ready   bool             `json:"ready"`
	Reasons []string         `json:"reasons,omitempty"`
	Store   health.Store     `json:"store"`
	Systems []health.System  `json:"systems"`
	Flows   []FlowView       `json:"flows"`
	Alerts  []AlertView      `json:"alerts"`
	Series  SeriesView       `json:"series"`
	Stats   []engine.Stats   `json:"stats"`
	Owner   string           `json:"owner,omitempty"`
	Totals  map[string]int64 `json:"totals"`
}

// AlertView is one alert firing now.
type AlertView struct {
	Rule    string    `json:"rule"`
	Subject string    `json:"subject"`
	Since   time.Time `json:"since"`
	Summary string    `json:"summary"`
	Action  string    `json:"action,omitempty"`
}

// SeriesView is the charts' data: per flow, events applied and failed per
// bucket, and the lag sampled each minute since serve started.
type SeriesView struct {
	BucketSeconds int                  `json:"bucket_seconds"`
	Times         []int64              `json:"times"` // unix seconds of each bucket
	Applied       map[string][]int     `json:"applied"`
	Errors        map[string][]int     `json:"errors"`
	LagTimes      []int64              `json:"lag_times"`
	Lag           map[string][]float64 `json:"lag"` // seconds
}

func (c *Console) overview(ctx context.Context) (OverviewView, error) {
	v := OverviewView{At: c.now().UTC(), Ready: true, Owner: c.o.Config.Owner, Totals: map[string]int64{},
		Systems: []health.System{}, Flows: []FlowView{}, Alerts: []AlertView{}}
	var snap health.Snapshot
	if c.o.Health != nil {
		v.Checked = true
		snap = c.o.Health(ctx)
		v.Ready, v.Reasons, v.Store = snap.Ready, snap.Reasons, snap.Store
		v.Systems = append(v.Systems, snap.Systems...)
	}
	byLeg := map[string]health.Flow{}
	for _, f := range snap.Flows {
		byLeg[f.Leg] = f
	}
	// What is open now comes from the store, not from the last health
	// sample: a letter retried a second ago is gone from the page.
	backlog, err := c.o.Store.Backlog(ctx, &store.BacklogParams{})
	if err != nil {
		return v, err
	}
	for _, name := range c.o.Engine.Legs() {
		l, _ := c.o.Engine.Leg(name)
		h, b := byLeg[name], backlog[name]
		fv := FlowView{Leg: name, Flow: l.Flow, Entity: string(l.Entity), Source: l.Source, Target: l.Target,
			LagSeconds: h.Lag.Seconds(), LastPoll: h.LastPoll, LastApplied: h.LastApplied, LastError: h.LastError,
			Read: h.Read, Applied: h.Applied, Failed: h.Failed, DeadLetters: b.DeadLetters, Quarantine: b.Quarantine,
			Waiting: b.Waiting, PendingReviews: b.PendingReviews, State: "ok"}
		switch {
		case h.Failing:
			fv.State = "failing"
		case h.LastPoll.IsZero() && h.LastApplied.IsZero():
			fv.State = "idle"
		}
		v.Flows = append(v.Flows, fv)
		v.Totals["dead_letters"] += int64(b.DeadLetters)
		v.Totals["quarantine"] += int64(b.Quarantine)
		v.Totals["waiting"] += int64(b.Waiting)
		v.Totals["pending_reviews"] += int64(b.PendingReviews)
	}
	if c.o.Alerts != nil {
		for _, n := range c.o.Alerts() {
			v.Alerts = append(v.Alerts, AlertView{Rule: n.Rule, Subject: n.Subject.String(), Since: n.Since, Summary: n.Summary, Action: n.Action})
		}
	}
	v.Stats = append([]engine.Stats{}, c.o.Engine.Stats()...)
	series, err := c.series(ctx, 24*time.Hour, 15*time.Minute)
	if err != nil {
		return v, err
	}
	v.Series = series
	return v, nil
}

// appliedOutcomes count as throughput, errorOutcomes as errors on the charts.
var (
	appliedOutcomes = []store.Outcome{store.OutcomeCreated, store.OutcomeUpdated}
	errorOutcomes   = []store.Outcome{store.OutcomeFailed, store.OutcomeDead, store.OutcomeRetrying, store.OutcomeQuarantined}
)

// series reads the event counts of the last span in buckets.
func (c *Console) series(ctx context.Context, span, bucket time.Duration) (SeriesView, error) {
	end := c.now().UTC().Truncate(bucket).Add(bucket)
	start := end.Add(-span)
	counts, err := c.o.Store.CountEvents(ctx, &store.CountEventsParams{Since: start, Bucket: bucket})
	if err != nil {
		return SeriesView{}, err
	}
	n := int(span / bucket)
	v := SeriesView{BucketSeconds: int(bucket.Seconds()), Times: make([]int64, n), Applied: map[string][]int{}, Errors: map[string][]int{}}
	for i := range n {
		v.Times[i] = start.Add(time.Duration(i) * bucket).Unix()
	}
	for _, name := range c.o.Engine.Legs() {
		v.Applied[name], v.Errors[name] = make([]int, n), make([]int, n)
	}
	for _, ec := range counts {
		i := int(ec.Minute.Sub(start) / bucket)
		if i < 0 || i >= n || v.Applied[ec.Flow] == nil {
			continue
		}
		switch {
		case slices.Contains(appliedOutcomes, ec.Outcome):
			v.Applied[ec.Flow][i] += ec.N
		case slices.Contains(errorOutcomes, ec.Outcome):
			v.Errors[ec.Flow][i] += ec.N
		}
	}
	v.LagTimes, v.Lag = c.lag.series()
	return v, nil
}

// lagHistory keeps each leg's lag, sampled every step, for span.
type lagHistory struct {
	mu    sync.Mutex
	span  time.Duration
	times []int64
	lag   map[string][]float64
}

func newLagHistory(span time.Duration) *lagHistory {
	return &lagHistory{span: span, lag: map[string][]float64{}}
}

func (h *lagHistory) add(at time.Time, snap health.Snapshot) {
	h.mu.Lock()
	defer h.mu.Unlock()
	cut := 0
	for cut < len(h.times) && at.Unix()-h.times[cut] > int64(h.span.Seconds()) {
		cut++
	}
	h.times = append(h.times[cut:], at.Unix())
	seen := map[string]bool{}
	for _, f := range snap.Flows {
		s := h.lag[f.Leg]
		if len(s) >= cut {
			s = s[cut:]
		}
		for len(s) < len(h.times)-1 { // a leg new since the last sample
			s = append(s, 0)
		}
		h.lag[f.Leg] = append(s, f.Lag.Seconds())
		seen[f.Leg] = true
	}
	for leg := range h.lag {
		if !seen[leg] {
			delete(h.lag, leg)
		}
	}
}

func (h *lagHistory) series() ([]int64, map[string][]float64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string][]float64, len(h.lag))
	for k, v := range h.lag {
		out[k] = slices.Clone(v)
	}
	return append([]int64{}, h.times...), out
}

// EventRow is one event in a list.
type EventRow struct {
	ID           int64     `json:"id"`
	StartedAt    time.Time `json:"started_at"`
	Flow         string    `json:"flow"`
	Entity       string    `json:"entity"`
	SourceSystem string    `json:"source_system"`
	SourceID     string    `json:"source_id"`
	TargetSystem string    `json:"target_system"`
	TargetID     string    `json:"target_id,omitempty"`
	Outcome      string    `json:"outcome"`
	Error        string    `json:"error,omitempty"`
	// Operator says who did what, for an operator event.
	Operator string `json:"operator,omitempty"`
}

// EventsView is a page of events, newest first, and the filter that chose
// them.
type EventsView struct {
	Filter EventFilter `json:"filter"`
	Events []EventRow  `json:"events"`
	// Older and Newer are the ids to page from (0: no more that way).
	Older int64 `json:"older,omitempty"`
	Newer int64 `json:"newer,omitempty"`
}

// EventFilter is the events search.
type EventFilter struct {
	Flow    string `json:"flow,omitempty"`
	System  string `json:"system,omitempty"`
	Record  string `json:"record,omitempty"`
	Outcome string `json:"outcome,omitempty"`
	Since   string `json:"since,omitempty"` // 2026-12-01T08:00 (UTC) or RFC 3339
	Until   string `json:"until,omitempty"`
	Before  int64  `json:"before,omitempty"`
	After   int64  `json:"after,omitempty"`
	Limit   int    `json:"limit,omitempty"`
}

// eventFilter reads the search from a query string.
func eventFilter(q url.Values) (EventFilter, error) {
	f := EventFilter{Flow: q.Get("flow"), System: q.Get("system"), Record: strings.TrimSpace(q.Get("record")),
		Outcome: q.Get("outcome"), Since: q.Get("since"), Until: q.Get("until")}
	var err error
	if f.Before, err = optInt(q, "before"); err != nil {
		return f, err
	}
	if f.After, err = optInt(q, "after"); err != nil {
		return f, err
	}
	limit, err := optInt(q, "limit")
	if err != nil {
		return f, err
	}
	f.Limit = int(min(max(limit, 0), 500))
	if f.Limit == 0 {
		f.Limit = 50
	}
	return f, nil
}

func optInt(q url.Values, name string) (int64, error) {
	s := q.Get(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, httpErr(400, "%s: %q is not a positive whole number", name, s)
	}
	return n, nil
}

// parseWhen reads a time typed in a form (datetime-local, in UTC) or as
// RFC 3339.
func parseWhen(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02T15:04", time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, httpErr(400, "%s: %q is not a time such as 2026-12-01T08:00 (UTC) or 2026-12-01T08:00:00Z", name, s)
}

func (c *Console) events(ctx context.Context, f EventFilter) (EventsView, error) {
	v := EventsView{Filter: f, Events: []EventRow{}}
	since, err := parseWhen("since", f.Since)
	if err != nil {
		return v, err
	}
	until, err := parseWhen("until", f.Until)
	if err != nil {
		return v, err
	}
	if f.Outcome != "" && !slices.Contains(outcomes, store.Outcome(f.Outcome)) {
		return v, httpErr(400, "outcome: %q is not one of %s", f.Outcome, joinOutcomes())
	}
	p := &store.ListEventsParams{Flow: f.Flow, Outcome: store.Outcome(f.Outcome), System: f.System, RecordID: f.Record,
		Since: since, Until: until, BeforeID: f.Before, AfterID: f.After, Limit: f.Limit + 1}
	evs, err := c.o.Store.ListEvents(ctx, p)
	if err != nil {
		return v, err
	}
	more := len(evs) > f.Limit
	if more {
		if f.After > 0 {
			evs = evs[1:] // the newest one is past the page
		} else {
			evs = evs[:f.Limit]
		}
	}
	for _, e := range evs {
		v.Events = append(v.Events, eventRow(e))
	}
	if len(evs) > 0 {
		if more || f.After > 0 {
			v.Older = evs[len(evs)-1].ID
		}
		if f.Before > 0 || (f.After > 0 && more) {
			v.Newer = evs[0].ID
		}
	}
	return v, nil
}

func eventRow(e store.Event) EventRow {
	r := EventRow{ID: e.ID, StartedAt: e.StartedAt, Flow: e.Flow, Entity: string(e.Entity), SourceSystem: e.SourceSystem,
		SourceID: e.SourceID, TargetSystem: e.TargetSystem, TargetID: e.TargetID, Outcome: string(e.Outcome), Error: e.Error}
	if e.Outcome == store.OutcomeOperator {
		r.Operator = operatorText(e)
	}
	return r
}

// outcomes are the outcomes an event may have, for the search form.
var outcomes = []store.Outcome{store.OutcomeCreated, store.OutcomeUpdated, store.OutcomeUnchanged, store.OutcomeStale,
	store.OutcomeQuarantined, store.OutcomeFailed, store.OutcomeRetrying, store.OutcomeDead, store.OutcomeWaiting,
	store.OutcomeReview, store.OutcomeNotCreated, store.OutcomeOperator}

func joinOutcomes() string {
	s := make([]string, len(outcomes))
	for i, o := range outcomes {
		s[i] = string(o)
	}
	return strings.Join(s, ", ")
}

// FieldRow is one field of a record, or one change of a plan.
type FieldRow struct {
	Field string `json:"field"`
	Value string `json:"value,omitempty"`
	From  string `json:"from,omitempty"`
	To    string `json:"to,omitempty"`
	// Now is the value in the source system now (dead letters).
	Now     string `json:"now,omitempty"`
	Changed bool   `json:"changed,omitempty"`
}

// EventView is one event in full.
type EventView struct {
	EventRow
	ConcordID     string          `json:"concord_id,omitempty"`
	ConfigVersion string          `json:"config_version"`
	ConfigCurrent bool            `json:"config_current"`
	Attempt       int             `json:"attempt"`
	ReplayOf      int64           `json:"replay_of,omitempty"`
	DurationMS    float64         `json:"duration_ms"`
	Action        string          `json:"action,omitempty"`
	Snapshot      []FieldRow      `json:"snapshot"`
	Changes       []FieldRow      `json:"changes"`
	Response      json.RawMessage `json:"response,omitempty"`
	ResponseText  string          `json:"-"`
	Replayable    bool            `json:"replayable"`
}

func (c *Console) event(ctx context.Context, id int64) (EventView, error) {
	e, err := c.o.Store.GetEvent(ctx, id)
	if err != nil {
		return EventView{}, err
	}
	v := EventView{EventRow: eventRow(e), ConcordID: e.ConcordID, ConfigVersion: e.ConfigVersion,
		ConfigCurrent: e.ConfigVersion == c.o.Config.Version, Attempt: e.Attempt, ReplayOf: e.Replay,
		DurationMS: float64(e.Duration.Microseconds()) / 1000, Snapshot: recordFields(e.Snapshot), Changes: []FieldRow{}}
	_, known := c.o.Engine.Leg(e.Flow)
	v.Replayable = known && len(e.Snapshot) > 0 && e.Outcome != store.OutcomeOperator
	var plan struct {
		Action  string `json:"action"`
		Changes []struct {
			Field string      `json:"field"`
			From  model.Value `json:"from"`
			To    model.Value `json:"to"`
		} `json:"changes"`
	}
	if len(e.Plan) > 0 && json.Unmarshal(e.Plan, &plan) == nil {
		v.Action = plan.Action
		for _, ch := range plan.Changes {
			v.Changes = append(v.Changes, FieldRow{Field: ch.Field, From: ch.From.String(), To: ch.To.String(), Changed: true})
		}
	}
	if len(e.Response) > 0 {
		v.Response = json.RawMessage(e.Response)
		var pretty any
		if json.Unmarshal(e.Response, &pretty) == nil {
			b, _ := json.MarshalIndent(pretty, "", "  ")
			v.ResponseText = string(b)
		} else {
			v.ResponseText = string(e.Response)
		}
	}
	return v, nil
}

// recordFields is a snapshot's fields in name order ("" for none).
func recordFields(snap []byte) []FieldRow {
	out := []FieldRow{}
	var rec model.Record
	if len(snap) == 0 || json.Unmarshal(snap, &rec) != nil {
		return out
	}
	for _, f := range sortedFields(rec.Fields) {
		out = append(out, FieldRow{Field: f, Value: rec.Fields[f].String()})
	}
	return out
}

func sortedFields(fs model.Fields) []string { return slices.Sorted(maps.Keys(fs)) }

// overrideText is a value as a person types it in a correction (the form
// ParseOverride reads).
func overrideText(v model.Value) string {
	if v.Kind == model.KindRef {
		return v.Str
	}
	return v.String()
}

// LetterRow is one dead letter in a list.
type LetterRow struct {
	ID         int64     `json:"id"`
	Flow       string    `json:"flow"`
	Entity     string    `json:"entity"`
	System     string    `json:"system"`
	RecordID   string    `json:"record_id"`
	Reason     string    `json:"reason"`
	Attempts   int       `json:"attempts"`
	State      string    `json:"state"`
	Since      time.Time `json:"since"`
	Last       time.Time `json:"last"`
	EventID    int64     `json:"event_id,omitempty"`
	Resolution string    `json:"resolution,omitempty"`
}

func letterRow(d store.DeadLetter) LetterRow {
	state := "open"
	switch {
	case !d.Open():
		state = "closed"
	case d.Pending():
		state = "retrying"
	case d.Retryable:
		state = "open, retried automatically"
	}
	return LetterRow{ID: d.ID, Flow: d.Flow, Entity: string(d.Entity), System: d.System, RecordID: d.ExternalID,
		Reason: d.Reason, Attempts: d.Attempts, State: state, Since: d.CreatedAt, Last: d.UpdatedAt, EventID: d.EventID, Resolution: d.Resolution}
}

func (c *Console) deadLetters(ctx context.Context, flow string) ([]LetterRow, error) {
	letters, err := c.o.Store.ListDeadLetters(ctx, &store.ListDeadLettersParams{Flow: flow, Limit: 500})
	if err != nil {
		return nil, err
	}
	out := make([]LetterRow, 0, len(letters))
	for _, d := range letters {
		out = append(out, letterRow(d))
	}
	return out, nil
}

// LetterView is one dead letter with its record: as it failed and as it is
// now in the source.
type LetterView struct {
	LetterRow
	Fields []FieldRow `json:"fields"`
	// NowError says why the record could not be read now ("" when it was).
	NowError string `json:"now_error,omitempty"`
	Open     bool   `json:"open"`
}

func (c *Console) deadLetter(ctx context.Context, id int64) (LetterView, store.DeadLetter, error) {
	d, err := c.o.Store.GetDeadLetter(ctx, id)
	if err != nil {
		return LetterView{}, d, err
	}
	v := LetterView{LetterRow: letterRow(d), Open: d.Open(), Fields: []FieldRow{}}
	var then model.Record
	_ = json.Unmarshal(d.Snapshot, &then)
	var fields []string
	if l, ok := c.o.Engine.Leg(d.Flow); ok {
		fields = l.Fields
	} else {
		fields = sortedFields(then.Fields)
	}
	now, err := c.o.Engine.SourceRecord(ctx, d.Flow, d.ExternalID)
	if err != nil {
		v.NowError = err.Error()
		if errors.Is(err, engine.ErrRecordGone) {
			v.NowError = "the source system no longer has this record"
		}
	}
	for _, f := range fields {
		row := FieldRow{Field: f, Value: then.Fields[f].String()}
		if err == nil {
			row.Now = overrideText(now.Fields[f])
			row.Changed = !now.Fields[f].Equal(then.Fields[f])
		}
		v.Fields = append(v.Fields, row)
	}
	return v, d, nil
}

// QuarantineRow is one open quarantine entry.
type QuarantineRow struct {
	ID       int64      `json:"id"`
	Flow     string     `json:"flow"`
	Entity   string     `json:"entity"`
	System   string     `json:"system"`
	RecordID string     `json:"record_id"`
	Field    string     `json:"field"`
	Value    string     `json:"value"`
	Reason   string     `json:"reason"`
	Since    time.Time  `json:"since"`
	Released time.Time  `json:"released,omitzero"`
	Fields   []FieldRow `json:"fields,omitempty"`
}

func quarantineRow(q store.QuarantineEntry, withFields bool) QuarantineRow {
	r := QuarantineRow{ID: q.ID, Flow: q.Flow, Entity: string(q.Entity), System: q.System, RecordID: q.ExternalID,
		Field: q.Field, Reason: q.Reason, Since: q.CreatedAt, Released: q.ReleasedAt}
	var rec model.Record
	if json.Unmarshal(q.Snapshot, &rec) == nil {
		r.Value = overrideText(rec.Fields[q.Field])
	}
	if withFields {
		r.Fields = recordFields(q.Snapshot)
	}
	return r
}

func (c *Console) quarantine(ctx context.Context, flow string) ([]QuarantineRow, error) {
	entries, err := c.o.Store.ListQuarantine(ctx, &store.ListQuarantineParams{Flow: flow, Limit: 500})
	if err != nil {
		return nil, err
	}
	out := make([]QuarantineRow, 0, len(entries))
	for _, q := range entries {
		out = append(out, quarantineRow(q, false))
	}
	return out, nil
}

// ReviewView is one candidate pair waiting for a person.
type ReviewView struct {
	ID           int64      `json:"id"`
	Flow         string     `json:"flow"`
	Entity       string     `json:"entity"`
	System       string     `json:"system"`
	RecordID     string     `json:"record_id"`
	TargetSystem string     `json:"target_system"`
	TargetID     string     `json:"target_id"`
	Score        float64    `json:"score"`
	Key          string     `json:"key,omitempty"`
	State        string     `json:"state"`
	Since        time.Time  `json:"since"`
	Fields       []PairRow  `json:"fields"`
	Scores       []ScoreRow `json:"scores"`
}

// PairRow is one field side by side.
type PairRow struct {
	Field  string `json:"field"`
	Source string `json:"source"`
	Target string `json:"target"`
	Same   bool   `json:"same"`
}

// ScoreRow is how one field scored.
type ScoreRow struct {
	Field string  `json:"field"`
	Score float64 `json:"score"`
}

func reviewView(r store.Review) ReviewView {
	v := ReviewView{ID: r.ID, Flow: r.Flow, Entity: string(r.Entity), System: r.System, RecordID: r.ExternalID,
		TargetSystem: r.TargetSystem, TargetID: r.TargetID, Score: r.Score, Key: r.Key, State: string(r.State), Since: r.CreatedAt}
	src, tgt := fieldMap(r.Snapshot), fieldMap(r.Target)
	names := map[string]bool{}
	for f := range src {
		names[f] = true
	}
	for f := range tgt {
		names[f] = true
	}
	keys := make([]string, 0, len(names))
	for f := range names {
		keys = append(keys, f)
	}
	sort.Strings(keys)
	for _, f := range keys {
		v.Fields = append(v.Fields, PairRow{Field: f, Source: src[f], Target: tgt[f], Same: strings.EqualFold(src[f], tgt[f])})
	}
	var scores []match.FieldScore
	if json.Unmarshal(r.Fields, &scores) == nil {
		for _, fs := range scores {
			v.Scores = append(v.Scores, ScoreRow{Field: fs.Field, Score: fs.Score})
		}
	}
	return v
}

func fieldMap(snap []byte) map[string]string {
	out := map[string]string{}
	var rec model.Record
	if len(snap) == 0 || json.Unmarshal(snap, &rec) != nil {
		return out
	}
	for f, v := range rec.Fields {
		if !v.IsNull() && v.Kind != model.KindLines {
			out[f] = v.String()
		}
	}
	return out
}

func (c *Console) reviews(ctx context.Context, flow string) ([]ReviewView, error) {
	rs, err := c.o.Store.ListReviews(ctx, &store.ListReviewsParams{Flow: flow, Limit: 200})
	if err != nil {
		return nil, err
	}
	out := make([]ReviewView, 0, len(rs))
	for _, r := range rs {
		out = append(out, reviewView(r))
	}
	return out, nil
}

// LinkGroup is one concord id and the records it pairs.
type LinkGroup struct {
	ConcordID string     `json:"concord_id"`
	Entity    string     `json:"entity"`
	Records   []LinkView `json:"records"`
}

// LinkView is one linked record.
type LinkView struct {
	System   string    `json:"system"`
	Entity   string    `json:"entity"`
	RecordID string    `json:"record_id"`
	URL      string    `json:"url,omitempty"`
	Since    time.Time `json:"since"`
}

// links finds the records linked with id: id may be a record's id in any
// system, or a concord id.
func (c *Console) links(ctx context.Context, id string) ([]LinkGroup, error) {
	id = strings.TrimSpace(id)
	out := []LinkGroup{}
	if id == "" {
		return out, nil
	}
	concordIDs := map[string]model.Entity{}
	seen := map[string]bool{}
	for _, sys := range c.o.Config.Systems {
		for _, ent := range model.Entities {
			if seen[sys.Name+"\x00"+string(ent)] {
				continue
			}
			seen[sys.Name+"\x00"+string(ent)] = true
			got, err := c.o.Store.GetLinks(ctx, &store.GetLinksParams{System: sys.Name, Entity: ent, ExternalIDs: []string{id}})
			if err != nil {
				return nil, err
			}
			for _, l := range got {
				concordIDs[l.ConcordID] = l.Entity
			}
		}
	}
	if direct, err := c.o.Store.ListLinks(ctx, &store.ListLinksParams{ConcordID: id, Limit: 1}); err != nil {
		return nil, err
	} else if len(direct) > 0 {
		concordIDs[id] = direct[0].Entity
	}
	for cid, ent := range concordIDs {
		ls, err := c.o.Store.ListLinks(ctx, &store.ListLinksParams{ConcordID: cid, Limit: 100})
		if err != nil {
			return nil, err
		}
		g := LinkGroup{ConcordID: cid, Entity: string(ent)}
		for _, l := range ls {
			lv := LinkView{System: l.System, Entity: string(l.Entity), RecordID: l.ExternalID, Since: l.CreatedAt}
			if c.o.RecordURL != nil {
				lv.URL = c.o.RecordURL(l.System, l.Entity, l.ExternalID)
			}
			g.Records = append(g.Records, lv)
		}
		slices.SortFunc(g.Records, func(a, b LinkView) int { return cmp.Compare(a.System+a.Entity, b.System+b.Entity) })
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b LinkGroup) int { return cmp.Compare(a.Entity+a.ConcordID, b.Entity+b.ConcordID) })
	return out, nil
}

// OwnershipView is the config's ownership matrix: every declared field, its
// owner, and which flows move it in which direction.
type OwnershipView struct {
	Flows  []OwnershipFlow `json:"flows"`
	Fields []OwnershipRow  `json:"fields"`
}

// OwnershipFlow is one flow's column.
type OwnershipFlow struct {
	Name   string `json:"name"`
	Entity string `json:"entity"`
	Source string `json:"source"`
	Target string `json:"target"`
	Mode   string `json:"mode"`
}

// OwnershipRow is one field's row.
type OwnershipRow struct {
	Entity   string `json:"entity"`
	Field    string `json:"field"`
	Owner    string `json:"owner"`
	Type     string `json:"type"`
	Required bool   `json:"required"`
	// Moves has one cell per flow: "source -> target", or "" when the flow
	// does not move the field.
	Moves []string `json:"moves"`
}

func (c *Console) ownership() OwnershipView {
	cfg := c.o.Config
	v := OwnershipView{}
	for _, f := range cfg.Flows {
		mode := f.Mode
		if mode == "" {
			mode = config.ModeOneWay
		}
		v.Flows = append(v.Flows, OwnershipFlow{Name: f.Name, Entity: string(f.Entity), Source: f.Source, Target: f.Target, Mode: mode})
	}
	ents := make([]string, 0, len(cfg.Entities))
	for e := range cfg.Entities {
		ents = append(ents, string(e))
	}
	sort.Strings(ents)
	for _, e := range ents {
		decl := cfg.Entities[model.Entity(e)]
		names := make([]string, 0, len(decl.Fields))
		for n := range decl.Fields {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fd := decl.Fields[n]
			row := OwnershipRow{Entity: e, Field: n, Owner: fd.Owner, Type: fmt.Sprint(fd.Type), Required: fd.Required}
			for _, f := range cfg.Flows {
				cell := ""
				if string(f.Entity) == e && slices.Contains(f.Fields, n) {
					from, to := f.Source, f.Target
					if f.IsTwoWay() && fd.Owner == f.Target {
						from, to = f.Target, f.Source
					}
					cell = from + " → " + to
				}
				row.Moves = append(row.Moves, cell)
			}
			v.Fields = append(v.Fields, row)
		}
	}
	return v
}

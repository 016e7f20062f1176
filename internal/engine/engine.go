package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
)

// Batch is the unit of queued work: source records of one leg to apply together.
type Batch struct {
	Leg     string         `json:"leg"`
	Records []model.Record `json:"records"`
	// Attempt is 1 for the first try and grows with each retry of failed records.
	Attempt int `json:"attempt"`
	// Force skips the fingerprint shortcut (replays and dead-letter retries): the
	// plan diffs against the target even when these values were applied before.
	// An older change still never overwrites a newer one.
	Force bool `json:"force,omitempty"`
	// ReplayOf is the event being replayed, 0 otherwise.
	ReplayOf int64 `json:"replay_of,omitempty"`
	// Live marks work a user is waiting for (a won deal, a webhook), which the
	// queue runs before backfills.
	Live bool `json:"live,omitempty"`
	// Fetch lists source record ids to read when the batch runs, for changes
	// announced by webhook: the request that announced them does no I/O.
	Fetch []string `json:"fetch,omitempty"`
	// Pull marks records fetched because another record references them (a won
	// deal's account): they pass the leg's trigger.
	Pull bool `json:"pull,omitempty"`
	// Wake marks records that waited for another record, fetched again now that
	// it is linked: they pass the leg's trigger.
	Wake bool `json:"wake,omitempty"`
	// Set overrides source field values per record id, applied after the
	// records are read (a dead letter retried with a corrected value).
	Set map[string]model.Fields `json:"set,omitempty"`
	// Resync marks a batch of a resync (resync.go): linked records compared
	// with the target after a mapping change. It never creates; the records
	// it finds unchanged get no event, only counts in the leg's resync.
	Resync bool `json:"resync,omitempty"`
	// Status, when set, makes the batch a status write: the text each source
	// record's status field should say (by source id). The recording
	// transaction queues it, so a status survives a crash between recording
	// an outcome and writing it onto the source record.
	Status map[string]string `json:"status,omitempty"`
}

// passesTrigger reports whether the batch's records were selected before
// (pulled by a reference, woken after a wait, retried or replayed) and skip
// the trigger.
func (b *Batch) passesTrigger() bool { return b.Pull || b.Wake || b.Force }

// isRead reports whether the batch is a plain read of changes (poll or
// webhook), not a retry, wake, pull, replay or correction.
func (b *Batch) isRead() bool {
	return b.Attempt <= 1 && !b.Force && !b.Pull && !b.Wake && b.ReplayOf == 0 && len(b.Set) == 0
}

// Enqueuer puts batches on the durable queue inside the caller's transaction, so
// that the work is queued if and only if the transaction commits. at is when the
// batch may run; the zero time means now.
type Enqueuer interface {
	EnqueueTx(ctx context.Context, tx store.Tx, batches []Batch, at time.Time) error
}

// RetryPolicy says how failed records are retried.
type RetryPolicy struct {
	// MaxAttempts is the number of tries before a record is dead-lettered.
	MaxAttempts int
	// Backoff is the delay before the second try; it doubles for each further try,
	// with ±50% jitter, up to MaxBackoff.
	Backoff    time.Duration
	MaxBackoff time.Duration
}

// DefaultRetryPolicy is 5 attempts, starting at 1 s and capped at 5 min.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxAttempts: 5, Backoff: time.Second, MaxBackoff: 5 * time.Minute}
}

// Delay returns the wait before try attempt+1, jittered by r in [0,1).
func (p RetryPolicy) Delay(attempt int, r float64) time.Duration {
	d := p.Backoff
	for i := 1; i < attempt && d < p.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, p.MaxBackoff)
	return time.Duration(float64(d) * (0.5 + r))
}

// Params configure an Engine.
type Params struct {
	Store store.Store
	// Connectors are the opened systems by name.
	Connectors map[string]connector.Connector
	Legs       []Leg
	// ConfigVersion is recorded on every event (the config file's hash).
	ConfigVersion string
	Queue         Enqueuer
	Retry         RetryPolicy
	// BatchSize is the most records read per poll and queued per batch.
	BatchSize int
	Logger    *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// WaitLimit is how long a record may wait for another before it becomes a
	// dead letter; 0 means DefaultWaitLimit.
	WaitLimit time.Duration
	// LetterRetry paces the automatic retries of dead letters of passing causes
	// (a system that was down); zero fields take DefaultLetterRetry's.
	LetterRetry RetryPolicy
	// Observer is told of every poll, recorded piece and failed batch (health,
	// metrics, logs); nil tells no one.
	Observer Observer
	// Tracer provides the spans of polls and batches (trace.go); nil traces
	// nothing.
	Tracer trace.TracerProvider
	// Gate bounds the batches written into a system at once across every
	// process on the store (systems' max_concurrency); nil bounds nothing.
	Gate Gate
}

// Gate hands out write slots of systems (internal/gate implements it).
type Gate interface {
	// Enter waits for a write slot of system and holds it until leave is
	// called.
	Enter(ctx context.Context, system string) (leave func(), err error)
}

// DefaultWaitLimit is how long a record waits for another by default.
const DefaultWaitLimit = 24 * time.Hour

// DefaultLetterRetry retries dead letters of passing causes after 1 minute,
// doubling up to 1 hour between tries; they are never given up.
func DefaultLetterRetry() RetryPolicy {
	return RetryPolicy{Backoff: time.Minute, MaxBackoff: time.Hour}
}

// Engine applies changes along legs. It is safe for concurrent use; the queue runs
// at most one batch of a leg at a time so that changes of one record keep their
// order.
type Engine struct {
	store   store.Store
	conns   map[string]connector.Connector
	legs    map[string]*Leg
	order   []string
	version string
	queue   Enqueuer
	retry   RetryPolicy
	batch   int
	log     *slog.Logger
	obs     Observer
	gate    Gate
	tracer  trace.Tracer
	now     func() time.Time

	waitLimit   time.Duration
	letterRetry RetryPolicy

	mu     sync.Mutex
	stats  map[string]*Stats
	rnd    *rand.Rand
	pieces map[string]int // records per piece, per leg (see Process)
	// matchers are the legs' indexes of target records (match.go).
	matchers map[string]*matcher

	// backlog is set while the store may hold waits or open dead letters:
	// recording then also wakes waiters and closes letters. Tick clears it
	// when there are none, so that a clean sync does no such work.
	backlog atomic.Bool
}

// New checks params and returns an engine. It does no I/O.
func New(p Params) (*Engine, error) {
	if p.Store == nil || p.Queue == nil {
		return nil, errors.New("engine: store and queue are required")
	}
	e := &Engine{
		store: p.Store, conns: p.Connectors, legs: map[string]*Leg{}, version: p.ConfigVersion,
		queue: p.Queue, retry: p.Retry, batch: p.BatchSize, log: p.Logger, now: p.Now, obs: p.Observer, gate: p.Gate,
		stats: map[string]*Stats{}, rnd: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7)),
		waitLimit: p.WaitLimit, letterRetry: p.LetterRetry, pieces: map[string]int{},
	}
	e.backlog.Store(true)
	if e.waitLimit <= 0 {
		e.waitLimit = DefaultWaitLimit
	}
	def := DefaultLetterRetry()
	if e.letterRetry.Backoff <= 0 {
		e.letterRetry.Backoff = def.Backoff
	}
	if e.letterRetry.MaxBackoff < e.letterRetry.Backoff {
		e.letterRetry.MaxBackoff = max(def.MaxBackoff, e.letterRetry.Backoff)
	}
	if e.retry.MaxAttempts < 1 {
		e.retry = DefaultRetryPolicy()
	}
	if e.batch < 1 {
		e.batch = 500
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.now == nil {
		e.now = time.Now
	}
	if p.Tracer == nil {
		p.Tracer = noop.NewTracerProvider()
	}
	e.tracer = p.Tracer.Tracer(TracerName)
	var errs []error
	for i := range p.Legs {
		l := p.Legs[i]
		if err := l.Validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		for _, sys := range []string{l.Source, l.Target} {
			if _, ok := p.Connectors[sys]; !ok {
				errs = append(errs, fmt.Errorf("leg %s: system %s is not open", l.Name, sys))
			}
		}
		if _, dup := e.legs[l.Name]; dup {
			errs = append(errs, fmt.Errorf("leg %s: defined twice", l.Name))
		}
		e.legs[l.Name] = &l
		e.order = append(e.order, l.Name)
		e.stats[l.Name] = &Stats{Leg: l.Name}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, a := range e.legs {
		for _, b := range e.legs {
			if a != b && a.pairsWith(b) {
				a.shared = true
				if a.Flow == "" || a.Flow != b.Flow {
					a.sharedByFlows = true
				}
			}
		}
	}
	return e, nil
}

// pairsWith reports whether two legs link records of a common entity between
// the same two systems (in either direction).
func (l *Leg) pairsWith(o *Leg) bool {
	sameSystems := (l.Source == o.Source && l.Target == o.Target) || (l.Source == o.Target && l.Target == o.Source)
	if !sameSystems {
		return false
	}
	for _, x := range []model.Entity{l.Entity, l.targetEntity()} {
		for _, y := range []model.Entity{o.Entity, o.targetEntity()} {
			if x == y {
				return true
			}
		}
	}
	return false
}

// Legs returns the leg names in configuration order.
func (e *Engine) Legs() []string { return append([]string(nil), e.order...) }

// Leg returns the named leg.
func (e *Engine) Leg(name string) (*Leg, bool) {
	l, ok := e.legs[name]
	return l, ok
}

// Stats counts what happened on one leg since the engine started.
type Stats struct {
	Leg         string `json:"leg"`
	Read        int    `json:"read"`
	Created     int    `json:"created"`
	Updated     int    `json:"updated"`
	Unchanged   int    `json:"unchanged"`
	Skipped     int    `json:"skipped"` // echoes and re-delivered versions
	Stale       int    `json:"stale"`
	Quarantined int    `json:"quarantined"`
	Retrying    int    `json:"retrying"`
	Waiting     int    `json:"waiting"`     // parked until a record they need is linked
	Failed      int    `json:"failed"`      // dead-lettered or refused
	Review      int    `json:"review"`      // a likely match waits for a person: nothing written
	NotCreated  int    `json:"not_created"` // no link, and the flow never creates
}

// Add adds o's counters to s (not the leg name).
func (s *Stats) Add(o Stats) {
	s.Read += o.Read
	s.Created += o.Created
	s.Updated += o.Updated
	s.Unchanged += o.Unchanged
	s.Skipped += o.Skipped
	s.Stale += o.Stale
	s.Quarantined += o.Quarantined
	s.Retrying += o.Retrying
	s.Waiting += o.Waiting
	s.Failed += o.Failed
	s.Review += o.Review
	s.NotCreated += o.NotCreated
}

// Applied is the number of changes that reached an outcome.
func (s Stats) Applied() int {
	return s.Created + s.Updated + s.Unchanged + s.Skipped + s.Stale + s.Quarantined + s.Waiting + s.Failed + s.Review + s.NotCreated
}

// Stats returns a copy of the counters of every leg, in leg order.
func (e *Engine) Stats() []Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Stats, 0, len(e.order))
	for _, n := range e.order {
		out = append(out, *e.stats[n])
	}
	return out
}

func (e *Engine) count(leg string, f func(*Stats)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f(e.stats[leg])
}

func (e *Engine) jitter() float64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.rnd.Float64()
}

// PollResult says what one Poll did.
type PollResult struct {
	Read   int
	Queued int
	// Done is true when the source has nothing newer waiting.
	Done bool
}

// Poll reads one page of changes from the leg's source since its cursor and, in one
// transaction, queues them and advances the cursor. Changes the leg's trigger does
// not select are passed over (they still move the cursor).
func (e *Engine) Poll(ctx context.Context, legName string) (PollResult, error) {
	l, ok := e.legs[legName]
	if !ok {
		return PollResult{}, fmt.Errorf("poll: unknown leg %q", legName)
	}
	ctx, span := e.span(ctx, SpanPoll, l, func() []attribute.KeyValue {
		return []attribute.KeyValue{AttrSource.String(l.Source), AttrEntity.String(string(l.Entity))}
	})
	key := store.CursorKey{Flow: l.Name, System: l.Source, Entity: l.Entity}
	cursor, err := e.store.GetCursor(ctx, &key)
	if err != nil {
		err = fmt.Errorf("poll %s: get cursor: %w", l.Name, err)
		endSpan(span, err)
		return PollResult{}, err
	}
	began := e.now()
	out, err := e.poll(ctx, l, key, cursor)
	if span.IsRecording() {
		span.SetAttributes(AttrRecords.Int(out.Read), AttrQueued.Int(out.Queued))
	}
	endSpan(span, err)
	if e.obs != nil {
		e.obs.Polled(PollReport{Leg: l.Name, Flow: l.Flow, Source: l.Source, At: e.now(), Took: e.now().Sub(began), Read: out.Read, Queued: out.Queued, Err: err})
	}
	return out, err
}

// poll is Poll after the cursor is read.
func (e *Engine) poll(ctx context.Context, l *Leg, key store.CursorKey, cursor string) (PollResult, error) {
	rctx, span := e.span(ctx, SpanRead, l, func() []attribute.KeyValue {
		return []attribute.KeyValue{AttrSource.String(l.Source), AttrEntity.String(string(l.Entity))}
	})
	res, err := e.conns[l.Source].Read(rctx, connector.ReadRequest{Entity: l.Entity, Cursor: cursor, Limit: e.batch})
	if err != nil {
		err = fmt.Errorf("poll %s: read %s: %w", l.Name, l.Source, err)
		endSpan(span, err)
		return PollResult{}, err
	}
	if span.IsRecording() {
		span.SetAttributes(AttrRecords.Int(len(res.Records)))
	}
	endSpan(span, nil)
	recs, err := e.selectTriggered(ctx, l, res.Records)
	if err != nil {
		return PollResult{}, fmt.Errorf("poll %s: %w", l.Name, err)
	}
	out := PollResult{Read: len(res.Records), Queued: len(recs), Done: res.Done || len(res.Records) == 0}
	if len(recs) == 0 && res.Next == cursor {
		return out, nil
	}
	// The page is read: queue it even when ctx is cancelled now (a shutdown),
	// rather than read it again next time.
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	err = e.store.InTx(qctx, func(tx store.Tx) error {
		ctx := qctx
		if len(recs) > 0 {
			b := Batch{Leg: l.Name, Records: recs, Attempt: 1, Live: l.Trigger == TriggerDealWon, Force: l.Trigger == TriggerSchedule}
			if err := e.queue.EnqueueTx(ctx, tx, []Batch{b}, time.Time{}); err != nil {
				return fmt.Errorf("enqueue: %w", err)
			}
		}
		return tx.SetCursor(ctx, &store.SetCursorParams{CursorKey: key, Cursor: res.Next})
	})
	if err != nil {
		return PollResult{}, fmt.Errorf("poll %s: %w", l.Name, err)
	}
	e.count(l.Name, func(s *Stats) { s.Read += len(res.Records) })
	return out, nil
}

// selectTriggered keeps the records the leg's trigger selects. With the deal_won
// trigger, a deal moves once it is won (an order always); any other record (an
// account, a contact) moves once this flow has handed it over, which happens when
// a won deal that references it pulls it across, and then on every change; a
// record a won deal still waits for moves on every change too.
func (e *Engine) selectTriggered(ctx context.Context, l *Leg, recs []model.Record) ([]model.Record, error) {
	if l.Trigger != TriggerDealWon || len(recs) == 0 {
		return recs, nil
	}
	out := recs[:0:0]
	if l.Entity == model.Deal || l.Entity == model.Order {
		for _, r := range recs {
			if st := r.Fields.Get("stage"); st.Str == "won" || r.Entity == model.Order {
				out = append(out, r)
			}
		}
		return out, nil
	}
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.ID
	}
	// Handed over by this flow before (pulled by a won deal): its fingerprint.
	// Links made by other flows between the same systems do not count.
	fps, err := e.store.GetFingerprints(ctx, &store.GetFingerprintsParams{Flow: l.Name, System: l.Source, Entity: l.Entity, ExternalIDs: ids})
	if err != nil {
		return nil, fmt.Errorf("fingerprints: %w", err)
	}
	// Awaited by a waiting record (its pull was refused, and the record was
	// fixed at the source since): it moves now.
	var awaited map[string]bool
	if e.backlog.Load() {
		if awaited, err = e.store.WaitedOn(ctx, &store.WaitedOnParams{System: l.Source, Entity: l.Entity, ExternalIDs: ids}); err != nil {
			return nil, fmt.Errorf("waits: %w", err)
		}
	}
	for _, r := range recs {
		if _, ok := fps[r.ID]; ok || awaited[r.ID] {
			out = append(out, r)
		}
	}
	return out, nil
}

// linkedInTarget maps source ids of entity to their target ids, for the ids that
// have a counterpart in the leg's target.
func (e *Engine) linkedInTarget(ctx context.Context, l *Leg, entity model.Entity, ids []string) (map[string]string, error) {
	src, err := e.store.GetLinks(ctx, &store.GetLinksParams{System: l.Source, Entity: entity, ExternalIDs: ids})
	if err != nil {
		return nil, fmt.Errorf("%s links in %s: %w", entity, l.Source, err)
	}
	cids := make([]string, 0, len(src))
	for _, lk := range src {
		cids = append(cids, lk.ConcordID)
	}
	tgt, err := e.store.GetLinksByConcordID(ctx, &store.GetLinksByConcordIDParams{System: l.Target, Entity: entity, ConcordIDs: cids})
	if err != nil {
		return nil, fmt.Errorf("%s links in %s: %w", entity, l.Target, err)
	}
	out := make(map[string]string, len(tgt))
	for id, lk := range src {
		if t, ok := tgt[lk.ConcordID]; ok {
			out[id] = t.ExternalID
		}
	}
	return out, nil
}

// pullLeg returns the leg that moves entity between the same systems as l, if any.
func (e *Engine) pullLeg(l *Leg, entity model.Entity) (string, bool) {
	for _, name := range e.order {
		o := e.legs[name]
		if o.Source == l.Source && o.Target == l.Target && o.Entity == entity {
			return name, true
		}
	}
	return "", false
}

// dedupe keeps the newest version of each record id, in first-seen order.
func dedupe(recs []model.Record) []model.Record {
	idx := make(map[string]int, len(recs))
	out := make([]model.Record, 0, len(recs))
	for _, r := range recs {
		if i, ok := idx[r.ID]; ok {
			if !r.UpdatedAt.Before(out[i].UpdatedAt) {
				out[i] = r
			}
			continue
		}
		idx[r.ID] = len(out)
		out = append(out, r)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

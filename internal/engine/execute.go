package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
)

// Outcome of one record after Execute.
type Outcome struct {
	SourceID string        `json:"source_id"`
	TargetID string        `json:"target_id,omitempty"`
	Outcome  store.Outcome `json:"outcome"`
	Field    string        `json:"field,omitempty"`
	Reason   string        `json:"reason,omitempty"`
	EventID  int64         `json:"event_id,omitempty"`
}

// response is the target's answer as stored on the event.
type response struct {
	ID      string `json:"id,omitempty"`
	Version string `json:"version,omitempty"`
	Error   string `json:"error,omitempty"`
}

// ProcessOptions connect Process to the queue that runs it.
type ProcessOptions struct {
	// Checkpoint is called inside the recording transaction of every piece of a
	// batch but the last, with what is left of the batch (its records read,
	// nothing to fetch): the queue stores it, so that a process killed after
	// the piece resumes with the rest instead of starting over.
	Checkpoint func(ctx context.Context, tx store.Tx, rest Batch) error
	// Stop reports that the process is shutting down: Process returns
	// ErrStopped after the piece it is writing is recorded (and the rest
	// checkpointed).
	Stop func() bool
	// QueuedAt is when the batch became due in the queue (for the queue-wait
	// the Observer is told); zero when unknown.
	QueuedAt time.Time
}

// ErrStopped is returned by Process when it stopped between two pieces of a
// batch because the process is shutting down; the rest was checkpointed.
var ErrStopped = errors.New("stopped between pieces of a batch")

// Piece sizes: a piece is planned, written and recorded as one unit, so that a
// killed process keeps the pieces it finished and a long batch records its
// events as it goes. The size adapts per leg so that a piece takes about
// pieceFast..pieceSlow: slow targets get small pieces, fast ones the batch.
const (
	firstPiece = 25
	pieceFast  = 300 * time.Millisecond
	pieceSlow  = 1500 * time.Millisecond
)

// Process plans and executes a batch, piece by piece; it is what a queue worker
// calls. The outcomes of the pieces recorded before an error are returned with
// it.
func (e *Engine) Process(ctx context.Context, b Batch, opt ProcessOptions) (outs []Outcome, err error) {
	l, ok := e.legs[b.Leg]
	if !ok {
		return nil, fmt.Errorf("process: unknown leg %q", b.Leg)
	}
	ctx, span := e.span(ctx, SpanBatch, l, func() []attribute.KeyValue {
		return []attribute.KeyValue{AttrRecords.Int(len(b.Records) + len(b.Fetch)), AttrAttempt.Int(b.Attempt), AttrKind.String(batchKind(b)),
			AttrSource.String(l.Source), AttrTarget.String(l.Target), AttrEntity.String(string(l.targetEntity()))}
	})
	if b.Live {
		ctx = connector.WithLive(ctx) // served first by rate-limited targets
	}
	pieces := 0
	defer func() {
		if span.IsRecording() {
			span.SetAttributes(AttrPieces.Int(pieces))
			span.SetAttributes(outcomeAttrs(outs)...)
		}
		endSpan(span, err)
	}()
	if len(b.Status) > 0 && len(b.Records) == 0 && len(b.Fetch) == 0 {
		return nil, e.applyStatus(ctx, l, b.Status)
	}
	b, gone, err := e.materialize(ctx, l, b)
	if err != nil {
		return nil, e.failed(l, len(b.Records)+len(b.Fetch), err)
	}
	if len(gone) > 0 {
		// Records the source no longer has: nothing waits for them, and their
		// dead letters have nothing left to retry.
		err := e.store.InTx(ctx, func(tx store.Tx) error {
			if err := tx.DeleteWaits(ctx, &store.DeleteWaitsParams{Flow: l.Name, System: l.Source, Entity: l.Entity, ExternalIDs: gone}); err != nil {
				return err
			}
			return tx.ResolveDeadLetters(ctx, &store.ResolveDeadLettersParams{Flow: l.Name, System: l.Source, Entity: l.Entity, ExternalIDs: gone, Resolution: "source record gone"})
		})
		if err != nil {
			return nil, fmt.Errorf("process %s: records gone from %s: %w", l.Name, l.Source, err)
		}
	}
	for start := 0; start < len(b.Records); {
		size := e.pieceSize(l)
		end := min(start+size, len(b.Records))
		piece, rest := b, b
		piece.Records, rest.Records = b.Records[start:end], b.Records[end:]
		began := time.Now()
		pieces++
		pctx, pspan := e.span(ctx, SpanPlan, l, func() []attribute.KeyValue { return []attribute.KeyValue{AttrRecords.Int(len(piece.Records))} })
		bp, err := e.planRecords(pctx, l, piece)
		if err == nil && pspan.IsRecording() {
			pspan.SetAttributes(actionAttrs(bp)...)
		}
		endSpan(pspan, err)
		if err != nil {
			return outs, e.failed(l, len(b.Records)-start, err)
		}
		var cp func(context.Context, store.Tx) error
		// A resync's last piece checkpoints the empty rest too: its counts are
		// recorded with it, so a job run again after a crash (before the queue
		// recorded it done) must find nothing left to count twice.
		if opt.Checkpoint != nil && (len(rest.Records) > 0 || b.Resync) {
			cp = func(ctx context.Context, tx store.Tx) error { return opt.Checkpoint(ctx, tx, rest) }
		}
		o, err := e.execute(ctx, bp, cp)
		outs = append(outs, o...)
		if err != nil {
			return outs, e.failed(l, len(b.Records)-start, err)
		}
		if e.obs != nil {
			wait := time.Duration(0)
			if start == 0 && !opt.QueuedAt.IsZero() {
				wait = max(began.Sub(opt.QueuedAt), 0)
			}
			e.obs.Recorded(pieceReport(l, bp, o, e.now(), time.Since(began), wait))
		}
		e.adaptPiece(l.Name, end-start, time.Since(began))
		start = end
		if start < len(b.Records) && opt.Stop != nil && opt.Stop() {
			return outs, ErrStopped
		}
	}
	return outs, nil
}

// pieceSize is the leg's current piece size, rounded up to a multiple of the
// target's request size (connector.WriteBatchSizer): a piece of 25 records
// would spend a HubSpot request of 100 on 25.
func (e *Engine) pieceSize(l *Leg) int {
	e.mu.Lock()
	n := e.pieces[l.Name]
	e.mu.Unlock()
	if n <= 0 {
		n = min(firstPiece, e.batch)
	}
	if s, ok := e.conns[l.Target].(connector.WriteBatchSizer); ok {
		if u := s.WriteBatchSize(l.targetEntity()); u > 1 {
			n = (n + u - 1) / u * u
		}
	}
	return n
}

// adaptPiece grows a leg's piece size while pieces are quick and shrinks it
// when they are slow.
func (e *Engine) adaptPiece(leg string, n int, took time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	size := e.pieces[leg]
	if size == 0 {
		size = min(firstPiece, e.batch)
	}
	switch {
	case took < pieceFast && n >= size:
		size = min(size*2, e.batch)
	case took > pieceSlow:
		size = max(size/2, 1)
	}
	e.pieces[leg] = size
}

// Execute writes a plan to the target and records the outcome of every record in
// one store transaction: events, links, fingerprints, quarantine, waits, dead
// letters and the retry of retryable failures. An error means nothing was
// recorded; the target writes that happened are found again by link key when
// the batch is retried.
func (e *Engine) Execute(ctx context.Context, bp *BatchPlan) ([]Outcome, error) {
	return e.execute(ctx, bp, nil)
}

// recordTimeout bounds the recording of a batch whose writes were made: the
// recording goes on when the job's context is cancelled (a shutdown), since
// the target already holds the writes.
const recordTimeout = time.Minute

func (e *Engine) execute(ctx context.Context, bp *BatchPlan, checkpoint func(context.Context, store.Tx) error) ([]Outcome, error) {
	l := bp.Leg
	started := e.now()
	var ops []connector.Op
	var writing []*RecordPlan
	for _, p := range bp.Records {
		if p.Action != ActionCreate && p.Action != ActionUpdate {
			continue
		}
		if err := l.guard(p); err != nil {
			p.Action, p.Field, p.Reason, p.Retryable = ActionFail, err.Field, err.Error(), false
			continue
		}
		op := connector.Op{Kind: connector.OpCreate, LinkKey: p.Source.ID, Fields: p.values}
		if p.Action == ActionUpdate {
			op = connector.Op{Kind: connector.OpUpdate, ID: p.TargetID, LinkKey: p.Source.ID, Version: p.TargetVersion, Fields: p.values}
		}
		ops = append(ops, op)
		writing = append(writing, p)
	}
	answers := make([]response, len(bp.Records))
	var existed []*RecordPlan
	pos := make(map[*RecordPlan]int, len(bp.Records))
	for i, p := range bp.Records {
		pos[p] = i
	}
	if len(ops) > 0 {
		wctx, span := e.span(ctx, SpanWrite, l, func() []attribute.KeyValue {
			return []attribute.KeyValue{AttrTarget.String(l.Target), AttrEntity.String(string(l.targetEntity())), AttrRecords.Int(len(ops))}
		})
		wrote := e.now()
		results, err := e.write(wctx, l.Target, l.targetEntity(), ops)
		bp.writeTook = e.now().Sub(wrote)
		if err == nil && len(results) != len(ops) {
			err = fmt.Errorf("connector returned %d results for %d records", len(results), len(ops))
		}
		if err == nil && span.IsRecording() {
			refused := 0
			for _, r := range results {
				if r.Err != nil {
					refused++
				}
			}
			span.SetAttributes(AttrRefused.Int(refused))
		}
		endSpan(span, err)
		for i, p := range writing {
			if err != nil {
				p.Action, p.Reason, p.Retryable = ActionFail, fmt.Sprintf("write to %s: %v", l.Target, err), !connector.IsPermanent(err)
				answers[pos[p]].Error = err.Error()
				continue
			}
			r := results[i]
			answers[pos[p]] = response{ID: r.ID, Version: r.Version}
			if r.Err != nil {
				var pe *connector.PermanentError
				field := ""
				if ok := asPermanent(r.Err, &pe); ok {
					field = pe.Field
				}
				p.Action, p.Field, p.Reason, p.Retryable = ActionFail, field, fmt.Sprintf("%s refused %s %s: %v", l.Target, l.Entity, p.Source.ID, r.Err), !connector.IsPermanent(r.Err)
				answers[pos[p]].Error = r.Err.Error()
				continue
			}
			if p.Action == ActionCreate {
				p.TargetID = r.ID
				if r.Existed {
					// The upsert found the record an earlier attempt made
					// (no lookup was made before it: createsUpsert).
					p.Adopted, p.adoptedCreate = true, true
					existed = append(existed, p)
				}
			}
		}
	}
	took := e.now().Sub(started)
	// The writes are made: record them even when ctx is cancelled now.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if err := e.checkTaken(rctx, l, existed, " (the create updated it: it holds this record's id as its link key)"); err != nil {
		return nil, err
	}
	rctx, span := e.span(rctx, SpanRecord, l, func() []attribute.KeyValue { return []attribute.KeyValue{AttrRecords.Int(len(bp.Records))} })
	outs, err := e.record(rctx, bp, answers, started, took, checkpoint)
	if err == nil && span.IsRecording() {
		span.SetAttributes(outcomeAttrs(outs)...)
	}
	endSpan(span, err)
	return outs, err
}

// guard re-checks the ownership promise at write time, whatever the plan says.
// The plan's values are keyed by the target's field names.
func (l *Leg) guard(p *RecordPlan) *OwnershipError {
	for t := range p.values {
		f := l.sourceField(t)
		if f == "" {
			return &OwnershipError{Leg: l.Name, Entity: l.targetEntity(), Field: t, Msg: "is not carried by this flow"}
		}
		for _, err := range []error{l.checkOwner(f), l.checkTargetOwner(t)} {
			var oe *OwnershipError
			if asOwnership(err, &oe) {
				return oe
			}
		}
	}
	return nil
}

// record stores the outcome of a batch in one transaction.
func (e *Engine) record(ctx context.Context, bp *BatchPlan, answers []response, started time.Time, took time.Duration, checkpoint func(context.Context, store.Tx) error) ([]Outcome, error) {
	l, b := bp.Leg, bp.Batch
	n := len(bp.Records)
	var (
		events   = make([]store.Event, 0, n)
		evIdx    = make([]int, 0, n) // record index of each event
		pairs    []linkPair
		fps      []store.Fingerprint
		quar     []store.QuarantineEntry
		released []string
		synced   []string // reached the target: their dead letters close
		unpark   []string // reached another outcome than waiting: their waits end
		retry    []model.Record
		deadIdx  []int
		waitIdx  []int
		revIdx   []int // new reviews
		created  []*RecordPlan
	)
	outs := make([]Outcome, n)
	per := took / time.Duration(max(n, 1))
	now := e.now().UTC()
	var st Stats
	for i, p := range bp.Records {
		o := Outcome{SourceID: p.Source.ID, TargetID: p.TargetID, Field: p.Field, Reason: p.Reason}
		switch p.Action {
		case ActionSkip:
			o.Outcome = ""
			st.Skipped++
			outs[i] = o
			if !p.echo {
				// The target holds these values already: nothing waits and
				// nothing is held back any more.
				released = append(released, p.Source.ID)
				unpark = append(unpark, p.Source.ID)
			}
			continue
		case ActionCreate:
			o.Outcome = store.OutcomeCreated
			st.Created++
			created = append(created, p)
		case ActionReview:
			o.Outcome = store.OutcomeReview
			st.Review++
			if !p.reviewPending {
				revIdx = append(revIdx, i)
			}
		case ActionNotCreated:
			// Not a failure: remembered, so the record is not planned again
			// until it changes.
			o.Outcome = store.OutcomeNotCreated
			st.NotCreated++
			fps = append(fps, store.Fingerprint{Flow: l.Name, System: l.Source, Entity: l.Entity, ExternalID: p.Source.ID, Hash: p.hash, Version: p.Source.Version, UpdatedAt: p.Source.UpdatedAt})
		case ActionUpdate, ActionNone:
			switch {
			case p.adoptedCreate:
				// An earlier attempt created it and died before recording it:
				// this is that create, finished.
				o.Outcome = store.OutcomeCreated
				st.Created++
			case p.Action == ActionUpdate:
				o.Outcome = store.OutcomeUpdated
				st.Updated++
			default:
				o.Outcome = store.OutcomeUnchanged
				st.Unchanged++
			}
		case ActionStale:
			o.Outcome = store.OutcomeStale
			st.Stale++
		case ActionQuarantine:
			o.Outcome = store.OutcomeQuarantined
			st.Quarantined++
			quar = append(quar, store.QuarantineEntry{Flow: l.Name, System: l.Source, Entity: l.Entity, ExternalID: p.Source.ID, Field: p.Field, Reason: p.Reason, Snapshot: mustJSON(p.Raw), CreatedAt: now})
		case ActionWait:
			o.Outcome = store.OutcomeWaiting
			st.Waiting++
			waitIdx = append(waitIdx, i)
		case ActionFail:
			if p.Retryable && b.Attempt < e.retry.MaxAttempts {
				o.Outcome = store.OutcomeRetrying
				st.Retrying++
				retry = append(retry, p.Raw)
			} else {
				o.Outcome = store.OutcomeDead
				if !p.Retryable {
					o.Outcome = store.OutcomeFailed
				}
				st.Failed++
				deadIdx = append(deadIdx, i)
			}
		}
		if p.Action == ActionCreate || p.Action == ActionUpdate || p.Action == ActionNone {
			fps = append(fps, store.Fingerprint{Flow: l.Name, System: l.Source, Entity: l.Entity, ExternalID: p.Source.ID, Hash: p.hash, Version: p.Source.Version, UpdatedAt: p.Source.UpdatedAt})
			synced = append(synced, p.Source.ID)
			pair := linkPair{event: len(events), cid: p.ConcordID}
			if p.newSourceLink && l.LinkBy == "" {
				pair.source = p.Source.ID
			}
			if (p.Action == ActionCreate || p.Adopted) && l.LinkBy == "" {
				pair.target = p.TargetID
			}
			if pair.source != "" || pair.target != "" {
				pairs = append(pairs, pair)
			}
		}
		if p.Action != ActionQuarantine {
			released = append(released, p.Source.ID)
		}
		if p.Action != ActionWait {
			unpark = append(unpark, p.Source.ID)
		}
		o.TargetID = p.TargetID
		outs[i] = o
		events = append(events, store.Event{
			Flow: l.Name, Entity: l.Entity, SourceSystem: l.Source, SourceID: p.Source.ID,
			TargetSystem: l.Target, TargetID: p.TargetID, ConcordID: p.ConcordID, ConfigVersion: e.version,
			Snapshot: mustJSON(p.Raw), Plan: planJSON(p), Response: responseJSON(answers[i]),
			Outcome: o.Outcome, Error: eventError(p), Attempt: b.Attempt, Replay: b.ReplayOf,
			StartedAt: started.UTC(), Duration: per,
		})
		evIdx = append(evIdx, i)
	}
	if len(waitIdx) > 0 || len(deadIdx) > 0 {
		e.backlog.Store(true)
	}
	backlog := e.backlog.Load()
	err := e.store.InTx(ctx, func(tx store.Tx) error {
		// Links first: settling them may change the concord id the events carry.
		links, err := e.settleLinks(ctx, tx, l, pairs, events)
		if err != nil {
			return err
		}
		if err := tx.PutLinks(ctx, &store.PutLinksParams{Links: links}); err != nil {
			return fmt.Errorf("put links: %w", err)
		}
		// A sweep's unchanged records get no event, only counts (sweep.go).
		evs, idx, sweep := sweepEvents(bp, outs, events, evIdx, now)
		evs, idx, resync := resyncEvents(bp, outs, evs, idx, now)
		ids, err := tx.InsertEvents(ctx, evs)
		if err != nil {
			return fmt.Errorf("insert events: %w", err)
		}
		for k, i := range idx {
			outs[i].EventID = ids[k]
		}
		if sweep != nil {
			if err := tx.AddSweepCounts(ctx, sweep); err != nil {
				return fmt.Errorf("sweep counts: %w", err)
			}
		}
		if resync != nil {
			if err := tx.AddResyncCounts(ctx, resync); err != nil {
				return fmt.Errorf("resync counts: %w", err)
			}
		}
		if err := tx.PutFingerprints(ctx, fps); err != nil {
			return fmt.Errorf("put fingerprints: %w", err)
		}
		if len(released) > 0 {
			if err := tx.ReleaseQuarantine(ctx, &store.ReleaseQuarantineParams{Flow: l.Name, System: l.Source, Entity: l.Entity, ExternalIDs: released}); err != nil {
				return fmt.Errorf("release quarantine: %w", err)
			}
		}
		if err := tx.Quarantine(ctx, quar); err != nil {
			return fmt.Errorf("quarantine: %w", err)
		}
		if backlog && len(unpark) > 0 {
			// A record with another outcome no longer waits (one that waits
			// again keeps its wait, and the time it started, below); one that
			// reached the target closes its dead letter.
			if err := tx.DeleteWaits(ctx, &store.DeleteWaitsParams{Flow: l.Name, System: l.Source, Entity: l.Entity, ExternalIDs: unpark}); err != nil {
				return fmt.Errorf("delete waits: %w", err)
			}
			if err := tx.ResolveDeadLetters(ctx, &store.ResolveDeadLettersParams{Flow: l.Name, System: l.Source, Entity: l.Entity, ExternalIDs: synced, Resolution: "synced"}); err != nil {
				return fmt.Errorf("close dead letters: %w", err)
			}
		}
		if len(waitIdx) > 0 {
			if err := e.park(ctx, tx, bp, waitIdx, outs, now); err != nil {
				return err
			}
		}
		if len(revIdx) > 0 {
			reviews := make([]store.Review, len(revIdx))
			for k, i := range revIdx {
				reviews[k] = newReview(l, bp.Records[i], outs[i].EventID, now)
			}
			if err := tx.PutReviews(ctx, reviews); err != nil {
				return fmt.Errorf("reviews: %w", err)
			}
		}
		if len(deadIdx) > 0 {
			letters := make([]store.DeadLetter, len(deadIdx))
			for k, i := range deadIdx {
				p := bp.Records[i]
				letters[k] = store.DeadLetter{Flow: l.Name, Entity: l.Entity, System: l.Source, ExternalID: p.Source.ID, Snapshot: mustJSON(p.Raw),
					Reason: p.Reason, Attempts: 1, Retryable: p.Retryable, EventID: outs[i].EventID, CreatedAt: now}
				if p.Retryable {
					letters[k].Attempts = b.Attempt
				}
			}
			if _, err := tx.InsertDeadLetters(ctx, letters); err != nil {
				return fmt.Errorf("dead letters: %w", err)
			}
		}
		if backlog && len(links) > 0 {
			if err := e.wakeLinked(ctx, tx, links); err != nil {
				return err
			}
		}
		if backlog && (len(deadIdx) > 0 || len(quar) > 0) {
			if err := e.wakeRefused(ctx, tx, bp, deadIdx, quar); err != nil {
				return err
			}
		}
		var pulls []Batch
		for _, leg := range sortedKeys(bp.Pulls) {
			pulls = append(pulls, Batch{Leg: leg, Fetch: bp.Pulls[leg], Attempt: 1, Live: true, Pull: true})
		}
		if len(pulls) > 0 {
			if err := e.queue.EnqueueTx(ctx, tx, pulls, time.Time{}); err != nil {
				return fmt.Errorf("enqueue pulls: %w", err)
			}
		}
		if texts := statusTexts(bp, outs, now); len(texts) > 0 && e.queue != nil {
			// Written right after this transaction (writeStatus); the job
			// writes what a crash in between left unwritten, and is a no-op
			// otherwise. Live: it runs before later batches of the leg.
			if err := e.queue.EnqueueTx(ctx, tx, []Batch{{Leg: l.Name, Status: texts, Attempt: 1, Live: true}}, time.Time{}); err != nil {
				return fmt.Errorf("enqueue status: %w", err)
			}
		}
		if len(retry) > 0 {
			next := Batch{Leg: l.Name, Records: retry, Attempt: b.Attempt + 1, Force: b.Force, Live: b.Live}
			at := e.now().Add(e.retry.Delay(b.Attempt, e.jitter()))
			if err := e.queue.EnqueueTx(ctx, tx, []Batch{next}, at); err != nil {
				return fmt.Errorf("enqueue retry: %w", err)
			}
		}
		if checkpoint != nil {
			if err := checkpoint(ctx, tx); err != nil {
				return fmt.Errorf("checkpoint: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("record %s batch of %d: %w", l.Name, n, err)
	}
	e.count(l.Name, func(s *Stats) { s.Add(st) })
	e.noteCreated(l, created)
	e.writeStatus(ctx, bp, outs)
	if st.Failed+st.Retrying+st.Quarantined+st.Waiting > 0 {
		e.log.DebugContext(ctx, "batch had records not synced", FlowAttr(l.Name), "attempt", b.Attempt, "failed", st.Failed, "retrying", st.Retrying, "waiting", st.Waiting, "quarantined", st.Quarantined)
	}
	return outs, nil
}

// statusText is what a leg's status field says about one outcome.
func statusText(l *Leg, o Outcome, at time.Time) string {
	stamp := at.UTC().Format("2006-01-02 15:04 UTC")
	reason := o.Reason
	if o.Field != "" && !strings.Contains(reason, o.Field) {
		reason = o.Field + ": " + reason
	}
	switch o.Outcome {
	case store.OutcomeCreated, store.OutcomeUpdated, store.OutcomeUnchanged:
		if reason != "" { // a note on a write that went ahead (amounts that differ by rounding)
			return fmt.Sprintf("synced to %s %s %s; %s (%s)", l.Target, l.targetEntity(), o.TargetID, reason, stamp)
		}
		return fmt.Sprintf("synced to %s %s %s (%s)", l.Target, l.targetEntity(), o.TargetID, stamp)
	case store.OutcomeRetrying:
		// A transient error: its text (addresses, database names) is for the
		// event log, not for the people working in the source.
		return fmt.Sprintf("waiting: %s did not answer; Concord tries again (%s)", l.Target, stamp)
	case store.OutcomeWaiting, store.OutcomeReview:
		return fmt.Sprintf("waiting: %s (%s)", reason, stamp)
	case store.OutcomeQuarantined:
		return fmt.Sprintf("not sent, fix it here: %s (%s)", reason, stamp)
	case store.OutcomeDead:
		if !strings.HasPrefix(o.Reason, "waited ") { // not an expired wait
			return fmt.Sprintf("failed: %s did not answer after every retry; Concord retries it later by itself (%s)", l.Target, stamp)
		}
		return fmt.Sprintf("failed: %s (%s)", reason, stamp)
	case store.OutcomeFailed:
		return fmt.Sprintf("failed: %s (%s)", reason, stamp)
	}
	return ""
}

// writeStatus writes each record's outcome into the leg's status field in the
// source system, where it changed. A failure is logged: the status is a courtesy
// to the people working in the source, and the next attempt writes it again.
// The records a status was written onto are remembered with the values they
// held, so that reading them again because of that write does not try them
// again (see planVersions).
func (e *Engine) writeStatus(ctx context.Context, bp *BatchPlan, outs []Outcome) {
	l := bp.Leg
	if l.StatusField == "" {
		return
	}
	now := e.now()
	var ops []connector.Op
	var echoes []store.Fingerprint
	for i, p := range bp.Records {
		text := statusText(l, outs[i], now)
		if text == "" || prefixEqual(p.Raw.Fields[l.StatusField].Str, text) {
			continue
		}
		ops = append(ops, connector.Op{Kind: connector.OpUpdate, ID: p.Source.ID, Fields: model.Fields{l.StatusField: model.Text(text)}})
		switch outs[i].Outcome {
		case store.OutcomeCreated, store.OutcomeUpdated, store.OutcomeUnchanged:
			// Its fingerprint already recognises the write.
		default:
			echoes = append(echoes, store.Fingerprint{Flow: statusFlow(l), System: l.Source, Entity: l.Entity, ExternalID: p.Source.ID, Hash: p.hash, Version: p.Source.Version, UpdatedAt: p.Source.UpdatedAt})
		}
	}
	if len(ops) == 0 {
		return
	}
	if len(echoes) > 0 {
		// Before the write: a crash between the two leaves at most one extra try.
		if err := e.store.PutFingerprints(ctx, echoes); err != nil {
			e.log.WarnContext(ctx, "remember status writes", FlowAttr(l.Name), "err", err)
			return
		}
	}
	res, err := e.write(ctx, l.Source, l.Entity, ops)
	if err == nil {
		for _, r := range res {
			if r.Err != nil {
				err = r.Err
				break
			}
		}
	}
	if err != nil {
		e.log.WarnContext(ctx, "write status field", FlowAttr(l.Name), "system", l.Source, "field", l.StatusField, "err", err)
	}
}

// eventError is the error an event records: the reason, led by the field at
// fault when the reason does not name it ("sku: required field is blank").
func eventError(p *RecordPlan) string {
	if p.Field != "" && p.Reason != "" && !strings.Contains(p.Reason, p.Field) {
		return p.Field + ": " + p.Reason
	}
	return p.Reason
}

// statusTexts are the status texts a batch's outcomes put on source records
// whose status field says something else; nil when the leg has none.
func statusTexts(bp *BatchPlan, outs []Outcome, now time.Time) map[string]string {
	l := bp.Leg
	if l.StatusField == "" {
		return nil
	}
	var out map[string]string
	for i, p := range bp.Records {
		text := statusText(l, outs[i], now)
		if text == "" || prefixEqual(p.Raw.Fields[l.StatusField].Str, text) {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[p.Source.ID] = text
	}
	return out
}

// applyStatus runs a status batch: it reads the records and writes each text
// that the status field does not say yet (a crash stopped writeStatus after
// the outcome was recorded). A record the source no longer has is skipped; a
// write the source refuses for the whole call is retried by the queue.
func (e *Engine) applyStatus(ctx context.Context, l *Leg, texts map[string]string) error {
	ids := sortedKeys(texts)
	cur, err := e.conns[l.Source].Get(ctx, l.Entity, ids)
	if err != nil {
		return fmt.Errorf("status %s: read %s: %w", l.Name, l.Entity, err)
	}
	var ops []connector.Op
	for _, id := range ids {
		r, ok := cur[id]
		if !ok || prefixEqual(r.Fields[l.StatusField].Str, texts[id]) {
			continue
		}
		ops = append(ops, connector.Op{Kind: connector.OpUpdate, ID: id, Fields: model.Fields{l.StatusField: model.Text(texts[id])}})
	}
	if len(ops) == 0 {
		return nil
	}
	res, err := e.write(ctx, l.Source, l.Entity, ops)
	if err != nil {
		return fmt.Errorf("status %s: write %s: %w", l.Name, l.StatusField, err)
	}
	for i, r := range res {
		if r.Err != nil {
			e.log.WarnContext(ctx, "write status field", FlowAttr(l.Name), "system", l.Source, "id", ops[i].ID, "field", l.StatusField, "err", r.Err)
		}
	}
	e.log.InfoContext(ctx, "status written from the queue (the write right after recording did not happen)", FlowAttr(l.Name), "records", len(ops))
	return nil
}

// prefixEqual reports whether two status texts say the same thing, ignoring
// their time stamps.
func prefixEqual(a, b string) bool {
	cut := func(s string) string {
		if i := strings.LastIndex(s, " ("); i >= 0 {
			return s[:i]
		}
		return s
	}
	return cut(a) == cut(b)
}

// linkPair is the links one record's outcome adds: its source id and/or its
// target id, under one concord id.
type linkPair struct {
	event          int // index of the record's event
	cid            string
	source, target string
}

// settleLinks turns the batch's link pairs into links, inside the recording
// transaction. Another flow between the same two systems may have paired the
// same records meanwhile (an account pulled by a won deal while the credit flow
// adopts it): a record already linked on either side takes that concord id, so
// both flows agree on one pairing. A record linked to two different concord ids
// keeps its links as they are and says so in its event.
func (e *Engine) settleLinks(ctx context.Context, tx store.Tx, l *Leg, pairs []linkPair, events []store.Event) ([]store.Link, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	if !l.shared {
		// No other flow links these entities between these systems: no race,
		// and one leg's batches never run concurrently (one worker per leg,
		// an advisory lock across PostgreSQL nodes).
		links := make([]store.Link, 0, 2*len(pairs))
		for _, p := range pairs {
			if p.source != "" {
				links = append(links, store.Link{Entity: l.Entity, ConcordID: p.cid, System: l.Source, ExternalID: p.source})
			}
			if p.target != "" {
				links = append(links, store.Link{Entity: l.targetEntity(), ConcordID: p.cid, System: l.Target, ExternalID: p.target})
			}
		}
		return links, nil
	}
	var srcIDs, tgtIDs []string
	for _, p := range pairs {
		if p.source != "" {
			srcIDs = append(srcIDs, p.source)
		}
		if p.target != "" {
			tgtIDs = append(tgtIDs, p.target)
		}
	}
	src, err := tx.GetLinks(ctx, &store.GetLinksParams{System: l.Source, Entity: l.Entity, ExternalIDs: srcIDs})
	if err != nil {
		return nil, fmt.Errorf("settle links: %w", err)
	}
	tgt, err := tx.GetLinks(ctx, &store.GetLinksParams{System: l.Target, Entity: l.targetEntity(), ExternalIDs: tgtIDs})
	if err != nil {
		return nil, fmt.Errorf("settle links: %w", err)
	}
	links := make([]store.Link, 0, 2*len(pairs))
	for _, p := range pairs {
		cid := p.cid
		s, t := src[p.source].ConcordID, tgt[p.target].ConcordID
		if p.source == "" {
			s = ""
		}
		if p.target == "" {
			t = ""
		}
		switch {
		case s != "" && t != "" && s != t:
			ev := &events[p.event]
			ev.Error = strings.TrimPrefix(ev.Error+"; ", "; ") + fmt.Sprintf("not linked: %s %s is paired with concord id %s and %s %s with %s", l.Source, p.source, s, l.Target, p.target, t)
			e.log.WarnContext(ctx, "records already paired differently", FlowAttr(l.Name), "record", p.source, "target_record", p.target)
			continue
		case s != "":
			cid = s
		case t != "":
			cid = t
		}
		events[p.event].ConcordID = cid
		if p.source != "" {
			links = append(links, store.Link{Entity: l.Entity, ConcordID: cid, System: l.Source, ExternalID: p.source})
		}
		if p.target != "" {
			links = append(links, store.Link{Entity: l.targetEntity(), ConcordID: cid, System: l.Target, ExternalID: p.target})
		}
	}
	return links, nil
}

func mustJSON(v any) []byte {
	if r, ok := v.(model.Record); ok { // the hot path: no reflection, no re-validation of the output
		return r.AppendJSON(make([]byte, 0, 256))
	}
	b, err := json.Marshal(v)
	if err != nil {
		// Records and plans hold only JSON-safe values; this is a programming error.
		panic(fmt.Sprintf("engine: encode %T: %v", v, err))
	}
	return b
}

// planJSON is the event's plan: {"action":...,"adopted":true,"changes":[{"field":...,"from":...,"to":...}]},
// written by hand on the hot path (TestPlanJSON pins it to encoding/json).
func planJSON(p *RecordPlan) []byte {
	b := make([]byte, 0, 64+96*len(p.Changes))
	b = append(b, `{"action":`...)
	b = model.AppendJSONString(b, string(p.Action))
	if p.Adopted {
		b = append(b, `,"adopted":true`...)
	}
	if p.Match != nil {
		b = append(b, `,"match":`...)
		b = append(b, mustJSON(p.Match)...)
	}
	if len(p.Changes) > 0 {
		b = append(b, `,"changes":[`...)
		for i, c := range p.Changes {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"field":`...)
			b = model.AppendJSONString(b, c.Field)
			b = append(b, `,"from":`...)
			b = c.From.AppendJSON(b)
			b = append(b, `,"to":`...)
			b = c.To.AppendJSON(b)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// responseJSON is the target's answer as the event keeps it, written by hand
// on the hot path (TestResponseJSON pins it to encoding/json).
func responseJSON(r response) []byte {
	if r == (response{}) {
		return nil
	}
	b := make([]byte, 0, 16+len(r.ID)+len(r.Version)+len(r.Error))
	b = append(b, '{')
	for _, f := range [...]struct{ key, val string }{{"id", r.ID}, {"version", r.Version}, {"error", r.Error}} {
		if f.val == "" {
			continue
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = model.AppendJSONString(b, f.key)
		b = append(b, ':')
		b = model.AppendJSONString(b, f.val)
	}
	return append(b, '}')
}

// failed tells the Observer of a batch that failed as a whole, unless it
// failed because the process is stopping; it returns err.
func (e *Engine) failed(l *Leg, records int, err error) error {
	if e.obs != nil && !errors.Is(err, context.Canceled) {
		e.obs.BatchFailed(BatchFailure{Leg: l.Name, Flow: l.Flow, Source: l.Source, Target: l.Target, At: e.now(), Records: records, Err: err})
	}
	return err
}

// pieceReport is what the Observer is told of a recorded piece.
func pieceReport(l *Leg, bp *BatchPlan, outs []Outcome, at time.Time, took, wait time.Duration) PieceReport {
	r := PieceReport{Leg: l.Name, Flow: l.Flow, Source: l.Source, Target: l.Target, At: at, Took: took, Write: bp.writeTook,
		QueueWait: wait, Outcomes: map[store.Outcome]int{}}
	applied := map[string]bool{}
	for _, o := range outs {
		r.Outcomes[o.Outcome]++
		switch o.Outcome {
		case store.OutcomeCreated, store.OutcomeUpdated, store.OutcomeUnchanged:
			applied[o.SourceID] = true
		case store.OutcomeFailed, store.OutcomeDead, store.OutcomeQuarantined, store.OutcomeRetrying, store.OutcomeReview:
			r.Failures = append(r.Failures, o)
		}
	}
	for _, p := range bp.Records {
		if applied[p.Source.ID] && !p.Source.UpdatedAt.IsZero() && (r.Oldest.IsZero() || p.Source.UpdatedAt.Before(r.Oldest)) {
			r.Oldest = p.Source.UpdatedAt
		}
	}
	return r
}

// write sends ops to system, within the system's write slots when a gate
// bounds them (max_concurrency across the processes on the store).
func (e *Engine) write(ctx context.Context, system string, entity model.Entity, ops []connector.Op) ([]connector.Result, error) {
	if e.gate != nil {
		leave, err := e.gate.Enter(ctx, system)
		if err != nil {
			return nil, fmt.Errorf("wait for a write slot of %s: %w", system, err)
		}
		defer leave()
	}
	return e.conns[system].Write(ctx, entity, ops)
}

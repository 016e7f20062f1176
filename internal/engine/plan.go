package engine

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"

	"github.com/concord-sync/concord/internal/clean"
	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/match"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
)

// Action is what the plan decided for one record.
type Action string

// The actions of a record plan.
const (
	ActionCreate     Action = "create"
	ActionUpdate     Action = "update"
	ActionNone       Action = "none"        // the target already holds the values
	ActionSkip       Action = "skip"        // an echo or a version already applied: nothing to do, not logged
	ActionStale      Action = "stale"       // older than the change last applied
	ActionQuarantine Action = "quarantine"  // failed cleaning or validation
	ActionFail       Action = "fail"        // cannot be handed over (target refused, target record gone)
	ActionWait       Action = "wait"        // needs a record that is not linked yet: parked until it is
	ActionReview     Action = "review"      // a likely match in the target waits for a person: nothing written
	ActionNotCreated Action = "not_created" // no link, and the leg never creates (update_only)
)

// Change is one field the plan writes.
type Change struct {
	Field string      `json:"field"`
	From  model.Value `json:"from"`
	To    model.Value `json:"to"`
}

// RecordPlan is the plan for one source record.
type RecordPlan struct {
	Leg    string       `json:"leg"`
	Source model.Record `json:"source"`
	Action Action       `json:"action"`
	// Raw is the record as read, before cleaning and translation: the event
	// snapshot from which a replay starts again.
	Raw model.Record `json:"-"`
	// ConcordID is the record's stable id across systems.
	ConcordID string `json:"concord_id,omitempty"`
	// TargetID is the paired record in the target, empty for creates.
	TargetID      string `json:"target_id,omitempty"`
	TargetVersion string `json:"-"`
	// Adopted is true when the target record was found by its link key, not by a
	// stored link (a create that crashed before it was recorded), or by matching.
	Adopted bool `json:"adopted,omitempty"`
	// Match is the target record matching found for a record with no link:
	// linked (Adopted) at or above the leg's auto_link score, or waiting for a
	// person (ActionReview).
	Match *match.Candidate `json:"match,omitempty"`
	// reviewPending is set on an ActionReview whose review is already stored.
	reviewPending bool
	// matchTarget is the target record of a new review, for the review row.
	matchTarget model.Record
	// adoptedCreate is set when the adopted record is one an earlier attempt of
	// this leg created (found by the source id in the target's link field): the
	// change is recorded as created.
	adoptedCreate bool
	// await names the record this one waits for (ActionWait).
	await *await
	// echo is set on a record skipped because only Concord's status write
	// changed it: its wait, quarantine or dead letter stands.
	echo    bool
	Changes []Change `json:"changes,omitempty"`
	// Field and Reason explain quarantine and failure.
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Retryable failures are retried; others go to the dead letters at once.
	Retryable bool `json:"-"`

	// values are the cleaned, translated values of the changed fields.
	values model.Fields
	hash   string
	// newSourceLink is set when the source record had no concord id yet.
	newSourceLink bool
}

// Writes returns the fields and values the plan would write.
func (p *RecordPlan) Writes() model.Fields { return p.values }

// BatchPlan is the plan of a batch.
type BatchPlan struct {
	Batch   Batch
	Leg     *Leg
	Records []*RecordPlan
	// Pulls are referenced records to bring across first, per leg: queued with
	// the batch's outcome, while the records that reference them wait.
	Pulls map[string][]string
	// writeTook is how long the target's write call took (for the Observer).
	writeTook time.Duration
}

// await is what a waiting record needs: the record ID of Entity in System,
// linked to a record of InEntity in In.
type await struct {
	System   string
	Entity   model.Entity
	ID       string
	In       string
	InEntity model.Entity
}

// Plan reads the store and the target and decides, for each record of the batch,
// what to write. It writes nothing, except removing the webhook announcement
// marks of the records it reads (see EnqueueAnnounced).
func (e *Engine) Plan(ctx context.Context, b Batch) (*BatchPlan, error) {
	l, ok := e.legs[b.Leg]
	if !ok {
		return nil, fmt.Errorf("plan: unknown leg %q", b.Leg)
	}
	b, _, err := e.materialize(ctx, l, b)
	if err != nil {
		return nil, err
	}
	return e.planRecords(ctx, l, b)
}

// materialize reads the records a batch names by id (announced by webhook,
// pulled, woken, retried), applies the batch's field overrides and drops
// repeated versions: the batch that comes out holds records only. gone are the
// ids the source no longer has.
func (e *Engine) materialize(ctx context.Context, l *Leg, b Batch) (Batch, []string, error) {
	var gone []string
	if len(b.Fetch) > 0 {
		// A later announcement of these records must queue a new batch.
		if err := e.startAnnounced(ctx, l.Name, b.Fetch); err != nil {
			return b, nil, fmt.Errorf("plan %s: %w", l.Name, err)
		}
		rctx, span := e.span(ctx, SpanRead, l, func() []attribute.KeyValue {
			return []attribute.KeyValue{AttrSource.String(l.Source), AttrEntity.String(string(l.Entity)), AttrRecords.Int(len(b.Fetch))}
		})
		fetched, err := e.conns[l.Source].Get(rctx, l.Entity, b.Fetch)
		if err != nil {
			err = fmt.Errorf("plan %s: get %d records from %s: %w", l.Name, len(b.Fetch), l.Source, err)
			endSpan(span, err)
			return b, nil, err
		}
		endSpan(span, nil)
		extra := make([]model.Record, 0, len(fetched))
		for _, id := range b.Fetch {
			if r, ok := fetched[id]; ok {
				extra = append(extra, r)
			} else {
				gone = append(gone, id)
			}
		}
		if !b.passesTrigger() {
			if extra, err = e.selectTriggered(ctx, l, extra); err != nil {
				return b, nil, fmt.Errorf("plan %s: %w", l.Name, err)
			}
		}
		b.Records = append(b.Records[:len(b.Records):len(b.Records)], extra...)
		b.Fetch = nil
	}
	if len(b.Set) > 0 {
		recs := make([]model.Record, len(b.Records))
		for i, r := range b.Records {
			if set, ok := b.Set[r.ID]; ok {
				r = r.Clone()
				for f, v := range set {
					r.Fields[f] = v
				}
			}
			recs[i] = r
		}
		b.Records, b.Set = recs, nil
	}
	b.Records = dedupe(b.Records)
	return b, gone, nil
}

// planRecords plans a batch that holds records only (see materialize).
func (e *Engine) planRecords(ctx context.Context, l *Leg, b Batch) (*BatchPlan, error) {
	recs := b.Records
	bp := &BatchPlan{Batch: b, Leg: l, Records: make([]*RecordPlan, len(recs))}
	ids := make([]string, len(recs))
	for i, r := range recs {
		bp.Records[i] = &RecordPlan{Leg: l.Name, Source: r, Raw: r}
		ids[i] = r.ID
	}
	if err := e.planVersions(ctx, bp, ids); err != nil {
		return nil, err
	}
	for _, p := range bp.Records {
		if p.Action == "" {
			l.clean(p)
		}
	}
	if err := e.planLinks(ctx, bp); err != nil {
		return nil, err
	}
	keepLinked(bp) // a resync never creates
	if err := e.translateRefs(ctx, bp); err != nil {
		return nil, err
	}
	e.checkWritable(bp)
	if err := e.planDiff(ctx, bp); err != nil {
		return nil, err
	}
	return bp, nil
}

// planVersions drops versions already applied (overlap re-reads, echoes of our
// own writes) and refuses changes older than the last one applied.
func (e *Engine) planVersions(ctx context.Context, bp *BatchPlan, ids []string) error {
	l := bp.Leg
	fps, err := e.store.GetFingerprints(ctx, &store.GetFingerprintsParams{Flow: l.Name, System: l.Source, Entity: l.Entity, ExternalIDs: ids})
	if err != nil {
		return fmt.Errorf("plan %s: fingerprints: %w", l.Name, err)
	}
	// A record Concord wrote a status onto after it failed, waited or was
	// quarantined is read again because of that write: with the moved values
	// unchanged there is nothing new to try (its retry, wake or dead letter
	// stands). Only a plain read is checked; retries, wakes and replays go on.
	var echoes map[string]store.Fingerprint
	if l.StatusField != "" && bp.Batch.isRead() {
		echoes, err = e.store.GetFingerprints(ctx, &store.GetFingerprintsParams{Flow: statusFlow(l), System: l.Source, Entity: l.Entity, ExternalIDs: ids})
		if err != nil {
			return fmt.Errorf("plan %s: status fingerprints: %w", l.Name, err)
		}
	}
	for _, p := range bp.Records {
		p.hash = p.Source.Fields.Fingerprint(l.Fields)
		fp, seen := fps[p.Source.ID]
		if echo, ok := echoes[p.Source.ID]; ok && echo.Hash == p.hash && (!seen || fp.UpdatedAt.Before(echo.UpdatedAt)) {
			p.Action, p.echo = ActionSkip, true
			continue
		}
		if !seen {
			continue
		}
		switch {
		case p.Source.UpdatedAt.Before(fp.UpdatedAt):
			p.Action, p.Reason = ActionStale, fmt.Sprintf("change of %s is older than the one applied (%s)", p.Source.UpdatedAt.Format("2006-01-02T15:04:05.000Z07:00"), fp.UpdatedAt.Format("2006-01-02T15:04:05.000Z07:00"))
		case fp.Hash == p.hash && !bp.Batch.Force:
			p.Action = ActionSkip
		}
	}
	return nil
}

// statusFlow is the key under which a leg remembers the records it wrote a
// status onto (see planVersions).
func statusFlow(l *Leg) string { return l.Name + "#status" }

// clean normalises and validates the fields the leg moves; a failure quarantines
// the record with the field and the reason.
func (l *Leg) clean(p *RecordPlan) {
	rec, cloned := p.Source, false
	opt := clean.Options{Country: l.DefaultCountry}
	if c := rec.Fields["country"]; c.Kind == model.KindText && c.Str != "" {
		if code, err := clean.Country(c.Str); err == nil {
			opt.Country = code
		}
	}
	for _, f := range l.Fields {
		v := rec.Fields[f]
		if rules := l.Clean[f]; len(rules) > 0 {
			cv, err := clean.ApplyWith(rules, v, opt)
			if err != nil {
				p.Action, p.Field, p.Reason = ActionQuarantine, f, err.Error()
				return
			}
			if cv.Str != v.Str || cv.Kind != v.Kind {
				if !cloned {
					// Copy on the first change: Raw shares the original fields.
					rec, cloned = rec.Clone(), true
				}
				rec.Fields[f] = cv
			}
			v = cv
		}
		if l.Required[f] && v.IsNull() {
			p.Action, p.Field, p.Reason = ActionQuarantine, f, "required field is blank"
			return
		}
		if err := l.Defs[f].Check(v); err != nil {
			p.Action, p.Field, p.Reason = ActionQuarantine, f, err.Error()
			return
		}
	}
	p.Source = rec
}

// planLinks finds the concord id and target id of every record still in play:
// through stored links first, then through the link key the target holds (the
// source id written there on create), then through the link key the source
// holds (the target id written there by the other direction). Records found in
// neither are created.
func (e *Engine) planLinks(ctx context.Context, bp *BatchPlan) error {
	l := bp.Leg
	live := bp.live()
	if len(live) == 0 {
		return nil
	}
	if l.LinkBy != "" {
		return e.planLinksBy(ctx, bp, live)
	}
	ids := make([]string, len(live))
	for i, p := range live {
		ids[i] = p.Source.ID
	}
	srcLinks, err := e.store.GetLinks(ctx, &store.GetLinksParams{System: l.Source, Entity: l.Entity, ExternalIDs: ids})
	if err != nil {
		return fmt.Errorf("plan %s: source links: %w", l.Name, err)
	}
	var cids []string
	for _, p := range live {
		if lk, ok := srcLinks[p.Source.ID]; ok {
			p.ConcordID = lk.ConcordID
			cids = append(cids, lk.ConcordID)
		}
	}
	tgtLinks, err := e.store.GetLinksByConcordID(ctx, &store.GetLinksByConcordIDParams{System: l.Target, Entity: l.targetEntity(), ConcordIDs: cids})
	if err != nil {
		return fmt.Errorf("plan %s: target links: %w", l.Name, err)
	}
	var unlinked []string
	upserts := e.createsUpsert(l)
	for _, p := range live {
		if lk, ok := tgtLinks[p.ConcordID]; ok && p.ConcordID != "" {
			p.TargetID = lk.ExternalID
			continue
		}
		if upserts && p.Source.LinkKey == "" {
			// Found or not, the record is created by an upsert on its link
			// key, which updates the record an earlier attempt made.
			continue
		}
		unlinked = append(unlinked, p.Source.ID)
	}
	var found map[string]model.Record
	if len(unlinked) > 0 {
		found, err = e.conns[l.Target].Lookup(ctx, l.targetEntity(), unlinked)
		if err != nil {
			return fmt.Errorf("plan %s: look up %d records in %s by link key: %w", l.Name, len(unlinked), l.Target, err)
		}
	}
	var unmatched []*RecordPlan
	for _, p := range live {
		if p.TargetID != "" {
			continue
		}
		if rec, ok := found[p.Source.ID]; ok {
			p.TargetID, p.Adopted, p.adoptedCreate = rec.ID, true, true
		} else if p.Source.LinkKey != "" {
			p.TargetID, p.Adopted = p.Source.LinkKey, true
		}
		if p.ConcordID == "" {
			p.ConcordID, p.newSourceLink = newConcordID(), true
		}
		if p.TargetID == "" {
			unmatched = append(unmatched, p)
		}
	}
	// No stored link and no link key: what the leg does with a record the
	// target has never seen.
	switch l.Unlinked {
	case UnlinkedUpdateOnly:
		for _, p := range unmatched {
			p.Action, p.Reason = ActionNotCreated, notCreatedReason(l)
		}
	case UnlinkedMatch:
		if err := e.planMatch(ctx, bp, unmatched); err != nil {
			return err
		}
	}
	return e.checkAdopted(ctx, bp)
}

// createsUpsert reports whether the leg may create its unlinked records
// without looking them up by link key first: only when the lookup's answer
// could not change what happens. That holds when the leg creates every record
// it cannot link (`unlinked: create`: update_only and match decide by the
// answer), no other flow pairs these entities between these systems (so a
// target record holding a source id as its link key was made by this leg and
// is linked, if at all, to that source record: the reverse leg of a two-way
// flow adopts by that same link key), and the target's creates of the entity are
// upserts by the link key (connector.CreateUpserter), so a record an earlier
// attempt made is updated, not duplicated. A record the upsert finds anyway
// is checked after the write (Engine.execute), as checkAdopted does.
func (e *Engine) createsUpsert(l *Leg) bool {
	if (l.Unlinked != "" && l.Unlinked != UnlinkedCreate) || l.sharedByFlows || l.LinkBy != "" {
		return false
	}
	u, ok := e.conns[l.Target].(connector.CreateUpserter)
	return ok && u.CreatesUpsert(l.targetEntity())
}

// checkAdopted looks at target records found by link key that are already linked
// to a concord id. When that concord id has no other record in the source (another
// flow between the same systems paired these two records a moment ago), the record
// joins that pairing. When it pairs the target with a different source record,
// adopting would make two source records share one target record: refused.
func (e *Engine) checkAdopted(ctx context.Context, bp *BatchPlan) error {
	var adopted []*RecordPlan
	for _, p := range bp.live() {
		if p.Adopted {
			adopted = append(adopted, p)
		}
	}
	return e.checkTaken(ctx, bp.Leg, adopted, "")
}

// checkTaken is checkAdopted for the given adopted records; note ends the
// reason of a refusal.
func (e *Engine) checkTaken(ctx context.Context, l *Leg, adopted []*RecordPlan, note string) error {
	if len(adopted) == 0 {
		return nil
	}
	ids := make([]string, len(adopted))
	for i, p := range adopted {
		ids[i] = p.TargetID
	}
	taken, err := e.store.GetLinks(ctx, &store.GetLinksParams{System: l.Target, Entity: l.targetEntity(), ExternalIDs: ids})
	if err != nil {
		return fmt.Errorf("plan %s: adopted links: %w", l.Name, err)
	}
	var cids []string
	for _, lk := range taken {
		cids = append(cids, lk.ConcordID)
	}
	pairedSource, err := e.store.GetLinksByConcordID(ctx, &store.GetLinksByConcordIDParams{System: l.Source, Entity: l.Entity, ConcordIDs: cids})
	if err != nil {
		return fmt.Errorf("plan %s: adopted links: %w", l.Name, err)
	}
	for _, p := range adopted {
		lk, ok := taken[p.TargetID]
		if !ok || lk.ConcordID == p.ConcordID {
			continue
		}
		other, paired := pairedSource[lk.ConcordID]
		switch {
		case paired && other.ExternalID != p.Source.ID:
			p.Action, p.Retryable = ActionFail, false
			p.Reason = fmt.Sprintf("%s record %s is already paired with %s record %s; two %s records cannot share it, resolve the duplicate by hand%s", l.Target, p.TargetID, l.Source, other.ExternalID, l.Source, note)
		case p.newSourceLink:
			p.ConcordID = lk.ConcordID
		default:
			p.Action, p.Retryable = ActionFail, false
			p.Reason = fmt.Sprintf("%s record %s belongs to concord id %s, %s record %s to %s; resolve the duplicate by hand%s", l.Target, p.TargetID, lk.ConcordID, l.Source, p.Source.ID, p.ConcordID, note)
		}
	}
	return nil
}

// planLinksBy finds the target of each record through its LinkBy reference: the
// referenced record's counterpart in the target (of the target entity) is the
// record to update. A record whose reference has no counterpart yet waits and is
// is parked until it does; such legs never create.
func (e *Engine) planLinksBy(ctx context.Context, bp *BatchPlan, live []*RecordPlan) error {
	l := bp.Leg
	byEntity := map[model.Entity][]string{}
	for _, p := range live {
		v := p.Source.Fields[l.LinkBy]
		if v.Kind != model.KindRef || v.Str == "" {
			p.Action, p.Field, p.Reason = ActionFail, l.LinkBy, fmt.Sprintf("%s %s %s has no %s, so there is no %s record to update", l.Source, l.Entity, p.Source.ID, l.LinkBy, l.targetEntity())
			continue
		}
		byEntity[v.Entity] = append(byEntity[v.Entity], v.Str)
	}
	for ent, ids := range byEntity {
		src, err := e.store.GetLinks(ctx, &store.GetLinksParams{System: l.Source, Entity: ent, ExternalIDs: ids})
		if err != nil {
			return fmt.Errorf("plan %s: %s links: %w", l.Name, ent, err)
		}
		cids := make([]string, 0, len(src))
		for _, lk := range src {
			cids = append(cids, lk.ConcordID)
		}
		tgt, err := e.store.GetLinksByConcordID(ctx, &store.GetLinksByConcordIDParams{System: l.Target, Entity: l.targetEntity(), ConcordIDs: cids})
		if err != nil {
			return fmt.Errorf("plan %s: %s links: %w", l.Name, l.targetEntity(), err)
		}
		for _, p := range live {
			v := p.Source.Fields[l.LinkBy]
			if p.Action != "" || v.Entity != ent {
				continue
			}
			lk, ok := src[v.Str]
			if t, found := tgt[lk.ConcordID]; ok && found {
				p.ConcordID, p.TargetID = lk.ConcordID, t.ExternalID
				continue
			}
			p.Action, p.Field = ActionWait, l.LinkBy
			p.Reason = fmt.Sprintf("%s %s %s is not linked to a %s in %s yet", l.Source, ent, v.Str, l.targetEntity(), l.Target)
			p.await = &await{System: l.Source, Entity: ent, ID: v.Str, In: l.Target, InEntity: l.targetEntity()}
		}
	}
	return nil
}

func newConcordID() string { return uuid.Must(uuid.NewV7()).String() }

// translateRefs maps reference values (an account of a deal, the product of an
// order line) from source ids to target ids through links. A record with a
// reference to a record not linked in the target waits for it: the record it
// points to may be synced by another flow first, or is pulled across now.
func (e *Engine) translateRefs(ctx context.Context, bp *BatchPlan) error {
	l := bp.Leg
	want := map[model.Entity]map[string]bool{}
	visit := func(v model.Value) {
		if v.Kind == model.KindRef && v.Str != "" {
			if want[v.Entity] == nil {
				want[v.Entity] = map[string]bool{}
			}
			want[v.Entity][v.Str] = true
		}
	}
	live := bp.live()
	for _, p := range live {
		for _, f := range l.Fields {
			v := p.Source.Fields[f]
			visit(v)
			for _, line := range v.Lines {
				for _, lv := range line.Fields {
					visit(lv)
				}
			}
		}
	}
	if len(want) == 0 {
		return nil
	}
	mapped := map[model.Entity]map[string]string{}
	for ent, set := range want {
		m, err := e.linkedInTarget(ctx, l, ent, sortedKeys(set))
		if err != nil {
			return fmt.Errorf("plan %s: references: %w", l.Name, err)
		}
		mapped[ent] = m
	}
	for _, p := range live {
		rec := p.Source.Clone()
		var missing *RefError
		tr := func(field string, v model.Value) model.Value {
			if v.Kind != model.KindRef || v.Str == "" {
				return v
			}
			if t, ok := mapped[v.Entity][v.Str]; ok {
				return model.Ref(v.Entity, t)
			}
			if missing == nil {
				missing = &RefError{Field: field, Entity: v.Entity, ID: v.Str, System: l.Source, Target: l.Target}
			}
			return v
		}
		for _, f := range l.Fields {
			v := rec.Fields[f]
			if v.Kind == model.KindLines {
				lines := make([]model.Record, len(v.Lines))
				for i, line := range v.Lines {
					line = line.Clone()
					for lf, lv := range line.Fields {
						line.Fields[lf] = tr(f+"."+lf, lv)
					}
					lines[i] = line
				}
				rec.Fields[f] = model.Lines(lines)
				continue
			}
			rec.Fields[f] = tr(f, v)
		}
		if missing != nil {
			p.Action, p.Field, p.Reason = ActionWait, missing.Field, missing.Error()
			p.await = &await{System: l.Source, Entity: missing.Entity, ID: missing.ID, In: l.Target, InEntity: missing.Entity}
			if leg, ok := e.pullLeg(l, missing.Entity); ok {
				if why := e.lastRefusal(ctx, leg, missing.ID); why != "" {
					// Say what stops the referenced record, where the reader of this
					// record can see it. It is not pulled again: its own retry, or
					// a fix at its source, moves it, and that wakes this record.
					p.Reason = fmt.Sprintf("%s %s %s cannot reach %s: %s", l.Source, missing.Entity, missing.ID, l.Target, why)
					continue
				}
				if bp.Pulls == nil {
					bp.Pulls = map[string][]string{}
				}
				if !slices.Contains(bp.Pulls[leg], missing.ID) {
					bp.Pulls[leg] = append(bp.Pulls[leg], missing.ID)
				}
				p.Reason += "; pulling it through flow " + e.legs[leg].Flow
			}
			continue
		}
		p.Source = rec
	}
	return nil
}

// lastRefusal returns why the latest attempt to move a source record on a leg
// failed, or "" when it did not fail (or never ran).
func (e *Engine) lastRefusal(ctx context.Context, leg, sourceID string) string {
	evs, err := e.store.ListEvents(ctx, &store.ListEventsParams{Flow: leg, SourceID: sourceID, Limit: 1})
	if err != nil || len(evs) == 0 {
		return ""
	}
	switch evs[0].Outcome {
	case store.OutcomeFailed, store.OutcomeDead, store.OutcomeQuarantined, store.OutcomeRetrying:
		return evs[0].Error
	}
	return ""
}

// RefError is a reference to a record that has no counterpart in the target yet.
type RefError struct {
	Field, System, Target, ID string
	Entity                    model.Entity
}

// Error implements error.
func (e *RefError) Error() string {
	return fmt.Sprintf("%s %s %s is not linked to a record in %s yet; sync it first", e.System, e.Entity, e.ID, e.Target)
}

// planDiff reads the current target records and keeps only the fields that
// differ: no difference means no write.
func (e *Engine) planDiff(ctx context.Context, bp *BatchPlan) error {
	l := bp.Leg
	live := bp.live()
	var ids []string
	for _, p := range live {
		if p.TargetID != "" {
			ids = append(ids, p.TargetID)
		}
	}
	var current map[string]model.Record
	if len(ids) > 0 {
		var err error
		current, err = e.conns[l.Target].Get(ctx, l.targetEntity(), ids)
		if err != nil {
			return fmt.Errorf("plan %s: get %d records from %s: %w", l.Name, len(ids), l.Target, err)
		}
	}
	for _, p := range live {
		p.values = make(model.Fields, len(l.Fields))
		p.Changes = make([]Change, 0, len(l.Fields))
		if p.TargetID == "" {
			p.Action = ActionCreate
			for _, f := range l.Fields {
				if v := p.Source.Fields[f]; !v.IsNull() {
					t := l.targetField(f)
					p.Changes = append(p.Changes, Change{Field: t, To: v})
					p.values[t] = v
				}
			}
			continue
		}
		cur, ok := current[p.TargetID]
		if !ok {
			if p.Adopted && p.Source.LinkKey == p.TargetID {
				// The source's link key names a target record that is gone.
				p.Action, p.Reason = ActionFail, fmt.Sprintf("%s %s holds link key %s, but %s has no such record", l.Source, p.Source.ID, p.TargetID, l.Target)
				continue
			}
			p.Action, p.Reason = ActionFail, fmt.Sprintf("linked %s record %s no longer exists; restore it or remove the link", l.Target, p.TargetID)
			continue
		}
		p.TargetVersion = cur.Version
		if l.Conflict == ConflictNewestWins && cur.UpdatedAt.After(p.Source.UpdatedAt) {
			p.Action, p.Reason = ActionStale, fmt.Sprintf("%s record %s changed after this change (newest_wins)", l.Target, p.TargetID)
			continue
		}
		for _, f := range l.Fields {
			t := l.targetField(f)
			want, have := p.Source.Fields[f], cur.Fields[t]
			if want.Equal(have) {
				continue
			}
			if l.Conflict == ConflictOwnerUnlessBlank && want.IsNull() {
				continue
			}
			p.Changes = append(p.Changes, Change{Field: t, From: have, To: want})
			p.values[t] = want
		}
		if len(p.Changes) == 0 {
			p.Action = ActionNone
		} else {
			p.Action = ActionUpdate
		}
	}
	return nil
}

// live returns the records still to be decided.
func (bp *BatchPlan) live() []*RecordPlan {
	var out []*RecordPlan
	for _, p := range bp.Records {
		if p.Action == "" {
			out = append(out, p)
		}
	}
	return out
}

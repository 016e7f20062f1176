package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/concord-sync/concord/internal/store"
)

// A mapping change (a field added to a flow, a column renamed, a clean rule
// added) changes nothing for the records a leg synced before: their source did
// not change, so no poll reads them again. The leg's mapping fingerprint
// tells that the mapping changed since its linked records were last brought in
// line with it; PreviewLinked shows what the current mapping would write to
// them; a resync (StartResync, QueueResync, FinishResync) writes it, through
// the queue, as forced batches of the linked source ids.

// mappingDescription is what decides the values the leg writes, one entry per
// aspect: the entities, the fields with their target names, each field's
// type, clean rules and requirement, the conflict rule, and the systems'
// settings for the entities (Leg.Mapping).
func (l *Leg) mappingDescription() map[string]string {
	d := map[string]string{"entity": string(l.Entity) + " -> " + string(l.targetEntity())}
	names := make([]string, 0, len(l.Fields))
	for _, f := range slices.Sorted(slices.Values(l.Fields)) {
		n := f
		if t := l.targetField(f); t != f {
			n += " -> " + t
		}
		names = append(names, n)
		def := l.Defs[f]
		desc := string(def.Type)
		if def.Ref != "" {
			desc += " of " + string(def.Ref)
		}
		if len(def.Values) > 0 {
			desc += " (" + strings.Join(def.Values, "|") + ")"
		}
		if rules := l.Clean[f]; len(rules) > 0 {
			desc += "; clean " + strings.Join(rules, ",")
		}
		if l.Required[f] {
			desc += "; required"
		}
		d["field "+f] = desc
	}
	d["fields"] = strings.Join(names, ", ")
	if l.Conflict != "" {
		d["conflict"] = l.Conflict
	}
	if l.LinkBy != "" {
		d["link_by"] = l.LinkBy
	}
	if l.AllowReturns {
		d["allow_returns"] = "true"
	}
	if l.DefaultCountry != "" {
		d["default_country"] = l.DefaultCountry // how local phone numbers are read
	}
	for sys, m := range l.Mapping {
		d["settings of "+sys] = m
	}
	return d
}

// Mapping returns the leg's current mapping: its fingerprint and description.
func (e *Engine) Mapping(leg string) (store.LegMapping, error) {
	l, ok := e.legs[leg]
	if !ok {
		return store.LegMapping{}, fmt.Errorf("mapping: unknown leg %q", leg)
	}
	return legMapping(l), nil
}

func legMapping(l *Leg) store.LegMapping {
	desc := mustJSON(l.mappingDescription()) // encoding/json sorts the keys
	sum := sha256.Sum256(desc)
	return store.LegMapping{Leg: l.Name, Fingerprint: hex.EncodeToString(sum[:8]), Description: string(desc)}
}

// MappingStatus says whether a leg's mapping changed since its linked records
// were last brought in line with it.
type MappingStatus struct {
	Leg string `json:"leg"`
	// Known is false when no mapping was remembered yet (the leg never
	// synced): nothing can have changed.
	Known   bool `json:"known"`
	Changed bool `json:"changed"`
	// What names what changed ("fields added: zip", "settings of erp").
	What []string `json:"what,omitempty"`
	// Since is when the remembered mapping was brought in.
	Since time.Time `json:"since,omitzero"`
}

// MappingStatus compares the leg's current mapping with the one its linked
// records were last brought in line with. It reads the store only.
func (e *Engine) MappingStatus(ctx context.Context, leg string) (MappingStatus, error) {
	l, ok := e.legs[leg]
	if !ok {
		return MappingStatus{}, fmt.Errorf("mapping: unknown leg %q", leg)
	}
	st := MappingStatus{Leg: leg}
	old, err := e.store.GetLegMapping(ctx, leg)
	if errors.Is(err, store.ErrNotFound) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("mapping of %s: %w", leg, err)
	}
	cur := legMapping(l)
	st.Known, st.Since = true, old.UpdatedAt
	if old.Fingerprint == cur.Fingerprint {
		return st, nil
	}
	st.Changed = true
	var was map[string]string
	if err := json.Unmarshal([]byte(old.Description), &was); err != nil {
		st.What = []string{"the remembered mapping cannot be read"}
		return st, nil //nolint:nilerr // the change is what matters; its detail is lost
	}
	st.What = mappingDiff(was, l.mappingDescription())
	return st, nil
}

// mappingDiff names what differs between two mapping descriptions.
func mappingDiff(was, now map[string]string) []string {
	fieldsOf := func(d map[string]string) []string {
		var out []string
		for k := range d {
			if f, ok := strings.CutPrefix(k, "field "); ok {
				out = append(out, f)
			}
		}
		sort.Strings(out)
		return out
	}
	oldF, newF := fieldsOf(was), fieldsOf(now)
	var added, removed, out []string
	for _, f := range newF {
		if !slices.Contains(oldF, f) {
			added = append(added, f)
		}
	}
	for _, f := range oldF {
		if !slices.Contains(newF, f) {
			removed = append(removed, f)
		}
	}
	if len(added) > 0 {
		out = append(out, "fields added: "+strings.Join(added, ", "))
	}
	if len(removed) > 0 {
		out = append(out, "fields removed: "+strings.Join(removed, ", "))
	}
	keys := map[string]bool{}
	for k := range was {
		keys[k] = true
	}
	for k := range now {
		keys[k] = true
	}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range keys {
			if !yield(k) {
				return
			}
		}
	}) {
		if was[k] == now[k] || k == "fields" && len(added)+len(removed) > 0 {
			continue
		}
		if f, ok := strings.CutPrefix(k, "field "); ok {
			if slices.Contains(added, f) || slices.Contains(removed, f) {
				continue
			}
			out = append(out, "field "+f+": "+was[k]+" -> "+now[k])
			continue
		}
		if k == "fields" {
			out = append(out, "fields: "+was[k]+" -> "+now[k])
			continue
		}
		out = append(out, k+" changed")
	}
	return out
}

// RememberMapping records the leg's current mapping as the one its linked
// records are in line with; with ifUnknown, only when none is recorded yet (a
// leg's first sync).
func (e *Engine) RememberMapping(ctx context.Context, leg string, ifUnknown bool) error {
	l, ok := e.legs[leg]
	if !ok {
		return fmt.Errorf("mapping: unknown leg %q", leg)
	}
	if ifUnknown {
		_, err := e.store.GetLegMapping(ctx, leg)
		if err == nil {
			return nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("mapping of %s: %w", leg, err)
		}
	}
	m := legMapping(l)
	m.UpdatedAt = e.now().UTC()
	if err := e.store.PutLegMapping(ctx, &m); err != nil {
		return fmt.Errorf("mapping of %s: %w", leg, err)
	}
	return nil
}

// keepLinked is the plan step of a resync: a record without a counterpart in
// the target is left alone (a resync never creates), and so is one found by
// its link key only.
func keepLinked(bp *BatchPlan) {
	if !bp.Batch.Resync {
		return
	}
	for _, p := range bp.live() {
		if p.TargetID == "" || p.Adopted {
			// Skipped like an echo: its wait, quarantine or dead letter stands.
			p.Action, p.echo, p.Reason = ActionSkip, true, "not linked in "+bp.Leg.Target+"; a resync never creates"
		}
	}
}

// resyncEvents is the hook of record for resyncs, like sweepEvents: for a
// piece of a resync it drops the events of the records found unchanged and
// returns the piece's counts for the leg's resync. For any other batch events
// and evIdx come back as they are and counts is nil.
func resyncEvents(bp *BatchPlan, outs []Outcome, events []store.Event, evIdx []int, at time.Time) ([]store.Event, []int, *store.ResyncCounts) {
	if !bp.Batch.Resync {
		return events, evIdx, nil
	}
	c := &store.ResyncCounts{Leg: bp.Leg.Name, Compared: len(bp.Records), At: at}
	for _, o := range outs {
		if o.Outcome == store.OutcomeCreated || o.Outcome == store.OutcomeUpdated {
			c.Changed++
		}
	}
	keptEv, keptIdx := events[:0:0], evIdx[:0:0]
	for k, i := range evIdx {
		if outs[i].Outcome == store.OutcomeUnchanged {
			continue
		}
		keptEv, keptIdx = append(keptEv, events[k]), append(keptIdx, i)
	}
	return keptEv, keptIdx, c
}

// checkResyncable refuses legs whose records are not linked themselves.
func checkResyncable(l *Leg) error {
	if l.LinkBy != "" {
		return fmt.Errorf("flow %s updates the %s its link_by field %s points at; its own records are not linked, so there is nothing to resync", l.Flow, l.targetEntity(), l.LinkBy)
	}
	return nil
}

// LinkedPreview is what the current mapping would write to a leg's linked
// records: the comparison a resync (or a schedule flow's next sweep) makes.
type LinkedPreview struct {
	Leg  string `json:"leg"`
	Flow string `json:"flow"`
	// Linked is the number of linked records compared.
	Linked int `json:"linked"`
	// Change is the number that would be written; Fields counts them per
	// target field.
	Change int            `json:"change"`
	Fields map[string]int `json:"fields"`
	// Other counts the records with another outcome (stale, quarantine,
	// fail, wait); Gone the linked records no longer in the source.
	Other map[Action]int `json:"other,omitempty"`
	Gone  int            `json:"gone,omitempty"`
	// Records are the records that would change or cannot be sent, up to the
	// limit, in source id order.
	Records []*RecordPlan `json:"records"`
}

// FieldSummary is "phone 61, zip 12": the changed fields by count, then name.
func (p *LinkedPreview) FieldSummary() string {
	names := make([]string, 0, len(p.Fields))
	for f := range p.Fields {
		names = append(names, f)
	}
	sort.Slice(names, func(i, j int) bool {
		if p.Fields[names[i]] != p.Fields[names[j]] {
			return p.Fields[names[i]] > p.Fields[names[j]]
		}
		return names[i] < names[j]
	})
	parts := make([]string, len(names))
	for i, f := range names {
		parts[i] = f + " " + strconv.Itoa(p.Fields[f])
	}
	return strings.Join(parts, ", ")
}

// PreviewLinked compares every linked record of a leg with what the current
// mapping would write to its counterpart, through the engine's own planning
// (forced, as a resync plans): the source records are read by id in pages of
// the batch size. It writes nothing anywhere. Details are kept for up to limit
// records; the counts cover all of them.
func (e *Engine) PreviewLinked(ctx context.Context, leg string, limit int) (*LinkedPreview, error) {
	l, ok := e.legs[leg]
	if !ok {
		return nil, fmt.Errorf("preview: unknown leg %q", leg)
	}
	out := &LinkedPreview{Leg: l.Name, Flow: l.Flow, Fields: map[string]int{}, Records: []*RecordPlan{}}
	if checkResyncable(l) != nil {
		return out, nil
	}
	params := store.ListLinkedParams{System: l.Source, Entity: l.Entity, TargetSystem: l.Target, TargetEntity: l.targetEntity(), Limit: e.batch}
	for {
		ids, err := e.store.ListLinked(ctx, &params)
		if err != nil {
			return nil, fmt.Errorf("preview %s: %w", l.Name, err)
		}
		if len(ids) == 0 {
			return out, nil
		}
		params.After = ids[len(ids)-1]
		recs, err := e.conns[l.Source].Get(ctx, l.Entity, ids)
		if err != nil {
			return nil, fmt.Errorf("preview %s: get %d records from %s: %w", l.Name, len(ids), l.Source, err)
		}
		b := Batch{Leg: l.Name, Attempt: 1, Force: true, Resync: true}
		for _, id := range ids {
			if r, ok := recs[id]; ok {
				b.Records = append(b.Records, r)
			} else {
				out.Gone++
			}
		}
		if len(b.Records) == 0 {
			continue
		}
		bp, err := e.planRecords(ctx, l, b)
		if err != nil {
			return nil, fmt.Errorf("preview %s: %w", l.Name, err)
		}
		for _, p := range bp.Records {
			out.Linked++
			switch p.Action {
			case ActionNone:
				continue
			case ActionUpdate, ActionCreate:
				out.Change++
				for _, c := range p.Changes {
					out.Fields[c.Field]++
				}
			default:
				if out.Other == nil {
					out.Other = map[Action]int{}
				}
				out.Other[p.Action]++
			}
			if len(out.Records) < limit {
				out.Records = append(out.Records, p)
			}
		}
	}
}

// StartResync begins a resync of a leg, or returns the one running when it
// applies the current mapping. A running resync of an older mapping starts
// over: its done part was written with the old mapping. It refuses legs whose
// records are not linked themselves (link_by).
func (e *Engine) StartResync(ctx context.Context, leg string) (store.Resync, error) {
	l, ok := e.legs[leg]
	if !ok {
		return store.Resync{}, fmt.Errorf("resync: unknown leg %q", leg)
	}
	if err := checkResyncable(l); err != nil {
		return store.Resync{}, err
	}
	fp := legMapping(l).Fingerprint
	r, err := e.store.GetResync(ctx, leg)
	switch {
	case err == nil && !r.Finished() && r.Mapping == fp:
		return r, nil
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return store.Resync{}, fmt.Errorf("resync %s: %w", leg, err)
	}
	total, err := e.store.CountLinked(ctx, &store.ListLinkedParams{System: l.Source, Entity: l.Entity, TargetSystem: l.Target, TargetEntity: l.targetEntity()})
	if err != nil {
		return store.Resync{}, fmt.Errorf("resync %s: %w", leg, err)
	}
	if err := e.store.StartResync(ctx, &store.Resync{Leg: leg, Mapping: fp, Total: total, StartedAt: e.now().UTC()}); err != nil {
		return store.Resync{}, fmt.Errorf("resync %s: %w", leg, err)
	}
	r, err = e.store.GetResync(ctx, leg)
	if err != nil {
		return store.Resync{}, fmt.Errorf("resync %s: %w", leg, err)
	}
	return r, nil
}

// Resync returns the leg's latest resync, or store.ErrNotFound.
func (e *Engine) Resync(ctx context.Context, leg string) (store.Resync, error) {
	return e.store.GetResync(ctx, leg)
}

// QueueResync queues the next page of the leg's linked records (the batch
// size) as a forced resync batch naming their ids, in one transaction with the
// resync's progress: a process killed between two pages queues the rest next
// time, never a page twice. It reports whether every linked record is queued.
func (e *Engine) QueueResync(ctx context.Context, leg string) (bool, error) {
	l, ok := e.legs[leg]
	if !ok {
		return false, fmt.Errorf("resync: unknown leg %q", leg)
	}
	all := false
	err := e.store.InTx(ctx, func(tx store.Tx) error {
		r, err := tx.GetResync(ctx, leg)
		if err != nil {
			return err
		}
		if r.Finished() || r.QueuedAll {
			all = true
			return nil
		}
		ids, err := tx.ListLinked(ctx, &store.ListLinkedParams{System: l.Source, Entity: l.Entity, TargetSystem: l.Target, TargetEntity: l.targetEntity(), After: r.After, Limit: e.batch})
		if err != nil {
			return err
		}
		adv := &store.AdvanceResyncParams{Leg: leg, After: r.After, QueuedAll: len(ids) < e.batch, At: e.now().UTC()}
		if len(ids) > 0 {
			b := Batch{Leg: leg, Fetch: ids, Attempt: 1, Force: true, Resync: true}
			if err := e.queue.EnqueueTx(ctx, tx, []Batch{b}, time.Time{}); err != nil {
				return fmt.Errorf("enqueue: %w", err)
			}
			adv.After, adv.Queued = ids[len(ids)-1], len(ids)
		}
		all = adv.QueuedAll
		return tx.AdvanceResync(ctx, adv)
	})
	if err != nil {
		return false, fmt.Errorf("resync %s: %w", leg, err)
	}
	return all, nil
}

// FinishResync ends the leg's resync once every linked record is queued and
// the caller saw the queue drain: in one transaction it is marked finished and
// the mapping it applied is remembered as the leg's. It reports whether it
// finished; a resync still queueing, or of a mapping that is no longer the
// current one, is left running.
func (e *Engine) FinishResync(ctx context.Context, leg string) (bool, error) {
	l, ok := e.legs[leg]
	if !ok {
		return false, fmt.Errorf("resync: unknown leg %q", leg)
	}
	m := legMapping(l)
	m.UpdatedAt = e.now().UTC()
	done := false
	err := e.store.InTx(ctx, func(tx store.Tx) error {
		r, err := tx.GetResync(ctx, leg)
		if err != nil {
			return err
		}
		if r.Finished() || !r.QueuedAll || r.Mapping != m.Fingerprint {
			return nil
		}
		if err := tx.FinishResync(ctx, leg, m.UpdatedAt); err != nil {
			return err
		}
		done = true
		return tx.PutLegMapping(ctx, &m)
	})
	if err != nil {
		return false, fmt.Errorf("resync %s: %w", leg, err)
	}
	return done, nil
}

// RunningResyncs returns the legs among legs whose latest resync is not
// finished (a run that was stopped or killed): a sync goes on with them.
func (e *Engine) RunningResyncs(ctx context.Context, legs []string) ([]string, error) {
	var out []string
	for _, leg := range legs {
		r, err := e.store.GetResync(ctx, leg)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("resync %s: %w", leg, err)
		}
		if !r.Finished() {
			out = append(out, leg)
		}
	}
	return out, nil
}

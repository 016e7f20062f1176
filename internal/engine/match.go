package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/match"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
)

// matcher holds one leg's index of the target's records, for matching the
// records the leg has no link for. It is built on first use by reading the
// target entity in full, and brought up to date before every use by reading
// the target's changes since its own cursor.
type matcher struct {
	mu     sync.Mutex
	ix     *match.Index
	cursor string
	built  bool
}

// matcherFor returns the leg's matcher, creating it empty.
func (e *Engine) matcherFor(l *Leg) *matcher {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.matchers == nil {
		e.matchers = map[string]*matcher{}
	}
	m, ok := e.matchers[l.Name]
	if !ok {
		m = &matcher{ix: match.NewIndex(l.Match)}
		e.matchers[l.Name] = m
	}
	return m
}

// refresh reads the target's records of the leg's target entity changed since
// the matcher's cursor (all of them the first time) into its index. Callers
// hold m.mu.
func (e *Engine) refresh(ctx context.Context, l *Leg, m *matcher) error {
	for {
		res, err := e.conns[l.Target].Read(ctx, connector.ReadRequest{Entity: l.targetEntity(), Cursor: m.cursor, Limit: e.batch})
		if err != nil {
			return fmt.Errorf("read %s %s for matching: %w", l.Target, l.targetEntity(), err)
		}
		for _, r := range res.Records {
			if r.Archived {
				m.ix.Remove(r.ID)
				continue
			}
			m.ix.Add(matchRecord(r))
		}
		done := res.Done || len(res.Records) == 0 || res.Next == m.cursor
		m.cursor = res.Next
		if done {
			break
		}
	}
	if !m.built {
		e.log.InfoContext(ctx, "match index built", FlowAttr(l.Name), "system", l.Target, "entity", l.targetEntity(), "records", m.ix.Len())
	}
	m.built = true
	return nil
}

// matchRecord is a record as the matcher sees it: its scalar fields as text.
func matchRecord(r model.Record) match.Record {
	out := match.Record{ID: r.ID, Fields: make(map[string]string, len(r.Fields))}
	for f, v := range r.Fields {
		if v.IsNull() || v.Kind == model.KindLines {
			continue
		}
		out.Fields[f] = v.String()
	}
	return out
}

// maxCandidates is how many candidates matching weighs per record and round.
const maxCandidates = 3

// planMatch looks, for each record with no link, for the same record in the
// target: the best candidate not linked to another record of the source and
// not rejected for this record decides. At or above the leg's auto_link score
// the record is linked to it (adopted: no create); at or above review it waits
// for a person (ActionReview, nothing written); below, it is created. A record
// with a pending review is not matched again.
func (e *Engine) planMatch(ctx context.Context, bp *BatchPlan, recs []*RecordPlan) error {
	if len(recs) == 0 {
		return nil
	}
	l := bp.Leg
	ids := make([]string, len(recs))
	for i, p := range recs {
		ids[i] = p.Source.ID
	}
	reviews, err := e.store.ListReviews(ctx, &store.ListReviewsParams{Flow: l.Name, System: l.Source, Entity: l.Entity, ExternalIDs: ids,
		States: []store.ReviewState{store.ReviewPending, store.ReviewRejected}})
	if err != nil {
		return fmt.Errorf("plan %s: reviews: %w", l.Name, err)
	}
	rejected := map[string]map[string]bool{}
	pending := map[string]store.Review{}
	for _, r := range reviews {
		if r.State == store.ReviewPending {
			pending[r.ExternalID] = r
			continue
		}
		if rejected[r.ExternalID] == nil {
			rejected[r.ExternalID] = map[string]bool{}
		}
		rejected[r.ExternalID][r.TargetID] = true
	}
	var todo []*RecordPlan
	for _, p := range recs {
		if r, ok := pending[p.Source.ID]; ok {
			c := reviewCandidate(r)
			p.Action, p.Match, p.reviewPending = ActionReview, &c, true
			p.Reason = reviewReason(l, r.ID, c)
			continue
		}
		todo = append(todo, p)
	}
	if len(todo) == 0 {
		return nil
	}

	m := e.matcherFor(l)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := e.refresh(ctx, l, m); err != nil {
		return fmt.Errorf("plan %s: %w", l.Name, err)
	}
	taken := map[string]bool{}   // target ids linked to another source record
	checked := map[string]bool{} // target ids whose links were looked at
	claimed := map[string]bool{} // target ids given to a record of this batch
	var reviewIDs []string
	for round := 0; len(todo) > 0 && round < 5; round++ {
		best := make(map[*RecordPlan][]match.Candidate, len(todo))
		var unknown []string
		for _, p := range todo {
			rej := rejected[p.Source.ID]
			cands := m.ix.Candidates(matchRecord(p.Source), maxCandidates, func(id string) bool { return rej[id] || taken[id] || claimed[id] })
			best[p] = cands
			for _, c := range cands {
				if !checked[c.ID] {
					checked[c.ID] = true
					unknown = append(unknown, c.ID)
				}
			}
		}
		if err := e.markTaken(ctx, l, unknown, taken); err != nil {
			return err
		}
		var again []*RecordPlan
		for _, p := range todo {
			var pick *match.Candidate
			blocked := false
			for _, c := range best[p] {
				if taken[c.ID] || claimed[c.ID] {
					blocked = true
					continue
				}
				pick = &c
				break
			}
			switch {
			case pick == nil && blocked && len(best[p]) == maxCandidates:
				again = append(again, p) // every candidate shown was taken: look further
				continue
			case pick == nil:
				continue // nothing like it in the target: created
			}
			switch l.Match.Decide(pick.Score) {
			case match.Link:
				p.TargetID, p.Adopted, p.Match = pick.ID, true, pick
				claimed[pick.ID] = true
			case match.Review:
				p.Action, p.Match = ActionReview, pick
				p.Reason = reviewReason(l, 0, *pick)
				claimed[pick.ID] = true
				reviewIDs = append(reviewIDs, pick.ID)
			}
		}
		todo = again
	}
	if len(reviewIDs) == 0 {
		return nil
	}
	// The target side of each new review, for the side-by-side view.
	targets, err := e.conns[l.Target].Get(ctx, l.targetEntity(), reviewIDs)
	if err != nil {
		return fmt.Errorf("plan %s: get %d review candidates from %s: %w", l.Name, len(reviewIDs), l.Target, err)
	}
	for _, p := range recs {
		if p.Action == ActionReview && !p.reviewPending {
			p.matchTarget = targets[p.Match.ID]
		}
	}
	return nil
}

// markTaken sets taken[id] for the target ids linked to a concord id that
// another record of the leg's source already holds: such a target record is
// paired and is never offered again.
func (e *Engine) markTaken(ctx context.Context, l *Leg, ids []string, taken map[string]bool) error {
	if len(ids) == 0 {
		return nil
	}
	tgt, err := e.store.GetLinks(ctx, &store.GetLinksParams{System: l.Target, Entity: l.targetEntity(), ExternalIDs: ids})
	if err != nil {
		return fmt.Errorf("plan %s: candidate links: %w", l.Name, err)
	}
	if len(tgt) == 0 {
		return nil
	}
	cids := make([]string, 0, len(tgt))
	for _, lk := range tgt {
		cids = append(cids, lk.ConcordID)
	}
	src, err := e.store.GetLinksByConcordID(ctx, &store.GetLinksByConcordIDParams{System: l.Source, Entity: l.Entity, ConcordIDs: cids})
	if err != nil {
		return fmt.Errorf("plan %s: candidate links: %w", l.Name, err)
	}
	for id, lk := range tgt {
		if _, paired := src[lk.ConcordID]; paired {
			taken[id] = true
		}
	}
	return nil
}

// matchedNote says why a candidate matched: "0.97 on vat" or "0.93 on name, city".
func matchedNote(c match.Candidate) string {
	if c.Key != "" {
		return fmt.Sprintf("%.2f on %s", c.Score, c.Key)
	}
	var fs []string
	for _, f := range c.Fields {
		if f.Score > 0 {
			fs = append(fs, f.Field)
		}
	}
	if len(fs) == 0 {
		return fmt.Sprintf("%.2f", c.Score)
	}
	return fmt.Sprintf("%.2f on %s", c.Score, strings.Join(fs, ", "))
}

// reviewReason is what a record waiting for review says.
func reviewReason(l *Leg, id int64, c match.Candidate) string {
	which := "concord match"
	if id > 0 {
		which = fmt.Sprintf("concord match accept %d or reject %d", id, id)
	}
	return fmt.Sprintf("possibly the same as %s %s %s (score %s, below auto_link %.2f): nothing written until a person decides (%s)",
		l.Target, l.targetEntity(), c.ID, matchedNote(c), l.Match.AutoLink, which)
}

// notCreatedReason is what a record the leg never creates says.
func notCreatedReason(l *Leg) string {
	key := "unlinked"
	if strings.HasSuffix(l.Name, ":reverse") {
		key = "reverse_unlinked"
	}
	return fmt.Sprintf("not created: no %s %s is linked to it, and flow %s only updates linked records in %s (%s: update_only)",
		l.Target, l.targetEntity(), l.Flow, l.Target, key)
}

func reviewCandidate(r store.Review) match.Candidate {
	c := match.Candidate{ID: r.TargetID, Score: r.Score, Key: r.Key}
	if len(r.Fields) > 0 {
		_ = json.Unmarshal(r.Fields, &c.Fields) // written by newReview; a bad row only loses its detail
	}
	return c
}

// newReview is the review row of a record planned ActionReview.
func newReview(l *Leg, p *RecordPlan, eventID int64, at time.Time) store.Review {
	fields := mustJSON(p.Match.Fields)
	var target []byte
	if p.matchTarget.ID != "" {
		target = mustJSON(p.matchTarget)
	}
	return store.Review{Flow: l.Name, System: l.Source, Entity: l.Entity, ExternalID: p.Source.ID,
		TargetSystem: l.Target, TargetEntity: l.targetEntity(), TargetID: p.Match.ID, Score: p.Match.Score, Key: p.Match.Key,
		Fields: fields, Snapshot: mustJSON(p.Raw), Target: target, EventID: eventID, CreatedAt: at}
}

// noteCreated adds the records a leg created to its match index, so that a
// later record of the same source that matches one of them finds it linked.
func (e *Engine) noteCreated(l *Leg, created []*RecordPlan) {
	if l.Unlinked != UnlinkedMatch || len(created) == 0 {
		return
	}
	m := e.matcherFor(l)
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.built {
		return // the first refresh reads them
	}
	for _, p := range created {
		r := match.Record{ID: p.TargetID, Fields: map[string]string{}}
		for f, v := range p.values {
			if !v.IsNull() && v.Kind != model.KindLines {
				r.Fields[f] = v.String()
			}
		}
		m.ix.Add(r)
	}
}

// ErrReviewDecided is returned for a review that is no longer pending.
var ErrReviewDecided = errors.New("review already decided")

// AcceptReviews links the pairs of the given pending reviews, inside one store
// transaction: the source record and the target record get one concord id
// (the one either already holds), the reviews are marked accepted, records
// waiting for the linked records are woken, and the source records are queued
// to be read again, so that their fields reach the target as an update. A
// review whose source record is linked to another target record meanwhile, or
// whose target record is paired with another source record, is refused with
// the reason; the others are accepted. It returns how many were accepted.
func (e *Engine) AcceptReviews(ctx context.Context, ids []int64) (int, error) {
	return e.decideReviews(ctx, ids, store.ReviewAccepted)
}

// RejectReviews marks the given pending reviews rejected (the pair is never
// offered again for that record) and queues their source records to be read
// again: each is created, or matched again without the rejected candidate. It
// returns how many were rejected.
func (e *Engine) RejectReviews(ctx context.Context, ids []int64) (int, error) {
	return e.decideReviews(ctx, ids, store.ReviewRejected)
}

func (e *Engine) decideReviews(ctx context.Context, ids []int64, state store.ReviewState) (int, error) {
	var problems []error
	n := 0
	err := e.store.InTx(ctx, func(tx store.Tx) error {
		byLeg := map[string][]string{}
		var links []store.Link
		var decided []int64
		for _, id := range ids {
			r, err := tx.GetReview(ctx, id)
			if errors.Is(err, store.ErrNotFound) {
				problems = append(problems, fmt.Errorf("no review %d", id))
				continue
			}
			if err != nil {
				return err
			}
			if r.State != store.ReviewPending {
				problems = append(problems, fmt.Errorf("review %d: %w (%s)", id, ErrReviewDecided, r.State))
				continue
			}
			l, ok := e.legs[r.Flow]
			if !ok {
				problems = append(problems, fmt.Errorf("review %d: flow %s is not in the config", id, r.Flow))
				continue
			}
			if state == store.ReviewAccepted {
				lk, err := e.pairLinks(ctx, tx, l, r)
				if err != nil {
					problems = append(problems, fmt.Errorf("review %d: %w", id, err))
					continue
				}
				links = append(links, lk...)
			}
			decided = append(decided, id)
			byLeg[l.Name] = append(byLeg[l.Name], r.ExternalID)
		}
		if len(decided) == 0 {
			return nil
		}
		if err := tx.PutLinks(ctx, &store.PutLinksParams{Links: links}); err != nil {
			return fmt.Errorf("put links: %w", err)
		}
		k, err := tx.DecideReviews(ctx, &store.DecideReviewsParams{IDs: decided, State: state, At: e.now().UTC()})
		if err != nil {
			return err
		}
		n = k
		if len(links) > 0 {
			if err := e.wakeLinked(ctx, tx, links); err != nil {
				return err
			}
		}
		var batches []Batch
		for _, leg := range sortedKeys(byLeg) {
			recs := byLeg[leg]
			for start := 0; start < len(recs); start += e.batch {
				batches = append(batches, Batch{Leg: leg, Fetch: recs[start:min(start+e.batch, len(recs))], Attempt: 1, Force: true, Live: true})
			}
		}
		return e.queue.EnqueueTx(ctx, tx, batches, time.Time{})
	})
	if err != nil {
		return 0, fmt.Errorf("%s reviews: %w", strings.TrimSuffix(string(state), "ed"), err)
	}
	return n, errors.Join(problems...)
}

// pairLinks returns the links that pair a review's records under one concord
// id, or why they cannot be paired.
func (e *Engine) pairLinks(ctx context.Context, tx store.Tx, l *Leg, r store.Review) ([]store.Link, error) {
	src, err := tx.GetLinks(ctx, &store.GetLinksParams{System: l.Source, Entity: l.Entity, ExternalIDs: []string{r.ExternalID}})
	if err != nil {
		return nil, err
	}
	tgt, err := tx.GetLinks(ctx, &store.GetLinksParams{System: l.Target, Entity: l.targetEntity(), ExternalIDs: []string{r.TargetID}})
	if err != nil {
		return nil, err
	}
	s, t := src[r.ExternalID].ConcordID, tgt[r.TargetID].ConcordID
	if s != "" && t != "" && s != t {
		return nil, fmt.Errorf("%s %s %s and %s %s %s belong to different concord ids (%s, %s); resolve it by hand", l.Source, l.Entity, r.ExternalID, l.Target, l.targetEntity(), r.TargetID, s, t)
	}
	if s != "" && s != t {
		other, err := tx.GetLinksByConcordID(ctx, &store.GetLinksByConcordIDParams{System: l.Target, Entity: l.targetEntity(), ConcordIDs: []string{s}})
		if err != nil {
			return nil, err
		}
		if o, ok := other[s]; ok {
			return nil, fmt.Errorf("%s %s %s is linked to %s record %s already", l.Source, l.Entity, r.ExternalID, l.Target, o.ExternalID)
		}
	}
	if t != "" && t != s {
		other, err := tx.GetLinksByConcordID(ctx, &store.GetLinksByConcordIDParams{System: l.Source, Entity: l.Entity, ConcordIDs: []string{t}})
		if err != nil {
			return nil, err
		}
		if o, ok := other[t]; ok {
			return nil, fmt.Errorf("%s %s %s is paired with %s record %s already", l.Target, l.targetEntity(), r.TargetID, l.Source, o.ExternalID)
		}
	}
	cid := s
	if cid == "" {
		cid = t
	}
	if cid == "" {
		cid = newConcordID()
	}
	return []store.Link{
		{Entity: l.Entity, ConcordID: cid, System: l.Source, ExternalID: r.ExternalID},
		{Entity: l.targetEntity(), ConcordID: cid, System: l.Target, ExternalID: r.TargetID},
	}, nil
}

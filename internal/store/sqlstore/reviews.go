package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
)

const reviewCols = "id, flow, system, entity, external_id, target_system, target_entity, target_id, score, match_key, fields, snapshot, target, state, event_id, created_at, updated_at, decided_at"

// PutReviews records pending candidate pairs; a pending pair is updated, a
// decided one left alone. Reviews are rare, so each is its own statement; the
// batch is written whole or not at all.
func (o *ops) PutReviews(ctx context.Context, reviews []store.Review) error {
	if len(reviews) == 0 {
		return nil
	}
	ts := now()
	err := o.atomic(ctx, func(o *ops) error {
		for _, r := range reviews {
			at := r.CreatedAt
			if at.IsZero() {
				at = ts
			}
			_, err := o.q.ExecContext(ctx, o.rebind(`INSERT INTO concord_match_review
(flow, system, entity, external_id, target_system, target_entity, target_id, score, match_key, fields, snapshot, target, state, event_id, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)
ON CONFLICT (flow, system, entity, external_id, target_id) DO UPDATE SET
score = excluded.score, match_key = excluded.match_key, fields = excluded.fields, snapshot = excluded.snapshot,
target = excluded.target, event_id = excluded.event_id, updated_at = excluded.updated_at
WHERE concord_match_review.state = 'pending'`),
				r.Flow, r.System, string(r.Entity), r.ExternalID, r.TargetSystem, string(r.TargetEntity), r.TargetID,
				r.Score, r.Key, bytesArg(r.Fields), bytesArg(r.Snapshot), bytesArg(r.Target), r.EventID, o.timeArg(at), o.timeArg(at))
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("put reviews: %w", err)
	}
	return nil
}

func scanReview(r rowScanner) (store.Review, error) {
	var v store.Review
	var ent, tent, state string
	if err := r.Scan(&v.ID, &v.Flow, &v.System, &ent, &v.ExternalID, &v.TargetSystem, &tent, &v.TargetID, &v.Score, &v.Key,
		bytesCol{&v.Fields}, bytesCol{&v.Snapshot}, bytesCol{&v.Target}, &state, &v.EventID,
		timeCol{&v.CreatedAt}, timeCol{&v.UpdatedAt}, timeCol{&v.DecidedAt}); err != nil {
		return v, fmt.Errorf("scan review: %w", err)
	}
	v.Entity, v.TargetEntity, v.State = model.Entity(ent), model.Entity(tent), store.ReviewState(state)
	return v, nil
}

// ListReviews lists reviews, oldest first; by default the pending ones.
func (o *ops) ListReviews(ctx context.Context, p *store.ListReviewsParams) ([]store.Review, error) {
	if p == nil {
		p = &store.ListReviewsParams{}
	}
	states := p.States
	if len(states) == 0 {
		states = []store.ReviewState{store.ReviewPending}
	}
	var where []string
	var args []any
	if p.Flow != "" {
		where = append(where, "flow = ?")
		args = append(args, p.Flow)
	}
	ph := make([]string, len(states))
	for i, st := range states {
		ph[i] = "?"
		args = append(args, string(st))
	}
	where = append(where, "state IN ("+strings.Join(ph, ", ")+")")
	if p.MinScore > 0 {
		where = append(where, "score >= ?")
		args = append(args, p.MinScore)
	}
	run := func(where []string, args []any) ([]store.Review, error) {
		q := "SELECT " + reviewCols + " FROM concord_match_review WHERE " + strings.Join(where, " AND ") + " ORDER BY id LIMIT ?"
		rows, err := o.q.QueryContext(ctx, o.rebind(q), o.batch(append(args, limitOr(p.Limit, 1000))...)...)
		if err != nil {
			return nil, err
		}
		return collectRows(rows, scanReview)
	}
	var out []store.Review
	var err error
	if len(p.ExternalIDs) == 0 {
		out, err = run(where, args)
	} else {
		err = forIn(o, "external_id", dedupe(p.ExternalIDs), func(cond string, in []any) error {
			got, err := run(append(where[:len(where):len(where)], "system = ?", "entity = ?", cond),
				append(append(args[:len(args):len(args)], p.System, string(p.Entity)), in...))
			out = append(out, got...)
			return err
		})
	}
	if err != nil {
		return nil, fmt.Errorf("list reviews: %w", err)
	}
	return out, nil
}

// GetReview returns one review, or store.ErrNotFound.
func (o *ops) GetReview(ctx context.Context, id int64) (store.Review, error) {
	row := o.q.QueryRowContext(ctx, o.rebind("SELECT "+reviewCols+" FROM concord_match_review WHERE id = ?"), id)
	v, err := scanReview(row)
	if err != nil {
		return v, fmt.Errorf("get review %d: %w", id, notFound(err))
	}
	return v, nil
}

// DecideReviews sets the state of pending reviews.
func (o *ops) DecideReviews(ctx context.Context, p *store.DecideReviewsParams) (int, error) {
	if p == nil || len(p.IDs) == 0 {
		return 0, nil
	}
	if p.State != store.ReviewAccepted && p.State != store.ReviewRejected {
		return 0, fmt.Errorf("decide reviews: state %q is not a decision", p.State)
	}
	at := p.At
	if at.IsZero() {
		at = now()
	}
	n := 0
	err := forIn(o, "id", p.IDs, func(cond string, args []any) error {
		q := "UPDATE concord_match_review SET state = ?, decided_at = ?, updated_at = ? WHERE state = 'pending' AND " + cond
		res, err := o.q.ExecContext(ctx, o.rebind(q), o.batch(append([]any{string(p.State), o.timeArg(at), o.timeArg(at)}, args...)...)...)
		if err != nil {
			return err
		}
		k, err := res.RowsAffected()
		n += int(k)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("decide reviews: %w", err)
	}
	return n, nil
}

// CountReviews counts pending reviews, of one flow when flow is not "".
func (o *ops) CountReviews(ctx context.Context, flow string) (int, error) {
	q, args := "SELECT count(*) FROM concord_match_review WHERE state = 'pending'", []any{}
	if flow != "" {
		q += " AND flow = ?"
		args = append(args, flow)
	}
	var n int
	if err := o.q.QueryRowContext(ctx, o.rebind(q), args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count reviews: %w", err)
	}
	return n, nil
}

package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
)

const deadLetterInsertCols = "flow, entity, system, external_id, snapshot, reason, cause, attempts, retryable, event_id, created_at, updated_at"

const deadLetterCols = "id, flow, entity, system, external_id, snapshot, reason, cause, attempts, retryable, auto_retries, event_id, created_at, updated_at, retried_at, resolved_at, resolution"

// InsertDeadLetters records failed changes, one open letter per record and
// flow: the same cause updates the open letter (attempts add up), another cause
// supersedes it. A zero CreatedAt is set to now. A batch is written whole or not
// at all. Letters are rare, so each is its own statement.
func (o *ops) InsertDeadLetters(ctx context.Context, letters []store.DeadLetter) ([]int64, error) {
	if len(letters) == 0 {
		return nil, nil
	}
	ts := now()
	ids := make([]int64, len(letters))
	err := o.atomic(ctx, func(o *ops) error {
		for i, l := range letters {
			if l.Cause == "" {
				l.Cause = store.CauseOf(l.Reason)
			}
			at := l.CreatedAt
			if at.IsZero() {
				at = ts
			}
			var id int64
			var cause string
			row := o.q.QueryRowContext(ctx, o.rebind(`SELECT id, cause FROM concord_dead_letter
WHERE flow = ? AND system = ? AND entity = ? AND external_id = ? AND resolved_at IS NULL`), l.Flow, l.System, string(l.Entity), l.ExternalID)
			switch err := row.Scan(&id, &cause); {
			case err == nil && cause == l.Cause:
				_, err := o.q.ExecContext(ctx, o.rebind(`UPDATE concord_dead_letter SET snapshot = ?, reason = ?,
attempts = attempts + ?, retryable = ?, event_id = ?, updated_at = ? WHERE id = ?`),
					bytesArg(l.Snapshot), l.Reason, l.Attempts, boolArg(l.Retryable), l.EventID, o.timeArg(at), id)
				if err != nil {
					return err
				}
				ids[i] = id
				continue
			case err == nil:
				if _, err := o.q.ExecContext(ctx, o.rebind(`UPDATE concord_dead_letter SET resolved_at = ?, resolution = 'superseded' WHERE id = ?`), o.timeArg(at), id); err != nil {
					return err
				}
			case !errors.Is(err, sql.ErrNoRows):
				return err
			}
			got, err := o.queryIDs(ctx, o.rebind("INSERT INTO concord_dead_letter ("+deadLetterInsertCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"),
				l.Flow, string(l.Entity), l.System, l.ExternalID, bytesArg(l.Snapshot), l.Reason, l.Cause, l.Attempts,
				boolArg(l.Retryable), l.EventID, o.timeArg(at), o.timeArg(at))
			if err != nil {
				return err
			}
			ids[i] = got[0]
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("insert dead letters: %w", err)
	}
	return ids, nil
}

func boolArg(b bool) int {
	if b {
		return 1
	}
	return 0
}

func scanDeadLetter(r rowScanner) (store.DeadLetter, error) {
	var l store.DeadLetter
	var entity string
	var retryable int
	if err := r.Scan(&l.ID, &l.Flow, &entity, &l.System, &l.ExternalID, bytesCol{&l.Snapshot}, &l.Reason, &l.Cause,
		&l.Attempts, &retryable, &l.AutoRetries, &l.EventID, timeCol{&l.CreatedAt}, timeCol{&l.UpdatedAt},
		timeCol{&l.RetriedAt}, timeCol{&l.ResolvedAt}, &l.Resolution); err != nil {
		return l, err
	}
	l.Entity = model.Entity(entity)
	l.Retryable = retryable != 0
	return l, nil
}

// ListDeadLetters lists open dead letters, oldest first, optionally of one
// flow, only retryable ones, or closed ones too. Limit 0 means 1000.
func (o *ops) ListDeadLetters(ctx context.Context, p *store.ListDeadLettersParams) ([]store.DeadLetter, error) {
	if p == nil {
		p = &store.ListDeadLettersParams{}
	}
	var where []string
	var args []any
	if p.Flow != "" {
		where = append(where, "flow = ?")
		args = append(args, p.Flow)
	}
	if !p.IncludeClosed {
		where = append(where, "resolved_at IS NULL")
	}
	if p.RetryableOnly {
		where = append(where, "retryable = 1")
	}
	q := "SELECT " + deadLetterCols + " FROM concord_dead_letter"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id LIMIT ?"
	args = append(args, limitOr(p.Limit, 1000))
	rows, err := o.q.QueryContext(ctx, o.rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	out, err := collectRows(rows, scanDeadLetter)
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	return out, nil
}

// GetDeadLetter returns one dead letter, or an error wrapping store.ErrNotFound.
func (o *ops) GetDeadLetter(ctx context.Context, id int64) (store.DeadLetter, error) {
	row := o.q.QueryRowContext(ctx, o.rebind("SELECT "+deadLetterCols+" FROM concord_dead_letter WHERE id = ?"), id)
	l, err := scanDeadLetter(row)
	if err != nil {
		return store.DeadLetter{}, fmt.Errorf("get dead letter %d: %w", id, notFound(err))
	}
	return l, nil
}

// MarkDeadLettersRetried sets retried_at on the given open letters (and counts
// an automatic retry); unknown or closed ids are ignored.
func (o *ops) MarkDeadLettersRetried(ctx context.Context, p *store.MarkDeadLettersRetriedParams) error {
	if p == nil || len(p.IDs) == 0 {
		return nil
	}
	at := p.At
	if at.IsZero() {
		at = now()
	}
	ts := o.timeArg(at)
	set := "retried_at = ?"
	if p.Auto {
		set += ", auto_retries = auto_retries + 1"
	}
	err := forIn(o, "id", p.IDs, func(cond string, args []any) error {
		q := "UPDATE concord_dead_letter SET " + set + " WHERE resolved_at IS NULL AND " + cond
		_, err := o.q.ExecContext(ctx, o.rebind(q), o.batch(append([]any{ts}, args...)...)...)
		return err
	})
	if err != nil {
		return fmt.Errorf("mark dead letters retried: %w", err)
	}
	return nil
}

// ResolveDeadLetters closes the open letters of the given records of one flow.
func (o *ops) ResolveDeadLetters(ctx context.Context, p *store.ResolveDeadLettersParams) error {
	if p == nil || len(p.ExternalIDs) == 0 {
		return nil
	}
	ts := o.timeArg(now())
	res := p.Resolution
	if res == "" {
		res = "synced"
	}
	err := forIn(o, "external_id", dedupe(p.ExternalIDs), func(cond string, args []any) error {
		q := "UPDATE concord_dead_letter SET resolved_at = ?, resolution = ? WHERE flow = ? AND system = ? AND entity = ? AND resolved_at IS NULL AND " + cond
		_, err := o.q.ExecContext(ctx, o.rebind(q),
			o.batch(append([]any{ts, res, p.Flow, p.System, string(p.Entity)}, args...)...)...)
		return err
	})
	if err != nil {
		return fmt.Errorf("resolve dead letters: %w", err)
	}
	return nil
}

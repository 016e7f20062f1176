package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
)

const deadLetterInsertCols = "flow, entity, system, external_id, snapshot, reason, attempts, event_id, created_at, retried_at"

const deadLetterCols = "id, " + deadLetterInsertCols

// InsertDeadLetters records changes that failed their last attempt and returns
// their ids in order. A zero CreatedAt is set to now. A batch is written whole
// or not at all.
func (o *ops) InsertDeadLetters(ctx context.Context, letters []store.DeadLetter) ([]int64, error) {
	if len(letters) == 0 {
		return nil, nil
	}
	ts := now()
	const cols = 10
	size := chunkSize(cols, 0)
	ids := make([]int64, 0, len(letters))
	write := func(o *ops) error {
		return chunks(len(letters), size, func(lo, hi int) error {
			var b strings.Builder
			b.WriteString("INSERT INTO concord_dead_letter (" + deadLetterInsertCols + ") VALUES ")
			valuesList(&b, hi-lo, cols)
			b.WriteString(" RETURNING id")
			args := make([]any, 0, (hi-lo)*cols)
			for _, l := range letters[lo:hi] {
				created := l.CreatedAt
				if created.IsZero() {
					created = ts
				}
				args = append(args, l.Flow, string(l.Entity), l.System, l.ExternalID, bytesArg(l.Snapshot),
					l.Reason, l.Attempts, l.EventID, o.timeArg(created), o.timeArg(l.RetriedAt))
			}
			got, err := o.queryIDs(ctx, o.rebind(b.String()), args...)
			if err != nil {
				return err
			}
			slices.Sort(got) // ids are allocated in row order
			ids = append(ids, got...)
			return nil
		})
	}
	var err error
	if len(letters) <= size {
		err = write(o)
	} else {
		err = o.atomic(ctx, write)
	}
	if err != nil {
		return nil, fmt.Errorf("insert dead letters: %w", err)
	}
	return ids, nil
}

func scanDeadLetter(r rowScanner) (store.DeadLetter, error) {
	var l store.DeadLetter
	var entity string
	if err := r.Scan(&l.ID, &l.Flow, &entity, &l.System, &l.ExternalID, bytesCol{&l.Snapshot}, &l.Reason,
		&l.Attempts, &l.EventID, timeCol{&l.CreatedAt}, timeCol{&l.RetriedAt}); err != nil {
		return l, err
	}
	l.Entity = model.Entity(entity)
	return l, nil
}

// ListDeadLetters lists dead letters, oldest first, optionally of one flow;
// retried ones only with IncludeRetried. Limit 0 means 1000.
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
	if !p.IncludeRetried {
		where = append(where, "retried_at IS NULL")
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

// MarkDeadLettersRetried sets retried_at on the given dead letters that were not
// retried yet; unknown ids are ignored. The letters stay for the record.
func (o *ops) MarkDeadLettersRetried(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	ts := o.timeArg(now())
	err := forIn(o, "id", ids, func(cond string, args []any) error {
		q := "UPDATE concord_dead_letter SET retried_at = ? WHERE retried_at IS NULL AND " + cond
		_, err := o.q.ExecContext(ctx, o.rebind(q), o.batch(append([]any{ts}, args...)...)...)
		return err
	})
	if err != nil {
		return fmt.Errorf("mark dead letters retried: %w", err)
	}
	return nil
}

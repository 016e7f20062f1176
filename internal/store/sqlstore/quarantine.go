package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
)

const quarantineInsertCols = "flow, system, entity, external_id, field, reason, snapshot, created_at, released_at"

const quarantineCols = "id, " + quarantineInsertCols

// Quarantine records bad input. An open entry for the same (flow, system,
// entity, external id) is replaced in place: it keeps its id and takes the new
// field, reason, snapshot and time. A zero CreatedAt is set to now; an entry
// given with ReleasedAt set is stored closed. A batch is written whole or not at
// all.
func (o *ops) Quarantine(ctx context.Context, entries []store.QuarantineEntry) error {
	if len(entries) == 0 {
		return nil
	}
	entries = normalizeQuarantine(entries)
	const cols = 9
	size := chunkSize(cols, 0)
	write := func(o *ops) error {
		return chunks(len(entries), size, func(lo, hi int) error {
			var b strings.Builder
			b.WriteString("INSERT INTO concord_quarantine (" + quarantineInsertCols + ") VALUES ")
			valuesList(&b, hi-lo, cols)
			b.WriteString(` ON CONFLICT (flow, system, entity, external_id) WHERE released_at IS NULL DO UPDATE
SET field = excluded.field, reason = excluded.reason, snapshot = excluded.snapshot, created_at = excluded.created_at`)
			args := make([]any, 0, (hi-lo)*cols)
			for _, e := range entries[lo:hi] {
				args = append(args, e.Flow, e.System, string(e.Entity), e.ExternalID, e.Field, e.Reason,
					bytesArg(e.Snapshot), o.timeArg(e.CreatedAt), o.timeArg(e.ReleasedAt))
			}
			_, err := o.q.ExecContext(ctx, o.rebind(b.String()), args...)
			return err
		})
	}
	var err error
	if len(entries) <= size {
		err = write(o)
	} else {
		err = o.atomic(ctx, write)
	}
	if err != nil {
		return fmt.Errorf("quarantine: %w", err)
	}
	return nil
}

// normalizeQuarantine sets missing times and keeps the last open entry per
// record, since one statement may not touch a row twice.
func normalizeQuarantine(in []store.QuarantineEntry) []store.QuarantineEntry {
	ts := now()
	pos := make(map[fingerprintKey]int, len(in))
	out := make([]store.QuarantineEntry, 0, len(in))
	for _, e := range in {
		if e.CreatedAt.IsZero() {
			e.CreatedAt = ts
		}
		if !e.ReleasedAt.IsZero() {
			out = append(out, e)
			continue
		}
		k := fingerprintKey{e.Flow, e.System, e.Entity, e.ExternalID}
		if i, ok := pos[k]; ok {
			out[i] = e
			continue
		}
		pos[k] = len(out)
		out = append(out, e)
	}
	return out
}

func scanQuarantine(r rowScanner) (store.QuarantineEntry, error) {
	var e store.QuarantineEntry
	var entity string
	if err := r.Scan(&e.ID, &e.Flow, &e.System, &entity, &e.ExternalID, &e.Field, &e.Reason,
		bytesCol{&e.Snapshot}, timeCol{&e.CreatedAt}, timeCol{&e.ReleasedAt}); err != nil {
		return e, fmt.Errorf("scan quarantine entry: %w", err)
	}
	e.Entity = model.Entity(entity)
	return e, nil
}

// ListQuarantine lists open (unreleased) entries, newest first, optionally of
// one flow; Limit 0 means 100.
func (o *ops) ListQuarantine(ctx context.Context, p *store.ListQuarantineParams) ([]store.QuarantineEntry, error) {
	if p == nil {
		p = &store.ListQuarantineParams{}
	}
	q := "SELECT " + quarantineCols + " FROM concord_quarantine WHERE released_at IS NULL"
	var args []any
	if p.Flow != "" {
		q += " AND flow = ?"
		args = append(args, p.Flow)
	}
	q += " ORDER BY created_at DESC, id DESC LIMIT ?"
	args = append(args, limitOr(p.Limit, 100))
	rows, err := o.q.QueryContext(ctx, o.rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("list quarantine: %w", err)
	}
	out, err := collectRows(rows, scanQuarantine)
	if err != nil {
		return nil, fmt.Errorf("list quarantine: %w", err)
	}
	return out, nil
}

// GetQuarantineEntry returns one quarantine entry, open or released, or an
// error wrapping store.ErrNotFound.
func (o *ops) GetQuarantineEntry(ctx context.Context, id int64) (store.QuarantineEntry, error) {
	row := o.q.QueryRowContext(ctx, o.rebind("SELECT "+quarantineCols+" FROM concord_quarantine WHERE id = ?"), id)
	q, err := scanQuarantine(row)
	if err != nil {
		return store.QuarantineEntry{}, fmt.Errorf("get quarantine entry %d: %w", id, notFound(err))
	}
	return q, nil
}

// ReleaseQuarantine closes the open entries of the given records in one flow,
// system and entity; records without an open entry are ignored.
func (o *ops) ReleaseQuarantine(ctx context.Context, p *store.ReleaseQuarantineParams) error {
	if p == nil || len(p.ExternalIDs) == 0 {
		return nil
	}
	ts := o.timeArg(now())
	err := forIn(o, "external_id", dedupe(p.ExternalIDs), func(cond string, args []any) error {
		q := "UPDATE concord_quarantine SET released_at = ? WHERE flow = ? AND system = ? AND entity = ? AND released_at IS NULL AND " + cond
		_, err := o.q.ExecContext(ctx, o.rebind(q),
			o.batch(append([]any{ts, p.Flow, p.System, string(p.Entity)}, args...)...)...)
		return err
	})
	if err != nil {
		return fmt.Errorf("release quarantine: %w", err)
	}
	return nil
}

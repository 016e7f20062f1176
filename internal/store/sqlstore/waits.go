package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
)

const waitCols = "flow, system, entity, external_id, await_system, await_entity, await_id, await_in, await_in_entity, reason, event_id, since, deadline, updated_at, woken_at"

// PutWaits parks records, keeping the Since and Deadline of a record that
// already waits. A zero Since or UpdatedAt is set to now.
func (o *ops) PutWaits(ctx context.Context, waits []store.Wait) error {
	if len(waits) == 0 {
		return nil
	}
	ts := now()
	const cols = 14
	size := chunkSize(cols, 0)
	// One statement may not touch a row twice: the last wait per record wins.
	pos := map[fingerprintKey]int{}
	list := make([]store.Wait, 0, len(waits))
	for _, w := range waits {
		k := fingerprintKey{w.Flow, w.System, w.Entity, w.ExternalID}
		if i, ok := pos[k]; ok {
			list[i] = w
			continue
		}
		pos[k] = len(list)
		list = append(list, w)
	}
	write := func(o *ops) error {
		return chunks(len(list), size, func(lo, hi int) error {
			var b strings.Builder
			b.WriteString("INSERT INTO concord_wait (flow, system, entity, external_id, await_system, await_entity, await_id, await_in, await_in_entity, reason, event_id, since, deadline, updated_at) VALUES ")
			valuesList(&b, hi-lo, cols)
			b.WriteString(` ON CONFLICT (flow, system, entity, external_id) DO UPDATE SET
await_system = excluded.await_system, await_entity = excluded.await_entity, await_id = excluded.await_id,
await_in = excluded.await_in, await_in_entity = excluded.await_in_entity, reason = excluded.reason,
event_id = excluded.event_id, updated_at = excluded.updated_at, woken_at = NULL`)
			args := make([]any, 0, (hi-lo)*cols)
			for _, w := range list[lo:hi] {
				since, upd := w.Since, w.UpdatedAt
				if since.IsZero() {
					since = ts
				}
				if upd.IsZero() {
					upd = ts
				}
				args = append(args, w.Flow, w.System, string(w.Entity), w.ExternalID, w.AwaitSystem, string(w.AwaitEntity),
					w.AwaitID, w.AwaitIn, string(w.AwaitInEntity), w.Reason, w.EventID, o.timeArg(since), o.timeArg(w.Deadline), o.timeArg(upd))
			}
			_, err := o.q.ExecContext(ctx, o.rebind(b.String()), args...)
			return err
		})
	}
	var err error
	if len(list) <= size {
		err = write(o)
	} else {
		err = o.atomic(ctx, write)
	}
	if err != nil {
		return fmt.Errorf("put waits: %w", err)
	}
	return nil
}

// DeleteWaits removes the waits of the given records of one flow.
func (o *ops) DeleteWaits(ctx context.Context, p *store.DeleteWaitsParams) error {
	return o.updateWaits(ctx, p, "DELETE FROM concord_wait", nil, "delete waits")
}

// MarkWaitsWoken sets woken_at on the waits of the given records of one flow.
func (o *ops) MarkWaitsWoken(ctx context.Context, p *store.DeleteWaitsParams) error {
	return o.updateWaits(ctx, p, "UPDATE concord_wait SET woken_at = ?", []any{o.timeArg(now())}, "mark waits woken")
}

func (o *ops) updateWaits(ctx context.Context, p *store.DeleteWaitsParams, head string, headArgs []any, op string) error {
	if p == nil || len(p.ExternalIDs) == 0 {
		return nil
	}
	err := forIn(o, "external_id", dedupe(p.ExternalIDs), func(cond string, args []any) error {
		q := head + " WHERE flow = ? AND system = ? AND entity = ? AND " + cond
		all := append(append(append([]any{}, headArgs...), p.Flow, p.System, string(p.Entity)), args...)
		_, err := o.q.ExecContext(ctx, o.rebind(q), o.batch(all...)...)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

func scanWait(r rowScanner) (store.Wait, error) {
	var w store.Wait
	var ent, aent, aient string
	if err := r.Scan(&w.Flow, &w.System, &ent, &w.ExternalID, &w.AwaitSystem, &aent, &w.AwaitID, &w.AwaitIn, &aient,
		&w.Reason, &w.EventID, timeCol{&w.Since}, timeCol{&w.Deadline}, timeCol{&w.UpdatedAt}, timeCol{&w.WokenAt}); err != nil {
		return w, fmt.Errorf("scan wait: %w", err)
	}
	w.Entity, w.AwaitEntity, w.AwaitInEntity = model.Entity(ent), model.Entity(aent), model.Entity(aient)
	return w, nil
}

// ReadyWaits returns the waits not woken whose awaited record is linked in the
// system it is awaited in: its link in AwaitSystem and a link of the same
// concord id in AwaitIn.
func (o *ops) ReadyWaits(ctx context.Context, p *store.ReadyWaitsParams) ([]store.Wait, error) {
	if p == nil {
		p = &store.ReadyWaitsParams{}
	}
	var cols []string
	for _, c := range strings.Split(waitCols, ", ") {
		cols = append(cols, "w."+c)
	}
	q := "SELECT " + strings.Join(cols, ", ") + ` FROM concord_wait w
JOIN concord_link s ON s.system = w.await_system AND s.entity = w.await_entity AND s.external_id = w.await_id
JOIN concord_link t ON t.entity = w.await_in_entity AND t.concord_id = s.concord_id AND t.system = w.await_in
WHERE w.woken_at IS NULL`
	var out []store.Wait
	run := func(cond string, args []any) error {
		query := q + cond + " ORDER BY w.since LIMIT ?"
		rows, err := o.q.QueryContext(ctx, o.rebind(query), o.batch(append(args, limitOr(p.Limit, 1000))...)...)
		if err != nil {
			return err
		}
		got, err := collectRows(rows, scanWait)
		out = append(out, got...)
		return err
	}
	var err error
	if len(p.AwaitIDs) == 0 {
		err = run("", nil)
	} else {
		err = forIn(o, "w.await_id", dedupe(p.AwaitIDs), func(cond string, args []any) error {
			return run(" AND w.await_system = ? AND w.await_entity = ? AND "+cond, append([]any{p.AwaitSystem, string(p.AwaitEntity)}, args...))
		})
	}
	if err != nil {
		return nil, fmt.Errorf("ready waits: %w", err)
	}
	return out, nil
}

// ListWaits lists waits, oldest first.
func (o *ops) ListWaits(ctx context.Context, p *store.ListWaitsParams) ([]store.Wait, error) {
	if p == nil {
		p = &store.ListWaitsParams{}
	}
	var where []string
	var args []any
	if p.Flow != "" {
		where = append(where, "flow = ?")
		args = append(args, p.Flow)
	}
	if !p.DeadlineBefore.IsZero() {
		where = append(where, "deadline < ?")
		args = append(args, o.timeArg(p.DeadlineBefore))
	}
	run := func(where []string, args []any) ([]store.Wait, error) {
		q := "SELECT " + waitCols + " FROM concord_wait"
		if len(where) > 0 {
			q += " WHERE " + strings.Join(where, " AND ")
		}
		q += " ORDER BY since, flow, external_id LIMIT ?"
		rows, err := o.q.QueryContext(ctx, o.rebind(q), o.batch(append(args, limitOr(p.Limit, 1000))...)...)
		if err != nil {
			return nil, err
		}
		return collectRows(rows, scanWait)
	}
	var out []store.Wait
	var err error
	if len(p.AwaitIDs) == 0 {
		out, err = run(where, args)
	} else {
		err = forIn(o, "await_id", dedupe(p.AwaitIDs), func(cond string, in []any) error {
			got, err := run(append(where[:len(where):len(where)], "await_system = ?", "await_entity = ?", cond),
				append(append(args[:len(args):len(args)], p.AwaitSystem, string(p.AwaitEntity)), in...))
			out = append(out, got...)
			return err
		})
	}
	if err != nil {
		return nil, fmt.Errorf("list waits: %w", err)
	}
	return out, nil
}

// CountWaits counts waits, of one flow when flow is not "".
func (o *ops) CountWaits(ctx context.Context, flow string) (int, error) {
	q, args := "SELECT count(*) FROM concord_wait", []any{}
	if flow != "" {
		q += " WHERE flow = ?"
		args = append(args, flow)
	}
	var n int
	if err := o.q.QueryRowContext(ctx, o.rebind(q), args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count waits: %w", err)
	}
	return n, nil
}

// WaitedOn returns which of the given records a wait awaits.
func (o *ops) WaitedOn(ctx context.Context, p *store.WaitedOnParams) (map[string]bool, error) {
	out := map[string]bool{}
	if p == nil || len(p.ExternalIDs) == 0 {
		return out, nil
	}
	err := forIn(o, "await_id", dedupe(p.ExternalIDs), func(cond string, args []any) error {
		q := "SELECT DISTINCT await_id FROM concord_wait WHERE await_system = ? AND await_entity = ? AND " + cond
		rows, err := o.q.QueryContext(ctx, o.rebind(q), o.batch(append([]any{p.System, string(p.Entity)}, args...)...)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			out[id] = true
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("waited on: %w", err)
	}
	return out, nil
}

package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
)

const eventInsertCols = `flow, entity, source_system, source_id, target_system, target_id, concord_id,
config_version, snapshot, plan, response, outcome, error, attempt, replay, started_at, duration_ns`

const eventCols = "id, " + eventInsertCols

// InsertEvents appends events and returns their ids in order. The ids ascend in
// the order of events. A batch is written whole or not at all.
func (o *ops) InsertEvents(ctx context.Context, events []store.Event) ([]int64, error) {
	if len(events) == 0 {
		return nil, nil
	}
	var ids []int64
	write := func(o *ops) error {
		var err error
		if o.pg() {
			ids, err = o.insertEventsPostgres(ctx, events)
		} else {
			ids, err = o.insertEventsSQLite(ctx, events)
		}
		return err
	}
	var err error
	if o.tx != nil && (o.pg() || oneHotChunk(len(events))) {
		// One statement, atomic by itself, then the counts, in the caller's
		// transaction.
		if err = write(o); err == nil {
			err = o.addEventCounts(ctx, events)
		}
	} else {
		err = o.atomic(ctx, func(o *ops) error {
			if err := write(o); err != nil {
				return err
			}
			return o.addEventCounts(ctx, events)
		})
	}
	if err != nil {
		return nil, fmt.Errorf("insert events: %w", err)
	}
	if len(ids) != len(events) {
		return nil, fmt.Errorf("insert events: got %d ids for %d events", len(ids), len(events))
	}
	return ids, nil
}

func (o *ops) insertEventsSQLite(ctx context.Context, events []store.Event) ([]int64, error) {
	const cols = 17
	ids := make([]int64, 0, len(events))
	args := make([]any, 0, min(len(events), hotChunk)*cols)
	err := hotChunks(len(events), func(lo, hi int) error {
		args = args[:0]
		for i := range events[lo:hi] {
			e := &events[lo+i]
			args = append(args, e.Flow, string(e.Entity), e.SourceSystem, e.SourceID, e.TargetSystem,
				e.TargetID, e.ConcordID, e.ConfigVersion, bytesArg(e.Snapshot), bytesArg(e.Plan),
				bytesArg(e.Response), string(e.Outcome), e.Error, e.Attempt, e.Replay,
				o.timeArg(e.StartedAt), int64(e.Duration))
		}
		got, err := o.queryIDs(ctx, sqliteEventsSQL(hi-lo), args...)
		if err != nil {
			return err
		}
		// RETURNING order is unspecified; ids are allocated in row order.
		slices.Sort(got)
		ids = append(ids, got...)
		return nil
	})
	return ids, err
}

func (o *ops) insertEventsPostgres(ctx context.Context, events []store.Event) ([]int64, error) {
	n := len(events)
	var (
		flow, entity, srcSys, srcID    = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		tgtSys, tgtID, concord, cfgVer = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		snapshot, plan, response       = make([][]byte, n), make([][]byte, n), make([][]byte, n)
		outcome, errText               = make([]string, n), make([]string, n)
		attempt                        = make([]int32, n)
		replay, duration               = make([]int64, n), make([]int64, n)
		started                        = make([]*time.Time, n)
	)
	for i := range events {
		e := &events[i]
		flow[i], entity[i], srcSys[i], srcID[i] = e.Flow, string(e.Entity), e.SourceSystem, e.SourceID
		tgtSys[i], tgtID[i], concord[i], cfgVer[i] = e.TargetSystem, e.TargetID, e.ConcordID, e.ConfigVersion
		snapshot[i], plan[i], response[i] = nilIfEmpty(e.Snapshot), nilIfEmpty(e.Plan), nilIfEmpty(e.Response)
		outcome[i], errText[i] = string(e.Outcome), e.Error
		attempt[i], replay[i], duration[i] = int32(e.Attempt), e.Replay, int64(e.Duration)
		if !e.StartedAt.IsZero() {
			t := e.StartedAt.UTC().Truncate(time.Microsecond)
			started[i] = &t
		}
	}
	const q = "INSERT INTO concord_event (" + eventInsertCols + `)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
$8::text[], $9::bytea[], $10::bytea[], $11::bytea[], $12::text[], $13::text[], $14::int[], $15::bigint[],
$16::timestamptz[], $17::bigint[])
RETURNING id`
	ids, err := o.queryIDs(ctx, q, o.batch(flow, entity, srcSys, srcID, tgtSys, tgtID, concord, cfgVer,
		snapshot, plan, response, outcome, errText, attempt, replay, started, duration)...)
	if err != nil {
		return nil, err
	}
	slices.Sort(ids)
	return ids, nil
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

type rowScanner interface {
	Scan(dest ...any) error
}

func scanEvent(r rowScanner) (store.Event, error) {
	var e store.Event
	var entity, outcome string
	var duration int64
	err := r.Scan(&e.ID, &e.Flow, &entity, &e.SourceSystem, &e.SourceID, &e.TargetSystem, &e.TargetID,
		&e.ConcordID, &e.ConfigVersion, bytesCol{&e.Snapshot}, bytesCol{&e.Plan}, bytesCol{&e.Response},
		&outcome, &e.Error, &e.Attempt, &e.Replay, timeCol{&e.StartedAt}, &duration)
	if err != nil {
		return e, err
	}
	e.Entity, e.Outcome, e.Duration = model.Entity(entity), store.Outcome(outcome), time.Duration(duration)
	return e, nil
}

// GetEvent returns one event, or an error wrapping store.ErrNotFound.
func (o *ops) GetEvent(ctx context.Context, id int64) (store.Event, error) {
	row := o.q.QueryRowContext(ctx, o.rebind("SELECT "+eventCols+" FROM concord_event WHERE id = ?"), id)
	e, err := scanEvent(row)
	if err != nil {
		return store.Event{}, fmt.Errorf("get event %d: %w", id, notFound(err))
	}
	return e, nil
}

// ListEvents lists events, newest (highest id) first, filtered by p; Limit 0
// means 100.
func (o *ops) ListEvents(ctx context.Context, p *store.ListEventsParams) ([]store.Event, error) {
	if p == nil {
		p = &store.ListEventsParams{}
	}
	var where []string
	var args []any
	if p.Flow != "" {
		where = append(where, "flow = ?")
		args = append(args, p.Flow)
	}
	if p.Outcome != "" {
		where = append(where, "outcome = ?")
		args = append(args, string(p.Outcome))
	}
	if p.SourceID != "" {
		where = append(where, "source_id = ?")
		args = append(args, p.SourceID)
	}
	if p.System != "" {
		where = append(where, "(source_system = ? OR target_system = ?)")
		args = append(args, p.System, p.System)
	}
	if p.RecordID != "" {
		where = append(where, "(source_id = ? OR target_id = ?)")
		args = append(args, p.RecordID, p.RecordID)
	}
	// Events have no index on their time; ids ascend with it, so a time
	// bound becomes an id bound (a binary search over ids, widened by
	// eventClockSkew for events recorded out of order) with the time itself
	// checked on the rows left.
	if !p.Since.IsZero() {
		lo, err := o.firstEventFrom(ctx, p.Since.Add(-eventClockSkew))
		if err != nil {
			return nil, fmt.Errorf("list events: %w", err)
		}
		where = append(where, "id >= ?", "started_at >= ?")
		args = append(args, lo, o.timeArg(p.Since))
	}
	if !p.Until.IsZero() {
		hi, err := o.firstEventFrom(ctx, p.Until.Add(eventClockSkew))
		if err != nil {
			return nil, fmt.Errorf("list events: %w", err)
		}
		where = append(where, "id < ?", "started_at < ?")
		args = append(args, hi, o.timeArg(p.Until))
	}
	if p.BeforeID > 0 {
		where = append(where, "id < ?")
		args = append(args, p.BeforeID)
	}
	order := "DESC"
	if p.AfterID > 0 {
		where = append(where, "id > ?")
		args = append(args, p.AfterID)
		order = "ASC" // the events just above AfterID, reversed below
	}
	q := "SELECT " + eventCols + " FROM concord_event"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id " + order + " LIMIT ?"
	args = append(args, limitOr(p.Limit, 100))
	rows, err := o.q.QueryContext(ctx, o.rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	out, err := collectRows(rows, scanEvent)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	if order == "ASC" {
		slices.Reverse(out)
	}
	return out, nil
}

// eventClockSkew is how far apart in time two events recorded in id order
// may have started (a batch's events carry its start; batches run side by
// side): time bounds of ListEvents search this much further in ids.
const eventClockSkew = 10 * time.Minute

// addEventCounts appends the events' counts per minute, flow and outcome.
func (o *ops) addEventCounts(ctx context.Context, events []store.Event) error {
	type key struct {
		minute        int64
		flow, outcome string
	}
	counts := map[key]int{}
	var keys []key
	at := now()
	for i := range events {
		e := &events[i]
		t := e.StartedAt
		if t.IsZero() {
			t = at
		}
		k := key{t.Unix() / 60 * 60, e.Flow, string(e.Outcome)}
		if _, ok := counts[k]; !ok {
			keys = append(keys, k)
		}
		counts[k]++
	}
	for start := 0; start < len(keys); start += 200 {
		part := keys[start:min(start+200, len(keys))]
		args := make([]any, 0, 4*len(part))
		for _, k := range part {
			args = append(args, k.minute, k.flow, k.outcome, counts[k])
		}
		q := "INSERT INTO concord_event_count (minute, flow, outcome, n) VALUES " +
			strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?), ", len(part)), ", ")
		if _, err := o.q.ExecContext(ctx, o.rebind(q), args...); err != nil {
			return fmt.Errorf("event counts: %w", err)
		}
	}
	return nil
}

// CountEvents sums the kept counts per bucket, flow and outcome since p.Since.
func (o *ops) CountEvents(ctx context.Context, p *store.CountEventsParams) ([]store.EventCount, error) {
	bucket := int64(p.Bucket / time.Second)
	if bucket < 60 {
		bucket = 60
	}
	bucket = bucket / 60 * 60
	q := o.rebind(`SELECT (minute / ?) * ?, flow, outcome, SUM(n) FROM concord_event_count
WHERE minute >= ? GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`)
	rows, err := o.q.QueryContext(ctx, q, bucket, bucket, p.Since.Unix()/60*60)
	if err != nil {
		return nil, fmt.Errorf("count events: %w", err)
	}
	out, err := collectRows(rows, func(r rowScanner) (store.EventCount, error) {
		var c store.EventCount
		var minute int64
		var outcome string
		err := r.Scan(&minute, &c.Flow, &outcome, &c.N)
		c.Minute, c.Outcome = time.Unix(minute, 0).UTC(), store.Outcome(outcome)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("count events: %w", err)
	}
	return out, nil
}

// collectRows scans every row and closes rows.
func collectRows[T any](rows *sql.Rows, scan func(rowScanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// StartSweep opens a new pass of a schedule flow, started at at.
func (o *ops) StartSweep(ctx context.Context, flow string, at time.Time) error {
	_, err := o.q.ExecContext(ctx, o.rebind(`INSERT INTO concord_sweep (flow, started_at, updated_at, compared, unchanged, changed)
VALUES (?, ?, ?, 0, 0, 0)`), flow, o.timeArg(at), o.timeArg(at))
	if err != nil {
		return fmt.Errorf("start sweep of %s: %w", flow, err)
	}
	return nil
}

// AddSweepCounts adds a piece's counts to the flow's latest pass, or opens a
// pass with them when the flow has none.
func (o *ops) AddSweepCounts(ctx context.Context, c *store.SweepCounts) error {
	if c == nil || c.Compared == 0 {
		return nil
	}
	at := c.At
	if at.IsZero() {
		at = now()
	}
	res, err := o.q.ExecContext(ctx, o.rebind(`UPDATE concord_sweep
SET compared = compared + ?, unchanged = unchanged + ?, changed = changed + ?, updated_at = ?
WHERE id = (SELECT max(id) FROM concord_sweep WHERE flow = ?)`),
		c.Compared, c.Unchanged, c.Changed, o.timeArg(at), c.Flow)
	if err != nil {
		return fmt.Errorf("add sweep counts of %s: %w", c.Flow, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("add sweep counts of %s: %w", c.Flow, err)
	} else if n > 0 {
		return nil
	}
	_, err = o.q.ExecContext(ctx, o.rebind(`INSERT INTO concord_sweep (flow, started_at, updated_at, compared, unchanged, changed)
VALUES (?, ?, ?, ?, ?, ?)`), c.Flow, o.timeArg(at), o.timeArg(at), c.Compared, c.Unchanged, c.Changed)
	if err != nil {
		return fmt.Errorf("add sweep counts of %s: %w", c.Flow, err)
	}
	return nil
}

// ListSweeps lists sweep passes, newest first; Limit 0 means 100.
func (o *ops) ListSweeps(ctx context.Context, p *store.ListSweepsParams) ([]store.Sweep, error) {
	if p == nil {
		p = &store.ListSweepsParams{}
	}
	q := "SELECT id, flow, started_at, updated_at, compared, unchanged, changed FROM concord_sweep"
	var args []any
	if p.Flow != "" {
		q += " WHERE flow = ?"
		args = append(args, p.Flow)
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, limitOr(p.Limit, 100))
	rows, err := o.q.QueryContext(ctx, o.rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("list sweeps: %w", err)
	}
	out, err := collectRows(rows, func(r rowScanner) (store.Sweep, error) {
		var s store.Sweep
		err := r.Scan(&s.ID, &s.Flow, timeCol{&s.StartedAt}, timeCol{&s.UpdatedAt}, &s.Compared, &s.Unchanged, &s.Changed)
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("list sweeps: %w", err)
	}
	return out, nil
}

// prunableEvents is the condition on concord_event e of the events PruneEvents
// may delete, given the cutoff as its one argument: old, and needed by no open
// dead letter, wait or quarantine entry (a quarantined record's events are
// the context to fix it).
const prunableEvents = `e.started_at < ?
AND e.id NOT IN (SELECT event_id FROM concord_dead_letter WHERE resolved_at IS NULL)
AND e.id NOT IN (SELECT event_id FROM concord_wait)
AND NOT EXISTS (SELECT 1 FROM concord_quarantine q WHERE q.released_at IS NULL
    AND q.flow = e.flow AND q.system = e.source_system AND q.entity = e.entity AND q.external_id = e.source_id)`

// PruneEvents deletes old events and sweep passes in chunks, each chunk one
// statement in its own transaction.
//
// Events have no index on their time (it would cost on every insert of the
// hot path); ids ascend with time instead, so the first event started at or
// after the cutoff is found by a binary search over ids (primary-key seeks),
// and only the ids below it are candidates, deleted range by range with the
// time checked on each row. An event whose clock ran behind its successors'
// may so wait for the next prune; none is ever deleted early.
func (s *Store) PruneEvents(ctx context.Context, p *store.PruneEventsParams) (store.PruneResult, error) {
	var res store.PruneResult
	if p == nil || p.Before.IsZero() {
		return res, errors.New("prune events: no cutoff time")
	}
	o := &s.ops
	before := o.timeArg(p.Before)
	chunk := int64(limitOr(p.Chunk, 1000))
	end, err := o.firstEventFrom(ctx, p.Before)
	if err != nil {
		return res, fmt.Errorf("prune events: %w", err)
	}
	count := func(q string, args ...any) (int, error) {
		var n int
		err := o.q.QueryRowContext(ctx, o.rebind(q), args...).Scan(&n)
		return n, err
	}
	if p.DryRun {
		old, err := count("SELECT COUNT(*) FROM concord_event e WHERE e.id < ? AND e.started_at < ?", end, before)
		if err != nil {
			return res, fmt.Errorf("prune events: count: %w", err)
		}
		if res.Events, err = count("SELECT COUNT(*) FROM concord_event e WHERE e.id < ? AND "+prunableEvents, end, before); err != nil {
			return res, fmt.Errorf("prune events: count: %w", err)
		}
		res.Kept = old - res.Events
		if res.Sweeps, err = count("SELECT COUNT(*) FROM concord_sweep WHERE updated_at < ?", before); err != nil {
			return res, fmt.Errorf("prune events: count sweeps: %w", err)
		}
		return res, nil
	}
	delEvents := o.rebind("DELETE FROM concord_event WHERE id IN (SELECT e.id FROM concord_event e WHERE e.id >= ? AND e.id < ? AND " + prunableEvents + ")")
	next := o.rebind("SELECT MIN(id) FROM concord_event WHERE id >= ?")
	for lo := int64(0); ; {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("prune events: deleted %d: %w", res.Events, err)
		}
		// Skip the gaps earlier prunes left (and the events kept).
		var first sql.NullInt64
		if err := o.q.QueryRowContext(ctx, next, lo).Scan(&first); err != nil {
			return res, fmt.Errorf("prune events: deleted %d: %w", res.Events, err)
		}
		if !first.Valid || first.Int64 >= end {
			break
		}
		lo = first.Int64
		hi := min(lo+chunk, end)
		r, err := o.q.ExecContext(ctx, delEvents, lo, hi, before)
		if err != nil {
			return res, fmt.Errorf("prune events: deleted %d: %w", res.Events, err)
		}
		n, err := r.RowsAffected()
		if err != nil {
			return res, fmt.Errorf("prune events: deleted %d: %w", res.Events, err)
		}
		res.Events += int(n)
		lo = hi
	}
	delSweeps := o.rebind("DELETE FROM concord_sweep WHERE id IN (SELECT id FROM concord_sweep WHERE updated_at < ? LIMIT ?)")
	for {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("prune events: sweeps: deleted %d: %w", res.Sweeps, err)
		}
		r, err := o.q.ExecContext(ctx, delSweeps, before, chunk)
		if err != nil {
			return res, fmt.Errorf("prune events: sweeps: deleted %d: %w", res.Sweeps, err)
		}
		n, err := r.RowsAffected()
		if err != nil {
			return res, fmt.Errorf("prune events: sweeps: deleted %d: %w", res.Sweeps, err)
		}
		res.Sweeps += int(n)
		if n < chunk {
			break
		}
	}
	if _, err := o.q.ExecContext(ctx, o.rebind("DELETE FROM concord_event_count WHERE minute < ?"), p.Before.Unix()/60*60); err != nil {
		return res, fmt.Errorf("prune events: counts: %w", err)
	}
	if res.Kept, err = count("SELECT COUNT(*) FROM concord_event e WHERE e.id < ? AND e.started_at < ?", end, before); err != nil {
		return res, fmt.Errorf("prune events: count kept: %w", err)
	}
	return res, nil
}

// firstEventFrom returns the id of the first event (by id) started at or after
// t, or one past the last event when there is none, by a binary search over
// ids: ids ascend with time. Events without a start time are skipped.
func (o *ops) firstEventFrom(ctx context.Context, t time.Time) (int64, error) {
	var lo, hi sql.NullInt64
	// Two subqueries: SQLite reads MIN and MAX of the key from the index only
	// one at a time; asked together in one SELECT it scans the whole table.
	if err := o.q.QueryRowContext(ctx, "SELECT (SELECT MIN(id) FROM concord_event), (SELECT MAX(id) FROM concord_event)").Scan(&lo, &hi); err != nil {
		return 0, fmt.Errorf("event ids: %w", err)
	}
	if !hi.Valid {
		return 0, nil
	}
	probe := o.rebind("SELECT id, started_at FROM concord_event WHERE id >= ? AND started_at IS NOT NULL ORDER BY id LIMIT 1")
	end := hi.Int64 + 1
	for l, r := lo.Int64, hi.Int64; l <= r; {
		mid := l + (r-l)/2
		var id int64
		var at time.Time
		err := o.q.QueryRowContext(ctx, probe, mid).Scan(&id, timeCol{&at})
		if errors.Is(err, sql.ErrNoRows) || (err == nil && id > r) {
			r = mid - 1 // nothing timed in [mid, r]
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("find events from %s: %w", t.UTC().Format(time.RFC3339), err)
		}
		if at.Before(t) {
			l = id + 1
		} else {
			end, r = id, mid-1
		}
	}
	return end, nil
}

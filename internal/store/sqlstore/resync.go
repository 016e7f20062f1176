package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/concord-sync/concord/internal/store"
)

// linkedFrom is the join of ListLinked and CountLinked: the source links whose
// concord id has a link in the target system and entity. Its arguments are the
// target entity, the target system, the system and the entity.
const linkedFrom = `FROM concord_link s
JOIN concord_link t ON t.entity = ? AND t.concord_id = s.concord_id AND t.system = ?
WHERE s.system = ? AND s.entity = ?`

// ListLinked pages through the linked records of one system and entity, in
// external id order.
func (o *ops) ListLinked(ctx context.Context, p *store.ListLinkedParams) ([]string, error) {
	rows, err := o.q.QueryContext(ctx, o.rebind("SELECT s.external_id "+linkedFrom+" AND s.external_id > ? ORDER BY s.external_id LIMIT ?"),
		string(p.TargetEntity), p.TargetSystem, p.System, string(p.Entity), p.After, limitOr(p.Limit, 1000))
	if err != nil {
		return nil, fmt.Errorf("list linked %s in %s: %w", p.Entity, p.System, err)
	}
	out, err := collectRows(rows, func(r rowScanner) (string, error) {
		var id string
		err := r.Scan(&id)
		return id, err
	})
	if err != nil {
		return nil, fmt.Errorf("list linked %s in %s: %w", p.Entity, p.System, err)
	}
	return out, nil
}

// CountLinked counts the linked records of one system and entity.
func (o *ops) CountLinked(ctx context.Context, p *store.ListLinkedParams) (int, error) {
	var n int
	err := o.q.QueryRowContext(ctx, o.rebind("SELECT COUNT(*) "+linkedFrom),
		string(p.TargetEntity), p.TargetSystem, p.System, string(p.Entity)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count linked %s in %s: %w", p.Entity, p.System, err)
	}
	return n, nil
}

// GetLegMapping returns a leg's remembered mapping, or store.ErrNotFound.
func (o *ops) GetLegMapping(ctx context.Context, leg string) (store.LegMapping, error) {
	m := store.LegMapping{Leg: leg}
	err := o.q.QueryRowContext(ctx, o.rebind("SELECT fingerprint, description, updated_at FROM concord_leg_mapping WHERE leg = ?"), leg).
		Scan(&m.Fingerprint, &m.Description, timeCol{&m.UpdatedAt})
	if err != nil {
		return store.LegMapping{}, fmt.Errorf("get mapping of %s: %w", leg, notFound(err))
	}
	return m, nil
}

// PutLegMapping remembers a leg's mapping; a zero UpdatedAt is now.
func (o *ops) PutLegMapping(ctx context.Context, m *store.LegMapping) error {
	at := m.UpdatedAt
	if at.IsZero() {
		at = now()
	}
	_, err := o.q.ExecContext(ctx, o.rebind(`INSERT INTO concord_leg_mapping (leg, fingerprint, description, updated_at) VALUES (?, ?, ?, ?)
ON CONFLICT (leg) DO UPDATE SET fingerprint = excluded.fingerprint, description = excluded.description, updated_at = excluded.updated_at`),
		m.Leg, m.Fingerprint, m.Description, o.timeArg(at))
	if err != nil {
		return fmt.Errorf("put mapping of %s: %w", m.Leg, err)
	}
	return nil
}

// StartResync begins a resync of a leg, replacing its previous one.
func (o *ops) StartResync(ctx context.Context, r *store.Resync) error {
	at := r.StartedAt
	if at.IsZero() {
		at = now()
	}
	_, err := o.q.ExecContext(ctx, o.rebind(`INSERT INTO concord_resync (leg, mapping, started_at, updated_at, total, after_id, queued, queued_all, compared, changed, finished_at)
VALUES (?, ?, ?, ?, ?, '', 0, ?, 0, 0, NULL)
ON CONFLICT (leg) DO UPDATE SET mapping = excluded.mapping, started_at = excluded.started_at, updated_at = excluded.updated_at,
    total = excluded.total, after_id = '', queued = 0, queued_all = excluded.queued_all, compared = 0, changed = 0, finished_at = NULL`),
		r.Leg, r.Mapping, o.timeArg(at), o.timeArg(at), r.Total, false)
	if err != nil {
		return fmt.Errorf("start resync of %s: %w", r.Leg, err)
	}
	return nil
}

// GetResync returns a leg's latest resync, or store.ErrNotFound.
func (o *ops) GetResync(ctx context.Context, leg string) (store.Resync, error) {
	r := store.Resync{Leg: leg}
	err := o.q.QueryRowContext(ctx, o.rebind(`SELECT mapping, started_at, updated_at, total, after_id, queued, queued_all, compared, changed, finished_at
FROM concord_resync WHERE leg = ?`), leg).
		Scan(&r.Mapping, timeCol{&r.StartedAt}, timeCol{&r.UpdatedAt}, &r.Total, &r.After, &r.Queued, &r.QueuedAll, &r.Compared, &r.Changed, timeCol{&r.FinishedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return store.Resync{}, fmt.Errorf("get resync of %s: %w", leg, store.ErrNotFound)
	}
	if err != nil {
		return store.Resync{}, fmt.Errorf("get resync of %s: %w", leg, err)
	}
	return r, nil
}

// AdvanceResync records how far a leg's resync queued its records.
func (o *ops) AdvanceResync(ctx context.Context, p *store.AdvanceResyncParams) error {
	_, err := o.q.ExecContext(ctx, o.rebind(`UPDATE concord_resync SET after_id = ?, queued = queued + ?, queued_all = ?, updated_at = ?
WHERE leg = ? AND finished_at IS NULL`), p.After, p.Queued, p.QueuedAll, o.timeArg(nowOr(p.At)), p.Leg)
	if err != nil {
		return fmt.Errorf("advance resync of %s: %w", p.Leg, err)
	}
	return nil
}

// AddResyncCounts adds a piece's counts to a leg's running resync.
func (o *ops) AddResyncCounts(ctx context.Context, c *store.ResyncCounts) error {
	if c == nil || c.Compared == 0 {
		return nil
	}
	_, err := o.q.ExecContext(ctx, o.rebind(`UPDATE concord_resync SET compared = compared + ?, changed = changed + ?, updated_at = ?
WHERE leg = ? AND finished_at IS NULL`), c.Compared, c.Changed, o.timeArg(nowOr(c.At)), c.Leg)
	if err != nil {
		return fmt.Errorf("add resync counts of %s: %w", c.Leg, err)
	}
	return nil
}

// FinishResync marks a leg's running resync finished.
func (o *ops) FinishResync(ctx context.Context, leg string, at time.Time) error {
	at = nowOr(at)
	_, err := o.q.ExecContext(ctx, o.rebind(`UPDATE concord_resync SET finished_at = ?, updated_at = ? WHERE leg = ? AND finished_at IS NULL`),
		o.timeArg(at), o.timeArg(at), leg)
	if err != nil {
		return fmt.Errorf("finish resync of %s: %w", leg, err)
	}
	return nil
}

func nowOr(t time.Time) time.Time {
	if t.IsZero() {
		return now()
	}
	return t
}

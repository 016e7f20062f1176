package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/concord-sync/concord/internal/store"
)

// backlogQueries count what is open per leg; each returns (flow, count,
// oldest time or NULL).
var backlogQueries = []struct {
	what  string
	query string
	set   func(b *store.LegBacklog, n int, oldest time.Time)
}{
	{"dead letters", `SELECT flow, count(*), NULL FROM concord_dead_letter WHERE resolved_at IS NULL GROUP BY flow`,
		func(b *store.LegBacklog, n int, _ time.Time) { b.DeadLetters = n }},
	{"quarantine", `SELECT flow, count(*), NULL FROM concord_quarantine WHERE released_at IS NULL GROUP BY flow`,
		func(b *store.LegBacklog, n int, _ time.Time) { b.Quarantine = n }},
	{"waits", `SELECT flow, count(*), min(since) FROM concord_wait GROUP BY flow`,
		func(b *store.LegBacklog, n int, t time.Time) { b.Waiting, b.OldestWait = n, t }},
	{"reviews", `SELECT flow, count(*), min(created_at) FROM concord_match_review WHERE state = 'pending' GROUP BY flow`,
		func(b *store.LegBacklog, n int, t time.Time) { b.PendingReviews, b.OldestReview = n, t }},
}

// lastEventQuery finds each leg's latest event through the (flow, id) index.
const lastEventQuery = `SELECT e.flow, 0, e.started_at FROM concord_event e
JOIN (SELECT flow, max(id) AS id FROM concord_event GROUP BY flow) m ON m.id = e.id`

// Backlog counts what is open per leg.
func (o *ops) Backlog(ctx context.Context, p *store.BacklogParams) (map[string]store.LegBacklog, error) {
	out := map[string]store.LegBacklog{}
	queries := backlogQueries
	if p != nil && p.LastEvent {
		queries = append(queries[:len(queries):len(queries)], struct {
			what  string
			query string
			set   func(b *store.LegBacklog, n int, oldest time.Time)
		}{"last events", lastEventQuery, func(b *store.LegBacklog, _ int, t time.Time) { b.LastEvent = t }})
	}
	for _, bq := range queries {
		if err := o.backlog(ctx, bq.query, func(flow string, n int, t time.Time) {
			b := out[flow]
			bq.set(&b, n, t)
			out[flow] = b
		}); err != nil {
			return nil, fmt.Errorf("count open %s: %w", bq.what, err)
		}
	}
	return out, nil
}

func (o *ops) backlog(ctx context.Context, query string, f func(flow string, n int, t time.Time)) error {
	rows, err := o.q.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var flow string
		var n int
		var t time.Time
		if err := rows.Scan(&flow, &n, timeCol{&t}); err != nil {
			return err
		}
		f(flow, n, t)
	}
	return rows.Err()
}

// Heartbeat upserts node's heartbeat row.
func (o *ops) Heartbeat(ctx context.Context, node string, at time.Time) error {
	_, err := o.q.ExecContext(ctx, o.rebind(`INSERT INTO concord_heartbeat (node, at) VALUES (?, ?)
ON CONFLICT (node) DO UPDATE SET at = excluded.at`), node, o.timeArg(nowOr(at)))
	if err != nil {
		return fmt.Errorf("write heartbeat: %w", err)
	}
	return nil
}

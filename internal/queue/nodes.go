package queue

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/concord-sync/concord/internal/lease"
	"github.com/concord-sync/concord/internal/store"
)

// Several nodes on one PostgreSQL store. While its workers run, a node holds
// the lease "node:<Node>" (renewed every few seconds, internal/lease), and
// River records the node as the job's attempted_by (its client id). A job
// left running by a node that died (SIGKILL, a lost machine) would wait for
// River's rescuer, 2 x JobTimeout; instead every live node looks every
// rescueEvery for running jobs whose node holds no live lease and makes them
// available again, giving back the attempt the dead node spent (as a SQLite
// store does at start). The dead node's leg lock went with its database
// session, so the batch resumes from its last checkpoint on another node
// within the node lease's TTL + rescueEvery.

// nodeLeasePrefix prefixes a node's lease name.
const nodeLeasePrefix = "node:"

// rescueEvery is how often a node looks for the jobs of dead nodes.
const rescueEvery = lease.DefaultRenew

func randomNode() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "concord-" + hex.EncodeToString(b[:])
}

// startAlive takes this node's lease before the workers fetch anything, and
// keeps it (rescuing dead nodes' jobs meanwhile) until endAlive.
func (q *Queue) startAlive(ctx context.Context) error {
	q.alive = lease.New(q.st, lease.Config{Node: q.cfg.Node, Logger: q.log})
	name := nodeLeasePrefix + q.cfg.Node
	// The node's own lease is free unless a process with the same name runs.
	if ok, err := q.st.AcquireLease(ctx, &store.LeaseParams{Name: name, Holder: q.cfg.Node, TTL: q.alive.Config().TTL}); err != nil || !ok {
		if err == nil {
			err = fmt.Errorf("another process runs as node %s", q.cfg.Node)
		}
		return fmt.Errorf("queue: take node lease: %w", err)
	}
	actx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() {
		q.alive.Run(actx, name, func(ctx context.Context) {
			t := time.NewTicker(rescueEvery)
			defer t.Stop()
			for {
				if n, err := q.rescueDead(ctx); err != nil && ctx.Err() == nil {
					q.log.WarnContext(ctx, "rescue of dead nodes' batches failed", "err", err)
				} else if n > 0 {
					q.log.InfoContext(ctx, "resumed batches of a dead node", "batches", n)
				}
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		})
	})
	q.stopAlive = func() {
		cancel()
		wg.Wait()
	}
	return nil
}

// endAlive releases the node's lease; safe to call more than once.
func (q *Queue) endAlive() {
	if q.stopAlive != nil {
		q.stopAlive()
		q.stopAlive = nil
	}
}

// rescueDead makes the running jobs of nodes without a live lease available
// again. A job must have been running for a lease TTL, so that a node that
// fetched it just before taking its lease is never taken for dead.
func (q *Queue) rescueDead(ctx context.Context) (int64, error) {
	res, err := q.st.DB().ExecContext(ctx, `UPDATE river_job
SET state = 'available', attempt = greatest(attempt - 1, 0), scheduled_at = now()
WHERE state = 'running' AND kind = $1
  AND attempted_at < clock_timestamp() - $2::bigint * interval '1 microsecond'
  AND NOT EXISTS (SELECT 1 FROM concord_lease l
    WHERE l.name = $3 || river_job.attempted_by[array_length(river_job.attempted_by, 1)]
      AND l.expires_at > clock_timestamp())`,
		applyArgs{}.Kind(), q.alive.Config().TTL.Microseconds(), nodeLeasePrefix)
	if err != nil {
		return 0, fmt.Errorf("queue: rescue dead nodes' jobs: %w", err)
	}
	return res.RowsAffected()
}

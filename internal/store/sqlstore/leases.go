package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/concord-sync/concord/internal/store"
)

// AcquireLease takes or renews p.Name for p.Holder. On PostgreSQL the times
// are the store's clock (clock_timestamp), on SQLite the process's.
func (s *Store) AcquireLease(ctx context.Context, p *store.LeaseParams) (bool, error) {
	if p.Name == "" || p.Holder == "" || p.TTL <= 0 {
		return false, errors.New("acquire lease: name, holder and a positive ttl are required")
	}
	const upsert = ` ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at,
  acquired_at = CASE WHEN concord_lease.holder = excluded.holder THEN concord_lease.acquired_at ELSE excluded.acquired_at END
WHERE concord_lease.holder = excluded.holder OR concord_lease.expires_at <= `
	var row *sql.Row
	if s.dialect == Postgres {
		row = s.db.QueryRowContext(ctx, `INSERT INTO concord_lease (name, holder, acquired_at, expires_at)
VALUES ($1, $2, clock_timestamp(), clock_timestamp() + $3::bigint * interval '1 microsecond')`+upsert+`clock_timestamp()
RETURNING holder`, p.Name, p.Holder, p.TTL.Microseconds())
	} else {
		now := time.Now()
		row = s.db.QueryRowContext(ctx, `INSERT INTO concord_lease (name, holder, acquired_at, expires_at)
VALUES (?, ?, ?, ?)`+upsert+`?
RETURNING holder`, p.Name, p.Holder, now.UnixMicro(), now.Add(p.TTL).UnixMicro(), now.UnixMicro())
	}
	var holder string
	switch err := row.Scan(&holder); {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil // another node holds it
	case err != nil:
		return false, fmt.Errorf("acquire lease %s: %w", p.Name, err)
	}
	return holder == p.Holder, nil
}

// ReleaseLease deletes p.Name when p.Holder holds it.
func (s *Store) ReleaseLease(ctx context.Context, p *store.LeaseParams) error {
	if _, err := s.db.ExecContext(ctx, s.ops.rebind(`DELETE FROM concord_lease WHERE name = ? AND holder = ?`), p.Name, p.Holder); err != nil {
		return fmt.Errorf("release lease %s: %w", p.Name, err)
	}
	return nil
}

// Leases lists the leases by name.
func (s *Store) Leases(ctx context.Context) ([]store.Lease, error) {
	expired := `expires_at <= ?`
	args := []any{time.Now().UnixMicro()}
	if s.dialect == Postgres {
		expired, args = `expires_at <= clock_timestamp()`, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT name, holder, acquired_at, expires_at, `+expired+` FROM concord_lease ORDER BY name`, args...)
	if err != nil {
		return nil, fmt.Errorf("list leases: %w", err)
	}
	defer rows.Close()
	var out []store.Lease
	for rows.Next() {
		var l store.Lease
		if err := rows.Scan(&l.Name, &l.Holder, timeCol{&l.AcquiredAt}, timeCol{&l.ExpiresAt}, &l.Expired); err != nil {
			return nil, fmt.Errorf("list leases: %w", err)
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list leases: %w", err)
	}
	return out, nil
}

// TakeTokens refills and takes from p.Bucket in one transaction; the refill
// locks the bucket's row, so concurrent callers take turns.
func (s *Store) TakeTokens(ctx context.Context, p *store.TakeTokensParams) (store.TokenGrant, error) {
	if p.Bucket == "" || p.Capacity < 1 || p.Rate <= 0 {
		return store.TokenGrant{}, errors.New("take tokens: bucket, a capacity and a rate are required")
	}
	want := max(p.Want, 1)
	var g store.TokenGrant
	err := s.inTx(ctx, func(o *ops) error {
		var level float64
		var err error
		if o.pg() {
			if _, err = o.q.ExecContext(ctx, `INSERT INTO concord_rate_bucket (bucket, tokens, updated_at) VALUES ($1, $2, clock_timestamp())
ON CONFLICT (bucket) DO NOTHING`, p.Bucket, p.Capacity); err != nil {
				return err
			}
			// The refill's clock_timestamp() may predate a refill committed
			// while this one waited for the row: elapsed time is never
			// negative and updated_at never goes back.
			err = o.q.QueryRowContext(ctx, `UPDATE concord_rate_bucket
SET tokens = least($2::float8, tokens + $3::float8 * greatest(0, extract(epoch FROM clock_timestamp() - updated_at))),
    updated_at = greatest(updated_at, clock_timestamp())
WHERE bucket = $1 RETURNING tokens`, p.Bucket, float64(p.Capacity), p.Rate).Scan(&level)
		} else {
			now := time.Now().UnixMicro()
			if _, err = o.q.ExecContext(ctx, `INSERT INTO concord_rate_bucket (bucket, tokens, updated_at) VALUES (?, ?, ?)
ON CONFLICT (bucket) DO NOTHING`, p.Bucket, p.Capacity, now); err != nil {
				return err
			}
			err = o.q.QueryRowContext(ctx, `UPDATE concord_rate_bucket
SET tokens = min(?, tokens + ? * max(0, (? - updated_at) / 1e6)), updated_at = max(updated_at, ?)
WHERE bucket = ? RETURNING tokens`, float64(p.Capacity), p.Rate, now, now, p.Bucket).Scan(&level)
		}
		if err != nil {
			return err
		}
		g.Granted = max(0, min(want, int(math.Floor(level))-p.Floor))
		if g.Granted == 0 {
			need := float64(p.Floor+1) - level
			g.Wait = time.Duration(need / p.Rate * float64(time.Second))
			return nil
		}
		_, err = o.q.ExecContext(ctx, o.rebind(`UPDATE concord_rate_bucket SET tokens = tokens - ? WHERE bucket = ?`), float64(g.Granted), p.Bucket)
		return err
	})
	if err != nil {
		return store.TokenGrant{}, fmt.Errorf("take tokens from %s: %w", p.Bucket, err)
	}
	return g, nil
}

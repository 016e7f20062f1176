package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
)

const fingerprintCols = "flow, system, entity, external_id, hash, version, updated_at"

type fingerprintKey struct {
	flow, system string
	entity       model.Entity
	externalID   string
}

// GetFingerprints returns the saved state of source records for one flow, keyed
// by external id; records never applied are absent. It reads in chunks, never
// per id.
func (o *ops) GetFingerprints(ctx context.Context, p *store.GetFingerprintsParams) (map[string]store.Fingerprint, error) {
	out := make(map[string]store.Fingerprint, len(p.ExternalIDs))
	if len(p.ExternalIDs) == 0 {
		return out, nil
	}
	ids := dedupe(p.ExternalIDs)
	collect := func(q string, args ...any) error {
		rows, err := o.read(ctx, q, args...)
		if err != nil {
			return err
		}
		fps, err := collectRows(rows, scanFingerprint)
		if err != nil {
			return err
		}
		for _, fp := range fps {
			out[fp.ExternalID] = fp
		}
		return nil
	}
	var err error
	if o.pg() {
		// One index probe per id, whatever the statistics (see pgProbe in links.go).
		err = collect("SELECT f.* FROM unnest($4::text[]) AS k(id) CROSS JOIN LATERAL (SELECT "+fingerprintCols+
			" FROM concord_fingerprint WHERE flow = $1 AND system = $2 AND entity = $3 AND external_id = k.id OFFSET 0) f",
			o.batch(p.Flow, p.System, string(p.Entity), ids)...)
	} else {
		args := make([]any, 0, min(len(ids), hotChunk)+3)
		err = hotChunks(len(ids), func(lo, hi int) error {
			args = append(args[:0], p.Flow, p.System, string(p.Entity))
			for _, id := range ids[lo:hi] {
				args = append(args, id)
			}
			return collect(sqliteFingerprintsGetSQL(hi-lo), args...)
		})
	}
	if err != nil {
		return nil, fmt.Errorf("get fingerprints: %w", err)
	}
	return out, nil
}

func scanFingerprint(r rowScanner) (store.Fingerprint, error) {
	var fp store.Fingerprint
	var entity string
	if err := r.Scan(&fp.Flow, &fp.System, &entity, &fp.ExternalID, &fp.Hash, &fp.Version,
		timeCol{&fp.UpdatedAt}); err != nil {
		return fp, fmt.Errorf("scan fingerprint: %w", err)
	}
	fp.Entity = model.Entity(entity)
	return fp, nil
}

// PutFingerprints inserts or replaces fingerprints; a zero UpdatedAt is set to
// now, and when the batch names one record twice the last one wins. A batch is
// written whole or not at all.
func (o *ops) PutFingerprints(ctx context.Context, fps []store.Fingerprint) error {
	if len(fps) == 0 {
		return nil
	}
	fps = normalizeFingerprints(fps)
	var err error
	switch {
	case o.pg():
		err = o.putFingerprintsPostgres(ctx, fps)
	case oneHotChunk(len(fps)):
		err = o.putFingerprintsSQLite(ctx, fps)
	default:
		err = o.atomic(ctx, func(o *ops) error { return o.putFingerprintsSQLite(ctx, fps) })
	}
	if err != nil {
		return fmt.Errorf("put fingerprints: %w", err)
	}
	return nil
}

func normalizeFingerprints(in []store.Fingerprint) []store.Fingerprint {
	ts := now()
	pos := make(map[fingerprintKey]int, len(in))
	out := make([]store.Fingerprint, 0, len(in))
	for _, fp := range in {
		if fp.UpdatedAt.IsZero() {
			fp.UpdatedAt = ts
		}
		k := fingerprintKey{fp.Flow, fp.System, fp.Entity, fp.ExternalID}
		if i, ok := pos[k]; ok {
			out[i] = fp
			continue
		}
		pos[k] = len(out)
		out = append(out, fp)
	}
	return out
}

const fingerprintUpsertTail = ` ON CONFLICT (flow, system, entity, external_id) DO UPDATE
SET hash = excluded.hash, version = excluded.version, updated_at = excluded.updated_at`

func (o *ops) putFingerprintsSQLite(ctx context.Context, fps []store.Fingerprint) error {
	const cols = 7
	args := make([]any, 0, min(len(fps), hotChunk)*cols)
	return hotChunks(len(fps), func(lo, hi int) error {
		args = args[:0]
		for _, fp := range fps[lo:hi] {
			args = append(args, fp.Flow, fp.System, string(fp.Entity), fp.ExternalID, fp.Hash, fp.Version,
				o.timeArg(fp.UpdatedAt))
		}
		_, err := o.exec(ctx, sqliteFingerprintsSQL(hi-lo), args...)
		return err
	})
}

func (o *ops) putFingerprintsPostgres(ctx context.Context, fps []store.Fingerprint) error {
	n := len(fps)
	flow, system, entity, external := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	hash, version, updated := make([]string, n), make([]string, n), make([]time.Time, n)
	for i, fp := range fps {
		flow[i], system[i], entity[i], external[i] = fp.Flow, fp.System, string(fp.Entity), fp.ExternalID
		hash[i], version[i] = fp.Hash, fp.Version
		updated[i] = fp.UpdatedAt.UTC().Truncate(time.Microsecond)
	}
	const q = "INSERT INTO concord_fingerprint (" + fingerprintCols + `)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[])` +
		fingerprintUpsertTail
	_, err := o.q.ExecContext(ctx, q, o.batch(flow, system, entity, external, hash, version, updated)...)
	return err
}

package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
)

const linkCols = "entity, concord_id, system, external_id, created_at, updated_at"

type linkKey struct {
	entity    model.Entity
	concordID string
	system    string
}

type externalKey struct {
	system     string
	entity     model.Entity
	externalID string
}

// PutLinks inserts links, or updates the external id (and updated_at) of an
// existing (entity, concord id, system) pairing; created_at is kept then. A zero
// CreatedAt or UpdatedAt is set to now. When the batch names the same pairing
// twice the last one wins. If a (system, entity, external id) already belongs to
// another concord id, in the store or in the batch, it returns an error wrapping
// store.ErrConflict and writes nothing of the batch (inside a caller's
// transaction it uses a savepoint when needed, so the transaction stays
// usable). The store's unique index finds conflicts, row by row in batch order:
// a batch that first moves a pairing off an external id may give that id to
// another concord id.
func (o *ops) PutLinks(ctx context.Context, p *store.PutLinksParams) error {
	if p == nil || len(p.Links) == 0 {
		return nil
	}
	links, err := normalizeLinks(p.Links)
	if err != nil {
		return fmt.Errorf("put links: %w", err)
	}
	write := func(o *ops) error {
		if o.pg() {
			return o.upsertLinksPostgres(ctx, links)
		}
		return o.upsertLinksSQLite(ctx, links)
	}
	// One statement is atomic by itself; a failed one also leaves a SQLite
	// transaction usable, but aborts a PostgreSQL one.
	oneStatement := o.pg() || oneHotChunk(len(links))
	if oneStatement && (o.tx == nil || o.own || !o.pg()) {
		err = write(o)
	} else {
		err = o.atomic(ctx, write)
	}
	if err == nil {
		return nil
	}
	if !o.s.isUnique(err) {
		return fmt.Errorf("put links: %w", err)
	}
	// Name the offending link; the write is already undone.
	if diag := o.checkLinkOwners(ctx, links); diag != nil {
		return fmt.Errorf("put links: %w", diag)
	}
	return fmt.Errorf("put links: %w: %w", store.ErrConflict, err)
}

// normalizeLinks drops repeated pairings (last wins), fills in times and refuses
// a batch that gives one external id to two concord ids.
func normalizeLinks(in []store.Link) ([]store.Link, error) {
	ts := now()
	pos := make(map[linkKey]int, len(in))
	out := make([]store.Link, 0, len(in))
	for _, l := range in {
		if l.CreatedAt.IsZero() {
			l.CreatedAt = ts
		}
		if l.UpdatedAt.IsZero() {
			l.UpdatedAt = ts
		}
		k := linkKey{l.Entity, l.ConcordID, l.System}
		if i, ok := pos[k]; ok {
			out[i] = l
			continue
		}
		pos[k] = len(out)
		out = append(out, l)
	}
	owners := make(map[externalKey]string, len(out))
	for _, l := range out {
		k := externalKey{l.System, l.Entity, l.ExternalID}
		if c, ok := owners[k]; ok && c != l.ConcordID {
			return nil, fmt.Errorf("%s %s %q given to concord ids %q and %q: %w",
				l.System, l.Entity, l.ExternalID, c, l.ConcordID, store.ErrConflict)
		}
		owners[k] = l.ConcordID
	}
	return out, nil
}

// checkLinkOwners reports the first link whose external id belongs to another
// concord id, as an error wrapping store.ErrConflict.
func (o *ops) checkLinkOwners(ctx context.Context, links []store.Link) error {
	type group struct {
		system string
		entity model.Entity
	}
	ids := make(map[group][]string)
	var order []group
	for _, l := range links {
		g := group{l.System, l.Entity}
		if _, ok := ids[g]; !ok {
			order = append(order, g)
		}
		ids[g] = append(ids[g], l.ExternalID)
	}
	existing := make(map[externalKey]string, len(links))
	for _, g := range order {
		found, err := o.getLinks(ctx, g.system, g.entity, "external_id", ids[g])
		if err != nil {
			return err
		}
		for ext, l := range found {
			existing[externalKey{g.system, g.entity, ext}] = l.ConcordID
		}
	}
	for _, l := range links {
		if c, ok := existing[externalKey{l.System, l.Entity, l.ExternalID}]; ok && c != l.ConcordID {
			return fmt.Errorf("%s %s %q belongs to concord id %q, not %q: %w",
				l.System, l.Entity, l.ExternalID, c, l.ConcordID, store.ErrConflict)
		}
	}
	return nil
}

const linkUpsertTail = ` ON CONFLICT (entity, concord_id, system) DO UPDATE
SET external_id = excluded.external_id, updated_at = excluded.updated_at`

func (o *ops) upsertLinksSQLite(ctx context.Context, links []store.Link) error {
	const cols = 6
	args := make([]any, 0, min(len(links), hotChunk)*cols)
	return hotChunks(len(links), func(lo, hi int) error {
		args = args[:0]
		for _, l := range links[lo:hi] {
			args = append(args, string(l.Entity), l.ConcordID, l.System, l.ExternalID,
				o.timeArg(l.CreatedAt), o.timeArg(l.UpdatedAt))
		}
		if _, err := o.exec(ctx, sqliteLinksSQL(hi-lo), args...); err != nil {
			return fmt.Errorf("upsert links: %w", err)
		}
		return nil
	})
}

func (o *ops) upsertLinksPostgres(ctx context.Context, links []store.Link) error {
	n := len(links)
	entity, concord, system, external := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	created, updated := make([]time.Time, n), make([]time.Time, n)
	for i, l := range links {
		entity[i], concord[i], system[i], external[i] = string(l.Entity), l.ConcordID, l.System, l.ExternalID
		created[i] = l.CreatedAt.UTC().Truncate(time.Microsecond)
		updated[i] = l.UpdatedAt.UTC().Truncate(time.Microsecond)
	}
	const q = "INSERT INTO concord_link (" + linkCols + `)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[])` + linkUpsertTail
	if _, err := o.q.ExecContext(ctx, q, o.batch(entity, concord, system, external, created, updated)...); err != nil {
		return fmt.Errorf("upsert links: %w", err)
	}
	return nil
}

// GetLinks returns the links of the given external ids in one system, keyed by
// external id; unlinked ids are absent. It reads in chunks, never per id.
func (o *ops) GetLinks(ctx context.Context, p *store.GetLinksParams) (map[string]store.Link, error) {
	links, err := o.getLinks(ctx, p.System, p.Entity, "external_id", p.ExternalIDs)
	if err != nil {
		return nil, fmt.Errorf("get links: %w", err)
	}
	return links, nil
}

// GetLinksByConcordID returns the links of the given concord ids in one system,
// keyed by concord id; unlinked ids are absent.
func (o *ops) GetLinksByConcordID(ctx context.Context, p *store.GetLinksByConcordIDParams) (map[string]store.Link, error) {
	links, err := o.getLinks(ctx, p.System, p.Entity, "concord_id", p.ConcordIDs)
	if err != nil {
		return nil, fmt.Errorf("get links by concord id: %w", err)
	}
	return links, nil
}

// pgProbe are the PostgreSQL lookups of links by a batch of ids ($3), one
// index probe per id whatever the planner's statistics say. Written
// "column = ANY($3)", a lookup on a table not analysed yet (autovacuum off, or a
// backfill outrunning it) was planned as a scan of every link of the system
// and entity, filtered: 580 ms per 1,000 ids at 435,000 rows, growing with the
// table (TestLookups_ProbeEachID). The LATERAL subquery with OFFSET 0 is not
// flattened into a join (a hash join would read the whole table too), and
// has no LIMIT whose fast-start costing picks the wrong index. By concord id the
// probe uses the primary key's prefix (entity, concord_id) and filters the
// system outside: given the system inside, the planner without statistics
// preferred the (system, entity, external_id) key's prefix and a filter.
var pgProbe = map[string]string{
	"external_id": "SELECT l.* FROM unnest($3::text[]) AS k(id) CROSS JOIN LATERAL (SELECT " + linkCols +
		" FROM concord_link WHERE system = $1 AND entity = $2 AND external_id = k.id OFFSET 0) l",
	"concord_id": "SELECT l.* FROM unnest($3::text[]) AS k(id) CROSS JOIN LATERAL (SELECT " + linkCols +
		" FROM concord_link WHERE entity = $2 AND concord_id = k.id OFFSET 0) l WHERE l.system = $1",
}

// getLinks reads the links of one (system, entity) whose column (external_id or
// concord_id) is in ids, keyed by that column.
func (o *ops) getLinks(ctx context.Context, system string, entity model.Entity, column string, ids []string) (map[string]store.Link, error) {
	out := make(map[string]store.Link, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	ids = dedupe(ids)
	collect := func(q string, args ...any) error {
		rows, err := o.read(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			l, err := scanLink(rows)
			if err != nil {
				return err
			}
			if column == "external_id" {
				out[l.ExternalID] = l
			} else {
				out[l.ConcordID] = l
			}
		}
		return rows.Err()
	}
	if o.pg() {
		return out, collect(pgProbe[column], o.batch(system, string(entity), ids)...)
	}
	build := sqliteLinksByExternalSQL
	if column == "concord_id" {
		build = sqliteLinksByConcordSQL
	}
	args := make([]any, 0, min(len(ids), hotChunk)+2)
	err := hotChunks(len(ids), func(lo, hi int) error {
		args = append(args[:0], system, string(entity))
		for _, id := range ids[lo:hi] {
			args = append(args, id)
		}
		return collect(build(hi-lo), args...)
	})
	return out, err
}

func scanLink(rows *sql.Rows) (store.Link, error) {
	var l store.Link
	var entity string
	if err := rows.Scan(&entity, &l.ConcordID, &l.System, &l.ExternalID,
		timeCol{&l.CreatedAt}, timeCol{&l.UpdatedAt}); err != nil {
		return l, fmt.Errorf("scan link: %w", err)
	}
	l.Entity = model.Entity(entity)
	return l, nil
}

// ListLinks lists links, most recently updated first (ties by system, entity
// and external id), filtered by p; Limit 0 means 100.
func (o *ops) ListLinks(ctx context.Context, p *store.ListLinksParams) ([]store.Link, error) {
	if p == nil {
		p = &store.ListLinksParams{}
	}
	var where []string
	var args []any
	if p.Entity != "" {
		where = append(where, "entity = ?")
		args = append(args, string(p.Entity))
	}
	if p.System != "" {
		where = append(where, "system = ?")
		args = append(args, p.System)
	}
	if p.ConcordID != "" {
		where = append(where, "concord_id = ?")
		args = append(args, p.ConcordID)
	}
	q := "SELECT " + linkCols + " FROM concord_link"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY updated_at DESC, system, entity, external_id LIMIT ?"
	args = append(args, limitOr(p.Limit, 100))
	rows, err := o.q.QueryContext(ctx, o.rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	defer rows.Close()
	var out []store.Link
	for rows.Next() {
		l, err := scanLink(rows)
		if err != nil {
			return nil, fmt.Errorf("list links: %w", err)
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	return out, nil
}

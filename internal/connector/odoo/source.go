package odoo

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/odoo/odoorpc"
	"github.com/concord-sync/concord/internal/model"
)

func (c *Conn) def(e model.Entity) (*entityDef, error) {
	d, ok := entities[e]
	if !ok {
		return nil, fmt.Errorf("odoo entity %s: %w", e, connector.ErrUnsupported)
	}
	return d, nil
}

func (d *entityDef) baseDomain(c *Conn) odoorpc.Domain {
	if d.domain == nil {
		return odoorpc.Domain{}
	}
	return slices.Clone(d.domain(c))
}

// readContext reads archived records too, with the entity's keys.
func (d *entityDef) readContext(c *Conn) odoorpc.Context {
	ctx := odoorpc.Context{"active_test": false}
	if d.context != nil {
		maps.Copy(ctx, d.context(c))
	}
	return ctx
}

// cursor is the read position: the change time of the newest record delivered
// and, for the records delivered within the overlap window before it, their
// change time and version, so that a re-read of the window skips what did not
// change while a record committed late with an older time is still found.
// write_date has a resolution of one second: two writes within the same
// second leave it equal, which the version (with the values' fingerprint)
// tells apart.
type cursor struct {
	T    time.Time       `json:"t"`
	Seen map[string]seen `json:"seen,omitempty"`
}

type seen struct {
	At      int64  `json:"t"` // unix seconds
	Version string `json:"v"`
}

func parseCursor(s string) (cursor, error) {
	var cur cursor
	if s == "" {
		return cur, nil
	}
	if err := json.Unmarshal([]byte(s), &cur); err != nil {
		return cur, connector.Permanent("", fmt.Errorf("bad odoo cursor: %w", err))
	}
	return cur, nil
}

type candidate struct {
	id int64
	at time.Time
}

// stamps returns the change times of the records matching domain: write_date,
// or the template's when later (products).
func (c *Conn) stamps(ctx context.Context, d *entityDef, domain odoorpc.Domain) ([]candidate, error) {
	fields := []string{"write_date"}
	if d.template {
		fields = append(fields, "product_tmpl_id")
	}
	rows, err := c.rpc.SearchRead(ctx, d.model, domain, fields, odoorpc.SearchOptions{Context: odoorpc.Context{"active_test": false}})
	if err != nil {
		return nil, err
	}
	var tmpl map[int64]time.Time
	if d.template {
		if tmpl, err = c.templateStamps(ctx, rows); err != nil {
			return nil, err
		}
	}
	out := make([]candidate, len(rows))
	for i, r := range rows {
		at := r.Time("write_date")
		if t := tmpl[r.Int("product_tmpl_id")]; t.After(at) {
			at = t
		}
		out[i] = candidate{id: r.ID(), at: at}
	}
	return out, nil
}

func (c *Conn) templateStamps(ctx context.Context, rows []odoorpc.Record) (map[int64]time.Time, error) {
	ids := make([]int64, 0, len(rows))
	for _, r := range rows {
		if id := r.Int("product_tmpl_id"); id != 0 {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	out := make(map[int64]time.Time, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	tmpls, err := c.rpc.Read(ctx, "product.template", ids, []string{"write_date"}, odoorpc.Context{"active_test": false})
	if err != nil {
		return nil, err
	}
	for _, t := range tmpls {
		out[t.ID()] = t.Time("write_date")
	}
	return out, nil
}

// Read implements connector.Connector: records changed since the cursor by
// write_date (and the product template's), looking back the overlap window,
// oldest first. Records seen in the window are delivered again only when
// their version changed.
func (c *Conn) Read(ctx context.Context, req connector.ReadRequest) (connector.ReadResult, error) {
	d, err := c.def(req.Entity)
	if err != nil {
		return connector.ReadResult{}, err
	}
	cur, err := parseCursor(req.Cursor)
	if err != nil {
		return connector.ReadResult{}, err
	}
	limit := req.Limit
	if limit <= 0 {
		limit = DefaultReadLimit
	}
	domain := d.baseDomain(c)
	var since time.Time
	if !cur.T.IsZero() {
		since = cur.T.Add(-c.overlap)
		if d.template {
			domain = append(domain, "|", odoorpc.Leaf("write_date", ">=", since), odoorpc.Leaf("product_tmpl_id.write_date", ">=", since))
		} else {
			domain = append(domain, odoorpc.Leaf("write_date", ">=", since))
		}
	}
	cands, err := c.stamps(ctx, d, domain)
	if err != nil {
		return connector.ReadResult{}, mapErr(fmt.Errorf("read %s changes: %w", req.Entity, err))
	}
	slices.SortFunc(cands, func(a, b candidate) int {
		if n := a.at.Compare(b.at); n != 0 {
			return n
		}
		return cmp.Compare(a.id, b.id)
	})
	// Read the candidates in order, a chunk at a time, until the page is full
	// (plus one, to know whether more wait) or none is left.
	var out []model.Record
	searchedAt := map[string]time.Time{}
	for start := 0; start < len(cands) && len(out) <= limit; {
		end := min(start+limit+1, len(cands))
		ids := make([]int64, 0, end-start)
		for _, cd := range cands[start:end] {
			ids = append(ids, cd.id)
		}
		recs, err := c.get(ctx, d, ids)
		if err != nil {
			return connector.ReadResult{}, err
		}
		for _, cd := range cands[start:end] {
			r, ok := recs[cd.id]
			if !ok {
				continue // deleted between the two calls
			}
			if s, ok := cur.Seen[r.ID]; ok && s.Version == r.Version {
				continue
			}
			out = append(out, r)
			searchedAt[r.ID] = cd.at
			if len(out) > limit {
				break
			}
		}
		start = end
	}
	done := len(out) <= limit
	if !done {
		out = out[:limit]
	}
	// The cursor moves by the change times the search saw, never by those of
	// the second read: a record written between the two calls would otherwise
	// carry the cursor past candidates left for the next page.
	next := cursor{T: cur.T, Seen: map[string]seen{}}
	for _, r := range out {
		if at := searchedAt[r.ID]; at.After(next.T) {
			next.T = at
		}
	}
	floor := next.T.Add(-c.overlap)
	for id, s := range cur.Seen {
		if !time.Unix(s.At, 0).Before(floor) {
			next.Seen[id] = s
		}
	}
	for _, r := range out {
		if at := searchedAt[r.ID]; !at.Before(floor) {
			next.Seen[r.ID] = seen{At: at.Unix(), Version: r.Version}
		}
	}
	if len(next.Seen) == 0 {
		next.Seen = nil
	}
	b, err := json.Marshal(next)
	if err != nil {
		return connector.ReadResult{}, fmt.Errorf("encode odoo cursor: %w", err)
	}
	return connector.ReadResult{Records: out, Next: string(b), Done: done}, nil
}

func parseIDs(ids []string) []int64 {
	nums := make([]int64, 0, len(ids))
	for _, s := range ids {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			continue // not an Odoo id: absent
		}
		nums = append(nums, n)
	}
	return nums
}

// Get implements connector.Connector.
func (c *Conn) Get(ctx context.Context, entity model.Entity, ids []string) (map[string]model.Record, error) {
	d, err := c.def(entity)
	if err != nil {
		return nil, err
	}
	nums := parseIDs(ids)
	if len(nums) == 0 {
		return map[string]model.Record{}, nil
	}
	// read refuses ids that do not exist; search first keeps them absent.
	found, err := c.rpc.Search(ctx, d.model, append(d.baseDomain(c), odoorpc.Leaf("id", "in", nums)), odoorpc.SearchOptions{Context: odoorpc.Context{"active_test": false}})
	if err != nil {
		return nil, mapErr(fmt.Errorf("get %s: %w", entity, err))
	}
	recs, err := c.get(ctx, d, found)
	if err != nil {
		return nil, err
	}
	out := make(map[string]model.Record, len(recs))
	for _, r := range recs {
		out[r.ID] = r
	}
	return out, nil
}

// Lookup implements connector.Connector: records whose link field holds one
// of linkKeys. When a key is stored twice, the oldest record wins.
func (c *Conn) Lookup(ctx context.Context, entity model.Entity, linkKeys []string) (map[string]model.Record, error) {
	d, err := c.def(entity)
	if err != nil {
		return nil, err
	}
	out := map[string]model.Record{}
	if len(linkKeys) == 0 || d.linkField == nil {
		return out, nil
	}
	ids, err := c.rpc.Search(ctx, d.model, append(d.baseDomain(c), odoorpc.Leaf(d.linkField(c), "in", linkKeys)),
		odoorpc.SearchOptions{Order: "id asc", Context: odoorpc.Context{"active_test": false}})
	if err != nil {
		return nil, mapErr(fmt.Errorf("lookup %s: %w", entity, err))
	}
	recs, err := c.get(ctx, d, ids)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, k := range linkKeys {
		want[k] = true
	}
	for _, id := range ids {
		r, ok := recs[id]
		if !ok || !want[r.LinkKey] {
			continue
		}
		if _, dup := out[r.LinkKey]; dup {
			continue
		}
		out[r.LinkKey] = r
	}
	return out, nil
}

// get reads full records by id; ids that do not exist are absent.
func (c *Conn) get(ctx context.Context, d *entityDef, ids []int64) (map[int64]model.Record, error) {
	out := make(map[int64]model.Record, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	link := ""
	fields := append(slices.Clone(d.read), "write_date")
	if d.linkField != nil {
		link = d.linkField(c)
		fields = append(fields, link)
	}
	if !d.noActive {
		fields = append(fields, "active")
	}
	rows, err := c.rpc.Read(ctx, d.model, ids, fields, d.readContext(c))
	if errors.Is(err, odoorpc.ErrMissing) {
		// Deleted since the search: read what is left.
		var found []int64
		found, err = c.rpc.Search(ctx, d.model, odoorpc.Domain{odoorpc.Leaf("id", "in", ids)}, odoorpc.SearchOptions{Context: odoorpc.Context{"active_test": false}})
		if err == nil {
			rows, err = c.rpc.Read(ctx, d.model, found, fields, d.readContext(c))
		}
	}
	if err != nil {
		return nil, mapErr(fmt.Errorf("read %s: %w", d.entity, err))
	}
	var tmpl map[int64]time.Time
	if d.template {
		if tmpl, err = c.templateStamps(ctx, rows); err != nil {
			return nil, mapErr(fmt.Errorf("read %s templates: %w", d.entity, err))
		}
	}
	if d.expand != nil {
		if err := d.expand(ctx, c, rows); err != nil {
			return nil, mapErr(fmt.Errorf("read %s: %w", d.entity, err))
		}
	}
	for _, r := range rows {
		at := r.Time("write_date")
		if t := tmpl[r.Int("product_tmpl_id")]; t.After(at) {
			at = t
		}
		f := d.toFields(c, r)
		rec := model.Record{
			Entity:    d.entity,
			ID:        strconv.FormatInt(r.ID(), 10),
			UpdatedAt: at,
			Archived:  !d.noActive && !r.Bool("active"),
			Fields:    f,
		}
		if link != "" {
			rec.LinkKey = r.String(link)
		}
		rec.Version = d.version(at, f, rec.Archived)
		out[r.ID()] = rec
	}
	return out, nil
}

// version is write_date (the later of the record's and its template's), a
// fingerprint of the writable mapped values and the archived flag: write_date
// alone has a one second resolution.
func (d *entityDef) version(at time.Time, f model.Fields, archived bool) string {
	return at.UTC().Format("20060102T150405") + "/" + d.content(f, archived)
}

// content is the part of a version after the time: the fingerprint of the
// writable mapped values and the archived flag.
func (d *entityDef) content(f model.Fields, archived bool) string {
	names := make([]string, 0, len(d.fields))
	for _, n := range d.fields {
		if !slices.Contains(d.readOnly, n) {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		// Read-only entities: every value, so that two changes within the
		// second of write_date are told apart.
		names = d.fields
	}
	v := f.Fingerprint(names)
	if archived {
		v += "/archived"
	}
	return v
}

// createdPrefix starts the version a create returns without reading the new
// record back (a read per batch costs some 10 % of the create rate): the
// content the op wrote. An update planned against it goes through while the
// record holds that content. A value Odoo changed on create (a default unit,
// a normalised code) makes the first such update a conflict, which the
// engine resolves by reading the record again.
const createdPrefix = "created/"

func (d *entityDef) createdVersion(f model.Fields) string {
	archived := false
	if a, ok := f["active"]; ok && a.Kind == model.KindBool {
		archived = !a.Bool
	}
	return createdPrefix + d.content(f, archived)
}

// versionMatches reports whether an update planned against version may write
// the record as it is now.
func versionMatches(version string, cur model.Record) bool {
	if content, ok := strings.CutPrefix(version, createdPrefix); ok {
		_, now, _ := strings.Cut(cur.Version, "/")
		return content == now
	}
	return version == cur.Version
}

// mapErr translates a client error into the connector contract's errors.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, odoorpc.ErrRateLimited):
		return &connector.RetryAfterError{After: connector.RetryAfter(err), Err: fmt.Errorf("%w: %w", connector.ErrRateLimited, err)}
	case errors.Is(err, odoorpc.ErrUnauthorized):
		return fmt.Errorf("%w: %w", connector.ErrUnauthorized, err)
	case odoorpc.IsPermanent(err):
		return connector.Permanent("", err)
	}
	return err
}

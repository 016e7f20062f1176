package tryton

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/tryton/trytonrpc"
	"github.com/concord-sync/concord/internal/model"
)

// entityDef maps one canonical entity to a Tryton model.
type entityDef struct {
	entity   model.Entity
	model    string
	fields   []string
	readOnly []string
	// read lists the Tryton fields a record needs (dotted reads allowed).
	read []string
	// children are relations whose create/write dates count as changes of the
	// record: Tryton does not bump the parent when a child is edited directly.
	children []string
	// childDomains, when set, replace children in the change search (for
	// children read through a function field Tryton cannot search on).
	childDomains []string
	// ignoreChild, when set, leaves children out of the change time (the
	// party's contacts are records of their own, entity contact); stampExtra
	// lists the child fields it needs.
	ignoreChild func(child string, r trytonrpc.Record) bool
	stampExtra  []string
	// linkDomain finds records by link key; nil when the entity has none.
	linkDomain func(c *Conn, keys []string) trytonrpc.Domain
	// linkKey returns the link key stored in a read record.
	linkKey func(c *Conn, r trytonrpc.Record) string
	// domain restricts what the entity covers (e.g. customer invoices only).
	domain func(c *Conn) trytonrpc.Domain
	// context adds read context keys (locations for stock).
	context func(c *Conn) trytonrpc.Context
	// toFields translates a read record.
	toFields func(c *Conn, r trytonrpc.Record) model.Fields
	// create returns the values of a create; update the values of a write given
	// the current record (read with read + change fields). Nil means read-only.
	create func(ctx context.Context, c *Conn, op connector.Op) (trytonrpc.Values, error)
	update func(ctx context.Context, c *Conn, op connector.Op, cur trytonrpc.Record) (trytonrpc.Values, error)
	// createModel is the model the create call goes to when it is not model
	// (product: the template, with its variant nested); created then maps the
	// ids it returns to ids of model, in order.
	createModel string
	created     func(ctx context.Context, c *Conn, ids []int64) ([]int64, error)
	// writeModel and writeID say which record an update writes when it is not
	// the record itself (product: its template, with the variant nested).
	writeModel string
	writeID    func(cur trytonrpc.Record) int64
	// afterCreate runs once per created batch (sale: quote and confirm) and
	// returns a per-record error, nil for success.
	afterCreate func(ctx context.Context, c *Conn, ids []int64) []error
	// afterUpdate runs on the records an update batch left without error,
	// written or found already as asked (a sale's workflow is finished).
	afterUpdate func(ctx context.Context, c *Conn, ids []int64) []error
	// lazyVersion makes creates return createdVersion instead of reading the
	// new records back (see createdVersion).
	lazyVersion bool
	// hasActive is true when the model can be archived (field active).
	hasActive bool
	// labels maps Tryton field labels (as in error messages) to canonical fields.
	labels map[string]string
}

var entities = map[model.Entity]*entityDef{
	model.Account: accountDef(),
	model.Contact: contactDef(),
	model.Product: productDef(),
	model.Order:   orderDef(),
	model.Invoice: invoiceDef(),
}

func (c *Conn) def(e model.Entity) (*entityDef, error) {
	d, ok := entities[e]
	if !ok || d == nil {
		return nil, fmt.Errorf("tryton entity %s: %w", e, connector.ErrUnsupported)
	}
	return d, nil
}

func (d *entityDef) stampFields() []string {
	out := []string{"id", "create_date", "write_date"}
	for _, ch := range d.children {
		out = append(out, ch+".create_date", ch+".write_date")
	}
	return append(out, d.stampExtra...)
}

func (d *entityDef) readContext(c *Conn) trytonrpc.Context {
	ctx := trytonrpc.Context{"active_test": false}
	if d.context != nil {
		for k, v := range d.context(c) {
			ctx[k] = v
		}
	}
	return ctx
}

func (d *entityDef) baseDomain(c *Conn) trytonrpc.Domain {
	if d.domain == nil {
		return trytonrpc.Domain{}
	}
	return d.domain(c)
}

// changedAt returns when the record or one of its children last changed:
// coalesce(write_date, create_date), naive UTC.
func (d *entityDef) changedAt(r trytonrpc.Record) time.Time {
	latest := stamp(r)
	for _, ch := range d.children {
		for _, cr := range related(r, ch) {
			if d.ignoreChild != nil && d.ignoreChild(ch, cr) {
				continue
			}
			if t := stamp(cr); t.After(latest) {
				latest = t
			}
		}
	}
	return latest
}

func stamp(r trytonrpc.Record) time.Time {
	if t := r.Time("write_date"); !t.IsZero() {
		return t
	}
	return r.Time("create_date")
}

// related returns the records read through a dotted many2one or x2many field.
func related(r trytonrpc.Record, name string) []trytonrpc.Record {
	if one := r.Related(name); one != nil {
		return []trytonrpc.Record{one}
	}
	return r.RelatedList(name)
}

// cursor is the read position: the change time of the newest record delivered
// and the records delivered within the overlap window before it, with the
// change time they had, so that a re-read of the window skips them while a
// record committed late with an older time is still found.
type cursor struct {
	T    time.Time        `json:"t"`
	Seen map[string]int64 `json:"seen,omitempty"` // id -> change time, unix µs
}

func parseCursor(s string) (cursor, error) {
	var cur cursor
	if s == "" {
		return cur, nil
	}
	if err := json.Unmarshal([]byte(s), &cur); err != nil {
		return cur, connector.Permanent("", fmt.Errorf("bad tryton cursor: %w", err))
	}
	return cur, nil
}

type candidate struct {
	id int64
	at time.Time
}

// Read implements connector.Connector: records changed since the cursor, by
// coalesce(write_date, create_date) of the record and its children, looking
// back the overlap window; oldest first.
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
	if !cur.T.IsZero() {
		since := cur.T.Add(-c.overlap)
		or := trytonrpc.Domain{"OR", trytonrpc.Leaf("create_date", ">=", since), trytonrpc.Leaf("write_date", ">=", since)}
		search := d.children
		if d.childDomains != nil {
			search = d.childDomains
		}
		for _, ch := range search {
			or = append(or, trytonrpc.Leaf(ch+".create_date", ">=", since), trytonrpc.Leaf(ch+".write_date", ">=", since))
		}
		domain = append(domain, or)
	}
	stamps, err := c.rpc.SearchRead(ctx, d.model, domain, d.stampFields(), trytonrpc.SearchOptions{Context: d.readContext(c)})
	if err != nil {
		return connector.ReadResult{}, c.mapErr(fmt.Sprintf("read %s changes", req.Entity), err)
	}
	var cands []candidate
	for _, r := range stamps {
		at := d.changedAt(r)
		if seen, ok := cur.Seen[strconv.FormatInt(r.ID(), 10)]; ok && seen == at.UnixMicro() {
			continue
		}
		if !cur.T.IsZero() && at.Before(cur.T.Add(-c.overlap)) {
			continue // matched through a child that changed before the window
		}
		cands = append(cands, candidate{id: r.ID(), at: at})
	}
	slices.SortFunc(cands, func(a, b candidate) int {
		if n := a.at.Compare(b.at); n != 0 {
			return n
		}
		return cmp.Compare(a.id, b.id)
	})
	done := len(cands) <= limit
	if !done {
		cands = cands[:limit]
	}
	ids := make([]int64, len(cands))
	for i, cd := range cands {
		ids[i] = cd.id
	}
	recs, err := c.get(ctx, d, ids)
	if err != nil {
		return connector.ReadResult{}, err
	}
	// The cursor moves by the change times the search saw, never by the times
	// of the second read: a record edited between the two calls would otherwise
	// carry the cursor past candidates this page left for the next one.
	next := cursor{T: cur.T, Seen: map[string]int64{}}
	searchedAt := make(map[string]time.Time, len(cands))
	for _, cd := range cands {
		searchedAt[strconv.FormatInt(cd.id, 10)] = cd.at
		if cd.at.After(next.T) {
			next.T = cd.at
		}
	}
	out := make([]model.Record, 0, len(ids))
	for _, id := range ids {
		r, ok := recs[id]
		if !ok {
			continue // deleted between the two calls
		}
		out = append(out, r)
	}
	// Keep what was seen within the window before the new position.
	floor := next.T.Add(-c.overlap)
	for id, at := range cur.Seen {
		if time.UnixMicro(at).UTC().Compare(floor) >= 0 {
			next.Seen[id] = at
		}
	}
	for _, r := range out {
		// Seen at the searched time: an edit after the search is a newer time,
		// found (and delivered again) by the next search.
		if at := searchedAt[r.ID]; at.Compare(floor) >= 0 {
			next.Seen[r.ID] = at.UnixMicro()
		}
	}
	if len(next.Seen) == 0 {
		next.Seen = nil
	}
	b, err := json.Marshal(next)
	if err != nil {
		return connector.ReadResult{}, fmt.Errorf("encode tryton cursor: %w", err)
	}
	return connector.ReadResult{Records: out, Next: string(b), Done: done}, nil
}

// Get implements connector.Connector.
func (c *Conn) Get(ctx context.Context, entity model.Entity, ids []string) (map[string]model.Record, error) {
	d, err := c.def(entity)
	if err != nil {
		return nil, err
	}
	nums := make([]int64, 0, len(ids))
	for _, s := range ids {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			continue // not a Tryton id: absent
		}
		nums = append(nums, n)
	}
	// read refuses ids that do not exist; search first keeps absent ids absent.
	found, err := c.rpc.Search(ctx, d.model, append(d.baseDomain(c), trytonrpc.Leaf("id", "in", nums)), trytonrpc.SearchOptions{Context: d.readContext(c)})
	if err != nil {
		return nil, c.mapErr(fmt.Sprintf("get %s", entity), err)
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

// Lookup implements connector.Connector.
func (c *Conn) Lookup(ctx context.Context, entity model.Entity, linkKeys []string) (map[string]model.Record, error) {
	d, err := c.def(entity)
	if err != nil {
		return nil, err
	}
	if d.linkDomain == nil {
		return nil, fmt.Errorf("lookup tryton %s: %w", entity, connector.ErrUnsupported)
	}
	out := map[string]model.Record{}
	if len(linkKeys) == 0 {
		return out, nil
	}
	ids, err := c.rpc.Search(ctx, d.model, append(d.baseDomain(c), d.linkDomain(c, linkKeys)...), trytonrpc.SearchOptions{Context: d.readContext(c)})
	if err != nil {
		return nil, c.mapErr(fmt.Sprintf("lookup %s", entity), err)
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
		if prev, dup := out[r.LinkKey]; dup && prev.ID < r.ID {
			continue // keep the oldest when a key was stored twice
		}
		out[r.LinkKey] = r
	}
	return out, nil
}

// get reads full records by id.
func (c *Conn) get(ctx context.Context, d *entityDef, ids []int64) (map[int64]model.Record, error) {
	out := make(map[int64]model.Record, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	fields := append(slices.Clone(d.read), d.stampFields()...)
	fields = append(fields, "_timestamp")
	if d.hasActive {
		fields = append(fields, "active")
	}
	rows, err := c.rpc.Read(ctx, d.model, ids, fields, d.readContext(c))
	if err != nil {
		return nil, c.mapErr(fmt.Sprintf("read %s", d.entity), err)
	}
	for _, r := range rows {
		rec := model.Record{
			Entity:    d.entity,
			ID:        strconv.FormatInt(r.ID(), 10),
			Version:   d.version(r),
			UpdatedAt: d.changedAt(r),
			Fields:    d.toFields(c, r),
		}
		if a, ok := rec.Fields["active"]; ok && a.Kind == model.KindBool {
			rec.Archived = !a.Bool
		} else if _, ok := r["active"]; ok {
			rec.Archived = !r.Bool("active")
		}
		if d.linkKey != nil {
			rec.LinkKey = d.linkKey(c, r)
		}
		out[r.ID()] = rec
	}
	return out, nil
}

// version is the record's version token: the server's _timestamp (checked by
// the server on write) and the exact change time in µs of the record and its
// children (checked by the connector, because _timestamp has a 1 s resolution
// on SQLite and does not see children edited on their own).
func (d *entityDef) version(r trytonrpc.Record) string {
	return r.Timestamp() + "/" + strconv.FormatInt(d.changedAt(r).UnixMicro(), 10)
}

// createdVersion is the version a create returns without reading the new
// record back: "as created, never changed since". An update planned against
// it goes through only while the record's write_date is null and no child
// changed after the record's creation, which is exact; the server's
// _timestamp of the read made just before the write covers the rest.
const createdVersion = "created"

func (d *entityDef) writeModelName() string {
	if d.writeModel != "" {
		return d.writeModel
	}
	return d.model
}

func splitVersion(v string) (server, micros string) {
	for i := len(v) - 1; i >= 0; i-- {
		if v[i] == '/' {
			return v[:i], v[i+1:]
		}
	}
	return v, ""
}

// mapErr translates a client error into the connector contract's errors.
func (c *Conn) mapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	var rl *trytonrpc.RateLimitError
	switch {
	case errors.As(err, &rl):
		return &connector.RetryAfterError{After: rl.RetryAfter, Err: fmt.Errorf("%s: %w: %w", op, connector.ErrRateLimited, err)}
	case errors.Is(err, trytonrpc.ErrUnauthorized):
		return fmt.Errorf("%s: %w: %w", op, connector.ErrUnauthorized, err)
	case errors.Is(err, trytonrpc.ErrConcurrency):
		return fmt.Errorf("%s: %w: %w", op, connector.ErrConflict, err)
	case trytonrpc.IsPermanent(err):
		return connector.Permanent("", fmt.Errorf("%s: %w", op, err))
	}
	return fmt.Errorf("%s: %w", op, err)
}

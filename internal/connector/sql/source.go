package sqlconn

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/model"
)

// cursor is the position of the last row a Read returned: its updated_at as the
// database gave it (text or RFC 3339) and its id.
type cursor struct {
	TS string `json:"t"`
	ID string `json:"i"`
	// W and A are the rows of the overlap window already delivered, so that
	// a window holding more rows than a page is paged through instead of the
	// same rows coming back each time: their ids (W) and updated_at as Unix
	// nanoseconds (A), oldest first, each but the first as the difference to
	// the one before. A row may appear twice, at an old and a newer
	// updated_at; the newer counts.
	W []string `json:"w,omitempty"`
	A []int64  `json:"a,omitempty"`
	// Old is the form cursors of earlier versions kept Seen in: id -> the
	// updated_at as read. It is read, never written.
	Old map[string]string `json:"s,omitempty"`

	seen []seenRow // decoded from W and A, or Old
}

// seenRow is a window row delivered at an instant.
type seenRow struct {
	id string
	at int64 // updated_at, Unix nanoseconds
}

// maxSeen bounds the cursor's memory of delivered window rows; past it the
// oldest are forgotten and may be delivered again (never lost).
const maxSeen = 5000

func parseCursor(s string) (*cursor, error) {
	if s == "" {
		return nil, nil
	}
	var c cursor
	if err := json.Unmarshal([]byte(s), &c); err != nil || c.TS == "" || len(c.W) != len(c.A) {
		return nil, fmt.Errorf("bad cursor %q", s)
	}
	if _, err := parseTimeText(c.TS); err != nil {
		return nil, fmt.Errorf("bad cursor %q: %w", s, err)
	}
	var at int64
	c.seen = make([]seenRow, len(c.W), len(c.W)+len(c.Old))
	for i, id := range c.W {
		at += c.A[i]
		c.seen[i] = seenRow{id, at}
	}
	for id, ts := range c.Old {
		if t, err := parseTimeText(ts); err == nil {
			c.seen = append(c.seen, seenRow{id, t.UnixNano()})
		}
	}
	if len(c.Old) > 0 {
		slices.SortStableFunc(c.seen, func(a, b seenRow) int { return cmp.Compare(a.at, b.at) })
	}
	c.W, c.A, c.Old = nil, nil, nil
	return &c, nil
}

func (c cursor) String() string {
	c.W, c.A, c.Old = make([]string, len(c.seen)), make([]int64, len(c.seen)), nil
	var prev int64
	for i, r := range c.seen {
		c.W[i], c.A[i], prev = r.id, r.at-prev, r.at
	}
	b, _ := json.Marshal(c)
	return string(b)
}

// seenAt maps the ids of c's delivered window rows to the instant each was
// last delivered at.
func (c *cursor) seenAt() map[string]int64 {
	m := make(map[string]int64, len(c.seen))
	for _, r := range c.seen {
		m[r.id] = r.at // oldest first: the newest wins
	}
	return m
}

// rawTime renders a driver's updated_at value for the cursor.
func rawTime(raw any) string {
	switch v := raw.(type) {
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano)
	case []byte:
		return string(v)
	case string:
		return v
	}
	return fmt.Sprint(raw)
}

// bindTS is the bind value for a cursor timestamp. SQLite compares text, so it
// gets the row's own text back and equality holds for rows written by others in
// another layout; the other databases compare time values.
func (c *Conn) bindTS(raw string) (any, error) {
	t, err := parseTimeText(raw)
	if err != nil {
		return nil, err
	}
	if c.d.name == DriverSQLite {
		return raw, nil
	}
	return c.d.encodeTime(t), nil
}

// selectFrom returns "SELECT <columns> FROM <table>" for t.
func (c *Conn) selectFrom(t *table) string {
	d := c.d
	cols := []string{d.asText(t.id), d.ident(t.updatedAt)}
	if t.link != "" {
		cols = append(cols, d.asText(t.link))
	}
	if t.archived != "" {
		cols = append(cols, d.ident(t.archived))
	}
	cols = c.scalarCols(cols, t)
	return "SELECT " + strings.Join(cols, ", ") + " FROM " + d.ident(t.name...)
}

// scalarCols appends the select expressions of t's scalar fields: numbers as
// text (exact decimals, never float), then each money field's currency column.
func (c *Conn) scalarCols(cols []string, t *table) []string {
	d := c.d
	for _, f := range t.scalars {
		switch f.typ {
		case model.TypeDecimal, model.TypeMoney:
			cols = append(cols, d.asText(f.col))
		default:
			cols = append(cols, d.ident(f.col))
		}
		if f.currencyColumn != "" {
			cols = append(cols, d.ident(f.currencyColumn))
		}
	}
	return cols
}

// scanned is one row: the record and the raw updated_at for cursors.
type scanned struct {
	rec   model.Record
	rawTS string
}

// scanRows reads every row of a selectFrom query.
func (c *Conn) scanRows(t *table, rows *sql.Rows) ([]scanned, error) {
	defer rows.Close()
	n := 2 + len(t.scalars)
	if t.link != "" {
		n++
	}
	if t.archived != "" {
		n++
	}
	for _, f := range t.scalars {
		if f.currencyColumn != "" {
			n++
		}
	}
	vals := make([]any, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var out []scanned
	for rows.Next() {
		clear(vals)
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("scan %s: %w", t.entity, err)
		}
		s, err := c.decodeRow(t, vals)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s rows: %w", t.entity, err)
	}
	return out, nil
}

func (c *Conn) decodeRow(t *table, vals []any) (scanned, error) {
	id, err := asString(vals[0])
	if err != nil {
		return scanned{}, fmt.Errorf("read %s id: %w", t.entity, err)
	}
	if vals[1] == nil {
		return scanned{}, fmt.Errorf("read %s %s: %s is null", t.entity, id, t.updatedAt)
	}
	ts, err := parseTime(vals[1])
	if err != nil {
		return scanned{}, fmt.Errorf("read %s %s: %w", t.entity, id, err)
	}
	rec := model.Record{Entity: t.entity, ID: id, UpdatedAt: ts, Version: ts.Format(time.RFC3339Nano), Fields: make(model.Fields, len(t.fields))}
	i := 2
	if t.link != "" {
		if vals[i] != nil {
			if rec.LinkKey, err = asString(vals[i]); err != nil {
				return scanned{}, fmt.Errorf("read %s %s link: %w", t.entity, id, err)
			}
		}
		i++
	}
	if t.archived != "" {
		if vals[i] != nil {
			if rec.Archived, err = asBool(vals[i]); err != nil {
				return scanned{}, fmt.Errorf("read %s %s archived: %w", t.entity, id, err)
			}
		}
		i++
	}
	for _, f := range t.scalars {
		raw := vals[i]
		i++
		var cur any
		if f.currencyColumn != "" {
			cur = vals[i]
			i++
		}
		v, err := decodeValue(f, raw, cur)
		if err != nil {
			return scanned{}, fmt.Errorf("read %s %s field %s: %w", t.entity, id, f.field, err)
		}
		rec.Fields[f.field] = v
	}
	return scanned{rec: rec, rawTS: rawTime(vals[1])}, nil
}

// query runs a selectFrom query with a suffix.
func (c *Conn) query(ctx context.Context, q queryer, t *table, where string, a *args) ([]scanned, error) {
	rows, err := q.QueryContext(ctx, c.selectFrom(t)+where, a.vals...)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", t.entity, err)
	}
	return c.scanRows(t, rows)
}

// queryer is *sql.DB or *sql.Tx.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Read implements connector.Connector. Rows are read in (updated_at, id) order
// after the cursor. When the page has room, the newest rows of the overlap
// window before the cursor (updated_at >= cursor - overlap) are re-delivered
// first, so a row whose transaction committed late is still seen; the engine
// drops the ones it already has by id and version. Done is true when fewer than Limit rows lie
// past the cursor, so paging always terminates.
func (c *Conn) Read(ctx context.Context, req connector.ReadRequest) (connector.ReadResult, error) {
	res, err := c.read(ctx, req)
	if err != nil {
		// A busy or unreachable database is transient, an unknown table or
		// column permanent: the callers retry the one and stop at the other.
		return connector.ReadResult{}, classifyConn(err)
	}
	return res, nil
}

func (c *Conn) read(ctx context.Context, req connector.ReadRequest) (connector.ReadResult, error) {
	t, err := c.table("read", req.Entity)
	if err != nil {
		return connector.ReadResult{}, err
	}
	cur, err := parseCursor(req.Cursor)
	if err != nil {
		return connector.ReadResult{}, fmt.Errorf("read %s: %w", req.Entity, err)
	}
	limit := req.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	d := c.d
	// The columns are qualified with the table: PostgreSQL names the select
	// list's CAST(id AS TEXT) "id", and an unqualified ORDER BY id would sort
	// the ids as text ("10" before "9") while the WHERE compares them as the
	// column's type, skipping rows at a page boundary.
	u, id := d.ident(append(slices.Clone(t.name), t.updatedAt)...), d.ident(append(slices.Clone(t.name), t.id)...)
	order := " ORDER BY " + u + ", " + id + " LIMIT " + fmt.Sprint(limit)

	a := &args{d: d}
	where := ""
	if cur != nil {
		ts, err := c.bindTS(cur.TS)
		if err != nil {
			return connector.ReadResult{}, fmt.Errorf("read %s: %w", req.Entity, err)
		}
		// "u >= ts AND (u > ts OR id > cursor id)" rather than the equal
		// "u > ts OR (u = ts AND id > cursor id)": PostgreSQL reads the first
		// as a range of an index on updated_at, the second as a filter over
		// the whole index (or table) for every page. MariaDB reads both as a
		// range.
		where = " WHERE " + u + " >= " + a.add(ts) + " AND (" + u + " > " + a.add(ts) + " OR " + id + " > " + a.add(cur.ID) + ")"
	}
	fresh, err := c.query(ctx, c.db, t, where+order, a)
	if err != nil {
		return connector.ReadResult{}, fmt.Errorf("read: %w", err)
	}

	// The overlap window fills the page's spare room with rows not delivered
	// yet at their current updated_at (cursor.Seen), oldest first: a row whose
	// transaction committed late is found whatever its place in the window
	// (found in review: cut to the room, the same old rows came back each time
	// and a late one behind them never did). A full page has no room; the next,
	// emptier page looks again.
	var window []scanned
	if room := limit - len(fresh); cur != nil && c.cfg.overlap > 0 && room > 0 {
		ts, _ := c.bindTS(cur.TS)
		start, _ := parseTimeText(cur.TS)
		a := &args{d: d}
		// Bounded on both sides, so that it is one range of an index on
		// updated_at.
		w := " WHERE " + u + " >= " + a.add(d.encodeTime(start.Add(-c.cfg.overlap))) +
			" AND " + u + " <= " + a.add(ts) + " AND (" + u + " < " + a.add(ts) + " OR " + id + " <= " + a.add(cur.ID) + ")" +
			" ORDER BY " + u + ", " + id + " LIMIT " + fmt.Sprint(room+len(cur.seen))
		rows, err := c.query(ctx, c.db, t, w, a)
		if err != nil {
			return connector.ReadResult{}, fmt.Errorf("read overlap: %w", err)
		}
		seen := cur.seenAt()
		for _, s := range rows {
			if at, ok := seen[s.rec.ID]; len(window) < room && (!ok || at != s.rec.UpdatedAt.UnixNano()) {
				window = append(window, s)
			}
		}
	}

	all := make([]model.Record, 0, len(window)+len(fresh))
	for _, s := range window {
		all = append(all, s.rec)
	}
	for _, s := range fresh {
		all = append(all, s.rec)
	}
	if err := c.attachLines(ctx, c.db, t, all, req.Fields); err != nil {
		return connector.ReadResult{}, fmt.Errorf("read: %w", err)
	}

	res := connector.ReadResult{Next: req.Cursor, Done: len(fresh) < limit}
	res.Records = make([]model.Record, 0, len(window)+len(fresh))
	for _, s := range window {
		res.Records = append(res.Records, project(s.rec, req.Fields))
	}
	for _, s := range fresh {
		res.Records = append(res.Records, project(s.rec, req.Fields))
	}
	next := cursor{}
	if cur != nil {
		next = *cur
	}
	if n := len(fresh); n > 0 {
		next.TS, next.ID = fresh[n-1].rawTS, fresh[n-1].rec.ID
	}
	if next.TS != "" {
		next.seen = c.remember(next, cur, window, fresh)
		res.Next = next.String()
	}
	return res, nil
}

// remember is the cursor's memory of delivered window rows after a page: what
// it had and what the page delivered, less what fell out of the overlap
// window before the new position, oldest first. Fresh rows sort after every
// row remembered, so only window rows need sorting in.
func (c *Conn) remember(next cursor, cur *cursor, window, fresh []scanned) []seenRow {
	if c.cfg.overlap <= 0 {
		return nil
	}
	pos, err := parseTimeText(next.TS)
	if err != nil {
		return nil
	}
	floor := pos.Add(-c.cfg.overlap).UnixNano()
	var old []seenRow
	if cur != nil {
		old = cur.seen
	}
	var out []seenRow
	if len(window) > 0 {
		out = make([]seenRow, 0, len(old)+len(window)+len(fresh))
		out = append(out, old...)
		for _, s := range window {
			out = append(out, seenRow{s.rec.ID, s.rec.UpdatedAt.UnixNano()})
		}
		slices.SortStableFunc(out, func(a, b seenRow) int { return cmp.Compare(a.at, b.at) })
	} else {
		i, _ := slices.BinarySearchFunc(old, floor, func(r seenRow, f int64) int { return cmp.Compare(r.at, f) })
		out = make([]seenRow, 0, len(old)-i+len(fresh))
		out = append(out, old[i:]...)
	}
	for _, s := range fresh {
		out = append(out, seenRow{s.rec.ID, s.rec.UpdatedAt.UnixNano()})
	}
	i, _ := slices.BinarySearchFunc(out, floor, func(r seenRow, f int64) int { return cmp.Compare(r.at, f) })
	out = out[i:]
	if len(out) > maxSeen {
		out = out[len(out)-maxSeen:]
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func project(r model.Record, fields []string) model.Record {
	if fields != nil {
		r.Fields = r.Fields.Only(fields)
	}
	return r
}

// Get implements connector.Connector with chunked IN queries on the id column;
// lines fields are read with chunked IN queries on the child tables.
func (c *Conn) Get(ctx context.Context, entity model.Entity, ids []string) (map[string]model.Record, error) {
	t, err := c.table("get", entity)
	if err != nil {
		return nil, err
	}
	out, err := c.getBy(ctx, c.db, t, t.id, ids, false)
	if err != nil {
		return nil, err
	}
	if err := c.attachLines(ctx, c.db, t, slices.Collect(maps.Values(out)), nil); err != nil {
		return nil, fmt.Errorf("get: %w", err)
	}
	return out, nil
}

// Lookup implements connector.Connector with chunked IN queries on the link
// column; lines fields are read as in Get.
func (c *Conn) Lookup(ctx context.Context, entity model.Entity, linkKeys []string) (map[string]model.Record, error) {
	t, err := c.table("lookup", entity)
	if err != nil {
		return nil, err
	}
	out, err := c.getBy(ctx, c.db, t, t.link, linkKeys, true)
	if err != nil {
		return nil, err
	}
	if err := c.attachLines(ctx, c.db, t, slices.Collect(maps.Values(out)), nil); err != nil {
		return nil, fmt.Errorf("lookup: %w", err)
	}
	return out, nil
}

// getBy returns rows whose col is one of keys, keyed by id or by link key.
func (c *Conn) getBy(ctx context.Context, q queryer, t *table, col string, keys []string, byLink bool) (map[string]model.Record, error) {
	out := make(map[string]model.Record, len(keys))
	for _, chunk := range chunks(keys) {
		a := &args{d: c.d}
		where := " WHERE " + c.d.ident(col) + " IN (" + a.list(chunk) + ")"
		rows, err := c.query(ctx, q, t, where, a)
		if err != nil && isBadInput(err) {
			// A key the column's type cannot hold (a text id for a bigint
			// column) matches nothing; compare as text instead.
			a = &args{d: c.d}
			where = " WHERE " + c.d.asText(col) + " IN (" + a.list(chunk) + ")"
			rows, err = c.query(ctx, q, t, where, a)
		}
		if err != nil {
			return nil, fmt.Errorf("get by %s: %w", col, err)
		}
		for _, s := range rows {
			key := s.rec.ID
			if byLink {
				key = s.rec.LinkKey
			}
			out[key] = s.rec
		}
	}
	return out, nil
}

package memory

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/model"
)

// DefaultLimit is the page size Read uses when the request gives none.
const DefaultLimit = 1000

var (
	_ connector.Connector = (*Conn)(nil)
	_ connector.Archiver  = (*Conn)(nil)
	_ connector.Pinger    = (*Conn)(nil)
)

// Conn is an in-memory system. All methods are safe for concurrent use. The zero
// value is not usable; call New.
type Conn struct {
	name string

	// FailFunc, when set, is called for every create and update op inside Write;
	// a non-nil error becomes that op's Result.Err and the op is not applied. Set
	// it before the Conn is shared, or use SetFailFunc.
	FailFunc func(op connector.Op) error
	// WriteErr, when set, makes Write and Archive fail as a whole call with this
	// error, applying nothing. Set it before the Conn is shared, or use SetWriteErr.
	WriteErr error

	mu     sync.RWMutex
	seq    uint64
	lastAt time.Time
	tables map[model.Entity]*table
}

// table holds one entity's records.
type table struct {
	recs  map[string]*entry
	links map[string]string // link key -> id
	log   []logItem         // change log in seq order; entries whose seq moved on are stale
	stale int
}

// entry is one record and the sequence number of its last change.
type entry struct {
	rec model.Record
	seq uint64
}

// logItem is one change: the record id and the seq it got. It is stale when the
// record has changed again since.
type logItem struct {
	id  string
	seq uint64
}

// New returns an empty in-memory system called name that holds the given entities.
// Entities not listed are added on the first Put; Write refuses them.
func New(name string, entities ...model.Entity) *Conn {
	c := &Conn{name: name, tables: map[model.Entity]*table{}}
	for _, e := range entities {
		c.tables[e] = newTable()
	}
	return c
}

func newTable() *table {
	return &table{recs: map[string]*entry{}, links: map[string]string{}}
}

// Name returns the system name given to New.
func (c *Conn) Name() string { return c.name }

// SetFailFunc sets FailFunc under the Conn's lock, for use while other goroutines
// are writing.
func (c *Conn) SetFailFunc(f func(op connector.Op) error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.FailFunc = f
}

// SetWriteErr sets WriteErr under the Conn's lock, for use while other goroutines
// are writing.
func (c *Conn) SetWriteErr(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.WriteErr = err
}

// addEntities makes sure tables exist for entities.
func (c *Conn) addEntities(entities ...model.Entity) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range entities {
		if _, ok := c.tables[e]; !ok {
			c.tables[e] = newTable()
		}
	}
}

// next advances the sequence and the clock; callers hold c.mu for writing.
// UpdatedAt is truncated to microseconds (what most databases keep) and strictly
// increasing, so (UpdatedAt, ID) orders changes the same way the sequence does.
func (c *Conn) next() (uint64, time.Time) {
	c.seq++
	now := time.Now().UTC().Truncate(time.Microsecond)
	if !now.After(c.lastAt) {
		now = c.lastAt.Add(time.Microsecond)
	}
	c.lastAt = now
	return c.seq, now
}

// commit stores rec in t with a fresh sequence number and logs the change;
// callers hold c.mu for writing. An existing entry is updated in place.
func (c *Conn) commit(t *table, e *entry, rec model.Record) *entry {
	seq, at := c.next()
	if rec.ID == "" {
		rec.ID = "m" + strconv.FormatUint(seq, 10)
	}
	rec.UpdatedAt = at
	rec.Version = strconv.FormatUint(seq, 10)
	if e == nil {
		e = &entry{}
		t.recs[rec.ID] = e
	} else {
		t.stale++
		if e.rec.LinkKey != "" && e.rec.LinkKey != rec.LinkKey && t.links[e.rec.LinkKey] == e.rec.ID {
			delete(t.links, e.rec.LinkKey)
		}
	}
	e.rec = rec
	e.seq = seq
	if rec.LinkKey != "" {
		t.links[rec.LinkKey] = rec.ID
	}
	t.log = append(t.log, logItem{id: rec.ID, seq: seq})
	if t.stale > 1024 && t.stale > len(t.log)/2 {
		t.compact()
	}
	return e
}

// compact drops stale log items.
func (t *table) compact() {
	live := t.log[:0]
	for _, it := range t.log {
		if e, ok := t.recs[it.id]; ok && e.seq == it.seq {
			live = append(live, it)
		}
	}
	clear(t.log[len(live):])
	t.log = live
	t.stale = 0
}

// Put stores rec as if a user had edited the system: a record with an empty or
// unknown ID is created (an empty ID gets a new one), an existing one has its
// fields, link key and archived flag replaced. UpdatedAt, Version and the
// sequence are bumped. Put returns the stored record. Unknown entities are added.
func (c *Conn) Put(rec model.Record) model.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.tables[rec.Entity]
	if !ok {
		t = newTable()
		c.tables[rec.Entity] = t
	}
	rec = rec.Clone()
	var e *entry
	if rec.ID != "" {
		e = t.recs[rec.ID]
	}
	return c.commit(t, e, rec).rec.Clone()
}

// All returns copies of every record of entity in change order (oldest change
// first).
func (c *Conn) All(entity model.Entity) []model.Record {
	c.mu.RLock()
	defer c.mu.RUnlock()
	t, ok := c.tables[entity]
	if !ok {
		return nil
	}
	out := make([]model.Record, 0, len(t.recs))
	for _, it := range t.log {
		if e, ok := t.recs[it.id]; ok && e.seq == it.seq {
			out = append(out, e.rec.Clone())
		}
	}
	return out
}

// Count returns the number of records of entity, archived ones included.
func (c *Conn) Count(entity model.Entity) int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if t, ok := c.tables[entity]; ok {
		return len(t.recs)
	}
	return 0
}

// Entities implements connector.Connector: every held entity with its standard
// canonical fields, in canonical order.
func (c *Conn) Entities() []connector.EntityInfo {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []connector.EntityInfo
	for e := range c.tables {
		info := connector.EntityInfo{Entity: e}
		for _, d := range model.Schema(e) {
			info.Fields = append(info.Fields, d.Name)
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool {
		return entityIndex(out[i].Entity) < entityIndex(out[j].Entity) ||
			entityIndex(out[i].Entity) == entityIndex(out[j].Entity) && out[i].Entity < out[j].Entity
	})
	return out
}

func entityIndex(e model.Entity) int {
	if i := slices.Index(model.Entities, e); i >= 0 {
		return i
	}
	return len(model.Entities)
}

// Read implements connector.Connector. The cursor is the decimal sequence number
// of the last change returned; a cursor that is not a number is an error.
func (c *Conn) Read(ctx context.Context, req connector.ReadRequest) (connector.ReadResult, error) {
	if err := ctx.Err(); err != nil {
		return connector.ReadResult{}, err
	}
	var after uint64
	if req.Cursor != "" {
		n, err := strconv.ParseUint(req.Cursor, 10, 64)
		if err != nil {
			return connector.ReadResult{}, fmt.Errorf("read %s: bad cursor %q: %w", req.Entity, req.Cursor, err)
		}
		after = n
	}
	limit := req.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	t, ok := c.tables[req.Entity]
	if !ok {
		return connector.ReadResult{}, fmt.Errorf("read %s: %w", req.Entity, connector.ErrUnsupported)
	}
	i := sort.Search(len(t.log), func(i int) bool { return t.log[i].seq > after })
	res := connector.ReadResult{Next: req.Cursor}
	for ; i < len(t.log); i++ {
		it := t.log[i]
		e, ok := t.recs[it.id]
		if !ok || e.seq != it.seq {
			continue
		}
		if len(res.Records) == limit {
			return res, nil
		}
		rec := e.rec.Clone()
		if req.Fields != nil {
			rec.Fields = rec.Fields.Only(req.Fields)
		}
		res.Records = append(res.Records, rec)
		res.Next = strconv.FormatUint(it.seq, 10)
	}
	res.Done = true
	return res, nil
}

// Get implements connector.Connector.
func (c *Conn) Get(ctx context.Context, entity model.Entity, ids []string) (map[string]model.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	t, ok := c.tables[entity]
	if !ok {
		return nil, fmt.Errorf("get %s: %w", entity, connector.ErrUnsupported)
	}
	out := make(map[string]model.Record, len(ids))
	for _, id := range ids {
		if e, ok := t.recs[id]; ok {
			out[id] = e.rec.Clone()
		}
	}
	return out, nil
}

// Lookup implements connector.Connector: records by the link key stored on create.
func (c *Conn) Lookup(ctx context.Context, entity model.Entity, linkKeys []string) (map[string]model.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	t, ok := c.tables[entity]
	if !ok {
		return nil, fmt.Errorf("lookup %s: %w", entity, connector.ErrUnsupported)
	}
	out := make(map[string]model.Record, len(linkKeys))
	for _, k := range linkKeys {
		if id, ok := t.links[k]; ok && k != "" {
			out[k] = t.recs[id].rec.Clone()
		}
	}
	return out, nil
}

// Write implements connector.Connector. Creates store op.LinkKey; a create whose
// link key already exists updates that record instead (the safe upsert a real
// system would do with a unique link field). Updates write only op.Fields. A
// non-empty op.Version that differs from the record's current version is refused
// with connector.ErrConflict. Values of the wrong kind for a standard field are
// refused with a permanent error naming the field. An unknown entity fails every
// op with an error wrapping connector.ErrUnsupported.
func (c *Conn) Write(ctx context.Context, entity model.Entity, ops []connector.Op) ([]connector.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.WriteErr != nil {
		return nil, fmt.Errorf("write %s: %w", entity, c.WriteErr)
	}
	results := make([]connector.Result, len(ops))
	t, ok := c.tables[entity]
	for i, op := range ops {
		if !ok {
			results[i].Err = connector.Permanent("", fmt.Errorf("write %s: %w", entity, connector.ErrUnsupported))
			continue
		}
		if c.FailFunc != nil {
			if err := c.FailFunc(op); err != nil {
				results[i].Err = err
				continue
			}
		}
		results[i] = c.apply(t, entity, op)
	}
	return results, nil
}

// apply performs one op; callers hold c.mu for writing.
func (c *Conn) apply(t *table, entity model.Entity, op connector.Op) connector.Result {
	for name, v := range op.Fields {
		if d, ok := model.LookupField(entity, name); ok {
			if err := d.Check(v); err != nil {
				return connector.Result{Err: connector.Permanent(name, err)}
			}
		}
	}
	var e *entry
	switch op.Kind {
	case connector.OpCreate:
		if op.LinkKey != "" {
			if id, ok := t.links[op.LinkKey]; ok {
				e = t.recs[id]
			}
		}
	case connector.OpUpdate:
		e = t.recs[op.ID]
		if e == nil {
			return connector.Result{Err: connector.Permanent("", fmt.Errorf("update %s %s: %w", entity, op.ID, connector.ErrNotFound))}
		}
		if op.Version != "" && op.Version != e.rec.Version {
			return connector.Result{ID: op.ID, Err: fmt.Errorf("update %s %s: %w", entity, op.ID, connector.ErrConflict)}
		}
	default:
		return connector.Result{Err: connector.Permanent("", fmt.Errorf("write %s: unknown op kind %q: %w", entity, op.Kind, connector.ErrUnsupported))}
	}
	var rec model.Record
	if e != nil {
		rec = e.rec.Clone()
	} else {
		rec = model.Record{Entity: entity, LinkKey: op.LinkKey, Fields: make(model.Fields, len(op.Fields))}
	}
	for name, v := range op.Fields {
		rec.Fields[name] = v
	}
	if op.Kind == connector.OpCreate && op.LinkKey != "" {
		rec.LinkKey = op.LinkKey
	}
	e = c.commit(t, e, rec)
	return connector.Result{ID: e.rec.ID, Version: e.rec.Version, UpdatedAt: e.rec.UpdatedAt}
}

// Archive implements connector.Archiver: it flags the records archived and bumps
// their version. Unknown ids get a permanent per-record error wrapping
// connector.ErrNotFound.
func (c *Conn) Archive(ctx context.Context, entity model.Entity, ids []string) ([]connector.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.WriteErr != nil {
		return nil, fmt.Errorf("archive %s: %w", entity, c.WriteErr)
	}
	t, ok := c.tables[entity]
	if !ok {
		return nil, fmt.Errorf("archive %s: %w", entity, connector.ErrUnsupported)
	}
	results := make([]connector.Result, len(ids))
	for i, id := range ids {
		e := t.recs[id]
		if e == nil {
			results[i].Err = connector.Permanent("", fmt.Errorf("archive %s %s: %w", entity, id, connector.ErrNotFound))
			continue
		}
		rec := e.rec.Clone()
		rec.Archived = true
		e = c.commit(t, e, rec)
		results[i] = connector.Result{ID: id, Version: e.rec.Version, UpdatedAt: e.rec.UpdatedAt}
	}
	return results, nil
}

// Ping implements connector.Pinger; it fails only when WriteErr is set.
func (c *Conn) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.WriteErr != nil {
		return fmt.Errorf("ping %s: %w", c.name, c.WriteErr)
	}
	return nil
}

// Close implements connector.Connector. It keeps the data (a Hub may hand the same
// Conn out again) and is safe to call any number of times.
func (c *Conn) Close(context.Context) error { return nil }

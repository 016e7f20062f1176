package tryton

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/tryton/trytonrpc"
	"github.com/concord-sync/concord/internal/model"
)

// Write implements connector.Connector. Creates go in batches of batch_size
// records per create call; when Tryton refuses a batch (one transaction), it is
// split in halves until the refused records are isolated, so the others land
// and each refused record gets its own permanent error naming the field.
// Updates are checked against Op.Version (the connector compares the exact
// change time, the server its _timestamp) and written in one call. Writes are
// serialised per connection.
func (c *Conn) Write(ctx context.Context, entity model.Entity, ops []connector.Op) ([]connector.Result, error) {
	d, err := c.def(entity)
	if err != nil {
		return nil, err
	}
	results := make([]connector.Result, len(ops))
	if d.create == nil {
		for i := range results {
			results[i].Err = connector.Permanent("", fmt.Errorf("write tryton %s: read-only: %w", entity, connector.ErrUnsupported))
		}
		return results, nil
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()

	var creates, updates []int
	vals := make([]trytonrpc.Values, len(ops))
	for i, op := range ops {
		switch op.Kind {
		case connector.OpCreate:
			v, err := d.create(ctx, c, op)
			if err != nil {
				results[i].Err = c.opErr(d, op, err)
				continue
			}
			vals[i] = v
			creates = append(creates, i)
		case connector.OpUpdate:
			updates = append(updates, i)
		default:
			results[i].Err = connector.Permanent("", fmt.Errorf("write tryton %s: unknown op kind %q", entity, op.Kind))
		}
	}
	for start := 0; start < len(creates); start += c.batch {
		end := min(start+c.batch, len(creates))
		if err := c.createBatch(ctx, d, ops, vals, creates[start:end], results); err != nil {
			return nil, err
		}
	}
	if len(updates) > 0 {
		if err := c.updateAll(ctx, d, ops, updates, results); err != nil {
			return nil, err
		}
	}
	if err := c.fillVersions(ctx, d, results); err != nil {
		return nil, err
	}
	return results, nil
}

// createBatch creates ops[idx] in one call, bisecting on a refusal. It returns
// an error only for failures of the whole call.
func (c *Conn) createBatch(ctx context.Context, d *entityDef, ops []connector.Op, vals []trytonrpc.Values, idx []int, results []connector.Result) error {
	batch := make([]trytonrpc.Values, len(idx))
	for j, i := range idx {
		batch[j] = vals[i]
	}
	createModel := d.model
	if d.createModel != "" {
		createModel = d.createModel
	}
	ids, err := c.rpc.Create(ctx, createModel, batch, nil)
	if err == nil && d.created != nil {
		ids, err = d.created(ctx, c, ids)
		if err != nil {
			return c.mapErr(fmt.Sprintf("create %s", d.entity), err)
		}
	}
	if err == nil {
		for j, i := range idx {
			if d.lazyVersion {
				results[i].Version = createdVersion
			}
			results[i].ID = strconv.FormatInt(ids[j], 10)
		}
		if d.afterCreate != nil {
			for j, aerr := range d.afterCreate(ctx, c, ids) {
				if aerr != nil {
					results[idx[j]].Err = c.opErr(d, ops[idx[j]], aerr)
				}
			}
		}
		return nil
	}
	if !recordLevel(err) {
		return c.mapErr(fmt.Sprintf("create %s", d.entity), err)
	}
	if len(idx) == 1 || !trytonrpc.IsPermanent(err) {
		for _, i := range idx {
			results[i].Err = c.opErr(d, ops[i], err)
		}
		return nil
	}
	mid := len(idx) / 2
	if err := c.createBatch(ctx, d, ops, vals, idx[:mid], results); err != nil {
		return err
	}
	return c.createBatch(ctx, d, ops, vals, idx[mid:], results)
}

// recordLevel reports whether err concerns the records sent (refusal,
// conflict, lock) rather than the connection.
func recordLevel(err error) bool {
	return trytonrpc.IsPermanent(err) || errors.Is(err, trytonrpc.ErrConcurrency) || errors.Is(err, trytonrpc.ErrLocked)
}

// errAlreadyAsked is returned by an entity's update func when the record already
// holds what the op asks in Tryton's own terms (a sale created by an earlier,
// interrupted attempt): nothing is written and the op succeeds.
var errAlreadyAsked = errors.New("already as asked")

// updateAll checks versions and writes the updates, all in one call when the
// server accepts them, else one by one; then runs the entity's afterUpdate.
func (c *Conn) updateAll(ctx context.Context, d *entityDef, ops []connector.Op, idx []int, results []connector.Result) error {
	if err := c.writeUpdates(ctx, d, ops, idx, results); err != nil {
		return err
	}
	if d.afterUpdate == nil {
		return nil
	}
	var done []int
	var ids []int64
	for _, i := range idx {
		if results[i].Err == nil && results[i].ID != "" {
			id, _ := strconv.ParseInt(results[i].ID, 10, 64)
			done, ids = append(done, i), append(ids, id)
		}
	}
	for k, err := range d.afterUpdate(ctx, c, ids) {
		if err != nil {
			results[done[k]].Err = c.opErr(d, ops[done[k]], err)
		}
	}
	return nil
}

func (c *Conn) writeUpdates(ctx context.Context, d *entityDef, ops []connector.Op, idx []int, results []connector.Result) error {
	ids := make([]int64, 0, len(idx))
	byOp := make(map[int]int64, len(idx))
	for _, i := range idx {
		id, err := strconv.ParseInt(ops[i].ID, 10, 64)
		if err != nil || id <= 0 {
			results[i].Err = connector.Permanent("", fmt.Errorf("update tryton %s %q: %w", d.entity, ops[i].ID, connector.ErrNotFound))
			continue
		}
		ids = append(ids, id)
		byOp[i] = id
	}
	existing, err := c.rpc.Search(ctx, d.model, trytonrpc.Domain{trytonrpc.Leaf("id", "in", ids)}, trytonrpc.SearchOptions{Context: d.readContext(c)})
	if err != nil {
		return c.mapErr(fmt.Sprintf("update %s", d.entity), err)
	}
	fields := append(append([]string{}, d.read...), d.stampFields()...)
	fields = append(fields, "_timestamp")
	rows, err := c.rpc.Read(ctx, d.model, existing, fields, d.readContext(c))
	if err != nil {
		return c.mapErr(fmt.Sprintf("update %s", d.entity), err)
	}
	current := make(map[int64]trytonrpc.Record, len(rows))
	for _, r := range rows {
		current[r.ID()] = r
	}
	type pending struct {
		op  int
		id  int64 // the record
		wid int64 // the record written (writeModel)
		val trytonrpc.Values
		ts  string
	}
	var todo []pending
	for _, i := range idx {
		id, ok := byOp[i]
		if !ok {
			continue
		}
		cur, ok := current[id]
		if !ok {
			results[i].Err = connector.Permanent("", fmt.Errorf("update tryton %s %d: %w", d.entity, id, connector.ErrNotFound))
			continue
		}
		ts := ""
		switch {
		case ops[i].Version == createdVersion:
			// Unchanged since its creation: never written, no child newer.
			if cur.Has("write_date") || !d.changedAt(cur).Equal(cur.Time("create_date")) {
				results[i].Err = fmt.Errorf("update tryton %s %d: %w", d.entity, id, connector.ErrConflict)
				continue
			}
			ts = cur.Timestamp()
		case ops[i].Version != "":
			server, micros := splitVersion(ops[i].Version)
			_, curMicros := splitVersion(d.version(cur))
			if micros != "" && micros != curMicros {
				results[i].Err = fmt.Errorf("update tryton %s %d: %w", d.entity, id, connector.ErrConflict)
				continue
			}
			ts = server
		}
		v, err := d.update(ctx, c, ops[i], cur)
		if errors.Is(err, errAlreadyAsked) {
			results[i].ID = strconv.FormatInt(id, 10)
			continue
		}
		if err != nil {
			results[i].Err = c.opErr(d, ops[i], err)
			continue
		}
		wid := id
		if d.writeID != nil {
			wid = d.writeID(cur)
		}
		todo = append(todo, pending{op: i, id: id, wid: wid, val: v, ts: ts})
	}
	if len(todo) == 0 {
		return nil
	}
	write := func(ps []pending) error {
		params := make([]any, 0, 2*len(ps))
		stamps := map[int64]string{}
		for _, p := range ps {
			params = append(params, []int64{p.wid}, p.val)
			if p.ts != "" {
				stamps[p.id] = p.ts
			}
		}
		var extra trytonrpc.Context
		if len(stamps) > 0 {
			extra = trytonrpc.Timestamps(d.model, stamps)
		}
		_, err := c.rpc.CallContext(ctx, "model."+d.writeModelName()+".write", extra, params...)
		return err
	}
	err = write(todo)
	if err == nil {
		for _, p := range todo {
			results[p.op].ID = strconv.FormatInt(p.id, 10)
		}
		return nil
	}
	if !recordLevel(err) {
		return c.mapErr(fmt.Sprintf("update %s", d.entity), err)
	}
	// One by one to find who was refused.
	for _, p := range todo {
		if err := write([]pending{p}); err != nil {
			if !recordLevel(err) {
				return c.mapErr(fmt.Sprintf("update %s", d.entity), err)
			}
			results[p.op].Err = c.opErr(d, ops[p.op], err)
			continue
		}
		results[p.op].ID = strconv.FormatInt(p.id, 10)
	}
	return nil
}

// fillVersions reads back the version and change time of written records.
func (c *Conn) fillVersions(ctx context.Context, d *entityDef, results []connector.Result) error {
	var ids []int64
	for _, r := range results {
		if r.Err == nil && r.ID != "" && r.Version == "" {
			id, _ := strconv.ParseInt(r.ID, 10, 64)
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	fields := append(d.stampFields(), "_timestamp")
	rows, err := c.rpc.Read(ctx, d.model, ids, fields, d.readContext(c))
	if err != nil {
		return c.mapErr(fmt.Sprintf("read back %s", d.entity), err)
	}
	byID := map[string]trytonrpc.Record{}
	for _, r := range rows {
		byID[strconv.FormatInt(r.ID(), 10)] = r
	}
	for i := range results {
		if r, ok := byID[results[i].ID]; ok && results[i].Err == nil && results[i].Version == "" {
			results[i].Version = d.version(r)
			results[i].UpdatedAt = d.changedAt(r)
		}
	}
	return nil
}

var fieldInMessage = regexp.MustCompile(`field "([^"]+)" (?:in|on) "([^"]+)"`)

// opErr is the per-record error of op: it names the record (id or link key)
// and, when the message says which, the canonical field.
func (c *Conn) opErr(d *entityDef, op connector.Op, err error) error {
	what := fmt.Sprintf("%s %s", op.Kind, d.entity)
	switch {
	case op.ID != "" && op.LinkKey != "":
		what += fmt.Sprintf(" %s (link key %s)", op.ID, op.LinkKey)
	case op.ID != "":
		what += " " + op.ID
	case op.LinkKey != "":
		what += fmt.Sprintf(" (link key %s)", op.LinkKey)
	}
	var fe *fieldError
	if errors.As(err, &fe) {
		return connector.Permanent(fe.field, fmt.Errorf("%s: %w", what, err))
	}
	if errors.Is(err, trytonrpc.ErrConcurrency) {
		return fmt.Errorf("%s: %w: %w", what, connector.ErrConflict, err)
	}
	if !trytonrpc.IsPermanent(err) {
		return fmt.Errorf("%s: %w", what, err)
	}
	field := ""
	var ue *trytonrpc.UserError
	if errors.As(err, &ue) {
		if m := fieldInMessage.FindStringSubmatch(ue.Message); m != nil {
			if f, ok := d.labels[m[2]+"."+m[1]]; ok {
				field = f
			} else if f, ok := d.labels[m[1]]; ok {
				field = f
			}
		}
	}
	return connector.Permanent(field, fmt.Errorf("%s: %w", what, err))
}

// fieldError is a refusal by the connector itself (an unknown country code,
// a value of the wrong kind), naming the canonical field.
type fieldError struct {
	field string
	msg   string
}

func (e *fieldError) Error() string { return e.msg }

func badField(field, format string, args ...any) error {
	return &fieldError{field: field, msg: fmt.Sprintf(format, args...)}
}

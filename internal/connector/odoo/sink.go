package odoo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/odoo/odoorpc"
	"github.com/concord-sync/concord/internal/model"
)

// Write implements connector.Connector. Creates go in batches of batch_size
// records, one create call per batch; a batch Odoo refuses (one transaction)
// is split in halves until the refused records are isolated, so the others
// land and each refused record gets a permanent error naming the canonical
// field when Odoo named one. Updates are checked against Op.Version, then
// written: one call for all updates with equal values, one per record for
// the others (Odoo's write takes one set of values).
func (c *Conn) Write(ctx context.Context, entity model.Entity, ops []connector.Op) ([]connector.Result, error) {
	d, err := c.def(entity)
	if err != nil {
		return nil, err
	}
	if d.write != nil {
		return d.write(ctx, c, d, ops)
	}
	if len(d.readOnly) == len(d.fields) {
		return nil, fmt.Errorf("write odoo %s: the connector reads %s only: %w", entity, entity, connector.ErrUnsupported)
	}
	results := make([]connector.Result, len(ops))
	var creates, updates []int
	vals := make([]odoorpc.Values, len(ops))
	var current map[int64]model.Record
	if d.needsCurrent {
		var ids []int64
		for _, op := range ops {
			if op.Kind == connector.OpUpdate {
				ids = append(ids, parseIDs([]string{op.ID})...)
			}
		}
		if current, err = c.get(ctx, d, ids); err != nil {
			return nil, err
		}
	}
	for i, op := range ops {
		var cur model.Fields
		if n := parseIDs([]string{op.ID}); op.Kind == connector.OpUpdate && len(n) == 1 {
			cur = current[n[0]].Fields
		}
		v, err := d.values(c, op.Fields, cur)
		if err != nil {
			results[i].Err = opErr(d, op, err)
			continue
		}
		// Archive writes active on every entity, mapped or not.
		if a, ok := op.Fields["active"]; ok && a.Kind == model.KindBool {
			v["active"] = a.Bool
		}
		switch op.Kind {
		case connector.OpCreate:
			full := maps.Clone(d.createExtra)
			if full == nil {
				full = odoorpc.Values{}
			}
			maps.Copy(full, v)
			if op.LinkKey != "" && d.linkField != nil {
				full[d.linkField(c)] = op.LinkKey
			}
			vals[i] = full
			creates = append(creates, i)
		case connector.OpUpdate:
			vals[i] = v
			updates = append(updates, i)
		default:
			results[i].Err = connector.Permanent("", fmt.Errorf("write odoo %s: unknown op kind %q", entity, op.Kind))
		}
	}
	for start := 0; start < len(creates); start += c.batch {
		end := min(start+c.batch, len(creates))
		if err := c.createBatch(ctx, d, ops, vals, creates[start:end], results); err != nil {
			return nil, err
		}
	}
	if len(updates) > 0 {
		if err := c.writeUpdates(ctx, d, ops, vals, updates, results); err != nil {
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
func (c *Conn) createBatch(ctx context.Context, d *entityDef, ops []connector.Op, vals []odoorpc.Values, idx []int, results []connector.Result) error {
	batch := make([]odoorpc.Values, len(idx))
	for j, i := range idx {
		batch[j] = vals[i]
	}
	ids, err := c.rpc.Create(ctx, d.model, batch, nil)
	if err == nil {
		for j, i := range idx {
			results[i].ID = strconv.FormatInt(ids[j], 10)
			results[i].Version = d.createdVersion(ops[i].Fields)
		}
		return nil
	}
	// Missing access rights refuse the model, not a record: the whole call
	// fails, like refused credentials.
	if !odoorpc.IsPermanent(err) || errors.Is(err, odoorpc.ErrUnauthorized) || errors.Is(err, odoorpc.ErrAccess) {
		return mapErr(fmt.Errorf("create %s: %w", d.entity, err))
	}
	if len(idx) == 1 {
		results[idx[0]].Err = opErr(d, ops[idx[0]], err)
		return nil
	}
	mid := len(idx) / 2
	if err := c.createBatch(ctx, d, ops, vals, idx[:mid], results); err != nil {
		return err
	}
	return c.createBatch(ctx, d, ops, vals, idx[mid:], results)
}

// writeUpdates checks the versions of the records ops[idx] update and writes
// them, grouping equal values into one call.
func (c *Conn) writeUpdates(ctx context.Context, d *entityDef, ops []connector.Op, vals []odoorpc.Values, idx []int, results []connector.Result) error {
	var ids []int64
	for _, i := range idx {
		ids = append(ids, parseIDs([]string{ops[i].ID})...)
	}
	current, err := c.get(ctx, d, ids)
	if err != nil {
		return err
	}
	type group struct {
		ops []int
		ids []int64
	}
	groups := map[string]*group{}
	var order []string
	for _, i := range idx {
		op := ops[i]
		n := parseIDs([]string{op.ID})
		var cur model.Record
		ok := len(n) == 1
		if ok {
			cur, ok = current[n[0]]
		}
		if !ok {
			results[i].Err = connector.Permanent("", fmt.Errorf("update odoo %s %q: %w", d.entity, op.ID, connector.ErrNotFound))
			continue
		}
		results[i].ID = op.ID
		if op.Version != "" && !versionMatches(op.Version, cur) {
			results[i].Err = fmt.Errorf("update odoo %s %s: %w", d.entity, op.ID, connector.ErrConflict)
			continue
		}
		if len(vals[i]) == 0 {
			continue
		}
		b, err := json.Marshal(vals[i])
		if err != nil {
			return fmt.Errorf("encode %s values: %w", d.entity, err)
		}
		key := string(b)
		g, ok := groups[key]
		if !ok {
			g = &group{}
			groups[key] = g
			order = append(order, key)
		}
		g.ops = append(g.ops, i)
		g.ids = append(g.ids, n[0])
	}
	for _, key := range order {
		g := groups[key]
		if err := c.writeGroup(ctx, d, ops, vals[g.ops[0]], g.ops, g.ids, results); err != nil {
			return err
		}
	}
	return nil
}

// writeGroup writes values on ids in one call; when Odoo refuses it, each
// record is written on its own so that only the refused ones fail.
func (c *Conn) writeGroup(ctx context.Context, d *entityDef, ops []connector.Op, values odoorpc.Values, idx []int, ids []int64, results []connector.Result) error {
	err := c.rpc.Write(ctx, d.model, ids, values, nil)
	if err == nil {
		return nil
	}
	if !odoorpc.IsPermanent(err) || errors.Is(err, odoorpc.ErrUnauthorized) {
		return mapErr(fmt.Errorf("update %s: %w", d.entity, err))
	}
	if len(ids) == 1 {
		results[idx[0]].Err = opErr(d, ops[idx[0]], err)
		return nil
	}
	for j := range ids {
		if err := c.writeGroup(ctx, d, ops, values, idx[j:j+1], ids[j:j+1], results); err != nil {
			return err
		}
	}
	return nil
}

// fillVersions reads back the records updated without error, one call, for
// their version and change time (creates have theirs).
func (c *Conn) fillVersions(ctx context.Context, d *entityDef, results []connector.Result) error {
	var ids []int64
	for _, r := range results {
		if r.Err == nil && r.ID != "" && r.Version == "" {
			ids = append(ids, parseIDs([]string{r.ID})...)
		}
	}
	recs, err := c.get(ctx, d, ids)
	if err != nil {
		return err
	}
	for i, r := range results {
		if r.Err != nil || r.ID == "" || r.Version != "" {
			continue
		}
		n := parseIDs([]string{r.ID})
		if len(n) == 1 {
			if rec, ok := recs[n[0]]; ok {
				results[i].Version, results[i].UpdatedAt = rec.Version, rec.UpdatedAt
			}
		}
	}
	return nil
}

// Archive implements connector.Archiver: it sets active to false.
func (c *Conn) Archive(ctx context.Context, entity model.Entity, ids []string) ([]connector.Result, error) {
	if d, err := c.def(entity); err != nil || d.noActive {
		return nil, fmt.Errorf("archive odoo %s: Concord never archives or deletes %ss in Odoo: %w", entity, entity, connector.ErrUnsupported)
	}
	ops := make([]connector.Op, len(ids))
	for i, id := range ids {
		ops[i] = connector.Op{Kind: connector.OpUpdate, ID: id, Fields: model.Fields{"active": model.Bool(false)}}
	}
	return c.Write(ctx, entity, ops)
}

// opErr names the op (kind, entity, id, link key) and the canonical field at
// fault in a per-record error.
func opErr(d *entityDef, op connector.Op, err error) error {
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
	if !odoorpc.IsPermanent(err) {
		return fmt.Errorf("%s: %w", what, err)
	}
	field := ""
	var oe *odoorpc.Error
	if errors.As(err, &oe) {
		field = d.labels[oe.Field()]
		for text, f := range d.messages {
			if field == "" && strings.Contains(oe.Message, text) {
				field = f
			}
		}
	}
	return connector.Permanent(field, fmt.Errorf("%s: %w", what, err))
}

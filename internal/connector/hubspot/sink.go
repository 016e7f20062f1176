package hubspot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/hubspot/hubspothttp"
	"github.com/concord-sync/concord/internal/model"
)

// lineItemToDeal is HubSpot's association type id from a line item to a deal.
const lineItemToDeal = 20

// Write implements connector.Connector. Creates go through batch upsert by the
// link property (a retried create updates the record the first attempt made);
// updates through batch update by id; at most 100 inputs per call. Per-input
// failures of a 207 answer, and of a whole-batch 400 (the batch is split in
// halves until the refused input is alone), become per-record results:
// validation refusals are permanent and name the field. Association fields
// (account, contact, lines) are written after their record.
func (c *Conn) Write(ctx context.Context, entity model.Entity, ops []connector.Op) ([]connector.Result, error) {
	o, err := c.object(entity)
	if err != nil {
		return nil, err
	}
	results := make([]connector.Result, len(ops))
	inputs := make([]hubspothttp.Input, len(ops))
	var creates, updates []int
	for i, op := range ops {
		props, err := c.inputProperties(o, op.Fields)
		if err != nil {
			results[i].Err = err
			continue
		}
		switch op.Kind {
		case connector.OpCreate:
			if msg, broken := c.noLink[entity]; broken {
				results[i].Err = connector.Permanent("", errors.New(msg))
				continue
			}
			if op.LinkKey == "" {
				results[i].Err = connector.Permanent("", errors.New("a create needs a link key for the upsert"))
				continue
			}
			key := op.LinkKey
			props[o.link] = &key
			inputs[i] = hubspothttp.Input{ID: key, IDProperty: o.link, Properties: props}
			creates = append(creates, i)
		case connector.OpUpdate:
			if op.ID == "" {
				results[i].Err = connector.Permanent("", errors.New("an update needs the record id"))
				continue
			}
			inputs[i] = hubspothttp.Input{ID: op.ID, Properties: props}
			updates = append(updates, i)
		default:
			results[i].Err = connector.Permanent("", fmt.Errorf("unknown op kind %q", op.Kind))
		}
	}
	for _, chunk := range chunks(creates, func(i int) string { return inputs[i].ID }) {
		if err := c.writeChunk(ctx, o, true, chunk, inputs, results); err != nil {
			return nil, fmt.Errorf("write %s: upsert: %w", entity, err)
		}
	}
	for _, chunk := range chunks(updates, func(i int) string { return inputs[i].ID }) {
		if err := c.writeChunk(ctx, o, false, chunk, inputs, results); err != nil {
			return nil, fmt.Errorf("write %s: update: %w", entity, err)
		}
	}
	if err := c.writeAssociations(ctx, o, ops, results); err != nil {
		return nil, fmt.Errorf("write %s: %w", entity, err)
	}
	return results, nil
}

// CreatesUpsert implements connector.CreateUpserter: creates of entity are
// batch upserts by its link property, unless Open found that property missing
// or not unique (then creates are refused).
func (c *Conn) CreatesUpsert(entity model.Entity) bool {
	if _, err := c.object(entity); err != nil {
		return false
	}
	_, broken := c.noLink[entity]
	return !broken
}

// WriteBatchSize implements connector.WriteBatchSizer: batch calls take at
// most hubspothttp.MaxBatch inputs.
func (c *Conn) WriteBatchSize(model.Entity) int { return hubspothttp.MaxBatch }

// chunks splits idxs into groups of at most MaxBatch whose keys are distinct
// (HubSpot refuses a batch naming one record twice).
func chunks(idxs []int, key func(int) string) [][]int {
	var out [][]int
	var seen []map[string]bool
	for _, i := range idxs {
		k := key(i)
		placed := false
		for n := range out {
			if len(out[n]) < hubspothttp.MaxBatch && !seen[n][k] {
				out[n] = append(out[n], i)
				seen[n][k] = true
				placed = true
				break
			}
		}
		if !placed {
			out = append(out, []int{i})
			seen = append(seen, map[string]bool{k: true})
		}
	}
	return out
}

// writeChunk sends one batch and records each input's outcome in results. It
// returns an error only for a failure of the whole call.
func (c *Conn) writeChunk(ctx context.Context, o *object, upsert bool, idxs []int, inputs []hubspothttp.Input, results []connector.Result) error {
	batch := make([]hubspothttp.Input, len(idxs))
	for n, i := range idxs {
		batch[n] = inputs[i]
	}
	var res *hubspothttp.BatchResult
	var err error
	if upsert {
		res, err = c.api.BatchUpsert(ctx, o.name, batch)
	} else {
		res, err = c.api.BatchUpdate(ctx, o.name, batch)
	}
	if err != nil {
		var he *hubspothttp.Error
		if !errors.As(err, &he) || !refusal(he.StatusCode) {
			return c.callErr(err)
		}
		if len(idxs) > 1 {
			// HubSpot often refuses a whole batch for one bad input: halve
			// until the bad input is alone, so the others land.
			mid := len(idxs) / 2
			if err := c.writeChunk(ctx, o, upsert, idxs[:mid], inputs, results); err != nil {
				return err
			}
			return c.writeChunk(ctx, o, upsert, idxs[mid:], inputs, results)
		}
		results[idxs[0]].Err = c.recordErr(o, he)
		return nil
	}
	byKey := make(map[string]int, len(idxs))
	for _, i := range idxs {
		byKey[inputs[i].ID] = i
	}
	got := map[int]bool{}
	for _, ob := range res.Results {
		key := ob.ID
		if upsert {
			key = ob.Value(o.link)
		}
		if i, ok := byKey[key]; ok {
			results[i] = connector.Result{ID: ob.ID, UpdatedAt: modified(ob), Existed: upsert && ob.New != nil && !*ob.New}
			got[i] = true
		}
	}
	for _, he := range res.Errors {
		var blamed []int
		for _, k := range he.Context["ids"] {
			if i, ok := byKey[k]; ok {
				blamed = append(blamed, i)
			}
		}
		for _, s := range he.Context["inputIndex"] {
			if n, err := strconv.Atoi(s); err == nil && n >= 0 && n < len(idxs) {
				blamed = append(blamed, idxs[n])
			}
		}
		for _, i := range blamed {
			if !got[i] {
				results[i].Err = c.recordErr(o, he)
				got[i] = true
			}
		}
	}
	for _, i := range idxs {
		if !got[i] {
			results[i].Err = fmt.Errorf("hubspot answered %d without a result for %s", res.HTTPStatus, inputs[i].ID)
		}
	}
	return nil
}

// refusal reports whether a whole-call status is HubSpot refusing the input
// rather than the call failing.
func refusal(status int) bool {
	switch status {
	case http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity:
		return true
	}
	return false
}

// recordErr classifies one input's failure: validation, not-found and unique
// conflicts are permanent (naming the canonical field HubSpot blamed); anything
// else is retried.
func (c *Conn) recordErr(o *object, he *hubspothttp.Error) error {
	field := ""
	for _, p := range he.Properties() {
		if f := o.fieldOf(p); f != "" {
			field = f
			break
		}
	}
	switch he.Category {
	case hubspothttp.CategoryValidation, hubspothttp.CategoryConflict:
		return connector.Permanent(field, he)
	case hubspothttp.CategoryNotFound:
		return connector.Permanent(field, fmt.Errorf("%w: %w", connector.ErrNotFound, he))
	}
	if refusal(he.StatusCode) {
		return connector.Permanent(field, he)
	}
	return he
}

// fieldOf returns the canonical field mapped to property p, "" if none.
func (o *object) fieldOf(p string) string {
	for _, f := range o.fields {
		if f.property == p || f.currencyProp == p {
			return f.name
		}
	}
	return ""
}

// writeAssociations sets the association fields of the written records: a ref
// field keeps exactly the given record associated; a lines field replaces the
// record's line items.
func (c *Conn) writeAssociations(ctx context.Context, o *object, ops []connector.Op, results []connector.Result) error {
	for _, f := range o.fields {
		if f.association == "" {
			continue
		}
		var idxs []int
		for i, op := range ops {
			if _, given := op.Fields[f.name]; given && results[i].Err == nil && results[i].ID != "" {
				idxs = append(idxs, i)
			}
		}
		if len(idxs) == 0 {
			continue
		}
		ids := make([]string, len(idxs))
		for n, i := range idxs {
			ids[n] = results[i].ID
		}
		current := map[string][]string{}
		for start := 0; start < len(ids); start += hubspothttp.MaxBatch {
			m, err := c.api.BatchReadAssociations(ctx, o.name, f.association, ids[start:min(start+hubspothttp.MaxBatch, len(ids))])
			if err != nil {
				return fmt.Errorf("read %s associations: %w", f.association, c.callErr(err))
			}
			for k, v := range m {
				current[k] = v
			}
		}
		if f.typ == model.TypeLines {
			for _, i := range idxs {
				if err := c.replaceLines(ctx, o, f, results[i].ID, current[results[i].ID], ops[i].Fields[f.name]); err != nil {
					if !isRecordErr(err) {
						return err
					}
					results[i].Err = err
				}
			}
			continue
		}
		var add, remove []hubspothttp.AssocPair
		for _, i := range idxs {
			id, want := results[i].ID, ops[i].Fields[f.name].Str
			for _, have := range current[id] {
				if have != want {
					remove = append(remove, hubspothttp.AssocPair{From: hubspothttp.IDRef{ID: id}, To: hubspothttp.IDRef{ID: have}})
				}
			}
			if want != "" && !slices.Contains(current[id], want) {
				add = append(add, hubspothttp.AssocPair{From: hubspothttp.IDRef{ID: id}, To: hubspothttp.IDRef{ID: want}})
			}
		}
		for start := 0; start < len(remove); start += hubspothttp.MaxBatch {
			if err := c.api.BatchArchiveAssociations(ctx, o.name, f.association, remove[start:min(start+hubspothttp.MaxBatch, len(remove))]); err != nil {
				return fmt.Errorf("remove %s associations: %w", f.association, c.callErr(err))
			}
		}
		byID := map[string]int{}
		for _, i := range idxs {
			byID[results[i].ID] = i
		}
		for start := 0; start < len(add); start += hubspothttp.MaxBatch {
			res, err := c.api.BatchAssociateDefault(ctx, o.name, f.association, add[start:min(start+hubspothttp.MaxBatch, len(add))])
			if err != nil {
				return fmt.Errorf("associate %s: %w", f.association, c.callErr(err))
			}
			for _, he := range res.Errors {
				for _, id := range he.Context["ids"] {
					if i, ok := byID[id]; ok {
						results[i].Err = connector.Permanent(f.name, fmt.Errorf("associate %s: %w", f.association, he))
					}
				}
			}
		}
	}
	return nil
}

type recordError struct{ error }

func (e recordError) Unwrap() error { return e.error }

func isRecordErr(err error) bool {
	var r recordError
	return errors.As(err, &r)
}

// replaceLines dissociates and archives a deal's line items and creates the given ones,
// associated with it. A retry repeats the replacement, so the outcome is the
// same however often it runs.
func (c *Conn) replaceLines(ctx context.Context, o *object, f *field, id string, current []string, v model.Value) error {
	if len(current) > 0 {
		pairs := make([]hubspothttp.AssocPair, len(current))
		for n, lineID := range current {
			pairs[n] = hubspothttp.AssocPair{From: hubspothttp.IDRef{ID: id}, To: hubspothttp.IDRef{ID: lineID}}
		}
		for start := 0; start < len(pairs); start += hubspothttp.MaxBatch {
			if err := c.api.BatchArchiveAssociations(ctx, o.name, f.association, pairs[start:min(start+hubspothttp.MaxBatch, len(pairs))]); err != nil {
				return fmt.Errorf("remove old %s associations: %w", f.association, c.callErr(err))
			}
		}
		for start := 0; start < len(current); start += hubspothttp.MaxBatch {
			if err := c.api.BatchArchive(ctx, f.association, current[start:min(start+hubspothttp.MaxBatch, len(current))]); err != nil {
				return fmt.Errorf("archive old %s: %w", f.association, c.callErr(err))
			}
		}
	}
	if v.IsNull() || len(v.Lines) == 0 {
		return nil
	}
	inputs := make([]hubspothttp.Input, len(v.Lines))
	for n, line := range v.Lines {
		props, err := c.inputProperties(o.lines, line.Fields)
		if err != nil {
			return recordError{connector.Permanent(f.name, fmt.Errorf("line %d: %w", n+1, err))}
		}
		inputs[n] = hubspothttp.Input{Properties: props, Associations: []hubspothttp.InlineAssoc{{
			To: hubspothttp.IDRef{ID: id}, Types: []hubspothttp.AssocType{{Category: "HUBSPOT_DEFINED", TypeID: lineItemToDeal}},
		}}}
	}
	for start := 0; start < len(inputs); start += hubspothttp.MaxBatch {
		res, err := c.api.BatchCreate(ctx, f.association, inputs[start:min(start+hubspothttp.MaxBatch, len(inputs))])
		if err != nil {
			var he *hubspothttp.Error
			if errors.As(err, &he) && refusal(he.StatusCode) {
				return recordError{c.recordErr(o.lines, he)}
			}
			return fmt.Errorf("create %s: %w", f.association, c.callErr(err))
		}
		if len(res.Errors) > 0 {
			return recordError{fmt.Errorf("field %s: %w", f.name, c.recordErr(o.lines, res.Errors[0]))}
		}
	}
	return nil
}

// Archive implements connector.Archiver: HubSpot's batch archive, which keeps
// the records restorable for 90 days.
func (c *Conn) Archive(ctx context.Context, entity model.Entity, ids []string) ([]connector.Result, error) {
	o, err := c.object(entity)
	if err != nil {
		return nil, err
	}
	for start := 0; start < len(ids); start += hubspothttp.MaxBatch {
		if err := c.api.BatchArchive(ctx, o.name, ids[start:min(start+hubspothttp.MaxBatch, len(ids))]); err != nil {
			return nil, fmt.Errorf("archive %s: %w", entity, c.callErr(err))
		}
	}
	out := make([]connector.Result, len(ids))
	for i, id := range ids {
		out[i] = connector.Result{ID: id}
	}
	return out, nil
}

package salesforce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/salesforce/sfhttp"
	"github.com/concord-sync/concord/internal/model"
)

// Write implements connector.Connector. Creates are sObject Collections
// upserts by the link field (a retried create updates the record the first
// attempt made); updates are Collections updates by Id; at most 200 records
// per call, each with its own result: validation refusals are permanent and
// name the field. A deal's lines replace its line items after the
// opportunity is written; a product's standard price is written to its
// entry in the standard price book.
func (c *Conn) Write(ctx context.Context, entity model.Entity, ops []connector.Op) ([]connector.Result, error) {
	o, err := c.object(entity)
	if err != nil {
		return nil, err
	}
	results := make([]connector.Result, len(ops))
	inputs := make([]sfhttp.Record, len(ops))
	var creates, updates []int
	for i, op := range ops {
		in, err := c.input(o, op.Fields)
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
			in[o.link] = op.LinkKey
			creates = append(creates, i)
		case connector.OpUpdate:
			if op.ID == "" {
				results[i].Err = connector.Permanent("", errors.New("an update needs the record id"))
				continue
			}
			in["Id"] = op.ID
			updates = append(updates, i)
		default:
			results[i].Err = connector.Permanent("", fmt.Errorf("unknown op kind %q", op.Kind))
		}
		inputs[i] = in
	}
	for _, chunk := range chunks(creates, func(i int) string { return ops[i].LinkKey }) {
		recs := pick(inputs, chunk)
		res, err := c.api.Upsert(ctx, o.name, o.link, recs)
		if err != nil {
			return nil, fmt.Errorf("write %s: upsert: %w", entity, callErr(err))
		}
		c.apply(o, chunk, res, results, true)
	}
	for _, chunk := range chunks(updates, func(i int) string { return ops[i].ID }) {
		res, err := c.api.Update(ctx, o.name, pick(inputs, chunk))
		if err != nil {
			return nil, fmt.Errorf("write %s: update: %w", entity, callErr(err))
		}
		c.apply(o, chunk, res, results, false)
	}
	for _, f := range o.fields {
		switch {
		case f.typ == model.TypeLines:
			if err := c.writeLines(ctx, o, f, ops, results); err != nil {
				return nil, fmt.Errorf("write %s: %w", entity, err)
			}
		case f.stdPrice:
			if err := c.writePrices(ctx, f, ops, results); err != nil {
				return nil, fmt.Errorf("write %s: %w", entity, err)
			}
		}
	}
	return results, nil
}

func pick(inputs []sfhttp.Record, idxs []int) []sfhttp.Record {
	out := make([]sfhttp.Record, len(idxs))
	for n, i := range idxs {
		out[n] = inputs[i]
	}
	return out
}

// apply records a Collections answer in results.
func (c *Conn) apply(o *object, idxs []int, res []sfhttp.SaveResult, results []connector.Result, upsert bool) {
	for n, i := range idxs {
		r := res[n]
		if r.Success {
			results[i] = connector.Result{ID: r.ID, Existed: upsert && r.Created != nil && !*r.Created}
			continue
		}
		results[i].Err = c.recordErr(o, r.Errors)
	}
}

// recordErr classifies one record's refusal: permanent, naming the canonical
// field Salesforce blamed, unless its code may pass on retry.
func (c *Conn) recordErr(o *object, errs []sfhttp.APIError) error {
	if len(errs) == 0 {
		return errors.New("salesforce refused the record without saying why")
	}
	e := errs[0]
	var err error = e
	if len(errs) > 1 {
		all := make([]error, len(errs))
		for i, x := range errs {
			all[i] = x
		}
		err = errors.Join(all...)
	}
	if sfhttp.TransientCode(e.Code()) {
		return connector.Transient(err)
	}
	field := ""
	for _, sf := range e.Fields {
		if f := o.fieldOf(sf); f != "" {
			field = f
			break
		}
	}
	return connector.Permanent(field, err)
}

// fieldOf returns the canonical field mapped to the sObject field sf.
func (o *object) fieldOf(sf string) string {
	for _, f := range o.fields {
		if f.sf != "" && equalFold(f.sf, sf) {
			return f.name
		}
	}
	return ""
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// chunks splits idxs into groups of at most MaxCollection whose keys are
// distinct (one call must not name a record twice).
func chunks(idxs []int, key func(int) string) [][]int {
	var out [][]int
	var seen []map[string]bool
	for _, i := range idxs {
		k := key(i)
		placed := false
		for n := range out {
			if len(out[n]) < sfhttp.MaxCollection && !seen[n][k] {
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

// writeLines replaces the line items of the written opportunities whose op
// gives lines: the old ones are deleted, the new ones created on the
// product's standard price book entry. Running it again gives the same
// lines, so a retry is safe.
func (c *Conn) writeLines(ctx context.Context, o *object, f *field, ops []connector.Op, results []connector.Result) error {
	var idxs []int
	var opps []string
	var products []string
	for i, op := range ops {
		v, given := op.Fields[f.name]
		if !given || results[i].Err != nil || results[i].ID == "" {
			continue
		}
		idxs = append(idxs, i)
		opps = append(opps, results[i].ID)
		for _, l := range v.Lines {
			if p := l.Fields.Get("product"); !p.IsNull() {
				products = append(products, p.Str)
			}
		}
	}
	if len(idxs) == 0 {
		return nil
	}
	current, err := c.readLines(ctx, o.lines, opps)
	if err != nil {
		return err
	}
	entries, err := c.standardPrices(ctx, dedupe(products))
	if err != nil {
		return err
	}
	var old []string
	for _, id := range opps {
		for _, l := range current[id] {
			old = append(old, l.ID)
		}
	}
	for start := 0; start < len(old); start += sfhttp.MaxCollection {
		res, err := c.api.Delete(ctx, old[start:min(start+sfhttp.MaxCollection, len(old))])
		if err != nil {
			return fmt.Errorf("delete old line items: %w", callErr(err))
		}
		for _, r := range res {
			if !r.Success && !hasCode(r.Errors, "ENTITY_IS_DELETED") {
				return fmt.Errorf("delete old line item %s: %w", r.ID, c.recordErr(o.lines, r.Errors))
			}
		}
	}
	var recs []sfhttp.Record
	var owner []int // op index of each line record
	for _, i := range idxs {
		lines := ops[i].Fields[f.name].Lines
		var lineRecs []sfhttp.Record
		for n, l := range lines {
			in, err := c.input(o.lines, l.Fields)
			if err != nil {
				results[i].Err = connector.Permanent(f.name, fmt.Errorf("line %d: %w", n+1, err))
				break
			}
			prod := l.Fields.Get("product")
			entry, ok := entries[prod.Str]
			if prod.IsNull() || !ok {
				results[i].Err = connector.Permanent(f.name, fmt.Errorf("line %d: product %s has no entry in the standard price book", n+1, prod.Str))
				break
			}
			if entry["IsActive"] != true {
				results[i].Err = connector.Permanent(f.name, fmt.Errorf("line %d: product %s is not active in the standard price book", n+1, prod.Str))
				break
			}
			delete(in, "Product2Id")
			in["OpportunityId"], in["PricebookEntryId"] = results[i].ID, entry.ID()
			if in["UnitPrice"] == nil {
				in["UnitPrice"] = json.Number(entry.String("UnitPrice"))
			}
			lineRecs = append(lineRecs, in)
		}
		if results[i].Err != nil {
			continue
		}
		for _, r := range lineRecs {
			recs = append(recs, r)
			owner = append(owner, i)
		}
	}
	for start := 0; start < len(recs); start += sfhttp.MaxCollection {
		end := min(start+sfhttp.MaxCollection, len(recs))
		res, err := c.api.Create(ctx, "OpportunityLineItem", recs[start:end])
		if err != nil {
			return fmt.Errorf("create line items: %w", callErr(err))
		}
		for n, r := range res {
			if i := owner[start+n]; !r.Success && results[i].Err == nil {
				results[i].Err = fmt.Errorf("field %s: %w", f.name, c.recordErr(o.lines, r.Errors))
				if !connector.IsTransient(results[i].Err) {
					results[i].Err = connector.Permanent(f.name, results[i].Err)
				}
			}
		}
	}
	return nil
}

func hasCode(errs []sfhttp.APIError, code string) bool {
	for _, e := range errs {
		if e.Code() == code {
			return true
		}
	}
	return false
}

// writePrices sets the standard price of the written products: the entry
// in the standard price book is created (active) or updated.
func (c *Conn) writePrices(ctx context.Context, f *field, ops []connector.Op, results []connector.Result) error {
	var idxs []int
	var ids []string
	for i, op := range ops {
		if v, given := op.Fields[f.name]; given && !v.IsNull() && results[i].Err == nil && results[i].ID != "" {
			if v.Currency != c.cfg.currency {
				results[i].Err = connector.Permanent(f.name, fmt.Errorf("price in %s, but the org's currency is %s", v.Currency, c.cfg.currency))
				continue
			}
			idxs = append(idxs, i)
			ids = append(ids, results[i].ID)
		}
	}
	if len(idxs) == 0 {
		return nil
	}
	book, err := c.standardBook(ctx)
	if err != nil {
		return err
	}
	current, err := c.standardPrices(ctx, ids)
	if err != nil {
		return err
	}
	var creates, updates []sfhttp.Record
	var createIdx, updateIdx []int
	for _, i := range idxs {
		price := json.Number(ops[i].Fields[f.name].Num.String())
		if e, ok := current[results[i].ID]; ok {
			updates = append(updates, sfhttp.Record{"Id": e.ID(), "UnitPrice": price, "IsActive": true})
			updateIdx = append(updateIdx, i)
			continue
		}
		creates = append(creates, sfhttp.Record{"Pricebook2Id": book, "Product2Id": results[i].ID, "UnitPrice": price, "IsActive": true})
		createIdx = append(createIdx, i)
	}
	send := func(recs []sfhttp.Record, idx []int, create bool) error {
		for start := 0; start < len(recs); start += sfhttp.MaxCollection {
			end := min(start+sfhttp.MaxCollection, len(recs))
			var res []sfhttp.SaveResult
			var err error
			if create {
				res, err = c.api.Create(ctx, "PricebookEntry", recs[start:end])
			} else {
				res, err = c.api.Update(ctx, "PricebookEntry", recs[start:end])
			}
			if err != nil {
				return fmt.Errorf("write standard prices: %w", callErr(err))
			}
			for n, r := range res {
				if i := idx[start+n]; !r.Success {
					results[i].Err = connector.Permanent(f.name, fmt.Errorf("standard price: %w", errors.Join(apiErrs(r.Errors)...)))
				}
			}
		}
		return nil
	}
	if err := send(creates, createIdx, true); err != nil {
		return err
	}
	return send(updates, updateIdx, false)
}

func apiErrs(errs []sfhttp.APIError) []error {
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = e
	}
	return out
}

// CreatesUpsert implements connector.CreateUpserter: creates of entity are
// upserts by its link field, unless Open found that field missing or not an
// External ID (then creates are refused).
func (c *Conn) CreatesUpsert(entity model.Entity) bool {
	if _, err := c.object(entity); err != nil {
		return false
	}
	_, broken := c.noLink[entity]
	return !broken
}

// WriteBatchSize implements connector.WriteBatchSizer: Collections calls take
// at most 200 records.
func (c *Conn) WriteBatchSize(model.Entity) int { return sfhttp.MaxCollection }

// Archive implements connector.Archiver: the records go to the recycle bin
// (restorable for 15 days), each with its own result.
func (c *Conn) Archive(ctx context.Context, entity model.Entity, ids []string) ([]connector.Result, error) {
	o, err := c.object(entity)
	if err != nil {
		return nil, err
	}
	out := make([]connector.Result, len(ids))
	for start := 0; start < len(ids); start += sfhttp.MaxCollection {
		end := min(start+sfhttp.MaxCollection, len(ids))
		res, err := c.api.Delete(ctx, ids[start:end])
		if err != nil {
			return nil, fmt.Errorf("archive %s: %w", entity, callErr(err))
		}
		for n, r := range res {
			out[start+n] = connector.Result{ID: ids[start+n]}
			if !r.Success && !hasCode(r.Errors, "ENTITY_IS_DELETED") {
				out[start+n].Err = c.recordErr(o, r.Errors)
			}
		}
	}
	return out, nil
}

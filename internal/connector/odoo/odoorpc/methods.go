package odoorpc

import (
	"context"
	"fmt"
)

// SearchOptions page and sort a search.
type SearchOptions struct {
	Offset int
	// Limit is the most records to return; 0 means no limit.
	Limit int
	// Order is an SQL-like sort: "write_date asc, id asc". Default: the
	// model's order.
	Order string
	// Context holds extra context keys (active_test, lang ...).
	Context Context
}

func (o SearchOptions) kwargs() Kwargs {
	kw := Kwargs{}
	if o.Offset > 0 {
		kw["offset"] = o.Offset
	}
	if o.Limit > 0 {
		kw["limit"] = o.Limit
	}
	if o.Order != "" {
		kw["order"] = o.Order
	}
	if o.Context != nil {
		kw["context"] = o.Context
	}
	return kw
}

func domainOrEmpty(d Domain) Domain {
	if d == nil {
		return Domain{}
	}
	return d
}

func withContext(extra Context) Kwargs {
	if extra == nil {
		return Kwargs{}
	}
	return Kwargs{"context": extra}
}

// Search returns the ids of model's records matching domain. Archived records
// are left out unless opts.Context has active_test false.
func (c *Client) Search(ctx context.Context, model string, domain Domain, opts SearchOptions) ([]int64, error) {
	res, err := c.ExecuteKw(ctx, model, "search", []any{domainOrEmpty(domain)}, opts.kwargs())
	if err != nil {
		return nil, err
	}
	return toIDs(model+".search", res)
}

// SearchCount returns how many of model's records match domain.
func (c *Client) SearchCount(ctx context.Context, model string, domain Domain, extra Context) (int64, error) {
	res, err := c.ExecuteKw(ctx, model, "search_count", []any{domainOrEmpty(domain)}, withContext(extra))
	if err != nil {
		return 0, err
	}
	return toInt(res), nil
}

// SearchRead returns fields of model's records matching domain, in one call.
// An empty fields list reads every field (slow: name the fields).
func (c *Client) SearchRead(ctx context.Context, model string, domain Domain, fields []string, opts SearchOptions) ([]Record, error) {
	kw := opts.kwargs()
	kw["fields"] = fieldsOrEmpty(fields)
	res, err := c.ExecuteKw(ctx, model, "search_read", []any{domainOrEmpty(domain)}, kw)
	if err != nil {
		return nil, err
	}
	return toRecords(model+".search_read", res)
}

// Read returns fields of the records ids, in the order of ids. A deleted id
// fails the call with ErrMissing.
func (c *Client) Read(ctx context.Context, model string, ids []int64, fields []string, extra Context) ([]Record, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	kw := withContext(extra)
	kw["fields"] = fieldsOrEmpty(fields)
	res, err := c.ExecuteKw(ctx, model, "read", []any{ids}, kw)
	if err != nil {
		return nil, err
	}
	recs, err := toRecords(model+".read", res)
	if err != nil {
		return nil, err
	}
	// Odoo answers in its own order; give the caller the order it asked for.
	byID := make(map[int64]Record, len(recs))
	for _, r := range recs {
		byID[r.ID()] = r
	}
	out := make([]Record, 0, len(ids))
	for _, id := range ids {
		if r, ok := byID[id]; ok {
			out = append(out, r)
		}
	}
	return out, nil
}

func fieldsOrEmpty(f []string) []string {
	if f == nil {
		return []string{}
	}
	return f
}

// Create creates records, all in one call (one transaction: when Odoo refuses
// one record, none is created), and returns their ids in the order of records.
func (c *Client) Create(ctx context.Context, model string, records []Values, extra Context) ([]int64, error) {
	if len(records) == 0 {
		return nil, nil
	}
	list := make([]any, len(records))
	for i, r := range records {
		list[i] = r
	}
	res, err := c.ExecuteKw(ctx, model, "create", []any{list}, withContext(extra))
	if err != nil {
		return nil, err
	}
	ids, err := toIDs(model+".create", res)
	if err != nil {
		return nil, err
	}
	if len(ids) != len(records) {
		return nil, fmt.Errorf("odoo %s.create: sent %d records, got %d ids", model, len(records), len(ids))
	}
	return ids, nil
}

// Write writes the same values on the records ids in one call.
func (c *Client) Write(ctx context.Context, model string, ids []int64, values Values, extra Context) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := c.ExecuteKw(ctx, model, "write", []any{ids, values}, withContext(extra))
	return err
}

// Unlink deletes the records ids.
func (c *Client) Unlink(ctx context.Context, model string, ids []int64, extra Context) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := c.ExecuteKw(ctx, model, "unlink", []any{ids}, withContext(extra))
	return err
}

// Call calls a public method on the records ids (action_confirm,
// action_post, create_invoices on a wizard ...) and returns its decoded
// result: often true, false (JSON false, not null) or an action dictionary.
func (c *Client) Call(ctx context.Context, model, method string, ids []int64, extra Context) (any, error) {
	if ids == nil {
		ids = []int64{}
	}
	return c.ExecuteKw(ctx, model, method, []any{ids}, withContext(extra))
}

// ActiveContext is the context a wizard of another model needs:
// active_model, active_ids and active_id.
func ActiveContext(model string, ids ...int64) Context {
	if ids == nil {
		ids = []int64{}
	}
	c := Context{"active_model": model, "active_ids": ids}
	if len(ids) > 0 {
		c["active_id"] = ids[0]
	}
	return c
}

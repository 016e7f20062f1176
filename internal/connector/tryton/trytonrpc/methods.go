package trytonrpc

import (
	"context"
	"fmt"
)

// Order is one sort key of a search.
type Order struct {
	Field string
	Desc  bool
}

// SearchOptions page and sort a search.
type SearchOptions struct {
	Offset int
	// Limit is the most records to return; 0 means no limit.
	Limit int
	Order []Order
	// Context holds extra context keys (active_test, locations ...).
	Context Context
}

func (o SearchOptions) params() (any, any) {
	var limit any
	if o.Limit > 0 {
		limit = o.Limit
	}
	var order any
	if len(o.Order) > 0 {
		list := make([]any, len(o.Order))
		for i, k := range o.Order {
			dir := "ASC"
			if k.Desc {
				dir = "DESC"
			}
			list[i] = []any{k.Field, dir}
		}
		order = list
	}
	return limit, order
}

func domainOrEmpty(d Domain) Domain {
	if d == nil {
		return Domain{}
	}
	return d
}

// Search returns the ids of model's records matching domain.
func (c *Client) Search(ctx context.Context, model string, domain Domain, opts SearchOptions) ([]int64, error) {
	limit, order := opts.params()
	res, err := c.CallContext(ctx, "model."+model+".search", opts.Context, domainOrEmpty(domain), opts.Offset, limit, order)
	if err != nil {
		return nil, err
	}
	return toIDs(res)
}

// SearchCount returns how many of model's records match domain.
func (c *Client) SearchCount(ctx context.Context, model string, domain Domain, extra Context) (int64, error) {
	res, err := c.CallContext(ctx, "model."+model+".search_count", extra, domainOrEmpty(domain))
	if err != nil {
		return 0, err
	}
	return Record{"n": res}.Int("n"), nil
}

// SearchRead returns fields of model's records matching domain, in one call.
func (c *Client) SearchRead(ctx context.Context, model string, domain Domain, fields []string, opts SearchOptions) ([]Record, error) {
	limit, order := opts.params()
	res, err := c.CallContext(ctx, "model."+model+".search_read", opts.Context, domainOrEmpty(domain), opts.Offset, limit, order, fields)
	if err != nil {
		return nil, err
	}
	return toRecords(res)
}

// Read returns fields of the records ids, in the order of ids. Reading a record
// that does not exist is a *UserError from the server.
func (c *Client) Read(ctx context.Context, model string, ids []int64, fields []string, extra Context) ([]Record, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	res, err := c.CallContext(ctx, "model."+model+".read", extra, ids, fields)
	if err != nil {
		return nil, err
	}
	recs, err := toRecords(res)
	if err != nil {
		return nil, err
	}
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

// Create creates several records of model in one call (one transaction: if
// the server refuses one record, none is created) and returns their ids in
// order.
func (c *Client) Create(ctx context.Context, model string, records []Values, extra Context) ([]int64, error) {
	if len(records) == 0 {
		return nil, nil
	}
	res, err := c.CallContext(ctx, "model."+model+".create", extra, records)
	if err != nil {
		return nil, err
	}
	ids, err := toIDs(res)
	if err != nil {
		return nil, err
	}
	if len(ids) != len(records) {
		return nil, fmt.Errorf("tryton model.%s.create: %d ids for %d records", model, len(ids), len(records))
	}
	return ids, nil
}

// Write sets values on the records ids. To check optimistic concurrency, pass
// the versions read earlier in extra["_timestamp"] (see Timestamps); a stale
// one fails with a *RetryableError matching ErrConcurrency.
func (c *Client) Write(ctx context.Context, model string, ids []int64, values Values, extra Context) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := c.CallContext(ctx, "model."+model+".write", extra, ids, values)
	return err
}

// Timestamps returns the context entry that makes a write or delete check the
// records' versions: {"_timestamp": {"model,id": version}}.
func Timestamps(model string, versions map[int64]string) Context {
	ts := make(map[string]any, len(versions))
	for id, v := range versions {
		ts[fmt.Sprintf("%s,%d", model, id)] = v
	}
	return Context{"_timestamp": ts}
}

// Delete deletes the records ids.
func (c *Client) Delete(ctx context.Context, model string, ids []int64, extra Context) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := c.CallContext(ctx, "model."+model+".delete", extra, ids)
	return err
}

// Button calls a workflow button or any RPC method taking only ids (quote,
// confirm, process, post ...).
func (c *Client) Button(ctx context.Context, model, name string, ids []int64, extra Context) error {
	_, err := c.CallContext(ctx, "model."+model+"."+name, extra, ids)
	return err
}

// AcceptWarning records that the user accepts the warning name once, so that
// retrying the call that raised the *UserWarning goes through.
func (c *Client) AcceptWarning(ctx context.Context, name string) error {
	if c.UserID() == 0 {
		if err := c.Login(ctx); err != nil {
			return err
		}
	}
	_, err := c.Create(ctx, "res.user.warning", []Values{{"user": c.UserID(), "name": name, "always": false}}, nil)
	return err
}

// Today returns the server's date (model.ir.date.today).
func (c *Client) Today(ctx context.Context) (Date, error) {
	res, err := c.Call(ctx, "model.ir.date.today")
	if err != nil {
		return Date{}, err
	}
	d, ok := res.(Date)
	if !ok {
		return Date{}, fmt.Errorf("tryton model.ir.date.today: want a date, got %T", res)
	}
	return d, nil
}

// Wizard is a started wizard session.
type Wizard struct {
	c       *Client
	name    string
	id      int64
	context Context
	// Start and End are the wizard's first and last states.
	Start, End string
}

// WizardCreate starts the wizard name (e.g. "account.invoice.pay") with extra
// context, typically active_model, active_id and active_ids. Delete the
// session when done.
func (c *Client) WizardCreate(ctx context.Context, name string, extra Context) (*Wizard, error) {
	res, err := c.CallContext(ctx, "wizard."+name+".create", extra)
	if err != nil {
		return nil, err
	}
	list, ok := res.([]any)
	if !ok || len(list) < 3 {
		return nil, fmt.Errorf("tryton wizard.%s.create: unexpected answer %T", name, res)
	}
	w := &Wizard{c: c, name: name, context: extra, id: Record{"id": list[0]}.ID()}
	w.Start, _ = list[1].(string)
	w.End, _ = list[2].(string)
	return w, nil
}

// Execute runs the wizard's state with the forms' data ({"start": {...}}) and
// returns the answer: {"view": {"defaults": ...}} when the wizard shows a
// form, {} when it ended.
func (w *Wizard) Execute(ctx context.Context, data map[string]any, state string) (Record, error) {
	if data == nil {
		data = map[string]any{}
	}
	res, err := w.c.CallContext(ctx, "wizard."+w.name+".execute", w.context, w.id, data, state)
	if err != nil {
		return nil, err
	}
	m, _ := res.(map[string]any)
	return m, nil
}

// Delete ends the wizard session.
func (w *Wizard) Delete(ctx context.Context) error {
	_, err := w.c.CallContext(ctx, "wizard."+w.name+".delete", w.context, w.id)
	return err
}

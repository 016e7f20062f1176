package pipedrive

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/pipedrive/pipedrivehttp"
	"github.com/concord-sync/concord/internal/model"
)

// writeWorkers is how many records one Write sends at once; the shared
// limiter keeps them under the token's budget.
const writeWorkers = 4

// Write implements connector.Connector. Pipedrive has no batch endpoint:
// each op is its own call (and, for a deal with lines, one call per changed
// deal product), so every record gets its own outcome. A create stores
// op.LinkKey in the link field; the engine looks the key up before creating,
// which is how a retry finds what an earlier attempt made. Refusals (400,
// 404) are permanent and name the field when Pipedrive does; rate limits and
// server errors are retried. Refused credentials fail the whole call.
func (c *Conn) Write(ctx context.Context, entity model.Entity, ops []connector.Op) ([]connector.Result, error) {
	o, err := c.object(entity)
	if err != nil {
		return nil, err
	}
	res := make([]connector.Result, len(ops))
	var (
		wg    sync.WaitGroup
		next  = make(chan int)
		mu    sync.Mutex
		fatal error
	)
	for range min(writeWorkers, len(ops)) {
		wg.Go(func() {
			for i := range next {
				res[i] = c.writeOne(ctx, o, ops[i])
				if errors.Is(res[i].Err, connector.ErrUnauthorized) {
					mu.Lock()
					fatal = res[i].Err
					mu.Unlock()
				}
			}
		})
	}
	for i := range ops {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if fatal != nil {
		return nil, fmt.Errorf("write %s: %w", entity, fatal)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("write %s: %w", entity, err)
	}
	return res, nil
}

func (c *Conn) writeOne(ctx context.Context, o *object, op connector.Op) connector.Result {
	fail := func(err error) connector.Result { return connector.Result{ID: op.ID, Err: c.recordErr(o, err)} }
	lines, hasLines := op.Fields[c.linesField(o)]
	switch op.Kind {
	case connector.OpCreate:
		if why, broken := c.noLink[o.entity]; broken {
			return connector.Result{Err: connector.Permanent("", errors.New(why))}
		}
		body, err := c.body(o, op.Fields, nil)
		if err != nil {
			return fail(err)
		}
		if op.LinkKey != "" {
			cf, _ := body["custom_fields"].(map[string]any)
			if cf == nil {
				cf = map[string]any{}
				body["custom_fields"] = cf
			}
			cf[o.linkKey] = op.LinkKey
		}
		ob, err := c.api.Create(ctx, o.kind, body)
		if err != nil {
			return fail(err)
		}
		r := connector.Result{ID: ob.ID(), UpdatedAt: parseTime(ob["update_time"])}
		if hasLines && len(lines.Lines) > 0 {
			if err := c.syncLines(ctx, r.ID, lines.Lines, nil); err != nil {
				return connector.Result{ID: r.ID, Err: c.recordErr(o, err)}
			}
		}
		return r
	case connector.OpUpdate:
		var cur pipedrivehttp.Object
		if c.needsCurrent(o, op.Fields) {
			got, err := c.api.Get(ctx, o.kind, op.ID)
			if err != nil {
				return fail(err)
			}
			cur = got
		}
		body, err := c.body(o, op.Fields, cur)
		if err != nil {
			return fail(err)
		}
		r := connector.Result{ID: op.ID}
		if len(body) > 0 {
			ob, err := c.api.Update(ctx, o.kind, op.ID, body)
			if err != nil {
				return fail(err)
			}
			r.UpdatedAt = parseTime(ob["update_time"])
		}
		if hasLines {
			have, err := c.dealProducts(ctx, []string{op.ID})
			if err != nil {
				return fail(err)
			}
			if err := c.syncLines(ctx, op.ID, lines.Lines, have[op.ID]); err != nil {
				return fail(err)
			}
		}
		return r
	}
	return connector.Result{ID: op.ID, Err: connector.Permanent("", fmt.Errorf("unknown op kind %q", op.Kind))}
}

// linesField is the canonical field mapped to the deal's products.
func (c *Conn) linesField(o *object) string {
	for _, f := range o.fields {
		if f.std == "products" {
			return f.name
		}
	}
	return ""
}

// needsCurrent reports whether writing fs needs the record's current state.
func (c *Conn) needsCurrent(o *object, fs model.Fields) bool {
	for _, f := range o.fields {
		if _, given := fs[f.name]; !given {
			continue
		}
		switch f.std {
		case "emails", "phones", "prices.price", "prices.cost":
			return true
		}
		if len(f.std) > 8 && f.std[:8] == "address." {
			return true
		}
	}
	return false
}

// syncLines makes the deal's products equal want, position by position:
// changed ones are patched, missing ones added, extra ones deleted.
func (c *Conn) syncLines(ctx context.Context, dealID string, want []model.Record, have []pipedrivehttp.Object) error {
	for i, l := range want {
		body, err := lineBody(l)
		if err != nil {
			return err
		}
		if i < len(have) {
			if sameLine(body, have[i]) {
				continue
			}
			if _, err := c.api.UpdateDealProduct(ctx, dealID, have[i].ID(), body); err != nil {
				return fmt.Errorf("update product %d of deal %s: %w", i+1, dealID, err)
			}
			continue
		}
		if _, err := c.api.AddDealProduct(ctx, dealID, body); err != nil {
			return fmt.Errorf("add product %d to deal %s: %w", i+1, dealID, err)
		}
	}
	for _, extra := range have[min(len(want), len(have)):] {
		if err := c.api.DeleteDealProduct(ctx, dealID, extra.ID()); err != nil {
			return fmt.Errorf("remove product %s from deal %s: %w", extra.ID(), dealID, err)
		}
	}
	return nil
}

func sameLine(body map[string]any, have pipedrivehttp.Object) bool {
	for _, k := range []string{"product_id", "quantity", "item_price", "discount"} {
		a, _ := num(body[k])
		b, _ := num(have[k])
		if !a.Equal(b) {
			return false
		}
	}
	return pipedrivehttp.Str(body["comments"]) == pipedrivehttp.Str(have["comments"]) &&
		pipedrivehttp.Str(have["discount_type"]) != "amount"
}

// recordErr classifies a per-record failure: refusals are permanent and name
// the field; credentials are whole-call; the rest is retried.
func (c *Conn) recordErr(o *object, err error) error {
	var pe *pipedrivehttp.Error
	if !errors.As(err, &pe) {
		return err
	}
	switch pe.StatusCode {
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return connector.Permanent(o.fieldOf(pe.Message), err)
	case http.StatusNotFound:
		return connector.Permanent("", fmt.Errorf("%w: %w", connector.ErrNotFound, err))
	}
	return c.callErr(err)
}

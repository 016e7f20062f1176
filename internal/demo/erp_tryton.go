package demo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/tryton"
	"github.com/concord-sync/concord/internal/connector/tryton/trytonrpc"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/northwind"
)

// TrytonERP plays the demo's ERP side on a real Tryton: it loads the catalogue,
// posts the invoices Tryton drafts when a sale is confirmed, and pays them with
// Tryton's pay wizard, as accounting would.
type TrytonERP struct {
	Conn *tryton.Conn
	Rnd  *rand.Rand
}

// LoadProducts creates Northwind's products in Tryton and returns their Tryton
// ids by Northwind product id.
func (t *TrytonERP) LoadProducts(ctx context.Context, nw *northwind.Data) (map[string]string, error) {
	ops := make([]connector.Op, len(nw.Products))
	for i, p := range nw.Products {
		ops[i] = connector.Op{Kind: connector.OpCreate, Fields: model.Fields{
			"sku":        model.Text(fmt.Sprintf("NW-%03d", p.ID)),
			"name":       model.Text(p.Name),
			"list_price": model.Money(p.UnitPrice, "USD"),
			"active":     model.Bool(!p.Discontinued),
		}}
	}
	res, err := t.Conn.Write(ctx, model.Product, ops)
	if err != nil {
		return nil, fmt.Errorf("demo: load products into tryton: %w", err)
	}
	ids := make(map[string]string, len(res))
	var errs []error
	for i, r := range res {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("product %d: %w", nw.Products[i].ID, r.Err))
			continue
		}
		ids[strconv.Itoa(nw.Products[i].ID)] = r.ID
	}
	return ids, errors.Join(errs...)
}

// Invoice posts the customer invoices Tryton drafted for confirmed sales.
func (t *TrytonERP) Invoice(ctx context.Context) (int, error) {
	rpc := t.Conn.Client()
	ids, err := rpc.Search(ctx, "account.invoice", trytonrpc.Domain{trytonrpc.Leaf("type", "=", "out"), trytonrpc.Leaf("state", "=", "draft")}, trytonrpc.SearchOptions{})
	if err != nil {
		return 0, fmt.Errorf("demo: draft invoices: %w", err)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	if err := rpc.Button(ctx, "account.invoice", "post", ids, nil); err != nil {
		return 0, fmt.Errorf("demo: post invoices: %w", err)
	}
	return len(ids), nil
}

// Pay pays up to n posted invoices in full with the pay wizard.
func (t *TrytonERP) Pay(ctx context.Context, n int) (int, error) {
	rpc := t.Conn.Client()
	ids, err := rpc.Search(ctx, "account.invoice", trytonrpc.Domain{trytonrpc.Leaf("type", "=", "out"), trytonrpc.Leaf("state", "=", "posted")}, trytonrpc.SearchOptions{})
	if err != nil {
		return 0, fmt.Errorf("demo: posted invoices: %w", err)
	}
	methods, err := rpc.Search(ctx, "account.invoice.payment.method", trytonrpc.Domain{}, trytonrpc.SearchOptions{Limit: 1})
	if err != nil || len(methods) == 0 {
		return 0, fmt.Errorf("demo: a payment method: %w", errors.Join(err, errors.New("none configured")))
	}
	t.Rnd.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	paid := 0
	for _, id := range ids[:min(n, len(ids))] {
		if err := payInvoice(ctx, rpc, id, methods[0]); err != nil {
			return paid, err
		}
		paid++
	}
	return paid, nil
}

// payInvoice runs account.invoice.pay for the full amount.
func payInvoice(ctx context.Context, rpc *trytonrpc.Client, id, method int64) (err error) {
	w, err := rpc.WizardCreate(ctx, "account.invoice.pay", trytonrpc.Context{"active_model": "account.invoice", "active_id": id, "active_ids": []int64{id}})
	if err != nil {
		return fmt.Errorf("demo: pay invoice %d: %w", id, err)
	}
	defer func() { err = errors.Join(err, w.Delete(ctx)) }()
	view, err := w.Execute(ctx, nil, w.Start)
	if err != nil {
		return fmt.Errorf("demo: pay invoice %d: %w", id, err)
	}
	v, _ := view["view"].(map[string]any)
	defaults, _ := v["defaults"].(map[string]any)
	form := map[string]any{}
	for k, val := range defaults {
		if !strings.Contains(k, ".") {
			form[k] = val
		}
	}
	form["description"] = "customer payment"
	form["payment_method"] = method
	if _, err := w.Execute(ctx, map[string]any{"start": form}, "choice"); err != nil {
		return fmt.Errorf("demo: pay invoice %d: %w", id, err)
	}
	return nil
}

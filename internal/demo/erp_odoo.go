package demo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/odoo"
	"github.com/concord-sync/concord/internal/connector/odoo/odoorpc"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/northwind"
)

// OdooERP plays the demo's ERP side on a real Odoo: it loads the catalogue,
// posts the draft customer invoices the order handoff leaves, and registers
// the customers' payments with Odoo's payment wizard, as accounting would.
type OdooERP struct {
	Conn *odoo.Conn
	Rnd  *rand.Rand
}

var _ ERPSide = (*OdooERP)(nil)

// LoadProducts creates Northwind's products in Odoo and returns their Odoo
// ids by Northwind product id. All are active, Northwind's discontinued ones
// too (no longer reordered, still sold from stock): the CRM's deals sell them,
// and Odoo refuses an archived product on an order line.
func (o *OdooERP) LoadProducts(ctx context.Context, nw *northwind.Data) (map[string]string, error) {
	ops := make([]connector.Op, len(nw.Products))
	for i, p := range nw.Products {
		ops[i] = connector.Op{Kind: connector.OpCreate, Fields: model.Fields{
			"sku":        model.Text(fmt.Sprintf("NW-%03d", p.ID)),
			"name":       model.Text(p.Name),
			"list_price": model.Money(p.UnitPrice, "USD"),
			"active":     model.Bool(true),
		}}
	}
	res, err := o.Conn.Write(ctx, model.Product, ops)
	if err != nil {
		return nil, fmt.Errorf("demo: load products into odoo: %w", err)
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
	if err := errors.Join(errs...); err != nil {
		return ids, fmt.Errorf("demo: load products into odoo: %w", err)
	}
	return ids, nil
}

// customerInvoices is the domain of customer invoices (not credit notes).
func customerInvoices(leaves ...any) odoorpc.Domain {
	return append(odoorpc.Domain{odoorpc.Leaf("move_type", "=", "out_invoice")}, leaves...)
}

// Invoice posts the draft customer invoices, as accounting does with the
// drafts Odoo makes from confirmed sale orders.
func (o *OdooERP) Invoice(ctx context.Context) (int, error) {
	rpc := o.Conn.Client()
	ids, err := rpc.Search(ctx, "account.move", customerInvoices(odoorpc.Leaf("state", "=", "draft")), odoorpc.SearchOptions{})
	if err != nil {
		return 0, fmt.Errorf("demo: draft invoices: %w", err)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	if _, err := rpc.Call(ctx, "account.move", "action_post", ids, nil); err != nil {
		return 0, fmt.Errorf("demo: post invoices %v: %w", ids, err)
	}
	return len(ids), nil
}

// Pay pays up to n posted, unpaid invoices in full, each with Odoo's payment
// wizard (account.payment.register) and its defaults: the whole amount due,
// today, the first bank journal.
func (o *OdooERP) Pay(ctx context.Context, n int) (int, error) {
	rpc := o.Conn.Client()
	ids, err := rpc.Search(ctx, "account.move", customerInvoices(
		odoorpc.Leaf("state", "=", "posted"),
		odoorpc.Leaf("payment_state", "in", []string{"not_paid", "partial"}),
	), odoorpc.SearchOptions{Order: "id asc"})
	if err != nil {
		return 0, fmt.Errorf("demo: posted invoices: %w", err)
	}
	o.Rnd.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	paid := 0
	for _, id := range ids[:min(n, len(ids))] {
		if err := payOdooInvoice(ctx, rpc, id); err != nil {
			return paid, err
		}
		paid++
	}
	return paid, nil
}

// payOdooInvoice registers a payment of invoice id's amount due.
func payOdooInvoice(ctx context.Context, rpc *odoorpc.Client, id int64) error {
	active := odoorpc.ActiveContext("account.move", id)
	wiz, err := rpc.Create(ctx, "account.payment.register", []odoorpc.Values{{}}, active)
	if err != nil {
		return fmt.Errorf("demo: pay invoice %d: %w", id, err)
	}
	if len(wiz) != 1 {
		return fmt.Errorf("demo: pay invoice %d: the payment wizard returned %d records", id, len(wiz))
	}
	if _, err := rpc.Call(ctx, "account.payment.register", "action_create_payments", wiz, active); err != nil {
		return fmt.Errorf("demo: pay invoice %d: %w", id, err)
	}
	return nil
}

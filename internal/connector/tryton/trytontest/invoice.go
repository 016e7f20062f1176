package trytontest

import (
	"context"
	"fmt"
	"strings"

	"github.com/concord-sync/concord/internal/connector/tryton/trytonrpc"
)

// PostInvoice posts a draft customer invoice, as accounting would: Tryton
// gives it its number and its lines to pay.
func PostInvoice(ctx context.Context, c *trytonrpc.Client, id int64) error {
	if err := c.Button(ctx, "account.invoice", "post", []int64{id}, nil); err != nil {
		return fmt.Errorf("post invoice %d: %w", id, err)
	}
	return nil
}

// PayInvoice pays a posted invoice in full through Tryton's pay wizard
// (account.invoice.pay) with the payment method named method ("Cash" in the
// template database): it starts the wizard, takes the start form's defaults
// (the whole amount due, today), and runs the "choice" state, which reconciles
// the invoice so it becomes paid. The wizard session is deleted in every case.
func PayInvoice(ctx context.Context, c *trytonrpc.Client, id int64, method string) (err error) {
	methods, err := c.Search(ctx, "account.invoice.payment.method", trytonrpc.Domain{trytonrpc.Leaf("name", "=", method)}, trytonrpc.SearchOptions{Limit: 1})
	if err != nil {
		return fmt.Errorf("pay invoice %d: payment method: %w", id, err)
	}
	if len(methods) != 1 {
		return fmt.Errorf("pay invoice %d: no payment method %q", id, method)
	}
	w, err := c.WizardCreate(ctx, "account.invoice.pay", trytonrpc.Context{"active_model": "account.invoice", "active_id": id, "active_ids": []int64{id}})
	if err != nil {
		return fmt.Errorf("pay invoice %d: start wizard: %w", id, err)
	}
	defer func() {
		if derr := w.Delete(ctx); derr != nil && err == nil {
			err = fmt.Errorf("pay invoice %d: end wizard: %w", id, derr)
		}
	}()
	view, err := w.Execute(ctx, nil, w.Start)
	if err != nil {
		return fmt.Errorf("pay invoice %d: start form: %w", id, err)
	}
	v, ok := view["view"].(map[string]any)
	if !ok {
		return fmt.Errorf("pay invoice %d: the wizard shows no start form: %v", id, view)
	}
	defaults, ok := v["defaults"].(map[string]any)
	if !ok {
		return fmt.Errorf("pay invoice %d: the start form has no defaults: %v", id, v)
	}
	form := map[string]any{}
	for k, v := range defaults {
		if !strings.Contains(k, ".") { // "currency.rec_name" and the like are display values
			form[k] = v
		}
	}
	form["description"] = "CRM payment"
	form["payment_method"] = methods[0]
	out, err := w.Execute(ctx, map[string]any{"start": form}, "choice")
	if err != nil {
		return fmt.Errorf("pay invoice %d: pay: %w", id, err)
	}
	if out["view"] != nil {
		return fmt.Errorf("pay invoice %d: the wizard asks for more (a partial payment?): %v", id, out["view"])
	}
	return nil
}

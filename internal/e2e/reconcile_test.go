package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector/tryton/trytontest"
	"github.com/concord-sync/concord/internal/reconcile"
	"github.com/concord-sync/concord/internal/sandbox/hubspot"
)

// TestIntegrationReconcile: concord reconcile against the real Tryton finds
// the handoffs that did not happen (a deal won after the sync has no sale, a
// sale whose invoice is a draft has no posted invoice, an invoice paid in
// Tryton that the deal does not show yet) and explains the month's variance
// with Tryton's taxes, nothing left unexplained.
func TestIntegrationReconcile(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	erpProduct := w.product("REC-1", "Reconciled widget", "250")
	w.syncOK()
	item := w.crmProductOf(erpProduct).ID
	company := w.company("Reconcile Partners SA", "Lyon", "FR")
	today := time.Now().UTC().Format("2006-01-02T00:00:00.000Z")
	closeToday := func(deal string) {
		_, err := w.crm.Update(hubspot.Deals, deal, map[string]string{"closedate": today})
		require.NoError(t, err)
	}
	paid, _ := w.deal("Paid deal", company, lineSpec{item, "4", "250", "10"}) // 900 untaxed
	drafted, _ := w.deal("Drafted deal", company, lineSpec{item, "1", "250", ""})
	closeToday(paid)
	closeToday(drafted)
	w.win(paid, drafted)
	w.syncOK()
	paidSale, draftSale := w.oneSale(paid), w.oneSale(drafted)
	require.Len(t, paidSale.Invoices, 1)
	inv := paidSale.Invoices[0]
	require.NoError(t, trytontest.PostInvoice(ctx, w.rpc(), inv))
	w.syncOK()

	// Perturbations: a deal won after the last sync; the posted invoice paid
	// in Tryton and not synced back.
	late, _ := w.deal("Late deal", company, lineSpec{item, "2", "250", ""})
	closeToday(late)
	w.win(late)
	require.NoError(t, trytontest.PayInvoice(ctx, w.rpc(), inv, "Cash"))

	path := filepath.Join(w.dir, "reconcile.json")
	out, code := w.concord("reconcile", "--format", "json", "--output", path)
	require.Equal(t, 1, code, "findings: exit 1\n%s", out)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var rep reconcile.Report
	require.NoError(t, json.Unmarshal(b, &rep), string(b))

	kinds := map[string][]string{}
	for _, h := range rep.Handoffs {
		kinds[h.Kind] = append(kinds[h.Kind], h.DealID+"/"+h.OrderID+"/"+h.InvoiceID)
	}
	sid := func(id int64) string { return itoa(id) }
	require.Equal(t, []string{late + "//"}, kinds[reconcile.WonWithoutOrder], "%+v", rep.Handoffs)
	require.Equal(t, []string{drafted + "/" + sid(draftSale.ID) + "/"}, kinds[reconcile.OrderWithoutInvoice], "%+v", rep.Handoffs)
	require.Equal(t, []string{paid + "/" + sid(paidSale.ID) + "/" + sid(inv)}, kinds[reconcile.PaidNotOnDeal], "%+v", rep.Handoffs)
	require.Empty(t, kinds[reconcile.InvoiceWithoutDeal])
	require.Empty(t, kinds[reconcile.AmountDiffersFromWon])

	// This month: won 900 + 250 + 500, invoiced 990 (900 and 10% VAT): the
	// variance is Tryton's tax and the two handoffs missing.
	month := time.Now().UTC().Format("2006-01")
	var m *reconcile.Month
	for i := range rep.Months {
		if rep.Months[i].Month == month {
			m = &rep.Months[i]
		}
	}
	require.NotNil(t, m, "%+v", rep.Months)
	require.Equal(t, "1650", m.CRMWon.String())
	require.Equal(t, "990", m.ERPInvoiced.String())
	require.True(t, m.Unexplained.IsZero(), "%+v", m)
	byKind := map[string]string{}
	for _, k := range m.ByKind() {
		byKind[k.Kind] = k.Amount.String()
	}
	require.Equal(t, map[string]string{reconcile.Tax: "90", reconcile.MissingHandoff: "-750"}, byKind)
}

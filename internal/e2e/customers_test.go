package e2e

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/sandbox/hubspot"
)

// TestIntegrationCustomers covers the customer sync (CRM -> ERP on deal won,
// then on every change) and its way back (the ERP's customer number onto the
// company), and the companies the ERP cannot take.
func TestIntegrationCustomers(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	erpProduct := w.product("CUS-1", "Consulting hour", "120")
	w.syncOK() // the catalogue reaches the CRM
	item := w.crmProductOf(erpProduct).ID

	acme := w.company("Acme Corp", "New York", "US")
	prospect := w.company("Prospect Ltd", "Boston", "US")
	_, _ = w.deal("Acme open deal", prospect, lineSpec{item, "1", "120", ""})
	won, _ := w.deal("Acme retainer", acme, lineSpec{item, "2", "120", ""})
	w.win(won)
	w.syncOK()

	t.Run("WonDealCreatesParty", func(t *testing.T) {
		found, err := w.erp.Lookup(ctx, model.Account, []string{acme, prospect})
		require.NoError(t, err)
		require.NotContains(t, found, prospect, "a company without a won deal stays out of the ERP")
		require.Contains(t, found, acme, "the party carries the HubSpot company id, so a retry finds it")
		party := found[acme]
		require.Equal(t, acme, party.LinkKey)
		require.Equal(t, "Acme Corp", party.Fields["name"].Str)
		require.Equal(t, "1 Main Street", party.Fields["street"].Str)
		require.Equal(t, "New York", party.Fields["city"].Str)
		require.Equal(t, "10001", party.Fields["zip"].Str)
		require.Equal(t, "US", party.Fields["country"].Str)
		created := w.events("--flow", "customers", "--source-id", acme, "--status", "created")
		require.Len(t, created, 1, "one create of the party")
		require.Equal(t, party.ID, created[0].TargetID, "the company is linked to its party")
		require.Len(t, w.sales(won), 1, "and the won deal was handed over")
	})

	t.Run("CustomerNumberFlowsBack", func(t *testing.T) {
		// The party was created after this pass read the ERP's parties: the next pass brings its number.
		w.syncOK()
		found, err := w.erp.Lookup(ctx, model.Account, []string{acme})
		require.NoError(t, err)
		number := found[acme].Fields["customer_number"].Str
		require.NotEmpty(t, number, "Tryton numbered the party")
		require.Equal(t, number, prop(w.get(hubspot.Companies, acme), "erp_customer_number"))
	})

	t.Run("CompanyChangeReachesParty", func(t *testing.T) {
		_, err := w.crm.Update(hubspot.Companies, acme, map[string]string{"city": "  Boston ", "zip": "02108"})
		require.NoError(t, err)
		w.syncOK()
		found, err := w.erp.Lookup(ctx, model.Account, []string{acme})
		require.NoError(t, err)
		require.Equal(t, "Boston", found[acme].Fields["city"].Str, "cleaned (trim) on the way")
		require.Equal(t, "02108", found[acme].Fields["zip"].Str)
		require.Equal(t, "Acme Corp", found[acme].Fields["name"].Str)
		require.Len(t, w.sales(won), 1, "a company change hands nothing over again")

		// A change the ERP owns does not go back: customer_number on the company edited by hand.
		before := found[acme].Fields["customer_number"].Str
		_, err = w.crm.Update(hubspot.Companies, acme, map[string]string{"erp_customer_number": "HAND-EDIT"})
		require.NoError(t, err)
		w.syncOK()
		found, err = w.erp.Lookup(ctx, model.Account, []string{acme})
		require.NoError(t, err)
		require.Equal(t, before, found[acme].Fields["customer_number"].Str, "the ERP's number is never overwritten from the CRM")
	})

	t.Run("CountryCleanRuleRefuses", func(t *testing.T) {
		narnia := w.company("Narnia Trading", "Cair Paravel", "Narnia")
		deal, _ := w.deal("Narnia deal", narnia, lineSpec{item, "1", "120", ""})
		w.win(deal)
		_, code := w.sync()
		require.Equal(t, 0, code, "the held-up deal waits; a wait does not fail the run")
		orders := w.events("--flow", "orders", "--source-id", deal)
		require.NotEmpty(t, orders)
		require.Equal(t, "waiting", orders[0].Outcome, "%+v", orders[0])
		require.Contains(t, orders[0].Error, narnia, "the deal's event names the company that holds it up")

		evs := w.events("--flow", "customers", "--source-id", narnia)
		require.NotEmpty(t, evs, "the company was pulled by its won deal")
		require.Equal(t, "quarantined", evs[0].Outcome, "%+v", evs[0])
		require.Contains(t, evs[0].Error, "country", "names the field")
		require.Contains(t, evs[0].Error, "Narnia", "and the value")
		found, err := w.erp.Lookup(ctx, model.Account, []string{narnia})
		require.NoError(t, err)
		require.Empty(t, found, "nothing reached the ERP")
		require.Empty(t, w.sales(deal), "the deal is not handed over without its customer")

		status := prop(w.get(hubspot.Deals, deal), "erp_sync_status")
		t.Logf("erp_sync_status: %s", status)
		require.Contains(t, status, narnia, "the deal says which company holds it up")
	})

	t.Run("CountryTrytonLacks", func(t *testing.T) {
		// Japan is a valid ISO country, but the ERP has no such country record.
		tokyo := w.company("Tokyo Trading", "Tokyo", "JP")
		deal, _ := w.deal("Tokyo deal", tokyo, lineSpec{item, "1", "120", ""})
		w.win(deal)
		_, code := w.sync()
		require.Equal(t, 1, code, "a refused change fails the run")

		evs := w.events("--flow", "customers", "--source-id", tokyo)
		require.NotEmpty(t, evs)
		require.Contains(t, []string{"failed", "dead"}, evs[0].Outcome, "%+v", evs[0])
		require.Contains(t, evs[0].Error, "country", "names the field")
		require.Contains(t, evs[0].Error, "JP", "and the value")
		found, err := w.erp.Lookup(ctx, model.Account, []string{tokyo})
		require.NoError(t, err)
		require.Empty(t, found)
		require.Empty(t, w.sales(deal))
		status := prop(w.get(hubspot.Deals, deal), "erp_sync_status")
		t.Logf("erp_sync_status: %s", status)
		require.Contains(t, status, tokyo, "the deal says which company holds it up")
	})
}

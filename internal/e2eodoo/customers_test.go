package e2eodoo

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/sandbox/hubspot"
)

// TestIntegrationCustomers covers the customer sync at deal won: the won
// deal's company and its billing contact reach Odoo as res.partner (company,
// and a person under it) with ref = the HubSpot id, a prospect's company does
// not; a company the clean rules refuse and a contact Odoo refuses (no name)
// hold up their own deals only, each named with its field; once fixed in the
// CRM, the next sync delivers them and hands their deals over, without
// duplicating anything.
func TestIntegrationCustomers(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	item := w.product("CUS-1", "Consulting hour", "120")
	w.syncOK() // the catalogue reaches the CRM
	hsItem := w.crmProductOf(item).ID

	acme := w.company("Acme Corp", "New York", "US")
	jane := w.contact(acme, "Jane", "Doe", "jane.doe@acme.example")
	prospect := w.company("Prospect Ltd", "Boston", "US")
	globex := w.company("Globex", "Springfield", "US")
	nameless := w.contact(globex, "", "", "billing@globex.example") // HubSpot keeps contacts with only an e-mail
	narnia := w.company("Narnia Trading", "Cair Paravel", "Narnia")
	_, _ = w.deal("Prospect open deal", prospect, "", lineSpec{hsItem, "1", "120", ""})
	won, _ := w.deal("Acme retainer", acme, jane, lineSpec{hsItem, "2", "120", ""})
	globexDeal, _ := w.deal("Globex audit", globex, nameless, lineSpec{hsItem, "3", "120", ""})
	narniaDeal, _ := w.deal("Narnia deal", narnia, "", lineSpec{hsItem, "1", "120", ""})
	w.win(won, globexDeal, narniaDeal)
	_, code := w.sync()
	require.Equal(t, 1, code, "a change Odoo refused fails the run")

	t.Run("WonDealCreatesPartners", func(t *testing.T) {
		require.Empty(t, w.partners(prospect), "a company without a won deal stays out of Odoo")
		p := w.onePartner(acme)
		require.True(t, p.Bool("is_company"))
		require.Equal(t, "Acme Corp", p.String("name"))
		require.Equal(t, "1 Main Street", p.String("street"))
		require.Equal(t, "New York", p.String("city"))
		require.Equal(t, "10001", p.String("zip"))
		require.Equal(t, "US", w.countryCode(p.Int("country_id")))
		require.Equal(t, "+1 212 555 0100", p.String("phone"))
		require.Positive(t, p.Int("customer_rank"), "a customer")
		created := w.events("--flow", "customers", "--source-id", acme, "--status", "created")
		require.Len(t, created, 1, "one create of the partner")
		require.Equal(t, itoa(p.ID()), created[0].TargetID, "the company is linked to its partner")

		c := w.onePartner(jane)
		require.False(t, c.Bool("is_company"))
		require.Equal(t, "Jane Doe", c.String("name"))
		require.Equal(t, "jane.doe@acme.example", c.String("email"))
		parent, _ := c.Many2one("parent_id")
		require.Equal(t, p.ID(), parent, "the billing contact is a person of the company")

		o := w.oneOrder(won)
		require.Equal(t, p.ID(), o.Partner, "the won deal was handed over to its company")
		require.Equal(t, c.ID(), o.InvoiceAddress, "invoiced to its billing contact")
	})

	t.Run("ContactOdooRefuses", func(t *testing.T) {
		evs := w.events("--flow", "contacts", "--source-id", nameless)
		require.NotEmpty(t, evs, "the contact was pulled by its won deal")
		require.Contains(t, []string{"failed", "dead"}, evs[0].Outcome, "%+v", evs[0])
		require.Contains(t, evs[0].Error, "last_name", "names the field: %s", evs[0].Error)
		require.Empty(t, w.partners(nameless), "nothing of it reached Odoo")
		g := w.onePartner(globex)
		require.Equal(t, "Globex", g.String("name"), "its company went through")
		require.Empty(t, w.orders(globexDeal), "the deal is not handed over without its billing contact")
		status := prop(w.get(hubspot.Deals, globexDeal), "erp_sync_status")
		t.Logf("erp_sync_status: %s", status)
		require.Contains(t, status, nameless, "the deal says which contact holds it up")
	})

	t.Run("CountryCleanRuleRefuses", func(t *testing.T) {
		evs := w.events("--flow", "customers", "--source-id", narnia)
		require.NotEmpty(t, evs, "the company was pulled by its won deal")
		require.Equal(t, "quarantined", evs[0].Outcome, "%+v", evs[0])
		require.Contains(t, evs[0].Error, "country", "names the field")
		require.Contains(t, evs[0].Error, "Narnia", "and the value")
		require.Empty(t, w.partners(narnia), "nothing reached Odoo")
		require.Empty(t, w.orders(narniaDeal))
		orders := w.events("--flow", "orders", "--source-id", narniaDeal)
		require.NotEmpty(t, orders)
		require.Equal(t, "waiting", orders[0].Outcome, "%+v", orders[0])
		require.Contains(t, orders[0].Error, narnia, "the deal's event names the company that holds it up")
		require.Contains(t, prop(w.get(hubspot.Deals, narniaDeal), "erp_sync_status"), narnia, "and so does the deal")
	})

	t.Run("FixedInTheCRMThenDelivered", func(t *testing.T) {
		w.update(hubspot.Contacts, nameless, map[string]string{"firstname": "Ann", "lastname": "Smith"})
		w.update(hubspot.Companies, narnia, map[string]string{"country": "United Kingdom"})
		w.syncOK()
		c := w.onePartner(nameless)
		require.Equal(t, "Ann Smith", c.String("name"))
		parent, _ := c.Many2one("parent_id")
		require.Equal(t, w.onePartner(globex).ID(), parent)
		n := w.onePartner(narnia)
		require.Equal(t, "GB", w.countryCode(n.Int("country_id")), "cleaned to the ISO code")
		require.Equal(t, n.ID(), w.oneOrder(narniaDeal).Partner, "the held-up deals are handed over now")
		require.Equal(t, c.ID(), w.oneOrder(globexDeal).InvoiceAddress)
		for _, d := range []string{globexDeal, narniaDeal} {
			status := prop(w.get(hubspot.Deals, d), "erp_sync_status")
			require.True(t, strings.HasPrefix(status, "synced"), "deal %s status %q", d, status)
		}
	})

	t.Run("CompanyChangeReachesPartner", func(t *testing.T) {
		w.update(hubspot.Companies, acme, map[string]string{"city": "  Boston ", "zip": "02108"})
		w.syncOK()
		p := w.onePartner(acme)
		require.Equal(t, "Boston", p.String("city"), "cleaned (trim) on the way")
		require.Equal(t, "02108", p.String("zip"))
		require.Len(t, w.orders(won), 1, "a company change hands nothing over again")
	})

	t.Run("NoDuplicates", func(t *testing.T) {
		w.syncOK()
		for _, id := range []string{acme, jane, globex, nameless, narnia} {
			require.Len(t, w.partners(id), 1, "one Odoo partner for CRM record %s", id)
		}
		require.Len(t, w.orders(""), 3, "one sale order per won deal, nothing else")
	})
}

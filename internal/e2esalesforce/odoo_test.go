package e2esalesforce

import (
	"encoding/json"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector/odoo/odoorpc"
	"github.com/concord-sync/concord/internal/connector/odoo/odootest"
)

const odooExample = "../../examples/salesforce-odoo/concord.yaml"

// odooClones is how many Odoo databases the tests take.
const odooClones = 1

// newOdooWorld is a world with the shipped Salesforce <-> Odoo config and an
// Odoo clone of its own, and an Odoo client logged in as admin (set-up and
// inspection, as the company's staff would work; never the integration user
// Concord logs in as).
func newOdooWorld(t *testing.T) (*world, *odoorpc.Client) {
	t.Helper()
	db := odootest.Clone(t)
	w, crmURL := newCRM(t)
	w.writeConfig(odooExample, crmURL, db.Password, map[string]any{
		"url": db.URL, "database": db.Database, "username": db.User, "password": "file:erp.password"})
	erp, err := odoorpc.New(odoorpc.Config{URL: db.URL, Database: db.Database, Username: "admin", Password: db.AdminPassword,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	require.NoError(t, err)
	t.Cleanup(func() { _ = erp.Close(t.Context()) })
	require.NoError(t, erp.Login(t.Context()))
	return w, erp
}

// TestIntegrationWonOpportunityOdoo runs the shipped Salesforce <-> Odoo
// config with the real binary: Odoo's catalogue reaches Salesforce as
// Product2 records with standard prices; an Opportunity won in Salesforce
// becomes exactly one confirmed Odoo sale order with its line items (the
// linked products, quantities, prices and discounts), sold to its Account
// (created once in Odoo), its invoice drafted; its ERP_Sync_Status__c says
// so; an open Opportunity stays put; a second run creates nothing more; the
// invoice, once posted and paid in Odoo, shows as paid on the Opportunity.
func TestIntegrationWonOpportunityOdoo(t *testing.T) {
	t.Parallel()
	w, erp := newOdooWorld(t)
	erpProducts := map[string]int64{}
	for _, p := range []struct{ sku, name, price string }{{"WID-1", "Widget", "25"}, {"GAD-1", "Gadget", "40"}} {
		erpProducts[p.sku] = odootest.Product(t, erp, p.sku, p.name, p.price)
	}
	w.syncOK()

	entryOf := map[string]string{}
	for sku, erpID := range erpProducts {
		p := w.one("SELECT Id, ProductCode FROM Product2 WHERE Concord_Id__c = '" + strconv.FormatInt(erpID, 10) + "'")
		require.Equal(t, sku, p["ProductCode"], "the Salesforce product is Odoo's, linked by Concord_Id__c")
		e := w.one("SELECT Id, UnitPrice, IsActive FROM PricebookEntry WHERE Product2Id = '" + p["Id"].(string) + "'")
		require.Equal(t, true, e["IsActive"])
		entryOf[sku] = e["Id"].(string)
	}
	require.Equal(t, json.Number("40"), w.one("SELECT UnitPrice FROM PricebookEntry WHERE Id = '" + entryOf["GAD-1"] + "'")["UnitPrice"])

	acc := w.create("Account", map[string]any{"Name": "Acme Odoo Corp", "BillingStreet": "1 Main Street", "BillingCity": "New York",
		"BillingPostalCode": "10001", "BillingCountry": "US", "Phone": "+1 212 555 0100"})
	ct := w.create("Contact", map[string]any{"FirstName": "Wile", "LastName": "Coyote", "Email": "wile@acme-odoo.example", "AccountId": acc})
	opp := w.create("Opportunity", map[string]any{"Name": "Acme - rollout", "StageName": "Negotiation/Review", "CloseDate": "2026-03-31", "AccountId": acc, "ContactId": ct})
	w.create("OpportunityLineItem", map[string]any{"OpportunityId": opp, "PricebookEntryId": entryOf["WID-1"], "Quantity": 3, "UnitPrice": 25})
	w.create("OpportunityLineItem", map[string]any{"OpportunityId": opp, "PricebookEntryId": entryOf["GAD-1"], "Quantity": 2, "UnitPrice": 40, "Discount": 25})
	open := w.create("Opportunity", map[string]any{"Name": "Acme - maybe", "StageName": "Qualification", "CloseDate": "2026-06-30", "AccountId": acc})
	w.create("OpportunityLineItem", map[string]any{"OpportunityId": open, "PricebookEntryId": entryOf["WID-1"], "Quantity": 1, "UnitPrice": 25})
	require.NoError(t, w.crm.Update("Opportunity", opp, map[string]any{"StageName": "Closed Won"}))
	w.syncOK()

	require.Empty(t, odootest.Orders(t, erp, open), "an open opportunity is not handed over")
	got := odootest.Orders(t, erp, opp)
	require.Len(t, got, 1, "one sale order per won opportunity")
	o := got[0]
	require.Equal(t, "sale", o.State, "confirmed")
	require.Len(t, o.Invoices, 1, "the invoice is drafted at handoff")
	odootest.RequireLines(t, o.Lines, []odootest.Line{
		{Product: erpProducts["WID-1"], Qty: "3", Net: "25", Subtotal: "75"},
		{Product: erpProducts["GAD-1"], Qty: "2", Net: "30", Subtotal: "60"}, // 40 less 25 %
	})
	out, code := w.concord("events", "--json", "--flow", "customers", "--source-id", acc, "--status", "created")
	require.Zero(t, code, out)
	var created []struct {
		TargetID string `json:"target_id"`
	}
	require.NoError(t, json.Unmarshal([]byte(out[strings.Index(out, "["):]), &created), out)
	require.Len(t, created, 1, "the Account is created once in Odoo")
	require.Equal(t, strconv.FormatInt(o.Partner, 10), created[0].TargetID, "sold to the opportunity's Account")
	status := w.one("SELECT ERP_Sync_Status__c FROM Opportunity WHERE Id = '" + opp + "'")["ERP_Sync_Status__c"].(string)
	require.True(t, strings.HasPrefix(status, "synced to erp order "+strconv.FormatInt(o.ID, 10)+" "), "status %q", status)

	w.syncOK()
	again := odootest.Orders(t, erp, "")
	require.Len(t, again, 1, "a second run creates nothing more")
	require.Equal(t, o.Invoices, again[0].Invoices, "and no second invoice")

	// Accounting posts and pays the invoice: the opportunity shows it.
	odootest.PostAndPay(t, erp, o.Invoices[0])
	w.syncOK()
	paid := w.one("SELECT ERP_Invoice_Number__c, ERP_Invoice_State__c, ERP_Amount_Due__c, ERP_Paid_Date__c FROM Opportunity WHERE Id = '" + opp + "'")
	require.Equal(t, "paid", paid["ERP_Invoice_State__c"], "%v", paid)
	require.Equal(t, odootest.InvoiceName(t, erp, o.Invoices[0]), paid["ERP_Invoice_Number__c"])
	require.NotNil(t, paid["ERP_Paid_Date__c"])
	require.True(t, decimal.Zero.Equal(decimal.RequireFromString(string(paid["ERP_Amount_Due__c"].(json.Number)))), "nothing left to pay: %v", paid)
}

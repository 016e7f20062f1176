package demo

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/concord-sync/concord/internal/northwind"
	"github.com/concord-sync/concord/internal/sandbox/salesforce"
)

// SalesforceClientID and SalesforceSecret are the connected app's consumer
// key and secret the demo's Salesforce sandbox accepts.
const (
	SalesforceClientID = "concord-demo"
	SalesforceSecret   = "demo-secret-0000"
)

// SalesforceLinkField is the External ID field holding the ERP's id.
const SalesforceLinkField = "Concord_Id__c"

// salesforceFields are the custom fields the demo's mappings write into
// Salesforce (an administrator creates them in a real org; see
// examples/salesforce-tryton/concord.yaml).
var salesforceFields = map[string][]salesforce.CustomField{
	"Account": {
		{Name: "ERP_Credit_Limit__c", Label: "Credit limit (ERP)", Type: "Currency", Scale: 2},
		{Name: "ERP_Open_Balance__c", Label: "Open balance (ERP)", Type: "Currency", Scale: 2},
	},
	"Product2": {{Name: "ERP_Stock__c", Label: "Stock on hand (ERP)", Type: "Number", Scale: 2}},
	"Opportunity": {
		{Name: "ERP_Invoice_Number__c", Label: "Invoice number (ERP)", Type: "Text", Length: 80},
		{Name: "ERP_Invoice_State__c", Label: "Invoice state (ERP)", Type: "Text", Length: 40},
		{Name: "ERP_Amount_Due__c", Label: "Amount due (ERP)", Type: "Currency", Scale: 2},
		{Name: "ERP_Paid_Date__c", Label: "Paid on (ERP)", Type: "Date"},
		{Name: "ERP_Overdue__c", Label: "Overdue (ERP)", Type: "Checkbox"},
		{Name: "ERP_Sync_Status__c", Label: "ERP sync status", Type: "LongTextArea"},
	},
}

// SetupSalesforce seeds the Salesforce sandbox from Northwind with deals
// Opportunities, defines the link field and the custom fields the mapping
// writes, and writes the ERP id of each Account and product the ERP already
// has into the link field, so that Concord pairs them by that stable id.
// erpID maps an object type ("companies" or "products", as for HubSpot) and
// a Northwind key to the ERP's id, "" when the ERP has none.
func SetupSalesforce(crm *salesforce.Server, nw *northwind.Data, deals int, rnd *rand.Rand, erpID func(objectType, northwindID string) string) error {
	if err := crm.Seed(nw, deals, rnd); err != nil {
		return fmt.Errorf("demo: seed crm: %w", err)
	}
	for _, obj := range []string{"Account", "Product2", "Opportunity", "Contact"} {
		fields := append([]salesforce.CustomField{{Name: SalesforceLinkField, Label: "Concord link", Type: "Text", Length: 255, ExternalID: true, Unique: true}}, salesforceFields[obj]...)
		for _, f := range fields {
			if err := crm.DefineField(obj, f); err != nil {
				return fmt.Errorf("demo: define %s.%s: %w", obj, f.Name, err)
			}
		}
	}
	link := func(object, typ, soql string, key func(map[string]any) string) error {
		recs, err := crm.Query(soql, false)
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		for _, r := range recs {
			id := erpID(typ, key(r))
			if id == "" {
				continue
			}
			if err := crm.Update(object, r["Id"].(string), map[string]any{SalesforceLinkField: id}); err != nil {
				return fmt.Errorf("demo: link %s %s: %w", object, r["Id"], err)
			}
		}
		return nil
	}
	if err := link("Account", "companies", "SELECT Id, AccountNumber FROM Account", func(r map[string]any) string {
		s, _ := r["AccountNumber"].(string)
		return s
	}); err != nil {
		return err
	}
	return link("Product2", "products", "SELECT Id, ProductCode FROM Product2", func(r map[string]any) string {
		code, _ := r["ProductCode"].(string)
		n, err := strconv.Atoi(strings.TrimPrefix(code, "NW-"))
		if err != nil {
			return ""
		}
		return strconv.Itoa(n)
	})
}

// SalesforceDeals wins Opportunities in the Salesforce sandbox, as a sales
// rep would.
type SalesforceDeals struct {
	CRM *salesforce.Server
	Rnd *rand.Rand
}

// WinDeals moves up to n open Opportunities to Closed Won.
func (d *SalesforceDeals) WinDeals(n int) ([]string, error) {
	recs, err := d.CRM.Query("SELECT Id FROM Opportunity WHERE IsClosed = false ORDER BY Id", false)
	if err != nil {
		return nil, fmt.Errorf("demo: open opportunities: %w", err)
	}
	open := make([]string, len(recs))
	for i, r := range recs {
		open[i] = r["Id"].(string)
	}
	d.Rnd.Shuffle(len(open), func(i, j int) { open[i], open[j] = open[j], open[i] })
	var won []string
	for _, id := range open[:min(n, len(open))] {
		if err := d.CRM.Update("Opportunity", id, map[string]any{"StageName": "Closed Won"}); err != nil {
			return won, fmt.Errorf("demo: win opportunity %s: %w", id, err)
		}
		won = append(won, id)
	}
	return won, nil
}

// Won returns the ids of won Opportunities.
func (d *SalesforceDeals) Won() []string {
	recs, _ := d.CRM.Query("SELECT Id FROM Opportunity WHERE IsWon = true", false)
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r["Id"].(string)
	}
	return out
}

// WriteSalesforceConfig writes concord.yaml and the secret file into dir,
// pointing the CRM system at the Salesforce sandbox at crmURL, and the ERP at
// the SQLite ERP (erp.db) or, when tryton is not nil, at that Tryton.
func WriteSalesforceConfig(dir, crmURL string, tryton *Tryton) (string, error) {
	text, data := salesforceTemplate, map[string]string{"CRMURL": crmURL, "ClientID": SalesforceClientID}
	if tryton != nil {
		text = salesforceTrytonTemplate
		data["TrytonURL"], data["TrytonDatabase"], data["TrytonUser"] = tryton.URL, tryton.Database, tryton.User
		if err := writeSecret(dir, "tryton.password", tryton.Password); err != nil {
			return "", err
		}
	}
	if err := writeSecret(dir, "salesforce.secret", SalesforceSecret); err != nil {
		return "", err
	}
	return writeConfig(dir, text, data)
}

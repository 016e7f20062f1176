package demo

import (
	"fmt"
	"math/rand/v2"

	"github.com/concord-sync/concord/internal/northwind"
	"github.com/concord-sync/concord/internal/sandbox/hubspot"
)

// LinkProperty is the unique HubSpot property holding the ERP's id.
const LinkProperty = "erp_id"

// crmProperties are the custom properties the demo's mapping writes into HubSpot.
var crmProperties = map[string][]hubspot.Property{
	hubspot.Companies: {
		{Name: "erp_credit_limit", Label: "Credit limit (ERP)", Type: "number", FieldType: "number"},
		{Name: "erp_open_balance", Label: "Open balance (ERP)", Type: "number", FieldType: "number"},
		{Name: "erp_customer_number", Label: "Customer number (ERP)", Type: "string", FieldType: "text"},
	},
	hubspot.Products: {
		{Name: "erp_stock", Label: "Stock on hand (ERP)", Type: "number", FieldType: "number"},
		{Name: "erp_active", Label: "Active (ERP)", Type: "bool", FieldType: "booleancheckbox"},
	},
	hubspot.Deals: {
		{Name: "erp_invoice_number", Label: "Invoice number (ERP)", Type: "string", FieldType: "text"},
		{Name: "erp_invoice_state", Label: "Invoice state (ERP)", Type: "string", FieldType: "text"},
		{Name: "erp_amount_due", Label: "Amount due (ERP)", Type: "number", FieldType: "number"},
		{Name: "erp_paid_date", Label: "Paid on (ERP)", Type: "date", FieldType: "date"},
		{Name: "erp_overdue", Label: "Overdue (ERP)", Type: "bool", FieldType: "booleancheckbox"},
		{Name: "erp_sync_status", Label: "ERP sync status", Type: "string", FieldType: "text"},
	},
}

// SetupCRM seeds the sandbox from Northwind with deals deals, declares the
// properties the mapping uses, and writes the ERP id of each company and product
// the ERP already has into the unique link property: the two systems share those
// records, and Concord pairs them by that stable id, never by name. erpID maps an
// object type and a Northwind key to the ERP's id, "" when the ERP has none.
func SetupCRM(crm *hubspot.Server, nw *northwind.Data, deals int, rnd *rand.Rand, erpID func(objectType, northwindID string) string) error {
	if err := crm.Seed(nw, deals, rnd); err != nil {
		return fmt.Errorf("demo: seed crm: %w", err)
	}
	if err := DefineProperties(crm); err != nil {
		return err
	}
	for _, typ := range []string{hubspot.Companies, hubspot.Products} {
		for _, o := range crm.Objects(typ) {
			id := erpID(typ, prop(o, hubspot.NorthwindIDProperty))
			if id == "" {
				continue
			}
			if _, err := crm.Update(typ, o.ID, map[string]string{LinkProperty: id}); err != nil {
				return fmt.Errorf("demo: link %s %s: %w", typ, o.ID, err)
			}
		}
	}
	return nil
}

// DefineProperties declares in the sandbox the properties the shipped HubSpot
// mappings write (examples/hubspot-tryton and the demo's): the unique link
// property erp_id and the ERP-fed custom properties of companies, products and
// deals. A real portal needs them too (docs/connectors/hubspot.md).
func DefineProperties(crm *hubspot.Server) error {
	for _, typ := range []string{hubspot.Companies, hubspot.Products, hubspot.Deals} {
		props := append([]hubspot.Property{{Name: LinkProperty, Label: "ERP id", Type: "string", FieldType: "text", HasUniqueValue: true}}, crmProperties[typ]...)
		for _, p := range props {
			p.GroupName = "concord"
			if _, err := crm.DefineProperty(typ, p); err != nil {
				return fmt.Errorf("demo: define %s.%s: %w", typ, p.Name, err)
			}
		}
	}
	return nil
}

// SameIDs is the erpID of an ERP built from Northwind: its keys are Northwind's.
func SameIDs(_, northwindID string) string { return northwindID }

// openDeals returns the ids of deals not yet closed.
func openDeals(crm *hubspot.Server) []string {
	var ids []string
	for _, o := range crm.Objects(hubspot.Deals) {
		if st := prop(o, "dealstage"); st != "closedwon" && st != "closedlost" {
			ids = append(ids, o.ID)
		}
	}
	return ids
}

// WonDeals returns the ids of won deals, for tests.
func WonDeals(crm *hubspot.Server) []string {
	var ids []string
	for _, o := range crm.Objects(hubspot.Deals) {
		if prop(o, "dealstage") == "closedwon" {
			ids = append(ids, o.ID)
		}
	}
	return ids
}

// prop returns a property's value, "" when unset.
func prop(o hubspot.Object, name string) string {
	if v := o.Properties[name]; v != nil {
		return *v
	}
	return ""
}

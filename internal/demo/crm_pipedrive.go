package demo

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/concord-sync/concord/internal/northwind"
	"github.com/concord-sync/concord/internal/sandbox/pipedrive"
)

// PipedriveLinkField is the custom field holding the ERP's id in the demo's
// Pipedrive (the connector's default link field).
const PipedriveLinkField = "Concord link"

// PipedriveFields are the custom fields the shipped Pipedrive mappings write
// (examples/pipedrive-tryton and the demo's), besides the link field. A real
// Pipedrive needs them too (docs/connectors/pipedrive.md).
var PipedriveFields = map[string][]pipedrive.CustomField{
	pipedrive.Organizations: {{Name: "Phone", FieldType: "varchar"}, {Name: "Customer number (ERP)", FieldType: "varchar"},
		{Name: "Credit limit (ERP)", FieldType: "monetary"}, {Name: "Open balance (ERP)", FieldType: "monetary"}},
	pipedrive.Products: {{Name: "Stock (ERP)", FieldType: "double"},
		{Name: "Active (ERP)", FieldType: "enum", Options: []pipedrive.Option{{Label: "Yes"}, {Label: "No"}}}},
	pipedrive.Deals: {{Name: "Invoice number (ERP)", FieldType: "varchar"}, {Name: "Invoice state (ERP)", FieldType: "varchar"},
		{Name: "Amount due (ERP)", FieldType: "monetary"}, {Name: "Paid on (ERP)", FieldType: "date"},
		{Name: "Overdue (ERP)", FieldType: "enum", Options: []pipedrive.Option{{Label: "Yes"}, {Label: "No"}}},
		{Name: "ERP sync status", FieldType: "text"}},
}

// SetupPipedrive defines the custom fields and the link field, seeds the
// sandbox from Northwind with deals deals, and writes the ERP id of each
// organization and product the ERP already has into the link field, so
// Concord pairs them by that stable id. erpID maps a HubSpot-style object
// type (Companies, Products) and a Northwind key to the ERP's id, "" when the
// ERP has none, as for SetupCRM.
func SetupPipedrive(crm *pipedrive.Server, nw *northwind.Data, deals int, rnd *rand.Rand, erpID func(objectType, northwindID string) string) error {
	link, nwField := map[string]string{}, map[string]string{}
	for _, kind := range []string{pipedrive.Organizations, pipedrive.Products} {
		f, err := crm.DefineField(kind, pipedrive.CustomField{Name: pipedrive.NorthwindIDField, FieldType: "varchar"})
		if err != nil {
			return fmt.Errorf("demo: define %s field: %w", kind, err)
		}
		nwField[kind] = f.Key
	}
	for _, kind := range []string{pipedrive.Organizations, pipedrive.Persons, pipedrive.Deals, pipedrive.Products} {
		f, err := crm.DefineField(kind, pipedrive.CustomField{Name: PipedriveLinkField, FieldType: "varchar"})
		if err != nil {
			return fmt.Errorf("demo: define %s link field: %w", kind, err)
		}
		link[kind] = f.Key
		for _, cf := range PipedriveFields[kind] {
			if _, err := crm.DefineField(kind, cf); err != nil {
				return fmt.Errorf("demo: define %s field %s: %w", kind, cf.Name, err)
			}
		}
	}
	if err := crm.Seed(nw, deals, rnd); err != nil {
		return fmt.Errorf("demo: seed crm: %w", err)
	}
	for kind, typ := range map[string]string{pipedrive.Organizations: "companies", pipedrive.Products: "products"} {
		for _, o := range crm.Objects(kind) {
			cf, _ := o["custom_fields"].(map[string]any)
			nwID, _ := cf[nwField[kind]].(string)
			id := erpID(typ, nwID)
			if id == "" {
				continue
			}
			oid, _ := o["id"].(int)
			if err := crm.Patch(kind, oid, map[string]any{"custom_fields": map[string]any{link[kind]: id}}); err != nil {
				return fmt.Errorf("demo: link %s %d: %w", kind, oid, err)
			}
		}
	}
	return nil
}

// PipedriveWonDeals returns the ids of won deals.
func PipedriveWonDeals(crm *pipedrive.Server) []string {
	var ids []string
	for _, d := range crm.Objects(pipedrive.Deals) {
		if d["status"] == "won" {
			ids = append(ids, fmt.Sprint(d["id"]))
		}
	}
	return ids
}

// WinPipedriveDeals marks up to n open deals won, as a sales rep would.
func WinPipedriveDeals(crm *pipedrive.Server, rnd *rand.Rand, n int) ([]string, error) {
	var open []int
	for _, d := range crm.Objects(pipedrive.Deals) {
		if id, ok := d["id"].(int); ok && d["status"] == "open" {
			open = append(open, id)
		}
	}
	rnd.Shuffle(len(open), func(i, j int) { open[i], open[j] = open[j], open[i] })
	var won []string
	for _, id := range open[:min(n, len(open))] {
		if err := crm.Patch(pipedrive.Deals, id, map[string]any{"status": "won"}); err != nil {
			return won, fmt.Errorf("demo: win deal %d: %w", id, err)
		}
		won = append(won, strconv.Itoa(id))
	}
	return won, nil
}

// PipedriveToken is the API token the demo's Pipedrive accepts.
const PipedriveToken = "pd-demo-0000"

// WritePipedriveConfig writes concord.yaml and the secret files into dir: the
// demo's config (SQLite ERP, or the Tryton when tryton is not nil) with the
// CRM system a Pipedrive at crmURL.
func WritePipedriveConfig(dir, crmURL string, tryton *Tryton) (string, error) {
	path, err := WriteConfig(dir, crmURL, tryton)
	if err != nil {
		return "", err
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	text := string(raw)
	start, end := strings.Index(text, "  - name: crm\n"), strings.Index(text, "  - name: erp\n")
	if start < 0 || end < start {
		return "", fmt.Errorf("demo: config template has no crm system before the erp")
	}
	block := pipedriveSQLBlock
	if tryton != nil {
		block = pipedriveTrytonBlock
	}
	url, _ := json.Marshal(crmURL)
	text = text[:start] + strings.ReplaceAll(block, "{{.CRMURL}}", string(url)) + text[end:]
	text = strings.NewReplacer("HubSpot-compatible CRM", "Pipedrive-compatible CRM", "read-only in HubSpot", "read-only in Pipedrive",
		"erp_sync_status property", "ERP sync status field").Replace(text)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		return "", fmt.Errorf("demo: write config: %w", err)
	}
	if err := os.Remove(filepath.Join(dir, "hubspot.token")); err != nil && !os.IsNotExist(err) {
		return "", fmt.Errorf("demo: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pipedrive.token"), []byte(PipedriveToken+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("demo: write token: %w", err)
	}
	return path, nil
}

// pipedriveSQLBlock maps the fields of the demo's SQLite ERP config.
const pipedriveSQLBlock = `  - name: crm
    connector: pipedrive
    settings:
      base_url: {{.CRMURL}}
      api_token: file:pipedrive.token    # a secret is never inline
      currency: USD
      create_link_field: true
      entities:
        account:
          fields: {name: name, city: address.locality, country: address.country, phone: Phone, credit_limit: Credit limit (ERP), open_balance: Open balance (ERP)}
        product:
          fields: {sku: code, name: name, list_price: prices.price, stock: Stock (ERP), active: Active (ERP)}
        deal:
          fields:
            name: title
            stage: status
            amount: value
            close_date: expected_close_date
            account: org_id
            lines: products
            invoice_number: Invoice number (ERP)
            invoice_state: Invoice state (ERP)
            amount_due: Amount due (ERP)
            paid_date: Paid on (ERP)
            overdue: Overdue (ERP)
            erp_sync_status: ERP sync status

`

// pipedriveTrytonBlock maps the fields of the demo's Tryton config.
const pipedriveTrytonBlock = `  - name: crm
    connector: pipedrive
    settings:
      base_url: {{.CRMURL}}
      api_token: file:pipedrive.token    # a secret is never inline
      currency: USD
      create_link_field: true
      entities:
        account:
          fields:
            name: name
            phone: Phone
            street: address.route
            city: address.locality
            zip: address.postal_code
            country: address.country
            customer_number: Customer number (ERP)
            open_balance: Open balance (ERP)
        contact:
          fields: {first_name: first_name, last_name: last_name, email: emails, account: org_id}
        product:
          fields: {sku: code, name: name, list_price: prices.price, stock: Stock (ERP), active: Active (ERP)}
        deal:
          fields:
            name: title
            stage: status
            amount: value
            close_date: expected_close_date
            account: org_id
            contact: person_id
            lines: products
            invoice_number: Invoice number (ERP)
            invoice_state: Invoice state (ERP)
            amount_due: Amount due (ERP)
            paid_date: Paid on (ERP)
            overdue: Overdue (ERP)
            erp_sync_status: ERP sync status

`

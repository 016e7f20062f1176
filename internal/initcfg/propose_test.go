package initcfg_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/config"
	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/all"
	"github.com/concord-sync/concord/internal/initcfg"
	"github.com/concord-sync/concord/internal/model"
)

func cols(spec ...string) []connector.Column {
	var out []connector.Column
	for _, s := range spec {
		name, typ, _ := strings.Cut(s, ":")
		out = append(out, connector.Column{Name: name, Type: typ, Nullable: true})
	}
	return out
}

// hubspotCatalog is what a HubSpot portal's Inspect lists: object types and
// their properties with HubSpot's property types.
func hubspotCatalog() connector.Catalog {
	return connector.Catalog{Objects: []connector.Object{
		{Name: "companies", Label: "Companies", Rows: -1, Columns: cols("name:string", "domain:string", "phone:string", "address:string",
			"city:string", "zip:string", "state:string", "country:string", "numberofemployees:number", "hs_object_id:number")},
		{Name: "contacts", Label: "Contacts", Rows: -1, Columns: cols("firstname:string", "lastname:string", "email:string", "phone:string", "jobtitle:string")},
		{Name: "deals", Label: "Deals", Rows: -1, Columns: cols("dealname:string", "amount:number")},
		{Name: "products", Label: "Products", Rows: -1, Columns: cols("name:string", "hs_sku:string", "price:number", "description:string")},
	}}
}

// trytonCatalog is what a Tryton server's Inspect lists: models and fields
// with Tryton's field types.
func trytonCatalog() connector.Catalog {
	return connector.Catalog{Objects: []connector.Object{
		{Name: "party.party", Label: "Party", Rows: 120, Columns: cols("name:char", "code:char", "addresses:one2many", "contact_mechanisms:one2many", "active:boolean")},
		{Name: "party.contact_mechanism", Label: "Contact Mechanism", Rows: 300, Columns: cols("type:selection", "value:char", "name:char", "party:many2one")},
		{Name: "product.product", Label: "Variant", Rows: 77, Columns: cols("code:char", "name:char", "list_price:numeric", "cost_price:numeric", "active:boolean")},
		{Name: "sale.sale", Label: "Sale", Rows: 10, Columns: cols("number:char", "party:many2one")},
	}}
}

func TestPropose_HubSpotAndTryton(t *testing.T) {
	t.Parallel()
	crm := initcfg.System{Name: "crm", Role: initcfg.CRM, Connector: initcfg.ConnHubSpot, Catalog: hubspotCatalog(),
		Settings: []initcfg.Setting{{Key: "token", Value: "env:HUBSPOT_TOKEN"}}}
	erp := initcfg.System{Name: "erp", Role: initcfg.ERP, Connector: initcfg.ConnTryton, Catalog: trytonCatalog(),
		Settings: []initcfg.Setting{{Key: "url", Value: "http://tryton.internal:8000"}, {Key: "database", Value: "erp"},
			{Key: "username", Value: "concord"}, {Key: "password", Value: "env:TRYTON_PASSWORD"}}}
	p := initcfg.Propose(crm, erp, initcfg.Options{Owner: "ops@example.com", Currency: "EUR"})

	hs := p.Systems[0]
	acc := hs.Entity(model.Account)
	require.NotNil(t, acc)
	require.Equal(t, "companies", acc.Object)
	got := map[string]string{}
	for _, f := range acc.Fields {
		got[f.Field] = f.Column
	}
	require.Equal(t, map[string]string{"name": "name", "domain": "domain", "phone": "phone", "street": "address", "city": "city",
		"zip": "zip", "region": "state", "country": "country"}, got)
	prod := hs.Entity(model.Product)
	require.NotNil(t, prod)
	require.Equal(t, "hs_sku", prod.Field("sku").Column)
	require.Equal(t, "EUR", prod.Field("list_price").Currency)
	require.NotNil(t, hs.Entity(model.Contact))

	require.Len(t, p.Flows, 3)
	byName := map[string]initcfg.Flow{}
	for _, f := range p.Flows {
		byName[f.Name] = f
	}
	require.Equal(t, "crm", byName["customers"].Source)
	require.Equal(t, []string{"name", "domain", "phone", "street", "city", "zip", "country"}, byName["customers"].Fields,
		"region is not Tryton's; customer_number and open_balance are the ERP's")
	require.Equal(t, "erp", byName["products"].Source)
	require.Equal(t, []string{"sku", "name", "description", "list_price"}, byName["products"].Fields)
	require.Equal(t, []string{"first_name", "last_name", "email", "title"}, byName["contacts"].Fields)

	// What it writes is a valid config with each connector's settings.
	text := initcfg.Render(p, func(string) string { return "" })
	t.Log(string(text))
	env := map[string]string{"HUBSPOT_TOKEN": "pat-test", "TRYTON_PASSWORD": "secret"}
	cfg, err := config.Parse(filepath.Join(t.TempDir(), "concord.yaml"), text, all.Registry(all.Deps{}), func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	})
	require.NoError(t, err)
	require.Len(t, cfg.Flows, 3)
	require.Equal(t, "crm", cfg.FieldOwner(model.Account, "name"))
	require.Equal(t, "erp", cfg.FieldOwner(model.Product, "list_price"))
	require.Contains(t, string(text), "currency: EUR")
	require.Contains(t, string(text), "# also found: sale.sale (order")
	require.Empty(t, initcfg.DDL(p, "crm"))
}

func TestPropose_Unsure(t *testing.T) {
	t.Parallel()
	auto := func(c connector.Column) bool { return c.Default == "AUTO_INCREMENT" }
	crm := initcfg.System{Name: "crm", Role: initcfg.CRM, Connector: initcfg.ConnSQL, Driver: "postgres", AutoIncrement: auto,
		Catalog: connector.Catalog{Objects: []connector.Object{
			{Name: "clients", Key: []string{"id"}, Rows: 5, Columns: append([]connector.Column{{Name: "id", Type: "integer", Default: "AUTO_INCREMENT"}},
				cols("name:text", "phone:text", "telephone:text", "zip:integer", "updated_at:timestamp with time zone")...),
				Indexes: []connector.Index{{Name: "clients_upd", Columns: []string{"updated_at", "id"}}}, Triggers: []string{"clients_touch"}},
			{Name: "customers", Key: []string{"id"}, Rows: 500, Columns: append([]connector.Column{{Name: "id", Type: "uuid"}}, cols("name:text")...)},
		}}}
	erp := initcfg.System{Name: "erp", Role: initcfg.ERP, Connector: initcfg.ConnSQL, Driver: "mysql", AutoIncrement: auto,
		Catalog: connector.Catalog{Objects: []connector.Object{
			{Name: "partners", Key: []string{"code"}, Columns: append([]connector.Column{{Name: "code", Type: "varchar(64)"}},
				cols("company_name:varchar(80)", "phone:varchar(20)", "zip:varchar(10)", "crm_id:varchar(64)")...)},
		}}}
	p := initcfg.Propose(crm, erp, initcfg.Options{Owner: "ops@example.com"})
	acc := p.Systems[0].Entity(model.Account)
	require.Equal(t, "customers", acc.Object, "the better synonym wins")
	require.Equal(t, []string{"clients"}, acc.Candidates)
	require.Equal(t, "uuid", acc.IDKind, "a uuid key the database does not fill")

	erpAcc := p.Systems[1].Entity(model.Account)
	require.Equal(t, "uuid", erpAcc.IDKind, "varchar(64) holds a UUID")
	require.Equal(t, "crm_id", erpAcc.Link)
	ddl := initcfg.DDL(p, "erp")
	require.Contains(t, ddl, "ADD COLUMN `updated_at` DATETIME(6) NULL")
	require.Contains(t, ddl, "CREATE UNIQUE INDEX `partners_crm_id_key` ON `partners` (`crm_id`);", "an existing link column gets its unique index")
	require.NotContains(t, ddl, "ADD COLUMN `crm_id`")
}

func TestPropose_ChoosesFromCandidates(t *testing.T) {
	t.Parallel()
	auto := func(c connector.Column) bool { return c.Default == "AUTO_INCREMENT" }
	sys := func(name string, role initcfg.Role, o connector.Object) initcfg.System {
		return initcfg.System{Name: name, Role: role, Connector: initcfg.ConnSQL, Driver: "sqlite", AutoIncrement: auto,
			Catalog: connector.Catalog{Objects: []connector.Object{o}}}
	}
	key := connector.Column{Name: "id", Type: "INTEGER", Default: "AUTO_INCREMENT"}
	crm := sys("crm", initcfg.CRM, connector.Object{Name: "companies", Key: []string{"id"},
		Columns: append([]connector.Column{key}, cols("company_name:TEXT", "phone:TEXT", "tel:TEXT", "zip:INTEGER")...)})
	erp := sys("erp", initcfg.ERP, connector.Object{Name: "customers", Key: []string{"id"},
		Columns: append([]connector.Column{key}, cols("name:TEXT", "phone:TEXT", "postcode:TEXT")...)})
	p := initcfg.Propose(crm, erp, initcfg.Options{Owner: "ops@example.com"})
	acc := p.Systems[0].Entity(model.Account)
	require.Equal(t, "phone", acc.Field("phone").Column, "the better synonym wins over tel")
	require.Nil(t, acc.Field("zip"), "an INTEGER zip is not sure")
	text := string(initcfg.Render(p, func(string) string { return "" }))
	require.Contains(t, text, "# zip: zip? (zip is INTEGER, zip is text)")
	require.Contains(t, text, "name: company_name")
	ddl := initcfg.DDL(p, "crm")
	require.Contains(t, ddl, "ALTER TABLE `companies` ADD COLUMN `updated_at` TEXT;")
	require.Contains(t, ddl, "AFTER UPDATE ON `companies` FOR EACH ROW WHEN NEW.`updated_at` IS OLD.`updated_at`")
	require.Contains(t, ddl, "ALTER TABLE `companies` ADD COLUMN `erp_id` TEXT;")
}

// TestPropose_HubSpotAndOdoo: Odoo maps its models itself; init names them
// (companies and persons both res.partner), proposes the flows and writes a
// config that loads, with orders and invoices left to the reader.
func TestPropose_HubSpotAndOdoo(t *testing.T) {
	t.Parallel()
	crm := initcfg.System{Name: "crm", Role: initcfg.CRM, Connector: initcfg.ConnHubSpot, Catalog: hubspotCatalog(),
		Settings: []initcfg.Setting{{Key: "token", Value: "env:HUBSPOT_TOKEN"}}}
	erp := initcfg.System{Name: "erp", Role: initcfg.ERP, Connector: initcfg.ConnOdoo, Catalog: connector.Catalog{Objects: []connector.Object{
		{Name: "res.partner", Label: "Contact", Rows: -1, Columns: cols("name:char", "ref:char", "is_company:boolean", "parent_id:many2one")},
		{Name: "product.product", Label: "Product Variant", Rows: -1, Columns: cols("default_code:char", "name:char", "list_price:float")},
		{Name: "sale.order", Label: "Sales Order", Rows: -1, Columns: cols("name:char", "client_order_ref:char")},
		{Name: "account.move", Label: "Journal Entry", Rows: -1, Columns: cols("name:char", "move_type:selection")},
	}}, Settings: []initcfg.Setting{{Key: "url", Value: "http://odoo.internal:8069"}, {Key: "database", Value: "erp"},
		{Key: "username", Value: "concord"}, {Key: "password", Value: "env:ODOO_API_KEY"}}}
	p := initcfg.Propose(crm, erp, initcfg.Options{Owner: "ops@example.com", Currency: "EUR"})

	od := p.Systems[1]
	require.Equal(t, "res.partner", od.Entity(model.Account).Object)
	require.Equal(t, "res.partner", od.Entity(model.Contact).Object)
	require.Equal(t, "product.product", od.Entity(model.Product).Object)
	byName := map[string]initcfg.Flow{}
	for _, f := range p.Flows {
		byName[f.Name] = f
	}
	require.Len(t, p.Flows, 3)
	require.Equal(t, "crm", byName["customers"].Source)
	require.Equal(t, []string{"name", "phone", "street", "city", "zip", "country"}, byName["customers"].Fields)
	require.Equal(t, "erp", byName["products"].Source)
	require.Equal(t, []string{"sku", "name", "description", "list_price"}, byName["products"].Fields)
	require.Equal(t, []string{"first_name", "last_name", "email", "phone", "title"}, byName["contacts"].Fields)

	text := initcfg.Render(p, func(string) string { return "" })
	t.Log(string(text))
	env := map[string]string{"HUBSPOT_TOKEN": "pat-test", "ODOO_API_KEY": "secret"}
	cfg, err := config.Parse(filepath.Join(t.TempDir(), "concord.yaml"), text, all.Registry(all.Deps{}), func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	})
	require.NoError(t, err)
	require.Len(t, cfg.Flows, 3)
	require.Contains(t, string(text), "# The Odoo connector maps its models itself: account (res.partner), contact (res.partner), product (product.product).")
	require.Contains(t, string(text), "# also found: sale.order (order")
	require.Contains(t, string(text), "# also found: account.move (invoice")
}

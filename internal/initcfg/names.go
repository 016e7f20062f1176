package initcfg

import (
	"strings"

	"github.com/concord-sync/concord/internal/model"
)

// objectSynonyms are the names of tables, object types and models that hold
// each entity, best first. Names are compared normalised (see norm).
var objectSynonyms = map[model.Entity][]string{
	model.Account: {"account", "accounts", "customer", "customers", "company", "companies", "client", "clients",
		"partner", "partners", "party_party", "res_partner", "organization", "organizations", "organisation", "organisations"},
	model.Contact: {"contact", "contacts", "person", "persons", "people", "party_contact_mechanism"},
	model.Product: {"product", "products", "product_product", "item", "items", "article", "articles", "product_template"},
	model.Order:   {"order", "orders", "sale_order", "sale_orders", "sales_order", "sales_orders", "sale_sale"},
	model.Invoice: {"invoice", "invoices", "account_invoice"},
	model.Deal:    {"deal", "deals", "opportunity", "opportunities", "sale_opportunity"},
	model.Payment: {"payment", "payments"},
}

// mappedEntities are the entities init maps and proposes flows for; the other
// recognised ones are named in a comment (orders and invoices need lines and
// references mapped by hand: docs/flows.md).
var mappedEntities = []model.Entity{model.Account, model.Contact, model.Product}

// fieldSynonyms are the column, property and field names that hold each
// canonical field, best first.
var fieldSynonyms = map[model.Entity]map[string][]string{
	model.Account: {
		"name":            {"name", "company_name", "companyname", "company", "account_name", "customer_name", "client_name", "legal_name", "party_name"},
		"domain":          {"domain", "website", "web", "homepage", "home_page", "url", "web_site"},
		"email":           {"email", "e_mail", "mail", "email_address"},
		"phone":           {"phone", "phone_number", "telephone", "tel", "phone1"},
		"street":          {"street", "address", "address1", "address_line1", "address_line_1", "street_address"},
		"city":            {"city", "town"},
		"zip":             {"zip", "zip_code", "zipcode", "postal_code", "postcode", "post_code", "plz"},
		"region":          {"region", "state", "province", "county"},
		"country":         {"country", "country_code", "land"},
		"vat":             {"vat", "vat_id", "vat_number", "vat_no", "tax_id", "taxid", "tax_number", "ustid"},
		"segment":         {"segment", "customer_segment"},
		"currency":        {"currency", "currency_code"},
		"credit_limit":    {"credit_limit", "creditlimit"},
		"customer_number": {"customer_number", "customer_no", "customer_code", "customer_nr", "code"},
		"contact_name":    {"contact_name", "contact_person", "contact"},
		"contact_title":   {"contact_title"},
		"active":          {"active", "is_active", "enabled"},
	},
	model.Contact: {
		"first_name": {"first_name", "firstname", "given_name", "forename"},
		"last_name":  {"last_name", "lastname", "surname", "family_name"},
		"email":      {"email", "e_mail", "mail", "email_address"},
		"phone":      {"phone", "phone_number", "telephone", "mobile", "mobilephone"},
		"title":      {"title", "job_title", "jobtitle", "position"},
	},
	model.Product: {
		"sku":         {"sku", "hs_sku", "product_code", "item_code", "article_number", "part_number", "default_code", "code", "item_no"},
		"name":        {"name", "product_name", "item_name", "article_name", "title"},
		"description": {"description", "desc", "details"},
		"list_price":  {"list_price", "price", "unit_price", "sale_price", "sales_price", "selling_price"},
		"cost_price":  {"cost_price", "cost", "purchase_price", "standard_price", "hs_cost_of_goods_sold"},
		"stock":       {"stock", "units_in_stock", "quantity_on_hand", "qty_on_hand", "on_hand", "stock_qty", "in_stock", "quantity_available"},
		"unit":        {"unit", "uom", "unit_of_measure", "default_uom"},
		"category":    {"category", "category_name"},
		"active":      {"active", "is_active", "enabled"},
	},
}

// ownedByERP are account fields the ERP keeps (finance): a CRM -> ERP flow
// leaves them out.
var ownedByERP = map[string]bool{"credit_limit": true, "open_balance": true, "customer_number": true}

// updatedAtNames are the change-detection column names, best first.
var updatedAtNames = []string{"updated_at", "modified_at", "last_modified", "changed_at", "updated", "modified", "last_update", "date_modified", "write_date"}

// currencyColumnNames hold a row's currency.
var currencyColumnNames = []string{"currency", "currency_code", "cur"}

// norm lower-cases a name and turns every run of other characters than
// letters and digits into one "_" ("Company Name" and "party.party" compare as
// company_name and party_party). A schema prefix is dropped for sql tables by
// the caller.
func norm(s string) string {
	var b strings.Builder
	under := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if under && b.Len() > 0 {
				b.WriteByte('_')
			}
			under = false
			b.WriteRune(r)
			continue
		}
		under = true
	}
	return b.String()
}

// rank returns the position of name in synonyms, or -1.
func rank(synonyms []string, name string) int {
	n := norm(name)
	for i, s := range synonyms {
		if s == n {
			return i
		}
	}
	return -1
}

// kind is a coarse class of a system's type name.
type kind int

const (
	kindUnknown kind = iota
	kindText
	kindInt
	kindNumber
	kindBool
	kindTime
	kindDate
	kindRef
	kindOther
)

// classify maps a type name of any system (SQL, HubSpot property types,
// Tryton field types) to a kind.
func classify(typ string) kind {
	t := strings.ToLower(strings.TrimSpace(typ))
	if i := strings.IndexByte(t, '('); i >= 0 {
		if t == "tinyint(1)" {
			return kindBool
		}
		t = strings.TrimSpace(t[:i])
	}
	t = strings.TrimSuffix(t, " unsigned")
	switch {
	case t == "":
		return kindUnknown
	case strings.Contains(t, "char") || strings.Contains(t, "text") || t == "string" || t == "clob" || t == "uuid" ||
		t == "enumeration" || t == "selection" || t == "phone_number" || t == "enum" || t == "citext":
		return kindText
	case strings.Contains(t, "int") || t == "serial" || t == "bigserial" || t == "smallserial":
		return kindInt
	case t == "numeric" || t == "decimal" || t == "real" || t == "float" || t == "double" || t == "double precision" ||
		t == "number" || t == "money" || strings.HasPrefix(t, "float"):
		return kindNumber
	case t == "boolean" || t == "bool" || t == "bit" || t == "booleancheckbox":
		return kindBool
	case strings.HasPrefix(t, "timestamp") || t == "datetime" || strings.HasPrefix(t, "datetime"):
		return kindTime
	case t == "date":
		return kindDate
	case t == "many2one" || t == "reference":
		return kindRef
	}
	return kindOther
}

// fits reports whether a column of kind k can hold canonical type ft, and
// whether that is sure (a text column holding a number is possible, not sure).
func fits(ft model.FieldType, k kind) (ok, sure bool) {
	if k == kindUnknown {
		return true, false
	}
	switch ft {
	case model.TypeText, model.TypeEnum:
		return k == kindText, true
	case model.TypeMoney, model.TypeDecimal:
		if k == kindText {
			return true, false
		}
		return k == kindNumber || k == kindInt, true
	case model.TypeBool:
		if k == kindInt {
			return true, false
		}
		return k == kindBool, true
	case model.TypeDate:
		return k == kindDate || k == kindText, k == kindDate
	case model.TypeDateTime:
		return k == kindTime || k == kindText, k == kindTime
	case model.TypeRef:
		return k == kindRef || k == kindInt || k == kindText, k == kindRef
	}
	return false, false
}

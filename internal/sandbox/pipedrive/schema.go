package pipedrive

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Object kinds, as in the API paths.
const (
	Organizations = "organizations"
	Persons       = "persons"
	Deals         = "deals"
	Products      = "products"
	dealProducts  = "deal_products"
)

// ftype is the type of a standard field.
type ftype int

const (
	tString ftype = iota
	tInt
	tNumber
	tDate
	tTime
	tStatus
	tContacts // emails and phones: [{value, primary, label}]
	tAddress
	tPrices
	tDiscountType
	tBool
)

// kind describes one object type: its standard writable fields, the fields a
// create needs, the fields that refer to other objects, what search looks at
// and the singular name used in webhooks, search items and field paths.
type kind struct {
	name     string
	singular string
	fields   map[string]ftype
	required []string
	refs     map[string]string // field -> kind name
	search   []string          // searchable standard fields
	nameKey  string            // the field holding the record's name
}

var kinds = map[string]*kind{
	Organizations: {name: Organizations, singular: "organization", nameKey: "name",
		fields:   map[string]ftype{"name": tString, "owner_id": tInt, "address": tAddress, "visible_to": tInt},
		required: []string{"name"}, search: []string{"name"}},
	Persons: {name: Persons, singular: "person", nameKey: "name",
		fields: map[string]ftype{"name": tString, "first_name": tString, "last_name": tString, "emails": tContacts,
			"phones": tContacts, "org_id": tInt, "owner_id": tInt, "job_title": tString, "visible_to": tInt},
		refs: map[string]string{"org_id": Organizations}, search: []string{"name", "emails", "phones"}},
	Deals: {name: Deals, singular: "deal", nameKey: "title",
		fields: map[string]ftype{"title": tString, "value": tNumber, "currency": tString, "status": tStatus,
			"stage_id": tInt, "pipeline_id": tInt, "person_id": tInt, "org_id": tInt, "owner_id": tInt,
			"expected_close_date": tDate, "won_time": tTime, "lost_time": tTime, "close_time": tTime,
			"lost_reason": tString, "probability": tNumber, "visible_to": tInt},
		required: []string{"title"}, refs: map[string]string{"org_id": Organizations, "person_id": Persons},
		search: []string{"title"}},
	Products: {name: Products, singular: "product", nameKey: "name",
		fields: map[string]ftype{"name": tString, "code": tString, "description": tString, "unit": tString,
			"tax": tNumber, "prices": tPrices, "owner_id": tInt, "visible_to": tInt},
		required: []string{"name"}, search: []string{"name", "code"}},
	dealProducts: {name: dealProducts, singular: "deal_product",
		fields: map[string]ftype{"product_id": tInt, "item_price": tNumber, "quantity": tNumber, "discount": tNumber,
			"discount_type": tDiscountType, "tax": tNumber, "comments": tString, "is_enabled": tBool, "product_variation_id": tInt},
		required: []string{"product_id", "item_price", "quantity"}, refs: map[string]string{"product_id": Products}},
}

// CustomField is one custom field of an object type. Key is the 40-character
// hash the API uses; FieldType is one of varchar, text, double, monetary,
// enum, set, date.
type CustomField struct {
	ID        int      `json:"id"`
	Key       string   `json:"key"`
	Name      string   `json:"name"`
	FieldType string   `json:"field_type"`
	Options   []Option `json:"options,omitempty"`
	EditFlag  bool     `json:"edit_flag"`
}

// Option is one choice of an enum or set custom field.
type Option struct {
	ID    int    `json:"id"`
	Label string `json:"label"`
}

// customTypes are the custom field types the sandbox accepts.
var customTypes = []string{"varchar", "text", "double", "monetary", "enum", "set", "date"}

var dateRe = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

// checkStd validates one standard field value v (decoded with UseNumber).
func checkStd(field string, t ftype, v any) error {
	if v == nil {
		return nil
	}
	bad := func(want string) error { return fmt.Errorf("Parameter '%s' must be %s", field, want) }
	switch t {
	case tString:
		if _, ok := v.(string); !ok {
			return bad("a string")
		}
	case tInt:
		n, ok := v.(json.Number)
		if _, err := n.Int64(); !ok || err != nil {
			return bad("an integer")
		}
	case tNumber:
		n, ok := v.(json.Number)
		if _, err := n.Float64(); !ok || err != nil {
			return bad("a number")
		}
	case tBool:
		if _, ok := v.(bool); !ok {
			return bad("a boolean")
		}
	case tDate:
		if s, ok := v.(string); !ok || !validDate(s) {
			return bad("a date in YYYY-MM-DD format")
		}
	case tTime:
		s, ok := v.(string)
		if _, err := time.Parse(time.RFC3339, s); !ok || err != nil {
			return bad("an RFC 3339 date-time")
		}
	case tStatus:
		if s, ok := v.(string); !ok || !slices.Contains([]string{"open", "won", "lost"}, s) {
			return bad("one of: open, won, lost")
		}
	case tDiscountType:
		if s, ok := v.(string); !ok || (s != "percentage" && s != "amount") {
			return bad("one of: percentage, amount")
		}
	case tContacts:
		list, ok := v.([]any)
		if !ok {
			return bad("an array of {value, primary, label}")
		}
		for _, it := range list {
			m, ok := it.(map[string]any)
			if !ok {
				return bad("an array of {value, primary, label}")
			}
			if _, ok := m["value"].(string); !ok {
				return fmt.Errorf("Parameter '%s.value' must be a string", field)
			}
			for k := range m {
				if k != "value" && k != "primary" && k != "label" {
					return fmt.Errorf("Parameter '%s.%s' is not allowed", field, k)
				}
			}
		}
	case tAddress:
		m, ok := v.(map[string]any)
		if !ok {
			return bad("an object")
		}
		for k, x := range m {
			if !slices.Contains(addressParts, k) {
				return fmt.Errorf("Parameter '%s.%s' is not allowed", field, k)
			}
			if _, ok := x.(string); !ok && x != nil {
				return fmt.Errorf("Parameter '%s.%s' must be a string", field, k)
			}
		}
	case tPrices:
		list, ok := v.([]any)
		if !ok {
			return bad("an array of prices")
		}
		for _, it := range list {
			m, ok := it.(map[string]any)
			if !ok {
				return bad("an array of prices")
			}
			if c, ok := m["currency"].(string); !ok || len(c) != 3 {
				return fmt.Errorf("Parameter '%s.currency' must be a 3-letter currency code", field)
			}
			for k, x := range m {
				switch k {
				case "currency":
				case "price", "cost", "direct_cost":
					if err := checkStd(field+"."+k, tNumber, x); err != nil {
						return err
					}
				case "notes":
					if err := checkStd(field+"."+k, tString, x); err != nil {
						return err
					}
				default:
					return fmt.Errorf("Parameter '%s.%s' is not allowed", field, k)
				}
			}
		}
	}
	return nil
}

var addressParts = []string{"value", "street_number", "route", "sublocality", "locality", "admin_area_level_1",
	"admin_area_level_2", "country", "postal_code"}

func validDate(s string) bool {
	if !dateRe.MatchString(s) {
		return false
	}
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}

// checkCustom validates v for custom field f.
func checkCustom(f *CustomField, v any) error {
	if v == nil {
		return nil
	}
	bad := func(want string) error {
		return fmt.Errorf("custom field '%s' (%s) must be %s", f.Key, f.Name, want)
	}
	switch f.FieldType {
	case "varchar":
		s, ok := v.(string)
		if !ok {
			return bad("a string")
		}
		if len([]rune(s)) > 255 {
			return bad("at most 255 characters")
		}
	case "text":
		if _, ok := v.(string); !ok {
			return bad("a string")
		}
	case "double":
		return checkStd("custom_fields."+f.Key, tNumber, v)
	case "date":
		if s, ok := v.(string); !ok || !validDate(s) {
			return bad("a date in YYYY-MM-DD format")
		}
	case "monetary":
		m, ok := v.(map[string]any)
		if !ok {
			return bad("an object {value, currency}")
		}
		if err := checkStd("value", tNumber, m["value"]); err != nil {
			return bad("an object {value, currency} with a numeric value")
		}
		if c, ok := m["currency"].(string); !ok || len(c) != 3 {
			return bad("an object {value, currency} with a 3-letter currency")
		}
	case "enum":
		n, ok := v.(json.Number)
		id, err := n.Int64()
		if !ok || err != nil || !hasOption(f, int(id)) {
			return bad("the id of one of its options")
		}
	case "set":
		list, ok := v.([]any)
		if !ok {
			return bad("an array of option ids")
		}
		for _, x := range list {
			n, ok := x.(json.Number)
			id, err := n.Int64()
			if !ok || err != nil || !hasOption(f, int(id)) {
				return bad("an array of option ids")
			}
		}
	}
	return nil
}

func hasOption(f *CustomField, id int) bool {
	return slices.ContainsFunc(f.Options, func(o Option) bool { return o.ID == id })
}

// searchable reports whether search looks into custom fields of type t.
func searchable(t string) bool {
	return t == "varchar" || t == "text" || t == "double" || t == "monetary"
}

// searchText returns the strings search compares for v.
func searchText(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case json.Number:
		return []string{x.String()}
	case map[string]any:
		if n, ok := x["value"]; ok {
			return searchText(n)
		}
	case []any:
		var out []string
		for _, it := range x {
			out = append(out, searchText(it)...)
		}
		return out
	}
	return nil
}

func fold(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

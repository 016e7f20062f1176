package hubspot

import (
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// Property is a property definition in HubSpot's v3 properties shape.
type Property struct {
	Name                 string         `json:"name"`
	Label                string         `json:"label"`
	Type                 string         `json:"type"`
	FieldType            string         `json:"fieldType"`
	GroupName            string         `json:"groupName"`
	Description          string         `json:"description"`
	Options              []Option       `json:"options"`
	DisplayOrder         int            `json:"displayOrder"`
	Calculated           bool           `json:"calculated"`
	ExternalOptions      bool           `json:"externalOptions"`
	HasUniqueValue       bool           `json:"hasUniqueValue"`
	Hidden               bool           `json:"hidden"`
	HubspotDefined       bool           `json:"hubspotDefined,omitempty"`
	FormField            bool           `json:"formField"`
	ModificationMetadata map[string]any `json:"modificationMetadata"`
	CreatedAt            *time.Time     `json:"createdAt,omitempty"`
	UpdatedAt            *time.Time     `json:"updatedAt,omitempty"`
	Archived             bool           `json:"archived"`
}

// Option is one allowed value of an enumeration property.
type Option struct {
	Label        string `json:"label"`
	Value        string `json:"value"`
	DisplayOrder int    `json:"displayOrder"`
	Hidden       bool   `json:"hidden"`
}

func (p *Property) readOnly() bool {
	ro, _ := p.ModificationMetadata["readOnlyValue"].(bool)
	return ro
}

// check validates a non-empty value against the property type and returns
// HubSpot's error code and message, or "" when the value is valid.
func (p *Property) check(v string) (string, string) {
	switch p.Type {
	case "number":
		if _, err := decimal.NewFromString(v); err != nil {
			return "INVALID_DECIMAL", strconv.Quote(v) + " is not a valid number for " + p.Name
		}
	case "bool":
		if v != "true" && v != "false" {
			return "INVALID_BOOLEAN", strconv.Quote(v) + " is not a valid boolean (true or false) for " + p.Name
		}
	case "date", "datetime":
		if _, ok := parseTimeValue(v); !ok {
			return "INVALID_DATE", strconv.Quote(v) + " is not a valid date: use ISO 8601 or epoch milliseconds for " + p.Name
		}
	case "enumeration":
		if len(p.Options) == 0 {
			return "", ""
		}
		for _, part := range strings.Split(v, ";") {
			found := false
			for _, o := range p.Options {
				if o.Value == part {
					found = true
					break
				}
			}
			if !found {
				return "INVALID_OPTION", strconv.Quote(part) + " was not one of the allowed options for " + p.Name
			}
		}
	}
	return "", ""
}

// parseTimeValue reads epoch milliseconds, RFC 3339 or a YYYY-MM-DD date.
func parseTimeValue(v string) (time.Time, bool) {
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.UnixMilli(ms).UTC(), true
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), true
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, true
	}
	return time.Time{}, false
}

func prop(name, label, typ, fieldType, group string) *Property {
	return &Property{
		Name: name, Label: label, Type: typ, FieldType: fieldType, GroupName: group,
		Options: []Option{}, HubspotDefined: true, FormField: fieldType != "calculation_equation",
		ModificationMetadata: map[string]any{"archivable": false, "readOnlyDefinition": true, "readOnlyValue": false},
	}
}

func readOnlyProp(name, label, typ string) *Property {
	p := prop(name, label, typ, "text", "")
	p.ModificationMetadata["readOnlyValue"] = true
	p.FormField = false
	p.Calculated = true
	return p
}

// defaultProperties returns the built-in property definitions of t, a
// subset of HubSpot's defaults.
func defaultProperties(t *objectType) map[string]*Property {
	info := t.singular + "information"
	list := []*Property{
		readOnlyProp(propID, "Record ID", "number"),
		readOnlyProp(propModified, "Last Modified Date", "datetime"),
		prop(propCreated, "Create Date", "datetime", "date", info),
	}
	text := func(name, label string) *Property { return prop(name, label, "string", "text", info) }
	num := func(name, label string) *Property { return prop(name, label, "number", "number", info) }
	switch t.name {
	case Companies:
		list = append(list, text("name", "Company name"), text("domain", "Company Domain Name"),
			text("phone", "Phone Number"), text("address", "Street Address"), text("city", "City"),
			text("state", "State/Region"), text("zip", "Postal Code"), text("country", "Country/Region"),
			text("industry", "Industry"), text("description", "Description"))
	case Contacts:
		email := text("email", "Email")
		email.HasUniqueValue = true
		list = append(list, email, text("firstname", "First Name"), text("lastname", "Last Name"),
			text("phone", "Phone Number"), text("jobtitle", "Job Title"), text("company", "Company Name"),
			text("address", "Street Address"), text("city", "City"), text("zip", "Postal Code"),
			text("country", "Country/Region"), readOnlyProp(propContactModif, "Last Modified Date", "datetime"))
	case Deals:
		stage := prop("dealstage", "Deal Stage", "enumeration", "radio", info)
		for i, st := range defaultStages {
			stage.Options = append(stage.Options, Option{Label: st.label, Value: st.id, DisplayOrder: i})
		}
		pipe := prop("pipeline", "Pipeline", "enumeration", "select", info)
		pipe.Options = []Option{{Label: "Sales Pipeline", Value: defaultPipelineID}}
		list = append(list, text("dealname", "Deal Name"), num("amount", "Amount"), stage, pipe,
			prop("closedate", "Close Date", "datetime", "date", info),
			text("deal_currency_code", "Currency"), text("description", "Deal Description"))
	case Products:
		list = append(list, text("name", "Name"), text("description", "Description"), num("price", "Unit price"),
			text("hs_sku", "SKU"), num("hs_cost_of_goods_sold", "Unit cost"))
	case LineItems:
		amount := num("amount", "Net price")
		amount.Calculated = true
		list = append(list, text("name", "Name"), text("description", "Description"), num("quantity", "Quantity"),
			num("price", "Unit price"), amount, num("discount", "Unit discount"),
			num("hs_discount_percentage", "Discount Percentage"), num("hs_product_id", "Product ID"),
			text("hs_sku", "SKU"))
	}
	out := make(map[string]*Property, len(list))
	for i, p := range list {
		p.DisplayOrder = i
		out[p.Name] = p
	}
	return out
}

var propertyName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,99}$`)

var validTypes = map[string][]string{
	"string":      {"text", "textarea", "phonenumber", "html", "file", "select", "radio"},
	"number":      {"number", "calculation_equation"},
	"date":        {"date"},
	"datetime":    {"date"},
	"enumeration": {"select", "radio", "checkbox", "booleancheckbox"},
	"bool":        {"booleancheckbox"},
}

// DefineProperty adds a custom property to objectType, as POST
// /crm/v3/properties/{objectType} does. It returns a 409 *Error if the
// name is taken and a 400 *Error if the definition is invalid.
func (s *Server) DefineProperty(objectType string, p Property) (Property, error) {
	t := lookupType(objectType)
	if t == nil {
		return Property{}, errNotFound("Unable to infer object type from: %s", objectType)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out, e := s.definePropertyLocked(t, p)
	if e != nil {
		return Property{}, e
	}
	return out, nil
}

func (s *Server) definePropertyLocked(t *objectType, p Property) (Property, *Error) {
	var bad []string
	if !propertyName.MatchString(p.Name) {
		bad = append(bad, "name must start with a lowercase letter and contain only lowercase letters, digits and underscores")
	}
	if p.Label == "" {
		bad = append(bad, "label is required")
	}
	if p.GroupName == "" {
		bad = append(bad, "groupName is required")
	}
	fields, ok := validTypes[p.Type]
	if !ok {
		bad = append(bad, "type must be one of bool, date, datetime, enumeration, number, string")
	} else {
		found := false
		for _, f := range fields {
			found = found || f == p.FieldType
		}
		if !found {
			bad = append(bad, "fieldType "+strconv.Quote(p.FieldType)+" is not valid for type "+p.Type)
		}
	}
	if p.HasUniqueValue && p.Type != "string" && p.Type != "number" {
		bad = append(bad, "hasUniqueValue is only supported for string and number properties")
	}
	if len(bad) > 0 {
		return Property{}, errValidation("Invalid property definition: %s", strings.Join(bad, "; "))
	}
	if _, exists := s.defs[t.name][p.Name]; exists {
		return Property{}, newError(http.StatusConflict, CategoryConflict, "Property %s already exists", p.Name)
	}
	now := s.now()
	p.CreatedAt, p.UpdatedAt = &now, &now
	p.HubspotDefined = false
	p.Calculated = false
	if p.Options == nil {
		p.Options = []Option{}
	}
	p.ModificationMetadata = map[string]any{"archivable": true, "readOnlyDefinition": false, "readOnlyValue": false}
	p.DisplayOrder = len(s.defs[t.name])
	stored := p
	s.defs[t.name][p.Name] = &stored
	if p.HasUniqueValue {
		s.unique[t.name][p.Name] = map[string]int64{}
	}
	return p, nil
}

func (s *Server) handleListProperties(w http.ResponseWriter, r *http.Request) {
	t := lookupType(r.PathValue("type"))
	if t == nil {
		writeError(w, errNotFound("Unable to infer object type from: %s", r.PathValue("type")))
		return
	}
	s.mu.Lock()
	list := make([]Property, 0, len(s.defs[t.name]))
	for _, p := range s.defs[t.name] {
		list = append(list, *p)
	}
	s.mu.Unlock()
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	writeJSON(w, http.StatusOK, map[string]any{"results": list})
}

func (s *Server) handleGetProperty(w http.ResponseWriter, r *http.Request) {
	t := lookupType(r.PathValue("type"))
	if t == nil {
		writeError(w, errNotFound("Unable to infer object type from: %s", r.PathValue("type")))
		return
	}
	s.mu.Lock()
	p, ok := s.defs[t.name][r.PathValue("name")]
	var out Property
	if ok {
		out = *p
	}
	s.mu.Unlock()
	if !ok {
		writeError(w, errNotFound("Unable to find property %s for object type %s", r.PathValue("name"), t.name))
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleCreateProperty(w http.ResponseWriter, r *http.Request) {
	var p Property
	if e := decodeBody(r, &p); e != nil {
		writeError(w, e)
		return
	}
	out, err := s.DefineProperty(r.PathValue("type"), p)
	if err != nil {
		writeError(w, err.(*Error)) //nolint:errorlint // DefineProperty only returns *Error
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

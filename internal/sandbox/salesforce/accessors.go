package salesforce

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
)

// CustomField describes a custom field, as the Tooling API's CustomField
// metadata does.
type CustomField struct {
	// Name is the API name, ending in __c.
	Name  string
	Label string
	// Type is Text, TextArea, LongTextArea, Number, Currency, Checkbox, Date,
	// DateTime, Email, Phone or Picklist.
	Type string
	// Length is the most characters of a Text field (1-255).
	Length int
	// Scale is the decimal places of a Number or Currency field.
	Scale      int
	ExternalID bool
	Unique     bool
	// Picklist lists the values of a restricted picklist.
	Picklist []string
}

// DefineField adds a custom field to object, as an administrator does in
// Setup (or a client through the Tooling API).
func (s *Server) DefineField(object string, f CustomField) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if aerr := s.defineLocked(object, f); aerr != nil {
		return errors.New(aerr.ErrorCode + ": " + aerr.Message)
	}
	return nil
}

func (s *Server) defineLocked(object string, cf CustomField) *apiError {
	o := s.st.object(object)
	if o == nil {
		return errf("INVALID_FIELD", []string{"FullName"}, "invalid FullName: %s.%s", object, cf.Name)
	}
	base := strings.TrimSuffix(cf.Name, "__c")
	if !strings.HasSuffix(cf.Name, "__c") || base == "" || len(cf.Name) > 43 || strings.Contains(base, "__") || strings.HasSuffix(base, "_") {
		return errf("FIELD_INTEGRITY_EXCEPTION", []string{"FullName"}, "The custom field name you provided %s on object %s can only contain alphanumeric characters, must begin with a letter, cannot end with an underscore or contain two consecutive underscore characters, and must be unique across all %s fields", cf.Name, o.Name, o.Name)
	}
	if o.field(cf.Name) != nil {
		return errf("DUPLICATE_DEVELOPER_NAME", []string{"FullName"}, "There is already a field named %s on %s.", base, o.Name)
	}
	f := &fieldDef{Name: cf.Name, Label: cf.Label, Custom: true, ExternalID: cf.ExternalID, Unique: cf.Unique, Scale: cf.Scale}
	switch cf.Type {
	case "Text":
		f.Type, f.Length = tString, cf.Length
		if f.Length <= 0 || f.Length > 255 {
			return errf("FIELD_INTEGRITY_EXCEPTION", []string{"Length"}, "Length must be between 1 and 255")
		}
	case "TextArea":
		f.Type, f.Length = tTextArea, 255
	case "LongTextArea":
		f.Type, f.Length = tTextArea, max(cf.Length, 32768)
	case "Number":
		f.Type = tDouble
	case "Currency":
		f.Type = tCurrency
	case "Checkbox":
		f.Type = tBoolean
	case "Date":
		f.Type = tDate
	case "DateTime":
		f.Type = tDateTime
	case "Email":
		f.Type, f.Length = tEmail, 80
	case "Phone":
		f.Type, f.Length = tPhone, 40
	case "Picklist":
		f.Type, f.Length, f.Picklist = tPicklist, 255, cf.Picklist
	default:
		return errf("FIELD_INTEGRITY_EXCEPTION", []string{"Type"}, "unsupported custom field type: %s", cf.Type)
	}
	if f.ExternalID && f.Type != tString && f.Type != tDouble && f.Type != tEmail {
		return errf("FIELD_INTEGRITY_EXCEPTION", []string{"ExternalId"}, "Only Text, Number and Email fields can be External IDs")
	}
	if f.Label == "" {
		f.Label = base
	}
	o.add(f)
	return nil
}

// normalize turns Go numbers into the json.Number the store keeps.
func normalize(in map[string]any) map[string]any {
	out := make(map[string]any, len(in))
	for k, v := range in {
		switch n := v.(type) {
		case int:
			v = json.Number(strconv.Itoa(n))
		case int64:
			v = json.Number(strconv.FormatInt(n, 10))
		case float64:
			v = json.Number(strconv.FormatFloat(n, 'f', -1, 64))
		case decimal.Decimal:
			v = json.Number(n.String())
		}
		out[k] = v
	}
	return out
}

func apiErr(aerr *apiError) error {
	if aerr == nil {
		return nil
	}
	return fmt.Errorf("%s: %s", aerr.ErrorCode, aerr.Message)
}

// Create adds a record as a user in Salesforce does and returns its id.
// Numbers may be Go ints, floats, decimals or json.Number.
func (s *Server) Create(object string, fields map[string]any) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.st.object(object)
	if o == nil {
		return "", fmt.Errorf("no sObject %s", object)
	}
	id, aerr := s.st.create(o, normalize(fields))
	return id, apiErr(aerr)
}

// Update sets fields of a record as a user in Salesforce does.
func (s *Server) Update(object, id string, fields map[string]any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.st.object(object)
	if o == nil {
		return fmt.Errorf("no sObject %s", object)
	}
	return apiErr(s.st.update(o, id, normalize(fields)))
}

// Delete moves a record to the recycle bin.
func (s *Server) Delete(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return apiErr(s.st.remove(id))
}

// Query runs SOQL (queryAll when all) and returns every matching record with
// the selected fields, numbers as json.Number.
func (s *Server) Query(soql string, all bool) ([]map[string]any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, aerr := s.st.parseQuery(soql)
	if aerr != nil {
		return nil, apiErr(aerr)
	}
	recs := s.st.run(q, all)
	out := make([]map[string]any, len(recs))
	for i, r := range recs {
		m := make(map[string]any, len(q.fields))
		for _, f := range q.fields {
			m[f.Name] = r.get(f)
		}
		out[i] = m
	}
	return out, nil
}

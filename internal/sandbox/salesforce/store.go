package salesforce

import (
	"encoding/json"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// apiError is one entry of Salesforce's error list: [{"message","errorCode","fields"}]
// for single-record calls; sObject Collections name the code statusCode.
type apiError struct {
	Message   string   `json:"message"`
	ErrorCode string   `json:"errorCode"`
	Fields    []string `json:"fields"`
}

func errf(code string, fields []string, format string, args ...any) *apiError {
	if fields == nil {
		fields = []string{}
	}
	return &apiError{Message: fmt.Sprintf(format, args...), ErrorCode: code, Fields: fields}
}

// record is one stored sObject record.
type record struct {
	obj      *objectDef
	id       string
	vals     map[string]any // field name as defined -> string, json.Number, bool or nil
	deleted  bool
	created  time.Time
	modified time.Time
}

// get returns the value of field f (system fields included).
func (r *record) get(f *fieldDef) any {
	switch f.Name {
	case "Id":
		return r.id
	case "IsDeleted":
		return r.deleted
	case "CreatedDate":
		return formatTime(r.created)
	case "LastModifiedDate", "SystemModstamp":
		return formatTime(r.modified)
	}
	return r.vals[f.Name]
}

// formatTime writes a datetime the way the REST API does.
func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000+0000") }

// parseTime reads a datetime in the REST API's format or RFC 3339.
func parseTime(s string) (time.Time, bool) {
	for _, layout := range []string{"2006-01-02T15:04:05.000-0700", "2006-01-02T15:04:05-0700", time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// store holds the records. Its methods are called with Server.mu held.
type store struct {
	objects map[string]*objectDef
	records map[string]*record // id -> record, deleted ones included
	seq     int
	last    time.Time
	now     func() time.Time
	stdBook string // id of the standard price book
	// idx finds live records by the value of a unique or External ID field:
	// indexKey -> record ids.
	idx map[string]map[string]struct{}
}

// indexed reports whether f's values are indexed.
func indexed(f *fieldDef) bool { return f.Unique || f.ExternalID }

// indexKey is the key of a value of field f of object o; text compares
// case-insensitively, as External IDs do.
func indexKey(o *objectDef, f *fieldDef, v any) string {
	return o.Name + "\x00" + f.Name + "\x00" + strings.ToLower(fmt.Sprint(v))
}

// reindex moves r's entries from its old values to its current ones.
func (s *store) reindex(r *record, old map[string]any) {
	for _, f := range r.obj.Fields {
		if !indexed(f) {
			continue
		}
		if v := old[f.Name]; v != nil {
			if set := s.idx[indexKey(r.obj, f, v)]; set != nil {
				delete(set, r.id)
			}
		}
		if v := r.vals[f.Name]; v != nil && !r.deleted {
			k := indexKey(r.obj, f, v)
			if s.idx[k] == nil {
				s.idx[k] = map[string]struct{}{}
			}
			s.idx[k][r.id] = struct{}{}
		}
	}
}

// lookup returns the live records of o whose indexed field f holds v.
func (s *store) lookup(o *objectDef, f *fieldDef, v any) []*record {
	var out []*record
	for id := range s.idx[indexKey(o, f, v)] {
		if r := s.records[id]; r != nil && !r.deleted {
			out = append(out, r)
		}
	}
	return out
}

func newStore(now func() time.Time) *store {
	s := &store{objects: standardObjects(), records: map[string]*record{}, now: now, idx: map[string]map[string]struct{}{}}
	t := s.stamp()
	book := &record{obj: s.objects["pricebook2"], id: s.newID("01s"), created: t, modified: t,
		vals: map[string]any{"Name": "Standard Price Book", "IsActive": true, "IsStandard": true}}
	s.records[book.id], s.stdBook = book, book.id
	for i, st := range stages {
		r := &record{obj: s.objects["opportunitystage"], id: s.newID("01J"), created: t, modified: t, vals: map[string]any{
			"MasterLabel": st.Label, "ApiName": st.Label, "IsActive": true, "IsClosed": st.IsClosed, "IsWon": st.IsWon,
			"DefaultProbability": json.Number(fmt.Sprint(st.Probability)), "SortOrder": json.Number(fmt.Sprint(i + 1)),
		}}
		s.records[r.id] = r
	}
	return s
}

// stamp returns a modification time after every earlier one, at millisecond
// resolution, so that SystemModstamp orders every change.
func (s *store) stamp() time.Time {
	t := s.now().UTC().Truncate(time.Millisecond)
	if !t.After(s.last) {
		t = s.last.Add(time.Millisecond)
	}
	s.last = t
	return t
}

const idChars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// newID returns an 18-character id with the object's key prefix.
func (s *store) newID(prefix string) string {
	s.seq++
	n := s.seq
	b := []byte("000000000000000AAA")
	copy(b, prefix)
	b[3], b[4] = '5', 'g'
	for i := 14; i > 4 && n > 0; i-- {
		b[i] = idChars[n%62]
		n /= 62
	}
	return string(b)
}

func (s *store) object(name string) *objectDef { return s.objects[strings.ToLower(name)] }

// live returns the record with id (15 or 18 characters) when it exists and is
// not deleted.
func (s *store) live(id string) *record {
	r := s.find(id)
	if r == nil || r.deleted {
		return nil
	}
	return r
}

func (s *store) find(id string) *record {
	if len(id) == 15 {
		for full, r := range s.records {
			if full[:15] == id {
				return r
			}
		}
		return nil
	}
	return s.records[id]
}

// coerce checks the input values against o's fields and returns them under
// the fields' own names. creating says whether create-only fields may be set.
func (s *store) coerce(o *objectDef, in map[string]any, creating bool) (map[string]any, *apiError) {
	out := map[string]any{}
	keys := make([]string, 0, len(in))
	for k := range in {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if k == "attributes" {
			continue
		}
		f := o.field(k)
		if f == nil {
			return nil, errf("INVALID_FIELD", []string{k}, "No such column '%s' on sobject of type %s", k, o.Name)
		}
		if f.ReadOnly || (f.CreateOnly && !creating) || f.Type == tID {
			return nil, errf("INVALID_FIELD_FOR_INSERT_UPDATE", []string{f.Name},
				"Unable to create/update fields: %s. Please check the security settings of this field and verify that it is read/write for your profile or permission set.", f.Name)
		}
		v, err := s.coerceValue(o, f, in[k])
		if err != nil {
			return nil, err
		}
		out[f.Name] = v
	}
	return out, nil
}

func (s *store) coerceValue(o *objectDef, f *fieldDef, v any) (any, *apiError) {
	if v == nil {
		if f.Required {
			return nil, errf("REQUIRED_FIELD_MISSING", []string{f.Name}, "Required fields are missing: [%s]", f.Name)
		}
		return nil, nil
	}
	badType := func() (any, *apiError) {
		return nil, errf("INVALID_TYPE_ON_FIELD_IN_RECORD", []string{f.Name}, "%s: value not of required type: %v", f.Label, v)
	}
	switch f.Type {
	case tString, tTextArea, tEmail, tPhone, tURL, tPicklist, tReference:
		str, ok := v.(string)
		if !ok {
			return badType()
		}
		if str == "" {
			if f.Required {
				return nil, errf("REQUIRED_FIELD_MISSING", []string{f.Name}, "Required fields are missing: [%s]", f.Name)
			}
			return nil, nil
		}
		if f.Length > 0 && len([]rune(str)) > f.Length {
			return nil, errf("STRING_TOO_LONG", []string{f.Name}, "%s: data value too large: %s (max length=%d)", f.Label, str, f.Length)
		}
		switch f.Type {
		case tEmail:
			if a, err := mail.ParseAddress(str); err != nil || a.Address != str {
				return nil, errf("INVALID_EMAIL_ADDRESS", []string{f.Name}, "%s: invalid email address: %s", f.Label, str)
			}
		case tPicklist:
			if len(f.Picklist) > 0 && !slices.Contains(f.Picklist, str) {
				return nil, errf("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", []string{f.Name}, "%s: bad value for restricted picklist field: %s", f.Label, str)
			}
		case tReference:
			if !validID(str) {
				return nil, errf("MALFORMED_ID", []string{f.Name}, "%s: id value of incorrect type: %s", f.Label, str)
			}
			r := s.live(str)
			if r == nil || !strings.EqualFold(r.obj.Name, f.RefTo) {
				return nil, errf("INVALID_CROSS_REFERENCE_KEY", []string{f.Name}, "invalid cross reference id")
			}
			return r.id, nil
		}
		return str, nil
	case tDouble, tCurrency, tPercent:
		n, ok := v.(json.Number)
		if !ok {
			return badType()
		}
		d, err := decimal.NewFromString(string(n))
		if err != nil {
			return badType()
		}
		d = d.Round(int32(f.Scale))
		if d.Abs().GreaterThanOrEqual(decimal.New(1, 16)) {
			return nil, errf("NUMBER_OUTSIDE_VALID_RANGE", []string{f.Name}, "%s: value outside of valid range on numeric field: %s", f.Label, n)
		}
		return json.Number(d.String()), nil
	case tBoolean:
		b, ok := v.(bool)
		if !ok {
			return badType()
		}
		return b, nil
	case tDate:
		str, ok := v.(string)
		if !ok {
			return badType()
		}
		if _, err := time.Parse(time.DateOnly, str); err != nil {
			return badType()
		}
		return str, nil
	case tDateTime:
		str, ok := v.(string)
		if !ok {
			return badType()
		}
		t, ok := parseTime(str)
		if !ok {
			return badType()
		}
		return formatTime(t), nil
	}
	return badType()
}

func validID(s string) bool {
	if len(s) != 15 && len(s) != 18 {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune(idChars, c) {
			return false
		}
	}
	return true
}

// checkUnique refuses a value of a unique field that another live record of
// the object holds.
func (s *store) checkUnique(o *objectDef, self string, vals map[string]any) *apiError {
	for name, v := range vals {
		f := o.field(name)
		if f == nil || !f.Unique || v == nil {
			continue
		}
		for _, r := range s.lookup(o, f, v) {
			if r.id != self {
				return errf("DUPLICATE_VALUE", []string{f.Name}, "duplicate value found: %s duplicates value on record with id: %s", f.Name, r.id)
			}
		}
	}
	return nil
}

// create adds a record and returns its id.
func (s *store) create(o *objectDef, in map[string]any) (string, *apiError) {
	if o.Name == "OpportunityStage" {
		return "", errf("CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY", nil, "entity type cannot be inserted: %s", o.Name)
	}
	vals, aerr := s.coerce(o, in, true)
	if aerr != nil {
		return "", aerr
	}
	var missing []string
	for _, f := range o.Fields {
		if f.Required && vals[f.Name] == nil {
			missing = append(missing, f.Name)
		}
	}
	if len(missing) > 0 {
		return "", errf("REQUIRED_FIELD_MISSING", missing, "Required fields are missing: [%s]", strings.Join(missing, ", "))
	}
	if aerr := s.checkUnique(o, "", vals); aerr != nil {
		return "", aerr
	}
	r := &record{obj: o, id: s.newID(o.Prefix), vals: vals}
	if aerr := s.derive(r, true); aerr != nil {
		return "", aerr
	}
	r.created = s.stamp()
	r.modified = r.created
	s.records[r.id] = r
	s.reindex(r, nil)
	s.after(r)
	return r.id, nil
}

// update sets the given fields of the record id.
func (s *store) update(o *objectDef, id string, in map[string]any) *apiError {
	r := s.live(id)
	if r == nil || r.obj != o {
		return errf("ENTITY_IS_DELETED", nil, "entity is deleted")
	}
	vals, aerr := s.coerce(o, in, false)
	if aerr != nil {
		return aerr
	}
	if aerr := s.checkUnique(o, r.id, vals); aerr != nil {
		return aerr
	}
	old := r.vals
	r.vals = make(map[string]any, len(old)+len(vals))
	for k, v := range old {
		r.vals[k] = v
	}
	for k, v := range vals {
		r.vals[k] = v
	}
	if aerr := s.derive(r, false); aerr != nil {
		r.vals = old
		return aerr
	}
	r.modified = s.stamp()
	s.reindex(r, old)
	s.after(r)
	return nil
}

// derive fills the fields Salesforce computes and checks the rules that span
// fields.
func (s *store) derive(r *record, creating bool) *apiError {
	switch r.obj.Name {
	case "Contact":
		r.vals["Name"] = strings.TrimSpace(str(r.vals["FirstName"]) + " " + str(r.vals["LastName"]))
	case "Opportunity":
		st, _ := stageByLabel(str(r.vals["StageName"]))
		r.vals["IsClosed"], r.vals["IsWon"] = st.IsClosed, st.IsWon
		if r.vals["Probability"] == nil {
			r.vals["Probability"] = json.Number(fmt.Sprint(st.Probability))
		}
		if lines := s.lines(r.id); len(lines) > 0 {
			sum := decimal.Zero
			for _, l := range lines {
				sum = sum.Add(num(l.vals["TotalPrice"]))
			}
			r.vals["Amount"] = json.Number(sum.String())
		}
	case "PricebookEntry":
		prod := s.live(str(r.vals["Product2Id"]))
		book := s.live(str(r.vals["Pricebook2Id"]))
		if prod != nil {
			r.vals["Name"], r.vals["ProductCode"] = prod.vals["Name"], prod.vals["ProductCode"]
		}
		if creating && book != nil {
			for _, e := range s.records {
				if e.obj == r.obj && !e.deleted && e.vals["Product2Id"] == r.vals["Product2Id"] && e.vals["Pricebook2Id"] == r.vals["Pricebook2Id"] {
					return errf("DUPLICATE_VALUE", []string{}, "This price definition already exists in this price book")
				}
			}
			if book.id != s.stdBook && s.entry(s.stdBook, prod.id) == nil {
				return errf("STANDARD_PRICE_NOT_DEFINED", []string{}, "No standard price defined for this product")
			}
		}
		if r.vals["IsActive"] == nil {
			r.vals["IsActive"] = false
		}
	case "Product2":
		if r.vals["IsActive"] == nil {
			r.vals["IsActive"] = false
		}
	case "OpportunityLineItem":
		entry := s.live(str(r.vals["PricebookEntryId"]))
		opp := s.live(str(r.vals["OpportunityId"]))
		if entry == nil || opp == nil {
			return errf("INVALID_CROSS_REFERENCE_KEY", []string{}, "invalid cross reference id")
		}
		if creating {
			if entry.vals["IsActive"] != true {
				return errf("FIELD_INTEGRITY_EXCEPTION", []string{"PricebookEntryId"}, "field integrity exception: PricebookEntryId (pricebook entry is inactive)")
			}
			book := str(opp.vals["Pricebook2Id"])
			if book != "" && book != entry.vals["Pricebook2Id"] {
				return errf("FIELD_INTEGRITY_EXCEPTION", []string{"PricebookEntryId"},
					"field integrity exception: PricebookEntryId (pricebook entry is in a different pricebook than the one assigned to the opportunity)")
			}
			if r.vals["UnitPrice"] != nil && r.vals["TotalPrice"] != nil {
				return errf("FIELD_INTEGRITY_EXCEPTION", []string{"TotalPrice"}, "field integrity exception: TotalPrice (cannot specify both unit price and total price)")
			}
			if r.vals["UnitPrice"] == nil && r.vals["TotalPrice"] == nil {
				return errf("REQUIRED_FIELD_MISSING", []string{"UnitPrice"}, "Required fields are missing: [UnitPrice]")
			}
		}
		r.vals["Product2Id"], r.vals["ListPrice"] = entry.vals["Product2Id"], entry.vals["UnitPrice"]
		r.vals["Name"], r.vals["ProductCode"] = str(opp.vals["Name"])+" "+str(entry.vals["Name"]), entry.vals["ProductCode"]
		qty := num(r.vals["Quantity"])
		if qty.IsZero() {
			return errf("FIELD_INTEGRITY_EXCEPTION", []string{"Quantity"}, "field integrity exception: Quantity (quantity must be nonzero)")
		}
		disc := num(r.vals["Discount"])
		if r.vals["UnitPrice"] == nil {
			r.vals["UnitPrice"] = json.Number(num(r.vals["TotalPrice"]).Div(qty).Round(2).String())
		}
		sub := num(r.vals["UnitPrice"]).Mul(qty).Round(2)
		r.vals["Subtotal"] = json.Number(sub.String())
		total := sub.Mul(decimal.NewFromInt(100).Sub(disc)).Div(decimal.NewFromInt(100)).Round(2)
		r.vals["TotalPrice"] = json.Number(total.String())
	}
	return nil
}

// after applies the effects of a write on other records: a line item sets
// its opportunity's price book and amount.
func (s *store) after(r *record) {
	if r.obj.Name != "OpportunityLineItem" {
		return
	}
	if opp := s.live(str(r.vals["OpportunityId"])); opp != nil {
		s.touchOpportunity(opp, r)
	}
}

func (s *store) touchOpportunity(opp *record, line *record) {
	if opp.vals["Pricebook2Id"] == nil && line != nil {
		if entry := s.find(str(line.vals["PricebookEntryId"])); entry != nil {
			opp.vals["Pricebook2Id"] = entry.vals["Pricebook2Id"]
		}
	}
	_ = s.derive(opp, false)
	opp.modified = s.stamp()
}

// lines returns the live line items of an opportunity.
func (s *store) lines(oppID string) []*record {
	var out []*record
	for _, r := range s.records {
		if r.obj.Name == "OpportunityLineItem" && !r.deleted && r.vals["OpportunityId"] == oppID {
			out = append(out, r)
		}
	}
	return out
}

// entry returns the live price book entry of a product in a price book.
func (s *store) entry(book, product string) *record {
	for _, r := range s.records {
		if r.obj.Name == "PricebookEntry" && !r.deleted && r.vals["Pricebook2Id"] == book && r.vals["Product2Id"] == product {
			return r
		}
	}
	return nil
}

// remove moves a record to the recycle bin, with the records Salesforce
// deletes with it (an account's contacts and opportunities, an opportunity's
// line items, a product's price book entries).
func (s *store) remove(id string) *apiError {
	r := s.live(id)
	if r == nil {
		return errf("ENTITY_IS_DELETED", nil, "entity is deleted")
	}
	switch {
	case r.obj.Name == "OpportunityStage", r.obj.Name == "Pricebook2" && r.id == s.stdBook:
		return errf("DELETE_FAILED", nil, "Your attempt to delete %s could not be completed", r.obj.Name)
	}
	s.cascade(r)
	if r.obj.Name == "OpportunityLineItem" {
		if opp := s.live(str(r.vals["OpportunityId"])); opp != nil {
			s.touchOpportunity(opp, nil)
		}
	}
	return nil
}

func (s *store) cascade(r *record) {
	r.deleted, r.modified = true, s.stamp()
	s.reindex(r, r.vals)
	var children []string
	switch r.obj.Name {
	case "Account":
		children = []string{"Contact.AccountId", "Opportunity.AccountId"}
	case "Opportunity":
		children = []string{"OpportunityLineItem.OpportunityId"}
	case "Product2":
		children = []string{"PricebookEntry.Product2Id"}
	}
	for _, c := range children {
		obj, field, _ := strings.Cut(c, ".")
		for _, x := range s.records {
			if x.obj.Name == obj && !x.deleted && x.vals[field] == r.id {
				s.cascade(x)
			}
		}
	}
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func num(v any) decimal.Decimal {
	n, _ := v.(json.Number)
	d, err := decimal.NewFromString(string(n))
	if err != nil {
		return decimal.Zero
	}
	return d
}

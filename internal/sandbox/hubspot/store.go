package hubspot

import (
	"maps"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// Object type names served under /crm/v3/objects/{type}.
const (
	Companies = "companies"
	Contacts  = "contacts"
	Deals     = "deals"
	Products  = "products"
	LineItems = "line_items"
)

// objectType describes one CRM object type.
type objectType struct {
	name     string   // path name: "companies"
	singular string   // webhook prefix: "company"
	typeID   string   // HubSpot object type id: "0-2"
	defaults []string // properties returned when none are requested
}

var objectTypes = []*objectType{
	{Companies, "company", "0-2", []string{"name", "domain"}},
	{Contacts, "contact", "0-1", []string{"firstname", "lastname", "email", "lastmodifieddate"}},
	{Deals, "deal", "0-3", []string{"dealname", "amount", "closedate", "pipeline", "dealstage"}},
	{Products, "product", "0-7", []string{"name", "description", "price"}},
	{LineItems, "line_item", "0-8", []string{"quantity", "amount", "price"}},
}

// lookupType finds an object type by path name, singular name or type id.
func lookupType(s string) *objectType {
	s = strings.ToLower(s)
	for _, t := range objectTypes {
		if s == t.name || s == t.singular || s == t.typeID {
			return t
		}
	}
	return nil
}

// Always-present, server-maintained properties.
const (
	propID           = "hs_object_id"
	propCreated      = "createdate"
	propModified     = "hs_lastmodifieddate"
	propContactModif = "lastmodifieddate"
)

// record is one stored CRM object. versions holds what the search index
// shows: a write appends a version that search sees SearchDelay later.
type record struct {
	id         int64
	typ        *objectType
	props      map[string]string
	createdAt  time.Time
	updatedAt  time.Time
	archived   bool
	archivedAt time.Time
	versions   []version
}

type version struct {
	at        time.Time
	props     map[string]string
	updatedAt time.Time
	archived  bool
}

// Object is a CRM record in HubSpot's v3 JSON shape.
type Object struct {
	ID           string                     `json:"id"`
	Properties   map[string]*string         `json:"properties"`
	CreatedAt    time.Time                  `json:"createdAt"`
	UpdatedAt    time.Time                  `json:"updatedAt"`
	Archived     bool                       `json:"archived"`
	ArchivedAt   *time.Time                 `json:"archivedAt,omitempty"`
	New          *bool                      `json:"new,omitempty"`
	Associations map[string]associationList `json:"associations,omitempty"`
}

type associationList struct {
	Results []associationRef `json:"results"`
}

type associationRef struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

// Value returns the property value, or "" when unset.
func (o Object) Value(name string) string {
	if v := o.Properties[name]; v != nil {
		return *v
	}
	return ""
}

func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// view renders r (or a search version of it) with the requested
// properties: nil selects the type's defaults. hs_object_id, createdate and
// the last-modified property are always included, as HubSpot does.
func view(r *record, props map[string]string, updatedAt time.Time, archived bool, want []string) Object {
	if want == nil {
		want = r.typ.defaults
	}
	out := Object{
		ID:         strconv.FormatInt(r.id, 10),
		Properties: map[string]*string{},
		CreatedAt:  r.createdAt,
		UpdatedAt:  updatedAt,
		Archived:   archived,
	}
	if archived {
		at := r.archivedAt
		out.ArchivedAt = &at
	}
	always := []string{propID, propCreated, propModified}
	for _, name := range append(always, want...) {
		if v, ok := props[name]; ok && v != "" {
			out.Properties[name] = &v
		} else {
			out.Properties[name] = nil
		}
	}
	return out
}

func (r *record) object(want []string) Object {
	return view(r, r.props, r.updatedAt, r.archived, want)
}

// searchVersion returns what the search index shows for r at now, pruning
// versions it no longer needs; ok is false if r is not indexed yet.
func (r *record) searchVersion(now time.Time, delay time.Duration) (version, bool) {
	idx := -1
	for i, v := range r.versions {
		if !v.at.Add(delay).After(now) {
			idx = i
		}
	}
	if idx < 0 {
		return version{}, false
	}
	r.versions = r.versions[idx:]
	return r.versions[0], true
}

// validateLocked checks a write of in to an object of type t (self is the
// object's id, 0 on create): every property must exist and be writable,
// values must fit the property type, and unique values must be free.
func (s *Server) validateLocked(t *objectType, in map[string]string, self int64) *Error {
	defs := s.defs[t.name]
	var bad []propertyError
	for name, v := range in {
		p, ok := defs[name]
		switch {
		case !ok:
			bad = append(bad, propertyError{Message: "Property \"" + name + "\" does not exist", Error: "PROPERTY_DOESNT_EXIST", Name: name})
		case p.readOnly():
			bad = append(bad, propertyError{Message: "\"" + name + "\" is a read only property; its value cannot be set.", Error: "READ_ONLY_VALUE", Name: name})
		case v == "":
			// Clearing a value is always allowed.
		default:
			if code, msg := p.check(v); code != "" {
				bad = append(bad, propertyError{Message: msg, Error: code, Name: name})
			}
		}
	}
	if len(bad) > 0 {
		return errPropertyValues(bad)
	}
	for name, idx := range s.unique[t.name] {
		v, ok := in[name]
		if !ok || v == "" {
			continue
		}
		if other, taken := idx[v]; taken && other != self {
			e := newError(409, CategoryConflict, "A %s with %s %q already exists. Existing ID: %d", t.singular, name, v, other)
			e.Context = map[string][]string{"existingId": {strconv.FormatInt(other, 10)}, "propertyName": {name}}
			return e
		}
	}
	return nil
}

// deriveLocked fills properties HubSpot computes: line items copy product
// details from hs_product_id and calculate amount.
func (s *Server) deriveLocked(t *objectType, merged, in map[string]string) *Error {
	if t.name != LineItems {
		return nil
	}
	if pid, ok := in["hs_product_id"]; ok && pid != "" {
		id, _ := strconv.ParseInt(pid, 10, 64)
		p := s.records[Products][id]
		if p == nil || p.archived {
			return errPropertyValues([]propertyError{{Message: "Product " + pid + " does not exist", Error: "INVALID_OBJECT_ID", Name: "hs_product_id"}})
		}
		for _, name := range []string{"name", "price", "hs_sku", "description"} {
			if _, given := in[name]; !given && p.props[name] != "" {
				merged[name] = p.props[name]
			}
		}
	}
	price, err1 := decimal.NewFromString(merged["price"])
	qty, err2 := decimal.NewFromString(merged["quantity"])
	if err1 != nil || err2 != nil {
		return nil
	}
	amount := price.Mul(qty)
	if pct, err := decimal.NewFromString(merged["hs_discount_percentage"]); err == nil {
		amount = amount.Mul(decimal.NewFromInt(100).Sub(pct)).Div(decimal.NewFromInt(100))
	} else if d, err := decimal.NewFromString(merged["discount"]); err == nil {
		amount = amount.Sub(d.Mul(qty))
	}
	merged["amount"] = amount.String()
	return nil
}

// createLocked validates and stores a new object, queuing webhook events.
func (s *Server) createLocked(t *objectType, in map[string]string, source string) (*record, *Error) {
	if e := s.validateLocked(t, in, 0); e != nil {
		return nil, e
	}
	props := map[string]string{}
	for k, v := range in {
		if v != "" {
			props[k] = v
		}
	}
	if e := s.deriveLocked(t, props, in); e != nil {
		return nil, e
	}
	now := s.now()
	s.nextID++
	r := &record{id: s.nextID, typ: t, props: props, createdAt: now, updatedAt: now}
	if t.name == Deals && props["pipeline"] == "" {
		props["pipeline"] = defaultPipelineID
	}
	props[propID] = strconv.FormatInt(r.id, 10)
	if props[propCreated] == "" {
		props[propCreated] = formatTime(now)
	}
	s.touch(r, now)
	s.records[t.name][r.id] = r
	s.indexUniqueLocked(r, nil)
	s.hooks.queueLocked(r, "creation", nil, source, now)
	return r, nil
}

// updateLocked validates and applies in to r, queuing property-change
// events for the values that actually changed.
func (s *Server) updateLocked(r *record, in map[string]string, source string) *Error {
	if e := s.validateLocked(r.typ, in, r.id); e != nil {
		return e
	}
	merged := maps.Clone(r.props)
	for k, v := range in {
		if v == "" {
			delete(merged, k)
		} else {
			merged[k] = v
		}
	}
	if e := s.deriveLocked(r.typ, merged, in); e != nil {
		return e
	}
	var changed []string
	for k := range merged {
		if merged[k] != r.props[k] {
			changed = append(changed, k)
		}
	}
	for k := range r.props {
		if _, ok := merged[k]; !ok {
			changed = append(changed, k)
		}
	}
	if len(changed) == 0 {
		return nil
	}
	sort.Strings(changed)
	old := r.props
	r.props = merged
	now := s.now()
	s.touch(r, now)
	s.indexUniqueLocked(r, old)
	s.hooks.queueLocked(r, "propertyChange", changed, source, now)
	return nil
}

// archiveLocked archives r (HubSpot's DELETE), releasing its unique values.
func (s *Server) archiveLocked(r *record, source string) {
	if r.archived {
		return
	}
	now := s.now()
	r.archived = true
	r.archivedAt = now
	s.touch(r, now)
	for name, idx := range s.unique[r.typ.name] {
		if v := r.props[name]; v != "" && idx[v] == r.id {
			delete(idx, v)
		}
	}
	s.hooks.queueLocked(r, "deletion", nil, source, now)
}

// touch stamps r as modified at now and queues a search-index version.
func (s *Server) touch(r *record, now time.Time) {
	r.updatedAt = now
	r.props[propModified] = formatTime(now)
	if r.typ.name == Contacts {
		r.props[propContactModif] = formatTime(now)
	}
	r.versions = append(r.versions, version{at: now, props: maps.Clone(r.props), updatedAt: now, archived: r.archived})
}

func (s *Server) indexUniqueLocked(r *record, old map[string]string) {
	for name, idx := range s.unique[r.typ.name] {
		if old != nil {
			if v := old[name]; v != "" && idx[v] == r.id {
				delete(idx, v)
			}
		}
		if v := r.props[name]; v != "" {
			idx[v] = r.id
		}
	}
}

// findLocked returns the object of type t whose idProperty (hs_object_id
// when empty) equals id. archived selects archived objects instead.
func (s *Server) findLocked(t *objectType, id, idProperty string, archived bool) (*record, *Error) {
	var r *record
	if idProperty == "" || idProperty == propID {
		n, err := strconv.ParseInt(id, 10, 64)
		if err == nil {
			r = s.records[t.name][n]
		}
	} else {
		idx, ok := s.unique[t.name][idProperty]
		if !ok {
			return nil, errValidation("Property %q is not a unique identifier property of %s; idProperty must have hasUniqueValue set", idProperty, t.name)
		}
		if n, ok := idx[id]; ok {
			r = s.records[t.name][n]
		}
	}
	if r == nil || r.archived != archived {
		return nil, errNotFound("Object not found.  objectId are usually numeric.")
	}
	return r, nil
}

// sortedLocked returns the records of type t in id order.
func (s *Server) sortedLocked(t *objectType) []*record {
	out := make([]*record, 0, len(s.records[t.name]))
	for _, r := range s.records[t.name] {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

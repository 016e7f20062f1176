package hubspot

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Change sources reported in webhook events.
const (
	SourceIntegration = "INTEGRATION" // writes through the HTTP API
	SourceCRMUI       = "CRM_UI"      // in-process writes, standing in for a user
)

// objectInput is one create/update/upsert input.
type objectInput struct {
	ID                 string              `json:"id"`
	IDProperty         string              `json:"idProperty"`
	Properties         map[string]any      `json:"properties"`
	Associations       []inlineAssociation `json:"associations"`
	ObjectWriteTraceID string              `json:"objectWriteTraceId"`
}

type inlineAssociation struct {
	To struct {
		ID string `json:"id"`
	} `json:"to"`
	Types []associationType `json:"types"`
}

// stringValues converts JSON property values to HubSpot's string values;
// null clears a value.
func stringValues(in map[string]any) (map[string]string, *Error) {
	out := make(map[string]string, len(in))
	for k, v := range in {
		switch x := v.(type) {
		case nil:
			out[k] = ""
		case string:
			out[k] = x
		case json.Number:
			out[k] = x.String()
		case bool:
			out[k] = strconv.FormatBool(x)
		default:
			return nil, errValidation("Property %q must be a string, number or boolean", k)
		}
	}
	return out, nil
}

func objectTypeOf(w http.ResponseWriter, r *http.Request) *objectType {
	t := lookupType(r.PathValue("type"))
	if t == nil {
		writeError(w, errNotFound("Unable to infer object type from: %s", r.PathValue("type")))
	}
	return t
}

// wantedProperties reads the properties query parameter (repeated or comma
// separated); nil means the defaults.
func wantedProperties(q url.Values) []string {
	var out []string
	for _, v := range q["properties"] {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

func allProperties(r *record) []string {
	out := make([]string, 0, len(r.props))
	for k := range r.props {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// withAssociationsLocked adds the associations query parameter's object
// types to o, as HubSpot's v3 GET does.
func (s *Server) withAssociationsLocked(o *Object, r *record, q url.Values) {
	for _, v := range q["associations"] {
		for _, name := range strings.Split(v, ",") {
			to := lookupType(strings.TrimSpace(name))
			if to == nil {
				continue
			}
			links := s.assocs[assocKey{r.typ.name, r.id, to.name}]
			if len(links) == 0 {
				continue
			}
			list := associationList{Results: []associationRef{}}
			for _, id := range sortedIDs(links) {
				list.Results = append(list.Results, associationRef{ID: strconv.FormatInt(id, 10), Type: r.typ.singular + "_to_" + to.singular})
			}
			if o.Associations == nil {
				o.Associations = map[string]associationList{}
			}
			o.Associations[to.name] = list
		}
	}
}

func parseArchived(q url.Values) bool { return q.Get("archived") == "true" }

func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	t := objectTypeOf(w, r)
	if t == nil {
		return
	}
	q := r.URL.Query()
	limit := 10
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			writeError(w, errValidation("limit must be an integer between 1 and 100, got %q", v))
			return
		}
		limit = n
	}
	var after int64
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			writeError(w, errValidation("after must be a paging cursor returned by a previous page, got %q", v))
			return
		}
		after = n
	}
	archived := parseArchived(q)
	want := wantedProperties(q)
	s.mu.Lock()
	results := []Object{}
	var next string
	for _, rec := range s.sortedLocked(t) {
		if rec.archived != archived || rec.id < after {
			continue
		}
		if len(results) == limit {
			next = strconv.FormatInt(rec.id, 10)
			break
		}
		o := rec.object(want)
		s.withAssociationsLocked(&o, rec, q)
		results = append(results, o)
	}
	s.mu.Unlock()
	body := map[string]any{"results": results}
	if next != "" {
		link := *r.URL
		lq := link.Query()
		lq.Set("after", next)
		link.RawQuery = lq.Encode()
		body["paging"] = map[string]any{"next": map[string]string{"after": next, "link": link.String()}}
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) handleGet(w http.ResponseWriter, r *http.Request) {
	t := objectTypeOf(w, r)
	if t == nil {
		return
	}
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, e := s.findLocked(t, r.PathValue("id"), q.Get("idProperty"), parseArchived(q))
	if e != nil {
		writeError(w, e)
		return
	}
	o := rec.object(wantedProperties(q))
	s.withAssociationsLocked(&o, rec, q)
	writeJSON(w, http.StatusOK, o)
}

func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request) {
	t := objectTypeOf(w, r)
	if t == nil {
		return
	}
	var in objectInput
	if e := decodeBody(r, &in); e != nil {
		writeError(w, e)
		return
	}
	s.mu.Lock()
	o, e := s.createInputLocked(t, in, SourceIntegration)
	s.mu.Unlock()
	if e != nil {
		writeError(w, e)
		return
	}
	writeJSON(w, http.StatusCreated, o)
}

// createInputLocked creates one object from an API input, with its inline
// associations.
func (s *Server) createInputLocked(t *objectType, in objectInput, source string) (Object, *Error) {
	props, e := stringValues(in.Properties)
	if e != nil {
		return Object{}, e
	}
	links, e := s.resolveInlineLocked(t, in.Associations)
	if e != nil {
		return Object{}, e
	}
	rec, e := s.createLocked(t, props, source)
	if e != nil {
		return Object{}, e
	}
	for _, l := range links {
		s.linkLocked(t, rec.id, l.to, l.toID, l.typeIDs)
	}
	return rec.object(allProperties(rec)), nil
}

func (s *Server) handleUpdate(w http.ResponseWriter, r *http.Request) {
	t := objectTypeOf(w, r)
	if t == nil {
		return
	}
	var in objectInput
	if e := decodeBody(r, &in); e != nil {
		writeError(w, e)
		return
	}
	props, e := stringValues(in.Properties)
	if e != nil {
		writeError(w, e)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, e := s.findLocked(t, r.PathValue("id"), r.URL.Query().Get("idProperty"), false)
	if e != nil {
		writeError(w, e)
		return
	}
	if e := s.updateLocked(rec, props, SourceIntegration); e != nil {
		writeError(w, e)
		return
	}
	writeJSON(w, http.StatusOK, rec.object(allProperties(rec)))
}

func (s *Server) handleArchive(w http.ResponseWriter, r *http.Request) {
	t := objectTypeOf(w, r)
	if t == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, e := s.findLocked(t, r.PathValue("id"), "", false)
	if e == nil {
		s.archiveLocked(rec, SourceIntegration)
	} else if _, e2 := s.findLocked(t, r.PathValue("id"), "", true); e2 != nil {
		writeError(w, e)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// Objects returns every non-archived object of objectType (a name such as
// "companies", "company" or "0-2") with all its properties, in id order.
// It returns nil for an unknown type.
func (s *Server) Objects(objectType string) []Object {
	t := lookupType(objectType)
	if t == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Object{}
	for _, rec := range s.sortedLocked(t) {
		if !rec.archived {
			out = append(out, rec.object(allProperties(rec)))
		}
	}
	return out
}

// Get returns one non-archived object with all its properties.
func (s *Server) Get(objectType, id string) (Object, bool) {
	t := lookupType(objectType)
	if t == nil {
		return Object{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, e := s.findLocked(t, id, "", false)
	if e != nil {
		return Object{}, false
	}
	return rec.object(allProperties(rec)), true
}

// Put creates an object as a HubSpot user would in the CRM UI: values are
// validated as over the API, and webhook events carry changeSource CRM_UI.
// Errors are *Error values.
func (s *Server) Put(objectType string, props map[string]string) (Object, error) {
	t := lookupType(objectType)
	if t == nil {
		return Object{}, errNotFound("Unable to infer object type from: %s", objectType)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, e := s.createLocked(t, props, SourceCRMUI)
	if e != nil {
		return Object{}, e
	}
	return rec.object(allProperties(rec)), nil
}

// Update changes properties of an object as a CRM user would (see Put). An
// empty value clears the property.
func (s *Server) Update(objectType, id string, props map[string]string) (Object, error) {
	t := lookupType(objectType)
	if t == nil {
		return Object{}, errNotFound("Unable to infer object type from: %s", objectType)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, e := s.findLocked(t, id, "", false)
	if e != nil {
		return Object{}, e
	}
	if e := s.updateLocked(rec, props, SourceCRMUI); e != nil {
		return Object{}, e
	}
	return rec.object(allProperties(rec)), nil
}

// Archive archives an object as a CRM user would.
func (s *Server) Archive(objectType, id string) error {
	t := lookupType(objectType)
	if t == nil {
		return errNotFound("Unable to infer object type from: %s", objectType)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, e := s.findLocked(t, id, "", false)
	if e != nil {
		return e
	}
	s.archiveLocked(rec, SourceCRMUI)
	return nil
}

package salesforce

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ordered is a JSON object that keeps its keys in order.
type ordered struct {
	keys []string
	vals []any
}

func (o *ordered) set(k string, v any) { o.keys, o.vals = append(o.keys, k), append(o.vals, v) }

func (o ordered) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for i, k := range o.keys {
		if i > 0 {
			b = append(b, ',')
		}
		kb, _ := json.Marshal(k)
		vb, err := json.Marshal(o.vals[i])
		if err != nil {
			return nil, err
		}
		b = append(append(append(b, kb...), ':'), vb...)
	}
	return append(b, '}'), nil
}

func (c *call) render(r *record, fields []*fieldDef) ordered {
	var o ordered
	o.set("attributes", map[string]string{"type": r.obj.Name, "url": c.url(r.obj.Name, r.id)})
	for _, f := range fields {
		o.set(f.Name, r.get(f))
	}
	return o
}

// sobjects serves /sobjects/...: describeGlobal, describe, create, retrieve,
// update, delete, upsert by External ID, getUpdated and getDeleted.
func (s *Server) sobjects(c *call, parts []string, slash bool) {
	w, r := c.w, c.r
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(parts) == 0 || parts[0] == "" {
		var list []map[string]any
		for _, o := range s.sortedObjects() {
			list = append(list, map[string]any{"name": o.Name, "label": o.Label, "keyPrefix": o.Prefix, "custom": false,
				"createable": o.Name != "OpportunityStage", "updateable": o.Name != "OpportunityStage", "queryable": true,
				"urls": map[string]string{"sobject": "/services/data/" + c.version + "/sobjects/" + o.Name}})
		}
		writeJSON(w, http.StatusOK, map[string]any{"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": list})
		return
	}
	o := s.st.object(parts[0])
	if o == nil {
		writeErrors(w, http.StatusNotFound, errf("NOT_FOUND", nil, "The requested resource does not exist"))
		return
	}
	switch {
	case len(parts) == 1 && r.Method == http.MethodPost:
		var in map[string]any
		if !c.decode(&in) {
			return
		}
		id, aerr := s.st.create(o, in)
		if aerr != nil {
			writeErrors(w, http.StatusBadRequest, aerr)
			return
		}
		writeJSON(w, http.StatusCreated, map[string]any{"id": id, "success": true, "errors": []any{}})
	case len(parts) == 1 && r.Method == http.MethodGet:
		recent := []any{}
		writeJSON(w, http.StatusOK, map[string]any{"objectDescribe": describeObject(o, false), "recentItems": recent})
	case len(parts) == 2 && parts[1] == "describe" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, describeObject(o, true))
	case len(parts) == 2 && (parts[1] == "updated" || parts[1] == "deleted") && slash && r.Method == http.MethodGet:
		s.replication(c, o, parts[1] == "deleted")
	case len(parts) == 2:
		s.byID(c, o, parts[1])
	case len(parts) == 3 && r.Method == http.MethodPatch:
		s.upsertOne(c, o, parts[1], parts[2])
	case len(parts) == 3 && r.Method == http.MethodGet:
		f := o.field(parts[1])
		if f == nil || !(f.ExternalID || f.Name == "Id") {
			writeErrors(w, http.StatusNotFound, errf("NOT_FOUND", nil, "Provided external ID field does not exist or is not accessible: %s", parts[1]))
			return
		}
		matches := s.st.byExternal(o, f, parts[2])
		switch len(matches) {
		case 0:
			writeErrors(w, http.StatusNotFound, errf("NOT_FOUND", nil, "The requested resource does not exist"))
		case 1:
			writeJSON(w, http.StatusOK, c.render(matches[0], o.Fields))
		default:
			s.multipleChoices(c, matches)
		}
	default:
		writeErrors(w, http.StatusNotFound, errf("NOT_FOUND", nil, "The requested resource does not exist"))
	}
}

func (s *Server) sortedObjects() []*objectDef {
	var out []*objectDef
	for _, o := range s.st.objects {
		out = append(out, o)
	}
	slices.SortFunc(out, func(a, b *objectDef) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func describeObject(o *objectDef, withFields bool) map[string]any {
	d := map[string]any{"name": o.Name, "label": o.Label, "keyPrefix": o.Prefix, "custom": false,
		"createable": o.Name != "OpportunityStage", "updateable": o.Name != "OpportunityStage", "queryable": true}
	if !withFields {
		return d
	}
	fields := make([]map[string]any, 0, len(o.Fields))
	for _, f := range o.Fields {
		fd := map[string]any{"name": f.Name, "label": f.Label, "type": f.Type, "length": f.Length,
			"custom": f.Custom, "externalId": f.ExternalID, "unique": f.Unique, "idLookup": f.ExternalID || f.Name == "Id",
			"createable": !f.ReadOnly && f.Type != tID, "updateable": !f.ReadOnly && !f.CreateOnly && f.Type != tID,
			"nillable": !f.Required && f.Type != tID && f.Type != tBoolean, "scale": f.Scale, "referenceTo": []string{}}
		if f.RefTo != "" {
			fd["referenceTo"] = []string{f.RefTo}
		}
		if len(f.Picklist) > 0 {
			var vals []map[string]any
			for _, v := range f.Picklist {
				vals = append(vals, map[string]any{"value": v, "label": v, "active": true})
			}
			fd["picklistValues"], fd["restrictedPicklist"] = vals, true
		}
		fields = append(fields, fd)
	}
	d["fields"] = fields
	return d
}

// byID serves GET, PATCH and DELETE of /sobjects/{object}/{id}.
func (s *Server) byID(c *call, o *objectDef, id string) {
	w := c.w
	rec := s.st.live(id)
	if rec == nil || rec.obj != o {
		writeErrors(w, http.StatusNotFound, errf("NOT_FOUND", nil, "The requested resource does not exist"))
		return
	}
	switch c.r.Method {
	case http.MethodGet:
		fields := o.Fields
		if list := c.r.URL.Query().Get("fields"); list != "" {
			fields = nil
			for _, name := range strings.Split(list, ",") {
				f := o.field(strings.TrimSpace(name))
				if f == nil {
					writeErrors(w, http.StatusBadRequest, errf("INVALID_FIELD", nil, "No such column '%s' on sobject of type %s", name, o.Name))
					return
				}
				fields = append(fields, f)
			}
		}
		writeJSON(w, http.StatusOK, c.render(rec, fields))
	case http.MethodPatch:
		var in map[string]any
		if !c.decode(&in) {
			return
		}
		if aerr := s.st.update(o, rec.id, in); aerr != nil {
			writeErrors(w, http.StatusBadRequest, aerr)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case http.MethodDelete:
		if aerr := s.st.remove(rec.id); aerr != nil {
			writeErrors(w, http.StatusBadRequest, aerr)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		writeErrors(w, http.StatusMethodNotAllowed, errf("METHOD_NOT_ALLOWED", nil, "HTTP Method '%s' not allowed. Allowed are GET,PATCH,DELETE", c.r.Method))
	}
}

// byExternal returns the live records of o whose field f holds value.
func (st *store) byExternal(o *objectDef, f *fieldDef, value string) []*record {
	var out []*record
	if indexed(f) {
		out = st.lookup(o, f, value)
	} else {
		for _, r := range st.records {
			if r.obj == o && !r.deleted && compare(f, r.get(f), value) == 0 {
				out = append(out, r)
			}
		}
	}
	slices.SortFunc(out, func(a, b *record) int { return strings.Compare(a.id, b.id) })
	return out
}

func (s *Server) multipleChoices(c *call, matches []*record) {
	urls := make([]string, len(matches))
	for i, m := range matches {
		urls[i] = c.url(m.obj.Name, m.id)
	}
	writeJSON(c.w, http.StatusMultipleChoices, urls)
}

// upsert creates or updates the record of o whose External ID field holds
// value. It returns the id, whether it was created, the matches when more
// than one record holds value, and the refusal.
func (st *store) upsert(o *objectDef, field, value string, in map[string]any) (string, bool, []*record, *apiError) {
	f := o.field(field)
	if f == nil || !f.ExternalID {
		return "", false, nil, errf("NOT_FOUND", nil, "Provided external ID field does not exist or is not accessible: %s", field)
	}
	for k, v := range in {
		if g := o.field(k); g == f && v != nil && str(v) != value {
			return "", false, nil, errf("INVALID_FIELD", []string{f.Name}, "The value of the external ID field in the request body must match the value in the URL")
		}
	}
	matches := st.byExternal(o, f, value)
	switch len(matches) {
	case 0:
		body := make(map[string]any, len(in)+1)
		for k, v := range in {
			body[k] = v
		}
		body[f.Name] = value
		id, aerr := st.create(o, body)
		return id, true, nil, aerr
	case 1:
		body := make(map[string]any, len(in))
		for k, v := range in {
			if o.field(k) != f {
				body[k] = v
			}
		}
		return matches[0].id, false, nil, st.update(o, matches[0].id, body)
	}
	return "", false, matches, errf("MULTIPLE_RECORDS_FOUND", nil, "%d records found for %s = %s", len(matches), f.Name, value)
}

func (s *Server) upsertOne(c *call, o *objectDef, field, value string) {
	var in map[string]any
	if !c.decode(&in) {
		return
	}
	id, created, matches, aerr := s.st.upsert(o, field, value, in)
	switch {
	case len(matches) > 1:
		s.multipleChoices(c, matches)
	case aerr != nil && aerr.ErrorCode == "NOT_FOUND":
		writeErrors(c.w, http.StatusNotFound, aerr)
	case aerr != nil:
		writeErrors(c.w, http.StatusBadRequest, aerr)
	case created:
		writeJSON(c.w, http.StatusCreated, map[string]any{"id": id, "success": true, "errors": []any{}, "created": true})
	default:
		writeJSON(c.w, http.StatusOK, map[string]any{"id": id, "success": true, "errors": []any{}, "created": false})
	}
}

// replication serves getUpdated and getDeleted. Salesforce ignores the
// seconds of start and end.
func (s *Server) replication(c *call, o *objectDef, deleted bool) {
	q := c.r.URL.Query()
	start, ok1 := parseTime(q.Get("start"))
	end, ok2 := parseTime(q.Get("end"))
	if !ok1 || !ok2 {
		writeErrors(c.w, http.StatusBadRequest, errf("INVALID_REPLICATION_DATE", nil, "start and end must be dateTime values"))
		return
	}
	start, end = start.Truncate(time.Minute), end.Truncate(time.Minute)
	now := s.cfg.Now().UTC()
	if end.After(now) {
		end = now.Truncate(time.Minute)
	}
	if !start.Before(end) && !start.Equal(end) {
		writeErrors(c.w, http.StatusBadRequest, errf("INVALID_REPLICATION_DATE", nil, "startDate must chronologically precede endDate"))
		return
	}
	// getUpdated reaches 30 days back, getDeleted 15 (the delete log).
	days := 30
	if deleted {
		days = 15
	}
	if start.Before(now.Add(-time.Duration(days) * 24 * time.Hour)) {
		writeErrors(c.w, http.StatusBadRequest, errf("INVALID_REPLICATION_DATE", nil, "startDate cannot be more than %d days ago", days))
		return
	}
	var recs []*record
	earliest := end
	for _, r := range s.st.records {
		if r.obj != o || r.deleted != deleted || r.modified.Before(start) || !r.modified.Before(end) {
			continue
		}
		recs = append(recs, r)
	}
	slices.SortFunc(recs, func(a, b *record) int { return a.modified.Compare(b.modified) })
	if !deleted {
		ids := make([]string, len(recs))
		for i, r := range recs {
			ids[i] = r.id
		}
		writeJSON(c.w, http.StatusOK, map[string]any{"ids": ids, "latestDateCovered": formatTime(end)})
		return
	}
	list := make([]map[string]string, len(recs))
	for i, r := range recs {
		list[i] = map[string]string{"id": r.id, "deletedDate": formatTime(r.modified)}
		if r.modified.Before(earliest) {
			earliest = r.modified
		}
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"deletedRecords": list, "earliestDateAvailable": formatTime(earliest), "latestDateCovered": formatTime(end)})
}

// query serves query and queryAll (?q=SOQL) and queryMore (/{locator}).
func (s *Server) query(c *call, all bool, parts []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(parts) == 1 && parts[0] != "" {
		loc := s.locators[parts[0][:strings.IndexByte(parts[0]+"-", '-')]]
		if loc == nil {
			writeErrors(c.w, http.StatusBadRequest, errf("INVALID_QUERY_LOCATOR", nil, "invalid query locator"))
			return
		}
		s.page(c, all, parts[0][:strings.IndexByte(parts[0]+"-", '-')], loc)
		return
	}
	q, aerr := s.st.parseQuery(c.r.URL.Query().Get("q"))
	if aerr != nil {
		writeErrors(c.w, http.StatusBadRequest, aerr)
		return
	}
	recs := s.st.run(q, all)
	if q.count {
		writeJSON(c.w, http.StatusOK, map[string]any{"totalSize": len(recs), "done": true, "records": []any{}})
		return
	}
	batch := 2000
	if opt := c.r.Header.Get("Sforce-Query-Options"); opt != "" {
		if v, ok := strings.CutPrefix(strings.TrimSpace(opt), "batchSize="); ok {
			if n, err := strconv.Atoi(v); err == nil && n >= 200 && n <= 2000 {
				batch = n
			}
		}
	}
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.id
	}
	s.locSeq++
	key := fmt.Sprintf("01g5g%010dSAN", s.locSeq)
	loc := &locator{ids: ids, fields: q.fields, batch: batch}
	s.locators[key] = loc
	s.page(c, all, key, loc)
}

func (s *Server) page(c *call, all bool, key string, loc *locator) {
	end := min(loc.pos+loc.batch, len(loc.ids))
	records := make([]ordered, 0, end-loc.pos)
	for _, id := range loc.ids[loc.pos:end] {
		if r := s.st.find(id); r != nil && (all || !r.deleted) {
			records = append(records, c.render(r, loc.fields))
		}
	}
	loc.pos = end
	out := ordered{}
	out.set("totalSize", len(loc.ids))
	out.set("done", end >= len(loc.ids))
	if end < len(loc.ids) {
		res := "query"
		if all {
			res = "queryAll"
		}
		out.set("nextRecordsUrl", fmt.Sprintf("/services/data/%s/%s/%s-%d", c.version, res, key, end))
	} else {
		delete(s.locators, key)
	}
	out.set("records", records)
	writeJSON(c.w, http.StatusOK, out)
}

// customField serves the Tooling API's CustomField create (see DefineField).
func (s *Server) customField(c *call) {
	var in struct {
		FullName string `json:"FullName"`
		Metadata struct {
			Label      string      `json:"label"`
			Type       string      `json:"type"`
			Length     json.Number `json:"length"`
			Scale      json.Number `json:"scale"`
			ExternalID bool        `json:"externalId"`
			Unique     bool        `json:"unique"`
			ValueSet   struct {
				Restricted         bool `json:"restricted"`
				ValueSetDefinition struct {
					Value []struct {
						FullName string `json:"fullName"`
					} `json:"value"`
				} `json:"valueSetDefinition"`
			} `json:"valueSet"`
		} `json:"Metadata"`
	}
	if !c.decode(&in) {
		return
	}
	objName, fieldName, _ := strings.Cut(in.FullName, ".")
	length, _ := in.Metadata.Length.Int64()
	scale, _ := in.Metadata.Scale.Int64()
	cf := CustomField{Name: fieldName, Label: in.Metadata.Label, Type: in.Metadata.Type, Length: int(length), Scale: int(scale),
		ExternalID: in.Metadata.ExternalID, Unique: in.Metadata.Unique}
	if in.Metadata.ValueSet.Restricted {
		for _, v := range in.Metadata.ValueSet.ValueSetDefinition.Value {
			cf.Picklist = append(cf.Picklist, v.FullName)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if aerr := s.defineLocked(objName, cf); aerr != nil {
		writeErrors(c.w, http.StatusBadRequest, aerr)
		return
	}
	s.fieldSeq++
	writeJSON(c.w, http.StatusCreated, map[string]any{"id": fmt.Sprintf("00N5g%010dSAN", s.fieldSeq), "success": true, "errors": []any{}, "warnings": []any{}, "infos": []any{}})
}

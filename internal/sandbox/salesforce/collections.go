package salesforce

import (
	"maps"
	"net/http"
	"strings"
)

// MaxCollection is the most records one sObject Collections call takes.
const MaxCollection = 200

// collectionErr is an error in a collection result: the code is statusCode.
type collectionErr struct {
	StatusCode string   `json:"statusCode"`
	Message    string   `json:"message"`
	Fields     []string `json:"fields"`
}

type collectionResult struct {
	ID      string          `json:"id,omitempty"`
	Success bool            `json:"success"`
	Errors  []collectionErr `json:"errors"`
	Created *bool           `json:"created,omitempty"`
}

func failed(id string, aerr *apiError) collectionResult {
	return collectionResult{ID: id, Errors: []collectionErr{{StatusCode: aerr.ErrorCode, Message: aerr.Message, Fields: aerr.Fields}}}
}

// collections serves /composite/sobjects: create (POST), update (PATCH),
// upsert by External ID (PATCH /{object}/{field}), retrieve (GET /{object})
// and delete (DELETE ?ids=), each with allOrNone.
func (s *Server) collections(c *call, parts []string) {
	w, r := c.w, c.r
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case len(parts) == 0 && r.Method == http.MethodDelete:
		ids := splitList(r.URL.Query().Get("ids"))
		if len(ids) > MaxCollection {
			writeErrors(w, http.StatusBadRequest, errf("EXCEEDED_ID_LIMIT", nil, "record limit reached. cannot submit more than %d records into this call", MaxCollection))
			return
		}
		s.batch(c, r.URL.Query().Get("allOrNone") == "true", len(ids), func(i int) collectionResult {
			if aerr := s.st.remove(ids[i]); aerr != nil {
				return failed(ids[i], aerr)
			}
			return collectionResult{ID: ids[i], Success: true, Errors: []collectionErr{}}
		})
	case len(parts) == 1 && r.Method == http.MethodGet:
		o := s.st.object(parts[0])
		if o == nil {
			writeErrors(w, http.StatusNotFound, errf("NOT_FOUND", nil, "The requested resource does not exist"))
			return
		}
		ids := splitList(r.URL.Query().Get("ids"))
		if len(ids) > 2000 {
			writeErrors(w, http.StatusBadRequest, errf("EXCEEDED_ID_LIMIT", nil, "record limit reached. cannot submit more than 2000 records into this call"))
			return
		}
		fields := []*fieldDef{}
		for _, name := range splitList(r.URL.Query().Get("fields")) {
			f := o.field(name)
			if f == nil {
				writeErrors(w, http.StatusBadRequest, errf("INVALID_FIELD", nil, "No such column '%s' on sobject of type %s", name, o.Name))
				return
			}
			fields = append(fields, f)
		}
		if len(fields) == 0 {
			fields = o.Fields
		}
		out := make([]any, len(ids))
		for i, id := range ids {
			if rec := s.st.live(id); rec != nil && rec.obj == o {
				out[i] = c.render(rec, fields)
			}
		}
		writeJSON(w, http.StatusOK, out)
	case len(parts) == 0 && (r.Method == http.MethodPost || r.Method == http.MethodPatch):
		body, ok := s.collectionBody(c)
		if !ok {
			return
		}
		creating := r.Method == http.MethodPost
		s.batch(c, body.AllOrNone, len(body.Records), func(i int) collectionResult {
			in := body.Records[i]
			attrs, _ := in["attributes"].(map[string]any)
			o := s.st.object(str(attrs["type"]))
			if o == nil {
				return failed("", errf("INVALID_TYPE", nil, "Must specify a valid type in the attributes of each record"))
			}
			if creating {
				if _, has := in["Id"]; has {
					return failed("", errf("INVALID_FIELD", []string{"Id"}, "cannot specify Id in an insert call"))
				}
				id, aerr := s.st.create(o, in)
				if aerr != nil {
					return failed("", aerr)
				}
				return collectionResult{ID: id, Success: true, Errors: []collectionErr{}}
			}
			id := str(in["Id"])
			if id == "" {
				id = str(in["id"])
			}
			fields := maps.Clone(in)
			delete(fields, "Id")
			delete(fields, "id")
			if id == "" {
				return failed("", errf("MISSING_ARGUMENT", []string{"Id"}, "Id not specified in an update call"))
			}
			if aerr := s.st.update(o, id, fields); aerr != nil {
				return failed(id, aerr)
			}
			rec := s.st.live(id)
			return collectionResult{ID: rec.id, Success: true, Errors: []collectionErr{}}
		})
	case len(parts) == 2 && r.Method == http.MethodPatch:
		o := s.st.object(parts[0])
		if o == nil {
			writeErrors(w, http.StatusNotFound, errf("NOT_FOUND", nil, "The requested resource does not exist"))
			return
		}
		f := o.field(parts[1])
		if f == nil || !f.ExternalID {
			writeErrors(w, http.StatusBadRequest, errf("INVALID_FIELD", nil, "Provided external ID field does not exist or is not accessible: %s", parts[1]))
			return
		}
		body, ok := s.collectionBody(c)
		if !ok {
			return
		}
		s.batch(c, body.AllOrNone, len(body.Records), func(i int) collectionResult {
			in := body.Records[i]
			attrs, _ := in["attributes"].(map[string]any)
			if !strings.EqualFold(str(attrs["type"]), o.Name) {
				return failed("", errf("INVALID_TYPE", nil, "Must specify a valid type in the attributes of each record"))
			}
			var key string
			for k, v := range in {
				if o.field(k) == f {
					key = str(v)
				}
			}
			if key == "" {
				return failed("", errf("MISSING_ARGUMENT", []string{f.Name}, "%s not specified", f.Name))
			}
			id, created, matches, aerr := s.st.upsert(o, f.Name, key, in)
			if len(matches) > 1 {
				return failed("", errf("DUPLICATE_EXTERNAL_ID", []string{f.Name}, "%s: more than one record found for external id field: %v", f.Name, recordIDs(matches)))
			}
			if aerr != nil {
				return failed("", aerr)
			}
			return collectionResult{ID: id, Success: true, Errors: []collectionErr{}, Created: &created}
		})
	default:
		writeErrors(w, http.StatusNotFound, errf("NOT_FOUND", nil, "The requested resource does not exist"))
	}
}

func recordIDs(rs []*record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.id
	}
	return out
}

type collectionBody struct {
	AllOrNone bool             `json:"allOrNone"`
	Records   []map[string]any `json:"records"`
}

func (s *Server) collectionBody(c *call) (collectionBody, bool) {
	var body collectionBody
	if !c.decode(&body) {
		return body, false
	}
	if len(body.Records) > MaxCollection {
		writeErrors(c.w, http.StatusBadRequest, errf("EXCEEDED_ID_LIMIT", nil, "record limit reached. cannot submit more than %d records into this call", MaxCollection))
		return body, false
	}
	return body, true
}

// batch applies n operations in order; with allOrNone a failure rolls every
// one back and the others report ALL_OR_NONE_OPERATION_ROLLED_BACK.
func (s *Server) batch(c *call, allOrNone bool, n int, op func(i int) collectionResult) {
	var snap map[string]*record
	if allOrNone {
		snap = s.st.snapshot()
	}
	out := make([]collectionResult, n)
	failedAny := false
	for i := range n {
		out[i] = op(i)
		failedAny = failedAny || !out[i].Success
	}
	if allOrNone && failedAny {
		s.st.restore(snap)
		for i := range out {
			if out[i].Success {
				out[i] = failed(out[i].ID, errf("ALL_OR_NONE_OPERATION_ROLLED_BACK", nil, "Record rolled back because not all records were valid and the request was using AllOrNone header"))
				out[i].Created = nil
			}
		}
	}
	writeJSON(c.w, http.StatusOK, out)
}

// snapshot copies the records so that restore can undo a batch.
func (st *store) snapshot() map[string]*record {
	out := make(map[string]*record, len(st.records))
	for id, r := range st.records {
		cp := *r
		cp.vals = maps.Clone(r.vals)
		out[id] = &cp
	}
	return out
}

func (st *store) restore(snap map[string]*record) {
	st.records = snap
	st.idx = map[string]map[string]struct{}{}
	for _, r := range snap {
		st.reindex(r, nil)
	}
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

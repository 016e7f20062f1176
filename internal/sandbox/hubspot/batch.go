package hubspot

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxBatchInputs is HubSpot's limit of inputs per batch request.
const maxBatchInputs = 100

func checkBatchSize(n int) *Error {
	if n > maxBatchInputs {
		e := errValidation("Too many inputs: %d. The maximum number of inputs per batch request is %d.", n, maxBatchInputs)
		e.Context = map[string][]string{"inputs": {strconv.Itoa(n)}, "maxInputs": {strconv.Itoa(maxBatchInputs)}}
		return e
	}
	return nil
}

// batchError turns a per-input failure into an element of a batch
// response's errors, naming the input in context.ids.
func batchError(e *Error, id string) *Error {
	out := *e
	out.HTTPStatus = 0
	out.Context = map[string][]string{}
	for k, v := range e.Context {
		out.Context[k] = v
	}
	if id != "" {
		out.Context["ids"] = []string{id}
	}
	return &out
}

type batchResponse struct {
	Status      string    `json:"status"`
	Results     any       `json:"results"`
	NumErrors   int       `json:"numErrors,omitempty"`
	Errors      []*Error  `json:"errors,omitempty"`
	StartedAt   time.Time `json:"startedAt"`
	CompletedAt time.Time `json:"completedAt"`
}

// writeBatch answers okStatus when every input succeeded and 207
// Multi-Status with results and errors otherwise.
func writeBatch(w http.ResponseWriter, okStatus int, results any, errs []*Error, started, completed time.Time) {
	status := okStatus
	if len(errs) > 0 {
		status = http.StatusMultiStatus
	}
	writeJSON(w, status, batchResponse{
		Status: "COMPLETE", Results: results, NumErrors: len(errs), Errors: errs,
		StartedAt: started, CompletedAt: completed,
	})
}

type batchBody struct {
	Inputs     []objectInput `json:"inputs"`
	Properties []string      `json:"properties"`
	IDProperty string        `json:"idProperty"`
}

func (s *Server) handleBatch(w http.ResponseWriter, r *http.Request) {
	t := objectTypeOf(w, r)
	if t == nil {
		return
	}
	op := r.PathValue("op")
	switch op {
	case "read", "create", "update", "upsert", "archive":
	default:
		writeError(w, errNotFound("No route for batch/%s", op))
		return
	}
	var body batchBody
	if e := decodeBody(r, &body); e != nil {
		writeError(w, e)
		return
	}
	if e := checkBatchSize(len(body.Inputs)); e != nil {
		writeError(w, e)
		return
	}
	started := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if op == "update" || op == "upsert" {
		if e := s.checkBatchKeysLocked(t, body.Inputs); e != nil {
			writeError(w, e)
			return
		}
	}
	switch op {
	case "read":
		s.batchReadLocked(w, t, body, parseArchived(r.URL.Query()), started)
	case "create":
		results := []Object{}
		var errs []*Error
		for i, in := range body.Inputs {
			o, e := s.createInputLocked(t, in, SourceIntegration)
			if e != nil {
				be := batchError(e, "")
				if in.ObjectWriteTraceID != "" {
					be.Context["objectWriteTraceId"] = []string{in.ObjectWriteTraceID}
				}
				be.Context["inputIndex"] = []string{strconv.Itoa(i)}
				errs = append(errs, be)
				continue
			}
			results = append(results, o)
		}
		writeBatch(w, http.StatusCreated, results, errs, started, s.now())
	case "update":
		results := []Object{}
		var errs []*Error
		for _, in := range body.Inputs {
			o, e := s.batchUpdateOneLocked(t, in)
			if e != nil {
				errs = append(errs, batchError(e, in.ID))
				continue
			}
			results = append(results, o)
		}
		writeBatch(w, http.StatusOK, results, errs, started, s.now())
	case "upsert":
		results := []Object{}
		var errs []*Error
		for _, in := range body.Inputs {
			o, e := s.upsertOneLocked(t, in)
			if e != nil {
				errs = append(errs, batchError(e, in.ID))
				continue
			}
			results = append(results, o)
		}
		writeBatch(w, http.StatusOK, results, errs, started, s.now())
	case "archive":
		for _, in := range body.Inputs {
			if rec, e := s.findLocked(t, in.ID, "", false); e == nil {
				s.archiveLocked(rec, SourceIntegration)
			}
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) batchReadLocked(w http.ResponseWriter, t *objectType, body batchBody, archived bool, started time.Time) {
	want := body.Properties
	if len(want) == 0 {
		want = nil
	}
	if body.IDProperty != "" && body.IDProperty != propID {
		if _, ok := s.unique[t.name][body.IDProperty]; !ok {
			writeError(w, errValidation("Property %q is not a unique identifier property of %s; idProperty must have hasUniqueValue set", body.IDProperty, t.name))
			return
		}
	}
	results := []Object{}
	var missing []string
	for _, in := range body.Inputs {
		rec, e := s.findLocked(t, in.ID, body.IDProperty, archived)
		if e != nil {
			missing = append(missing, in.ID)
			continue
		}
		results = append(results, rec.object(want))
	}
	var errs []*Error
	if len(missing) > 0 {
		e := errNotFound("Could not get some %s objects, they may be deleted or not exist. Check that ids are valid.", t.singular)
		e.Context = map[string][]string{"ids": missing}
		e.HTTPStatus = 0
		errs = append(errs, e)
	}
	writeBatch(w, http.StatusOK, results, errs, started, s.now())
}

func (s *Server) batchUpdateOneLocked(t *objectType, in objectInput) (Object, *Error) {
	props, e := stringValues(in.Properties)
	if e != nil {
		return Object{}, e
	}
	rec, e := s.findLocked(t, in.ID, in.IDProperty, false)
	if e != nil {
		return Object{}, e
	}
	if e := s.updateLocked(rec, props, SourceIntegration); e != nil {
		return Object{}, e
	}
	return rec.object(allProperties(rec)), nil
}

// upsertOneLocked updates the object whose unique idProperty equals in.ID,
// or creates it with that value; Object.New tells which, as HubSpot's
// "Create or update a batch of objects by unique property values"
// (POST /crm/v3/objects/{objectType}/batch/upsert) documents: each result
// carries "new", true when the call created the record.
// https://developers.hubspot.com/docs/api-reference/latest/crm/objects/custom-objects/batch/upsert-custom-objects
func (s *Server) upsertOneLocked(t *objectType, in objectInput) (Object, *Error) {
	if in.IDProperty == "" || in.IDProperty == propID {
		return Object{}, errValidation("Upsert requires idProperty naming a unique property of %s", t.name)
	}
	idx, ok := s.unique[t.name][in.IDProperty]
	if !ok {
		return Object{}, errValidation("Property %q is not a unique identifier property of %s; idProperty must have hasUniqueValue set", in.IDProperty, t.name)
	}
	if in.ID == "" {
		return Object{}, errValidation("Upsert input is missing the id value for %s", in.IDProperty)
	}
	props, e := stringValues(in.Properties)
	if e != nil {
		return Object{}, e
	}
	if v, given := props[in.IDProperty]; given && v != in.ID {
		return Object{}, errValidation("Property %s = %q conflicts with the upsert id %q", in.IDProperty, v, in.ID)
	}
	isNew := false
	if id, found := idx[in.ID]; found {
		if e := s.updateLocked(s.records[t.name][id], props, SourceIntegration); e != nil {
			return Object{}, e
		}
		idx = s.unique[t.name][in.IDProperty]
	} else {
		props[in.IDProperty] = in.ID
		if _, e := s.createLocked(t, props, SourceIntegration); e != nil {
			return Object{}, e
		}
		isNew = true
	}
	rec := s.records[t.name][idx[in.ID]]
	o := rec.object(allProperties(rec))
	o.New = &isNew
	return o, nil
}

// checkBatchKeysLocked refuses a whole batch update or upsert, as HubSpot does,
// with a 400 VALIDATION_ERROR: when an input's idProperty is not a unique
// property (hs_object_id included), and when two inputs name the same record.
// Caller holds s.mu.
func (s *Server) checkBatchKeysLocked(t *objectType, inputs []objectInput) *Error {
	for _, in := range inputs {
		if in.IDProperty == "" {
			continue
		}
		if _, ok := s.unique[t.name][in.IDProperty]; !ok {
			return errValidation("Unable to perform update/upsert by non-unique %s property %s in portal ID %d", t.typeID, in.IDProperty, s.cfg.PortalID)
		}
	}
	seen := map[[2]string]bool{}
	var dups []string
	for _, in := range inputs {
		k := [2]string{in.IDProperty, in.ID}
		if seen[k] && !slices.Contains(dups, in.ID) {
			dups = append(dups, in.ID)
		}
		seen[k] = true
	}
	if len(dups) > 0 {
		e := errValidation("Duplicate IDs found in batch input: [%s]. IDs must be unique", strings.Join(dups, ", "))
		e.Context = map[string][]string{"ids": dups}
		return e
	}
	return nil
}

package hubspot

import (
	"net/http"
	"slices"
	"sort"
	"strconv"
)

// assocKey indexes the associations of one object to one object type.
type assocKey struct {
	from   string
	fromID int64
	to     string
}

// associationType is HubSpot's association spec.
type associationType struct {
	Category string `json:"associationCategory"`
	TypeID   int    `json:"associationTypeId"`
}

// assocDef is one HUBSPOT_DEFINED association type.
type assocDef struct {
	from, to  string
	typeID    int
	inverse   int
	label     string
	isDefault bool
}

// assocDefs lists the HUBSPOT_DEFINED association types the sandbox knows,
// with their documented ids. The first listed per (from, to) pair with
// isDefault set is what a "default" association creates.
var assocDefs = []assocDef{
	{Contacts, Companies, 279, 280, "", true},
	{Companies, Contacts, 280, 279, "", true},
	{Contacts, Companies, 1, 2, "Primary", false},
	{Companies, Contacts, 2, 1, "Primary", false},
	{Deals, Contacts, 3, 4, "", true},
	{Contacts, Deals, 4, 3, "", true},
	{Deals, Companies, 341, 342, "", true},
	{Companies, Deals, 342, 341, "", true},
	{Deals, Companies, 5, 6, "Primary", false},
	{Companies, Deals, 6, 5, "Primary", false},
	{Deals, LineItems, 19, 20, "", true},
	{LineItems, Deals, 20, 19, "", true},
}

func findAssocDef(from, to string, typeID int) *assocDef {
	for i := range assocDefs {
		d := &assocDefs[i]
		if d.from == from && d.to == to && (typeID == 0 && d.isDefault || d.typeID == typeID) {
			return d
		}
	}
	return nil
}

// linkLocked associates fromID with toID with the given type ids (the
// default type when empty), in both directions.
func (s *Server) linkLocked(from *objectType, fromID int64, to *objectType, toID int64, typeIDs []int) {
	if len(typeIDs) == 0 {
		typeIDs = []int{findAssocDef(from.name, to.name, 0).typeID}
	}
	add := func(k assocKey, id int64, t int) {
		m := s.assocs[k]
		if m == nil {
			m = map[int64][]int{}
			s.assocs[k] = m
		}
		if !slices.Contains(m[id], t) {
			m[id] = append(m[id], t)
			sort.Ints(m[id])
		}
	}
	for _, t := range typeIDs {
		d := findAssocDef(from.name, to.name, t)
		add(assocKey{from.name, fromID, to.name}, toID, t)
		add(assocKey{to.name, toID, from.name}, fromID, d.inverse)
	}
}

func (s *Server) unlinkLocked(from *objectType, fromID int64, to *objectType, toID int64) {
	delete(s.assocs[assocKey{from.name, fromID, to.name}], toID)
	delete(s.assocs[assocKey{to.name, toID, from.name}], fromID)
}

// checkLinkLocked verifies both ends exist and the association types are
// defined between the two object types.
func (s *Server) checkLinkLocked(from *objectType, fromID string, to *objectType, toID string, types []associationType) (int64, int64, []int, *Error) {
	f, e := s.findLocked(from, fromID, "", false)
	if e != nil {
		return 0, 0, nil, errNotFound("%s %s does not exist", from.singular, fromID)
	}
	t, e := s.findLocked(to, toID, "", false)
	if e != nil {
		return 0, 0, nil, errNotFound("%s %s does not exist", to.singular, toID)
	}
	if findAssocDef(from.name, to.name, 0) == nil {
		return 0, 0, nil, errValidation("No association is defined between %s and %s in this sandbox", from.name, to.name)
	}
	var ids []int
	for _, ty := range types {
		if findAssocDef(from.name, to.name, ty.TypeID) == nil || ty.TypeID == 0 {
			return 0, 0, nil, errValidation("associationTypeId %d is not valid from %s to %s", ty.TypeID, from.name, to.name)
		}
		ids = append(ids, ty.TypeID)
	}
	return f.id, t.id, ids, nil
}

type resolvedLink struct {
	to      *objectType
	toID    int64
	typeIDs []int
}

// resolveInlineLocked reads the associations of a v3 create input: the
// target type is implied by the association type id.
func (s *Server) resolveInlineLocked(from *objectType, in []inlineAssociation) ([]resolvedLink, *Error) {
	var out []resolvedLink
	for _, a := range in {
		if len(a.Types) == 0 {
			return nil, errValidation("association to %s has no types", a.To.ID)
		}
		var to *objectType
		var ids []int
		for _, ty := range a.Types {
			var d *assocDef
			for i := range assocDefs {
				if assocDefs[i].from == from.name && assocDefs[i].typeID == ty.TypeID {
					d = &assocDefs[i]
				}
			}
			if d == nil {
				return nil, errValidation("associationTypeId %d is not valid for %s", ty.TypeID, from.name)
			}
			to = lookupType(d.to)
			ids = append(ids, ty.TypeID)
		}
		rec, e := s.findLocked(to, a.To.ID, "", false)
		if e != nil {
			return nil, errValidation("Cannot associate to %s %s: it does not exist", to.singular, a.To.ID)
		}
		out = append(out, resolvedLink{to: to, toID: rec.id, typeIDs: ids})
	}
	return out, nil
}

func sortedIDs(m map[int64][]int) []int64 {
	ids := make([]int64, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

type assocTypeOut struct {
	Category string  `json:"category"`
	TypeID   int     `json:"typeId"`
	Label    *string `json:"label"`
}

type assocTarget struct {
	ToObjectID       int64          `json:"toObjectId"`
	AssociationTypes []assocTypeOut `json:"associationTypes"`
}

func (s *Server) targetsLocked(from *objectType, id int64, to *objectType) []assocTarget {
	links := s.assocs[assocKey{from.name, id, to.name}]
	out := []assocTarget{}
	for _, toID := range sortedIDs(links) {
		t := assocTarget{ToObjectID: toID}
		for _, ty := range links[toID] {
			d := findAssocDef(from.name, to.name, ty)
			var label *string
			if d != nil && d.label != "" {
				l := d.label
				label = &l
			}
			t.AssociationTypes = append(t.AssociationTypes, assocTypeOut{Category: "HUBSPOT_DEFINED", TypeID: ty, Label: label})
		}
		out = append(out, t)
	}
	return out
}

func assocTypes(w http.ResponseWriter, r *http.Request) (*objectType, *objectType, bool) {
	from, to := lookupType(r.PathValue("from")), lookupType(r.PathValue("to"))
	if from == nil || to == nil {
		writeError(w, errNotFound("Unable to infer object types from: %s, %s", r.PathValue("from"), r.PathValue("to")))
		return nil, nil, false
	}
	return from, to, true
}

func (s *Server) handleListAssociations(w http.ResponseWriter, r *http.Request) {
	from, to, ok := assocTypes(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	limit := 500
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			writeError(w, errValidation("limit must be an integer between 1 and 500, got %q", v))
			return
		}
		limit = n
	}
	offset, _ := strconv.Atoi(q.Get("after"))
	s.mu.Lock()
	rec, e := s.findLocked(from, r.PathValue("id"), "", false)
	var all []assocTarget
	if e == nil {
		all = s.targetsLocked(from, rec.id, to)
	}
	s.mu.Unlock()
	if e != nil {
		writeError(w, e)
		return
	}
	offset = min(max(offset, 0), len(all))
	end := min(offset+limit, len(all))
	body := map[string]any{"results": all[offset:end]}
	if end < len(all) {
		body["paging"] = map[string]any{"next": map[string]string{"after": strconv.Itoa(end)}}
	}
	writeJSON(w, http.StatusOK, body)
}

type idRef struct {
	ID string `json:"id"`
}

type assocResult struct {
	From            idRef           `json:"from"`
	To              idRef           `json:"to"`
	AssociationSpec associationType `json:"associationSpec"`
}

func (s *Server) handlePutDefaultAssociation(w http.ResponseWriter, r *http.Request) {
	from, to, ok := assocTypes(w, r)
	if !ok {
		return
	}
	started := s.now()
	s.mu.Lock()
	res, e := s.associateDefaultLocked(from, r.PathValue("id"), to, r.PathValue("toId"))
	s.mu.Unlock()
	if e != nil {
		writeError(w, e)
		return
	}
	writeBatch(w, http.StatusOK, []assocResult{res}, nil, started, s.now())
}

func (s *Server) associateDefaultLocked(from *objectType, fromID string, to *objectType, toID string) (assocResult, *Error) {
	f, t, _, e := s.checkLinkLocked(from, fromID, to, toID, nil)
	if e != nil {
		return assocResult{}, e
	}
	d := findAssocDef(from.name, to.name, 0)
	s.linkLocked(from, f, to, t, nil)
	return assocResult{From: idRef{fromID}, To: idRef{toID}, AssociationSpec: associationType{"HUBSPOT_DEFINED", d.typeID}}, nil
}

func (s *Server) handlePutLabelledAssociation(w http.ResponseWriter, r *http.Request) {
	from, to, ok := assocTypes(w, r)
	if !ok {
		return
	}
	var types []associationType
	if e := decodeBody(r, &types); e != nil {
		writeError(w, e)
		return
	}
	if len(types) == 0 {
		writeError(w, errValidation("at least one association type is required"))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, t, ids, e := s.checkLinkLocked(from, r.PathValue("id"), to, r.PathValue("toId"), types)
	if e != nil {
		writeError(w, e)
		return
	}
	s.linkLocked(from, f, to, t, ids)
	labels := []string{}
	for _, id := range ids {
		if d := findAssocDef(from.name, to.name, id); d.label != "" {
			labels = append(labels, d.label)
		}
	}
	// 201, as HubSpot answers and its official clients expect (anything else
	// makes their create call throw).
	writeJSON(w, http.StatusCreated, map[string]any{
		"fromObjectTypeId": from.typeID, "fromObjectId": f,
		"toObjectTypeId": to.typeID, "toObjectId": t, "labels": labels,
	})
}

func (s *Server) handleDeleteAssociation(w http.ResponseWriter, r *http.Request) {
	from, to, ok := assocTypes(w, r)
	if !ok {
		return
	}
	f, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	t, _ := strconv.ParseInt(r.PathValue("toId"), 10, 64)
	s.mu.Lock()
	s.unlinkLocked(from, f, to, t)
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleBatchAssociateDefault(w http.ResponseWriter, r *http.Request) {
	from, to, ok := assocTypes(w, r)
	if !ok {
		return
	}
	var body struct {
		Inputs []struct {
			From idRef `json:"from"`
			To   idRef `json:"to"`
		} `json:"inputs"`
	}
	if e := decodeBody(r, &body); e != nil {
		writeError(w, e)
		return
	}
	if e := checkBatchSize(len(body.Inputs)); e != nil {
		writeError(w, e)
		return
	}
	started := s.now()
	results := []assocResult{}
	var errs []*Error
	s.mu.Lock()
	for _, in := range body.Inputs {
		res, e := s.associateDefaultLocked(from, in.From.ID, to, in.To.ID)
		if e != nil {
			errs = append(errs, batchError(e, in.From.ID))
			continue
		}
		results = append(results, res)
	}
	s.mu.Unlock()
	writeBatch(w, http.StatusOK, results, errs, started, s.now())
}

func (s *Server) handleBatchAssociations(w http.ResponseWriter, r *http.Request) {
	from, to, ok := assocTypes(w, r)
	if !ok {
		return
	}
	op := r.PathValue("op")
	var body struct {
		Inputs []struct {
			ID    string            `json:"id"`
			From  idRef             `json:"from"`
			ToRaw any               `json:"to"`
			Types []associationType `json:"types"`
		} `json:"inputs"`
	}
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
	switch op {
	case "read":
		type readResult struct {
			From idRef         `json:"from"`
			To   []assocTarget `json:"to"`
		}
		results := []readResult{}
		var missing []string
		for _, in := range body.Inputs {
			rec, e := s.findLocked(from, in.ID, "", false)
			if e != nil {
				missing = append(missing, in.ID)
				continue
			}
			results = append(results, readResult{From: idRef{in.ID}, To: s.targetsLocked(from, rec.id, to)})
		}
		var errs []*Error
		if len(missing) > 0 {
			e := errNotFound("Could not find some %s objects, they may be deleted or not exist.", from.singular)
			e.Context = map[string][]string{"ids": missing}
			errs = append(errs, e)
		}
		writeBatch(w, http.StatusOK, results, errs, started, s.now())
	case "create":
		type createResult struct {
			FromObjectTypeID string   `json:"fromObjectTypeId"`
			FromObjectID     int64    `json:"fromObjectId"`
			ToObjectTypeID   string   `json:"toObjectTypeId"`
			ToObjectID       int64    `json:"toObjectId"`
			Labels           []string `json:"labels"`
		}
		results := []createResult{}
		var errs []*Error
		for _, in := range body.Inputs {
			toID := refID(in.ToRaw)
			f, t, ids, e := s.checkLinkLocked(from, in.From.ID, to, toID, in.Types)
			if e == nil && len(ids) == 0 {
				e = errValidation("at least one association type is required")
			}
			if e != nil {
				errs = append(errs, batchError(e, in.From.ID))
				continue
			}
			s.linkLocked(from, f, to, t, ids)
			res := createResult{FromObjectTypeID: from.typeID, FromObjectID: f, ToObjectTypeID: to.typeID, ToObjectID: t, Labels: []string{}}
			for _, id := range ids {
				if d := findAssocDef(from.name, to.name, id); d.label != "" {
					res.Labels = append(res.Labels, d.label)
				}
			}
			results = append(results, res)
		}
		writeBatch(w, http.StatusCreated, results, errs, started, s.now())
	case "archive":
		for _, in := range body.Inputs {
			f, _ := strconv.ParseInt(in.From.ID, 10, 64)
			for _, id := range refIDs(in.ToRaw) {
				t, _ := strconv.ParseInt(id, 10, 64)
				s.unlinkLocked(from, f, to, t)
			}
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		writeError(w, errNotFound("No route for batch/%s", op))
	}
}

// refID reads {"id": "..."} from a decoded JSON value.
func refID(v any) string {
	m, _ := v.(map[string]any)
	switch id := m["id"].(type) {
	case string:
		return id
	case interface{ String() string }:
		return id.String()
	}
	return ""
}

// refIDs reads [{"id": "..."}] (or a single {"id": ...}).
func refIDs(v any) []string {
	if list, ok := v.([]any); ok {
		out := make([]string, 0, len(list))
		for _, x := range list {
			out = append(out, refID(x))
		}
		return out
	}
	return []string{refID(v)}
}

// Associate creates the default association between two objects, in both
// directions, as the API's PUT .../associations/default/... does.
func (s *Server) Associate(fromType, fromID, toType, toID string) error {
	from, to := lookupType(fromType), lookupType(toType)
	if from == nil || to == nil {
		return errNotFound("Unable to infer object types from: %s, %s", fromType, toType)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, e := s.associateDefaultLocked(from, fromID, to, toID); e != nil {
		return e
	}
	return nil
}

// Associations returns the ids of the toType objects associated with the
// given object, in id order.
func (s *Server) Associations(fromType, fromID, toType string) []string {
	from, to := lookupType(fromType), lookupType(toType)
	if from == nil || to == nil {
		return nil
	}
	id, _ := strconv.ParseInt(fromID, 10, 64)
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []string{}
	for _, t := range sortedIDs(s.assocs[assocKey{from.name, id, to.name}]) {
		out = append(out, strconv.FormatInt(t, 10))
	}
	return out
}

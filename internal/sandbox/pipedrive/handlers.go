package pipedrive

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MaxLimit is the most items one page of a v2 list returns.
const MaxLimit = 500

// pageCursor is the keyset position a next_cursor encodes.
type pageCursor struct {
	Key int64 `json:"k"`
	ID  int   `json:"i"`
}

func encodeCursor(c pageCursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (pageCursor, bool) {
	var c pageCursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	return c, err == nil && json.Unmarshal(b, &c) == nil
}

func parseLimit(q string) (int, *apiError) {
	if q == "" {
		return 100, nil
	}
	n, err := strconv.Atoi(q)
	if err != nil || n < 1 || n > MaxLimit {
		return 0, badRequest(fmt.Sprintf("Parameter 'limit' must be an integer between 1 and %d", MaxLimit))
	}
	return n, nil
}

func parseTimeParam(name, v string) (time.Time, *apiError) {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, badRequest(fmt.Sprintf("Parameter '%s' must be an RFC 3339 date-time", name))
	}
	return t, nil
}

// list serves GET /api/v2/{kind}: cursor pagination, update_time filters,
// sorting by id, update_time or add_time, ids, and the filters by status,
// org_id and person_id.
func (s *Server) list(kindName string) http.HandlerFunc {
	k := kinds[kindName]
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		limit, aerr := parseLimit(q.Get("limit"))
		if aerr != nil {
			writeError(w, aerr)
			return
		}
		var since, until time.Time
		if v := q.Get("updated_since"); v != "" {
			if since, aerr = parseTimeParam("updated_since", v); aerr != nil {
				writeError(w, aerr)
				return
			}
		}
		if v := q.Get("updated_until"); v != "" {
			if until, aerr = parseTimeParam("updated_until", v); aerr != nil {
				writeError(w, aerr)
				return
			}
		}
		sortBy := cmp.Or(q.Get("sort_by"), "id")
		if !slices.Contains([]string{"id", "update_time", "add_time"}, sortBy) {
			writeError(w, badRequest("Parameter 'sort_by' must be one of: id, update_time, add_time"))
			return
		}
		desc := false
		switch q.Get("sort_direction") {
		case "", "asc":
		case "desc":
			desc = true
		default:
			writeError(w, badRequest("Parameter 'sort_direction' must be one of: asc, desc"))
			return
		}
		var ids map[int]bool
		if v := q.Get("ids"); v != "" {
			ids = map[int]bool{}
			for _, p := range strings.Split(v, ",") {
				id, err := strconv.Atoi(strings.TrimSpace(p))
				if err != nil {
					writeError(w, badRequest("Parameter 'ids' must be a comma-separated list of integers"))
					return
				}
				ids[id] = true
			}
			if len(ids) > 100 {
				writeError(w, badRequest("Parameter 'ids' accepts at most 100 ids"))
				return
			}
		}
		statuses := map[string]bool{"open": true, "won": true, "lost": true}
		if v := q.Get("status"); v != "" && kindName == Deals {
			statuses = map[string]bool{}
			for _, p := range strings.Split(v, ",") {
				statuses[p] = true
			}
		}
		refFilter := map[string]string{}
		for _, f := range []string{"org_id", "person_id"} {
			if v := q.Get(f); v != "" {
				refFilter[f] = v
			}
		}
		var after *pageCursor
		if v := q.Get("cursor"); v != "" {
			c, okc := decodeCursor(v)
			if !okc {
				writeError(w, badRequest("Parameter 'cursor' is not valid"))
				return
			}
			after = &c
		}
		key := func(rec *record) int64 {
			switch sortBy {
			case "update_time":
				return rec.upd.Unix()
			case "add_time":
				return rec.add.Unix()
			}
			return int64(rec.id)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		var recs []*record
		for _, rec := range s.st.objects[kindName] {
			switch {
			case ids != nil && !ids[rec.id]:
				continue
			case !since.IsZero() && rec.upd.Before(since.Truncate(time.Second)):
				continue
			case !until.IsZero() && !rec.upd.Before(until):
				continue
			}
			if kindName == Deals {
				st, _ := rec.std["status"].(string)
				if rec.deleted {
					st = "deleted"
				}
				if !statuses[st] {
					continue
				}
			} else if rec.deleted {
				continue
			}
			skip := false
			for f, v := range refFilter {
				n, _ := rec.std[f].(json.Number)
				if n.String() != v {
					skip = true
				}
			}
			if !skip {
				recs = append(recs, rec)
			}
		}
		slices.SortFunc(recs, func(a, b *record) int {
			c := cmp.Or(cmp.Compare(key(a), key(b)), cmp.Compare(a.id, b.id))
			if desc {
				return -c
			}
			return c
		})
		if after != nil {
			i := slices.IndexFunc(recs, func(rec *record) bool {
				c := cmp.Or(cmp.Compare(key(rec), after.Key), cmp.Compare(rec.id, after.ID))
				if desc {
					return c < 0
				}
				return c > 0
			})
			if i < 0 {
				i = len(recs)
			}
			recs = recs[i:]
		}
		var next any
		if len(recs) > limit {
			last := recs[limit-1]
			next = encodeCursor(pageCursor{Key: key(last), ID: last.id})
			recs = recs[:limit]
		}
		data := make([]map[string]any, 0, len(recs))
		for _, rec := range recs {
			data = append(data, s.st.render(k, rec))
		}
		ok(w, http.StatusOK, data, map[string]any{"next_cursor": next})
	}
}

func (s *Server) get(kindName string) http.HandlerFunc {
	k := kinds[kindName]
	return func(w http.ResponseWriter, r *http.Request) {
		id, aerr := pathID(r, "id")
		if aerr != nil {
			writeError(w, aerr)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		rec := s.st.objects[kindName][id]
		if rec == nil {
			writeError(w, notFound(titleCase(k.singular)))
			return
		}
		ok(w, http.StatusOK, s.st.render(k, rec), nil)
	}
}

func (s *Server) create(kindName string) http.HandlerFunc {
	k := kinds[kindName]
	return func(w http.ResponseWriter, r *http.Request) {
		body, aerr := decodeBody(r)
		if aerr != nil {
			writeError(w, aerr)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		rec, aerr := s.st.apply(k, nil, body, s.now())
		if aerr != nil {
			writeError(w, aerr)
			return
		}
		s.st.objects[kindName][rec.id] = rec
		out := s.st.render(k, rec)
		s.hooks.emitLocked("create", k.singular, rec.id, out, nil)
		ok(w, http.StatusOK, out, nil)
	}
}

func (s *Server) update(kindName string) http.HandlerFunc {
	k := kinds[kindName]
	return func(w http.ResponseWriter, r *http.Request) {
		id, aerr := pathID(r, "id")
		if aerr != nil {
			writeError(w, aerr)
			return
		}
		body, aerr := decodeBody(r)
		if aerr != nil {
			writeError(w, aerr)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		old := s.st.objects[kindName][id]
		if old == nil || old.deleted {
			writeError(w, notFound(titleCase(k.singular)))
			return
		}
		rec, aerr := s.st.apply(k, old, body, s.now())
		if aerr != nil {
			writeError(w, aerr)
			return
		}
		prev := s.st.render(k, old)
		s.st.objects[kindName][id] = rec
		out := s.st.render(k, rec)
		s.hooks.emitLocked("change", k.singular, rec.id, out, prev)
		ok(w, http.StatusOK, out, nil)
	}
}

// remove marks the record deleted, as Pipedrive does (it is purged after 30
// days): lists leave it out, GET by id still shows it with is_deleted.
func (s *Server) remove(kindName string) http.HandlerFunc {
	k := kinds[kindName]
	return func(w http.ResponseWriter, r *http.Request) {
		id, aerr := pathID(r, "id")
		if aerr != nil {
			writeError(w, aerr)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		rec := s.st.objects[kindName][id]
		if rec == nil || rec.deleted {
			writeError(w, notFound(titleCase(k.singular)))
			return
		}
		prev := s.st.render(k, rec)
		del := *rec
		del.deleted, del.upd = true, s.now()
		s.st.objects[kindName][id] = &del
		s.hooks.emitLocked("delete", k.singular, id, nil, prev)
		ok(w, http.StatusOK, map[string]any{"id": id}, nil)
	}
}

// search serves GET /api/v2/{kind}/search: term (at least 2 characters, or
// 1 with exact_match), fields (the standard searchable fields and
// custom_fields), exact_match, cursor paging.
func (s *Server) search(kindName string) http.HandlerFunc {
	k := kinds[kindName]
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		term := q.Get("term")
		exact := q.Get("exact_match") == "true"
		if n := len([]rune(term)); n < 2 && !(exact && n == 1) {
			writeError(w, badRequest("Parameter 'term' must be at least 2 characters long (1 with exact_match)"))
			return
		}
		limit, aerr := parseLimit(q.Get("limit"))
		if aerr != nil {
			writeError(w, aerr)
			return
		}
		fields := k.search
		searchCustom := true
		if v := q.Get("fields"); v != "" {
			fields, searchCustom = nil, false
			for _, f := range strings.Split(v, ",") {
				switch {
				case f == "custom_fields":
					searchCustom = true
				case slices.Contains(k.search, f):
					fields = append(fields, f)
				default:
					writeError(w, badRequest(fmt.Sprintf("Parameter 'fields' cannot include '%s'", f)))
					return
				}
			}
		}
		start := 0
		if v := q.Get("cursor"); v != "" {
			c, okc := decodeCursor(v)
			if !okc {
				writeError(w, badRequest("Parameter 'cursor' is not valid"))
				return
			}
			start = c.ID
		}
		match := func(v any) bool {
			for _, t := range searchText(v) {
				if exact && fold(t) == fold(term) || !exact && strings.Contains(fold(t), fold(term)) {
					return true
				}
			}
			return false
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		var hits []*record
		for _, rec := range s.st.objects[kindName] {
			if rec.deleted {
				continue
			}
			found := false
			for _, f := range fields {
				found = found || match(rec.std[f])
			}
			if searchCustom {
				for _, cf := range s.st.fields[kindName] {
					found = found || searchable(cf.FieldType) && match(rec.custom[cf.Key])
				}
			}
			if found {
				hits = append(hits, rec)
			}
		}
		slices.SortFunc(hits, func(a, b *record) int { return cmp.Compare(a.id, b.id) })
		i := slices.IndexFunc(hits, func(rec *record) bool { return rec.id > start })
		if i < 0 {
			i = len(hits)
		}
		hits = hits[i:]
		var next any
		if len(hits) > limit {
			next = encodeCursor(pageCursor{ID: hits[limit-1].id})
			hits = hits[:limit]
		}
		items := make([]map[string]any, 0, len(hits))
		for _, rec := range hits {
			item := map[string]any{"id": rec.id, "type": k.singular, k.nameKey: rec.std[k.nameKey]}
			var custom []any
			for _, cf := range s.st.fields[kindName] {
				if v := rec.custom[cf.Key]; v != nil && searchable(cf.FieldType) {
					custom = append(custom, v)
				}
			}
			item["custom_fields"] = custom
			items = append(items, map[string]any{"result_score": 1.0, "item": item})
		}
		ok(w, http.StatusOK, map[string]any{"items": items}, map[string]any{"next_cursor": next})
	}
}

func titleCase(s string) string {
	s = strings.ReplaceAll(s, "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// listFields serves GET /api/v1/{singular}Fields: the standard fields
// (edit_flag false) and the custom fields with their hash keys.
func (s *Server) listFields(kindName string) http.HandlerFunc {
	k := kinds[kindName]
	return func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		var data []CustomField
		std := make([]string, 0, len(k.fields))
		for f := range k.fields {
			std = append(std, f)
		}
		slices.Sort(std)
		for i, f := range std {
			data = append(data, CustomField{ID: i + 1, Key: f, Name: f, FieldType: "varchar"})
		}
		for _, f := range s.st.fields[kindName] {
			data = append(data, *f)
		}
		ok(w, http.StatusOK, data, map[string]any{"pagination": map[string]any{"start": 0, "limit": len(data), "more_items_in_collection": false}})
	}
}

// addField serves POST /api/v1/{singular}Fields: {name, field_type, options}.
func (s *Server) addField(kindName string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Name      string `json:"name"`
			FieldType string `json:"field_type"`
			Options   []struct {
				Label string `json:"label"`
			} `json:"options"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			writeError(w, badRequest("the request body must be a JSON object"))
			return
		}
		f := CustomField{Name: body.Name, FieldType: body.FieldType}
		for _, o := range body.Options {
			f.Options = append(f.Options, Option{Label: o.Label})
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		nf, aerr := s.st.defineField(kindName, f)
		if aerr != nil {
			writeError(w, aerr)
			return
		}
		ok(w, http.StatusCreated, nf, nil)
	}
}

// DefineField adds a custom field to kind (Organizations, Persons, Deals,
// Products) and returns it with its hash key.
func (s *Server) DefineField(kindName string, f CustomField) (CustomField, error) {
	if kinds[kindName] == nil || kindName == dealProducts {
		return CustomField{}, fmt.Errorf("unknown object kind %q", kindName)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	nf, aerr := s.st.defineField(kindName, f)
	if aerr != nil {
		return CustomField{}, aerr
	}
	return *nf, nil
}

// Objects returns the live (not deleted) objects of kind as the API shows
// them, by id, for tests and the demo.
func (s *Server) Objects(kindName string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := kinds[kindName]
	var out []map[string]any
	ids := make([]int, 0, len(s.st.objects[kindName]))
	for id, r := range s.st.objects[kindName] {
		if !r.deleted {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		out = append(out, s.st.render(k, s.st.objects[kindName][id]))
	}
	return out
}

// Patch changes an object as PATCH /api/v2/{kind}/{id} would, as a user of
// the CRM would, webhooks included. body's numbers may be Go numbers.
func (s *Server) Patch(kindName string, id int, body map[string]any) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	var b map[string]any
	if err := dec.Decode(&b); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := kinds[kindName]
	old := s.st.objects[kindName][id]
	if k == nil || old == nil || old.deleted {
		return fmt.Errorf("%s %d not found", kindName, id)
	}
	rec, aerr := s.st.apply(k, old, b, s.now())
	if aerr != nil {
		return aerr
	}
	prev := s.st.render(k, old)
	s.st.objects[kindName][id] = rec
	s.hooks.emitLocked("change", k.singular, id, s.st.render(k, rec), prev)
	return nil
}

func (s *Server) listStages(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ok(w, http.StatusOK, s.st.stages, map[string]any{"next_cursor": nil})
}

func (s *Server) me(w http.ResponseWriter, _ *http.Request) {
	ok(w, http.StatusOK, map[string]any{"id": 1, "name": "Sandbox Admin", "company_id": 1, "company_domain": "sandbox",
		"default_currency": "USD", "is_admin": 1}, nil)
}

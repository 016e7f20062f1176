package hubspot

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
)

// Search limits, as HubSpot documents them.
const (
	searchMaxResults   = 10000 // total results reachable by paging one query
	searchMaxLimit     = 200   // results per page
	searchMaxGroups    = 5
	searchMaxPerGroup  = 10
	searchMaxFilters   = 25
	searchDefaultLimit = 10
)

type searchFilter struct {
	PropertyName string `json:"propertyName"`
	Operator     string `json:"operator"`
	Value        any    `json:"value"`
	HighValue    any    `json:"highValue"`
	Values       []any  `json:"values"`
}

type searchRequest struct {
	FilterGroups []struct {
		Filters []searchFilter `json:"filters"`
	} `json:"filterGroups"`
	Sorts      []json.RawMessage `json:"sorts"`
	Query      string            `json:"query"`
	Properties []string          `json:"properties"`
	Limit      *json.Number      `json:"limit"`
	After      json.Number       `json:"after"`
}

type searchSort struct {
	PropertyName string `json:"propertyName"`
	Direction    string `json:"direction"`
}

func scalar(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}

// compareValues orders two non-empty values of property p: numerically,
// chronologically or case-insensitively. ok is false if either does not
// parse as the property type.
func compareValues(p *Property, a, b string) (int, bool) {
	switch p.Type {
	case "number":
		x, err1 := decimal.NewFromString(a)
		y, err2 := decimal.NewFromString(b)
		if err1 != nil || err2 != nil {
			return 0, false
		}
		return x.Cmp(y), true
	case "date", "datetime":
		x, ok1 := parseTimeValue(a)
		y, ok2 := parseTimeValue(b)
		if !ok1 || !ok2 {
			return 0, false
		}
		return x.Compare(y), true
	}
	return strings.Compare(strings.ToLower(a), strings.ToLower(b)), true
}

func containsToken(value, token string) bool {
	value, token = strings.ToLower(value), strings.ToLower(token)
	if strings.ContainsAny(token, "*?") {
		ok, _ := path.Match(token, value)
		return ok
	}
	for _, f := range strings.Fields(value) {
		if f == token {
			return true
		}
	}
	return value == token
}

// matchFilter evaluates one filter against a property map.
func matchFilter(p *Property, f searchFilter, props map[string]string) bool {
	v, has := props[f.PropertyName]
	has = has && v != ""
	eq := func(want string) bool {
		c, ok := compareValues(p, v, want)
		return has && ok && c == 0
	}
	cmp := func(want string, test func(int) bool) bool {
		c, ok := compareValues(p, v, want)
		return has && ok && test(c)
	}
	in := func() bool {
		for _, x := range f.Values {
			if eq(scalar(x)) {
				return true
			}
		}
		return false
	}
	want := scalar(f.Value)
	switch f.Operator {
	case "EQ":
		return eq(want)
	case "NEQ":
		return !eq(want)
	case "LT":
		return cmp(want, func(c int) bool { return c < 0 })
	case "LTE":
		return cmp(want, func(c int) bool { return c <= 0 })
	case "GT":
		return cmp(want, func(c int) bool { return c > 0 })
	case "GTE":
		return cmp(want, func(c int) bool { return c >= 0 })
	case "BETWEEN":
		return cmp(want, func(c int) bool { return c >= 0 }) && cmp(scalar(f.HighValue), func(c int) bool { return c <= 0 })
	case "IN":
		return in()
	case "NOT_IN":
		return !in()
	case "HAS_PROPERTY":
		return has
	case "NOT_HAS_PROPERTY":
		return !has
	case "CONTAINS_TOKEN":
		return has && containsToken(v, want)
	case "NOT_CONTAINS_TOKEN":
		return !has || !containsToken(v, want)
	}
	return false
}

var searchOperators = map[string]bool{
	"EQ": true, "NEQ": true, "LT": true, "LTE": true, "GT": true, "GTE": true, "BETWEEN": true,
	"IN": true, "NOT_IN": true, "HAS_PROPERTY": true, "NOT_HAS_PROPERTY": true,
	"CONTAINS_TOKEN": true, "NOT_CONTAINS_TOKEN": true,
}

// handleSearch serves POST /crm/v3/objects/{type}/search over the search
// index: a record is found, with the values it had then, only SearchDelay
// after a change.
func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request) {
	t := objectTypeOf(w, r)
	if t == nil {
		return
	}
	var req searchRequest
	if e := decodeBody(r, &req); e != nil {
		writeError(w, e)
		return
	}
	limit := searchDefaultLimit
	if req.Limit != nil {
		n, err := strconv.Atoi(req.Limit.String())
		if err != nil || n < 0 || n > searchMaxLimit {
			writeError(w, errValidation("limit must be an integer between 0 and %d, got %s", searchMaxLimit, req.Limit.String()))
			return
		}
		limit = n
	}
	offset := 0
	if req.After != "" {
		n, err := strconv.Atoi(req.After.String())
		if err != nil || n < 0 {
			writeError(w, errValidation("after must be a paging cursor returned by a previous page, got %q", req.After.String()))
			return
		}
		offset = n
	}
	if offset >= searchMaxResults {
		e := errValidation("The search API returns at most %d results for a query; after=%d is beyond that limit. Narrow the query, for example with a range filter on hs_object_id or %s.", searchMaxResults, offset, propModified)
		e.SubCategory = "SEARCH_RESULTS_LIMIT_EXCEEDED"
		writeError(w, e)
		return
	}
	total := 0
	if len(req.FilterGroups) > searchMaxGroups {
		writeError(w, errValidation("Too many filterGroups: %d (maximum %d)", len(req.FilterGroups), searchMaxGroups))
		return
	}
	var sorts []searchSort
	for _, raw := range req.Sorts {
		var ss searchSort
		var str string
		if err := json.Unmarshal(raw, &str); err == nil {
			ss.PropertyName, ss.Direction = strings.TrimPrefix(str, "-"), "ASCENDING"
			if strings.HasPrefix(str, "-") {
				ss.Direction = "DESCENDING"
			}
		} else if err := json.Unmarshal(raw, &ss); err != nil {
			writeError(w, errValidation("Invalid sort: %s", raw))
			return
		}
		sorts = append(sorts, ss)
	}

	s.mu.Lock()
	defs := s.defs[t.name]
	for _, g := range req.FilterGroups {
		if len(g.Filters) > searchMaxPerGroup {
			s.mu.Unlock()
			writeError(w, errValidation("Too many filters in a filterGroup: %d (maximum %d)", len(g.Filters), searchMaxPerGroup))
			return
		}
		total += len(g.Filters)
		for _, f := range g.Filters {
			if _, ok := defs[f.PropertyName]; !ok {
				s.mu.Unlock()
				writeError(w, errValidation("Unknown property %q in filter: it does not exist for %s", f.PropertyName, t.name))
				return
			}
			if !searchOperators[f.Operator] {
				s.mu.Unlock()
				writeError(w, errValidation("Unknown filter operator %q", f.Operator))
				return
			}
		}
	}
	if total > searchMaxFilters {
		s.mu.Unlock()
		writeError(w, errValidation("Too many filters: %d (maximum %d)", total, searchMaxFilters))
		return
	}
	for _, ss := range sorts {
		if _, ok := defs[ss.PropertyName]; !ok {
			s.mu.Unlock()
			writeError(w, errValidation("Unknown property %q in sorts", ss.PropertyName))
			return
		}
	}

	type hit struct {
		rec *record
		v   version
	}
	now := s.cfg.Now()
	var hits []hit
	for _, rec := range s.sortedLocked(t) {
		v, ok := rec.searchVersion(now, s.cfg.SearchDelay)
		if !ok || v.archived {
			continue
		}
		if req.Query != "" && !matchQuery(v.props, req.Query) {
			continue
		}
		matched := len(req.FilterGroups) == 0
		for _, g := range req.FilterGroups {
			all := true
			for _, f := range g.Filters {
				if !matchFilter(defs[f.PropertyName], f, v.props) {
					all = false
					break
				}
			}
			if all {
				matched = true
				break
			}
		}
		if matched {
			hits = append(hits, hit{rec, v})
		}
	}
	if len(sorts) > 0 {
		sort.SliceStable(hits, func(i, j int) bool {
			for _, ss := range sorts {
				p := defs[ss.PropertyName]
				a, b := hits[i].v.props[ss.PropertyName], hits[j].v.props[ss.PropertyName]
				if a == b {
					continue
				}
				var c int
				switch {
				case a == "":
					c = 1 // unset values sort last
				case b == "":
					c = -1
				default:
					c, _ = compareValues(p, a, b)
				}
				if c == 0 {
					continue
				}
				if ss.Direction == "DESCENDING" && a != "" && b != "" {
					c = -c
				}
				return c < 0
			}
			return false
		})
	}
	want := req.Properties
	if len(want) == 0 {
		want = nil
	}
	end := min(offset+limit, len(hits), searchMaxResults)
	results := []Object{}
	for i := offset; i < end; i++ {
		h := hits[i]
		results = append(results, view(h.rec, h.v.props, h.v.updatedAt, false, want))
	}
	s.mu.Unlock()

	body := map[string]any{"total": len(hits), "results": results}
	if end < len(hits) && end < searchMaxResults {
		body["paging"] = map[string]any{"next": map[string]string{"after": strconv.Itoa(end)}}
	}
	writeJSON(w, http.StatusOK, body)
}

func matchQuery(props map[string]string, q string) bool {
	q = strings.ToLower(q)
	for _, v := range props {
		if strings.Contains(strings.ToLower(v), q) {
			return true
		}
	}
	return false
}

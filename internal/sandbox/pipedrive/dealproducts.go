package pipedrive

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// liveDeal returns the deal of path parameter id, or an error to write.
func (s *Server) liveDeal(r *http.Request) (*record, *apiError) {
	id, aerr := pathID(r, "id")
	if aerr != nil {
		return nil, aerr
	}
	d := s.st.objects[Deals][id]
	if d == nil || d.deleted {
		return nil, notFound("Deal")
	}
	return d, nil
}

func (s *Server) productsOf(dealID int) []*record {
	var out []*record
	for _, p := range s.st.objects[dealProducts] {
		if p.dealID == dealID && !p.deleted {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b *record) int { return cmp.Compare(a.id, b.id) })
	return out
}

// touchDeal moves the deal's update_time: a change of its products is a
// change of the deal.
func (s *Server) touchDeal(d *record) {
	nd := *d
	nd.upd = s.now()
	s.st.objects[Deals][d.id] = &nd
}

// dealProducts serves GET /api/v2/deals/{id}/products.
func (s *Server) dealProducts(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, aerr := s.liveDeal(r)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	data := []map[string]any{}
	for _, p := range s.productsOf(d.id) {
		data = append(data, s.st.render(kinds[dealProducts], p))
	}
	ok(w, http.StatusOK, data, map[string]any{"next_cursor": nil})
}

// productsOfDeals serves GET /api/v2/deals/products?deal_ids=1,2 (at most
// 100 deals), sorted by deal and id, paged by cursor.
func (s *Server) productsOfDeals(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var ids []int
	for _, p := range strings.Split(q.Get("deal_ids"), ",") {
		if p == "" {
			continue
		}
		id, err := strconv.Atoi(p)
		if err != nil {
			writeError(w, badRequest("Parameter 'deal_ids' must be a comma-separated list of integers"))
			return
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 || len(ids) > 100 {
		writeError(w, badRequest("Parameter 'deal_ids' needs between 1 and 100 ids"))
		return
	}
	limit, aerr := parseLimit(q.Get("limit"))
	if aerr != nil {
		writeError(w, aerr)
		return
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
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []*record
	for _, p := range s.st.objects[dealProducts] {
		if !p.deleted && slices.Contains(ids, p.dealID) && p.id > start {
			all = append(all, p)
		}
	}
	slices.SortFunc(all, func(a, b *record) int { return cmp.Compare(a.id, b.id) })
	var next any
	if len(all) > limit {
		next = encodeCursor(pageCursor{ID: all[limit-1].id})
		all = all[:limit]
	}
	data := make([]map[string]any, 0, len(all))
	for _, p := range all {
		data = append(data, s.st.render(kinds[dealProducts], p))
	}
	ok(w, http.StatusOK, data, map[string]any{"next_cursor": next})
}

// addDealProduct serves POST /api/v2/deals/{id}/products.
func (s *Server) addDealProduct(w http.ResponseWriter, r *http.Request) {
	body, aerr := decodeBody(r)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, aerr := s.liveDeal(r)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	p, aerr := s.st.apply(kinds[dealProducts], nil, body, s.now())
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	p.dealID = d.id
	s.st.objects[dealProducts][p.id] = p
	s.touchDeal(d)
	out := s.st.render(kinds[dealProducts], p)
	s.hooks.emitLocked("create", "deal_product", p.id, out, nil)
	ok(w, http.StatusCreated, out, nil)
}

func (s *Server) dealProduct(r *http.Request) (*record, *record, *apiError) {
	d, aerr := s.liveDeal(r)
	if aerr != nil {
		return nil, nil, aerr
	}
	pid, aerr := pathID(r, "pid")
	if aerr != nil {
		return nil, nil, aerr
	}
	p := s.st.objects[dealProducts][pid]
	if p == nil || p.deleted || p.dealID != d.id {
		return nil, nil, notFound(fmt.Sprintf("Product attachment %d of deal %d", pid, d.id))
	}
	return d, p, nil
}

// updateDealProduct serves PATCH /api/v2/deals/{id}/products/{pid}.
func (s *Server) updateDealProduct(w http.ResponseWriter, r *http.Request) {
	body, aerr := decodeBody(r)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, p, aerr := s.dealProduct(r)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	np, aerr := s.st.apply(kinds[dealProducts], p, body, s.now())
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	prev := s.st.render(kinds[dealProducts], p)
	s.st.objects[dealProducts][np.id] = np
	s.touchDeal(d)
	out := s.st.render(kinds[dealProducts], np)
	s.hooks.emitLocked("change", "deal_product", np.id, out, prev)
	ok(w, http.StatusOK, out, nil)
}

// removeDealProduct serves DELETE /api/v2/deals/{id}/products/{pid}.
func (s *Server) removeDealProduct(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, p, aerr := s.dealProduct(r)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	prev := s.st.render(kinds[dealProducts], p)
	delete(s.st.objects[dealProducts], p.id)
	s.touchDeal(d)
	s.hooks.emitLocked("delete", "deal_product", p.id, nil, prev)
	ok(w, http.StatusOK, map[string]any{"id": p.id}, nil)
}

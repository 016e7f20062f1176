package console

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
)

// apiRoute is one endpoint of the JSON API; openapi.json describes each
// (TestOpenAPI_MatchesRoutes).
type apiRoute struct {
	method, path string
	change       bool
	handle       apiFunc
}

type apiFunc func(r *http.Request, u *User) (any, error)

func (c *Console) apiRoutes() []apiRoute {
	return []apiRoute{
		{"GET", "/api/v1/me", false, func(_ *http.Request, u *User) (any, error) { return u, nil }},
		{"GET", "/api/v1/overview", false, func(r *http.Request, _ *User) (any, error) { return c.overview(r.Context()) }},
		{"GET", "/api/v1/events", false, func(r *http.Request, _ *User) (any, error) {
			f, err := eventFilter(r.URL.Query())
			if err != nil {
				return nil, err
			}
			return c.events(r.Context(), f)
		}},
		{"GET", "/api/v1/events/{id}", false, func(r *http.Request, _ *User) (any, error) {
			id, err := pathID(r)
			if err != nil {
				return nil, err
			}
			return c.event(r.Context(), id)
		}},
		{"POST", "/api/v1/events/{id}/replay", true, func(r *http.Request, u *User) (any, error) {
			id, err := pathID(r)
			if err != nil {
				return nil, err
			}
			src, err := c.replay(r, u, id)
			return map[string]any{"queued": true, "event": id, "source_id": src}, err
		}},
		{"GET", "/api/v1/dead-letters", false, func(r *http.Request, _ *User) (any, error) {
			return c.deadLetters(r.Context(), r.URL.Query().Get("flow"))
		}},
		{"GET", "/api/v1/dead-letters/{id}", false, func(r *http.Request, _ *User) (any, error) {
			id, err := pathID(r)
			if err != nil {
				return nil, err
			}
			v, _, err := c.deadLetter(r.Context(), id)
			return v, err
		}},
		{"POST", "/api/v1/dead-letters/{id}/retry", true, func(r *http.Request, u *User) (any, error) {
			id, err := pathID(r)
			if err != nil {
				return nil, err
			}
			var body struct {
				Set map[string]string `json:"set"`
			}
			if err := readJSON(r, &body); err != nil {
				return nil, err
			}
			return map[string]any{"retried": id}, c.retryLetter(r, u, id, body.Set)
		}},
		{"POST", "/api/v1/dead-letters/{id}/dismiss", true, func(r *http.Request, u *User) (any, error) {
			id, err := pathID(r)
			if err != nil {
				return nil, err
			}
			var body struct {
				Note string `json:"note"`
			}
			if err := readJSON(r, &body); err != nil {
				return nil, err
			}
			return map[string]any{"dismissed": id}, c.dismissLetter(r, u, id, body.Note)
		}},
		{"GET", "/api/v1/quarantine", false, func(r *http.Request, _ *User) (any, error) {
			return c.quarantine(r.Context(), r.URL.Query().Get("flow"))
		}},
		{"POST", "/api/v1/quarantine/{id}/release", true, func(r *http.Request, u *User) (any, error) {
			id, err := pathID(r)
			if err != nil {
				return nil, err
			}
			var body struct {
				Set map[string]string `json:"set"`
			}
			if err := readJSON(r, &body); err != nil {
				return nil, err
			}
			return map[string]any{"released": id}, c.release(r, u, id, body.Set)
		}},
		{"GET", "/api/v1/reviews", false, func(r *http.Request, _ *User) (any, error) {
			return c.reviews(r.Context(), r.URL.Query().Get("flow"))
		}},
		{"POST", "/api/v1/reviews/{id}/accept", true, func(r *http.Request, u *User) (any, error) {
			id, err := pathID(r)
			if err != nil {
				return nil, err
			}
			return map[string]any{"accepted": id}, c.decide(r, u, id, "accept")
		}},
		{"POST", "/api/v1/reviews/{id}/reject", true, func(r *http.Request, u *User) (any, error) {
			id, err := pathID(r)
			if err != nil {
				return nil, err
			}
			return map[string]any{"rejected": id}, c.decide(r, u, id, "reject")
		}},
		{"GET", "/api/v1/links", false, func(r *http.Request, _ *User) (any, error) {
			return c.links(r.Context(), r.URL.Query().Get("record"))
		}},
		{"GET", "/api/v1/drift", false, func(_ *http.Request, _ *User) (any, error) { return c.drift(), nil }},
		{"GET", "/api/v1/ownership", false, func(_ *http.Request, _ *User) (any, error) { return c.ownership(), nil }},
	}
}

// readJSON decodes an optional JSON body (at most 64 KiB, no unknown fields).
func readJSON(r *http.Request, v any) error {
	if r.Body == nil {
		return nil
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return httpErr(http.StatusBadRequest, "the request body is not the JSON this endpoint takes: %v", err)
	}
	return nil
}

// api wraps an API handler: a bearer token or a session (with its CSRF
// token on changes) is required, a change needs the operator role; the
// answer is JSON, errors as {"error": "..."}.
func (c *Console) api(fn apiFunc, change bool) http.Handler {
	return c.secure(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := c.auth.bearer(r)
		if u == nil {
			u = c.auth.session(r)
		}
		switch {
		case u == nil:
			w.Header().Set("WWW-Authenticate", `Bearer realm="concord"`)
			writeAPIError(w, http.StatusUnauthorized, "sign in, or send Authorization: Bearer with a console.users token")
			return
		case change && !c.auth.checkCSRF(r, u):
			writeAPIError(w, http.StatusForbidden, "missing or wrong X-CSRF-Token for this session")
			return
		case change && !u.CanChange():
			writeAPIError(w, http.StatusForbidden, u.Name+" has the viewer role: only operators can change anything")
			return
		}
		r = r.WithContext(contextWithUser(r, u))
		v, err := fn(r, u)
		if err != nil {
			status, msg := statusOf(err)
			if status == http.StatusInternalServerError {
				c.log.ErrorContext(r.Context(), "console api failed", "path", r.URL.Path, "err", err)
				msg = "internal error; the log says what (component console)"
			}
			writeAPIError(w, status, msg)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}))
}

func writeAPIError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": strings.TrimSpace(msg)})
}

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPI)
}

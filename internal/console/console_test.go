package console_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
)

// csrfOf reads the CSRF token a page's forms carry.
func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	require.NotNil(t, m, "no csrf field on the page")
	return m[1]
}

func postForm(t *testing.T, c *http.Client, u string, v url.Values) (int, string, string) {
	t.Helper()
	resp, err := c.PostForm(u, v)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

func apiCall(t *testing.T, c *http.Client, method, u, token, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	if out != nil {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(out))
	}
	return resp.StatusCode
}

func operatorEvents(t *testing.T, w *world) []store.Event {
	t.Helper()
	evs, err := w.st.ListEvents(w.ctx, &store.ListEventsParams{Outcome: store.OutcomeOperator})
	require.NoError(t, err)
	return evs
}

func TestConsole_Auth(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	anon := w.anon()

	t.Run("PagesNeedASignIn", func(t *testing.T) {
		resp, err := anon.Get(w.srv.URL + "/console/events?flow=customers")
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		require.Equal(t, "/console/login?next=%2Fconsole%2Fevents%3Fflow%3Dcustomers", resp.Header.Get("Location"))
		var e map[string]string
		require.Equal(t, http.StatusUnauthorized, apiCall(t, anon, "GET", w.srv.URL+"/api/v1/events", "", "", &e))
		require.Contains(t, e["error"], "sign in")
		require.Equal(t, http.StatusUnauthorized, apiCall(t, anon, "GET", w.srv.URL+"/api/v1/events", "not-a-token", "", &e))
	})
	t.Run("WrongPassword", func(t *testing.T) {
		code, _, body := postForm(t, anon, w.srv.URL+"/console/login", url.Values{"name": {"alice"}, "password": {"nope"}})
		require.Equal(t, http.StatusUnauthorized, code)
		require.Contains(t, body, "wrong name or password")
		code, _, body = postForm(t, anon, w.srv.URL+"/console/login", url.Values{"name": {"mallory"}, "password": {"nope"}})
		require.Equal(t, http.StatusUnauthorized, code)
		require.Contains(t, body, "wrong name or password", "an unknown name says the same")
	})
	t.Run("SessionCookie", func(t *testing.T) {
		resp, err := anon.PostForm(w.srv.URL+"/console/login", url.Values{"name": {"Alice"}, "password": {alicePassword}, "next": {"//evil.example/"}})
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		require.Equal(t, "/console/", resp.Header.Get("Location"), "no redirect out of the console")
		cs := resp.Cookies()
		require.Len(t, cs, 1)
		require.Equal(t, "__Host-concord_session", cs[0].Name)
		require.True(t, cs[0].HttpOnly)
		require.True(t, cs[0].Secure)
		require.Equal(t, http.SameSiteLaxMode, cs[0].SameSite)
		require.Equal(t, "/", cs[0].Path)

		// A tampered cookie is no session.
		req, _ := http.NewRequest("GET", w.srv.URL+"/console/", nil)
		req.AddCookie(&http.Cookie{Name: cs[0].Name, Value: strings.Replace(cs[0].Value, "a", "b", 1) + "x"})
		resp, err = anon.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	})
	t.Run("Headers", func(t *testing.T) {
		c := w.client("alice", alicePassword)
		resp, err := c.Get(w.srv.URL + "/console/")
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Contains(t, resp.Header.Get("Content-Security-Policy"), "script-src 'self'")
		require.Equal(t, "DENY", resp.Header.Get("X-Frame-Options"))
		require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	})
	t.Run("CSRF", func(t *testing.T) {
		w.seed()
		c := w.client("alice", alicePassword)
		letters, err := w.st.ListDeadLetters(w.ctx, nil)
		require.NoError(t, err)
		require.Len(t, letters, 1)
		u := fmt.Sprintf("%s/console/dead-letters/%d/dismiss", w.srv.URL, letters[0].ID)
		code, _, body := postForm(t, c, u, url.Values{"note": {"no token"}})
		require.Equal(t, http.StatusForbidden, code)
		require.Contains(t, body, "security token")
		code, _, _ = postForm(t, c, u, url.Values{"note": {"wrong token"}, "csrf": {"AAAA"}})
		require.Equal(t, http.StatusForbidden, code)

		// A cross-site form post is refused before anything else.
		req, _ := http.NewRequest("POST", u, strings.NewReader("note=x"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		resp, err := c.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusForbidden, resp.StatusCode)

		// The API: a session needs the header; a bearer token does not.
		var e map[string]string
		require.Equal(t, http.StatusForbidden, apiCall(t, c, "POST", strings.Replace(u, "/console/", "/api/v1/", 1), "", `{"note":"x"}`, &e))
		require.Contains(t, e["error"], "X-CSRF-Token")
		dl, _ := w.st.GetDeadLetter(w.ctx, letters[0].ID)
		require.True(t, dl.Open(), "nothing was dismissed")
		require.Empty(t, operatorEvents(t, w))
	})
	t.Run("ViewerCannotChange", func(t *testing.T) {
		c := w.client("victor", viewerPassword)
		letters, err := w.st.ListDeadLetters(w.ctx, nil)
		require.NoError(t, err)
		_, page := get(t, c, fmt.Sprintf("%s/console/dead-letters/%d", w.srv.URL, letters[0].ID))
		require.NotContains(t, page, "Retry now", "no change buttons for a viewer")
		code, _, body := postForm(t, c, fmt.Sprintf("%s/console/dead-letters/%d/dismiss", w.srv.URL, letters[0].ID),
			url.Values{"note": {"x"}, "csrf": {csrfOf(t, page)}})
		require.Equal(t, http.StatusForbidden, code)
		require.Contains(t, body, "viewer role")
		var e map[string]string
		require.Equal(t, http.StatusForbidden, apiCall(t, w.anon(), "POST", fmt.Sprintf("%s/api/v1/dead-letters/%d/retry", w.srv.URL, letters[0].ID), viewerToken, `{}`, &e))
		var me map[string]string
		require.Equal(t, http.StatusOK, apiCall(t, w.anon(), "GET", w.srv.URL+"/api/v1/me", viewerToken, "", &me))
		require.Equal(t, map[string]string{"name": "victor", "role": "viewer"}, me)
	})
	t.Run("SignOutEndsTheSession", func(t *testing.T) {
		c := w.client("alice", alicePassword)
		_, page := get(t, c, w.srv.URL+"/console/")
		jarCookies := c.Jar.Cookies(mustURL(w.srv.URL))
		code, loc, _ := postForm(t, c, w.srv.URL+"/console/logout", url.Values{"csrf": {csrfOf(t, page)}})
		require.Equal(t, http.StatusSeeOther, code)
		require.Equal(t, "/console/login", loc)
		// The old cookie, replayed, no longer works.
		req, _ := http.NewRequest("GET", w.srv.URL+"/console/", nil)
		for _, ck := range jarCookies {
			req.AddCookie(ck)
		}
		resp, err := w.anon().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	})
	t.Run("Throttle", func(t *testing.T) {
		var last int
		for range 11 {
			last, _, _ = postForm(t, anon, w.srv.URL+"/console/login", url.Values{"name": {"victor"}, "password": {"guess"}})
		}
		require.Equal(t, http.StatusTooManyRequests, last)
		code, _, _ := postForm(t, anon, w.srv.URL+"/console/login", url.Values{"name": {"victor"}, "password": {viewerPassword}})
		require.Equal(t, http.StatusTooManyRequests, code, "even the right password waits")
	})
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func TestConsole_DeadLetter(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.seed()
	c := w.client("alice", alicePassword)
	letters, err := w.st.ListDeadLetters(w.ctx, nil)
	require.NoError(t, err)
	require.Len(t, letters, 1)
	dl := letters[0]
	require.Equal(t, "c4", dl.ExternalID)

	// The overview counts it and links to it.
	code, page := get(t, c, w.srv.URL+"/console/")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, page, `1 dead</a>`)

	// The letter's page: the reason, and the record as it is now in the CRM
	// (changed since: the page says so).
	w.crm.Put(model.Record{Entity: model.Account, ID: "c4", Fields: model.Fields{"name": model.Text("Around the Horn Ltd"), "email": model.Text("thomas@horn.example"), "country": model.Text("Atlantis")}})
	code, page = get(t, c, fmt.Sprintf("%s/console/dead-letters/%d", w.srv.URL, dl.ID))
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, page, `country &#34;Atlantis&#34; is not a country the ERP knows`)
	require.Contains(t, page, `value="Around the Horn Ltd"`)
	require.Contains(t, page, `<tr class="changed">`)

	// Correct the country and retry: the workers apply it with the value.
	code, loc, _ := postForm(t, c, fmt.Sprintf("%s/console/dead-letters/%d/retry", w.srv.URL, dl.ID), url.Values{
		"csrf": {csrfOf(t, page)}, "set.country": {"GB"}, "now.country": {"Atlantis"},
		"set.name": {"Around the Horn Ltd"}, "now.name": {"Around the Horn Ltd"}})
	require.Equal(t, http.StatusSeeOther, code)
	require.Equal(t, fmt.Sprintf("/console/dead-letters?done=retried:%d", dl.ID), loc)
	w.drain()
	var found model.Record
	for _, r := range w.erp.All(model.Account) {
		if r.Fields["name"].Str == "Around the Horn Ltd" {
			found = r
		}
	}
	require.Equal(t, "GB", found.Fields["country"].Str, "written with the corrected value")
	got, err := w.st.GetDeadLetter(w.ctx, dl.ID)
	require.NoError(t, err)
	require.False(t, got.Open(), "the letter closes once its record synced")

	ops := operatorEvents(t, w)
	require.Len(t, ops, 1)
	require.Equal(t, "c4", ops[0].SourceID)
	require.Contains(t, string(ops[0].Response), `"user":"alice"`)
	require.Contains(t, string(ops[0].Response), fmt.Sprintf("retried dead letter %d with country corrected", dl.ID))

	// The events page shows who did it.
	_, page = get(t, c, w.srv.URL+"/console/events?outcome=operator")
	require.Contains(t, page, fmt.Sprintf("alice: retried dead letter %d with country corrected", dl.ID))

	// A bad correction is refused with the field named, nothing queued.
	w.crm.Put(model.Record{Entity: model.Account, ID: "c5", Fields: model.Fields{"name": model.Text("B's Beverages"), "country": model.Text("Atlantis")}})
	w.sync()
	// (c4 fails again too: the CRM still says Atlantis, and it changed.)
	letters, err = w.st.ListDeadLetters(w.ctx, nil)
	require.NoError(t, err)
	letters = slices.DeleteFunc(letters, func(d store.DeadLetter) bool { return d.ExternalID != "c5" })
	require.Len(t, letters, 1)
	var e map[string]string
	code = apiCall(t, w.anon(), "POST", fmt.Sprintf("%s/api/v1/dead-letters/%d/retry", w.srv.URL, letters[0].ID), operatorToken, `{"set":{"vat":"x"}}`, &e)
	require.Equal(t, http.StatusUnprocessableEntity, code)
	require.Contains(t, e["error"], `does not move field "vat"`)

	// Dismiss needs a note, and records it.
	code = apiCall(t, w.anon(), "POST", fmt.Sprintf("%s/api/v1/dead-letters/%d/dismiss", w.srv.URL, letters[0].ID), operatorToken, `{"note":" "}`, &e)
	require.Equal(t, http.StatusUnprocessableEntity, code)
	var done map[string]int64
	code = apiCall(t, w.anon(), "POST", fmt.Sprintf("%s/api/v1/dead-letters/%d/dismiss", w.srv.URL, letters[0].ID), operatorToken, `{"note":"closed company"}`, &done)
	require.Equal(t, http.StatusOK, code)
	got, err = w.st.GetDeadLetter(w.ctx, letters[0].ID)
	require.NoError(t, err)
	require.Equal(t, "dismissed by alice: closed company", got.Resolution)
	code = apiCall(t, w.anon(), "POST", fmt.Sprintf("%s/api/v1/dead-letters/%d/dismiss", w.srv.URL, letters[0].ID), operatorToken, `{"note":"again"}`, &e)
	require.Equal(t, http.StatusConflict, code)
	require.Len(t, operatorEvents(t, w), 2)
}

func TestConsole_QuarantineFixAndRelease(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.seed()
	c := w.client("alice", alicePassword)
	entries, err := w.st.ListQuarantine(w.ctx, nil)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	q := entries[0]
	require.Equal(t, "email", q.Field)

	_, page := get(t, c, w.srv.URL+"/console/quarantine")
	require.Contains(t, page, "not an e-mail")
	_, page = get(t, c, fmt.Sprintf("%s/console/quarantine/%d", w.srv.URL, q.ID))
	code, loc, _ := postForm(t, c, fmt.Sprintf("%s/console/quarantine/%d/release", w.srv.URL, q.ID), url.Values{
		"csrf": {csrfOf(t, page)}, "set.email": {"antonio@moreno.example"}, "now.email": {"not an e-mail"}})
	require.Equal(t, http.StatusSeeOther, code)
	require.Equal(t, fmt.Sprintf("/console/quarantine?done=released:%d", q.ID), loc)
	w.drain()
	entries, err = w.st.ListQuarantine(w.ctx, nil)
	require.NoError(t, err)
	require.Empty(t, entries, "the record passed and left the quarantine")
	var emails []string
	for _, r := range w.erp.All(model.Account) {
		emails = append(emails, r.Fields["email"].Str)
	}
	require.Contains(t, emails, "antonio@moreno.example")
	ops := operatorEvents(t, w)
	require.Len(t, ops, 1)
	require.Contains(t, string(ops[0].Response), "released quarantine entry")
}

func TestConsole_Review(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.erp.Put(model.Record{Entity: model.Account, ID: "e9", Fields: model.Fields{"name": model.Text("Alfreds Futterkiste GmbH")}})
	w.crm.Put(model.Record{Entity: model.Account, ID: "c1", Fields: model.Fields{"name": model.Text("Alfreds Futterkiste")}})
	snap := func(id, name string) []byte {
		b, _ := json.Marshal(model.Record{Entity: model.Account, ID: id, Fields: model.Fields{"name": model.Text(name)}})
		return b
	}
	require.NoError(t, w.st.PutReviews(w.ctx, []store.Review{{Flow: "customers", System: "crm", Entity: model.Account, ExternalID: "c1",
		TargetSystem: "erp", TargetEntity: model.Account, TargetID: "e9", Score: 0.81, Fields: []byte(`[{"field":"name","a":"x","b":"y","score":0.81}]`),
		Snapshot: snap("c1", "Alfreds Futterkiste"), Target: snap("e9", "Alfreds Futterkiste GmbH"), State: store.ReviewPending}}))
	c := w.client("alice", alicePassword)
	_, page := get(t, c, w.srv.URL+"/console/reviews")
	require.Contains(t, page, "score 0.81")
	require.Contains(t, page, "Alfreds Futterkiste GmbH")
	rs, err := w.st.ListReviews(w.ctx, nil)
	require.NoError(t, err)
	require.Len(t, rs, 1)
	code, _, _ := postForm(t, c, fmt.Sprintf("%s/console/reviews/%d/accept", w.srv.URL, rs[0].ID), url.Values{"csrf": {csrfOf(t, page)}})
	require.Equal(t, http.StatusSeeOther, code)
	got, err := w.st.GetReview(w.ctx, rs[0].ID)
	require.NoError(t, err)
	require.Equal(t, store.ReviewAccepted, got.State)
	w.drain()
	links, err := w.st.GetLinks(w.ctx, &store.GetLinksParams{System: "erp", Entity: model.Account, ExternalIDs: []string{"e9"}})
	require.NoError(t, err)
	require.Contains(t, links, "e9", "accepting linked the pair")

	// The links page finds the pair from either id, with the ERP's page.
	_, page = get(t, c, w.srv.URL+"/console/links?record=c1")
	require.Contains(t, page, "https://erp.example.com/account/e9")
	var groups []map[string]any
	require.Equal(t, http.StatusOK, apiCall(t, w.anon(), "GET", w.srv.URL+"/api/v1/links?record=e9", viewerToken, "", &groups))
	require.Len(t, groups, 1)
	require.Len(t, groups[0]["records"], 2)
	require.Len(t, operatorEvents(t, w), 1)
}

func TestConsole_Events(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	for i := range 130 {
		w.crm.Put(model.Record{Entity: model.Account, ID: fmt.Sprintf("p%03d", i), Fields: model.Fields{"name": model.Text(fmt.Sprintf("Company %d", i))}})
	}
	w.sync()
	c := w.client("victor", viewerPassword)

	type eventsPage struct {
		Events []struct {
			ID       int64  `json:"id"`
			SourceID string `json:"source_id"`
		} `json:"events"`
		Older, Newer int64
	}
	var page1, page2, back eventsPage
	require.Equal(t, http.StatusOK, apiCall(t, w.anon(), "GET", w.srv.URL+"/api/v1/events?flow=customers&limit=50", viewerToken, "", &page1))
	require.Len(t, page1.Events, 50)
	require.NotZero(t, page1.Older)
	require.Zero(t, page1.Newer, "the first page has nothing newer")
	require.Equal(t, http.StatusOK, apiCall(t, w.anon(), "GET", fmt.Sprintf("%s/api/v1/events?limit=50&before=%d", w.srv.URL, page1.Older), viewerToken, "", &page2))
	require.Len(t, page2.Events, 50)
	require.Less(t, page2.Events[0].ID, page1.Events[49].ID)
	require.Equal(t, http.StatusOK, apiCall(t, w.anon(), "GET", fmt.Sprintf("%s/api/v1/events?limit=50&after=%d", w.srv.URL, page2.Newer), viewerToken, "", &back))
	require.Equal(t, page1.Events, back.Events, "newer from page 2 is page 1")

	_, html := get(t, c, w.srv.URL+"/console/events?record=p007")
	require.Contains(t, html, "crm p007")
	require.NotContains(t, html, "crm p008")
	var e map[string]string
	require.Equal(t, http.StatusBadRequest, apiCall(t, w.anon(), "GET", w.srv.URL+"/api/v1/events?outcome=great", viewerToken, "", &e))
	require.Contains(t, e["error"], "not one of")
	require.Equal(t, http.StatusBadRequest, apiCall(t, w.anon(), "GET", w.srv.URL+"/api/v1/events?since=yesterday", viewerToken, "", &e))

	// An event's page: snapshot, the plan field by field, replay.
	id := page1.Events[0].ID
	_, html = get(t, c, fmt.Sprintf("%s/console/events/%d", w.srv.URL, id))
	require.Contains(t, html, "What was written")
	require.Contains(t, html, `class="to"`)
	require.Contains(t, html, "(the config running now)")
	require.NotContains(t, html, "Replay this event", "a viewer gets no replay button")
	var done map[string]any
	require.Equal(t, http.StatusOK, apiCall(t, w.anon(), "POST", fmt.Sprintf("%s/api/v1/events/%d/replay", w.srv.URL, id), operatorToken, "", &done))
	w.drain()
	replays, err := w.st.ListEvents(w.ctx, &store.ListEventsParams{SourceID: page1.Events[0].SourceID})
	require.NoError(t, err)
	var replayed bool
	for _, ev := range replays {
		if ev.Replay == id {
			replayed = true
			require.Equal(t, store.OutcomeUnchanged, ev.Outcome, "a replay of an applied change writes nothing")
		}
	}
	require.True(t, replayed)
}

func TestConsole_NothingSecret(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.seed()
	c := w.client("alice", alicePassword)
	for _, p := range []string{"/console/", "/console/events", "/console/dead-letters", "/console/quarantine", "/console/reviews",
		"/console/links?record=c1", "/console/drift", "/console/ownership", "/api/v1/overview", "/api/v1/ownership"} {
		code, body := get(t, c, w.srv.URL+p)
		require.Equal(t, http.StatusOK, code, p)
		for _, secret := range []string{secretSetting, operatorToken, viewerToken, "$2a$", alicePassword} {
			require.NotContains(t, body, secret, "%s shows a secret", p)
		}
	}
	_, body := get(t, c, w.srv.URL+"/console/ownership")
	require.Contains(t, body, "account.credit_limit")
	require.Contains(t, body, "crm → erp")
}

// TestConsole_PlainHTTPSignIn: over plain HTTP to another host the browser
// would drop the Secure cookie; the sign-in says so instead of looping.
func TestConsole_PlainHTTPSignIn(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	h := http.NewServeMux()
	w.con.Register(h)
	for _, tt := range []struct {
		host string
		want int
	}{{"concord.example.com:8088", http.StatusBadRequest}, {"127.0.0.1:8088", http.StatusSeeOther}, {"localhost:8088", http.StatusSeeOther}, {"[::1]:8088", http.StatusSeeOther}} {
		req := httptest.NewRequest("POST", "http://"+tt.host+"/console/login", strings.NewReader(url.Values{"name": {"alice"}, "password": {alicePassword}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		require.Equal(t, tt.want, rec.Code, tt.host)
		if tt.want == http.StatusBadRequest {
			require.Contains(t, rec.Body.String(), "console.secure_cookie: false")
			require.Empty(t, rec.Result().Cookies())
		}
	}
}

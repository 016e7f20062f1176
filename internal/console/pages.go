package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"maps"
	"net"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
)

// pageData is what every page's template gets.
type pageData struct {
	Title   string
	Nav     string
	User    *User
	CSRF    string
	Done    string
	Owner   string
	Legs    []string
	Systems []string
	Data    any
}

var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05") + " UTC"
	},
	"iso": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	},
	"secs": func(s float64) string { return (time.Duration(s * float64(time.Second))).Round(time.Second).String() },
	"pct":  func(f float64) string { return fmt.Sprintf("%.0f%%", f*100) },
	"json": func(v any) (template.JS, error) {
		b, err := json.Marshal(v)
		return template.JS(b), err
	},
	// q builds a query string from name, value pairs (empty values left
	// out), already escaped.
	"q": func(kv ...string) template.URL {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] != "" {
				v.Set(kv[i], kv[i+1])
			}
		}
		return template.URL(v.Encode())
	},
	"score": func(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) },
}

// parseTemplates parses each page with the layout.
func parseTemplates() (map[string]*template.Template, error) {
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	out := map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(path.Base(n), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(templateFS, n)
		if err != nil {
			return nil, err
		}
		out[name] = t
	}
	return out, nil
}

// render writes a page: the layout around the named page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, u *User, name, title string, data any) {
	t, ok := c.pages[name]
	if !ok {
		http.Error(w, "no page "+name, http.StatusInternalServerError)
		return
	}
	pd := pageData{Title: title, Nav: name, User: u, CSRF: c.auth.csrfToken(u), Owner: c.o.Config.Owner,
		Legs: c.o.Engine.Legs(), Data: data, Done: doneText(r.URL.Query().Get("done"))}
	for _, s := range c.o.Config.Systems {
		pd.Systems = append(pd.Systems, s.Name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", pd); err != nil {
		c.log.ErrorContext(r.Context(), "console page failed", "page", name, "err", err)
		http.Error(w, "the page could not be drawn; the log says why", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(buf.Bytes())
}

// doneText is the message shown after a change, from the redirect's done
// parameter: only known messages, so that a link cannot put words in the
// console's mouth.
func doneText(code string) string {
	kind, id, _ := strings.Cut(code, ":")
	if _, err := strconv.ParseInt(id, 10, 64); err != nil && id != "" {
		return ""
	}
	msg := map[string]string{
		"retried":   "Dead letter %s re-queued: its record is read again from the source and applied by the workers.",
		"dismissed": "Dead letter %s dismissed.",
		"released":  "Quarantine entry %s released: its record is read again and applied by the workers.",
		"accepted":  "Review %s accepted: the pair is linked and synced by the workers.",
		"rejected":  "Review %s rejected.",
		"replayed":  "Event %s queued for replay; its new event appears in the list when the workers have applied it.",
	}[kind]
	if msg == "" {
		return ""
	}
	return fmt.Sprintf(msg, id)
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	if c.auth.session(r) != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	c.render(w, r, nil, "login", "Sign in", map[string]string{"Next": safeNext(r.URL.Query().Get("next"))})
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	next := safeNext(r.PostFormValue("next"))
	u, err := c.auth.signIn(r.PostFormValue("name"), r.PostFormValue("password"), clientAddr(r))
	if err != nil {
		c.log.WarnContext(r.Context(), "console sign-in refused", "name", r.PostFormValue("name"), "addr", clientAddr(r))
		status := http.StatusUnauthorized
		if err == errThrottled {
			status = http.StatusTooManyRequests
		}
		w.WriteHeader(status)
		c.render(w, r, nil, "login", "Sign in", map[string]string{"Next": next, "Error": err.Error(), "Name": r.PostFormValue("name")})
		return
	}
	if c.auth.secure && !overHTTPS(r) && !loopbackHost(r.Host) {
		// The browser would drop the Secure cookie and bring the person
		// back here, without a word.
		w.WriteHeader(http.StatusBadRequest)
		c.render(w, r, nil, "login", "Sign in", map[string]string{"Next": next, "Name": r.PostFormValue("name"),
			"Error": "this console is reached over plain HTTP, where browsers do not keep its secure sign-in cookie: reach it over HTTPS (a proxy in front of concord serve), or set console.secure_cookie: false on a network you trust"})
		return
	}
	c.log.InfoContext(r.Context(), "console sign-in", "user", u.Name, "role", u.Role, "addr", clientAddr(r))
	http.SetCookie(w, c.auth.cookie(u))
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// safeNext keeps a redirect target inside the console.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/console/") || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") {
		return "/console/"
	}
	return next
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, u *User) error {
	c.auth.revoke(u)
	http.SetCookie(w, c.auth.clearCookie())
	http.Redirect(w, r, "/console/login", http.StatusSeeOther)
	return nil
}

func (c *Console) overviewPage(w http.ResponseWriter, r *http.Request, u *User) error {
	v, err := c.overview(r.Context())
	if err != nil {
		return err
	}
	c.render(w, r, u, "overview", "Overview", v)
	return nil
}

func (c *Console) eventsPage(w http.ResponseWriter, r *http.Request, u *User) error {
	f, err := eventFilter(r.URL.Query())
	if err != nil {
		return err
	}
	v, err := c.events(r.Context(), f)
	if err != nil {
		return err
	}
	c.render(w, r, u, "events", "Events", map[string]any{"View": v, "Outcomes": outcomes})
	return nil
}

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, httpErr(http.StatusNotFound, "%q is not an id", r.PathValue("id"))
	}
	return id, nil
}

func (c *Console) eventPage(w http.ResponseWriter, r *http.Request, u *User) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	v, err := c.event(r.Context(), id)
	if err != nil {
		return err
	}
	c.render(w, r, u, "event", fmt.Sprintf("Event %d", id), v)
	return nil
}

func (c *Console) replayForm(w http.ResponseWriter, r *http.Request, u *User) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if _, err := c.replay(r, u, id); err != nil {
		return err
	}
	http.Redirect(w, r, fmt.Sprintf("/console/events/%d?done=replayed:%d", id, id), http.StatusSeeOther)
	return nil
}

func (c *Console) deadLettersPage(w http.ResponseWriter, r *http.Request, u *User) error {
	flow := r.URL.Query().Get("flow")
	rows, err := c.deadLetters(r.Context(), flow)
	if err != nil {
		return err
	}
	c.render(w, r, u, "deadletters", "Dead letters", map[string]any{"Letters": rows, "Flow": flow})
	return nil
}

func (c *Console) deadLetterPage(w http.ResponseWriter, r *http.Request, u *User) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	v, _, err := c.deadLetter(r.Context(), id)
	if err != nil {
		return err
	}
	c.render(w, r, u, "deadletter", fmt.Sprintf("Dead letter %d", id), v)
	return nil
}

// formSet reads the corrected fields of a form: set.FIELD inputs whose value
// differs from the now.FIELD hidden input (what the page showed).
func formSet(r *http.Request) map[string]string {
	set := map[string]string{}
	for k, vs := range r.PostForm {
		field, ok := strings.CutPrefix(k, "set.")
		if !ok || len(vs) == 0 {
			continue
		}
		if vs[0] != r.PostFormValue("now."+field) {
			set[field] = vs[0]
		}
	}
	return set
}

func (c *Console) retryForm(w http.ResponseWriter, r *http.Request, u *User) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := c.retryLetter(r, u, id, formSet(r)); err != nil {
		return err
	}
	http.Redirect(w, r, fmt.Sprintf("/console/dead-letters?done=retried:%d", id), http.StatusSeeOther)
	return nil
}

func (c *Console) dismissForm(w http.ResponseWriter, r *http.Request, u *User) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := c.dismissLetter(r, u, id, r.PostFormValue("note")); err != nil {
		return err
	}
	http.Redirect(w, r, fmt.Sprintf("/console/dead-letters?done=dismissed:%d", id), http.StatusSeeOther)
	return nil
}

func (c *Console) quarantinePage(w http.ResponseWriter, r *http.Request, u *User) error {
	flow := r.URL.Query().Get("flow")
	rows, err := c.quarantine(r.Context(), flow)
	if err != nil {
		return err
	}
	c.render(w, r, u, "quarantine", "Quarantine", map[string]any{"Entries": rows, "Flow": flow})
	return nil
}

func (c *Console) quarantineEntryPage(w http.ResponseWriter, r *http.Request, u *User) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	q, err := c.o.Store.GetQuarantineEntry(r.Context(), id)
	if err != nil {
		return err
	}
	c.render(w, r, u, "quarantineentry", fmt.Sprintf("Quarantine entry %d", id), quarantineRow(q, true))
	return nil
}

func (c *Console) releaseForm(w http.ResponseWriter, r *http.Request, u *User) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := c.release(r, u, id, formSet(r)); err != nil {
		return err
	}
	http.Redirect(w, r, fmt.Sprintf("/console/quarantine?done=released:%d", id), http.StatusSeeOther)
	return nil
}

func (c *Console) reviewsPage(w http.ResponseWriter, r *http.Request, u *User) error {
	flow := r.URL.Query().Get("flow")
	rows, err := c.reviews(r.Context(), flow)
	if err != nil {
		return err
	}
	c.render(w, r, u, "reviews", "Review", map[string]any{"Reviews": rows, "Flow": flow})
	return nil
}

func (c *Console) decideForm(w http.ResponseWriter, r *http.Request, u *User) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	decision := r.PathValue("decision")
	if err := c.decide(r, u, id, decision); err != nil {
		return err
	}
	http.Redirect(w, r, fmt.Sprintf("/console/reviews?done=%sed:%d", strings.TrimSuffix(decision, "e"), id), http.StatusSeeOther)
	return nil
}

func (c *Console) linksPage(w http.ResponseWriter, r *http.Request, u *User) error {
	q := r.URL.Query().Get("record")
	groups, err := c.links(r.Context(), q)
	if err != nil {
		return err
	}
	c.render(w, r, u, "links", "Links", map[string]any{"Query": q, "Groups": groups})
	return nil
}

func (c *Console) driftPage(w http.ResponseWriter, r *http.Request, u *User) error {
	c.render(w, r, u, "drift", "Drift", c.drift())
	return nil
}

func (c *Console) ownershipPage(w http.ResponseWriter, r *http.Request, u *User) error {
	c.render(w, r, u, "ownership", "Ownership", c.ownership())
	return nil
}

// The changes, shared by the forms and the API. Each checks what it acts
// on, asks the engine, and records who did it in the event log.

func (c *Console) replay(r *http.Request, u *User, id int64) (string, error) {
	ctx := r.Context()
	e, err := c.o.Store.GetEvent(ctx, id)
	if err != nil {
		return "", err
	}
	if e.Outcome == store.OutcomeOperator || len(e.Snapshot) == 0 {
		return "", httpErr(http.StatusConflict, "event %d holds no record to replay", id)
	}
	if _, ok := c.o.Engine.Leg(e.Flow); !ok {
		return "", httpErr(http.StatusConflict, "event %d is of flow %q, which is not in the config any more", id, e.Flow)
	}
	src, err := c.o.Engine.QueueReplay(ctx, id)
	if err != nil {
		return "", err
	}
	return src, c.record(ctx, e.Flow, e.SourceSystem, e.Entity, e.SourceID, action{User: u.Name, Action: fmt.Sprintf("replayed event %d", id), Ref: fmt.Sprintf("event %d", id)})
}

func (c *Console) retryLetter(r *http.Request, u *User, id int64, edits map[string]string) error {
	ctx := r.Context()
	d, err := c.o.Store.GetDeadLetter(ctx, id)
	if err != nil {
		return err
	}
	if !d.Open() {
		return httpErr(http.StatusConflict, "dead letter %d is closed (%s)", id, d.Resolution)
	}
	set, err := c.overrides(d.Flow, edits)
	if err != nil {
		return err
	}
	if _, err := c.o.Engine.RetryDeadLetters(ctx, []store.DeadLetter{d}, set); err != nil {
		return httpErr(http.StatusUnprocessableEntity, "%v", err)
	}
	what := fmt.Sprintf("retried dead letter %d", id)
	if len(set) > 0 {
		what = fmt.Sprintf("retried dead letter %d with %s", id, strings.Join(sortedFields(set), ", ")+" corrected")
	}
	return c.record(ctx, d.Flow, d.System, d.Entity, d.ExternalID, action{User: u.Name, Action: what, Set: set, Ref: fmt.Sprintf("dead letter %d", id)})
}

// overrides parses corrected values typed by a person for a leg.
func (c *Console) overrides(leg string, edits map[string]string) (model.Fields, error) {
	if len(edits) == 0 {
		return nil, nil
	}
	set := model.Fields{}
	for _, f := range slices.Sorted(maps.Keys(edits)) {
		field, v, err := c.o.Engine.ParseOverride(leg, f+"="+edits[f])
		if err != nil {
			return nil, httpErr(http.StatusUnprocessableEntity, "%s: %v", f, err)
		}
		set[field] = v
	}
	return set, nil
}

func (c *Console) dismissLetter(r *http.Request, u *User, id int64, note string) error {
	ctx := r.Context()
	note = strings.TrimSpace(note)
	if note == "" {
		return httpErr(http.StatusUnprocessableEntity, "say why the dead letter is dismissed (the note is kept in the event log)")
	}
	if len(note) > 500 {
		return httpErr(http.StatusUnprocessableEntity, "the note is longer than 500 characters")
	}
	d, err := c.o.Store.GetDeadLetter(ctx, id)
	if err != nil {
		return err
	}
	if !d.Open() {
		return httpErr(http.StatusConflict, "dead letter %d is closed (%s)", id, d.Resolution)
	}
	err = c.o.Store.ResolveDeadLetters(ctx, &store.ResolveDeadLettersParams{Flow: d.Flow, System: d.System, Entity: d.Entity,
		ExternalIDs: []string{d.ExternalID}, Resolution: "dismissed by " + u.Name + ": " + note})
	if err != nil {
		return err
	}
	return c.record(ctx, d.Flow, d.System, d.Entity, d.ExternalID, action{User: u.Name, Action: fmt.Sprintf("dismissed dead letter %d", id), Note: note, Ref: fmt.Sprintf("dead letter %d", id)})
}

func (c *Console) release(r *http.Request, u *User, id int64, edits map[string]string) error {
	ctx := r.Context()
	q, err := c.o.Store.GetQuarantineEntry(ctx, id)
	if err != nil {
		return err
	}
	if !q.ReleasedAt.IsZero() {
		return httpErr(http.StatusConflict, "quarantine entry %d was released already", id)
	}
	set, err := c.overrides(q.Flow, edits)
	if err != nil {
		return err
	}
	if err := c.o.Engine.Requeue(ctx, q.Flow, []string{q.ExternalID}, set); err != nil {
		return httpErr(http.StatusUnprocessableEntity, "%v", err)
	}
	what := fmt.Sprintf("released quarantine entry %d", id)
	if len(set) > 0 {
		what += " with " + strings.Join(sortedFields(set), ", ") + " corrected"
	}
	return c.record(ctx, q.Flow, q.System, q.Entity, q.ExternalID, action{User: u.Name, Action: what, Set: set, Ref: fmt.Sprintf("quarantine entry %d", id)})
}

func (c *Console) decide(r *http.Request, u *User, id int64, decision string) error {
	ctx := r.Context()
	rv, err := c.o.Store.GetReview(ctx, id)
	if err != nil {
		return err
	}
	if rv.State != store.ReviewPending {
		return httpErr(http.StatusConflict, "review %d is %s already", id, rv.State)
	}
	var n int
	switch decision {
	case "accept":
		n, err = c.o.Engine.AcceptReviews(ctx, []int64{id})
	case "reject":
		n, err = c.o.Engine.RejectReviews(ctx, []int64{id})
	default:
		return httpErr(http.StatusNotFound, "decide accept or reject, not %q", decision)
	}
	if err != nil && n == 0 {
		return httpErr(http.StatusConflict, "%v", err)
	}
	return c.record(ctx, rv.Flow, rv.System, rv.Entity, rv.ExternalID, action{User: u.Name,
		Action: fmt.Sprintf("%sed review %d (%s %s)", strings.TrimSuffix(decision, "e"), id, rv.TargetSystem, rv.TargetID), Ref: fmt.Sprintf("review %d", id)})
}

// overHTTPS reports whether the browser reached the console over HTTPS
// (directly, or through a proxy that says so).
func overHTTPS(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// loopbackHost reports whether host (with or without a port) is this
// machine, where browsers keep Secure cookies over plain HTTP too.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

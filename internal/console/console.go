package console

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/concord-sync/concord/internal/alert"
	"github.com/concord-sync/concord/internal/config"
	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/health"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/reconcile"
	"github.com/concord-sync/concord/internal/store"
)

// Store is what the console reads from and records in the store.
type Store interface {
	ListEvents(ctx context.Context, p *store.ListEventsParams) ([]store.Event, error)
	GetEvent(ctx context.Context, id int64) (store.Event, error)
	CountEvents(ctx context.Context, p *store.CountEventsParams) ([]store.EventCount, error)
	InsertEvents(ctx context.Context, events []store.Event) ([]int64, error)
	ListDeadLetters(ctx context.Context, p *store.ListDeadLettersParams) ([]store.DeadLetter, error)
	GetDeadLetter(ctx context.Context, id int64) (store.DeadLetter, error)
	ResolveDeadLetters(ctx context.Context, p *store.ResolveDeadLettersParams) error
	ListQuarantine(ctx context.Context, p *store.ListQuarantineParams) ([]store.QuarantineEntry, error)
	GetQuarantineEntry(ctx context.Context, id int64) (store.QuarantineEntry, error)
	ListReviews(ctx context.Context, p *store.ListReviewsParams) ([]store.Review, error)
	GetReview(ctx context.Context, id int64) (store.Review, error)
	ListLinks(ctx context.Context, p *store.ListLinksParams) ([]store.Link, error)
	GetLinks(ctx context.Context, p *store.GetLinksParams) (map[string]store.Link, error)
	Backlog(ctx context.Context, p *store.BacklogParams) (map[string]store.LegBacklog, error)
}

// Engine is what the console asks of the engine: its legs and counters, and
// the changes a person makes (each queued for serve's workers).
type Engine interface {
	Legs() []string
	Leg(name string) (*engine.Leg, bool)
	Stats() []engine.Stats
	ParseOverride(leg, assignment string) (string, model.Value, error)
	RetryDeadLetters(ctx context.Context, letters []store.DeadLetter, set model.Fields) (int, error)
	QueueReplay(ctx context.Context, eventID int64) (string, error)
	AcceptReviews(ctx context.Context, ids []int64) (int, error)
	RejectReviews(ctx context.Context, ids []int64) (int, error)
	SourceRecord(ctx context.Context, leg, id string) (model.Record, error)
	Requeue(ctx context.Context, leg string, ids []string, set model.Fields) error
}

// Options are a console's parts. Config, Store and Engine are required.
type Options struct {
	Config *config.Config
	Store  Store
	Engine Engine
	// Health returns the current health snapshot; nil: none shown.
	Health func(context.Context) health.Snapshot
	// Alerts returns the alerts firing now; nil: none shown.
	Alerts func() []alert.Notice
	// Reconcile returns serve's last reconcile report, nil when none ran.
	Reconcile func() *reconcile.Report
	// RecordURL returns the page of a record in its system, "" when the
	// system's connector does not know it.
	RecordURL func(system string, entity model.Entity, id string) string
	Log       *slog.Logger
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// Console serves the web console's pages under /console/ and its JSON API
// under /api/v1/.
type Console struct {
	o     Options
	auth  *auth
	pages map[string]*template.Template
	lag   *lagHistory
	log   *slog.Logger
	now   func() time.Time
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

//go:embed openapi.json
var openAPI []byte

// New returns a console for the options; the config must have console users.
func New(o Options) (*Console, error) {
	if o.Config == nil || o.Store == nil || o.Engine == nil {
		return nil, errors.New("console: config, store and engine are required")
	}
	if !o.Config.Console.Enabled() {
		return nil, errors.New("console: no users configured (console.users)")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	a, err := newAuth(o.Config.Console, o.Now)
	if err != nil {
		return nil, err
	}
	pages, err := parseTemplates()
	if err != nil {
		return nil, err
	}
	return &Console{o: o, auth: a, pages: pages, lag: newLagHistory(24 * time.Hour), log: o.Log, now: o.Now}, nil
}

// Run samples each flow's lag every minute for the overview's chart, until
// ctx is cancelled.
func (c *Console) Run(ctx context.Context) {
	if c.o.Health == nil {
		return
	}
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		c.lag.add(c.now(), c.o.Health(ctx))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Register adds the console's routes to mux.
func (c *Console) Register(mux *http.ServeMux) {
	assets, _ := fs.Sub(assetFS, "assets")
	static := http.StripPrefix("/console/assets/", http.FileServerFS(assets))
	mux.Handle("GET /console/assets/", c.secure(cacheFor(static, 24*time.Hour)))
	mux.Handle("GET /{$}", http.RedirectHandler("/console/", http.StatusSeeOther))
	mux.Handle("GET /console/login", c.secure(http.HandlerFunc(c.loginPage)))
	mux.Handle("POST /console/login", c.secure(http.HandlerFunc(c.login)))
	mux.Handle("POST /console/logout", c.page(c.logout, true))

	mux.Handle("GET /console/{$}", c.page(c.overviewPage, false))
	mux.Handle("GET /console/events", c.page(c.eventsPage, false))
	mux.Handle("GET /console/events/{id}", c.page(c.eventPage, false))
	mux.Handle("POST /console/events/{id}/replay", c.page(c.replayForm, true))
	mux.Handle("GET /console/dead-letters", c.page(c.deadLettersPage, false))
	mux.Handle("GET /console/dead-letters/{id}", c.page(c.deadLetterPage, false))
	mux.Handle("POST /console/dead-letters/{id}/retry", c.page(c.retryForm, true))
	mux.Handle("POST /console/dead-letters/{id}/dismiss", c.page(c.dismissForm, true))
	mux.Handle("GET /console/quarantine", c.page(c.quarantinePage, false))
	mux.Handle("GET /console/quarantine/{id}", c.page(c.quarantineEntryPage, false))
	mux.Handle("POST /console/quarantine/{id}/release", c.page(c.releaseForm, true))
	mux.Handle("GET /console/reviews", c.page(c.reviewsPage, false))
	mux.Handle("POST /console/reviews/{id}/{decision}", c.page(c.decideForm, true))
	mux.Handle("GET /console/links", c.page(c.linksPage, false))
	mux.Handle("GET /console/drift", c.page(c.driftPage, false))
	mux.Handle("GET /console/ownership", c.page(c.ownershipPage, false))

	mux.Handle("GET /api/v1/openapi.json", c.secure(http.HandlerFunc(serveOpenAPI)))
	for _, r := range c.apiRoutes() {
		mux.Handle(r.method+" "+r.path, c.api(r.handle, r.change))
	}
}

// secure sets the headers every console response carries: no framing, no
// sniffing, a strict content security policy (no inline script), no caching
// of pages, and refuses cross-origin changes (browsers' Sec-Fetch-Site and
// Origin headers).
func (c *Console) secure(h http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	return cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
		if hd.Get("Cache-Control") == "" {
			hd.Set("Cache-Control", "no-store")
		}
		h.ServeHTTP(w, r)
	}))
}

func cacheFor(h http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", fmt.Sprintf("private, max-age=%d", int(d.Seconds())))
		h.ServeHTTP(w, r)
	})
}

// pageFunc renders a page (or handles a form) for a signed-in user.
type pageFunc func(w http.ResponseWriter, r *http.Request, u *User) error

// page wraps a page handler: a session is required (else to the sign-in
// page), a change needs the operator role and the CSRF token. An error the
// handler returns is shown on an error page; an httpError with its status.
func (c *Console) page(fn pageFunc, change bool) http.Handler {
	return c.secure(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := c.auth.session(r)
		if u == nil {
			if r.Method != http.MethodGet {
				http.Error(w, "sign in first", http.StatusUnauthorized)
				return
			}
			http.Redirect(w, r, "/console/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if change {
			if err := r.ParseForm(); err != nil {
				c.errorPage(w, r, u, httpErr(http.StatusBadRequest, "bad form: %v", err))
				return
			}
			if !c.auth.checkCSRF(r, u) {
				c.errorPage(w, r, u, httpErr(http.StatusForbidden, "the form is out of date (its security token does not match your session): reload the page and try again"))
				return
			}
			if !u.CanChange() && r.URL.Path != "/console/logout" {
				c.errorPage(w, r, u, httpErr(http.StatusForbidden, "%s has the viewer role: only operators can change anything", u.Name))
				return
			}
		}
		r = r.WithContext(contextWithUser(r, u))
		if err := fn(w, r, u); err != nil {
			c.errorPage(w, r, u, err)
		}
	}))
}

// httpError is an error with the HTTP status to answer it with.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func httpErr(status int, format string, args ...any) error {
	return &httpError{status: status, msg: fmt.Sprintf(format, args...)}
}

// statusOf is the HTTP status of err: an httpError's, 404 for a missing
// row, 500 otherwise.
func statusOf(err error) (int, string) {
	var he *httpError
	switch {
	case errors.As(err, &he):
		return he.status, he.msg
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, "not found"
	case errors.Is(err, context.Canceled):
		return 499, "cancelled"
	}
	return http.StatusInternalServerError, ""
}

func (c *Console) errorPage(w http.ResponseWriter, r *http.Request, u *User, err error) {
	status, msg := statusOf(err)
	if status == http.StatusInternalServerError {
		c.log.ErrorContext(r.Context(), "console page failed", "path", r.URL.Path, "err", err)
		msg = "something went wrong on the server; the log says what (component console)"
	}
	w.WriteHeader(status)
	c.render(w, r, u, "error", "Error", map[string]any{"Status": status, "Message": msg})
}

// action is a change a person made through the console, as recorded in the
// event log (outcome operator) and in the log.
type action struct {
	User   string       `json:"user"`
	Action string       `json:"action"`
	Note   string       `json:"note,omitempty"`
	Set    model.Fields `json:"set,omitempty"`
	Ref    string       `json:"ref,omitempty"` // the dead letter, entry, review or event acted on
}

// record writes an operator event for a change on a leg's record.
func (c *Console) record(ctx context.Context, leg, system string, entity model.Entity, id string, a action) error {
	l, ok := c.o.Engine.Leg(leg)
	target := ""
	if ok {
		target = l.Target
		if system == l.Target {
			target = l.Source
		}
	}
	body, err := json.Marshal(a)
	if err != nil {
		return err
	}
	_, err = c.o.Store.InsertEvents(ctx, []store.Event{{Flow: leg, Entity: entity, SourceSystem: system, SourceID: id,
		TargetSystem: target, ConfigVersion: c.o.Config.Version, Response: body, Outcome: store.OutcomeOperator,
		StartedAt: c.now().UTC()}})
	if err != nil {
		return fmt.Errorf("record the change in the event log: %w", err)
	}
	c.log.InfoContext(ctx, "console change", "user", a.User, "action", a.Action, engine.FlowAttr(leg), "record", id, "ref", a.Ref)
	return nil
}

// operatorText is an operator event's one line: who did what.
func operatorText(e store.Event) string {
	var a action
	if json.Unmarshal(e.Response, &a) != nil || a.User == "" {
		return ""
	}
	s := a.User + ": " + a.Action
	if a.Note != "" {
		s += " (" + a.Note + ")"
	}
	return s
}

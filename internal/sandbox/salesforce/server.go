package salesforce

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Config configures a Server.
type Config struct {
	// ClientID and ClientSecret are the connected app's consumer key and
	// secret: the client credentials flow needs both, the JWT bearer flow
	// needs ClientID as the assertion's issuer. Empty ClientID accepts any.
	ClientID     string
	ClientSecret string
	// JWTKey is the public key of the certificate uploaded to the connected
	// app, which verifies JWT bearer assertions; nil refuses that flow.
	JWTKey *rsa.PublicKey
	// DailyLimit is the org's API request allocation per LimitWindow
	// (Developer Edition: 15,000 per 24 h); 15,000 when zero, no limit when
	// negative.
	DailyLimit int
	// LimitWindow is the rolling window of DailyLimit; 24 h when zero.
	LimitWindow time.Duration
	// SessionTimeout is how long an access token is valid; 2 h when zero.
	SessionTimeout time.Duration
	// Logger receives one debug line per request; discarded when nil.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// DefaultConfig returns the defaults: Developer Edition's 15,000 requests per
// 24 hours and a two-hour session.
func DefaultConfig() Config {
	return Config{DailyLimit: 15000, LimitWindow: 24 * time.Hour, SessionTimeout: 2 * time.Hour}
}

// Validate reports configuration errors.
func (c Config) Validate() error {
	var errs []error
	if c.LimitWindow < 0 {
		errs = append(errs, errors.New("limit window must not be negative"))
	}
	if c.SessionTimeout < 0 {
		errs = append(errs, errors.New("session timeout must not be negative"))
	}
	if c.ClientSecret != "" && c.ClientID == "" {
		errs = append(errs, errors.New("a client secret needs a client id"))
	}
	return errors.Join(errs...)
}

// Server is an in-memory Salesforce org served over HTTP. It is safe for
// concurrent use.
type Server struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	st       *store
	tokens   map[string]time.Time // access token -> expiry
	requests []time.Time          // API requests inside the limit window
	locators map[string]*locator
	locSeq   int
	fieldSeq int
	// Requests counts every API request served (token requests excluded).
	counts Counts
}

// Counts is what a Server has answered.
type Counts struct {
	Requests     int
	LimitRefused int
}

type locator struct {
	ids    []string
	fields []*fieldDef
	pos    int
	batch  int
}

// New returns a server with an empty org (the standard price book and the
// default opportunity stages only).
func New(cfg Config) *Server {
	if cfg.DailyLimit == 0 {
		cfg.DailyLimit = 15000
	}
	if cfg.LimitWindow == 0 {
		cfg.LimitWindow = 24 * time.Hour
	}
	if cfg.SessionTimeout == 0 {
		cfg.SessionTimeout = 2 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{cfg: cfg, log: log, st: newStore(cfg.Now), tokens: map[string]time.Time{}, locators: map[string]*locator{}}
}

// Close releases the server's resources. It is safe to call more than once.
func (s *Server) Close() error { return nil }

// Counts returns what the server has answered so far.
func (s *Server) Counts() Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts
}

// StandardPricebookID returns the id of the org's standard price book.
func (s *Server) StandardPricebookID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.stdBook
}

var versionRE = regexp.MustCompile(`^v[0-9]{2}\.[0-9]$`)

// Handler returns the HTTP handler serving the org's API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /services/oauth2/token", s.token)
	// The versions resource needs no session and does not count against the
	// org's limit.
	mux.HandleFunc("GET /services/data/{$}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, []map[string]string{{"label": "Winter '25", "url": "/services/data/v62.0", "version": "62.0"}})
	})
	mux.HandleFunc("/services/data/{version}/", s.authed(s.api))
	return mux
}

// authed checks the bearer token and the API request limit, then serves.
func (s *Server) authed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.log.DebugContext(r.Context(), "request", "method", r.Method, "path", r.URL.Path)
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		s.mu.Lock()
		exp, known := s.tokens[tok]
		now := s.cfg.Now()
		if !ok || !known || now.After(exp) {
			s.mu.Unlock()
			writeErrors(w, http.StatusUnauthorized, errf("INVALID_SESSION_ID", nil, "Session expired or invalid"))
			return
		}
		used, limit := s.useLocked(now)
		if limit >= 0 && used >= limit {
			s.counts.LimitRefused++
			s.mu.Unlock()
			w.Header().Set("Sforce-Limit-Info", fmt.Sprintf("api-usage=%d/%d", used, limit))
			writeErrors(w, http.StatusForbidden, errf("REQUEST_LIMIT_EXCEEDED", nil, "TotalRequests Limit exceeded."))
			return
		}
		s.requests = append(s.requests, now)
		s.counts.Requests++
		used++
		s.mu.Unlock()
		if limit >= 0 {
			w.Header().Set("Sforce-Limit-Info", fmt.Sprintf("api-usage=%d/%d", used, limit))
		}
		h(w, r)
	}
}

// useLocked returns the requests inside the window and the limit (-1: none).
func (s *Server) useLocked(now time.Time) (int, int) {
	i := 0
	for i < len(s.requests) && !s.requests[i].Add(s.cfg.LimitWindow).After(now) {
		i++
	}
	s.requests = s.requests[i:]
	if s.cfg.DailyLimit < 0 {
		return len(s.requests), -1
	}
	return len(s.requests), s.cfg.DailyLimit
}

// api routes the REST resources under /services/data/vXX.X/.
func (s *Server) api(w http.ResponseWriter, r *http.Request) {
	version := r.PathValue("version")
	if !versionRE.MatchString(version) {
		writeErrors(w, http.StatusNotFound, errf("NOT_FOUND", nil, "The requested resource does not exist"))
		return
	}
	rest := strings.TrimPrefix(r.URL.Path, "/services/data/"+version+"/")
	parts := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	ctx := &call{w: w, r: r, version: version}
	switch {
	case parts[0] == "limits" && len(parts) == 1 && r.Method == http.MethodGet:
		s.limits(ctx)
	case parts[0] == "sobjects":
		s.sobjects(ctx, parts[1:], strings.HasSuffix(rest, "/"))
	case (parts[0] == "query" || parts[0] == "queryAll") && r.Method == http.MethodGet:
		s.query(ctx, parts[0] == "queryAll", parts[1:])
	case parts[0] == "composite" && len(parts) >= 2 && parts[1] == "sobjects":
		s.collections(ctx, parts[2:])
	case parts[0] == "tooling" && len(parts) == 3 && parts[1] == "sobjects" && parts[2] == "CustomField" && r.Method == http.MethodPost:
		s.customField(ctx)
	default:
		writeErrors(w, http.StatusNotFound, errf("NOT_FOUND", nil, "The requested resource does not exist"))
	}
}

// call is one request being served.
type call struct {
	w       http.ResponseWriter
	r       *http.Request
	version string
}

func (c *call) url(obj, id string) string {
	return "/services/data/" + c.version + "/sobjects/" + obj + "/" + id
}

// decode reads a JSON body with numbers kept exact.
func (c *call) decode(dst any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(c.w, c.r.Body, 50<<20))
	dec.UseNumber()
	if err := dec.Decode(dst); err != nil {
		writeErrors(c.w, http.StatusBadRequest, errf("JSON_PARSER_ERROR", nil, "%s", err))
		return false
	}
	return true
}

func (s *Server) limits(c *call) {
	s.mu.Lock()
	used, limit := s.useLocked(s.cfg.Now())
	s.mu.Unlock()
	if limit < 0 {
		limit = 1 << 30
	}
	writeJSON(c.w, http.StatusOK, map[string]any{
		"DailyApiRequests":     map[string]int{"Max": limit, "Remaining": max(0, limit-used)},
		"DailyBulkV2QueryJobs": map[string]int{"Max": 0, "Remaining": 0},
	})
}

// token serves the OAuth 2.0 token endpoint: the client credentials flow and
// the JWT bearer flow.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeOAuthErr(w, "invalid_request", "malformed form body")
		return
	}
	switch r.PostForm.Get("grant_type") {
	case "client_credentials":
		id, secret, ok := r.BasicAuth()
		if !ok {
			id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		}
		if s.cfg.ClientID != "" && (id != s.cfg.ClientID || secret != s.cfg.ClientSecret) {
			writeOAuthErr(w, "invalid_client", "invalid client credentials")
			return
		}
	case "urn:ietf:params:oauth:grant-type:jwt-bearer":
		if err := s.checkAssertion(r.PostForm.Get("assertion"), "http://"+r.Host); err != nil {
			writeOAuthErr(w, "invalid_grant", err.Error())
			return
		}
	case "":
		writeOAuthErr(w, "unsupported_grant_type", "grant type not supported")
		return
	default:
		writeOAuthErr(w, "unsupported_grant_type", "grant type not supported")
		return
	}
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	tok := "00D5g000000SANDB!" + hex.EncodeToString(b)
	s.mu.Lock()
	now := s.cfg.Now()
	s.tokens[tok] = now.Add(s.cfg.SessionTimeout)
	s.mu.Unlock()
	instance := "http://" + r.Host
	writeJSON(w, http.StatusOK, map[string]string{
		"access_token": tok,
		"instance_url": instance,
		"id":           instance + "/id/00D5g000000SANDB/0055g000000SANDB",
		"token_type":   "Bearer",
		"issued_at":    strconv.FormatInt(now.UnixMilli(), 10),
		"scope":        "api",
		"signature":    hex.EncodeToString(b[:8]),
	})
}

// ExpireTokens makes every issued access token invalid, as a session timeout
// does.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

func writeOAuthErr(w http.ResponseWriter, code, desc string) {
	status := http.StatusBadRequest
	if code == "invalid_client" {
		status = http.StatusUnauthorized
	}
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func writeErrors(w http.ResponseWriter, status int, errs ...*apiError) {
	writeJSON(w, status, errs)
}

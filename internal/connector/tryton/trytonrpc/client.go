package trytonrpc

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Config configures a Client.
type Config struct {
	// URL is the server's base URL, e.g. http://127.0.0.1:8000. Required.
	URL string
	// Database is the database name (the URL path). Required.
	Database string
	// Username and Password are the login. Required.
	Username string
	Password string
	// Language is sent at login; default "en".
	Language string
	// Company, when not zero, overrides the company of the user's preferences.
	Company int64
	// HTTPClient defaults to a client with a 2 minute timeout.
	HTTPClient *http.Client
	// Logger receives debug lines per call (method, id, duration; never values,
	// passwords or session keys). Default: discard.
	Logger *slog.Logger
	// RateLimitBackoff is how long to wait after HTTP 429 when the server says
	// nothing; default 5 minutes (Tryton's session timeout, which is how long a
	// failed-login lockout lasts).
	RateLimitBackoff time.Duration
}

// Client is a Tryton JSON-RPC client holding one session. It is safe for
// concurrent use. Create it with New, then call Login (or let the first call
// log in), and Close it to log out.
type Client struct {
	cfg     Config
	dbURL   string
	rootURL string
	http    *http.Client
	log     *slog.Logger
	nextID  atomic.Int64

	loginMu sync.Mutex // serialises logins

	mu      sync.RWMutex
	auth    string // "Session base64(login:uid:key)"; never logged
	userID  int64
	context Context
	closed  bool
	logins  int
}

// New returns a client for cfg. It does no I/O.
func New(cfg Config) (*Client, error) {
	var problems []error
	if cfg.URL == "" {
		problems = append(problems, errors.New("url is required"))
	}
	if cfg.Database == "" {
		problems = append(problems, errors.New("database is required"))
	}
	if cfg.Username == "" {
		problems = append(problems, errors.New("username is required"))
	}
	if cfg.Password == "" {
		problems = append(problems, errors.New("password is required"))
	}
	if err := errors.Join(problems...); err != nil {
		return nil, fmt.Errorf("tryton client: %w", err)
	}
	if cfg.Language == "" {
		cfg.Language = "en"
	}
	if cfg.RateLimitBackoff <= 0 {
		cfg.RateLimitBackoff = 5 * time.Minute
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 2 * time.Minute}
	}
	lg := cfg.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	base := strings.TrimRight(cfg.URL, "/")
	return &Client{
		cfg:     cfg,
		rootURL: base + "/",
		dbURL:   base + "/" + cfg.Database + "/",
		http:    hc,
		log:     lg,
	}, nil
}

// UserID returns the logged-in user's id, 0 before login.
func (c *Client) UserID() int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.userID
}

// Logins returns how many times the client logged in (1 for a healthy client;
// more after sessions expired).
func (c *Client) Logins() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.logins
}

// Context returns a copy of the session's context (the user's preferences:
// company, employee, language ...). It is empty before login.
func (c *Client) Context() Context {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return maps.Clone(c.context)
}

// Login logs in and loads the user's preferences as the call context. Calls
// log in by themselves when needed; Login lets a caller fail fast. A refused
// password is ErrUnauthorized; repeated refusals turn into *RateLimitError.
func (c *Client) Login(ctx context.Context) error {
	c.mu.RLock()
	stale := c.auth
	c.mu.RUnlock()
	return c.relogin(ctx, stale)
}

// relogin logs in unless another goroutine already replaced the session stale.
func (c *Client) relogin(ctx context.Context, stale string) error {
	c.loginMu.Lock()
	defer c.loginMu.Unlock()
	c.mu.RLock()
	current, closed := c.auth, c.closed
	c.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	if current != stale && current != "" {
		return nil
	}
	start := time.Now()
	const method = "common.db.login"
	res, _, err := c.post(ctx, c.dbURL, "", method, []any{c.cfg.Username, map[string]any{"password": c.cfg.Password}, c.cfg.Language})
	if err != nil {
		return fmt.Errorf("tryton login as %s: %w", c.cfg.Username, err)
	}
	pair, ok := res.([]any)
	if !ok || len(pair) != 2 {
		// A refused login answers false in older servers.
		return fmt.Errorf("tryton login as %s: %w", c.cfg.Username, ErrUnauthorized)
	}
	uid := Record{"id": pair[0]}.ID()
	key, _ := pair[1].(string)
	if uid == 0 || key == "" {
		return fmt.Errorf("tryton login as %s: %w", c.cfg.Username, ErrUnauthorized)
	}
	auth := "Session " + base64.StdEncoding.EncodeToString([]byte(c.cfg.Username+":"+strconv.FormatInt(uid, 10)+":"+key))
	prefs, _, err := c.post(ctx, c.dbURL, auth, "model.res.user.get_preferences", []any{true, map[string]any{}})
	if err != nil {
		return fmt.Errorf("tryton get preferences: %w", err)
	}
	pm, ok := prefs.(map[string]any)
	if !ok {
		return fmt.Errorf("tryton get preferences: want an object, got %T", prefs)
	}
	tctx := Context{}
	for k, v := range pm {
		if strings.HasPrefix(k, "_") || strings.Contains(k, ".") {
			continue
		}
		tctx[k] = v
	}
	if c.cfg.Company != 0 {
		tctx["company"] = c.cfg.Company
	}
	c.mu.Lock()
	c.auth, c.userID, c.context = auth, uid, tctx
	c.logins++
	c.mu.Unlock()
	c.log.DebugContext(ctx, "tryton login", "user_id", uid, "duration", time.Since(start))
	return nil
}

// Close logs out (best effort) and makes further calls fail with ErrClosed. It
// is safe to call more than once.
func (c *Client) Close(ctx context.Context) error {
	c.loginMu.Lock()
	defer c.loginMu.Unlock()
	c.mu.Lock()
	auth := c.auth
	already := c.closed
	c.closed, c.auth = true, ""
	c.mu.Unlock()
	if already || auth == "" {
		return nil
	}
	if _, _, err := c.post(ctx, c.dbURL, auth, "common.db.logout", []any{}); err != nil {
		return fmt.Errorf("tryton logout: %w", err)
	}
	return nil
}

// Call calls method (e.g. "model.party.party.read") with params and the
// session's context appended as the last parameter. It logs in first when
// there is no session, and logs in again once when the session expired (401).
// The result is decoded: see the package doc.
func (c *Client) Call(ctx context.Context, method string, params ...any) (any, error) {
	return c.CallContext(ctx, method, nil, params...)
}

// CallContext is Call with extra context keys merged over the session's
// context (for example active_test, locations, _timestamp, active_ids).
func (c *Client) CallContext(ctx context.Context, method string, extra Context, params ...any) (any, error) {
	relogged := false
	for {
		c.mu.RLock()
		auth, closed := c.auth, c.closed
		tctx := maps.Clone(c.context)
		c.mu.RUnlock()
		if closed {
			return nil, ErrClosed
		}
		if auth == "" {
			if err := c.relogin(ctx, ""); err != nil {
				return nil, err
			}
			relogged = true
			continue
		}
		if tctx == nil {
			tctx = Context{}
		}
		maps.Copy(tctx, extra)
		full := make([]any, 0, len(params)+1)
		full = append(full, params...)
		full = append(full, tctx)
		res, _, err := c.post(ctx, c.dbURL, auth, method, full)
		var he *HTTPError
		if err != nil && errors.As(err, &he) && he.Status == http.StatusUnauthorized && !relogged {
			// The session expired or was removed: log in again and retry once.
			// The server refused the request before dispatching it, so a retry
			// cannot apply anything twice.
			c.log.DebugContext(ctx, "tryton session expired", "method", method)
			if lerr := c.relogin(ctx, auth); lerr != nil {
				return nil, lerr
			}
			relogged = true
			continue
		}
		return res, err
	}
}

// ServerTime returns the server's clock from the Date header of a cheap call
// (second resolution), falling back to the local clock when there is none.
func (c *Client) ServerTime(ctx context.Context) (time.Time, error) {
	_, hdr, err := c.post(ctx, c.rootURL, "", "common.server.version", []any{})
	if err != nil {
		return time.Time{}, err
	}
	if t, perr := http.ParseTime(hdr.Get("Date")); perr == nil {
		return t.UTC(), nil
	}
	return time.Now().UTC(), nil
}

// ServerVersion returns the server's version, e.g. "6.0.29".
func (c *Client) ServerVersion(ctx context.Context) (string, error) {
	res, _, err := c.post(ctx, c.rootURL, "", "common.server.version", []any{})
	if err != nil {
		return "", err
	}
	s, _ := res.(string)
	return s, nil
}

type request struct {
	ID     int64  `json:"id"`
	Method string `json:"method"`
	Params []any  `json:"params"`
}

type response struct {
	ID     int64           `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  json.RawMessage `json:"error"`
}

// maxBody bounds a response; a search_read of thousands of records stays far
// below it.
const maxBody = 256 << 20

// readTries is how often a read-only call is sent before its transient
// failure is returned (the callers retry further, with longer waits).
const readTries = 4

// post sends one JSON-RPC request in envelope mode and decodes the answer. A
// read-only call (login, preferences, search, read: nothing is applied twice
// when it is repeated) that fails transiently (a reset or refused connection,
// a timeout, 429, 5xx, a lock) is sent again after a short backoff; a call that
// writes is sent once, and the caller's retry finds what it did.
func (c *Client) post(ctx context.Context, url, auth, method string, params []any) (any, http.Header, error) {
	wait := 100 * time.Millisecond
	for try := 1; ; try++ {
		res, hdr, err := c.postOnce(ctx, url, auth, method, params)
		if err == nil || try >= readTries || !readOnly(method) || !transient(err) || ctx.Err() != nil {
			return res, hdr, err
		}
		d := wait + time.Duration(rand.Int64N(int64(wait)))
		var rd interface{ RetryDelay() time.Duration }
		if errors.As(err, &rd) && rd.RetryDelay() > d {
			d = min(rd.RetryDelay(), 5*time.Second)
		}
		c.log.DebugContext(ctx, "tryton call failed transiently; retrying", "method", method, "try", try, "err", err)
		select {
		case <-ctx.Done():
			return res, hdr, err
		case <-time.After(d):
		}
		wait *= 2
	}
}

// readOnly reports whether a method only reads, so that repeating it is safe.
func readOnly(method string) bool {
	switch method[strings.LastIndexByte(method, '.')+1:] {
	case "login", "version", "get_preferences", "read", "search", "search_read", "search_count", "fields_get", "default_get":
		return true
	}
	return false
}

// transient reports whether err may not happen again: the client's own
// transient errors, and the network's (reset, refused, timeout, cut answer).
func transient(err error) bool {
	var t interface{ Transient() bool }
	if errors.As(err, &t) {
		return t.Transient()
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNABORTED) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// postOnce sends one JSON-RPC request in envelope mode and decodes the answer.
func (c *Client) postOnce(ctx context.Context, url, auth, method string, params []any) (any, http.Header, error) {
	id := c.nextID.Add(1)
	body, err := json.Marshal(request{ID: id, Method: method, Params: encodeSlice(params)})
	if err != nil {
		return nil, nil, fmt.Errorf("tryton %s: encode params: %w", method, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, nil, fmt.Errorf("tryton %s: %w", method, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		// net/http errors name the URL and the cause, never headers.
		return nil, nil, fmt.Errorf("tryton %s: %w", method, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, nil, fmt.Errorf("tryton %s: read answer: %w", method, err)
	}
	c.log.DebugContext(ctx, "tryton call", "method", method, "rpc_id", id,
		"status", resp.StatusCode, "bytes", len(data), "duration", time.Since(start))
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		after := c.cfg.RateLimitBackoff
		if s := resp.Header.Get("Retry-After"); s != "" {
			if n, perr := strconv.Atoi(s); perr == nil && n >= 0 {
				after = time.Duration(n) * time.Second
			}
		}
		return nil, resp.Header, &RateLimitError{Method: method, RetryAfter: after}
	case resp.StatusCode != http.StatusOK:
		// Error pages are HTML and may echo the request; keep only the status.
		return nil, resp.Header, &HTTPError{Method: method, Status: resp.StatusCode}
	}
	var env response
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, resp.Header, fmt.Errorf("tryton %s: decode answer: %w", method, err)
	}
	if len(env.Error) > 0 && string(env.Error) != "null" {
		return nil, resp.Header, parseError(method, env.Error)
	}
	if len(env.Result) == 0 {
		return nil, resp.Header, nil
	}
	res, err := decodeJSON(env.Result)
	if err != nil {
		return nil, resp.Header, fmt.Errorf("tryton %s: decode result: %w", method, err)
	}
	return res, resp.Header, nil
}

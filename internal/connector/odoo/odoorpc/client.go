package odoorpc

import (
	"bytes"
	"context"
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
	// URL is the server's base URL, e.g. http://127.0.0.1:8069. Required.
	URL string
	// Database is the database name. Required.
	Database string
	// Username is the user's login. Required.
	Username string
	// Password is the user's password or one of the user's API keys. Required.
	Password string
	// Context is sent with every call, under the caller's keys. Default
	// {"lang": "en_US", "tz": "UTC"}; keys set here replace the defaults.
	Context Context
	// HTTPClient defaults to a client with a 5 minute timeout (a create of
	// 1,000 records takes about 15 s on a loaded server).
	HTTPClient *http.Client
	// Logger receives debug lines per call (model, method, duration; never
	// values, passwords or keys). Default: discard.
	Logger *slog.Logger
}

// Client is an Odoo JSON-RPC client. It is safe for concurrent use. Create it
// with New; calls log in by themselves, Login lets a caller fail fast.
type Client struct {
	cfg    Config
	url    string
	http   *http.Client
	log    *slog.Logger
	nextID atomic.Int64

	loginMu sync.Mutex // serialises logins

	mu     sync.RWMutex
	uid    int64
	closed bool
}

// New returns a client for cfg. It does no I/O and reports every missing
// setting at once.
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
		problems = append(problems, errors.New("password or API key is required"))
	}
	if err := errors.Join(problems...); err != nil {
		return nil, fmt.Errorf("odoo client: %w", err)
	}
	base := Context{"lang": "en_US", "tz": "UTC"}
	maps.Copy(base, cfg.Context)
	cfg.Context = base
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 5 * time.Minute}
	}
	lg := cfg.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	return &Client{
		cfg:  cfg,
		url:  strings.TrimRight(cfg.URL, "/") + "/jsonrpc",
		http: hc,
		log:  lg,
	}, nil
}

// Database returns the database the client works on.
func (c *Client) Database() string { return c.cfg.Database }

// UserID returns the logged-in user's id, 0 before login.
func (c *Client) UserID() int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.uid
}

// Login checks the credentials with common.login and keeps the user id. A
// refused login is ErrUnauthorized (Odoo answers false, not an error); too many
// refusals are ErrRateLimited. Calls log in by themselves when needed.
func (c *Client) Login(ctx context.Context) error {
	_, err := c.login(ctx)
	return err
}

func (c *Client) login(ctx context.Context) (int64, error) {
	c.loginMu.Lock()
	defer c.loginMu.Unlock()
	c.mu.RLock()
	uid, closed := c.uid, c.closed
	c.mu.RUnlock()
	if closed {
		return 0, ErrClosed
	}
	if uid != 0 {
		return uid, nil
	}
	res, _, err := c.post(ctx, "common.login", "common", "login", []any{c.cfg.Database, c.cfg.Username, c.cfg.Password})
	if err != nil {
		return 0, fmt.Errorf("odoo login as %s to %s: %w", c.cfg.Username, c.cfg.Database, err)
	}
	n, ok := res.(json.Number)
	if ok {
		uid, _ = n.Int64()
	}
	if uid == 0 {
		return 0, fmt.Errorf("odoo login as %s to %s: %w", c.cfg.Username, c.cfg.Database, ErrUnauthorized)
	}
	c.mu.Lock()
	c.uid = uid
	c.mu.Unlock()
	c.log.DebugContext(ctx, "odoo login", "user_id", uid)
	return uid, nil
}

// Close makes further calls fail with ErrClosed. Odoo keeps no session for
// these calls, so there is nothing to log out. It is safe to call more than
// once.
func (c *Client) Close(context.Context) error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	return nil
}

// Version is what common.version answers.
type Version struct {
	ServerVersion string `json:"server_version"` // "17.0-20240709"
	ServerSerie   string `json:"server_serie"`   // "17.0"
	Protocol      int    `json:"protocol_version"`
}

// Version asks the server's version; it needs no login.
func (c *Client) Version(ctx context.Context) (Version, error) {
	res, _, err := c.post(ctx, "common.version", "common", "version", []any{})
	if err != nil {
		return Version{}, err
	}
	var v Version
	b, _ := json.Marshal(res)
	if err := json.Unmarshal(b, &v); err != nil {
		return Version{}, fmt.Errorf("odoo common.version: decode answer: %w", err)
	}
	return v, nil
}

// ServerTime returns the server's clock from the Date header of a cheap call
// (second resolution), falling back to the local clock when there is none.
func (c *Client) ServerTime(ctx context.Context) (time.Time, error) {
	_, hdr, err := c.post(ctx, "common.version", "common", "version", []any{})
	if err != nil {
		return time.Time{}, err
	}
	if t, perr := http.ParseTime(hdr.Get("Date")); perr == nil {
		return t.UTC(), nil
	}
	return time.Now().UTC(), nil
}

// Kwargs are the keyword arguments of a method call (fields, limit, order,
// context ...).
type Kwargs map[string]any

// ExecuteKw calls model.method(*args, **kwargs) as the logged-in user and
// returns the decoded result (see the package doc). The client's context is
// merged under kwargs["context"] when the caller sets one. It logs in first
// when needed.
func (c *Client) ExecuteKw(ctx context.Context, model, method string, args []any, kwargs Kwargs) (any, error) {
	uid, err := c.login(ctx)
	if err != nil {
		return nil, err
	}
	kw := make(Kwargs, len(kwargs)+1)
	maps.Copy(kw, kwargs)
	cctx := maps.Clone(c.cfg.Context)
	if extra, ok := kwargs["context"].(Context); ok {
		maps.Copy(cctx, extra)
	} else if extra, ok := kwargs["context"].(map[string]any); ok {
		maps.Copy(cctx, extra)
	}
	kw["context"] = cctx
	if args == nil {
		args = []any{}
	}
	call := model + "." + method
	res, _, err := c.post(ctx, call, "object", "execute_kw",
		[]any{c.cfg.Database, uid, c.cfg.Password, model, method, encodeArgs(args), encodeMap(kw)})
	return res, err
}

type request struct {
	JSONRPC string `json:"jsonrpc"`
	Method  string `json:"method"`
	Params  params `json:"params"`
	ID      int64  `json:"id"`
}

type params struct {
	Service string `json:"service"`
	Method  string `json:"method"`
	Args    []any  `json:"args"`
}

type response struct {
	ID     int64           `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  json.RawMessage `json:"error"`
}

// maxBody bounds an answer; a search_read of thousands of records stays far
// below it.
const maxBody = 256 << 20

// readTries is how often a read-only call is sent before its transient
// failure is returned (callers retry further, with longer waits).
const readTries = 4

// post sends one call and decodes the answer. A read-only call (nothing is
// applied twice when it is repeated) that fails transiently is sent again
// after a short backoff; a call that writes is sent once, and the caller's
// retry finds what it did.
func (c *Client) post(ctx context.Context, call, service, method string, args []any) (any, http.Header, error) {
	c.mu.RLock()
	closed := c.closed
	c.mu.RUnlock()
	if closed {
		return nil, nil, ErrClosed
	}
	wait := 100 * time.Millisecond
	for try := 1; ; try++ {
		res, hdr, err := c.postOnce(ctx, call, service, method, args)
		if err == nil || try >= readTries || !readOnly(call) || !transient(err) || ctx.Err() != nil {
			return res, hdr, err
		}
		d := wait + time.Duration(rand.Int64N(int64(wait)))
		var rd interface{ RetryDelay() time.Duration }
		if errors.As(err, &rd) && rd.RetryDelay() > d {
			d = min(rd.RetryDelay(), 5*time.Second)
		}
		c.log.DebugContext(ctx, "odoo call failed transiently; retrying", "call", call, "try", try, "err", err)
		select {
		case <-ctx.Done():
			return res, hdr, err
		case <-time.After(d):
		}
		wait *= 2
	}
}

// readOnly reports whether a call only reads, so that repeating it is safe.
func readOnly(call string) bool {
	switch call[strings.LastIndexByte(call, '.')+1:] {
	case "login", "version", "read", "search", "search_read", "search_count", "fields_get",
		"default_get", "name_search", "read_group", "check_access_rights":
		return true
	}
	return false
}

// transient reports whether err may not happen again.
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

func (c *Client) postOnce(ctx context.Context, call, service, method string, args []any) (any, http.Header, error) {
	id := c.nextID.Add(1)
	body, err := json.Marshal(request{JSONRPC: "2.0", Method: "call", ID: id,
		Params: params{Service: service, Method: method, Args: args}})
	if err != nil {
		return nil, nil, fmt.Errorf("odoo %s: encode arguments: %w", call, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return nil, nil, fmt.Errorf("odoo %s: %w", call, err)
	}
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		// net/http errors name the URL and the cause, never the body.
		return nil, nil, fmt.Errorf("odoo %s: %w", call, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, resp.Header, fmt.Errorf("odoo %s: read answer: %w", call, err)
	}
	c.log.DebugContext(ctx, "odoo call", "call", call, "rpc_id", id,
		"status", resp.StatusCode, "bytes", len(data), "duration", time.Since(start))
	if resp.StatusCode != http.StatusOK {
		he := &HTTPError{Call: call, Status: resp.StatusCode}
		if s := resp.Header.Get("Retry-After"); s != "" {
			if n, perr := strconv.Atoi(s); perr == nil && n >= 0 {
				he.RetryAfter = time.Duration(n) * time.Second
			}
		}
		return nil, resp.Header, he
	}
	var env response
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, resp.Header, fmt.Errorf("odoo %s: decode answer: %w", call, err)
	}
	if len(env.Error) > 0 && string(env.Error) != "null" {
		return nil, resp.Header, parseError(call, env.Error)
	}
	if len(env.Result) == 0 {
		return nil, resp.Header, nil
	}
	res, err := decodeJSON(env.Result)
	if err != nil {
		return nil, resp.Header, fmt.Errorf("odoo %s: decode result: %w", call, err)
	}
	return res, resp.Header, nil
}

func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

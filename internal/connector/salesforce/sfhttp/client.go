package sfhttp

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/concord-sync/concord/internal/connector/hubspot/hubspothttp"
)

// DefaultLoginURL is Salesforce's production login host.
const DefaultLoginURL = "https://login.salesforce.com"

// DefaultAPIVersion is the REST API version the client speaks.
const DefaultAPIVersion = "62.0"

// Config configures a Client.
type Config struct {
	// LoginURL is where tokens are requested (…/services/oauth2/token).
	LoginURL string
	// ClientID and ClientSecret are the connected app's consumer key and
	// secret (client credentials flow).
	ClientID     string
	ClientSecret string
	// Username and PrivateKey select the JWT bearer flow instead: the
	// assertion names Username and is signed with PrivateKey, whose
	// certificate is uploaded to the connected app.
	Username   string
	PrivateKey *rsa.PrivateKey
	// APIVersion is the REST API version, DefaultAPIVersion when empty.
	APIVersion string
	// Limiter is shared by every call to the org. Required.
	Limiter *hubspothttp.Limiter
	// HTTPClient sends the requests; a client with a 60 s timeout when nil.
	HTTPClient *http.Client
	// MaxAttempts bounds the tries of a read-only call. Default 4.
	MaxAttempts int
	// LimitRetryAfter is the wait suggested when the org's request limit
	// refuses a call. Default 5 minutes.
	LimitRetryAfter time.Duration
	// Logger receives debug logs; discarded when nil.
	Logger *slog.Logger
	// Live, when set, tells whether a call's ctx carries live work: it is
	// served by the limiter before waiting backfill calls.
	Live func(ctx context.Context) bool
	// Shared, when set, is the org's budget shared with the other processes
	// on the store (several serve nodes): every call takes a token from it
	// too, after the per-process Limiter.
	Shared hubspothttp.SharedBudget
}

// Stats counts what a Client did since New.
type Stats struct {
	Requests    int64
	RateLimited int64
	Retries     int64
}

// Client calls one org's REST API. It is safe for concurrent use.
type Client struct {
	cfg  Config
	http *http.Client
	log  *slog.Logger

	mu       sync.Mutex
	token    string
	instance string

	requests, rateLimited, retries atomic.Int64
	used, max                      atomic.Int64
}

// New returns a client; it sends nothing until the first call.
func New(cfg Config) (*Client, error) {
	if cfg.Limiter == nil {
		return nil, errors.New("sfhttp: a limiter is required")
	}
	if cfg.LoginURL == "" {
		cfg.LoginURL = DefaultLoginURL
	}
	cfg.LoginURL = strings.TrimSuffix(cfg.LoginURL, "/")
	if cfg.APIVersion == "" {
		cfg.APIVersion = DefaultAPIVersion
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 4
	}
	if cfg.LimitRetryAfter <= 0 {
		cfg.LimitRetryAfter = 5 * time.Minute
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Client{cfg: cfg, http: hc, log: log}, nil
}

// Stats returns the client's counters.
func (c *Client) Stats() Stats {
	return Stats{Requests: c.requests.Load(), RateLimited: c.rateLimited.Load(), Retries: c.retries.Load()}
}

// LimitUse returns the org's API usage as the last Sforce-Limit-Info header
// said: requests used and the allocation (0, 0 before any answer).
func (c *Client) LimitUse() (used, allocation int64) { return c.used.Load(), c.max.Load() }

// Limiter returns the limiter the client waits for.
func (c *Client) Limiter() *hubspothttp.Limiter { return c.cfg.Limiter }

// Authenticate requests a new access token.
func (c *Client) Authenticate(ctx context.Context) error {
	form := url.Values{}
	if c.cfg.PrivateKey != nil {
		a, err := c.assertion()
		if err != nil {
			return err
		}
		form.Set("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
		form.Set("assertion", a)
	} else {
		form.Set("grant_type", "client_credentials")
		form.Set("client_id", c.cfg.ClientID)
		form.Set("client_secret", c.cfg.ClientSecret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.LoginURL+"/services/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("token request: %w", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	var tok struct {
		AccessToken string `json:"access_token"`
		InstanceURL string `json:"instance_url"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal(body, &tok)
	if res.StatusCode != http.StatusOK || tok.AccessToken == "" {
		code := tok.Error
		if code == "" {
			code = "HTTP_" + strconv.Itoa(res.StatusCode)
		}
		e := &Error{Op: "token request", Status: res.StatusCode, Errors: []APIError{{ErrorCode: code, Message: tok.Description}}}
		if res.StatusCode < 500 {
			e.Status = http.StatusUnauthorized
		}
		return e
	}
	c.mu.Lock()
	c.token, c.instance = tok.AccessToken, strings.TrimSuffix(tok.InstanceURL, "/")
	c.mu.Unlock()
	return nil
}

// assertion builds the JWT bearer assertion: iss the consumer key, sub the
// user, aud the login URL, exp three minutes ahead, signed RS256.
func (c *Client) assertion() (string, error) {
	enc := base64.RawURLEncoding
	claims, err := json.Marshal(map[string]any{"iss": c.cfg.ClientID, "sub": c.cfg.Username, "aud": c.cfg.LoginURL,
		"exp": time.Now().Add(3 * time.Minute).Unix()})
	if err != nil {
		return "", fmt.Errorf("jwt claims: %w", err)
	}
	in := enc.EncodeToString([]byte(`{"alg":"RS256"}`)) + "." + enc.EncodeToString(claims)
	sum := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(rand.Reader, c.cfg.PrivateKey, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("sign jwt: %w", err)
	}
	return in + "." + enc.EncodeToString(sig), nil
}

func (c *Client) session(ctx context.Context) (string, string, error) {
	c.mu.Lock()
	tok, inst := c.token, c.instance
	c.mu.Unlock()
	if tok != "" {
		return tok, inst, nil
	}
	if err := c.Authenticate(ctx); err != nil {
		return "", "", err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.token, c.instance, nil
}

// DataPath returns the path of a REST resource of the client's API version.
func (c *Client) DataPath(rest string) string {
	return "/services/data/v" + c.cfg.APIVersion + "/" + strings.TrimPrefix(rest, "/")
}

// request is one call.
type request struct {
	op       string
	method   string
	path     string // absolute path on the instance
	query    url.Values
	body     any
	readOnly bool
	header   http.Header
}

// do sends r and decodes a 2xx answer into out. A read-only call is
// repeated after a transport error or a 5xx; an expired session is renewed
// once for any call (the request was refused, nothing was done).
func (c *Client) do(ctx context.Context, r request, out any) (int, error) {
	var payload []byte
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return 0, fmt.Errorf("%s: encode: %w", r.op, err)
		}
		payload = b
	}
	renewed := false
	for attempt := 1; ; attempt++ {
		status, err := c.once(ctx, r, payload, out)
		var e *Error
		switch {
		case err == nil:
			return status, nil
		case errors.As(err, &e) && e.Status == http.StatusUnauthorized && e.Has("INVALID_SESSION_ID") && !renewed:
			renewed = true
			c.mu.Lock()
			c.token = ""
			c.mu.Unlock()
			attempt--
			continue
		case ctx.Err() != nil:
			return status, err
		case !r.readOnly || attempt >= c.cfg.MaxAttempts:
			return status, err
		case errors.As(err, &e) && !(e.Status >= 500):
			return status, err
		}
		c.retries.Add(1)
		wait := time.Duration(attempt*attempt) * 200 * time.Millisecond
		select {
		case <-ctx.Done():
			return status, ctx.Err()
		case <-time.After(wait):
		}
	}
}

func (c *Client) once(ctx context.Context, r request, payload []byte, out any) (int, error) {
	tok, inst, err := c.session(ctx)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", r.op, err)
	}
	prio := hubspothttp.PriorityFrom(ctx)
	if c.cfg.Live != nil && c.cfg.Live(ctx) {
		prio = hubspothttp.Live
	}
	release, err := c.cfg.Limiter.Acquire(ctx, prio)
	if err != nil {
		return 0, err
	}
	if c.cfg.Shared != nil {
		if err := c.cfg.Shared.Take(ctx, prio == hubspothttp.Live); err != nil {
			release(nil)
			return 0, fmt.Errorf("%s: wait for the org's shared budget: %w", r.op, err)
		}
	}
	u := inst + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		release(nil)
		return 0, fmt.Errorf("%s: %w", r.op, err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	c.requests.Add(1)
	res, err := c.http.Do(req)
	if err != nil {
		release(nil)
		return 0, fmt.Errorf("%s: %w", r.op, err)
	}
	defer res.Body.Close()
	release(nil)
	c.limitInfo(res.Header.Get("Sforce-Limit-Info"))
	b, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return res.StatusCode, fmt.Errorf("%s: read answer: %w", r.op, err)
	}
	c.log.DebugContext(ctx, "salesforce call", "op", r.op, "status", res.StatusCode)
	if res.StatusCode >= 300 && res.StatusCode != http.StatusMultipleChoices {
		e := &Error{Op: r.op, Status: res.StatusCode}
		if json.Unmarshal(b, &e.Errors) != nil || len(e.Errors) == 0 {
			e.Errors = []APIError{{ErrorCode: "HTTP_" + strconv.Itoa(res.StatusCode), Message: http.StatusText(res.StatusCode)}}
		}
		if e.RateLimited() {
			c.rateLimited.Add(1)
			e.RetryAfter = c.cfg.LimitRetryAfter
		}
		return res.StatusCode, e
	}
	if out != nil && len(b) > 0 {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if err := dec.Decode(out); err != nil {
			return res.StatusCode, fmt.Errorf("%s: decode answer: %w", r.op, err)
		}
	}
	return res.StatusCode, nil
}

// limitInfo records "api-usage=used/max".
func (c *Client) limitInfo(h string) {
	for _, part := range strings.Split(h, ",") {
		v, ok := strings.CutPrefix(strings.TrimSpace(part), "api-usage=")
		if !ok {
			continue
		}
		u, m, ok := strings.Cut(v, "/")
		used, err1 := strconv.ParseInt(u, 10, 64)
		allocation, err2 := strconv.ParseInt(m, 10, 64)
		if ok && err1 == nil && err2 == nil {
			c.used.Store(used)
			c.max.Store(allocation)
		}
	}
}

// Instance returns the org's instance URL from the last token ("" before
// the first sign-in).
func (c *Client) Instance() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.instance
}

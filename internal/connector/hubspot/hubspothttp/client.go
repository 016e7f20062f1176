package hubspothttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// DefaultBaseURL is HubSpot's API host.
const DefaultBaseURL = "https://api.hubapi.com"

// Config configures a Client.
type Config struct {
	// BaseURL is the API root; DefaultBaseURL when empty.
	BaseURL string
	// Token is the private-app access token sent as a bearer token. Required.
	Token string
	// Limiter is shared by every call to the portal. Required: use SharedLimiter
	// so that all connections to one portal share one budget.
	Limiter *Limiter
	// SearchLimiter, when set, also gates search calls (HubSpot limits search
	// per second per token, on top of the general budget).
	SearchLimiter *Limiter
	// Shared, when set, is the portal's budget shared with other processes
	// (every concord node on one store): each request also takes one of its
	// tokens, after the limiter, with the request's priority.
	Shared SharedBudget
	// Live, when set, tells whether a call's ctx carries live work, served as
	// Live (see WithPriority) whatever its priority says.
	Live func(ctx context.Context) bool
	// HTTPClient sends the requests; a client with a 60 s timeout when nil.
	HTTPClient *http.Client
	// MaxAttempts bounds the tries of one call (429s and, for idempotent calls,
	// 5xx and transport errors). Default 6.
	MaxAttempts int
	// MaxRetryAfter caps one Retry-After wait; a longer one is returned to the
	// caller as an *Error with RetryAfter set. Default 2 minutes.
	MaxRetryAfter time.Duration
	// Logger receives debug logs; discarded when nil.
	Logger *slog.Logger
}

// SharedBudget is a rate budget shared with other processes.
type SharedBudget interface {
	// Take waits until one request may be sent; live callers go first. It
	// returns ctx's error when ctx ends first.
	Take(ctx context.Context, live bool) error
}

// Stats counts what a Client did. All fields are totals since New.
type Stats struct {
	// Requests is every HTTP request sent, retries included.
	Requests int64
	// RateLimited is the number of 429 answers received.
	RateLimited int64
	// Retries is the number of requests repeated after a 429, 5xx or
	// transport error.
	Retries int64
	// Failed is the number of calls that returned an error to the caller
	// because of a 429, a 5xx or a transport error (not 4xx refusals).
	Failed int64
}

// Client calls HubSpot's API. It is safe for concurrent use.
type Client struct {
	base    *url.URL
	token   string
	lim     *Limiter
	search  *Limiter
	shared  SharedBudget
	live    func(ctx context.Context) bool
	hc      *http.Client
	max     int
	maxWait time.Duration
	log     *slog.Logger

	requests, limited, retries, failed atomic.Int64
}

// RateLimitUse returns the share of the portal's rate-limit budget in use
// (Limiter.Use of the main limiter).
func (c *Client) RateLimitUse() float64 { return c.lim.Use() }

// New returns a Client for cfg; it sends nothing.
func New(cfg Config) (*Client, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	u, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("parse base url %q: not an http(s) url", cfg.BaseURL)
	}
	if cfg.Token == "" {
		return nil, errors.New("new client: token is required")
	}
	if cfg.Limiter == nil {
		return nil, errors.New("new client: limiter is required")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 60 * time.Second}
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 6
	}
	if cfg.MaxRetryAfter <= 0 {
		cfg.MaxRetryAfter = 2 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Client{base: u, token: cfg.Token, lim: cfg.Limiter, search: cfg.SearchLimiter, shared: cfg.Shared, live: cfg.Live, hc: cfg.HTTPClient,
		max: cfg.MaxAttempts, maxWait: cfg.MaxRetryAfter, log: cfg.Logger}, nil
}

// Stats returns the client's counters.
func (c *Client) Stats() Stats {
	return Stats{Requests: c.requests.Load(), RateLimited: c.limited.Load(), Retries: c.retries.Load(), Failed: c.failed.Load()}
}

// Limiter returns the client's general limiter.
func (c *Client) Limiter() *Limiter { return c.lim }

// SearchLimiter returns the client's search limiter; nil when it has none.
func (c *Client) SearchLimiter() *Limiter { return c.search }

// Request is one API call.
type Request struct {
	Method string
	// Path is below the base URL, e.g. "/crm/v3/objects/companies/search".
	Path  string
	Query url.Values
	// Body is encoded as JSON when not nil.
	Body any
	// Search marks search calls, which also wait for the search limiter.
	Search bool
	// Idempotent calls are retried after 5xx answers and transport errors;
	// others (creates) only after a 429, which HubSpot answers before acting.
	Idempotent bool
}

// Do sends req, waiting for the rate limiter with ctx's priority, retrying as
// Request and Config describe, and decodes a 2xx body into out (when not nil).
// It returns the final HTTP status. A non-2xx answer is returned as an *Error;
// 207 Multi-Status is a success whose body holds per-input errors.
func (c *Client) Do(ctx context.Context, req Request, out any) (int, error) {
	var body []byte
	if req.Body != nil {
		b, err := json.Marshal(req.Body)
		if err != nil {
			return 0, fmt.Errorf("encode %s %s: %w", req.Method, req.Path, err)
		}
		body = b
	}
	u := *c.base
	u.Path += req.Path
	u.RawQuery = req.Query.Encode()
	prio := PriorityFrom(ctx)
	if c.live != nil && c.live(ctx) {
		prio = Live
	}
	backoff := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		status, hdr, raw, err := c.send(ctx, req, u.String(), body, prio)
		last := attempt >= c.max
		if err != nil {
			if ctx.Err() != nil {
				return 0, err
			}
			if req.Idempotent && !last {
				c.retries.Add(1)
				if werr := sleep(ctx, jitter(backoff)); werr != nil {
					return 0, werr
				}
				backoff *= 2
				continue
			}
			c.failed.Add(1)
			return 0, err
		}
		if status >= 200 && status < 300 {
			if out != nil && len(raw) > 0 {
				if err := json.Unmarshal(raw, out); err != nil {
					return status, fmt.Errorf("decode %s %s: %w", req.Method, req.Path, err)
				}
			}
			return status, nil
		}
		herr := decodeError(status, raw)
		switch {
		case status == http.StatusTooManyRequests:
			c.limited.Add(1)
			wait := parseRetryAfter(hdr.Get("Retry-After"), time.Now())
			if wait <= 0 {
				wait = time.Second
			}
			herr.RetryAfter = wait
			c.log.DebugContext(ctx, "hubspot rate limited", "path", req.Path, "retry_after", wait, "policy", herr.PolicyName, "attempt", attempt)
			if last || wait > c.maxWait {
				c.failed.Add(1)
				return status, herr
			}
			// Everyone sharing the portal waits, not only this call.
			c.lim.Pause(wait)
			if req.Search && c.search != nil {
				c.search.Pause(wait)
			}
			c.retries.Add(1)
			continue
		case status >= 500 && req.Idempotent && !last:
			c.retries.Add(1)
			if werr := sleep(ctx, jitter(backoff)); werr != nil {
				return 0, werr
			}
			backoff *= 2
			continue
		}
		if status >= 500 || status == http.StatusTooManyRequests {
			c.failed.Add(1)
		}
		return status, herr
	}
}

// send makes one attempt: it waits for the limiter(s), sends, and reads the body.
func (c *Client) send(ctx context.Context, req Request, u string, body []byte, prio Priority) (int, http.Header, []byte, error) {
	release, err := c.lim.Acquire(ctx, prio)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("wait for rate limit: %w", err)
	}
	if req.Search && c.search != nil {
		srel, err := c.search.Acquire(ctx, prio)
		if err != nil {
			release(nil)
			return 0, nil, nil, fmt.Errorf("wait for search rate limit: %w", err)
		}
		defer srel(nil)
	}
	if c.shared != nil {
		if err := c.shared.Take(ctx, prio == Live); err != nil {
			release(nil)
			return 0, nil, nil, fmt.Errorf("wait for rate limit: %w", err)
		}
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	hreq, err := http.NewRequestWithContext(ctx, req.Method, u, rd)
	if err != nil {
		release(nil)
		return 0, nil, nil, fmt.Errorf("build %s %s: %w", req.Method, req.Path, err)
	}
	hreq.Header.Set("Authorization", "Bearer "+c.token)
	hreq.Header.Set("Accept", "application/json")
	if body != nil {
		hreq.Header.Set("Content-Type", "application/json")
	}
	c.requests.Add(1)
	resp, err := c.hc.Do(hreq)
	if err != nil {
		release(nil)
		return 0, nil, nil, fmt.Errorf("%s %s: %w", req.Method, req.Path, err)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	_ = resp.Body.Close()
	release(resp.Header)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("read %s %s: %w", req.Method, req.Path, err)
	}
	return resp.StatusCode, resp.Header, raw, nil
}

func decodeError(status int, raw []byte) *Error {
	e := &Error{}
	if err := json.Unmarshal(raw, e); err != nil || (e.Message == "" && e.Category == "") {
		msg := strings.TrimSpace(string(raw))
		if len(msg) > 200 {
			msg = msg[:200]
		}
		e = &Error{Status: "error", Message: msg}
	}
	e.StatusCode = status
	return e
}

func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d/2+1) //nolint:gosec // jitter needs no crypto
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

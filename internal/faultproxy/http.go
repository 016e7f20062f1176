package faultproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// Kind is one kind of HTTP fault.
type Kind string

// The HTTP faults. Each is decided per request.
const (
	// Latency delays the request by Faults.Latency (±50 %), then forwards it.
	Latency Kind = "latency"
	// Reset resets the connection (TCP RST) before the upstream sees the request.
	Reset Kind = "reset"
	// ResetAfter forwards the request, lets the upstream answer, and resets the
	// connection instead of passing the answer on: the work is done, the answer lost.
	ResetAfter Kind = "reset_after"
	// Timeout holds the request without an answer for Faults.Timeout (or until
	// the client gives up), then closes the connection.
	Timeout Kind = "timeout"
	// TooManyRequests answers 429 with a Retry-After of Faults.RetryAfter.
	TooManyRequests Kind = "429"
	// ServerError answers 500, 502, 503 or 504.
	ServerError Kind = "5xx"
)

// Kinds is every HTTP fault kind.
var Kinds = []Kind{Latency, Reset, ResetAfter, Timeout, TooManyRequests, ServerError}

// Faults says what the HTTP layer injects. The zero value injects nothing.
type Faults struct {
	// Rate is the share of requests that get a fault, from 0 to 1.
	Rate float64
	// Kinds are the faults drawn from, each equally likely (all of Kinds when empty).
	Kinds []Kind
	// Latency is the mean delay of a Latency fault (default 200ms).
	Latency time.Duration
	// Timeout is how long a Timeout fault holds a request (default 2s).
	Timeout time.Duration
	// RetryAfter is the Retry-After of a 429, rounded up to whole seconds (default 1s).
	RetryAfter time.Duration
	// Churn is the share of healthy answers sent with "Connection: close".
	Churn float64
}

// withDefaults fills the zero durations and kinds.
func (f Faults) withDefaults() Faults {
	if len(f.Kinds) == 0 {
		f.Kinds = Kinds
	}
	if f.Latency <= 0 {
		f.Latency = 200 * time.Millisecond
	}
	if f.Timeout <= 0 {
		f.Timeout = 2 * time.Second
	}
	if f.RetryAfter <= 0 {
		f.RetryAfter = time.Second
	}
	return f
}

// Validate reports every problem of f.
func (f Faults) Validate() error {
	var errs []error
	if f.Rate < 0 || f.Rate > 1 || math.IsNaN(f.Rate) {
		errs = append(errs, fmt.Errorf("fault rate %v: want 0 to 1", f.Rate))
	}
	if f.Churn < 0 || f.Churn > 1 || math.IsNaN(f.Churn) {
		errs = append(errs, fmt.Errorf("churn %v: want 0 to 1", f.Churn))
	}
	for _, k := range f.Kinds {
		known := false
		for _, want := range Kinds {
			known = known || k == want
		}
		if !known {
			errs = append(errs, fmt.Errorf("unknown fault kind %q", k))
		}
	}
	return errors.Join(errs...)
}

// HTTPStats counts what the HTTP layer did.
type HTTPStats struct {
	// Requests is every request received.
	Requests int
	// Forwarded is every request passed on to the upstream (ResetAfter included).
	Forwarded int
	// Injected counts the faults by kind.
	Injected map[Kind]int
	// Churned counts healthy answers sent with "Connection: close".
	Churned int
}

// Faulted is the number of requests that got a fault.
func (s HTTPStats) Faulted() int {
	n := 0
	for _, c := range s.Injected {
		n += c
	}
	return n
}

// HTTP is the HTTP fault layer: an http.Handler that forwards to one upstream
// and injects Faults. It is safe for concurrent use.
type HTTP struct {
	upstream *url.URL
	rp       *httputil.ReverseProxy
	tr       *http.Transport
	log      *slog.Logger

	mu     sync.Mutex
	rnd    *rand.Rand
	faults Faults
	stats  HTTPStats
}

// NewHTTP returns an HTTP fault layer in front of upstream (an http URL),
// injecting nothing until Inject. seed makes the draws repeatable.
func NewHTTP(upstream string, seed uint64, log *slog.Logger) (*HTTP, error) {
	u, err := url.Parse(upstream)
	if err != nil {
		return nil, fmt.Errorf("parse upstream: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("upstream %q: want an http URL", upstream)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 32
	h := &HTTP{
		upstream: u,
		tr:       tr,
		log:      log,
		rnd:      rand.New(rand.NewPCG(seed, 0x5eed)),
		stats:    HTTPStats{Injected: map[Kind]int{}},
	}
	h.rp = &httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.SetURL(u); r.Out.Host = r.In.Host },
		Transport: tr,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			h.log.WarnContext(r.Context(), "upstream failed", "path", r.URL.Path, "err", err)
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	return h, nil
}

// Inject starts injecting f (replacing what was injected before).
func (h *HTTP) Inject(f Faults) error {
	if err := f.Validate(); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.faults = f.withDefaults()
	return nil
}

// Heal stops injecting: every request from now on is forwarded untouched.
// Requests already held by a fault finish their fault.
func (h *HTTP) Heal() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.faults = Faults{}
}

// Stats returns a copy of the counters.
func (h *HTTP) Stats() HTTPStats {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.stats
	s.Injected = make(map[Kind]int, len(h.stats.Injected))
	for k, v := range h.stats.Injected {
		s.Injected[k] = v
	}
	return s
}

// Close closes the idle connections to the upstream.
func (h *HTTP) Close() { h.tr.CloseIdleConnections() }

// draw decides the request's fault ("" for none) and whether a healthy answer
// closes its connection, and counts them.
func (h *HTTP) draw() (f Faults, kind Kind, churn bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stats.Requests++
	f = h.faults
	if f.Rate > 0 && h.rnd.Float64() < f.Rate {
		kind = f.Kinds[h.rnd.IntN(len(f.Kinds))]
		h.stats.Injected[kind]++
	}
	if kind == "" && f.Churn > 0 && h.rnd.Float64() < f.Churn {
		churn = true
		h.stats.Churned++
	}
	return f, kind, churn
}

// jitter returns d ±50 %.
func (h *HTTP) jitter(d time.Duration) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return d/2 + time.Duration(h.rnd.Int64N(int64(d)+1))
}

// serverErrors are the 5xx a ServerError answers with, in turn.
var serverErrors = []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout}

// ServeHTTP forwards r to the upstream, or injects the fault drawn for it.
func (h *HTTP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f, kind, churn := h.draw()
	switch kind {
	case Latency:
		if !sleep(r.Context(), h.jitter(f.Latency)) {
			return
		}
	case Reset:
		_, _ = io.Copy(io.Discard, r.Body)
		reset(w)
		return
	case ResetAfter:
		h.forwardDiscard(r)
		reset(w)
		return
	case Timeout:
		sleep(r.Context(), f.Timeout)
		drop(w)
		return
	case TooManyRequests:
		secs := int(math.Ceil(f.RetryAfter.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, `{"status":"error","message":"fault injected: too many requests","category":"RATE_LIMITS"}`)
		return
	case ServerError:
		h.mu.Lock()
		code := serverErrors[h.rnd.IntN(len(serverErrors))]
		h.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(code)
		_, _ = io.WriteString(w, "fault injected: "+http.StatusText(code)+"\n")
		return
	}
	if churn {
		w.Header().Set("Connection", "close")
	}
	h.forwarded()
	h.rp.ServeHTTP(w, r)
}

// forwarded counts a request passed on to the upstream.
func (h *HTTP) forwarded() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stats.Forwarded++
}

// forwardDiscard sends r to the upstream and throws the answer away.
func (h *HTTP) forwardDiscard(r *http.Request) {
	h.forwarded()
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.URL.Scheme, out.URL.Host = h.upstream.Scheme, h.upstream.Host
	if h.upstream.Path != "" && h.upstream.Path != "/" {
		out.URL = h.upstream.JoinPath(r.URL.Path)
		out.URL.RawQuery = r.URL.RawQuery
	}
	resp, err := h.tr.RoundTrip(out)
	if err != nil {
		h.log.WarnContext(r.Context(), "upstream failed", "path", r.URL.Path, "err", err)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
}

// sleep waits d or until ctx is done, and reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// reset closes the client's connection with a TCP RST.
func reset(w http.ResponseWriter) {
	conn := hijack(w)
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// drop closes the client's connection without an answer (FIN).
func drop(w http.ResponseWriter) {
	_ = hijack(w).Close()
}

// hijack takes the connection over from the server. Where it cannot (an
// HTTP/2 connection) it panics with http.ErrAbortHandler, which makes the
// server abort the stream without an answer.
func hijack(w http.ResponseWriter) net.Conn {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	return conn
}

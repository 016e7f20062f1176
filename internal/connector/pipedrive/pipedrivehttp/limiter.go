package pipedrivehttp

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Limiter keeps the requests of one token under a budget per rolling window
// (Pipedrive: a burst limit per 2 s). It is safe for concurrent use.
type Limiter struct {
	budget   int
	interval time.Duration

	mu          sync.Mutex
	serverMax   int
	inflight    int         // granted, response not yet in
	sent        []time.Time // responses still inside the window, ascending
	pausedUntil time.Time
	waits       int64
	waited      time.Duration
}

// NewLimiter allows budget requests in any interval (at least 1 request, 2 s
// when interval is 0).
func NewLimiter(budget int, interval time.Duration) *Limiter {
	if budget < 1 {
		budget = 1
	}
	if interval <= 0 {
		interval = 2 * time.Second
	}
	return &Limiter{budget: budget, interval: interval}
}

var (
	sharedMu sync.Mutex
	shared   = map[string]*Limiter{}
)

// SharedLimiter returns the process-wide limiter for key (a digest of base URL
// and token), created with budget and interval on first use, so every
// connection to one company with one token shares one budget.
func SharedLimiter(key string, budget int, interval time.Duration) *Limiter {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if l, ok := shared[key]; ok {
		return l
	}
	l := NewLimiter(budget, interval)
	shared[key] = l
	return l
}

func (l *Limiter) effective() int {
	if l.serverMax > 0 && l.serverMax < l.budget {
		return l.serverMax
	}
	return l.budget
}

func (l *Limiter) prune(now time.Time) {
	i := 0
	for i < len(l.sent) && !l.sent[i].Add(l.interval).After(now) {
		i++
	}
	l.sent = l.sent[i:]
}

// Acquire waits until a request may be sent. The caller must call the
// returned release exactly once when the response arrived, with its headers
// (nil when there was none): the request counts against the budget while in
// flight and for one interval after its response, so that the server, which
// counts it on arrival, never sees more than the budget in any window.
// Acquire returns ctx's error if ctx ends first, and then needs no release.
func (l *Limiter) Acquire(ctx context.Context) (func(http.Header), error) {
	start := time.Now()
	delayed := false
	for {
		l.mu.Lock()
		now := time.Now()
		l.prune(now)
		var wait time.Duration
		switch {
		case now.Before(l.pausedUntil):
			wait = l.pausedUntil.Sub(now)
		case l.inflight+len(l.sent) >= l.effective():
			wait = l.interval / 20
			if len(l.sent) > 0 {
				wait = l.sent[0].Add(l.interval).Sub(now)
			}
		default:
			l.inflight++
			if delayed {
				l.waits++
				l.waited += now.Sub(start)
			}
			l.mu.Unlock()
			var once sync.Once
			return func(h http.Header) { once.Do(func() { l.release(h) }) }, nil
		}
		l.mu.Unlock()
		delayed = true
		t := time.NewTimer(max(wait, time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// release ends one request now and reconciles with the server's view from
// the response's headers: the budget is lowered to x-ratelimit-limit, and
// when the server counts fewer requests left than this limiter does (another
// client shares the token), the window is treated as that full.
func (l *Limiter) release(h http.Header) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inflight--
	l.sent = append(l.sent, time.Now())
	if h == nil {
		return
	}
	if m, err := strconv.Atoi(h.Get("x-ratelimit-limit")); err == nil && m > 0 {
		l.serverMax = m
	}
	if r, err := strconv.Atoi(h.Get("x-ratelimit-remaining")); err == nil && r >= 0 {
		now := time.Now()
		l.prune(now)
		if extra := (l.effective() - r) - (l.inflight + len(l.sent)); extra > 0 {
			for range extra {
				l.sent = append(l.sent, now)
			}
		}
	}
}

// Pause stops all grants for d (a Retry-After), extending any pause in force.
func (l *Limiter) Pause(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if until := time.Now().Add(d); until.After(l.pausedUntil) {
		l.pausedUntil = until
	}
}

// Use returns the share of the budget used in the current window, in [0,1].
func (l *Limiter) Use() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.prune(time.Now())
	return min(1, float64(l.inflight+len(l.sent))/float64(l.effective()))
}

// Waits returns how many requests the limiter held back and for how long in
// all.
func (l *Limiter) Waits() (int64, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.waits, l.waited
}

package hubspothttp

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Limiter keeps the requests to one portal under a budget per rolling interval,
// serving Live waiters before Backfill waiters. Create it with NewLimiter or
// SharedLimiter; it is safe for concurrent use and starts a goroutine only while
// callers are waiting.
type Limiter struct {
	interval time.Duration
	budget   int
	now      func() time.Time

	mu          sync.Mutex
	serverMax   int         // X-HubSpot-RateLimit-Max, 0 until seen
	inflight    int         // granted and not yet released
	done        []time.Time // release times still inside the window, ascending
	pausedUntil time.Time
	lastGrant   time.Time
	queues      [2][]*waiter // indexed by Priority
	pumping     bool
	kick        chan struct{}
	// waits and waited count the requests the limiter held back and how long
	// they waited (see Stats).
	waits  int64
	waited time.Duration
}

type waiter struct {
	ready   chan struct{}
	granted bool
	since   time.Time // when it started waiting
	delayed bool      // the limiter held it back at least once
}

// NewLimiter returns a limiter allowing budget requests in any rolling interval.
// A budget below 1 is treated as 1; an interval of 0 means 10 s, HubSpot's
// window.
func NewLimiter(budget int, interval time.Duration) *Limiter {
	if budget < 1 {
		budget = 1
	}
	if interval <= 0 {
		interval = 10 * time.Second
	}
	return &Limiter{interval: interval, budget: budget, now: time.Now, kick: make(chan struct{}, 1)}
}

var (
	sharedMu sync.Mutex
	shared   = map[string]*Limiter{}
)

// SharedLimiter returns the process-wide limiter for key (a portal: callers pass
// a digest of base URL and token, never the token itself), creating it with
// budget and interval on first use. Later calls with the same key return the
// same limiter whatever budget they pass, so every connection to one portal in
// this process shares one budget.
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

// Budget returns the budget in force: the configured one, lowered to the
// server's X-HubSpot-RateLimit-Max once a response carried it.
func (l *Limiter) Budget() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.effectiveLocked()
}

// Use returns the share of the budget in use now: the requests in flight and
// those released within the last interval, over the budget in force, in
// [0,1]. It only reads.
func (l *Limiter) Use() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pruneLocked(l.now())
	return min(1, float64(l.inflight+len(l.done))/float64(l.effectiveLocked()))
}

// Interval returns the rolling window length.
func (l *Limiter) Interval() time.Duration { return l.interval }

func (l *Limiter) effectiveLocked() int {
	if l.serverMax > 0 && l.serverMax < l.budget {
		return l.serverMax
	}
	return l.budget
}

// Acquire waits until a request may be sent, serving Live callers first. It
// returns a release func the caller must call exactly once when the response
// arrived (with its headers, or nil when there was none); the request counts
// against the budget until one interval after that. Acquire returns ctx's error
// if ctx ends first, and then no release is needed.
func (l *Limiter) Acquire(ctx context.Context, p Priority) (func(http.Header), error) {
	if p != Live {
		p = Backfill
	}
	w := &waiter{ready: make(chan struct{})}
	l.mu.Lock()
	w.since = l.now()
	l.queues[p] = append(l.queues[p], w)
	if !l.pumping {
		l.pumping = true
		go l.pump()
	} else {
		l.kickLocked()
	}
	l.mu.Unlock()

	select {
	case <-w.ready:
		var once sync.Once
		return func(h http.Header) { once.Do(func() { l.release(h) }) }, nil
	case <-ctx.Done():
		l.mu.Lock()
		if w.granted {
			l.inflight--
		} else {
			l.countWaitLocked(w, l.now())
			q := l.queues[p]
			for i, x := range q {
				if x == w {
					l.queues[p] = append(q[:i:i], q[i+1:]...)
					break
				}
			}
		}
		l.kickLocked()
		l.mu.Unlock()
		return nil, ctx.Err()
	}
}

// Pause stops all grants for d (a Retry-After), extending any pause in force.
func (l *Limiter) Pause(d time.Duration) {
	if d <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if until := l.now().Add(d); until.After(l.pausedUntil) {
		l.pausedUntil = until
	}
	l.kickLocked()
}

func (l *Limiter) kickLocked() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// release ends one request at now and reconciles with the server's view.
func (l *Limiter) release(h http.Header) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.inflight--
	l.done = append(l.done, now)
	if h != nil {
		if m, err := strconv.Atoi(h.Get("X-HubSpot-RateLimit-Max")); err == nil && m > 0 {
			l.serverMax = m
		}
		if r, err := strconv.Atoi(h.Get("X-HubSpot-RateLimit-Remaining")); err == nil && r >= 0 {
			// The portal's budget is shared with other apps: when the server
			// counts more requests in its window than this limiter does, count
			// the difference as used until one interval from now.
			l.pruneLocked(now)
			used := l.inflight + len(l.done)
			if extra := (l.effectiveLocked() - r) - used; extra > 0 {
				for range extra {
					l.done = append(l.done, now)
				}
			}
		}
	}
	l.kickLocked()
}

func (l *Limiter) pruneLocked(now time.Time) {
	i := 0
	for i < len(l.done) && !l.done[i].Add(l.interval).After(now) {
		i++
	}
	l.done = l.done[i:]
}

// nextLocked returns how long until a request may be granted; 0 means now.
func (l *Limiter) nextLocked(now time.Time) time.Duration {
	l.pruneLocked(now)
	if now.Before(l.pausedUntil) {
		return l.pausedUntil.Sub(now)
	}
	eff := l.effectiveLocked()
	used := l.inflight + len(l.done)
	if used >= eff {
		if len(l.done) > 0 {
			return l.done[0].Add(l.interval).Sub(now) + time.Millisecond
		}
		return time.Hour // every slot is in flight: a release kicks the pump
	}
	// Pace evenly once the remaining budget runs low, so that a refilled
	// window is not spent in one burst that starves live calls arriving later.
	reserve := max(eff/5, 1)
	if eff-used <= reserve && !l.lastGrant.IsZero() {
		gap := l.interval / time.Duration(eff)
		if wait := l.lastGrant.Add(gap).Sub(now); wait > 0 {
			return wait
		}
	}
	return 0
}

func (l *Limiter) headLocked() (*waiter, Priority) {
	for _, p := range []Priority{Live, Backfill} {
		if len(l.queues[p]) > 0 {
			return l.queues[p][0], p
		}
	}
	return nil, 0
}

// pump grants slots to waiters in priority order; it exits when none wait.
func (l *Limiter) pump() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		l.mu.Lock()
		w, p := l.headLocked()
		if w == nil {
			l.pumping = false
			l.mu.Unlock()
			return
		}
		now := l.now()
		wait := l.nextLocked(now)
		if wait <= 0 {
			l.queues[p] = l.queues[p][1:]
			l.countWaitLocked(w, now)
			w.granted = true
			l.inflight++
			l.lastGrant = now
			close(w.ready)
			l.mu.Unlock()
			continue
		}
		for _, q := range l.queues {
			for _, x := range q {
				x.delayed = true
			}
		}
		l.mu.Unlock()
		timer.Reset(wait)
		select {
		case <-timer.C:
		case <-l.kick:
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		}
	}
}

package hubspothttp

import "time"

// LimiterStats is what a Limiter has done so far and holds now.
type LimiterStats struct {
	// Budget is the budget in force (see Limiter.Budget); InUse the requests
	// counted against it now: in flight, or released within the last interval.
	Budget, InUse int
	// Waits counts the requests the limiter held back (the budget was spent or
	// a Retry-After pause was in force) since it was created, and Waited is
	// their total time waiting, including requests whose ctx ended while they
	// waited. A request granted at once counts in neither.
	Waits  int64
	Waited time.Duration
}

// Stats returns the limiter's counters and current use. It is safe for
// concurrent use and does not block on waiting callers.
func (l *Limiter) Stats() LimiterStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pruneLocked(l.now())
	return LimiterStats{Budget: l.effectiveLocked(), InUse: l.inflight + len(l.done), Waits: l.waits, Waited: l.waited}
}

// countWaitLocked counts w's wait when the limiter held it back.
func (l *Limiter) countWaitLocked(w *waiter, now time.Time) {
	if !w.delayed {
		return
	}
	l.waits++
	if d := now.Sub(w.since); d > 0 {
		l.waited += d
	}
}

package hubspot

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Rate-limit windows, as HubSpot documents them.
const (
	rateWindow   = 10 * time.Second // TEN_SECONDLY_ROLLING
	searchWindow = time.Second      // search: requests per second per token
)

// limiter keeps, per token, the times of the requests admitted in the
// current rolling windows.
type limiter struct {
	max, searchMax int

	mu     sync.Mutex
	hits   map[string][]time.Time
	search map[string][]time.Time
	// recent are the times of every request of the last rateWindow, admitted
	// or refused, all tokens together; peak is the most there ever were.
	recent []time.Time
	peak   int
}

func newLimiter(max, searchMax int) *limiter {
	return &limiter{max: max, searchMax: searchMax, hits: map[string][]time.Time{}, search: map[string][]time.Time{}}
}

// verdict is the outcome of one admission check.
type verdict struct {
	ok         bool
	remaining  int
	retryAfter time.Duration
	policy     string
}

func prune(ts []time.Time, now time.Time, window time.Duration) []time.Time {
	i := 0
	for i < len(ts) && !ts[i].After(now.Add(-window)) {
		i++
	}
	return ts[i:]
}

// admit records a request by token at now if the budgets allow it.
func (l *limiter) admit(token string, now time.Time, isSearch bool) verdict {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recent = append(prune(l.recent, now, rateWindow), now)
	l.peak = max(l.peak, len(l.recent))
	hits := prune(l.hits[token], now, rateWindow)
	l.hits[token] = hits
	if l.max > 0 && len(hits) >= l.max {
		return verdict{remaining: 0, retryAfter: hits[0].Add(rateWindow).Sub(now), policy: "TEN_SECONDLY_ROLLING"}
	}
	if isSearch && l.searchMax > 0 {
		sh := prune(l.search[token], now, searchWindow)
		l.search[token] = sh
		if len(sh) >= l.searchMax {
			return verdict{remaining: l.max - len(hits), retryAfter: sh[0].Add(searchWindow).Sub(now), policy: "SECONDLY"}
		}
		l.search[token] = append(sh, now)
	}
	l.hits[token] = append(hits, now)
	return verdict{ok: true, remaining: l.max - len(hits) - 1}
}

// rateLimit enforces the per-token budgets. Every response carries
// X-HubSpot-RateLimit-Max, -Remaining and -Interval-Milliseconds; a refusal
// is a 429 with HubSpot's body and a Retry-After in whole seconds.
func (s *Server) rateLimit(next http.Handler, isSearch bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, _ := r.Context().Value(ctxKey{}).(string)
		v := s.limits.admit(token, s.cfg.Now(), isSearch)
		if s.limits.max > 0 {
			h := w.Header()
			h.Set("X-HubSpot-RateLimit-Max", strconv.Itoa(s.limits.max))
			h.Set("X-HubSpot-RateLimit-Remaining", strconv.Itoa(max(v.remaining, 0)))
			h.Set("X-HubSpot-RateLimit-Interval-Milliseconds", strconv.Itoa(int(rateWindow/time.Millisecond)))
		}
		if !v.ok {
			secs := int(math.Ceil(v.retryAfter.Seconds()))
			w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
			e := newError(http.StatusTooManyRequests, CategoryRateLimits, "You have reached your %s limit.", policyWords(v.policy))
			e.ErrorType = "RATE_LIMIT"
			e.PolicyName = v.policy
			s.log.DebugContext(r.Context(), "rate limited", "policy", v.policy, "path", r.URL.Path)
			writeError(w, e)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// PeakRequests returns the most requests the server received in any rolling
// 10 s (HubSpot's window) since it started: admitted or refused with a 429,
// all tokens together. It is safe for concurrent use.
func (s *Server) PeakRequests() int {
	s.limits.mu.Lock()
	defer s.limits.mu.Unlock()
	return s.limits.peak
}

func policyWords(policy string) string {
	if policy == "SECONDLY" {
		return "secondly"
	}
	return "ten_secondly_rolling"
}

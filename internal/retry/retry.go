package retry

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Policy says when and how long to wait between attempts.
type Policy struct {
	// Initial is the first wait. Default 500 ms.
	Initial time.Duration
	// Max caps one wait (a longer Retry-After is still honoured). Default 30 s.
	Max time.Duration
	// For bounds the time spent retrying: once the next wait would end past it,
	// the last error is returned. 0 retries until ctx is done.
	For time.Duration
	// Transient reports whether an error is worth another attempt; errors it
	// refuses are returned at once. Required.
	Transient func(error) bool
	// After returns the wait the system asked for, 0 when none; nil when
	// systems never ask.
	After func(error) time.Duration
	// Notify, when set, is called before each wait with the attempt that failed
	// (1 for the first), the wait and the error: the caller logs it.
	Notify func(attempt int, wait time.Duration, err error)
	// Recovered, when set, is called when fn succeeds after failing: attempts
	// is the number of calls, the successful one included.
	Recovered func(attempts int)
}

// GaveUpError is the last transient error after the policy's For ran out.
type GaveUpError struct {
	Attempts int
	Elapsed  time.Duration
	Err      error
}

// Error implements error.
func (e *GaveUpError) Error() string {
	return fmt.Sprintf("%v (still failing after %d attempts in %s)", e.Err, e.Attempts, e.Elapsed.Round(time.Second))
}

// Unwrap returns the last error.
func (e *GaveUpError) Unwrap() error { return e.Err }

// Do calls fn until it succeeds, fails with an error p.Transient refuses, the
// policy's For runs out (a *GaveUpError wrapping the last error) or ctx is done
// (ctx's error, joined with the last failure). Between attempts it waits with
// exponential backoff and jitter, at least as long as p.After says.
func Do(ctx context.Context, p Policy, fn func(context.Context) error) error {
	if p.Transient == nil {
		return errors.New("retry: policy has no Transient")
	}
	if p.Initial <= 0 {
		p.Initial = 500 * time.Millisecond
	}
	if p.Max <= 0 {
		p.Max = 30 * time.Second
	}
	start := time.Now()
	backoff := p.Initial
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil {
			if attempt > 1 && p.Recovered != nil {
				p.Recovered(attempt)
			}
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		if !p.Transient(err) {
			return err
		}
		wait := Jitter(backoff)
		if p.After != nil {
			wait = max(wait, p.After(err))
		}
		backoff = min(backoff*2, p.Max)
		if p.For > 0 && time.Since(start)+wait > p.For {
			return &GaveUpError{Attempts: attempt, Elapsed: time.Since(start), Err: err}
		}
		if p.Notify != nil {
			p.Notify(attempt, wait, err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(ctx.Err(), err)
		case <-t.C:
		}
	}
}

// Jitter returns a random duration in [d/2, d], so that clients failing
// together do not come back together.
func Jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1) //nolint:gosec // jitter needs no crypto
}

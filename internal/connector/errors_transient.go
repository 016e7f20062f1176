package connector

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"syscall"
	"time"
)

// TransientError is a failure a later attempt may not meet: the system was
// unreachable, overloaded, restarting or busy. Connectors wrap such errors
// (Transient) so that callers on the other side of the seam can tell them from
// refusals with IsTransient.
type TransientError struct {
	// After is how long the system asked to wait (Retry-After), 0 when it did
	// not say.
	After time.Duration
	Err   error
}

// Transient marks err as transient. It returns nil for a nil err.
func Transient(err error) error {
	if err == nil {
		return nil
	}
	return &TransientError{Err: err}
}

// Error implements error.
func (e *TransientError) Error() string { return e.Err.Error() }

// Unwrap returns the wrapped error.
func (e *TransientError) Unwrap() error { return e.Err }

// transienter is implemented by client errors that know whether they are
// transient (an HTTP 502 or 429, a database lock), so that packages below the
// connectors need not import this one.
type transienter interface {
	Transient() bool
}

// retryDelayer is implemented by client errors that carry the wait the system
// asked for (Retry-After).
type retryDelayer interface {
	RetryDelay() time.Duration
}

// IsTransient reports whether err is worth retrying after a pause: a timeout, a
// connection refused or reset, a rate limit (429), a server error (5xx), a
// database lock or a *TransientError. Permanent errors, refused credentials,
// unsupported operations and the caller's own cancellation are not; nor is an
// error nobody classified, so that an unknown failure stops rather than loops.
func IsTransient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var te *TransientError
	var ra *RetryAfterError
	var tr transienter
	switch {
	case IsPermanent(err), errors.Is(err, ErrUnauthorized), errors.Is(err, ErrUnsupported), errors.Is(err, ErrNotFound):
		return false
	case errors.As(err, &te), errors.As(err, &ra), errors.Is(err, ErrRateLimited), errors.Is(err, ErrConflict):
		return true
	case errors.As(err, &tr):
		return tr.Transient()
	}
	return isNetworkTransient(err)
}

// isNetworkTransient reports whether err is a transport failure: a timeout, a
// refused, reset or aborted connection, an unreachable host, a connection
// closed in the middle of an answer, or a pooled connection gone bad.
func isNetworkTransient(err error) bool {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return dns.IsTimeout || dns.IsTemporary
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	for _, errno := range []syscall.Errno{
		syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE,
		syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.ENETDOWN, syscall.ETIMEDOUT,
	} {
		if errors.Is(err, errno) {
			return true
		}
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, io.EOF) || errors.Is(err, driver.ErrBadConn)
}

// RetryAfter returns the wait the system asked for before the next attempt
// (an HTTP Retry-After), 0 when err carries none.
func RetryAfter(err error) time.Duration {
	var te *TransientError
	if errors.As(err, &te) && te.After > 0 {
		return te.After
	}
	var ra *RetryAfterError
	if errors.As(err, &ra) && ra.After > 0 {
		return ra.After
	}
	var rd retryDelayer
	if errors.As(err, &rd) {
		return rd.RetryDelay()
	}
	return 0
}

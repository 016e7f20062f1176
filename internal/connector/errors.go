package connector

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors checked with errors.Is.
var (
	// ErrNotFound means the record does not exist in the system.
	ErrNotFound = errors.New("not found")
	// ErrConflict means an optimistic-concurrency check failed; retry after re-reading.
	ErrConflict = errors.New("conflict: record changed since it was read")
	// ErrRateLimited means the system asked us to slow down.
	ErrRateLimited = errors.New("rate limited")
	// ErrUnauthorized means the credentials were refused.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrUnsupported means the connector does not support an entity or operation.
	ErrUnsupported = errors.New("unsupported")
)

// PermanentError is a failure a retry cannot fix: the system refused the record.
// Field names the offending canonical field when the system said which.
type PermanentError struct {
	Field string
	Err   error
}

// Permanent marks err as not retryable, optionally naming the field at fault.
func Permanent(field string, err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Field: field, Err: err}
}

// Error implements error.
func (e *PermanentError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("field %s: %v", e.Field, e.Err)
	}
	return e.Err.Error()
}

// Unwrap returns the wrapped error.
func (e *PermanentError) Unwrap() error { return e.Err }

// IsPermanent reports whether err, or any error it wraps, is permanent.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// RetryAfterError asks the caller to wait before retrying (HTTP 429 Retry-After).
type RetryAfterError struct {
	After time.Duration
	Err   error
}

// Error implements error.
func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("retry after %s: %v", e.After, e.Err)
}

// Unwrap returns the wrapped error.
func (e *RetryAfterError) Unwrap() error { return e.Err }

package trytonrpc

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinel errors, checked with errors.Is.
var (
	// ErrUnauthorized means the server refused the credentials (HTTP 401 on
	// login, or again right after a fresh login).
	ErrUnauthorized = errors.New("tryton: unauthorized")
	// ErrConcurrency means the records changed since their _timestamp was read
	// (ConcurrencyException). *RetryableError matches it.
	ErrConcurrency = errors.New("tryton: records were modified in the meanwhile")
	// ErrLocked means the database stayed locked through the server's own
	// retries. *RetryableError matches it.
	ErrLocked = errors.New("tryton: database locked")
	// ErrClosed means the client was closed.
	ErrClosed = errors.New("tryton: client closed")
)

// UserError is the server refusing a request for a reason a retry cannot fix:
// validation (required field, selection, domain), access rights, records that
// no longer exist. It carries only the human message and description; the
// domain and field definitions the server may append are dropped.
type UserError struct {
	Method      string
	Message     string
	Description string
}

// Error implements error.
func (e *UserError) Error() string {
	msg := e.Message
	if e.Description != "" {
		msg += " (" + e.Description + ")"
	}
	return fmt.Sprintf("tryton %s: %s", e.Method, msg)
}

// UserWarning is a business warning the server wants acknowledged. The caller
// decides: accept it with Client.AcceptWarning(Name) and retry, or give up.
type UserWarning struct {
	Method  string
	Name    string
	Message string
}

// Error implements error.
func (e *UserWarning) Error() string {
	return fmt.Sprintf("tryton %s: warning %s: %s", e.Method, e.Name, e.Message)
}

// RetryableError is a transient failure: a ConcurrencyException (stale
// _timestamp) or a database lock. It matches ErrConcurrency or ErrLocked.
type RetryableError struct {
	Method  string
	Message string
	// Concurrency is true for a ConcurrencyException, false for a lock.
	Concurrency bool
}

// Error implements error.
func (e *RetryableError) Error() string {
	return fmt.Sprintf("tryton %s: %s", e.Method, e.Message)
}

// Transient reports true: a later attempt may succeed. connector.IsTransient
// asks it.
func (e *RetryableError) Transient() bool { return true }

// Is matches ErrConcurrency or ErrLocked.
func (e *RetryableError) Is(target error) bool {
	if e.Concurrency {
		return target == ErrConcurrency
	}
	return target == ErrLocked
}

// RateLimitError is HTTP 429: too many failed logins for this user. The server
// refuses further logins until its session timeout (300 s by default) passes.
type RateLimitError struct {
	Method     string
	RetryAfter time.Duration
}

// Error implements error.
func (e *RateLimitError) Error() string {
	return fmt.Sprintf("tryton %s: too many requests, retry after %s", e.Method, e.RetryAfter)
}

// Transient reports true: the server accepts logins again after RetryAfter.
// connector.IsTransient asks it.
func (e *RateLimitError) Transient() bool { return true }

// RetryDelay returns RetryAfter. connector.RetryAfter asks it.
func (e *RateLimitError) RetryDelay() time.Duration { return e.RetryAfter }

// ServerError is any other server exception: an unknown field or model, a bad
// value, a programming error. Message is the exception text without traceback.
type ServerError struct {
	Method  string
	Type    string
	Message string
}

// Error implements error.
func (e *ServerError) Error() string {
	if e.Type != "" {
		return fmt.Sprintf("tryton %s: %s: %s", e.Method, e.Type, e.Message)
	}
	return fmt.Sprintf("tryton %s: server error: %s", e.Method, e.Message)
}

// HTTPError is an HTTP status other than 200 (403 method not allowed, 500 ...).
// The HTML body is not kept.
type HTTPError struct {
	Method string
	Status int
}

// Error implements error.
func (e *HTTPError) Error() string {
	return fmt.Sprintf("tryton %s: http status %d", e.Method, e.Status)
}

// Transient reports whether a later attempt may succeed: a 408, 429 or 5xx
// (a proxy in front of trytond answering 502 while it restarts, say).
// connector.IsTransient asks it.
func (e *HTTPError) Transient() bool { return e.Status == 408 || e.Status == 429 || e.Status >= 500 }

// Is matches ErrUnauthorized for 401.
func (e *HTTPError) Is(target error) bool { return e.Status == 401 && target == ErrUnauthorized }

// IsPermanent reports whether retrying err cannot succeed: a UserError, an
// unanswered UserWarning, a ServerError or a 4xx refusal other than 401/429.
func IsPermanent(err error) bool {
	var ue *UserError
	var uw *UserWarning
	var se *ServerError
	var he *HTTPError
	switch {
	case errors.As(err, &ue), errors.As(err, &uw), errors.As(err, &se):
		return true
	case errors.As(err, &he):
		return he.Status >= 400 && he.Status < 500 && he.Status != 401 && he.Status != 429
	}
	return false
}

// lockMarkers are texts of database lock errors that outlived the server's
// own retries (SQLite and PostgreSQL).
var lockMarkers = []string{
	"database is locked",
	"could not serialize access",
	"deadlock detected",
	"could not obtain lock",
	"lock timeout",
	"lock_not_available",
}

// parseError maps the "error" member of a JSON-RPC answer to a typed error.
// Shapes: ["UserError", [message, description, domain]], ["UserWarning",
// [name, message, description]], ["ConcurrencyException", message],
// [exception text, traceback].
func parseError(method string, raw json.RawMessage) error {
	var parts []json.RawMessage
	if err := json.Unmarshal(raw, &parts); err != nil || len(parts) == 0 {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return classifyText(method, s)
		}
		return &ServerError{Method: method, Message: "unreadable error"}
	}
	var kind string
	_ = json.Unmarshal(parts[0], &kind)
	var args []json.RawMessage
	var argText string
	if len(parts) > 1 {
		if json.Unmarshal(parts[1], &args) != nil {
			_ = json.Unmarshal(parts[1], &argText)
		}
	}
	str := func(i int) string {
		if i >= len(args) {
			return ""
		}
		var s string
		_ = json.Unmarshal(args[i], &s)
		return s
	}
	switch kind {
	case "UserError", "AccessError", "ValidationError", "RequiredValidationError",
		"SelectionValidationError", "DomainValidationError", "SizeValidationError",
		"DigitsValidationError", "ForbiddenCharValidationError", "TimeFormatValidationError",
		"ForeignKeyError", "SQLConstraintError", "RecursionError":
		return &UserError{Method: method, Message: str(0), Description: str(1)}
	case "UserWarning":
		return &UserWarning{Method: method, Name: str(0), Message: str(1)}
	case "ConcurrencyException":
		msg := argText
		if msg == "" {
			msg = str(0)
		}
		if msg == "" {
			msg = "records were modified in the meanwhile"
		}
		return &RetryableError{Method: method, Message: msg, Concurrency: true}
	case "LoginException":
		return &ServerError{Method: method, Type: kind, Message: str(1)}
	}
	// A bare Python exception: [str(exception), traceback]; keep only the text.
	return classifyText(method, kind)
}

func classifyText(method, text string) error {
	lower := strings.ToLower(text)
	for _, m := range lockMarkers {
		if strings.Contains(lower, m) {
			return &RetryableError{Method: method, Message: firstLine(text)}
		}
	}
	return &ServerError{Method: method, Message: firstLine(text)}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 500 {
		s = s[:500] + "..."
	}
	return s
}

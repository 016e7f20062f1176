package odoorpc

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Sentinel errors, checked with errors.Is. An *Error matches the one its kind
// names.
var (
	// ErrUnauthorized means the server refused the login or the password or
	// API key of a call (common.login answered false, or AccessDenied).
	ErrUnauthorized = errors.New("odoo: unauthorized")
	// ErrAccess means the user lacks the access rights or record rules for the
	// operation (odoo.exceptions.AccessError).
	ErrAccess = errors.New("odoo: access error")
	// ErrValidation means a value or a constraint was refused
	// (odoo.exceptions.ValidationError, a missing required field included).
	ErrValidation = errors.New("odoo: validation error")
	// ErrUser means a business rule refused the operation
	// (odoo.exceptions.UserError or RedirectWarning).
	ErrUser = errors.New("odoo: user error")
	// ErrMissing means a record does not exist or was deleted
	// (odoo.exceptions.MissingError).
	ErrMissing = errors.New("odoo: record missing")
	// ErrRateLimited means too many failed logins: Odoo refuses this user's
	// logins for a while (a minute by default).
	ErrRateLimited = errors.New("odoo: too many failed logins")
	// ErrClosed means the client was closed.
	ErrClosed = errors.New("odoo: client closed")
)

// Error kinds: the last dotted part of error.data.name.
const (
	KindAccessDenied    = "AccessDenied"
	KindAccessError     = "AccessError"
	KindValidationError = "ValidationError"
	KindUserError       = "UserError"
	KindRedirectWarning = "RedirectWarning"
	KindMissingError    = "MissingError"
	KindCacheMiss       = "CacheMiss"
)

// rateLimitBackoff is Odoo's default login cooldown (base.login_cooldown_duration).
const rateLimitBackoff = time.Minute

// Error is an error answered by the server. Odoo answers every error with HTTP
// 200, error.code 200 and the message "Odoo Server Error"; error.data.name (the
// Python exception class, e.g. "odoo.exceptions.ValidationError") tells them
// apart. Message is the exception's text without the traceback.
type Error struct {
	// Call names what was called: "res.partner.create", "common.login".
	Call string
	// Name is error.data.name as sent.
	Name string
	// Message is error.data.message, at most 1,000 characters.
	Message string
}

// Kind returns the exception class without its module: "ValidationError".
func (e *Error) Kind() string {
	return e.Name[strings.LastIndexByte(e.Name, '.')+1:]
}

// Error implements error.
func (e *Error) Error() string {
	return fmt.Sprintf("odoo %s: %s: %s", e.Call, e.Kind(), e.Message)
}

// Is matches the sentinel of the error's kind.
func (e *Error) Is(target error) bool {
	switch e.Kind() {
	case KindAccessDenied:
		if e.rateLimited() {
			return target == ErrRateLimited
		}
		return target == ErrUnauthorized
	case KindAccessError:
		return target == ErrAccess
	case KindValidationError:
		return target == ErrValidation
	case KindUserError, KindRedirectWarning:
		return target == ErrUser
	case KindMissingError:
		return target == ErrMissing
	}
	return false
}

func (e *Error) rateLimited() bool {
	return strings.Contains(strings.ToLower(e.Message), "too many login failures")
}

// transientMarkers are texts of database failures a later attempt may not
// meet: Odoo retries serialization failures itself a few times and then gives
// up with one of these.
var transientMarkers = []string{
	"could not serialize access",
	"deadlock detected",
	"could not obtain lock",
	"lock timeout",
	"canceling statement due to",
	"server closed the connection",
	"could not connect to server",
	"connection refused",
	"terminating connection",
	"connection pool is full",
	"the database system is starting up",
	"the database system is shutting down",
}

// Transient reports whether a later attempt may succeed: a serialization
// failure, a lock or a lost database connection, and too many failed logins
// (after RetryDelay). connector.IsTransient asks it.
func (e *Error) Transient() bool {
	if e.Kind() == KindAccessDenied {
		return e.rateLimited()
	}
	switch e.Kind() {
	case "SerializationFailure", "LockNotAvailable", "DeadlockDetected", "TransactionRollbackError", "QueryCanceled", "PoolError":
		return true
	}
	if strings.HasPrefix(e.Name, "psycopg2.") {
		lower := strings.ToLower(e.Message)
		for _, m := range transientMarkers {
			if strings.Contains(lower, m) {
				return true
			}
		}
	}
	return false
}

// RetryDelay returns how long to wait after too many failed logins, 0 for
// other errors. connector.RetryAfter asks it.
func (e *Error) RetryDelay() time.Duration {
	if e.Kind() == KindAccessDenied && e.rateLimited() {
		return rateLimitBackoff
	}
	return 0
}

// fieldInMessage finds the technical field name in Odoo's messages:
// "Field: Customer (partner_id)" (a missing required field).
var fieldInMessage = regexp.MustCompile(`(?m)^\s*Field:.*\(([a-z_][a-z0-9_]*)\)\s*$`)

// modelInMessage finds the model in "Model: Sales Order (sale.order)".
var modelInMessage = regexp.MustCompile(`(?m)^\s*Model:.*\(([a-z_][a-z0-9_.]*)\)\s*$`)

// Field returns the technical name of the field the server named in the
// message ("Field: Customer (partner_id)"), "" when it named none.
func (e *Error) Field() string {
	if m := fieldInMessage.FindStringSubmatch(e.Message); m != nil {
		return m[1]
	}
	return ""
}

// Model returns the model the server named in the message ("Model: Sales
// Order (sale.order)"), "" when it named none.
func (e *Error) Model() string {
	if m := modelInMessage.FindStringSubmatch(e.Message); m != nil {
		return m[1]
	}
	return ""
}

// HTTPError is an HTTP status other than 200 (a proxy's 502 while Odoo
// restarts, 404 when /jsonrpc is not served, 429 from a rate limiter ...). The
// body is not kept.
type HTTPError struct {
	Call   string
	Status int
	// RetryAfter is the wait a 429 or 503 asked for (Retry-After), 0 if none.
	RetryAfter time.Duration
}

// Error implements error.
func (e *HTTPError) Error() string {
	return fmt.Sprintf("odoo %s: http status %d", e.Call, e.Status)
}

// Transient reports whether a later attempt may succeed: 408, 429 and 5xx.
// connector.IsTransient asks it.
func (e *HTTPError) Transient() bool { return e.Status == 408 || e.Status == 429 || e.Status >= 500 }

// RetryDelay returns RetryAfter. connector.RetryAfter asks it.
func (e *HTTPError) RetryDelay() time.Duration { return e.RetryAfter }

// Is matches ErrUnauthorized for 401 and 403.
func (e *HTTPError) Is(target error) bool {
	return (e.Status == 401 || e.Status == 403) && target == ErrUnauthorized
}

// IsPermanent reports whether retrying err cannot succeed: an *Error that is
// not transient, or a 4xx status other than 408 and 429.
func IsPermanent(err error) bool {
	var oe *Error
	var he *HTTPError
	switch {
	case errors.As(err, &oe):
		return !oe.Transient()
	case errors.As(err, &he):
		return he.Status >= 400 && he.Status < 500 && he.Status != 408 && he.Status != 429
	}
	return false
}

// rpcError is the "error" member of a JSON-RPC answer.
type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    *struct {
		Name    string `json:"name"`
		Message string `json:"message"`
	} `json:"data"`
}

// parseError maps the "error" member of an answer to an *Error.
func parseError(call string, raw json.RawMessage) error {
	var re rpcError
	if err := json.Unmarshal(raw, &re); err != nil {
		return &Error{Call: call, Name: "unknown", Message: "unreadable error"}
	}
	e := &Error{Call: call, Name: "unknown", Message: re.Message}
	if re.Data != nil {
		if re.Data.Name != "" {
			e.Name = re.Data.Name
		}
		if re.Data.Message != "" {
			e.Message = re.Data.Message
		}
	}
	e.Message = strings.TrimSpace(e.Message)
	if len(e.Message) > 1000 {
		e.Message = e.Message[:1000] + "..."
	}
	return e
}

package sfhttp

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// APIError is one entry of Salesforce's error list. Single-record calls name
// the code errorCode; sObject Collections name it statusCode.
type APIError struct {
	Message    string   `json:"message"`
	ErrorCode  string   `json:"errorCode,omitempty"`
	StatusCode string   `json:"statusCode,omitempty"`
	Fields     []string `json:"fields"`
}

// Code returns the error code whichever key carried it.
func (e APIError) Code() string {
	if e.ErrorCode != "" {
		return e.ErrorCode
	}
	return e.StatusCode
}

func (e APIError) Error() string {
	if len(e.Fields) > 0 {
		return fmt.Sprintf("%s: %s (fields %s)", e.Code(), e.Message, strings.Join(e.Fields, ", "))
	}
	return e.Code() + ": " + e.Message
}

// Error is a failed call: the HTTP status and Salesforce's errors.
type Error struct {
	Op         string
	Status     int
	Errors     []APIError
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: salesforce answered %d", e.Op, e.Status)
	for _, x := range e.Errors {
		b.WriteString(": ")
		b.WriteString(x.Error())
	}
	return b.String()
}

// Has reports whether one of the errors has code.
func (e *Error) Has(code string) bool {
	for _, x := range e.Errors {
		if x.Code() == code {
			return true
		}
	}
	return false
}

// Transient reports whether repeating the call later may succeed: the
// request limit, a locked row, a server error.
func (e *Error) Transient() bool {
	if e.Status >= 500 || e.Has("REQUEST_LIMIT_EXCEEDED") || e.Has("UNABLE_TO_LOCK_ROW") || e.Has("SERVER_UNAVAILABLE") {
		return true
	}
	return e.Status == http.StatusTooManyRequests
}

// RateLimited reports whether the org's API request limit refused the call.
func (e *Error) RateLimited() bool { return e.Has("REQUEST_LIMIT_EXCEEDED") }

// TransientCode reports whether a per-record error code may pass on retry.
func TransientCode(code string) bool {
	switch code {
	case "UNABLE_TO_LOCK_ROW", "REQUEST_LIMIT_EXCEEDED", "SERVER_UNAVAILABLE", "ALL_OR_NONE_OPERATION_ROLLED_BACK":
		return true
	}
	return false
}

// RetryDelay returns the wait to suggest before a retry (the request limit).
func (e *Error) RetryDelay() time.Duration { return e.RetryAfter }

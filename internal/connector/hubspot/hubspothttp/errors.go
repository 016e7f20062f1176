package hubspothttp

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Error categories HubSpot puts in error bodies.
const (
	CategoryValidation     = "VALIDATION_ERROR"
	CategoryNotFound       = "OBJECT_NOT_FOUND"
	CategoryConflict       = "CONFLICT"
	CategoryRateLimits     = "RATE_LIMITS"
	CategoryAuthentication = "INVALID_AUTHENTICATION"
)

// Error is a HubSpot error body: the answer to a failed call (with StatusCode
// set) or one element of a batch answer's errors (StatusCode 0, Status "error").
type Error struct {
	// StatusCode is the HTTP status of a failed call; 0 inside a batch answer.
	StatusCode    int                 `json:"-"`
	Status        string              `json:"status"`
	Message       string              `json:"message"`
	CorrelationID string              `json:"correlationId,omitempty"`
	Category      string              `json:"category"`
	SubCategory   string              `json:"subCategory,omitempty"`
	Context       map[string][]string `json:"context,omitempty"`
	Errors        []ErrorDetail       `json:"errors,omitempty"`
	PolicyName    string              `json:"policyName,omitempty"`
	// RetryAfter is the server's Retry-After on a 429, 0 otherwise.
	RetryAfter time.Duration `json:"-"`
}

// ErrorDetail is one entry of Error.Errors.
type ErrorDetail struct {
	Message string              `json:"message"`
	Code    string              `json:"code,omitempty"`
	In      string              `json:"in,omitempty"`
	Context map[string][]string `json:"context,omitempty"`
}

// Error implements error. It names the status, category and correlation id, and
// HubSpot's message, which names properties, never their values' owners.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("hubspot")
	if e.StatusCode != 0 {
		b.WriteString(" ")
		b.WriteString(strconv.Itoa(e.StatusCode))
	}
	if e.Category != "" {
		b.WriteString(" ")
		b.WriteString(e.Category)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.CorrelationID != "" {
		fmt.Fprintf(&b, " (correlation id %s)", e.CorrelationID)
	}
	return b.String()
}

// Properties returns the property names the error blames, from its context and
// details, without duplicates.
func (e *Error) Properties() []string {
	var out []string
	seen := map[string]bool{}
	add := func(names []string) {
		for _, n := range names {
			if n != "" && !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	add(e.Context["propertyName"])
	for _, d := range e.Errors {
		add(d.Context["propertyName"])
	}
	return out
}

// IsRateLimited reports whether e is a 429.
func (e *Error) IsRateLimited() bool { return e.StatusCode == http.StatusTooManyRequests }

// Transient reports whether a later attempt of the call may succeed: a 429, a
// 408 or a 5xx answer. connector.IsTransient asks it.
func (e *Error) Transient() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode == http.StatusRequestTimeout || e.StatusCode >= 500
}

// RetryDelay returns the server's Retry-After on a 429, 0 otherwise.
// connector.RetryAfter asks it.
func (e *Error) RetryDelay() time.Duration { return e.RetryAfter }

// parseRetryAfter reads a Retry-After header: seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

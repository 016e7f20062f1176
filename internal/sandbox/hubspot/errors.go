package hubspot

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/google/uuid"
)

// Error categories used in HubSpot error bodies.
const (
	CategoryValidation     = "VALIDATION_ERROR"
	CategoryNotFound       = "OBJECT_NOT_FOUND"
	CategoryConflict       = "CONFLICT"
	CategoryRateLimits     = "RATE_LIMITS"
	CategoryAuthentication = "INVALID_AUTHENTICATION"
	CategoryMethod         = "METHOD_NOT_ALLOWED"
)

// Error is a HubSpot error: the JSON body HubSpot returns on failure (and
// the element type of a batch response's "errors" array) together with the
// HTTP status it is sent with. In-process accessors return *Error too, so
// callers can inspect Category with errors.As.
type Error struct {
	HTTPStatus    int                 `json:"-"`
	Status        string              `json:"status"`
	Message       string              `json:"message"`
	CorrelationID string              `json:"correlationId,omitempty"`
	Category      string              `json:"category"`
	SubCategory   string              `json:"subCategory,omitempty"`
	Context       map[string][]string `json:"context,omitempty"`
	Errors        []ErrorDetail       `json:"errors,omitempty"`
	// ErrorType and PolicyName are set on 429 answers only.
	ErrorType  string `json:"errorType,omitempty"`
	PolicyName string `json:"policyName,omitempty"`
}

// ErrorDetail is one entry of Error.Errors.
type ErrorDetail struct {
	Message string              `json:"message"`
	Code    string              `json:"code,omitempty"`
	In      string              `json:"in,omitempty"`
	Context map[string][]string `json:"context,omitempty"`
}

// Error implements error.
func (e *Error) Error() string {
	return fmt.Sprintf("hubspot %d %s: %s", e.HTTPStatus, e.Category, e.Message)
}

func newError(status int, category, format string, args ...any) *Error {
	return &Error{HTTPStatus: status, Status: "error", Category: category, Message: fmt.Sprintf(format, args...)}
}

func errValidation(format string, args ...any) *Error {
	return newError(http.StatusBadRequest, CategoryValidation, format, args...)
}

func errNotFound(format string, args ...any) *Error {
	return newError(http.StatusNotFound, CategoryNotFound, format, args...)
}

// propertyError is one element of HubSpot's "Property values were not
// valid" list.
type propertyError struct {
	IsValid bool   `json:"isValid"`
	Message string `json:"message"`
	Error   string `json:"error"`
	Name    string `json:"name"`
}

// errPropertyValues builds HubSpot's 400 answer for invalid property values,
// e.g. PROPERTY_DOESNT_EXIST, naming every offending property.
func errPropertyValues(list []propertyError) *Error {
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	raw, _ := json.Marshal(list) // a slice of plain structs always marshals
	e := errValidation("Property values were not valid: %s", raw)
	names := make([]string, 0, len(list))
	for _, p := range list {
		names = append(names, p.Name)
		e.Errors = append(e.Errors, ErrorDetail{Message: p.Message, Code: p.Error, Context: map[string][]string{"propertyName": {p.Name}}})
	}
	e.Context = map[string][]string{"propertyName": names}
	return e
}

// writeError sends e with a fresh correlation id.
func writeError(w http.ResponseWriter, e *Error) {
	out := *e
	if out.CorrelationID == "" {
		out.CorrelationID = uuid.NewString()
	}
	writeJSON(w, out.HTTPStatus, &out)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	if v == nil {
		return
	}
	enc := json.NewEncoder(w)
	_ = enc.Encode(v) // the client went away; nothing useful to do
}

// decodeBody reads a JSON request body into v with numbers kept as text.
func decodeBody(r *http.Request, v any) *Error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 16<<20))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return errValidation("Invalid input JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

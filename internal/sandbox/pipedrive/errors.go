package pipedrive

import (
	"encoding/json"
	"net/http"
)

// apiError is Pipedrive's error body: success false, a message, a code for
// v2 validation failures and a pointer to the docs.
type apiError struct {
	status int
	msg    string
	code   string
}

func (e *apiError) Error() string { return e.msg }

func badRequest(msg string) *apiError {
	return &apiError{status: http.StatusBadRequest, msg: "Validation failed: " + msg, code: "ERR_SCHEMA_VALIDATION_FAILED"}
}

func notFound(what string) *apiError {
	return &apiError{status: http.StatusNotFound, msg: what + " not found", code: "ERR_NOT_FOUND"}
}

const errorInfo = "Please check developers.pipedrive.com for more information about Pipedrive API."

func writeError(w http.ResponseWriter, e *apiError) {
	body := map[string]any{"success": false, "error": e.msg, "error_info": errorInfo, "data": nil, "additional_data": nil}
	if e.code != "" {
		body["code"] = e.code
	}
	writeJSON(w, e.status, body)
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// ok writes {"success": true, "data": data} with additional_data when given.
func ok(w http.ResponseWriter, status int, data any, additional map[string]any) {
	body := map[string]any{"success": true, "data": data}
	if additional != nil {
		body["additional_data"] = additional
	}
	writeJSON(w, status, body)
}

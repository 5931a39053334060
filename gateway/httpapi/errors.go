package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/chatgate/chatgate/gateway"
)

// Error codes shared by every route. Clients branch on the code, never on the
// message, so a code once published does not change meaning. Packages that
// mount handlers add their own codes (for example "invalid_message").
const (
	// CodeUnauthorized: no bearer token, a malformed one, or an unknown one (401).
	CodeUnauthorized = "unauthorized"
	// CodeForbidden: a known token whose role may not use the route (403).
	CodeForbidden = "forbidden"
	// CodeNotFound: no route matches the path (404).
	CodeNotFound = "not_found"
	// CodeMethodNotAllowed: the path exists, the method does not (405).
	CodeMethodNotAllowed = "method_not_allowed"
	// CodeUnsupportedMediaType: the request body is not JSON (415).
	CodeUnsupportedMediaType = "unsupported_media_type"
	// CodeBodyTooLarge: the request body is over the route's limit (413).
	CodeBodyTooLarge = "body_too_large"
	// CodeInvalidJSON: the body is not one JSON object of the expected shape,
	// or not UTF-8, or holds a lone UTF-16 surrogate escape (400).
	CodeInvalidJSON = "invalid_json"
	// CodeUnknownField: the body has a field the route does not read; the
	// details name it (400, R38).
	CodeUnknownField = "unknown_field"
	// CodeInvalidInput: a value the store refused as data (a PostgreSQL data
	// exception) that the route's validation let through; correct the
	// request, retrying it as it is fails again (422, R38).
	CodeInvalidInput = "invalid_input"
	// CodeUnavailable: a dependency (Kafka, PostgreSQL) failed; retry (503).
	CodeUnavailable = "unavailable"
	// CodeInternal: a bug or an unexpected failure; the server logged it (500).
	CodeInternal = "internal"
)

// ErrorDetail names one problem with one field of a request, for example
// {"field":"from","message":"is required"}. Field uses the JSON name.
type ErrorDetail struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is an error that knows its HTTP answer. Handlers return it (or wrap
// it) and let WriteErrorFrom turn it into the response, so the mapping from
// errors to statuses lives in one place.
type Error struct {
	Status  int
	Code    string
	Message string
	Details []ErrorDetail
}

// Error implements the error interface.
func (e *Error) Error() string { return e.Code + ": " + e.Message }

// errorBody is the JSON shape of every error response (openapi.yaml, components.schemas.Error).
type errorBody struct {
	Error errorPayload `json:"error"`
}

type errorPayload struct {
	Code    string        `json:"code"`
	Message string        `json:"message"`
	Details []ErrorDetail `json:"details,omitempty"`
}

// WriteJSON writes v as the JSON response body with the given status. v is
// encoded before anything is sent, so a value that cannot be encoded (a bug)
// becomes a 500 "internal" instead of a half-written body.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		WriteError(w, http.StatusInternalServerError, CodeInternal, "response could not be encoded")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// WriteError writes {"error":{"code":…,"message":…}} with the given status.
func WriteError(w http.ResponseWriter, status int, code, message string) {
	WriteErrorDetails(w, status, code, message, nil)
}

// WriteErrorDetails is WriteError with a "details" array naming the fields
// at fault; an empty details slice is left out of the body.
func WriteErrorDetails(w http.ResponseWriter, status int, code, message string, details []ErrorDetail) {
	WriteJSON(w, status, errorBody{Error: errorPayload{Code: code, Message: message, Details: details}})
}

// WriteUnavailable answers 503 "unavailable" with Retry-After: 1. Use it when
// a dependency failed and nothing was stored, so the client knows to retry.
func WriteUnavailable(w http.ResponseWriter, message string) {
	w.Header().Set("Retry-After", "1")
	WriteError(w, http.StatusServiceUnavailable, CodeUnavailable, message)
}

// WriteErrorFrom maps err to its response: an *Error (anywhere in the chain)
// is written as it says; a value the store refused as data
// (gateway.IsInvalidData) is 422 "invalid_input", never a "retry";
// gateway.ErrUnavailable becomes 503 "unavailable" with Retry-After;
// anything else is a 500 "internal" whose text is not shown to the client
// (log it before calling).
func WriteErrorFrom(w http.ResponseWriter, err error) {
	var e *Error
	switch {
	case errors.As(err, &e):
		WriteErrorDetails(w, e.Status, e.Code, e.Message, e.Details)
	case gateway.IsInvalidData(err):
		WriteInvalidInput(w)
	case errors.Is(err, gateway.ErrUnavailable):
		WriteUnavailable(w, "a dependency is unavailable; retry shortly")
	default:
		WriteError(w, http.StatusInternalServerError, CodeInternal, "internal error")
	}
}

// WriteInvalidInput answers 422 "invalid_input": the store refused a value
// of the request as data. It is the second line behind each route's
// validation (R38): whatever slipped through is still a 4xx, and a client
// that retries on 503 does not retry it for ever.
func WriteInvalidInput(w http.ResponseWriter) {
	WriteError(w, http.StatusUnprocessableEntity, CodeInvalidInput,
		"the request holds a value chatgate cannot store (for example a control character); correct it, do not retry it as it is")
}

package httpapi_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/httpapi"
)

func TestWriteErrorShape(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		write   func(w http.ResponseWriter)
		want    string
		status  int
		headers map[string]string
	}{
		{
			name:   "plain",
			write:  func(w http.ResponseWriter) { httpapi.WriteError(w, 409, "conflict", "already there") },
			want:   `{"error":{"code":"conflict","message":"already there"}}` + "\n",
			status: 409,
		},
		{
			name: "with details",
			write: func(w http.ResponseWriter) {
				httpapi.WriteErrorDetails(w, 422, "invalid_message", "bad fields",
					[]httpapi.ErrorDetail{{Field: "from", Message: "is required"}})
			},
			want:   `{"error":{"code":"invalid_message","message":"bad fields","details":[{"field":"from","message":"is required"}]}}` + "\n",
			status: 422,
		},
		{
			name:   "empty details left out",
			write:  func(w http.ResponseWriter) { httpapi.WriteErrorDetails(w, 400, "x", "y", []httpapi.ErrorDetail{}) },
			want:   `{"error":{"code":"x","message":"y"}}` + "\n",
			status: 400,
		},
		{
			name:    "unavailable",
			write:   func(w http.ResponseWriter) { httpapi.WriteUnavailable(w, "retry") },
			want:    `{"error":{"code":"unavailable","message":"retry"}}` + "\n",
			status:  503,
			headers: map[string]string{"Retry-After": "1"},
		},
		{
			name:   "json",
			write:  func(w http.ResponseWriter) { httpapi.WriteJSON(w, 202, map[string]string{"status": "accepted"}) },
			want:   `{"status":"accepted"}` + "\n",
			status: 202,
		},
		{
			name:   "unencodable json becomes 500",
			write:  func(w http.ResponseWriter) { httpapi.WriteJSON(w, 200, map[string]any{"f": func() {}}) },
			want:   `{"error":{"code":"internal","message":"response could not be encoded"}}` + "\n",
			status: 500,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			tt.write(rec)
			if rec.Code != tt.status {
				t.Errorf("status = %d, want %d", rec.Code, tt.status)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if got := rec.Body.String(); got != tt.want {
				t.Errorf("body = %s, want %s", got, tt.want)
			}
			for k, v := range tt.headers {
				if got := rec.Header().Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestWriteErrorFrom(t *testing.T) {
	t.Parallel()
	typed := &httpapi.Error{Status: 422, Code: "invalid_message", Message: "bad", Details: []httpapi.ErrorDetail{{Field: "id", Message: "is required"}}}
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantCode   string
		retryAfter string
	}{
		{name: "typed", err: typed, wantStatus: 422, wantCode: "invalid_message"},
		{name: "wrapped typed", err: fmt.Errorf("handle: %w", typed), wantStatus: 422, wantCode: "invalid_message"},
		{name: "unavailable", err: fmt.Errorf("publish: %w: broker down", gateway.ErrUnavailable), wantStatus: 503, wantCode: "unavailable", retryAfter: "1"},
		{name: "anything else", err: errors.New("secret dsn postgres://u:pw@h"), wantStatus: 500, wantCode: "internal"},
		// R38's second line: a data error of the store is the request's fault.
		{name: "data error of the store", err: fmt.Errorf("save: %w", &sqlStateError{"22021"}), wantStatus: 422, wantCode: "invalid_input"},
		{name: "data error while unavailable is still invalid input", err: fmt.Errorf("%w: %w", gateway.ErrUnavailable, &sqlStateError{"22P05"}), wantStatus: 422, wantCode: "invalid_input"},
		{name: "serialization failure is not invalid input", err: &sqlStateError{"40001"}, wantStatus: 500, wantCode: "internal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			httpapi.WriteErrorFrom(rec, tt.err)
			e := assertJSONError(t, rec.Result(), tt.wantStatus, tt.wantCode)
			if got := rec.Header().Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tt.retryAfter)
			}
			if strings.Contains(e.Error.Message, "pw@") {
				t.Errorf("message %q leaks the error text", e.Error.Message)
			}
		})
	}
}

// sqlStateError stands in for pgx's *pgconn.PgError, which has the same method.
type sqlStateError struct{ code string }

func (e *sqlStateError) Error() string    { return "ERROR: secret value (SQLSTATE " + e.code + ")" }
func (e *sqlStateError) SQLState() string { return e.code }

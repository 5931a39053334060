package deskapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// R38's second line: whatever validation lets through and PostgreSQL then
// refuses as data (SQLSTATE class 22) is the request's fault. It is never
// answered 503 "retry with the same request_id", which a client following
// the docs would do for ever. pgx's own error type is used, so the match
// is the one production sees.
func TestR38_DataErrorOfTheStoreIsNotARetry(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		err    error
		status int
		code   string
	}{
		{fmt.Errorf("execute reply r-1: %w", &pgconn.PgError{Code: "22021", Message: `invalid byte sequence for encoding "UTF8": 0x00`}), 422, "invalid_input"},
		{fmt.Errorf("save outcome: %w", &pgconn.PgError{Code: "22P05", Message: "unsupported Unicode escape sequence"}), 422, "invalid_input"},
		{fmt.Errorf("execute: %w", &pgconn.PgError{Code: "40P01"}), 503, "unavailable"},
		{errors.New("dial tcp 127.0.0.1:5432: connection refused"), 503, "unavailable"},
	} {
		t.Run(tt.err.Error(), func(t *testing.T) {
			rec := httptest.NewRecorder()
			writeFailure(rec, tt.err, "retry with the same request_id")
			if rec.Code != tt.status || !strings.Contains(rec.Body.String(), `"code":"`+tt.code+`"`) {
				t.Errorf("%v: %d %s, want %d %s", tt.err, rec.Code, rec.Body.String(), tt.status, tt.code)
			}
			if retry := rec.Header().Get("Retry-After") != ""; retry != (tt.status == http.StatusServiceUnavailable) {
				t.Errorf("%v: Retry-After set = %v", tt.err, retry)
			}
		})
	}
}

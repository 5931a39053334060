package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/chatgate/chatgate/gateway/httpapi"
)

// Defect: /readyz of an ingress-only process failed while PostgreSQL was
// down, although intake needs only Kafka. Optional checks are reported and
// leave the process ready.
func TestReadyzOptionalChecksReportButDoNotFail(t *testing.T) {
	t.Parallel()
	ok := func(context.Context) error { return nil }
	down := func(context.Context) error { return errors.New("down") }
	tests := []struct {
		name         string
		required     map[string]func(context.Context) error
		optional     map[string]func(context.Context) error
		wantStatus   int
		wantChecks   map[string]string
		wantDegraded []string
	}{
		{
			name:       "optional down, required up",
			required:   map[string]func(context.Context) error{"kafka": ok},
			optional:   map[string]func(context.Context) error{"postgres": down},
			wantStatus: http.StatusOK, wantChecks: map[string]string{"kafka": "ok", "postgres": "down"},
			wantDegraded: []string{"postgres"},
		},
		{
			name:       "everything up",
			required:   map[string]func(context.Context) error{"kafka": ok},
			optional:   map[string]func(context.Context) error{"postgres": ok},
			wantStatus: http.StatusOK, wantChecks: map[string]string{"kafka": "ok", "postgres": "ok"},
		},
		{
			name:       "required down",
			required:   map[string]func(context.Context) error{"kafka": down},
			optional:   map[string]func(context.Context) error{"postgres": down},
			wantStatus: http.StatusServiceUnavailable, wantChecks: map[string]string{"kafka": "down", "postgres": "down"},
			wantDegraded: []string{"postgres"},
		},
		{
			name:       "a name in both is required",
			required:   map[string]func(context.Context) error{"postgres": down},
			optional:   map[string]func(context.Context) error{"postgres": ok},
			wantStatus: http.StatusServiceUnavailable, wantChecks: map[string]string{"postgres": "down"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := httpapi.New(httpapi.Config{ReadyChecks: tt.required, OptionalChecks: tt.optional})
			resp := serve(t, s.Handler(), http.MethodGet, "/readyz", nil)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			var got struct {
				Status   string            `json:"status"`
				Checks   map[string]string `json:"checks"`
				Degraded []string          `json:"degraded"`
				Error    *struct {
					Code    string `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			decodeJSON(t, []byte(readAll(t, resp)), &got)
			if len(got.Checks) != len(tt.wantChecks) {
				t.Fatalf("checks = %v, want %v", got.Checks, tt.wantChecks)
			}
			for name, want := range tt.wantChecks {
				if got.Checks[name] != want {
					t.Errorf("check %s = %q, want %q", name, got.Checks[name], want)
				}
			}
			if ready := tt.wantStatus == http.StatusOK; ready != (got.Status == "ready") || ready != (got.Error == nil) {
				t.Errorf("status field %q, error %+v on a %d answer", got.Status, got.Error, resp.StatusCode)
			}
			if !slices.Equal(got.Degraded, tt.wantDegraded) {
				t.Errorf("degraded = %v, want %v", got.Degraded, tt.wantDegraded)
			}
		})
	}
}

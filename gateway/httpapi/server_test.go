package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway/httpapi"
)

// errorResponse is the JSON shape of every error response.
type errorResponse struct {
	Error struct {
		Code    string                `json:"code"`
		Message string                `json:"message"`
		Details []httpapi.ErrorDetail `json:"details"`
	} `json:"error"`
}

// jsonUnmarshalStrict refuses fields v does not have, so tests notice
// anything a response carries beyond what they expect.
func jsonUnmarshalStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("more than one JSON value")
	}
	return nil
}

func decodeJSON(t *testing.T, body []byte, v any) {
	t.Helper()
	if err := jsonUnmarshalStrict(body, v); err != nil {
		t.Fatalf("response body %q is not the expected JSON: %v", body, err)
	}
}

// assertJSONError checks status, content type and error code of resp and
// returns the decoded error.
func assertJSONError(t *testing.T, resp *http.Response, status int, code string) errorResponse {
	t.Helper()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	if resp.StatusCode != status {
		t.Errorf("status = %d, want %d; body %s", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var e errorResponse
	decodeJSON(t, body, &e)
	if e.Error.Code != code {
		t.Errorf("error code = %q, want %q; body %s", e.Error.Code, code, body)
	}
	if e.Error.Message == "" {
		t.Errorf("error message is empty; body %s", body)
	}
	return e
}

func serve(t *testing.T, h http.Handler, method, target string, body io.Reader) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, body))
	return rec.Result()
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return string(b)
}

func TestHealthz(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		version string
		want    map[string]string
	}{
		{name: "without version", want: map[string]string{"status": "ok"}},
		{name: "with version", version: "1.2.3", want: map[string]string{"status": "ok", "version": "1.2.3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := serve(t, httpapi.New(httpapi.Config{Version: tt.version}).Handler(), http.MethodGet, "/healthz", nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status = %d", resp.StatusCode)
			}
			var got map[string]string
			decodeJSON(t, []byte(readAll(t, resp)), &got)
			if len(got) != len(tt.want) {
				t.Fatalf("body = %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

func TestRouterErrorsAreJSON(t *testing.T) {
	t.Parallel()
	s := httpapi.New(httpapi.Config{})
	s.Handle("POST /v1/things", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	tests := []struct {
		name       string
		method     string
		target     string
		wantStatus int
		wantCode   string
		wantAllow  string
	}{
		{name: "unknown path", method: http.MethodGet, target: "/nope", wantStatus: 404, wantCode: "not_found"},
		{name: "unknown nested path", method: http.MethodPost, target: "/v1/things/42", wantStatus: 404, wantCode: "not_found"},
		{name: "wrong method on built-in route", method: http.MethodPost, target: "/healthz", wantStatus: 405, wantCode: "method_not_allowed", wantAllow: "GET, HEAD"},
		{name: "wrong method on mounted route", method: http.MethodGet, target: "/v1/things", wantStatus: 405, wantCode: "method_not_allowed", wantAllow: "POST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := serve(t, s.Handler(), tt.method, tt.target, nil)
			e := assertJSONError(t, resp, tt.wantStatus, tt.wantCode)
			if strings.Contains(e.Error.Message, "\n") {
				t.Errorf("message %q carries the mux's text body", e.Error.Message)
			}
			if got := resp.Header.Get("Allow"); got != tt.wantAllow {
				t.Errorf("Allow = %q, want %q", got, tt.wantAllow)
			}
		})
	}
}

func TestHandlerOwn404IsKept(t *testing.T) {
	t.Parallel()
	// A mounted handler's own 404 (a ticket that does not exist) is its
	// business; only the router's unmatched answers are rewritten.
	s := httpapi.New(httpapi.Config{})
	s.Handle("GET /v1/things/{id}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteError(w, http.StatusNotFound, "thing_not_found", "no thing "+r.PathValue("id"))
	}))
	resp := serve(t, s.Handler(), http.MethodGet, "/v1/things/7", nil)
	e := assertJSONError(t, resp, http.StatusNotFound, "thing_not_found")
	if e.Error.Message != "no thing 7" {
		t.Errorf("message = %q; path values must reach the handler", e.Error.Message)
	}
}

func TestPanicBecomesJSON500(t *testing.T) {
	t.Parallel()
	s := httpapi.New(httpapi.Config{})
	s.Handle("GET /boom", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("boom")
	}))
	resp := serve(t, s.Handler(), http.MethodGet, "/boom", nil)
	e := assertJSONError(t, resp, http.StatusInternalServerError, "internal")
	if strings.Contains(e.Error.Message, "boom") {
		t.Errorf("message %q leaks the panic value", e.Error.Message)
	}
}

func TestPanicAfterHeaderAbortsResponse(t *testing.T) {
	t.Parallel()
	s := httpapi.New(httpapi.Config{})
	s.Handle("GET /half", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"partial":`))
		panic("boom")
	}))
	defer func() {
		if p := recover(); p != http.ErrAbortHandler {
			t.Fatalf("recovered %v, want http.ErrAbortHandler so net/http drops the connection", p)
		}
	}()
	serve(t, s.Handler(), http.MethodGet, "/half", nil)
	t.Fatal("ServeHTTP returned normally after a panic mid-response")
}

func TestReadyz(t *testing.T) {
	t.Parallel()
	ok := func(context.Context) error { return nil }
	tests := []struct {
		name       string
		checks     map[string]func(context.Context) error
		wantStatus int
		wantState  string
		wantChecks map[string]string // value "" means: anything but "ok"
		wantMsg    string
	}{
		{
			name:       "no checks",
			wantStatus: 200, wantState: "ready", wantChecks: map[string]string{},
		},
		{
			name:       "all ok",
			checks:     map[string]func(context.Context) error{"kafka": ok, "postgres": ok},
			wantStatus: 200, wantState: "ready", wantChecks: map[string]string{"kafka": "ok", "postgres": "ok"},
		},
		{
			name: "one failing",
			checks: map[string]func(context.Context) error{
				"kafka":    func(context.Context) error { return errors.New("dial tcp: connection refused") },
				"postgres": ok,
			},
			wantStatus: 503, wantState: "not_ready",
			wantChecks: map[string]string{"kafka": "dial tcp: connection refused", "postgres": "ok"},
			wantMsg:    "not ready: kafka",
		},
		{
			name: "hanging check that ignores its context times out",
			checks: map[string]func(context.Context) error{
				"slow":     func(context.Context) error { time.Sleep(2 * time.Second); return nil },
				"postgres": ok,
			},
			wantStatus: 503, wantState: "not_ready",
			wantChecks: map[string]string{"slow": "timed out after 50ms", "postgres": "ok"},
			wantMsg:    "not ready: slow",
		},
		{
			name: "check honouring its context",
			checks: map[string]func(context.Context) error{
				"kafka": func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() },
			},
			wantStatus: 503, wantState: "not_ready",
			wantChecks: map[string]string{"kafka": ""},
			wantMsg:    "not ready: kafka",
		},
		{
			name: "panicking check",
			checks: map[string]func(context.Context) error{
				"broken": func(context.Context) error { panic("nil pool") },
				"kafka":  func(context.Context) error { return errors.New("down") },
			},
			wantStatus: 503, wantState: "not_ready",
			wantChecks: map[string]string{"broken": "check panicked: nil pool", "kafka": "down"},
			wantMsg:    "not ready: broken, kafka",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := httpapi.New(httpapi.Config{ReadyChecks: tt.checks, ReadyTimeout: 50 * time.Millisecond})
			start := time.Now()
			resp := serve(t, s.Handler(), http.MethodGet, "/readyz", nil)
			if took := time.Since(start); took > time.Second {
				t.Errorf("readyz took %s; checks must run concurrently and be bounded", took)
			}
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			var got struct {
				Status string            `json:"status"`
				Checks map[string]string `json:"checks"`
				Error  *struct {
					Code    string `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			decodeJSON(t, []byte(readAll(t, resp)), &got)
			if got.Status != tt.wantState {
				t.Errorf("status field = %q, want %q", got.Status, tt.wantState)
			}
			if len(got.Checks) != len(tt.wantChecks) {
				t.Errorf("checks = %v, want %v", got.Checks, tt.wantChecks)
			}
			for name, want := range tt.wantChecks {
				res, present := got.Checks[name]
				switch {
				case !present:
					t.Errorf("check %s missing from %v", name, got.Checks)
				case want == "" && res == "ok":
					t.Errorf("check %s = ok, want a failure", name)
				case want != "" && res != want:
					t.Errorf("check %s = %q, want %q", name, res, want)
				}
			}
			switch {
			case tt.wantMsg == "" && got.Error != nil:
				t.Errorf("error = %+v on a ready answer", got.Error)
			case tt.wantMsg != "" && (got.Error == nil || got.Error.Code != "unavailable" || got.Error.Message != tt.wantMsg):
				t.Errorf("error = %+v, want unavailable %q", got.Error, tt.wantMsg)
			}
		})
	}
}

func TestReadyzRunsChecksConcurrently(t *testing.T) {
	t.Parallel()
	// Each check waits for the other to have started: run one after the
	// other, they would both time out.
	var started sync.WaitGroup
	started.Add(2)
	check := func(ctx context.Context) error {
		started.Done()
		done := make(chan struct{})
		go func() { started.Wait(); close(done) }()
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s := httpapi.New(httpapi.Config{ReadyChecks: map[string]func(context.Context) error{"a": check, "b": check}})
	resp := serve(t, s.Handler(), http.MethodGet, "/readyz", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, body %s", resp.StatusCode, readAll(t, resp))
	}
}

func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	resp := serve(t, httpapi.New(httpapi.Config{}).Handler(), http.MethodGet, "/openapi.yaml", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/yaml" {
		t.Errorf("Content-Type = %q, want application/yaml", ct)
	}
	doc := readAll(t, resp)
	if !strings.HasPrefix(doc, "openapi: 3") {
		t.Errorf("document starts with %q, want \"openapi: 3\"", doc[:min(len(doc), 20)])
	}
	if strings.Contains(doc, "\t") {
		t.Error("document contains a tab; YAML indentation must be spaces")
	}
	// Every route that exists must be described, with the statuses it answers.
	for _, want := range []string{
		"\n  /v1/channels/api/messages:\n", "\n  /healthz:\n", "\n  /readyz:\n", "\n  /metrics:\n", "\n  /openapi.yaml:\n",
		"bearerAuth:", "scheme: bearer", "api-channel", "desk", "ops",
		"\n    Error:\n", "\n    ErrorDetail:\n",
		"'202':", "'400':", "'401':", "'403':", "'413':", "'415':", "'422':", "'503':",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("openapi.yaml lacks %q", want)
		}
	}
}

func TestMetricsUseRoutePatterns(t *testing.T) {
	t.Parallel()
	s := httpapi.New(httpapi.Config{})
	s.Handle("GET /test-metrics/{id}", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	}))
	h := s.Handler()
	serve(t, h, http.MethodGet, "/test-metrics/idqz", nil)
	serve(t, h, http.MethodGet, "/test-metrics-unrouted/pathqz", nil)
	serve(t, h, "BREW", "/test-metrics/idqz", nil)

	resp := serve(t, h, http.MethodGet, "/metrics", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics status = %d", resp.StatusCode)
	}
	body := readAll(t, resp)
	for _, want := range []string{
		`chatgate_http_request_duration_seconds_count{code="418",method="GET",route="GET /test-metrics/{id}"}`,
		`chatgate_http_request_duration_seconds_count{code="404",method="GET",route="unmatched"}`,
		`chatgate_http_request_duration_seconds_count{code="405",method="OTHER",route="unmatched"}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	for _, raw := range []string{"idqz", "pathqz", "BREW"} {
		if strings.Contains(body, raw) {
			t.Errorf("metrics contain the raw request value %q", raw)
		}
	}
}

func TestListenAndServeShutsDownOnCancel(t *testing.T) {
	t.Parallel()
	s := httpapi.New(httpapi.Config{Addr: "127.0.0.1:0"})
	release := make(chan struct{})
	entered := make(chan struct{})
	s.Handle("GET /slow", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(entered)
		<-release
		httpapi.WriteJSON(w, http.StatusOK, map[string]string{"done": "yes"})
	}))

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- s.ListenAndServe(ctx) }()
	select {
	case <-s.Listening():
	case err := <-served:
		t.Fatalf("ListenAndServe returned early: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("server did not start listening")
	}
	addr := s.Addr()
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "0" {
		t.Fatalf("Addr() = %q, want the bound port", addr)
	}

	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz status = %d", resp.StatusCode)
	}
	_ = resp.Body.Close()

	// An in-flight request finishes after the context ends.
	slow := make(chan *http.Response, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/slow")
		if err != nil {
			t.Errorf("GET /slow: %v", err)
			slow <- nil
			return
		}
		slow <- resp
	}()
	<-entered
	cancel()
	time.Sleep(50 * time.Millisecond) // let Shutdown close the listener
	close(release)
	if resp := <-slow; resp == nil || resp.StatusCode != http.StatusOK {
		t.Errorf("in-flight request was not completed: %v", resp)
	} else {
		_ = resp.Body.Close()
	}

	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("ListenAndServe = %v, want nil after a clean shutdown", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ListenAndServe did not return after cancel")
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("server still accepts connections after shutdown")
	}
}

func TestListenAndServeReportsListenError(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s := httpapi.New(httpapi.Config{Addr: ln.Addr().String()})
	if err := s.ListenAndServe(t.Context()); err == nil {
		t.Fatal("ListenAndServe on a taken address returned nil")
	}
}

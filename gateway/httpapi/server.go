// Package httpapi is chatgate's HTTP server shell: routing on the standard
// library's ServeMux, bearer-token authentication by role, JSON errors,
// health and readiness probes, Prometheus metrics and the OpenAPI document.
// Handlers live in the packages that own the behaviour (channels/api, the
// desk and ops APIs) and are mounted with Server.Handle by the wiring.
//
// # Errors
//
// Every error response, including the router's own 404 and 405 and a
// recovered panic, is JSON: {"error":{"code":"…","message":"…"}}, with an
// optional "details" array naming fields. Handlers either write one with
// WriteError/WriteErrorDetails or return an *Error and call WriteErrorFrom,
// which is the one place that maps errors to statuses.
package httpapi

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Defaults of Config and of ListenAndServe.
const (
	// DefaultAddr is where the server listens when Config.Addr is empty
	// (CHATGATE_HTTP_ADDR's default).
	DefaultAddr = ":8080"
	// DefaultReadyTimeout bounds each readiness check.
	DefaultReadyTimeout = 2 * time.Second
	// ShutdownTimeout is how long ListenAndServe waits for in-flight requests
	// once its context ends.
	ShutdownTimeout = 10 * time.Second
)

//go:embed openapi.yaml
var openAPIDocument []byte

// requestDuration is registered once on the default registry: every Server
// of the process shares it, which is what /metrics (promhttp on the default
// registry) exposes.
var requestDuration = promauto.NewHistogramVec(prometheus.HistogramOpts{
	Name:    "chatgate_http_request_duration_seconds",
	Help:    "HTTP request latency by matched route pattern, method and status code.",
	Buckets: prometheus.DefBuckets,
}, []string{"route", "method", "code"})

// routeUnmatched labels requests no registered pattern matched (404, 405,
// redirects), so raw paths never become label values.
const routeUnmatched = "unmatched"

// Config configures a Server. The zero value is usable.
type Config struct {
	// Addr is the TCP address to listen on; ":0" picks a free port (see
	// Server.Addr). Default DefaultAddr.
	Addr string
	// Logger receives the access log (debug level), recovered panics and
	// failed readiness checks. Default: discard.
	Logger *slog.Logger
	// ReadyChecks are run by GET /readyz, concurrently, each bounded by
	// ReadyTimeout. The key names the dependency in the response ("kafka",
	// "postgres"); a check returns nil when the dependency can be used.
	ReadyChecks map[string]func(ctx context.Context) error
	// OptionalChecks are run and reported by GET /readyz like ReadyChecks,
	// but one that fails leaves the process ready and is listed under
	// "degraded": for a dependency only some of the process's requests need,
	// so that an outage of it does not take the rest out of service. A name
	// in both maps counts as required.
	OptionalChecks map[string]func(ctx context.Context) error
	// ReadyTimeout bounds each readiness check. Default DefaultReadyTimeout.
	ReadyTimeout time.Duration
	// Version is the build's version, reported by GET /healthz when set.
	Version string
}

// Server is chatgate's HTTP server: a ServeMux with the built-in routes, the
// middleware every request passes through, and a graceful ListenAndServe.
type Server struct {
	addr         string
	logger       *slog.Logger
	readyChecks  map[string]func(ctx context.Context) error
	optional     map[string]bool // names in readyChecks that never fail /readyz
	readyTimeout time.Duration
	version      string
	mux          *http.ServeMux

	mu        sync.RWMutex
	patterns  map[string]bool // registered patterns: the only route label values
	boundAddr string
	listening chan struct{}
}

// New returns a Server with the built-in routes registered: GET /healthz,
// GET /readyz, GET /metrics and GET /openapi.yaml.
func New(cfg Config) *Server {
	s := &Server{
		addr:         cfg.Addr,
		logger:       cfg.Logger,
		readyChecks:  make(map[string]func(ctx context.Context) error, len(cfg.ReadyChecks)+len(cfg.OptionalChecks)),
		optional:     make(map[string]bool, len(cfg.OptionalChecks)),
		readyTimeout: cfg.ReadyTimeout,
		version:      cfg.Version,
		mux:          http.NewServeMux(),
		patterns:     make(map[string]bool),
		listening:    make(chan struct{}),
	}
	if s.addr == "" {
		s.addr = DefaultAddr
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.readyTimeout <= 0 {
		s.readyTimeout = DefaultReadyTimeout
	}
	for name, check := range cfg.OptionalChecks {
		s.readyChecks[name] = check
		s.optional[name] = true
	}
	for name, check := range cfg.ReadyChecks {
		s.readyChecks[name] = check
		delete(s.optional, name)
	}
	s.Handle("GET /healthz", http.HandlerFunc(s.healthz))
	s.Handle("GET /readyz", http.HandlerFunc(s.readyz))
	s.Handle("GET /metrics", promhttp.Handler())
	s.Handle("GET /openapi.yaml", http.HandlerFunc(serveOpenAPI))
	return s
}

// Handle registers h for pattern, a Go 1.22 ServeMux pattern such as
// "POST /v1/channels/api/messages" or "GET /v1/tickets/{id}". Like
// ServeMux.Handle it panics on an invalid or conflicting pattern: both are
// wiring bugs.
func (s *Server) Handle(pattern string, h http.Handler) {
	s.mux.Handle(pattern, h)
	s.mu.Lock()
	s.patterns[pattern] = true
	s.mu.Unlock()
}

// Handler returns the server's handler with its middleware: panic recovery,
// JSON 404/405, request metrics and the access log. ListenAndServe serves
// it; tests use it with httptest.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Addr returns the address the server listens on once ListenAndServe has
// bound it (with the real port when Config.Addr asked for ":0"), and the
// configured address before.
func (s *Server) Addr() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.boundAddr != "" {
		return s.boundAddr
	}
	return s.addr
}

// Listening returns a channel closed once ListenAndServe has bound its
// address, after which Addr returns it. It stays open if listening failed.
func (s *Server) Listening() <-chan struct{} { return s.listening }

// ListenAndServe listens on the configured address and serves until ctx
// ends, then stops accepting connections and waits up to ShutdownTimeout for
// in-flight requests. It returns nil after a clean shutdown, and an error if
// it could not listen, serving failed, or requests outlived the timeout (they
// are then cut off). Call it once per Server.
func (s *Server) ListenAndServe(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.addr)
	if err != nil {
		return fmt.Errorf("http listen on %s: %w", s.addr, err)
	}
	srv := &http.Server{
		Handler: s.Handler(),
		// No WriteTimeout: handlers bound their own work with contexts, and a
		// global one would cut off slow but healthy responses.
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	s.mu.Lock()
	s.boundAddr = ln.Addr().String()
	s.mu.Unlock()
	close(s.listening)
	s.logger.InfoContext(ctx, "http server listening", "addr", ln.Addr().String())

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("http serve: %w", err)
	case <-ctx.Done():
	}

	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("http shutdown: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http serve: %w", err)
	}
	s.logger.InfoContext(ctx, "http server stopped")
	return nil
}

// serveHTTP is the middleware around the mux, in one function so the order
// is plain: the recorder sees the final status for metrics and the log,
// recovery turns a panic into a JSON 500, and unmatched 404/405 answers of
// the mux are rewritten as JSON by the recorder.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w, req: r}
	defer func() {
		p := recover()
		aborted := p == http.ErrAbortHandler
		partial := false // part of a response was on the wire when the handler panicked
		if p != nil && !aborted {
			s.logger.ErrorContext(r.Context(), "http handler panicked",
				"method", r.Method, "route", s.route(r), "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			partial = rec.wroteHeader
			if !partial {
				WriteError(rec, http.StatusInternalServerError, CodeInternal, "internal error")
			}
		}
		route := s.route(r)
		status := rec.status
		if status == 0 {
			status = http.StatusOK // the handler wrote nothing: net/http sends 200
		}
		elapsed := time.Since(start)
		requestDuration.WithLabelValues(route, methodLabel(r.Method), strconv.Itoa(status)).Observe(elapsed.Seconds())
		if s.logger.Enabled(r.Context(), slog.LevelDebug) {
			attrs := []any{"method", r.Method, "route", route, "status", status, "duration", elapsed}
			if route == routeUnmatched {
				attrs = append(attrs, "path", r.URL.Path)
			}
			s.logger.DebugContext(r.Context(), "http request", attrs...)
		}
		if aborted || partial {
			// Abort the connection, so the client cannot take a cut-off
			// response for a whole one.
			panic(http.ErrAbortHandler)
		}
	}()
	s.mux.ServeHTTP(rec, r)
}

// route is the metrics and log label of r: the pattern the mux matched (the
// mux sets r.Pattern on the request it was given), if it is one we
// registered.
func (s *Server) route(r *http.Request) string {
	if r.Pattern == "" {
		return routeUnmatched
	}
	s.mu.RLock()
	ok := s.patterns[r.Pattern]
	s.mu.RUnlock()
	if !ok {
		return routeUnmatched
	}
	return r.Pattern
}

// methodLabel bounds the method label to the standard methods.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}

// recorder remembers the status for metrics, and replaces the mux's text/plain
// 404 and 405 (recognisable by the empty r.Pattern) with JSON errors.
type recorder struct {
	http.ResponseWriter
	req         *http.Request
	status      int
	wroteHeader bool
	discard     bool // the handler's own body is dropped: we wrote a JSON one
}

func (rec *recorder) WriteHeader(code int) {
	if rec.wroteHeader {
		rec.ResponseWriter.WriteHeader(code) // let net/http report the superfluous call
		return
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		rec.ResponseWriter.WriteHeader(code) // informational: the real status follows
		return
	}
	rec.wroteHeader = true
	rec.status = code
	if rec.req.Pattern == "" && (code == http.StatusNotFound || code == http.StatusMethodNotAllowed) {
		rec.discard = true
		rec.Header().Del("Content-Length")
		if code == http.StatusNotFound {
			WriteError(rec.ResponseWriter, code, CodeNotFound, "no route for "+rec.req.URL.Path)
		} else {
			// The mux has set Allow already.
			WriteError(rec.ResponseWriter, code, CodeMethodNotAllowed,
				fmt.Sprintf("method %s is not allowed here; allowed: %s", rec.req.Method, rec.Header().Get("Allow")))
		}
		return
	}
	rec.ResponseWriter.WriteHeader(code)
}

func (rec *recorder) Write(b []byte) (int, error) {
	if !rec.wroteHeader {
		rec.WriteHeader(http.StatusOK)
	}
	if rec.discard {
		return len(b), nil
	}
	return rec.ResponseWriter.Write(b)
}

// Flush lets streaming handlers flush through the recorder.
func (rec *recorder) Flush() {
	if !rec.wroteHeader {
		rec.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(rec.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (rec *recorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	body := map[string]string{"status": "ok"}
	if s.version != "" {
		body["version"] = s.version
	}
	WriteJSON(w, http.StatusOK, body)
}

// readyBody is GET /readyz's answer. When not ready it also carries the
// usual error object, so clients that only read errors see why.
type readyBody struct {
	Status   string            `json:"status"`
	Checks   map[string]string `json:"checks"`
	Degraded []string          `json:"degraded,omitempty"` // optional checks that failed
	Error    *errorPayload     `json:"error,omitempty"`
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	results := make(map[string]string, len(s.readyChecks))
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for name, check := range s.readyChecks {
		wg.Go(func() {
			res := "ok"
			if err := s.runCheck(r.Context(), check); err != nil {
				res = err.Error()
			}
			mu.Lock()
			results[name] = res
			mu.Unlock()
		})
	}
	wg.Wait()

	var failing, degraded []string
	for _, name := range slices.Sorted(maps.Keys(results)) {
		if results[name] == "ok" {
			continue
		}
		s.logger.WarnContext(r.Context(), "readiness check failed", "check", name, "optional", s.optional[name], "error", results[name])
		if s.optional[name] {
			degraded = append(degraded, name)
		} else {
			failing = append(failing, name)
		}
	}
	if len(failing) == 0 {
		WriteJSON(w, http.StatusOK, readyBody{Status: "ready", Checks: results, Degraded: degraded})
		return
	}
	WriteJSON(w, http.StatusServiceUnavailable, readyBody{
		Status:   "not_ready",
		Checks:   results,
		Degraded: degraded,
		Error:    &errorPayload{Code: CodeUnavailable, Message: "not ready: " + strings.Join(failing, ", ")},
	})
}

// runCheck runs one check with the ready timeout. A check that ignores its
// context is abandoned when the timeout passes, so /readyz always answers.
func (s *Server) runCheck(ctx context.Context, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, s.readyTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- fmt.Errorf("check panicked: %v", p)
			}
		}()
		done <- check(ctx)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("timed out after %s", s.readyTimeout)
	}
}

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(openAPIDocument)
}

package stream

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"reflect"
	"strconv"
	"time"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/httpapi"
)

// Pattern is the route of the stream.
const Pattern = "GET /v1/stream"

// Roles are the roles the stream admits: those of the desk API.
var Roles = []httpapi.Role{httpapi.RoleAgent, httpapi.RoleSupervisor, httpapi.RoleDesk}

// Defaults of Handler.
const (
	// DefaultHeartbeat is how often an idle stream sends a comment, so
	// proxies and load balancers keep the connection open.
	DefaultHeartbeat = 15 * time.Second
	// DefaultRecheck is how often a stream checks that its token is still
	// valid and what its principal may see: a revoked token's stream ends
	// within httpapi.DefaultTokenCacheTTL plus this.
	DefaultRecheck = 5 * time.Second
	// DefaultRescope is how often a stream resolves again what its
	// principal may see (one read of the departments per stream), so that
	// an agent moved to another department follows its new queue.
	DefaultRescope = 30 * time.Second
	// DefaultRetry is the reconnection delay told to clients (SSE retry).
	DefaultRetry = 3 * time.Second
	// DefaultWriteTimeout bounds the writes to a client (a write gets
	// between half of it and all of it); a client that takes longer is
	// gone.
	DefaultWriteTimeout = 10 * time.Second
	// DefaultFlushEvery is the shortest time between two flushes of one
	// stream: a busy stream (a supervisor's, hundreds of events a second)
	// sends the events of 10 ms in one write instead of one write each,
	// which is what lets one process serve a thousand of them.
	DefaultFlushEvery = 10 * time.Millisecond
	// goodbyeTimeout bounds the last write to a client being cut off.
	goodbyeTimeout = time.Second
)

// SSE event names (docs/stream.md).
const (
	eventReady        = "ready"
	eventResync       = "resync"
	eventTicket       = "ticket"
	eventRemoved      = "ticket.removed"
	eventNotification = "notification"
	eventCounts       = "queue.counts"
	eventEnd          = "end"
)

// CodeInvalidParameter is the error code of a request parameter the route
// does not accept (400), as on the desk API.
const CodeInvalidParameter = "invalid_parameter"

// Resolver returns what an agent acting with role may see now: for the
// wiring, ticketing.Service.ScopeFor with the role as a ticketing.ActorRole
// (the desk roles have the same names). agent is empty for a desk token
// that names no agent.
type Resolver func(ctx context.Context, role httpapi.Role, agent string) (Viewer, error)

// Handler serves GET /v1/stream: server-sent events of the hub, for the
// request's principal (R41).
type Handler struct {
	// Hub is the hub the streams read. Required.
	Hub *Hub
	// Resolve says what a principal may see. Required.
	Resolve Resolver
	// Heartbeat, Recheck, Rescope, Retry and WriteTimeout default to the
	// constants of the same names.
	Heartbeat    time.Duration
	Recheck      time.Duration
	Rescope      time.Duration
	Retry        time.Duration
	WriteTimeout time.Duration
	// FlushEvery paces a stream's flushes: an event is flushed at once if
	// the stream was last flushed longer ago, otherwise at most FlushEvery
	// after that flush, with whatever came meanwhile. Zero is
	// DefaultFlushEvery; negative flushes after every event.
	FlushEvery time.Duration
	// Logger receives failures and, at debug level, streams opened and
	// closed. nil discards.
	Logger *slog.Logger

	// require authenticates rechecks the way the route was (Mount).
	require func(http.Handler, ...httpapi.Role) http.Handler
}

// Mount registers the stream with mount, wrapped by require with Roles,
// and keeps require to check the token again while a stream lasts:
//
//	h.Mount(srv.Handle, auth.Require)
func (h *Handler) Mount(mount func(pattern string, h http.Handler), require func(h http.Handler, roles ...httpapi.Role) http.Handler) {
	h.require = require
	mount(Pattern, require(h, Roles...))
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}

// ServeHTTP serves one stream until the client goes, the token is revoked,
// the client falls behind, or the hub stops.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, ok := httpapi.PrincipalFrom(ctx)
	if !ok {
		httpapi.WriteError(w, http.StatusUnauthorized, httpapi.CodeUnauthorized, "no authenticated principal")
		return
	}
	agent, err := agentOf(p, r.URL.Query().Get("agent_id"))
	if err != nil {
		httpapi.WriteErrorFrom(w, err)
		return
	}
	last, lastErr := lastEventID(r)
	if errors.Is(lastErr, errPositionSyntax) {
		httpapi.WriteErrorDetails(w, http.StatusBadRequest, CodeInvalidParameter,
			"Last-Event-ID: not an event id of this stream; reconnect without it and reload the lists",
			[]httpapi.ErrorDetail{{Field: "Last-Event-ID", Message: "is not an event id of this stream"}})
		return
	}
	viewer, err := h.Resolve(ctx, p.Role, agent)
	if err != nil {
		h.logger().ErrorContext(ctx, "stream: resolving what the principal sees failed", "role", p.Role, "agent_id", agent, "error", err)
		httpapi.WriteUnavailable(w, "the stream could not be opened now; retry")
		return
	}

	rc := http.NewResponseController(w)
	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	hdr.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	out := &sseWriter{w: w, rc: rc, timeout: orDefault(h.WriteTimeout, DefaultWriteTimeout)}
	out.retry(orDefault(h.Retry, DefaultRetry))
	if err := out.flush(); err != nil {
		if errors.Is(err, http.ErrNotSupported) {
			h.logger().ErrorContext(ctx, "stream: the response writer cannot flush", "error", err)
		}
		return
	}
	heartbeat := time.NewTicker(orDefault(h.Heartbeat, DefaultHeartbeat))
	defer heartbeat.Stop()

	// The hub learns where it starts on the topic within moments of the
	// process start; until then the stream waits, with heartbeats.
	for waiting := true; waiting; {
		select {
		case <-h.Hub.Ready():
			waiting = false
		case <-h.Hub.Done():
			h.goodbye(out)
			return
		case <-heartbeat.C:
			if out.comment("ping"); out.flush() != nil {
				return
			}
		case <-ctx.Done():
			return
		}
	}
	c, op, err := h.Hub.subscribe(ctx, viewer, agent, last, lastErr)
	if err != nil {
		if !errors.Is(err, ErrClosed) && ctx.Err() == nil {
			h.logger().WarnContext(ctx, "stream: could not place the client's position; it will reconnect", "error", err)
		}
		h.goodbye(out)
		return
	}
	defer h.Hub.unsubscribe(c)
	clientsConnected.Inc()
	defer clientsConnected.Dec()
	h.logger().DebugContext(ctx, "stream opened", "role", p.Role, "agent_id", agent, "resumed", op.resumed, "resync", op.resync)
	defer h.logger().DebugContext(ctx, "stream closed", "role", p.Role, "agent_id", agent)

	if op.resync != "" {
		out.resync(op.id, op.resync)
	} else {
		out.event(op.id, eventReady, readyData(op.resumed))
	}
	if out.flush() != nil {
		return
	}
	live := op.resync != "" || !op.resumed
	recheck := time.NewTicker(orDefault(h.Recheck, DefaultRecheck))
	defer recheck.Stop()
	rescope := time.NewTicker(orDefault(h.Rescope, DefaultRescope))
	defer rescope.Stop()
	pace := h.FlushEvery
	if pace == 0 {
		pace = DefaultFlushEvery
	}
	paced := time.NewTimer(time.Hour)
	paced.Stop()
	defer paced.Stop()
	lastFlush, pending := time.Now(), false
	for {
		if !live {
			ds, nowLive, gap := h.Hub.catchUp(c)
			switch {
			case gap != nil:
				out.resync(gap.id, resyncGap)
			case len(ds) == 0 && !nowLive:
				select {
				case <-h.Hub.Done():
					h.goodbye(out)
					return
				default:
				}
			}
			for _, d := range ds {
				out.deliver(d, c.agent)
			}
			live = nowLive || gap != nil
			if out.flush() != nil || ctx.Err() != nil {
				return
			}
			continue
		}
		select {
		case <-c.cut: // before what is queued: a cut client's queue is stale
			h.cutOff(out, c)
			return
		default:
		}
		select {
		case d := <-c.queue:
			out.deliver(d, c.agent)
		drain:
			for range 63 { // what is already queued shares one flush
				select {
				case d := <-c.queue:
					out.deliver(d, c.agent)
				default:
					break drain
				}
			}
		case raw := <-c.counts:
			out.event("", eventCounts, raw)
			sentCounts.Inc()
		case <-heartbeat.C:
			out.comment("ping")
		case <-paced.C: // flush what waited
		case <-recheck.C:
			if h.require != nil && !h.admits(r, p) {
				h.logger().InfoContext(ctx, "stream: token no longer admitted; closing", "role", p.Role, "agent_id", agent, "token_id", p.TokenID)
				out.last(goodbyeTimeout)
				out.event("", eventEnd, []byte(`{"reason":"unauthorized"}`))
				_ = out.flush()
				return
			}
		case <-rescope.C:
			v, err := h.Resolve(ctx, p.Role, agent)
			switch {
			case err != nil:
				h.logger().WarnContext(ctx, "stream: re-resolving what the principal sees failed; keeping the last", "agent_id", agent, "error", err)
			case !reflect.DeepEqual(v, viewer):
				viewer = v
				h.Hub.setViewer(c, v)
				out.resync(h.Hub.headID(), resyncScope)
			}
		case <-c.cut:
			h.cutOff(out, c)
			return
		case <-ctx.Done():
			return
		}
		if since := time.Since(lastFlush); since >= pace {
			if out.flush() != nil {
				return
			}
			if pending {
				paced.Stop()
			}
			lastFlush, pending = time.Now(), false
		} else if !pending {
			paced.Reset(pace - since)
			pending = true
		}
	}
}

// cutOff writes the last words to a client the hub dropped: a resync hint
// to one that fell behind, the retry hint when the hub stops. cutReason and
// cutID were set before cut was closed.
func (h *Handler) cutOff(out *sseWriter, c *client) {
	if c.cutReason != cutSlow {
		h.goodbye(out)
		return
	}
	out.last(goodbyeTimeout)
	out.resync(c.cutID, resyncSlow)
	_ = out.flush()
}

// goodbye tells the client when to come back, spread over one more Retry
// so that the clients of a stopping process do not all return at once.
func (h *Handler) goodbye(out *sseWriter) {
	retry := orDefault(h.Retry, DefaultRetry)
	out.last(goodbyeTimeout)
	out.retry(retry + rand.N(retry))
	_ = out.flush()
}

// admits reports whether the request's credentials still admit the same
// principal, asking the route's authentication again (with its token
// cache). A lookup that could not tell (database down) admits: the stream
// goes on and asks again at the next recheck.
func (h *Handler) admits(r *http.Request, want httpapi.Principal) bool {
	var got *httpapi.Principal
	probe := http.HandlerFunc(func(_ http.ResponseWriter, pr *http.Request) {
		p, _ := httpapi.PrincipalFrom(pr.Context())
		got = &p
	})
	rec := &statusRecorder{header: http.Header{}}
	h.require(probe, Roles...).ServeHTTP(rec, r.Clone(r.Context()))
	switch {
	case got != nil:
		return *got == want
	case rec.status == http.StatusServiceUnavailable:
		return true
	}
	return false
}

// statusRecorder is the response of an authentication recheck: only its
// status is read.
type statusRecorder struct {
	header http.Header
	status int
}

func (s *statusRecorder) Header() http.Header         { return s.header }
func (s *statusRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
}

// agentOf returns the agent whose notifications and own counts a stream
// carries: an agent or supervisor token's own (agent_id may only repeat
// it), or for a desk token the agent_id named, if any.
func agentOf(p httpapi.Principal, named string) (string, error) {
	if named != "" {
		if problem := gateway.CheckAgentID(named); problem != "" {
			return "", &httpapi.Error{Status: http.StatusBadRequest, Code: CodeInvalidParameter,
				Message: "agent_id: " + problem, Details: []httpapi.ErrorDetail{{Field: "agent_id", Message: problem}}}
		}
	}
	switch p.Role {
	case httpapi.RoleDesk:
		return named, nil
	case httpapi.RoleAgent, httpapi.RoleSupervisor:
		switch {
		case p.Agent == "":
			return "", &httpapi.Error{Status: http.StatusForbidden, Code: httpapi.CodeForbidden, Message: "this token is not bound to an agent"}
		case named != "" && named != p.Agent:
			return "", &httpapi.Error{Status: http.StatusForbidden, Code: httpapi.CodeForbidden,
				Message: "an " + string(p.Role) + " token streams for its own agent " + strconv.Quote(p.Agent) + ", not " + strconv.Quote(named)}
		}
		return p.Agent, nil
	}
	return "", &httpapi.Error{Status: http.StatusForbidden, Code: httpapi.CodeForbidden, Message: "this token's role may not use this route"}
}

// lastEventID reads where a reconnecting client was: the Last-Event-ID
// header EventSource sends, or ?last_event_id= for a client that opens a
// new stream itself. nil, nil when it names none.
func lastEventID(r *http.Request) (position, error) {
	id := r.Header.Get("Last-Event-ID")
	if id == "" {
		id = r.URL.Query().Get("last_event_id")
	}
	if id == "" {
		return nil, nil
	}
	return decodePosition(id)
}

func readyData(resumed bool) []byte {
	if resumed {
		return []byte(`{"resumed":true}`)
	}
	return []byte(`{"resumed":false}`)
}

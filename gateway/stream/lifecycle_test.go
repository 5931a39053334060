package stream

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/httpapi"
	"github.com/chatgate/chatgate/gateway/testkit"
	"github.com/chatgate/chatgate/ticketing"
)

// R38, R41: who may open a stream, the refusals as JSON errors, and the
// headers of a stream.
func TestR41_StreamRouteRolesAndHeaders(t *testing.T) {
	t.Parallel()
	r := newRig(t, newTopicLog(1))
	for _, tc := range []struct {
		name, token, query string
		status             int
		code               string
	}{
		{"no token", "", "", http.StatusUnauthorized, httpapi.CodeUnauthorized},
		{"unknown token", "mallory", "", http.StatusUnauthorized, httpapi.CodeUnauthorized},
		{"ops may not", "ops", "", http.StatusForbidden, httpapi.CodeForbidden},
		{"an agent streams only for itself", "ann", "agent_id=bob", http.StatusForbidden, httpapi.CodeForbidden},
		{"an agent naming itself", "ann", "agent_id=ann", http.StatusOK, ""},
		{"an over-long agent_id", "desk", "agent_id=" + strings.Repeat("x", 129), http.StatusBadRequest, CodeInvalidParameter},
		{"a control character in agent_id", "desk", "agent_id=a%00b", http.StatusBadRequest, CodeInvalidParameter},
		{"a path for an agent_id", "desk", "agent_id=..%2Fann", http.StatusBadRequest, CodeInvalidParameter},
		{"a supervisor", "sue", "", http.StatusOK, ""},
		{"a desk for an agent", "desk", "agent_id=cid", http.StatusOK, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := r.srv.URL + "/v1/stream"
			if tc.query != "" {
				url += "?" + tc.query
			}
			rd, status, body := openURL(t, url, tc.token, "")
			if status != tc.status {
				t.Fatalf("status %d %s, want %d", status, body, tc.status)
			}
			if rd == nil {
				var e struct {
					Error struct {
						Code string `json:"code"`
					} `json:"error"`
				}
				if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error.Code != tc.code {
					t.Fatalf("body %s (%v), want error code %s", body, err, tc.code)
				}
				return
			}
			h := rd.resp.Header
			if h.Get("Content-Type") != "text/event-stream" || h.Get("Cache-Control") != "no-store" || h.Get("X-Accel-Buffering") != "no" {
				t.Fatalf("headers %v", h)
			}
			if ev := rd.next(t, "retry"); ev.Retry != "3000" {
				t.Fatalf("first event %+v, want the reconnect delay", ev)
			}
		})
	}
}

// R41: an idle stream sends heartbeat comments, so proxies keep it; the
// server's read timeout does not end it.
func TestR41_HeartbeatsKeepAnIdleStreamOpen(t *testing.T) {
	t.Parallel()
	r := newRigServer(t, newTopicLog(1), func(s *http.Server) { s.ReadTimeout = 40 * time.Millisecond },
		func(_ *Config, h *Handler) { h.Heartbeat = 10 * time.Millisecond })
	rd := r.open(t, "ann", "")
	rd.next(t)          // ready
	for i := range 20 { // well past the read timeout
		if ev := rd.next(t, ":"); ev.Comment != "ping" {
			t.Fatalf("event %d: %+v, want a heartbeat", i, ev)
		}
	}
	r.publish(t, ticket(t, 0, gateway.TypeTicketCreated, view(1, "unassigned", "support", ""), nil))
	for {
		ev := rd.next(t)
		if ev.Event == eventTicket {
			break
		}
	}
}

// R41: a revoked token's stream ends at the next recheck, with an end
// event, and the token opens no new one.
func TestR41_RevokedTokenEndsTheStream(t *testing.T) {
	t.Parallel()
	r := newRig(t, newTopicLog(1), func(_ *Config, h *Handler) { h.Recheck = 10 * time.Millisecond })
	ann, bob := r.open(t, "ann", ""), r.open(t, "bob", "")
	ann.next(t)
	bob.next(t)
	r.tokens.revoke("ann")
	evs := ann.ended(t)
	if len(evs) == 0 || evs[len(evs)-1].Event != eventEnd || evs[len(evs)-1].Data != `{"reason":"unauthorized"}` {
		t.Fatalf("ann's stream ended with %v, want end (unauthorized)", evs)
	}
	if _, status, _ := openURL(t, r.srv.URL+"/v1/stream", "ann", ""); status != http.StatusUnauthorized {
		t.Fatalf("revoked token opened a stream: %d", status)
	}
	r.publish(t, ticket(t, 0, gateway.TypeTicketCreated, view(1, "unassigned", "support", ""), nil))
	if ev := bob.next(t); ev.Event != eventTicket {
		t.Fatalf("bob's stream: %v", ev)
	}
}

// R17, R41: when what a principal may see changes (an agent moved to
// another department), its stream says resync and follows the new queue.
func TestR41_ScopeChangeResyncs(t *testing.T) {
	t.Parallel()
	r := newRig(t, newTopicLog(1), func(_ *Config, h *Handler) { h.Rescope = 10 * time.Millisecond })
	ann := r.open(t, "ann", "")
	ann.next(t)
	moved, err := ticketing.NewDirectory([]ticketing.Department{
		{ID: "support", TimeZone: "UTC", Agents: []string{"bob"}, Routing: ticketing.Routing{Default: true}, DeskPolicy: noJoin},
		{ID: "sales", TimeZone: "UTC", Agents: []string{"cid", "ann"}, Routing: ticketing.Routing{Keywords: []string{"buy"}}, DeskPolicy: noJoin},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.setDir(moved)
	if ev := ann.next(t); ev.Event != eventResync || ev.Data != `{"reason":"scope_changed"}` || !ev.hasID {
		t.Fatalf("after the move: %+v, want resync (scope_changed)", ev)
	}
	r.publish(t,
		ticket(t, 0, gateway.TypeTicketCreated, view(1, "unassigned", "support", ""), nil),
		ticket(t, 0, gateway.TypeTicketCreated, view(2, "unassigned", "sales", ""), nil))
	if _, ids := readTickets(t, ann, 1); ids[0] != 2 {
		t.Fatalf("ann got conversation %d, want sales' 2 only", ids[0])
	}
}

// gatedWriter is a ResponseWriter whose writes block while it is held,
// as a client that stopped reading makes them.
type gatedWriter struct {
	header http.Header
	mu     sync.Mutex
	open   *sync.Cond // signalled when held turns false
	held   bool
	buf    bytes.Buffer
	// flushes counts flushes; flushedAt is how much of buf the last one
	// covered.
	flushes, flushedAt int
}

func newGatedWriter() *gatedWriter {
	g := &gatedWriter{header: http.Header{}}
	g.open = sync.NewCond(&g.mu)
	return g
}

// hold makes writes block until release.
func (g *gatedWriter) hold() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.held = true
}

func (g *gatedWriter) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.held = false
	g.open.Broadcast()
}

func (g *gatedWriter) Header() http.Header { return g.header }
func (g *gatedWriter) WriteHeader(int)     {}
func (g *gatedWriter) Write(b []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for g.held {
		g.open.Wait()
	}
	return g.buf.Write(b)
}
func (g *gatedWriter) FlushError() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.flushes++
	g.flushedAt = g.buf.Len()
	return nil
}
func (g *gatedWriter) SetWriteDeadline(time.Time) error { return nil }
func (g *gatedWriter) SetReadDeadline(time.Time) error  { return nil }
func (g *gatedWriter) String() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.buf.String()
}

// R41: a client that falls behind is cut off with a resync hint once its
// queue is full; nothing more than the queue is ever held for it.
func TestR41_SlowClientIsCutWithAResyncHint(t *testing.T) {
	t.Parallel()
	const queue = 4
	r := newRig(t, newTopicLog(1), func(c *Config, _ *Handler) { c.ClientQueue = queue })
	h := &Handler{Hub: r.hub, Resolve: func(context.Context, httpapi.Role, string) (Viewer, error) {
		return ticketing.Scope{All: true}, nil
	}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, done := serveGated(t, ctx, h, principals["sue"])
	testkit.WaitFor(t, 10*time.Second, "the ready event", func() bool { return strings.Contains(w.String(), "event: ready") })
	w.hold() // the client stops reading
	const published = 50
	for i := range published {
		r.publish(t, ticket(t, 0, gateway.TypeTicketMessageAdded, view(int64(i+1), "unassigned", "support", ""), nil))
	}
	testkit.WaitFor(t, 10*time.Second, "the hub to drop the client", func() bool { return r.liveClients() == 0 })
	w.release()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the handler of a cut client did not return")
	}
	out := w.String()
	if !strings.HasSuffix(out, "event: resync\ndata: {\"reason\":\"slow_client\"}\n\n") {
		t.Fatalf("the stream ended with %q, want the slow client's resync", out[max(0, len(out)-200):])
	}
	if n := strings.Count(out, "event: ticket\n"); n > queue+1 || n >= published {
		t.Fatalf("%d events written to a client that read nothing, want at most the queue (%d) and the one being written", n, queue)
	}
}

// serveGated runs h for principal p on a gatedWriter until ctx ends.
func serveGated(t *testing.T, ctx context.Context, h *Handler, p httpapi.Principal) (*gatedWriter, chan struct{}) {
	t.Helper()
	w := newGatedWriter()
	req, err := http.NewRequestWithContext(httpapi.WithPrincipal(ctx, p), http.MethodGet, "/v1/stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(w, req)
	}()
	return w, done
}

// R41: a busy stream's events are written as they come but flushed at
// most once per FlushEvery, with everything that came meanwhile; the
// stream's last words are flushed at once.
func TestR41_FlushesArePaced(t *testing.T) {
	t.Parallel()
	r := newRig(t, newTopicLog(1))
	h := &Handler{Hub: r.hub, FlushEvery: time.Hour, Resolve: func(context.Context, httpapi.Role, string) (Viewer, error) {
		return ticketing.Scope{All: true}, nil
	}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, done := serveGated(t, ctx, h, principals["sue"])
	testkit.WaitFor(t, 10*time.Second, "the ready event", func() bool { return strings.Contains(w.String(), "event: ready") })
	w.mu.Lock()
	before := w.flushes
	w.mu.Unlock()
	for i := range 3 {
		r.publish(t, ticket(t, 0, gateway.TypeTicketMessageAdded, view(int64(i+1), "unassigned", "support", ""), nil))
	}
	testkit.WaitFor(t, 10*time.Second, "three events written", func() bool { return strings.Count(w.String(), "event: ticket\n") == 3 })
	w.mu.Lock()
	flushes, flushedAt, written := w.flushes, w.flushedAt, w.buf.Len()
	w.mu.Unlock()
	if flushes != before || flushedAt == written {
		t.Fatalf("%d flushes after the ready event's %d (flushed %d of %d bytes): events were not held for the pace", flushes, before, flushedAt, written)
	}
	r.stop() // the goodbye is flushed at once, with what waited
	<-done
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.flushedAt != w.buf.Len() || !strings.Contains(w.buf.String(), "retry: ") {
		t.Fatalf("flushed %d of %d bytes at the end: %q", w.flushedAt, w.buf.Len(), w.buf.String())
	}
}

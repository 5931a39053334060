package stream

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/httpapi"
	"github.com/chatgate/chatgate/gateway/testkit"
	"github.com/chatgate/chatgate/ticketing"
)

// topicLog stands in for the tickets topic in the hub's unit tests (the
// end-to-end tests use the embedded broker): records appended per
// partition with Kafka's offsets, followed by any number of hubs.
type topicLog struct {
	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every append
	parts   int
	log     []gateway.Message
	next    map[int]int64
}

func newTopicLog(parts int) *topicLog {
	return &topicLog{changed: make(chan struct{}), parts: parts, next: map[int]int64{}}
}

func (l *topicLog) Ends(context.Context) (map[int]int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ends := map[int]int64{}
	for p := range l.parts {
		ends[p] = l.next[p]
	}
	return ends, nil
}

func (l *topicLog) Follow(ctx context.Context, from map[int]int64, deliver func([]gateway.Message)) error {
	i := 0
	for {
		l.mu.Lock()
		batch := []gateway.Message{}
		for ; i < len(l.log); i++ {
			m := l.log[i]
			if off, ok := from[m.Partition]; ok && m.Offset >= off {
				batch = append(batch, m)
			}
		}
		changed := l.changed
		l.mu.Unlock()
		if len(batch) > 0 {
			deliver(batch)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		}
	}
}

// append writes records, each on the partition it names, and returns them
// with their offsets. Records appended in one call reach a follower in one
// batch when it is idle.
func (l *topicLog) append(msgs ...gateway.Message) []gateway.Message {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range msgs {
		msgs[i].Offset = l.next[msgs[i].Partition]
		l.next[msgs[i].Partition]++
		l.log = append(l.log, msgs[i])
	}
	close(l.changed)
	l.changed = make(chan struct{})
	return msgs
}

func (l *topicLog) end() position {
	ends, _ := l.Ends(context.Background())
	return position(ends)
}

var testT0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// view is a conversation as ticket events show it.
func view(id int64, state, dep, assignee string, participants ...string) gateway.ConversationView {
	return gateway.ConversationView{ID: id, Kind: "live_chat", State: state, Department: dep, Assignee: assignee,
		Participants: participants, Contact: gateway.ContactView{ID: id, Channel: gateway.ChannelAPI, Address: fmt.Sprintf("+2782000%04d", id)}}
}

var eventSeq struct {
	sync.Mutex
	n int
}

// ticket builds a ticket event record on partition part; extra adds desk
// fields (actor, transfer, comment) beside the conversation.
func ticket(t testing.TB, part int, typ string, v gateway.ConversationView, extra map[string]any) gateway.Message {
	t.Helper()
	eventSeq.Lock()
	eventSeq.n++
	id := fmt.Sprintf("ev-%d", eventSeq.n)
	eventSeq.Unlock()
	data := map[string]any{"conversation": v}
	maps.Copy(data, extra)
	key := fmt.Sprint(v.ID)
	m, err := gateway.EncodeRecord("chatgate.tickets", key, id, "chatgate/ticketing", typ, key, testT0, data)
	if err != nil {
		t.Fatal(err)
	}
	m.Partition = part
	return m
}

func actor(agent string, role ticketing.ActorRole) map[string]any {
	return map[string]any{"actor": ticketing.Actor{AgentID: agent, Role: role}}
}

// noJoin is the desk policy of the stream tests' departments: agents do
// not join colleagues' conversations (R36), so what an agent sees is its
// queue and its own; ticketing's tests cover joining.
var noJoin = ticketing.DeskPolicy{AgentsJoin: new(bool)}

// directory is departments support (ann, bob) and sales (cid); dan works
// in none.
func directory(t testing.TB) *ticketing.Directory {
	t.Helper()
	dir, err := ticketing.NewDirectory([]ticketing.Department{
		{ID: "support", TimeZone: "UTC", Agents: []string{"ann", "bob"}, Routing: ticketing.Routing{Default: true}, DeskPolicy: noJoin},
		{ID: "sales", TimeZone: "UTC", Agents: []string{"cid"}, Routing: ticketing.Routing{Keywords: []string{"buy"}}, DeskPolicy: noJoin},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// principals of the unit tests' tokens: token "<name>" is name's.
var principals = map[string]httpapi.Principal{
	"ann":  {Role: httpapi.RoleAgent, Agent: "ann", TokenID: "t-ann"},
	"bob":  {Role: httpapi.RoleAgent, Agent: "bob", TokenID: "t-bob"},
	"cid":  {Role: httpapi.RoleAgent, Agent: "cid", TokenID: "t-cid"},
	"dan":  {Role: httpapi.RoleAgent, Agent: "dan", TokenID: "t-dan"},
	"sue":  {Role: httpapi.RoleSupervisor, Agent: "sue", TokenID: "t-sue"},
	"desk": {Role: httpapi.RoleDesk, TokenID: "t-desk"},
	"ops":  {Role: httpapi.RoleOps, TokenID: "t-ops"},
}

// tokens is a revocable token table behind a real httpapi.Authenticator.
type tokens struct {
	mu      sync.Mutex
	revoked map[string]bool
}

func (tk *tokens) revoke(name string) {
	tk.mu.Lock()
	defer tk.mu.Unlock()
	tk.revoked[name] = true
}

func (tk *tokens) lookup(_ context.Context, d [sha256.Size]byte) (httpapi.Principal, error) {
	tk.mu.Lock()
	defer tk.mu.Unlock()
	for name, p := range principals {
		if sha256.Sum256([]byte(name)) == d && !tk.revoked[name] {
			return p, nil
		}
	}
	return httpapi.Principal{}, httpapi.ErrUnknownToken
}

// rig is a hub on a topicLog with the stream mounted on a test server
// behind a real Authenticator (token cache off, so revocation shows at
// the next recheck).
type rig struct {
	log    *topicLog
	hub    *Hub
	srv    *httptest.Server
	tokens *tokens
	dir    func() *ticketing.Directory
	setDir func(*ticketing.Directory)
	stop   func()
}

type rigOption func(*Config, *Handler)

func newRig(t *testing.T, log *topicLog, opts ...rigOption) *rig {
	t.Helper()
	return newRigServer(t, log, nil, opts...)
}

// newRigServer is newRig with the test server's http.Server tuned.
func newRigServer(t *testing.T, log *topicLog, tune func(*http.Server), opts ...rigOption) *rig {
	t.Helper()
	r := &rig{log: log, tokens: &tokens{revoked: map[string]bool{}}}
	var dirMu sync.Mutex
	dir := directory(t)
	r.dir = func() *ticketing.Directory { dirMu.Lock(); defer dirMu.Unlock(); return dir }
	r.setDir = func(d *ticketing.Directory) { dirMu.Lock(); defer dirMu.Unlock(); dir = d }
	cfg := Config{Source: log, Now: func() time.Time { return testT0 }}
	h := &Handler{Resolve: func(_ context.Context, role httpapi.Role, agent string) (Viewer, error) {
		return ticketing.ScopeOf(ticketing.ActorRole(role), agent, r.dir()), nil
	}}
	for _, o := range opts {
		o(&cfg, h)
	}
	hub, err := NewHub(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.Hub, r.hub = hub, hub
	auth := httpapi.NewAuthenticator(nil, httpapi.WithLookup(httpapi.TokenLookupFunc(r.tokens.lookup)), httpapi.WithTokenCacheTTL(0))
	mux := http.NewServeMux()
	h.Mount(mux.Handle, auth.Require)
	r.srv = httptest.NewUnstartedServer(mux)
	if tune != nil {
		tune(r.srv.Config)
	}
	r.srv.Start()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- hub.Run(ctx) }()
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("hub: %v", err)
			}
		})
	}
	t.Cleanup(func() {
		r.stop()
		r.srv.CloseClientConnections()
		r.srv.Close()
	})
	select {
	case <-hub.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("hub not ready")
	}
	return r
}

// publish appends records and waits until the hub has read them.
func (r *rig) publish(t testing.TB, msgs ...gateway.Message) []gateway.Message {
	t.Helper()
	out := r.log.append(msgs...)
	want := r.log.end()
	testkit.WaitFor(t, 10*time.Second, "the hub to read the records", func() bool {
		r.hub.mu.RLock()
		defer r.hub.mu.RUnlock()
		return r.hub.pos.covers(want)
	})
	return out
}

// liveClients is how many clients the hub fans out to.
func (r *rig) liveClients() int {
	r.hub.mu.RLock()
	defer r.hub.mu.RUnlock()
	return len(r.hub.clients)
}

// sse is one received event or comment.
type sse struct {
	ID, Event, Data, Comment string
	Retry                    string
	hasID                    bool
}

func (e sse) String() string {
	if e.Comment != "" {
		return ":" + e.Comment
	}
	if e.Retry != "" && e.Event == "" {
		return "retry " + e.Retry
	}
	return e.Event + " " + e.Data
}

// decode unmarshals the event's data.
func (e sse) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(e.Data), v); err != nil {
		t.Fatalf("%s data %q: %v", e.Event, e.Data, err)
	}
}

// reader reads one stream's events in its own goroutine.
type reader struct {
	resp   *http.Response
	events chan sse
	done   chan error
}

// open starts a stream with token and, if not empty, Last-Event-ID.
func (r *rig) open(t testing.TB, token, lastID string, query ...string) *reader {
	t.Helper()
	url := r.srv.URL + "/v1/stream"
	if len(query) > 0 {
		url += "?" + strings.Join(query, "&")
	}
	rd, status, body := openURL(t, url, token, lastID)
	if rd == nil {
		t.Fatalf("GET /v1/stream as %s: %d %s", token, status, body)
	}
	return rd
}

// openURL returns a reader, or nil with the status and body of a refusal.
func openURL(t testing.TB, url, token, lastID string) (*reader, int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return nil, resp.StatusCode, string(body)
	}
	rd := &reader{resp: resp, events: make(chan sse, 4096), done: make(chan error, 1)}
	t.Cleanup(rd.close)
	go rd.run()
	return rd, resp.StatusCode, ""
}

func (rd *reader) run() {
	br := bufio.NewReader(rd.resp.Body)
	var ev sse
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			close(rd.events)
			rd.done <- err
			return
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if ev != (sse{}) {
				rd.events <- ev
			}
			ev = sse{}
		case strings.HasPrefix(line, ":"):
			ev.Comment = strings.TrimSpace(line[1:])
		default:
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "id":
				ev.ID, ev.hasID = value, true
			case "event":
				ev.Event = value
			case "data":
				ev.Data = value
			case "retry":
				ev.Retry = value
			}
		}
	}
}

func (rd *reader) close() { rd.resp.Body.Close() }

// next returns the next event that is not a heartbeat or counts, unless
// asked for by name in keep.
func (rd *reader) next(t testing.TB, keep ...string) sse {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-rd.events:
			if !ok {
				t.Fatalf("stream ended: %v", <-rd.done)
			}
			kind := ev.Event
			switch {
			case ev.Comment != "":
				kind = ":"
			case ev.Event == "" && ev.Retry != "":
				kind = "retry"
			}
			if (kind == ":" || kind == "retry" || kind == eventCounts) && !slices.Contains(keep, kind) {
				continue
			}
			return ev
		case <-timeout:
			t.Fatal("no event within 10s")
		}
	}
}

// ended waits for the stream to end and returns the events before.
func (rd *reader) ended(t testing.TB) []sse {
	t.Helper()
	var out []sse
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-rd.events:
			if !ok {
				return out
			}
			out = append(out, ev)
		case <-timeout:
			t.Fatalf("stream still open after 10s; got %v", out)
		}
	}
}

// ticketType is the CloudEvent type of a ticket event's data.
func ticketType(t testing.TB, ev sse) (string, int64) {
	t.Helper()
	var ce struct {
		Type string `json:"type"`
		Data struct {
			Conversation gateway.ConversationView `json:"conversation"`
		} `json:"data"`
	}
	ev.decode(t, &ce)
	return ce.Type, ce.Data.Conversation.ID
}

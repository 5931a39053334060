package stream_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
	"sigs.k8s.io/yaml"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/devstack"
	"github.com/chatgate/chatgate/gateway/httpapi"
	"github.com/chatgate/chatgate/gateway/kafka"
	"github.com/chatgate/chatgate/gateway/outbox"
	"github.com/chatgate/chatgate/gateway/postgres"
	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
	"github.com/chatgate/chatgate/gateway/stream"
	"github.com/chatgate/chatgate/ticketing"
	"github.com/chatgate/chatgate/ticketing/deskapi"
	"github.com/chatgate/chatgate/ticketing/pgstore"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// stack is chatgate's ingress as cmd/chatgate wires it, with the stream,
// on the embedded broker and a real PostgreSQL, plus the outbox relay that
// feeds the tickets topic.
type stack struct {
	svc     *ticketing.Service
	tokens  *postgres.TokenStore
	brokers []string
	topics  gateway.Topics
	servers []*httpapi.Server // one per process: each with its own hub
}

const desk = "desk-bootstrap-secret"

// startStack starts processes chatgate processes on one broker and one
// database; tokenTTL is the Authenticator's token cache time.
func startStack(t *testing.T, processes int, tokenTTL time.Duration) *stack {
	t.Helper()
	topics := gateway.Topics{Prefix: "chatgate."}
	broker, err := devstack.StartBroker(devstack.BrokerConfig{Addr: "127.0.0.1:0", Topics: topics.All(), Partitions: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = broker.Close() })
	pool := pgtest.Pool(t)
	store := pgstore.New(pool)
	s := &stack{
		svc:     &ticketing.Service{Store: store, Directory: store, Now: time.Now},
		tokens:  postgres.NewTokenStore(pool),
		brokers: []string{broker.Addr()},
		topics:  topics,
	}
	producer, err := kafka.NewProducer(kafka.ProducerConfig{Brokers: s.brokers})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = producer.Close() })
	log := slog.New(slog.DiscardHandler)
	relay, err := outbox.New(outbox.Config{Pool: pool, Publisher: producer, Topics: topics, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g, ctx := errgroup.WithContext(ctx)
	t.Cleanup(func() {
		cancel()
		if err := g.Wait(); err != nil {
			t.Errorf("stack: %v", err)
		}
	})
	g.Go(func() error { return relay.Run(ctx) })
	for range processes {
		srv := httpapi.New(httpapi.Config{Addr: "127.0.0.1:0", Logger: log})
		auth := httpapi.NewAuthenticator(map[string]httpapi.Role{desk: httpapi.RoleDesk},
			httpapi.WithLookup(s.tokens), httpapi.WithTokenCacheTTL(tokenTTL), httpapi.WithLogger(log))
		(&deskapi.Handlers{Service: s.svc, Logger: log}).MountWithRoles(srv.Handle, auth.Require)

		// The stream, as cmd/chatgate's buildServer and run wire it.
		hub, err := stream.NewHub(stream.Config{
			Source: kafka.NewFollower(s.brokers, topics.Name(gateway.TopicTickets), log),
			Count:  store.QueueTotals,
			Logger: log,
		})
		if err != nil {
			t.Fatal(err)
		}
		(&stream.Handler{
			Hub: hub,
			Resolve: func(ctx context.Context, role httpapi.Role, agent string) (stream.Viewer, error) {
				return s.svc.ScopeFor(ctx, ticketing.ActorRole(role), agent)
			},
			Recheck: 50 * time.Millisecond,
			Logger:  log,
		}).Mount(srv.Handle, auth.Require)
		g.Go(func() error { return hub.Run(ctx) })

		g.Go(func() error { return srv.ListenAndServe(ctx) })
		select {
		case <-srv.Listening():
		case <-time.After(10 * time.Second):
			t.Fatal("server not listening")
		}
		select {
		case <-hub.Ready():
		case <-time.After(10 * time.Second):
			t.Fatal("hub not ready")
		}
		s.servers = append(s.servers, srv)
	}
	everyDay := map[string][]string{}
	for _, d := range []string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"} {
		everyDay[d] = []string{"00:00-24:00"}
	}
	if _, err := s.svc.ApplyDepartments(context.Background(), []ticketing.Department{
		// Agents of support do not join each other's conversations (R36),
		// so one that bob accepts leaves ann's sight.
		{ID: "support", TimeZone: "UTC", Schedule: everyDay, Agents: []string{"ann", "bob"}, Routing: ticketing.Routing{Default: true},
			DeskPolicy: ticketing.DeskPolicy{AgentsJoin: new(bool)}},
		{ID: "sales", TimeZone: "UTC", Schedule: everyDay, Agents: []string{"cid"}, Routing: ticketing.Routing{Numbers: []string{"+27600000002"}}},
	}, false); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"ann", "bob", "cid"} {
		if err := s.svc.SetPresence(context.Background(), a, ticketing.PresenceOnline); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// token issues a stored token of role for agent.
func (s *stack) token(t *testing.T, role httpapi.Role, agent string) *postgres.CreatedToken {
	t.Helper()
	tok, err := s.tokens.Create(context.Background(), &postgres.CreateTokenParams{Role: role, AgentID: agent})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// write has a contact write to the business number to, through the
// worker's batch handler, and returns nothing: its events reach the
// tickets topic through the outbox relay.
func (s *stack) write(t *testing.T, id, from, to, text string) {
	t.Helper()
	in := gateway.Inbound{Channel: gateway.ChannelAPI, ProviderID: id, From: from, To: to, Text: text, ReceivedAt: time.Now()}
	rec, err := in.Record("test", s.topics.Name(gateway.TopicInbound))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.svc.HandleBatch(context.Background(), []gateway.Message{rec}); err != nil {
		t.Fatal(err)
	}
}

// call sends a desk API request and returns the body of the expected status.
func (s *stack) call(t *testing.T, method, path, token string, body any, want int) []byte {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = strings.NewReader(string(raw))
	}
	req, err := http.NewRequest(method, "http://"+s.servers[0].Addr()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, out, want)
	}
	return out
}

// event is one server-sent event.
type event struct{ id, name, data string }

// sseStream reads one GET /v1/stream.
type sseStream struct {
	events  chan event
	body    io.Closer
	pending []event // read, not yet asked for
}

func (s *stack) open(t *testing.T, process int, token, lastID string) *sseStream {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+s.servers[process].Addr()+"/v1/stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("GET /v1/stream: %d %s", resp.StatusCode, body)
	}
	st := &sseStream{events: make(chan event, 1024), body: resp.Body}
	t.Cleanup(func() { resp.Body.Close() })
	go func() {
		defer close(st.events)
		br := bufio.NewReader(resp.Body)
		var ev event
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimSuffix(line, "\n")
			field, value, _ := strings.Cut(line, ": ")
			switch {
			case line == "":
				if ev.name != "" {
					st.events <- ev
				}
				ev = event{}
			case field == "id":
				ev.id = value
			case field == "event":
				ev.name = value
			case field == "data":
				ev.data = value
			}
		}
	}()
	return st
}

// next returns the next event named one of names; events of other names
// are kept for later calls.
func (st *sseStream) next(t *testing.T, names ...string) event {
	t.Helper()
	match := func(ev event) bool {
		for _, n := range names {
			if ev.name == n {
				return true
			}
		}
		return false
	}
	for i, ev := range st.pending {
		if match(ev) {
			st.pending = append(st.pending[:i:i], st.pending[i+1:]...)
			return ev
		}
	}
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-st.events:
			if !ok {
				t.Fatalf("stream ended waiting for %v", names)
			}
			if match(ev) {
				return ev
			}
			st.pending = append(st.pending, ev)
		case <-timeout:
			t.Fatalf("no %v within 30s", names)
		}
	}
}

// ticketOf returns the type and conversation of a ticket event.
func ticketOf(t *testing.T, ev event) (string, gateway.ConversationView) {
	t.Helper()
	var ce struct {
		Type string `json:"type"`
		Data struct {
			Conversation gateway.ConversationView `json:"conversation"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(ev.data), &ce); err != nil {
		t.Fatalf("ticket data %s: %v", ev.data, err)
	}
	return ce.Type, ce.Data.Conversation
}

// nextTicket returns the next ticket event of type typ.
func (st *sseStream) nextTicket(t *testing.T, typ string) (event, gateway.ConversationView) {
	t.Helper()
	for {
		ev := st.next(t, "ticket")
		if got, conv := ticketOf(t, ev); got == typ {
			return ev, conv
		}
	}
}

// countsMatch waits for a queue.counts whose unassigned count is the
// length of the desk API's unassigned list for token.
func (s *stack) countsMatch(t *testing.T, st *sseStream, token string) stream.Counts {
	t.Helper()
	var list deskapi.ListResponse
	if err := json.Unmarshal(s.call(t, http.MethodGet, "/v1/tickets/unassigned?limit=200", token, nil, http.StatusOK), &list); err != nil {
		t.Fatal(err)
	}
	for {
		var c stream.Counts
		if err := json.Unmarshal([]byte(st.next(t, "queue.counts").data), &c); err != nil {
			t.Fatal(err)
		}
		if c.Unassigned == len(list.Conversations) {
			return c
		}
	}
}

// R17, R19, R23, R41 end to end: events a worker commits reach each
// browser desk's stream through the outbox relay, the tickets topic (the
// embedded broker) and the hub, filtered by the desk API's own rule; a
// conversation another agent accepts leaves the first agent's lists with
// one ticket.removed; counts follow the desk API's lists; a mention
// notifies; two processes give the same ids and resume each other's
// streams; a revoked token's stream ends.
func TestR41_StreamEndToEnd(t *testing.T) {
	t.Parallel()
	s := startStack(t, 2, 200*time.Millisecond)
	ann, bob := s.token(t, httpapi.RoleAgent, "ann"), s.token(t, httpapi.RoleAgent, "bob")
	cid, sue := s.token(t, httpapi.RoleAgent, "cid"), s.token(t, httpapi.RoleSupervisor, "sue")
	annStream := s.open(t, 0, ann.Secret, "")
	cidStream := s.open(t, 0, cid.Secret, "")
	sueA, sueB := s.open(t, 0, sue.Secret, ""), s.open(t, 1, sue.Secret, "")
	for _, st := range []*sseStream{annStream, cidStream, sueA, sueB} {
		st.next(t, "ready")
	}

	// A customer writes to support: ann's queue, not cid's.
	s.write(t, "e2e-1", "+27821110001", "+27600000001", "my parcel is late")
	_, created := annStream.nextTicket(t, gateway.TypeTicketCreated)
	if _, conv := annStream.nextTicket(t, gateway.TypeTicketMessageAdded); conv.ID != created.ID || conv.Department != "support" {
		t.Fatalf("ann's message_added is about %+v", conv)
	}
	if c := s.countsMatch(t, annStream, ann.Secret); c.Unassigned != 1 {
		t.Fatalf("ann's counts %+v", c)
	}
	// Over the desk API, ann sees the conversation the stream sent her.
	s.call(t, http.MethodGet, "/v1/tickets/"+strconv.FormatInt(created.ID, 10), ann.Secret, nil, http.StatusOK)
	s.call(t, http.MethodGet, "/v1/tickets/"+strconv.FormatInt(created.ID, 10), cid.Secret, nil, http.StatusNotFound)

	// A sales customer: cid's.
	s.write(t, "e2e-2", "+27821110002", "+27600000002", "I want to buy shoes")
	if _, conv := cidStream.nextTicket(t, gateway.TypeTicketCreated); conv.Department != "sales" {
		t.Fatalf("cid got %+v", conv)
	}
	if c := s.countsMatch(t, cidStream, cid.Secret); c.Unassigned != 1 {
		t.Fatalf("cid's counts %+v", c)
	}

	// bob accepts support's conversation: it leaves ann's queue.
	id := strconv.FormatInt(created.ID, 10)
	s.call(t, http.MethodPost, "/v1/tickets/"+id+"/accept", bob.Secret, map[string]any{"request_id": "acc-1"}, http.StatusOK)
	removed := annStream.next(t, "ticket.removed", "ticket")
	var gone struct {
		ConversationID int64  `json:"conversation_id"`
		Type           string `json:"type"`
	}
	if err := json.Unmarshal([]byte(removed.data), &gone); err != nil || removed.name != "ticket.removed" ||
		gone.ConversationID != created.ID || gone.Type != gateway.TypeTicketAssigned {
		t.Fatalf("ann got %s %s (%v), want ticket.removed of the accept", removed.name, removed.data, err)
	}
	if c := s.countsMatch(t, annStream, ann.Secret); c.Unassigned != 0 {
		t.Fatalf("ann's counts after bob's accept %+v", c)
	}

	// sue comments on bob's conversation mentioning ann: a notification
	// for ann, who does not see the conversation itself.
	s.call(t, http.MethodPost, "/v1/tickets/"+id+"/comments", sue.Secret,
		map[string]any{"request_id": "cm-1", "text": "@ann can you help bob?"}, http.StatusOK)
	note := annStream.next(t, "notification", "ticket")
	if note.name != "notification" || !strings.Contains(note.data, `"kind":"mentioned"`) || !strings.Contains(note.data, `"by":"sue"`) {
		t.Fatalf("ann got %s %s, want the mention", note.name, note.data)
	}

	// Both processes gave sue's streams the same ids; a stream of process
	// 0 resumes on process 1.
	upTo := func(st *sseStream) []string {
		var ids []string
		for {
			ev := st.next(t, "ticket")
			typ, _ := ticketOf(t, ev)
			ids = append(ids, ev.id)
			if typ == gateway.TypeTicketCommentAdded {
				return ids
			}
		}
	}
	idsA, idsB := upTo(sueA), upTo(sueB)
	if fmt.Sprint(idsA) != fmt.Sprint(idsB) || len(idsA) < 5 {
		t.Fatalf("process ids differ:\n%v\n%v", idsA, idsB)
	}
	resumed := s.open(t, 1, sue.Secret, idsA[2])
	if ev := resumed.next(t, "ready", "resync"); ev.name != "ready" || ev.data != `{"resumed":true}` {
		t.Fatalf("resuming process 0's id on process 1: %s %s", ev.name, ev.data)
	}
	for i := 3; i < len(idsA); i++ {
		if got := resumed.next(t, "ticket").id; got != idsA[i] {
			t.Fatalf("resumed event %d: id %s, want %s", i, got, idsA[i])
		}
	}

	// The OpenAPI document lists the route.
	resp, err := http.Get("http://" + s.servers[0].Addr() + "/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil || doc.Paths["/v1/stream"]["get"] == nil {
		t.Fatalf("openapi.yaml does not document GET /v1/stream (%v)", err)
	}

	// Revoking ann's token ends her stream within the token cache time
	// and a recheck.
	if _, err := s.tokens.Revoke(context.Background(), ann.ID); err != nil {
		t.Fatal(err)
	}
	if ev := annStream.next(t, "end"); ev.data != `{"reason":"unauthorized"}` {
		t.Fatalf("ann's stream ended with %s", ev.data)
	}
}

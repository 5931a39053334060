package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/devstack"
	"github.com/chatgate/chatgate/gateway/kafka"
	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
	"github.com/chatgate/chatgate/gateway/testkit"
	"github.com/chatgate/chatgate/ticketing"
	"github.com/chatgate/chatgate/ticketing/pgstore"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const testToken = "test-api-token"

// stack is a running chatgate wired exactly as `chatgate run` wires it, on
// the embedded broker (its own, on a free port) and a fresh test database.
type stack struct {
	t       testing.TB
	app     *app
	base    string
	brokers []string
	cfg     config
	cancel  context.CancelFunc
	done    chan error
}

func testLog(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.DiscardHandler)
}

// startBroker starts an embedded broker with chatgate's topics.
func startBroker(t testing.TB) []string {
	t.Helper()
	b, err := devstack.StartBroker(devstack.BrokerConfig{
		Addr:       "127.0.0.1:0",
		Topics:     gateway.Topics{Prefix: gateway.DefaultTopicPrefix}.All(),
		Partitions: 4,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return []string{b.Addr()}
}

func startStack(t testing.TB, brokers []string, dbURL string, roles ...string) *stack {
	t.Helper()
	return startStackEnv(t, brokers, dbURL, nil, roles...)
}

// startStackEnv is startStack with the configuration read from env
// instead of the process environment.
func startStackEnv(t testing.TB, brokers []string, dbURL string, env map[string]string, roles ...string) *stack {
	t.Helper()
	return startStackWith(t, brokers, dbURL, env, nil, roles...)
}

// startStackWith starts chatgate with the test tokens (api, desk, ops),
// the configuration read from env as `chatgate run` reads the process's
// environment, and tune applied to it last.
func startStackWith(t testing.TB, brokers []string, dbURL string, env map[string]string, tune func(*config), roles ...string) *stack {
	t.Helper()
	cfg, err := loadConfig(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	cfg.Brokers = brokers
	cfg.DatabaseURL = dbURL
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.AdminAddr = "127.0.0.1:0" // no fixed port in tests
	cfg.APIToken, cfg.OpsToken, cfg.DeskToken = testToken, testOpsToken, testDeskToken
	cfg.Partitions = 4
	cfg.ShutdownTimeout = 5 * time.Second
	if len(roles) == 0 {
		roles = pipelineRoles
	}
	if tune != nil {
		tune(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := newApp(ctx, cfg, roles, testLog(t))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	s := &stack{t: t, app: a, brokers: brokers, cfg: cfg, cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- a.run(ctx) }()
	if a.server != nil {
		select {
		case <-a.server.Listening():
		case err := <-s.done:
			t.Fatalf("app stopped before listening: %v", err)
		case <-time.After(30 * time.Second):
			t.Fatal("http server did not start listening")
		}
		s.base = "http://" + a.server.Addr()
	}
	t.Cleanup(s.stop)
	return s
}

func (s *stack) stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.cancel = nil
	if err := <-s.done; err != nil {
		s.t.Errorf("app run: %v", err)
	}
	s.app.Close()
}

type apiMessage struct {
	ID          string `json:"id"`
	From        string `json:"from"`
	To          string `json:"to,omitempty"`
	Text        string `json:"text"`
	ContactName string `json:"contact_name,omitempty"`
}

func (s *stack) post(t testing.TB, body any, token string) (int, []byte) {
	t.Helper()
	raw, ok := body.(string)
	if !ok {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		raw = string(b)
	}
	req, err := http.NewRequest(http.MethodPost, s.base+"/v1/channels/api/messages", strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func (s *stack) mustPost(t testing.TB, m apiMessage) {
	t.Helper()
	if code, body := s.post(t, m, testToken); code != http.StatusAccepted {
		t.Fatalf("post %s: %d %s", m.ID, code, body)
	}
}

// ticketEvent is one decoded record of the tickets topic.
type ticketEvent struct {
	gateway.Event
	Key  string
	Data gateway.TicketEvent
}

// collectTickets reads the tickets topic from the start until n events
// arrived or the deadline passed. Delivery statuses of sent messages
// (message_status) arrive whenever the provider answers, so they are left
// out; tests that check them read the topic themselves.
func collectTickets(t testing.TB, brokers []string, n int, within time.Duration) []ticketEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	tail, err := kafka.NewTail(ctx, brokers, gateway.Topics{Prefix: gateway.DefaultTopicPrefix}.Name(gateway.TopicTickets), false)
	if err != nil {
		t.Fatal(err)
	}
	defer tail.Close()
	var out []ticketEvent
	for len(out) < n {
		select {
		case m := <-tail.Messages():
			ev, err := gateway.DecodeEvent(m.Value)
			if err != nil {
				t.Fatalf("ticket record is not a CloudEvent: %v", err)
			}
			if ev.Type == gateway.TypeTicketMessageStatus {
				continue
			}
			te := ticketEvent{Event: ev, Key: string(m.Key)}
			if err := ev.DecodeData(&te.Data); err != nil {
				t.Fatal(err)
			}
			out = append(out, te)
		case <-ctx.Done():
			t.Fatalf("got %d of %d ticket events before the deadline", len(out), n)
		}
	}
	return out
}

// countTopic returns how many records were ever written to topic.
func countTopic(t testing.TB, brokers []string, topic gateway.Topic) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := kafka.EndOffsets(ctx, brokers, gateway.Topics{Prefix: gateway.DefaultTopicPrefix}.Name(topic))
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, off := range ends {
		total += int(off)
	}
	return total
}

func dbCount(t testing.TB, s *stack, sql string) int {
	t.Helper()
	var n int
	if err := s.app.pool.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestEndToEnd_APIMessageBecomesTicketEvents(t *testing.T) {
	t.Parallel()
	s := startStack(t, startBroker(t), pgtest.URL(t))
	s.mustPost(t, apiMessage{ID: "web-1", From: "+27821234567", To: "+27600000000", Text: "Hello, my order is late", ContactName: "Thandi"})
	s.mustPost(t, apiMessage{ID: "web-2", From: "+27821234567", Text: "Order 1234"})

	evs := collectTickets(t, s.brokers, 3, 30*time.Second)
	wantTypes := []string{gateway.TypeTicketCreated, gateway.TypeTicketMessageAdded, gateway.TypeTicketMessageAdded}
	for i, ev := range evs {
		if ev.Type != wantTypes[i] {
			t.Fatalf("event %d type %s, want %s", i, ev.Type, wantTypes[i])
		}
		if err := ev.Validate(); err != nil || ev.Source != ticketing.EventSource || ev.DataContentType != "application/json" {
			t.Fatalf("event %d envelope: %+v (%v)", i, ev.Event, err)
		}
		c := ev.Data.Conversation
		if ev.Key != fmt.Sprint(c.ID) || ev.Subject != ev.Key {
			t.Fatalf("event %d keyed %q/subject %q, want conversation id %d", i, ev.Key, ev.Subject, c.ID)
		}
		if c.Kind != "live_chat" || c.State != "unassigned" || c.Contact.Channel != gateway.ChannelAPI ||
			c.Contact.Address != "+27821234567" || c.Contact.Name != "Thandi" {
			t.Fatalf("event %d conversation: %+v", i, c)
		}
	}
	ids := map[string]bool{}
	for _, ev := range evs {
		if ids[ev.ID] {
			t.Fatalf("duplicate event id %s", ev.ID)
		}
		ids[ev.ID] = true
	}
	m1, m2 := evs[1].Data.Message, evs[2].Data.Message
	if m1 == nil || m2 == nil || m1.ProviderID != "web-1" || m1.Text != "Hello, my order is late" || m1.Seq != 1 ||
		m2.ProviderID != "web-2" || m2.Seq != 2 || m1.Direction != "inbound" {
		t.Fatalf("messages: %+v %+v", m1, m2)
	}
	if evs[2].Data.Conversation.MessageCount != 2 || evs[0].Data.Conversation.ID != evs[2].Data.Conversation.ID {
		t.Fatalf("second message did not continue the conversation: %+v", evs[2].Data.Conversation)
	}
	testkit.WaitFor(t, 10*time.Second, "outbox marked published", func() bool {
		return dbCount(t, s, `SELECT count(*) FROM outbox WHERE published_at IS NULL`) == 0
	})
}

func TestR1_SamePostTwiceAndSameRecordTwiceStoreOnce(t *testing.T) {
	t.Parallel()
	s := startStack(t, startBroker(t), pgtest.URL(t))
	msg := apiMessage{ID: "dup-1", From: "+15550001111", Text: "once"}
	s.mustPost(t, msg)
	s.mustPost(t, msg) // a client retry: accepted again, stored once

	// The same Kafka record delivered twice, as a producer retry would.
	in := gateway.Inbound{Channel: gateway.ChannelAPI, ProviderID: "dup-2", From: "+15550001111", Text: "twice on kafka", ReceivedAt: time.Now().UTC()}
	ev, err := in.Event("test")
	if err != nil {
		t.Fatal(err)
	}
	rec, err := ev.Message(s.app.topics.Name(gateway.TopicInbound), in.ContactKey())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.app.producer.Publish(context.Background(), rec, rec); err != nil {
		t.Fatal(err)
	}
	s.mustPost(t, apiMessage{ID: "marker", From: "+15550001111", Text: "last"})

	evs := collectTickets(t, s.brokers, 4, 30*time.Second) // created + 3 message_added
	var added []string
	for _, ev := range evs {
		if ev.Type == gateway.TypeTicketMessageAdded {
			added = append(added, ev.Data.Message.ProviderID)
		}
	}
	if fmt.Sprint(added) != "[dup-1 dup-2 marker]" {
		t.Fatalf("message_added for %v, want [dup-1 dup-2 marker]", added)
	}
	if n := dbCount(t, s, `SELECT count(*) FROM messages`); n != 3 {
		t.Fatalf("stored messages = %d, want 3", n)
	}
	// Everything consumed: the marker came last on the contact's partition.
	if n := countTopic(t, s.brokers, gateway.TopicTickets); n != 4 {
		t.Fatalf("tickets topic holds %d records, want 4", n)
	}
}

// A worker that crashed after its DB commit but before its offset commit
// leaves the records uncommitted in Kafka; the next worker replays them.
func TestR1_ReplayAfterCrashBetweenDBCommitAndOffsetCommit(t *testing.T) {
	t.Parallel()
	brokers := startBroker(t)
	dbURL := pgtest.URL(t)
	ingress := startStack(t, brokers, dbURL, roleIngress)
	for i := range 20 {
		ingress.mustPost(t, apiMessage{ID: fmt.Sprintf("c-%02d", i), From: fmt.Sprintf("+1555000%04d", i%3), Text: "before the crash"})
	}
	// The "crashed" worker: reads the records, commits them to PostgreSQL
	// through the real service, and dies before committing any offset.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tail, err := kafka.NewTail(ctx, brokers, ingress.app.topics.Name(gateway.TopicInbound), false)
	if err != nil {
		t.Fatal(err)
	}
	var batch []gateway.Message
	for len(batch) < 20 {
		select {
		case m := <-tail.Messages():
			batch = append(batch, m)
		case <-ctx.Done():
			t.Fatal("inbound records did not arrive")
		}
	}
	tail.Close()
	crashed := &ticketing.Service{Store: pgstore.New(ingress.app.pool), Now: time.Now}
	if err := crashed.HandleBatch(ctx, batch[:13]); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		ingress.mustPost(t, apiMessage{ID: fmt.Sprintf("d-%02d", i), From: "+15550000001", Text: "after the crash"})
	}

	worker := startStack(t, brokers, dbURL, roleWorker, roleRelay)
	evs := collectTickets(t, brokers, 25+3, 60*time.Second) // 25 message_added + 3 created
	seen := map[string]int{}
	for _, ev := range evs {
		if ev.Type == gateway.TypeTicketMessageAdded {
			seen[ev.Data.Message.ProviderID]++
		}
	}
	if len(seen) != 25 {
		t.Fatalf("message_added for %d distinct messages, want 25", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("message %s published %d times", id, n)
		}
	}
	if n := dbCount(t, worker, `SELECT count(*) FROM messages`); n != 25 {
		t.Fatalf("stored messages = %d, want 25", n)
	}
	if n := dbCount(t, worker, `SELECT count(*) FROM conversations`); n != 3 {
		t.Fatalf("conversations = %d, want 3", n)
	}
}

func TestR2_ThousandMessagesFromFiftyContactsKeepOrder(t *testing.T) {
	t.Parallel()
	s := startStack(t, startBroker(t), pgtest.URL(t))
	const contacts, perContact = 50, 20
	var wg sync.WaitGroup
	errs := make(chan error, contacts)
	for c := range contacts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perContact {
				m := apiMessage{ID: fmt.Sprintf("o-%02d-%02d", c, i), From: fmt.Sprintf("+1555100%04d", c), Text: fmt.Sprint(i)}
				if code, body := s.post(t, m, testToken); code != http.StatusAccepted {
					errs <- fmt.Errorf("post %s: %d %s", m.ID, code, body)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	evs := collectTickets(t, s.brokers, contacts*perContact+contacts, 90*time.Second)
	// On the topic: per conversation, message_added in send order, after created.
	byConv := map[string][]string{}
	for _, ev := range evs {
		switch ev.Type {
		case gateway.TypeTicketCreated:
			if len(byConv[ev.Key]) != 0 {
				t.Fatalf("created after messages for conversation %s", ev.Key)
			}
			byConv[ev.Key] = []string{}
		case gateway.TypeTicketMessageAdded:
			byConv[ev.Key] = append(byConv[ev.Key], ev.Data.Message.ProviderID)
		}
	}
	if len(byConv) != contacts {
		t.Fatalf("%d conversations on the topic, want %d", len(byConv), contacts)
	}
	for conv, ids := range byConv {
		if len(ids) != perContact || !sort.StringsAreSorted(ids) {
			t.Fatalf("conversation %s: messages out of order or missing: %v", conv, ids)
		}
	}
	// In the database: seq follows send order for every contact.
	rows, err := s.app.pool.Query(context.Background(), `SELECT provider_id, seq FROM messages ORDER BY contact_id, seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id string
		var seq int
		if err := rows.Scan(&id, &seq); err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("-%02d", seq-1); !strings.HasSuffix(id, want) {
			t.Fatalf("message %s has seq %d", id, seq)
		}
		n++
	}
	if n != contacts*perContact {
		t.Fatalf("%d messages stored, want %d", n, contacts*perContact)
	}
}

func TestAPIChannel_BadRequestsWriteNothing(t *testing.T) {
	t.Parallel()
	s := startStack(t, startBroker(t), pgtest.URL(t))
	long := strings.Repeat("x", gateway.MaxTextLen+1)
	cases := []struct {
		name   string
		body   any
		token  string
		status int
		code   string
	}{
		{"no token", apiMessage{ID: "a", From: "+1", Text: "x"}, "", 401, "unauthorized"},
		{"wrong token", apiMessage{ID: "a", From: "+1", Text: "x"}, "nope", 401, "unauthorized"},
		{"bad json", `{"id": "a",`, testToken, 400, "invalid_json"},
		{"wrong type", `{"id": 5, "from": "+1", "text": "x"}`, testToken, 400, "invalid_json"},
		{"missing fields", apiMessage{Text: "x"}, testToken, 422, "invalid_message"},
		{"text too long", apiMessage{ID: "a", From: "+1", Text: long}, testToken, 422, "invalid_message"},
		{"body too large", `{"id":"a","from":"+1","text":"` + strings.Repeat("y", 70<<10) + `"}`, testToken, 413, "body_too_large"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := s.post(t, tc.body, tc.token)
			var e struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if err := json.Unmarshal(body, &e); err != nil || code != tc.status || e.Error.Code != tc.code || e.Error.Message == "" {
				t.Errorf("%s: got %d %s, want %d %s", tc.name, code, bytes.TrimSpace(body), tc.status, tc.code)
			}
		})
	}
	s.mustPost(t, apiMessage{ID: "good", From: "+15550009999", Text: "only me"})
	collectTickets(t, s.brokers, 2, 30*time.Second)
	if n := countTopic(t, s.brokers, gateway.TopicInbound); n != 1 {
		t.Fatalf("inbound topic holds %d records, want only the good one", n)
	}
	if n := dbCount(t, s, `SELECT count(*) FROM messages`); n != 1 {
		t.Fatalf("stored messages = %d, want 1", n)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	s := startStack(t, startBroker(t), pgtest.URL(t))
	for _, path := range []string{"/healthz", "/readyz", "/metrics", "/openapi.yaml"} {
		resp, err := http.Get(s.base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
		}
		if path == "/metrics" && !bytes.Contains(body, []byte("chatgate_http_request_duration_seconds")) {
			t.Fatalf("/metrics lacks chatgate metrics")
		}
	}
}

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	apichannel "github.com/chatgate/chatgate/channels/api"
	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
	"github.com/chatgate/chatgate/gateway/testkit"
	"github.com/chatgate/chatgate/ticketing"
)

const (
	testOpsToken       = "test-ops-token"
	testDeskToken      = "test-desk-token"
	testCallbackSecret = "0123456789abcdef0123456789abcdef"
)

// startRulesStack is startStackEnv with the ops and desk tokens set and
// cfg adjusted by tune (rule times, timer interval).
func startRulesStack(t testing.TB, brokers []string, dbURL string, env map[string]string, tune func(*config)) *stack {
	t.Helper()
	return startStackWith(t, brokers, dbURL, env, tune)
}

// callbackInbox is the customer's front end: it receives the API channel's
// outbound messages, refusing any whose signature does not verify.
type callbackInbox struct {
	t    testing.TB
	mu   sync.Mutex
	got  []apichannel.Callback
	bad  []string
	srv  *httptest.Server
	next int
}

func newCallbackInbox(t testing.TB) *callbackInbox {
	in := &callbackInbox{t: t}
	in.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		in.mu.Lock()
		defer in.mu.Unlock()
		if err := apichannel.VerifySignature(testCallbackSecret, r.Header.Get(apichannel.HeaderTimestamp), body,
			r.Header.Get(apichannel.HeaderSignature), time.Now(), time.Minute); err != nil {
			in.bad = append(in.bad, err.Error())
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var cb apichannel.Callback
		if err := json.Unmarshal(body, &cb); err != nil {
			in.bad = append(in.bad, err.Error())
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		in.got = append(in.got, cb)
		in.next++
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"front-end-%d"}`, in.next)
	}))
	t.Cleanup(in.srv.Close)
	return in
}

func (in *callbackInbox) env() map[string]string {
	return map[string]string{envAPICallbackURL: in.srv.URL, envAPICallbackSecret: testCallbackSecret}
}

// waitTexts waits until n messages arrived and returns them.
func (in *callbackInbox) waitTexts(n int, within time.Duration) []apichannel.Callback {
	in.t.Helper()
	var got []apichannel.Callback
	testkit.WaitFor(in.t, within, fmt.Sprintf("%d callbacks", n), func() bool {
		in.mu.Lock()
		defer in.mu.Unlock()
		if len(in.bad) > 0 {
			in.t.Fatalf("callbacks refused: %v", in.bad)
		}
		got = append([]apichannel.Callback(nil), in.got...)
		return len(got) >= n
	})
	return got
}

// call sends an HTTP request with a bearer token and a JSON body.
func (s *stack) call(t testing.TB, method, path, token string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		js, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, s.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func (s *stack) mustCall(t testing.TB, method, path, token string, body any, want int) []byte {
	t.Helper()
	code, out := s.call(t, method, path, token, body)
	if code != want {
		t.Fatalf("%s %s: %d, want %d: %s", method, path, code, want, out)
	}
	return out
}

// An out-of-hours conversation through the API channel, from outside:
// ops configure a department (over HTTP) that is closed today, a customer
// writes and leaves messages, and once the department opens and an agent
// is online, the customer's next message starts a live chat that closes
// the ticket (R4, R6, R7, R11, R12, R14).
func TestRules_OutOfHoursConversationEndToEnd(t *testing.T) {
	t.Parallel()
	inbox := newCallbackInbox(t)
	s := startRulesStack(t, startBroker(t), pgtest.URL(t), inbox.env(), func(c *config) {
		c.TimerInterval = 50 * time.Millisecond
	})
	const (
		customer = "+27821234567"
		business = "+27600000000"
	)

	// Ops: open around the clock, but closed today for a staff training;
	// texts in English. The agent's desk says it is online: the closure
	// still wins (R4 needs both).
	today := time.Now().UTC()
	support := ticketing.Department{
		ID: "support", Name: "Support", TimeZone: "UTC", Schedule: alwaysOpenSchedule(),
		Closures: []ticketing.Closure{{Name: "Staff training", From: today.AddDate(0, 0, -1).Format(time.DateOnly), To: today.AddDate(0, 0, 1).Format(time.DateOnly)}},
		Agents:   []string{"ann"},
		Routing:  ticketing.Routing{Numbers: []string{business}, Default: true},
		Texts:    map[string]ticketing.Texts{"en": {OutOfHours: "We are closed for training today."}},
	}
	s.mustCall(t, "PUT", "/v1/departments/support", testOpsToken, support, http.StatusCreated)
	s.mustCall(t, "PUT", "/v1/agents/ann/presence", testDeskToken, map[string]string{"status": "online"}, http.StatusOK)

	// The customer writes, says YES, leaves two messages and ends with //end.
	msgs := []apiMessage{
		{ID: "c-1", From: customer, To: business, Text: "Hello, my order is late", ContactName: "Thandi"},
		{ID: "c-2", From: customer, To: business, Text: " Yes "},
		{ID: "c-3", From: customer, To: business, Text: "Order 1234"},
		{ID: "c-4", From: customer, To: business, Text: "It was due on Monday"},
		{ID: "c-5", From: customer, To: business, Text: "//END"},
	}
	s.mustPost(t, msgs[0])
	inbox.waitTexts(2, 30*time.Second) // the customer reads the prompt before answering
	for _, m := range msgs[1:] {
		s.mustPost(t, m)
	}
	texts := inbox.waitTexts(3, 30*time.Second)
	wantTexts := []string{"We are closed for training today.", ticketing.DefaultTexts.LeaveMessagePrompt, ticketing.DefaultTexts.IntakeClosed}
	for i, cb := range texts {
		if i >= len(wantTexts) || cb.Text != wantTexts[i] || cb.To != customer || cb.From != business || cb.ConversationID == 0 {
			t.Fatalf("callback %d: %+v, want %q to %s from %s", i, cb, wantTexts[min(i, len(wantTexts)-1)], customer, business)
		}
	}

	evs := collectTickets(t, s.brokers, 11, 30*time.Second)
	type want struct {
		typ, kind, state, intake, reason, msg string
	}
	// The texts are message_added events too (R37): outbound, no provider id.
	wantEvs := []want{
		{gateway.TypeTicketCreated, "live_chat", "unassigned", "prompted", "", ""},
		{gateway.TypeTicketMessageAdded, "live_chat", "unassigned", "prompted", "", "c-1"},
		{gateway.TypeTicketMessageAdded, "live_chat", "unassigned", "prompted", "", ""},
		{gateway.TypeTicketMessageAdded, "live_chat", "unassigned", "prompted", "", ""},
		{gateway.TypeTicketMessageAdded, "live_chat", "unassigned", "prompted", "", "c-2"},
		{gateway.TypeTicketIntakeStarted, "ticket", "unassigned", "leaving", "", ""},
		{gateway.TypeTicketMessageAdded, "ticket", "unassigned", "leaving", "", "c-3"},
		{gateway.TypeTicketMessageAdded, "ticket", "unassigned", "leaving", "", "c-4"},
		{gateway.TypeTicketMessageAdded, "ticket", "unassigned", "leaving", "", "c-5"},
		{gateway.TypeTicketIntakeClosed, "ticket", "unassigned", "", ticketing.ReasonEndedByContact, ""},
		{gateway.TypeTicketMessageAdded, "ticket", "unassigned", "", "", ""},
	}
	ticketID := evs[0].Data.Conversation.ID
	for i, ev := range evs {
		c, w := ev.Data.Conversation, wantEvs[i]
		var msg string
		if ev.Data.Message != nil {
			msg = ev.Data.Message.ProviderID
		}
		if ev.Type != w.typ || c.Kind != w.kind || c.State != w.state || c.Intake != w.intake || ev.Data.Reason != w.reason || msg != w.msg ||
			c.ID != ticketID || c.Department != "support" || c.BusinessAddress != business {
			t.Fatalf("event %d: %s %+v reason %q message %q\nwant %+v", i, ev.Type, c, ev.Data.Reason, msg, w)
		}
	}
	if last := evs[10].Data.Conversation; last.MessageCount != 5 || last.IntakeClosesAt != nil || last.PromptExpiresAt != nil {
		t.Fatalf("waiting ticket: %+v", last)
	}

	// Ops lift the closure; the desk refreshes the agent's presence (the
	// heartbeat). The same customer writes again: a live chat starts and
	// the waiting ticket is closed (R14). No auto-responder this time.
	support.Closures = nil
	s.mustCall(t, "PUT", "/v1/departments/support", testOpsToken, support, http.StatusOK)
	s.mustCall(t, "PUT", "/v1/agents/ann/presence", testDeskToken, map[string]string{"status": "online"}, http.StatusOK)
	s.mustPost(t, apiMessage{ID: "c-6", From: customer, To: business, Text: "Are you open now?"})

	// Events of different conversations may interleave on the topic (it
	// is keyed by conversation): sort them out by conversation.
	var chatID int64
	var onTicket, onChat []string
	for _, ev := range collectTickets(t, s.brokers, 14, 30*time.Second) {
		c := ev.Data.Conversation
		if c.ID == ticketID {
			onTicket = append(onTicket, ev.Type)
			if len(onTicket) == 12 && (ev.Type != gateway.TypeTicketClosed || ev.Data.Reason != ticketing.ReasonSupersededByChat ||
				c.State != "closed" || c.CloseReason != ticketing.ReasonSupersededByChat || c.Kind != "ticket" || c.ArchiveAt == nil) {
				t.Fatalf("last ticket event %s %+v reason %q, want closed superseded_by_chat", ev.Type, c, ev.Data.Reason)
			}
			continue
		}
		if chatID != 0 && c.ID != chatID {
			t.Fatalf("events on a third conversation %d", c.ID)
		}
		chatID = c.ID
		if c.Kind != "live_chat" || c.State != "unassigned" || c.Intake != "" || c.Department != "support" {
			t.Fatalf("live chat event %s %+v", ev.Type, c)
		}
		onChat = append(onChat, ev.Type)
	}
	if len(onTicket) != 12 {
		t.Fatalf("ticket events: %v, want the 11 above and closed", onTicket)
	}
	if got := strings.Join(onChat, " "); got != gateway.TypeTicketCreated+" "+gateway.TypeTicketMessageAdded {
		t.Fatalf("live chat events: %s", got)
	}
	// Everything the worker wrote is on Kafka: exactly three texts went out.
	testkit.WaitFor(t, 10*time.Second, "outbox published", func() bool {
		return dbCount(t, s, `SELECT count(*) FROM outbox WHERE published_at IS NULL`) == 0
	})
	if n := countTopic(t, s.brokers, gateway.TopicOutbound); n != 3 {
		t.Fatalf("outbound topic holds %d records, want the 3 auto-responder texts", n)
	}
	if n := dbCount(t, s, `SELECT count(*) FROM conversations WHERE state IN ('unassigned', 'assigned', 'snoozed')`); n != 1 {
		t.Fatalf("%d open conversations, want the live chat only", n)
	}
}

// alwaysOpenSchedule is a department schedule open around the clock.
func alwaysOpenSchedule() map[string][]string {
	s := map[string][]string{}
	for _, d := range scheduleDays {
		s[d] = []string{"00:00-24:00"}
	}
	return s
}

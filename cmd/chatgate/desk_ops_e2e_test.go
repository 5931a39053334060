package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/kafka"
	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
	"github.com/chatgate/chatgate/ticketing"
)

// The desk as agents use it from outside (issue 6's check): tokens for two
// agents and a supervisor made with `chatgate tokens create`, conversations
// from the API channel, two agents quick-accepting at once, a transfer to
// an offline agent refused, an agent that must not see another's ticket
// refused, and every action on the tickets topic.
func TestDeskOperationsEndToEnd(t *testing.T) {
	t.Parallel()
	db := pgtest.URL(t)
	s := startRulesStack(t, startBroker(t), db, nil, nil)
	ann := createToken(t, db, "--role", "agent", "--agent", "ann")
	bob := createToken(t, db, "--role", "agent", "--agent", "bob")
	sup := createToken(t, db, "--role", "supervisor", "--agent", "sue")

	// An agent's own client reports that agent's presence, nobody else's.
	s.mustCall(t, http.MethodPut, "/v1/agents/ann/presence", ann, map[string]string{"status": "away"}, http.StatusOK)
	s.mustCall(t, http.MethodPut, "/v1/agents/bob/presence", ann, map[string]string{"status": "offline"}, http.StatusForbidden)

	const tickets = 6
	for i := range tickets {
		s.mustPost(t, apiMessage{ID: fmt.Sprintf("q-%d", i), From: fmt.Sprintf("+1555200%04d", i), Text: "help"})
	}
	collectTickets(t, s.brokers, 2*tickets, 30*time.Second)

	// Ann and Bob each quick-accept 3 at the same moment: all 6 assigned, none twice.
	var wg sync.WaitGroup
	got := map[string][]int64{}
	var mu sync.Mutex
	for agent, tok := range map[string]string{"ann": ann, "bob": bob} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := s.mustCall(t, http.MethodPost, "/v1/tickets/quick-accept", tok, map[string]any{"request_id": "qa-" + agent, "count": 3}, http.StatusOK)
			var out ticketing.Outcome
			if err := json.Unmarshal(body, &out); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, c := range out.Conversations {
				got[agent] = append(got[agent], c.ID)
			}
		}()
	}
	wg.Wait()
	seen := map[int64]string{}
	for agent, ids := range got {
		for _, id := range ids {
			if other, dup := seen[id]; dup {
				t.Fatalf("conversation %d went to %s and %s", id, other, agent)
			}
			seen[id] = agent
		}
	}
	if len(seen) != tickets {
		t.Fatalf("quick accepts assigned %d of %d tickets: %v", len(seen), tickets, got)
	}

	annsTicket := strconv.FormatInt(got["ann"][0], 10)
	// Bob may not read or act on Ann's ticket; the supervisor may read it.
	s.mustCall(t, http.MethodGet, "/v1/tickets/"+annsTicket, bob, nil, http.StatusNotFound)
	s.mustCall(t, http.MethodPost, "/v1/tickets/"+annsTicket+"/close", bob, map[string]any{"request_id": "steal"}, http.StatusForbidden)
	s.mustCall(t, http.MethodGet, "/v1/tickets/"+annsTicket, sup, nil, http.StatusOK)
	// A transfer to an agent who is not online is refused (R21).
	body := s.mustCall(t, http.MethodPost, "/v1/tickets/"+annsTicket+"/transfer", ann, map[string]any{"request_id": "tr-1", "to_agent": "bob"}, http.StatusConflict)
	var refusal struct {
		Error struct{ Code string } `json:"error"`
	}
	if err := json.Unmarshal(body, &refusal); err != nil || refusal.Error.Code != "agent_unavailable" {
		t.Fatalf("transfer to an offline agent: %s", body)
	}
	// Ann closes her ticket; the supervisor sees it among the closed ones.
	s.mustCall(t, http.MethodPost, "/v1/tickets/"+annsTicket+"/close", ann, map[string]any{"request_id": "cl-1"}, http.StatusOK)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tail, err := kafka.NewTail(ctx, s.brokers, s.app.topics.Name(gateway.TopicTickets), false)
	if err != nil {
		t.Fatal(err)
	}
	defer tail.Close()
	assigned := map[int64]bool{}
	closed := false
	for len(assigned) < tickets || !closed {
		select {
		case m := <-tail.Messages():
			ev, data, err := gateway.DecodeRecord[gateway.TicketEvent](m.Value)
			if err != nil {
				t.Fatal(err)
			}
			switch ev.Type {
			case "chatgate.ticket.assigned":
				assigned[data.Conversation.ID] = true
			case gateway.TypeTicketClosed:
				closed = closed || data.Conversation.ID == got["ann"][0]
			}
		case <-ctx.Done():
			t.Fatalf("events: %d tickets assigned, closed=%v", len(assigned), closed)
		}
	}
}

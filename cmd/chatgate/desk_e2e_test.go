package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
	"github.com/chatgate/chatgate/ticketing"
)

// An agent's reply goes out the same way whether the desk calls the HTTP
// API or writes a command record to Kafka: stored in the conversation,
// published as message_added, sent to the contact once per request id.
func TestDeskReplyOverHTTPAndKafkaReachesTheContact(t *testing.T) {
	t.Parallel()
	inbox := newCallbackInbox(t)
	s := startRulesStack(t, startBroker(t), pgtest.URL(t), inbox.env(), nil)
	s.mustPost(t, apiMessage{ID: "d-1", From: "+27821239999", Text: "Where is my parcel?"})
	conv := collectTickets(t, s.brokers, 2, 30*time.Second)[0].Data.Conversation.ID

	reply := map[string]any{"request_id": "r-http", "agent_id": "ann", "text": "It left today."}
	path := "/v1/tickets/" + strconv.FormatInt(conv, 10) + "/messages"
	body := s.mustCall(t, http.MethodPost, path, testDeskToken, reply, http.StatusAccepted)
	var out ticketing.Outcome
	if err := json.Unmarshal(body, &out); err != nil || !out.Accepted || out.Message == nil || out.Message.Text != "It left today." {
		t.Fatalf("reply outcome %s (%v)", body, err)
	}
	// The same request again: the first outcome, nothing sent twice.
	s.mustCall(t, http.MethodPost, path, testDeskToken, reply, http.StatusOK)
	// A desk without the desk role cannot reply.
	s.mustCall(t, http.MethodPost, path, testToken, reply, http.StatusForbidden)

	cmd := ticketing.Command{Type: ticketing.TypeCommandReply, RequestID: "r-kafka", ConversationID: conv, AgentID: "ann",
		Reply: &ticketing.Reply{Text: "A courier will call you."}}
	rec, err := cmd.Record("test", s.app.topics.Name(gateway.TopicCommands), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.app.producer.Publish(context.Background(), rec, rec); err != nil {
		t.Fatal(err)
	}
	texts := inbox.waitTexts(2, 30*time.Second)
	if texts[0].Text != "It left today." || texts[1].Text != "A courier will call you." || texts[0].ConversationID != conv {
		t.Fatalf("contact received %+v", texts)
	}
	var added []string
	for _, ev := range collectTickets(t, s.brokers, 4, 30*time.Second) {
		if ev.Type == gateway.TypeTicketMessageAdded && ev.Data.Message.Direction == "outbound" {
			added = append(added, ev.Data.Message.Text)
		}
	}
	if len(added) != 2 {
		t.Fatalf("outbound message_added events: %v", added)
	}
	if n := countTopic(t, s.brokers, gateway.TopicOutbound); n != 2 {
		t.Fatalf("outbound topic holds %d records, want one per request", n)
	}
}

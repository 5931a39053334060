package deskapi_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/ticketing"
)

// inbound writes one message of the contact of conversation i of the ops
// world (newOps) through the worker's batch path.
func (o *ops) inbound(t *testing.T, i int, id string, in gateway.Inbound) {
	t.Helper()
	in.Channel, in.ProviderID, in.From, in.ReceivedAt = gateway.ChannelAPI, id, fmt.Sprintf("+2782555000%d", i), o.now
	if in.To == "" {
		in.To = "+27600000000"
	}
	rec, err := in.Record("test", "chatgate.inbound")
	if err != nil {
		t.Fatal(err)
	}
	if err := o.svc.HandleBatch(context.Background(), []gateway.Message{rec}); err != nil {
		t.Fatal(err)
	}
}

// R24 over HTTP: after the contact ended the chat, replies and every
// command but resolve, delete, comment and read are refused with
// contact_ended_chat (409); the conversation shows when the contact left.
func TestR24_DeskAfterTheContactLeft(t *testing.T) {
	t.Parallel()
	o := newOps(t)
	conv := o.convs[0]
	path := fmt.Sprintf("/v1/tickets/%d", conv)
	if status, body := o.call(t, http.MethodPost, path+"/accept", "ann", map[string]any{"request_id": "acc"}); status != http.StatusOK {
		t.Fatalf("accept: %d %v", status, body)
	}
	o.inbound(t, 0, "bye", gateway.Inbound{Kind: gateway.KindEndChat})

	for _, tc := range []struct {
		route string
		body  map[string]any
		want  int
	}{
		{"/messages", map[string]any{"text": "Anything else?"}, http.StatusConflict},
		{"/transfer", map[string]any{"to_agent": "bob"}, http.StatusConflict},
		{"/return", map[string]any{}, http.StatusConflict},
		{"/snooze", map[string]any{"duration_seconds": 600}, http.StatusConflict},
		{"/comments", map[string]any{"text": "the customer left"}, http.StatusOK},
		{"/read", map[string]any{"read": true}, http.StatusOK},
	} {
		t.Run(tc.route, func(t *testing.T) {
			body := map[string]any{"request_id": "r" + tc.route}
			for k, v := range tc.body {
				body[k] = v
			}
			status, answer := o.call(t, http.MethodPost, path+tc.route, "ann", body)
			if status != tc.want || (tc.want == http.StatusConflict && code(answer) != ticketing.CodeContactEndedChat) {
				t.Fatalf("%s: %d %v, want %d", tc.route, status, answer, tc.want)
			}
		})
	}
	status, detail := o.call(t, http.MethodGet, path, "ann", nil)
	c := detail["conversation"].(map[string]any)
	if status != http.StatusOK || c["contact_left_at"] == nil || c["state"] != "assigned" {
		t.Fatalf("GET %s: %d %v", path, status, c)
	}
	var types []string
	for _, e := range detail["events"].([]any) {
		types = append(types, e.(map[string]any)["type"].(string))
	}
	// The end_chat message made it unread again: marking it read is a change.
	if fmt.Sprint(types) != fmt.Sprint([]string{gateway.TypeTicketCreated, gateway.TypeTicketAssigned, gateway.TypeTicketContactLeft,
		gateway.TypeTicketCommentAdded, gateway.TypeTicketReadState}) {
		t.Fatalf("history %v", types)
	}
	if status, answer := o.call(t, http.MethodPost, path+"/close", "ann", map[string]any{"request_id": "close"}); status != http.StatusOK {
		t.Fatalf("resolve: %d %v", status, answer)
	}
}

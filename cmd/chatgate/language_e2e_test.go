package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
	"github.com/chatgate/chatgate/gateway/testkit"
)

// R34 through the wiring: the API channel's "language", in any spelling the
// channel accepts, becomes the contact's language (canonical), with its
// source, in the conversation a desk reads.
func TestR34_APIChannelLanguageReachesTheContact(t *testing.T) {
	t.Parallel()
	s := startStack(t, startBroker(t), pgtest.URL(t))
	code, body := s.post(t, `{"id":"lang-1","from":"+27820000009","text":"Olá","language":"pt-br"}`, testToken)
	if code != http.StatusAccepted {
		t.Fatalf("post: %d %s", code, body)
	}
	var convID int64
	testkit.WaitFor(t, 30*time.Second, "the conversation", func() bool {
		err := s.app.pool.QueryRow(context.Background(),
			`SELECT conversation_id FROM messages WHERE provider_id = 'lang-1'`).Scan(&convID)
		return err == nil && convID > 0
	})
	code, out := s.rawCall(t, http.MethodGet, fmt.Sprintf("/v1/tickets/%d", convID), testDeskToken, "")
	if code != http.StatusOK {
		t.Fatalf("get: %d %s", code, out)
	}
	var got struct {
		Conversation gateway.ConversationView `json:"conversation"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if c := got.Conversation.Contact; c.Language != "pt_BR" || c.LanguageSource != "channel" {
		t.Fatalf("contact language %q from %q, want pt_BR from channel: %s", c.Language, c.LanguageSource, out)
	}
	code, out = s.post(t, `{"id":"lang-2","from":"+27820000009","text":"x","language":"klingon-ish"}`, testToken)
	if code != http.StatusUnprocessableEntity || !strings.Contains(string(out), `"language"`) {
		t.Fatalf("invalid language: %d %s, want 422 naming language", code, out)
	}
}

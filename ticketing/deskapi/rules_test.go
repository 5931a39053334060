package deskapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
	"github.com/chatgate/chatgate/templates"
	tplstore "github.com/chatgate/chatgate/templates/pgstore"
	"github.com/chatgate/chatgate/ticketing"
	"github.com/chatgate/chatgate/ticketing/deskapi"
	"github.com/chatgate/chatgate/ticketing/pgstore"
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

// R34 over HTTP: a Portuguese WhatsApp contact (by its number's prefix)
// is offered the Portuguese templates on template_required; a desk sets
// its language on the profile (PUT /v1/contacts/{id}/language), which the
// conversation then shows, and the offers follow.
func TestR34_ContactLanguageOverHTTP(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t)
	tpl := tplstore.New(pool)
	for _, lang := range []string{"en", "pt_PT"} {
		if _, err := tpl.Create(ctx, &templates.CreateParams{Template: templates.Template{Name: "follow_up", Language: lang,
			Category: templates.CategoryUtility, Channel: templates.ScopeAny, Body: "Hello again " + lang}}); err != nil {
			t.Fatal(err)
		}
		if _, err := tpl.SetStatus(ctx, &templates.SetStatusParams{Name: "follow_up", Language: lang, Status: templates.StatusApproved}); err != nil {
			t.Fatal(err)
		}
	}
	var now atomic.Int64
	now.Store(wrote.UnixNano())
	st := pgstore.New(pool)
	svc := &ticketing.Service{Store: st, Directory: st, Desk: ticketing.DeskConfig{Templates: tpl},
		Now: func() time.Time { return time.Unix(0, now.Load()).UTC() }}
	dep := ticketing.Department{ID: "support", TimeZone: "UTC", Agents: []string{"ann"}, Routing: ticketing.Routing{Default: true},
		Schedule: map[string][]string{"monday": {"00:00-24:00"}}, LanguagesByPrefix: map[string]string{"+351": "pt_PT"}}
	if _, err := svc.ApplyDepartments(ctx, []ticketing.Department{dep}, false); err != nil {
		t.Fatal(err)
	}
	if err := svc.SetPresence(ctx, "ann", ticketing.PresenceOnline); err != nil {
		t.Fatal(err)
	}
	in := gateway.Inbound{Channel: gateway.ChannelWhatsApp, ProviderID: "wa-pt", From: "+351912345678", To: "+27600000000", Text: "Olá", ReceivedAt: wrote}
	rec, err := in.Record("test", "chatgate.inbound")
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.HandleBatch(ctx, []gateway.Message{rec}); err != nil {
		t.Fatal(err)
	}
	var conv, contact int64
	if err := pool.QueryRow(ctx, `SELECT id, contact_id FROM conversations`).Scan(&conv, &contact); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	(&deskapi.Handlers{Service: svc}).MountWithRoles(mux.Handle, require)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	o := &ops{pool: pool, svc: svc, srv: srv}

	now.Store(wrote.Add(25 * time.Hour).UnixNano()) // the window closed: only templates
	offered := func(reqID string) (string, []string) {
		t.Helper()
		status, body := o.call(t, http.MethodPost, fmt.Sprintf("/v1/tickets/%d/messages", conv), "desk",
			map[string]any{"request_id": reqID, "agent_id": "ann", "text": "Olá!"})
		e := body["error"].(map[string]any)
		if status != http.StatusConflict || e["code"] != ticketing.CodeTemplateRequired {
			t.Fatalf("reply: %d %v", status, body)
		}
		var langs []string
		for _, tp := range e["templates"].([]any) {
			langs = append(langs, tp.(map[string]any)["language"].(string))
		}
		return e["language"].(string), langs
	}
	if lang, langs := offered("r-1"); lang != "pt_PT" || fmt.Sprint(langs) != "[pt_PT]" {
		t.Fatalf("offers for %s: %v, want the pt_PT template", lang, langs)
	}

	path := fmt.Sprintf("/v1/contacts/%d/language", contact)
	for _, tc := range []struct {
		path string
		body map[string]any
		want int
		code string
	}{
		{path, map[string]any{"language": "klingon"}, http.StatusUnprocessableEntity, deskapi.CodeInvalidLanguage},
		{path, map[string]any{}, http.StatusUnprocessableEntity, deskapi.CodeInvalidLanguage},
		{fmt.Sprintf("/v1/contacts/%d/language", contact+99), map[string]any{"language": "en"}, http.StatusNotFound, deskapi.CodeContactNotFound},
		{"/v1/contacts/x/language", map[string]any{"language": "en"}, http.StatusNotFound, deskapi.CodeContactNotFound},
	} {
		if status, body := o.call(t, http.MethodPut, tc.path, "desk", tc.body); status != tc.want || code(body) != tc.code {
			t.Errorf("PUT %s %v: %d %v, want %d %s", tc.path, tc.body, status, body, tc.want, tc.code)
		}
	}
	status, body := o.call(t, http.MethodPut, path, "desk", map[string]any{"language": "EN", "agent_id": "ann"})
	if c, _ := body["contact"].(map[string]any); status != http.StatusOK || c["language"] != "en" || c["language_source"] != "profile" {
		t.Fatalf("PUT %s: %d %v", path, status, body)
	}
	_, detail := o.call(t, http.MethodGet, fmt.Sprintf("/v1/tickets/%d", conv), "sue", nil)
	if c := detail["conversation"].(map[string]any)["contact"].(map[string]any); c["language"] != "en" || c["language_source"] != "profile" {
		t.Fatalf("the conversation shows the contact %v", c)
	}
	if lang, langs := offered("r-2"); lang != "en" || fmt.Sprint(langs) != "[en]" {
		t.Fatalf("offers for %s after the override: %v", lang, langs)
	}
	// Removed again: the number prefix decides.
	if status, body := o.call(t, http.MethodPut, path, "ops", map[string]any{"language": nil}); status != http.StatusOK ||
		body["contact"].(map[string]any)["language_source"] != "number_prefix" {
		t.Fatalf("removing the override: %d %v", status, body)
	}
}

// R35 over HTTP: with nobody of sales online, a new contact's conversation
// waits for its answer to the prompt: absent from the unassigned lists, not
// readable by the department's agent, accept refused with
// awaiting_contact_consent (409); after YES it is in the queue.
func TestR35_PromptPendingOverHTTP(t *testing.T) {
	t.Parallel()
	o := newOps(t)
	if err := o.svc.SetPresence(context.Background(), "cid", ticketing.PresenceOffline); err != nil {
		t.Fatal(err)
	}
	o.inbound(t, 9, "p-1", gateway.Inbound{To: salesNumber, Text: "Is the shop open?"})
	var conv int64
	if err := o.pool.QueryRow(context.Background(), `SELECT max(id) FROM conversations`).Scan(&conv); err != nil {
		t.Fatal(err)
	}
	listed := func(token string) bool {
		t.Helper()
		_, body := o.call(t, http.MethodGet, "/v1/tickets/unassigned", token, nil)
		for _, c := range body["conversations"].([]any) {
			if int64(c.(map[string]any)["id"].(float64)) == conv {
				return true
			}
		}
		return false
	}
	if listed("cid") || listed("sue") {
		t.Fatal("a conversation awaiting the contact's consent is listed")
	}
	if status, _ := o.call(t, http.MethodGet, fmt.Sprintf("/v1/tickets/%d", conv), "cid", nil); status != http.StatusNotFound {
		t.Fatalf("cid reads it: %d", status)
	}
	if status, body := o.call(t, http.MethodPost, fmt.Sprintf("/v1/tickets/%d/accept", conv), "sue", map[string]any{"request_id": "acc"}); status != http.StatusConflict ||
		code(body) != ticketing.CodeAwaitingContactConsent {
		t.Fatalf("accept: %d %v", status, body)
	}
	o.inbound(t, 9, "p-2", gateway.Inbound{To: salesNumber, Text: "YES"})
	if !listed("cid") {
		t.Fatal("after YES the ticket is not in the queue")
	}
}

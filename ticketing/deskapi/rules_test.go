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
		t.Run(tc.path, func(t *testing.T) {
			if status, body := o.call(t, http.MethodPut, tc.path, "desk", tc.body); status != tc.want || code(body) != tc.code {
				t.Errorf("PUT %s %v: %d %v, want %d %s", tc.path, tc.body, status, body, tc.want, tc.code)
			}
		})
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

// R36 over HTTP, with the seeds' policy: supervisors comment but do not
// write to the contact; an agent of the department joins a colleague's
// conversation with its own token (reads and writes it), an agent of
// another department does not; agents transfer live chats, not tickets,
// which supervisors assign; a department may forbid joining.
func TestR36_DeskPoliciesOverHTTP(t *testing.T) {
	t.Parallel()
	o := newOps(t)
	conv := fmt.Sprintf("/v1/tickets/%d", o.convs[0])
	call := func(method, path, token string, body map[string]any, want int, wantCode string) map[string]any {
		t.Helper()
		status, answer := o.call(t, method, path, token, body)
		if status != want || code(answer) != wantCode {
			t.Fatalf("%s %s as %s: %d %v, want %d %s", method, path, token, status, answer, want, wantCode)
		}
		return answer
	}
	req := func(id string, kv ...any) map[string]any {
		b := map[string]any{"request_id": id}
		for i := 0; i+1 < len(kv); i += 2 {
			b[kv[i].(string)] = kv[i+1]
		}
		return b
	}
	call(http.MethodPost, conv+"/accept", "bob", req("acc"), http.StatusOK, "")
	call(http.MethodPost, conv+"/messages", "sue", req("s-1", "text", "Hello from a supervisor"), http.StatusForbidden, ticketing.CodePolicyForbidsSupervisorReply)
	call(http.MethodPost, conv+"/comments", "sue", req("s-2", "text", "@bob please answer"), http.StatusOK, "")
	call(http.MethodGet, conv, "ann", nil, http.StatusOK, "")
	joined := call(http.MethodPost, conv+"/messages", "ann", req("a-1", "text", "Ann here, I can help"), http.StatusAccepted, "")
	if p := joined["conversation"].(map[string]any)["participants"]; fmt.Sprint(p) != "[bob ann]" {
		t.Fatalf("participants after ann joined: %v", p)
	}
	call(http.MethodGet, conv, "cid", nil, http.StatusNotFound, ticketing.CodeConversationNotFound)
	call(http.MethodPost, conv+"/messages", "cid", req("c-1", "text", "hi"), http.StatusForbidden, ticketing.CodeNotPermitted)
	call(http.MethodPost, conv+"/transfer", "bob", req("t-1", "to_agent", "ann"), http.StatusOK, "") // a live chat

	// A ticket of sales: agents do not transfer it, supervisors assign it.
	ctx := context.Background()
	if err := o.svc.SetPresence(ctx, "cid", ticketing.PresenceOffline); err != nil {
		t.Fatal(err)
	}
	o.inbound(t, 8, "k-1", gateway.Inbound{To: salesNumber, Text: "I want a quote"})
	o.inbound(t, 8, "k-2", gateway.Inbound{To: salesNumber, Text: "yes"})
	if err := o.svc.SetPresence(ctx, "cid", ticketing.PresenceOnline); err != nil {
		t.Fatal(err)
	}
	var ticket int64
	if err := o.pool.QueryRow(ctx, `SELECT id FROM conversations WHERE kind = 'ticket'`).Scan(&ticket); err != nil {
		t.Fatal(err)
	}
	tk := fmt.Sprintf("/v1/tickets/%d", ticket)
	call(http.MethodPost, tk+"/accept", "cid", req("acc-t"), http.StatusOK, "")
	call(http.MethodPost, tk+"/transfer", "cid", req("t-2", "to_agent", "ann"), http.StatusForbidden, ticketing.CodePolicyForbidsTransfer)
	call(http.MethodPost, tk+"/transfer", "sue", req("t-3", "to_agent", "ann"), http.StatusOK, "")

	// Support forbids joining: bob may no longer write on ann's chat.
	deps, err := o.svc.Departments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range deps {
		if deps[i].ID == "support" {
			no := false
			deps[i].DeskPolicy.AgentsJoin = &no
		}
	}
	if _, err := o.svc.ApplyDepartments(ctx, deps, false); err != nil {
		t.Fatal(err)
	}
	other := fmt.Sprintf("/v1/tickets/%d", o.convs[1])
	call(http.MethodPost, other+"/accept", "ann", req("acc-2"), http.StatusOK, "")
	call(http.MethodPost, other+"/messages", "bob", req("b-1", "text", "hi"), http.StatusForbidden, ticketing.CodePolicyForbidsJoin)
	call(http.MethodGet, other, "bob", nil, http.StatusNotFound, ticketing.CodeConversationNotFound)
}

// R36: the queue lists newest first or, with order=oldest, longest waiting
// first, page by page; every page reports the whole queue's total, counted
// with the reader's filter, which the quick-accept buttons show.
func TestR36_QueueOrderAndTotal(t *testing.T) {
	t.Parallel()
	o := newOps(t)
	list := func(token, query string) ([]int64, map[string]any) {
		t.Helper()
		status, body := o.call(t, http.MethodGet, "/v1/tickets/unassigned"+query, token, nil)
		if status != http.StatusOK {
			t.Fatalf("GET %s as %s: %d %v", query, token, status, body)
		}
		var ids []int64
		for _, c := range body["conversations"].([]any) {
			ids = append(ids, int64(c.(map[string]any)["id"].(float64)))
		}
		return ids, body
	}
	c := o.convs
	if ids, body := list("sue", ""); fmt.Sprint(ids) != fmt.Sprint([]int64{c[2], c[1], c[0]}) || body["total"] != float64(3) {
		t.Fatalf("newest first: %v, total %v", ids, body["total"])
	}
	first, body := list("sue", "?order=oldest&limit=2")
	if fmt.Sprint(first) != fmt.Sprint([]int64{c[0], c[1]}) || body["total"] != float64(3) {
		t.Fatalf("oldest first: %v, total %v", first, body["total"])
	}
	cursor := body["next_cursor"].(string)
	rest, body := list("sue", "?order=oldest&limit=2&cursor="+cursor)
	if fmt.Sprint(rest) != fmt.Sprint([]int64{c[2]}) || body["total"] != float64(3) || body["next_cursor"] != nil {
		t.Fatalf("second page: %v %v", rest, body)
	}
	if ids, body := list("ann", "?order=oldest"); fmt.Sprint(ids) != fmt.Sprint([]int64{c[0], c[1]}) || body["total"] != float64(2) {
		t.Fatalf("ann's queue: %v, total %v", ids, body["total"])
	}
	if _, body := list("cid", "?limit=1"); body["total"] != float64(1) {
		t.Fatalf("cid's queue total %v", body["total"])
	}
	for _, bad := range []struct{ path, code string }{
		{"/v1/tickets/unassigned?order=oldest&cursor=" + cursorOf(t, o, ""), deskapi.CodeInvalidCursor},
		{"/v1/tickets/unassigned?cursor=" + cursor, deskapi.CodeInvalidCursor},
		{"/v1/tickets/unassigned?order=random", deskapi.CodeInvalidParameter},
		{"/v1/tickets/closed?order=oldest", deskapi.CodeInvalidParameter},
	} {
		if status, body := o.call(t, http.MethodGet, bad.path, "sue", nil); status != http.StatusBadRequest || code(body) != bad.code {
			t.Errorf("GET %s: %d %v, want 400 %s", bad.path, status, body, bad.code)
		}
	}
	// Taking one leaves two; the assigned and snoozed lists count too.
	o.call(t, http.MethodPost, "/v1/tickets/quick-accept", "ann", map[string]any{"request_id": "qa", "count": 1})
	if _, body := list("sue", ""); body["total"] != float64(2) {
		t.Fatalf("total after a quick accept: %v", body["total"])
	}
	if _, body := o.call(t, http.MethodGet, "/v1/tickets/assigned", "ann", nil); body["total"] != float64(1) {
		t.Fatalf("ann's assigned total %v", body["total"])
	}
}

// cursorOf returns the next_cursor of sue's first page of one of the
// unassigned list in the order query.
func cursorOf(t *testing.T, o *ops, query string) string {
	t.Helper()
	_, body := o.call(t, http.MethodGet, "/v1/tickets/unassigned?limit=1"+query, "sue", nil)
	cur, _ := body["next_cursor"].(string)
	if cur == "" {
		t.Fatalf("no next_cursor: %v", body)
	}
	return cur
}

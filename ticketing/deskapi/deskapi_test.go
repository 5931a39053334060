package deskapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/httpapi"
	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
	"github.com/chatgate/chatgate/templates"
	tplstore "github.com/chatgate/chatgate/templates/pgstore"
	"github.com/chatgate/chatgate/ticketing"
	"github.com/chatgate/chatgate/ticketing/deskapi"
	"github.com/chatgate/chatgate/ticketing/pgstore"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var wrote = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

const (
	deskToken  = "desk-secret"
	opsToken   = "ops-secret"
	contentSID = "HX0123456789abcdef0123456789abcdef"
)

// desk is one test's world: a database with one WhatsApp conversation, the
// desk API on an httptest server, and a settable clock.
type desk struct {
	pool *pgxpool.Pool
	srv  *httptest.Server
	now  atomic.Int64
	conv int64
}

func newDesk(t *testing.T) *desk {
	t.Helper()
	d := &desk{pool: pgtest.Pool(t)}
	d.setNow(wrote)
	ctx := context.Background()
	tpl := tplstore.New(d.pool)
	for _, tt := range []templates.Template{
		{Name: "order_shipped", Language: "en", Category: templates.CategoryUtility, Channel: templates.ScopeAny,
			Body: "Hi {{first_name}}, order {{order}} has shipped.", Twilio: templates.TwilioRef{ContentSID: contentSID}},
		{Name: "welcome", Language: "en", Category: templates.CategoryMarketing, Channel: templates.ScopeWhatsApp, Body: "Welcome!"},
	} {
		if _, err := tpl.Create(ctx, &templates.CreateParams{Template: tt}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tpl.SetStatus(ctx, &templates.SetStatusParams{Name: "order_shipped", Language: "en", Status: templates.StatusApproved}); err != nil {
		t.Fatal(err)
	}
	st := pgstore.New(d.pool)
	svc := &ticketing.Service{Store: st, Directory: st, Desk: ticketing.DeskConfig{Templates: tpl},
		Now: func() time.Time { return time.Unix(0, d.now.Load()).UTC() }}

	in := gateway.Inbound{Channel: gateway.ChannelWhatsApp, ProviderID: "wa1", From: "+27821234567", To: "+27600000000", Text: "Where is my order?", ReceivedAt: wrote}
	rec, err := in.Record("test", "chatgate.inbound")
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.HandleBatch(ctx, []gateway.Message{rec}); err != nil {
		t.Fatal(err)
	}
	if err := d.pool.QueryRow(ctx, `SELECT id FROM conversations`).Scan(&d.conv); err != nil {
		t.Fatal(err)
	}

	mux := http.NewServeMux()
	auth := httpapi.NewAuthenticator(map[string]httpapi.Role{deskToken: httpapi.RoleDesk, opsToken: httpapi.RoleOps})
	(&deskapi.Handlers{Service: svc}).Mount(mux.Handle, func(h http.Handler) http.Handler { return auth.Require(h, httpapi.RoleDesk) })
	d.srv = httptest.NewServer(mux)
	t.Cleanup(d.srv.Close)
	return d
}

func (d *desk) setNow(t time.Time) { d.now.Store(t.UnixNano()) }

// post sends body to the conversation's messages route and decodes the answer.
func (d *desk) post(t testing.TB, path, token string, body any) (int, http.Header, map[string]any) {
	t.Helper()
	var raw []byte
	switch b := body.(type) {
	case string:
		raw = []byte(b)
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(http.MethodPost, d.srv.URL+path, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := d.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s: answer is not JSON: %v", path, err)
	}
	return resp.StatusCode, resp.Header, out
}

func (d *desk) reply(t testing.TB, body any) (int, http.Header, map[string]any) {
	t.Helper()
	return d.post(t, fmt.Sprintf("/v1/tickets/%d/messages", d.conv), deskToken, body)
}

func (d *desk) outbound(t testing.TB) []gateway.Outbound {
	t.Helper()
	rows, err := d.pool.Query(context.Background(), `SELECT value FROM outbox WHERE topic = 'outbound' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []gateway.Outbound
	for rows.Next() {
		var v []byte
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		_, o, err := gateway.DecodeRecord[gateway.Outbound](v)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, o)
	}
	return out
}

func errorOf(t *testing.T, body map[string]any) map[string]any {
	t.Helper()
	e, ok := body["error"].(map[string]any)
	if !ok {
		t.Fatalf("answer %v is not a JSON error", body)
	}
	return e
}

func TestR28_ReplyInsideTheWindowThenTemplateRequired(t *testing.T) {
	t.Parallel()
	d := newDesk(t)
	text := map[string]any{"request_id": "r-1", "agent_id": "ann", "text": "It left the warehouse today."}

	status, hdr, body := d.reply(t, text)
	if status != http.StatusAccepted || body["accepted"] != true || hdr.Get(deskapi.HeaderReplayed) != "" {
		t.Fatalf("reply = %d %v", status, body)
	}
	msg := body["message"].(map[string]any)
	if msg["direction"] != "outbound" || msg["text"] != text["text"] || msg["agent_id"] != "ann" || msg["outbound_request_id"] != "desk:r-1" ||
		msg["conversation_id"] != float64(d.conv) {
		t.Fatalf("message %v", msg)
	}
	if conv := body["conversation"].(map[string]any); conv["window_expires_at"] != wrote.Add(24*time.Hour).Format(time.RFC3339) {
		t.Fatalf("conversation %v", conv)
	}

	// R32: the same request again sends nothing and answers the same message.
	status, hdr, again := d.reply(t, text)
	if status != http.StatusOK || hdr.Get(deskapi.HeaderReplayed) != "true" || again["message"].(map[string]any)["id"] != msg["id"] {
		t.Fatalf("repeat = %d %v", status, again)
	}
	if outs := d.outbound(t); len(outs) != 1 || outs[0].RequestID != "desk:r-1" || outs[0].MessageID != int64(msg["id"].(float64)) {
		t.Fatalf("outbound %+v, want one send of message %v", outs, msg["id"])
	}
	// Another command under the same request id is refused.
	status, _, reused := d.reply(t, map[string]any{"request_id": "r-1", "agent_id": "ann", "text": "Something else"})
	if status != http.StatusConflict || errorOf(t, reused)["code"] != ticketing.CodeRequestIDReused {
		t.Fatalf("reused request id = %d %v", status, reused)
	}

	// Exactly 24 hours after the contact's message the window is closed.
	d.setNow(wrote.Add(24 * time.Hour))
	status, _, body = d.reply(t, map[string]any{"request_id": "r-2", "agent_id": "ann", "text": "Hello?"})
	e := errorOf(t, body)
	if status != http.StatusConflict || e["code"] != ticketing.CodeTemplateRequired || e["request_id"] != "r-2" ||
		e["window_closed_at"] != wrote.Add(24*time.Hour).Format(time.RFC3339) || e["channel"] != "whatsapp" {
		t.Fatalf("free text after the window = %d %v", status, body)
	}
	offers, _ := e["templates"].([]any)
	if len(offers) != 1 || offers[0].(map[string]any)["name"] != "order_shipped" ||
		fmt.Sprint(offers[0].(map[string]any)["variables"]) != "[first_name order]" {
		t.Fatalf("offered templates %v, want the approved order_shipped only", e["templates"])
	}

	// The template goes out, with what each provider needs.
	status, _, body = d.reply(t, map[string]any{"request_id": "r-3", "agent_id": "ann",
		"template": map[string]any{"name": "order_shipped", "language": "EN", "variables": map[string]string{"first_name": "Ana", "order": "A-17"}}})
	if status != http.StatusAccepted {
		t.Fatalf("template = %d %v", status, body)
	}
	if tpl := body["message"].(map[string]any)["template"].(map[string]any); tpl["name"] != "order_shipped" || tpl["language"] != "en" || tpl["version"] != float64(1) {
		t.Fatalf("message template %v", tpl)
	}
	outs := d.outbound(t)
	o := outs[len(outs)-1]
	if len(outs) != 2 || o.RequestID != "desk:r-3" || o.Text != "Hi Ana, order A-17 has shipped." || o.Template == nil ||
		o.Template.TwilioContentSID != contentSID || o.Template.TwilioContentVariables != `{"first_name":"Ana","order":"A-17"}` {
		t.Fatalf("template send %+v", o)
	}
	var wa templates.WhatsAppTemplate
	if err := json.Unmarshal(o.Template.WhatsApp, &wa); err != nil || wa.Components[0].Parameters[0].ParameterName != "first_name" {
		t.Fatalf("whatsapp template %s (%v)", o.Template.WhatsApp, err)
	}
}

func TestReplyRefusals(t *testing.T) {
	t.Parallel()
	d := newDesk(t)
	t.Run("group", func(t *testing.T) { refusals(t, d) })
	// The group returns once its parallel subtests ended.
	if outs := d.outbound(t); len(outs) != 0 {
		t.Fatalf("refused replies sent %+v", outs)
	}
}

func refusals(t *testing.T, d *desk) {
	tplBody := func(id, name string, vars map[string]string) map[string]any {
		return map[string]any{"request_id": id, "agent_id": "ann", "template": map[string]any{"name": name, "language": "en", "variables": vars}}
	}
	for _, tc := range []struct {
		name   string
		path   string
		token  string
		body   any
		status int
		code   string
		check  func(t *testing.T, e map[string]any)
	}{
		{name: "no token", token: "-", body: "{}", status: http.StatusUnauthorized, code: httpapi.CodeUnauthorized},
		{name: "ops token", token: opsToken, body: "{}", status: http.StatusForbidden, code: httpapi.CodeForbidden},
		{name: "malformed JSON", body: `{"request_id":`, status: http.StatusBadRequest, code: httpapi.CodeInvalidJSON},
		{name: "not a conversation id", path: "/v1/tickets/%23abc/messages", body: map[string]any{"request_id": "x", "agent_id": "ann", "text": "hi"},
			status: http.StatusNotFound, code: ticketing.CodeConversationNotFound},
		{name: "unknown conversation", path: "/v1/tickets/999999/messages", body: map[string]any{"request_id": "q-1", "agent_id": "ann", "text": "hi"},
			status: http.StatusNotFound, code: ticketing.CodeConversationNotFound},
		{name: "invalid command", body: map[string]any{"text": "hi", "template": map[string]any{"name": "x", "language": "en"}},
			status: http.StatusUnprocessableEntity, code: ticketing.CodeInvalidCommand,
			check: func(t *testing.T, e map[string]any) {
				if fmt.Sprint(e["details"]) != "[map[field:request_id message:is required] map[field:agent_id message:is required] map[field:text message:give text or template, not both]]" {
					t.Fatalf("details %v", e["details"])
				}
			}},
		{name: "unknown template", body: tplBody("q-2", "nope", nil), status: http.StatusUnprocessableEntity, code: ticketing.CodeTemplateNotFound},
		{name: "draft template", body: tplBody("q-3", "welcome", nil), status: http.StatusUnprocessableEntity, code: ticketing.CodeTemplateNotApproved,
			check: func(t *testing.T, e map[string]any) {
				if e["template_status"] != "draft" {
					t.Fatalf("template_status %v", e["template_status"])
				}
			}},
		{name: "invalid variables", body: tplBody("q-4", "order_shipped", map[string]string{"first_name": "", "coupon": "X"}),
			status: http.StatusUnprocessableEntity, code: ticketing.CodeInvalidVariables,
			check: func(t *testing.T, e map[string]any) {
				want := "[map[code:missing field:template.variables.order message:no value for {{order}}] " +
					"map[code:extra field:template.variables.coupon message:{{coupon}} is not a variable of the template] " +
					"map[code:empty field:template.variables.first_name message:the value of {{first_name}} is empty]]"
				if fmt.Sprint(e["details"]) != want {
					t.Fatalf("details %v\nwant    %s", e["details"], want)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := tc.path
			if path == "" {
				path = fmt.Sprintf("/v1/tickets/%d/messages", d.conv)
			}
			token := tc.token
			switch token {
			case "":
				token = deskToken
			case "-":
				token = ""
			}
			status, _, body := d.post(t, path, token, tc.body)
			e := errorOf(t, body)
			if status != tc.status || e["code"] != tc.code {
				t.Fatalf("answer %d %v, want %d %s", status, body, tc.status, tc.code)
			}
			if tc.check != nil {
				tc.check(t, e)
			}
		})
	}
}

func TestStatusOfEveryCode(t *testing.T) {
	t.Parallel()
	for code, want := range map[string]int{
		ticketing.CodeInvalidCommand: 422, ticketing.CodeUnsupportedCommand: 400, ticketing.CodeRequestIDReused: 409,
		ticketing.CodeConversationNotFound: 404, ticketing.CodeConversationClosed: 409, ticketing.CodeContactEndedChat: 409,
		ticketing.CodeContactSpam: 409, ticketing.CodeContactOptedOut: 409, ticketing.CodeTemplateRequired: 409,
		ticketing.CodeTemplateNotFound: 422, ticketing.CodeTemplateNotApproved: 422, ticketing.CodeTemplateNotForChannel: 422,
		ticketing.CodeInvalidVariables: 422,
	} {
		if got := deskapi.StatusOf(code); got != want {
			t.Errorf("StatusOf(%s) = %d, want %d", code, got, want)
		}
	}
}

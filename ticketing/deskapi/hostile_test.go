package deskapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chatgate/chatgate/gateway/hostile"
)

// raw sends body byte for byte (nil: no body) and returns the status and
// the error code of the answer ("" for a success).
func (d *desk) raw(t *testing.T, method, path string, body *string) (int, string, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = strings.NewReader(*body)
	}
	req, err := http.NewRequest(method, d.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+deskToken)
	resp, err := d.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Details []struct {
				Field string `json:"field"`
			} `json:"details"`
		} `json:"error"`
	}
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("%s %s: answer is not JSON: %.200s", method, path, b)
	}
	field := ""
	if len(e.Error.Details) > 0 {
		field = e.Error.Details[0].Field
	}
	return resp.StatusCode, e.Error.Code, field
}

func (d *desk) count(t *testing.T, query string) int {
	t.Helper()
	var n int
	if err := d.pool.QueryRow(context.Background(), query).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// jsonBody writes fields (already JSON values) as one object, in order.
func jsonBody(kv ...string) *string {
	var b strings.Builder
	b.WriteString("{")
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "%q:%s", kv[i], kv[i+1])
	}
	b.WriteString("}")
	s := b.String()
	return &s
}

// TestR38_HostileCorpusAtTheDeskAPI sends every hostile value in every
// field of the desk routes: replies, comments, transfers, signatures,
// snoozes, quick accepts, the acting agent, request ids, search and the
// list filters. Each answer is the documented one: a 4xx with chatgate's
// error naming the field, or a success for what the field accepts; never
// a 5xx or a 503 "retry". Only the accepted replies and comments are
// stored.
func TestR38_HostileCorpusAtTheDeskAPI(t *testing.T) {
	t.Parallel()
	d := newDesk(t)
	messagesBefore := d.count(t, `SELECT count(*) FROM messages`)
	commentsBefore := d.count(t, `SELECT count(*) FROM conversation_events WHERE type = 'chatgate.ticket.comment_added'`)
	replies, comments := 0, 0

	n := 0
	rid := func() string { n++; return fmt.Sprintf(`"hostile-%d"`, n) }
	conv := fmt.Sprintf("/v1/tickets/%d", d.conv)
	check := func(what string, method, path string, body *string, want int, wantField string) int {
		t.Helper()
		status, code, field := d.raw(t, method, path, body)
		switch {
		case status != want:
			t.Errorf("%s: status %d (%s %s), want %d", what, status, code, field, want)
		case status >= 500:
			t.Errorf("%s: a 5xx for bad input", what)
		case status == http.StatusUnprocessableEntity && wantField != "" && field != wantField:
			t.Errorf("%s: the error names %q, want %q", what, field, wantField)
		}
		return status
	}
	// want is the status for a hostile class in a field whose rule accepts
	// the classes given (ok is its success status).
	want := func(h hostile.JSONString, ok int, accepts ...hostile.Class) int {
		switch h.Class {
		case hostile.InvalidUTF8, hostile.LoneSurrogate:
			return http.StatusBadRequest
		case hostile.Huge:
			return http.StatusRequestEntityTooLarge
		}
		for _, c := range accepts {
			if h.Class == c {
				return ok
			}
		}
		return http.StatusUnprocessableEntity
	}
	texts := []hostile.Class{hostile.Long, hostile.Padded, hostile.Path, hostile.Whitespace, hostile.Unicode}
	keys := []hostile.Class{hostile.Path, hostile.Whitespace, hostile.Unicode}

	for _, h := range hostile.JSONStrings() {
		if check("reply text "+h.Name, "POST", conv+"/messages", jsonBody("request_id", rid(), "agent_id", `"ann"`, "text", h.Literal),
			want(h, http.StatusAccepted, texts...), "text") == http.StatusAccepted {
			replies++
		}
		if check("comment "+h.Name, "POST", conv+"/comments", jsonBody("request_id", rid(), "agent_id", `"ann"`, "text", h.Literal),
			want(h, http.StatusOK, texts...), "text") == http.StatusOK {
			comments++
		}
		if check("request_id "+h.Name, "POST", conv+"/comments", jsonBody("request_id", h.Literal, "agent_id", `"ann"`, "text", `"note"`),
			want(h, http.StatusOK, keys...), "request_id") == http.StatusOK {
			comments++
		}
		check("agent_id "+h.Name, "POST", conv+"/messages", jsonBody("request_id", rid(), "agent_id", h.Literal, "text", `"hi"`),
			want(h, 0), "agent_id")
		check("to_agent "+h.Name, "POST", conv+"/transfer", jsonBody("request_id", rid(), "agent_id", `"ann"`, "to_agent", h.Literal),
			want(h, 0), "to_agent")
		toDept := "to_department"
		if h.Class == hostile.Empty {
			toDept = "to_agent" // "give to_agent or to_department, exactly one"
		}
		check("to_department "+h.Name, "POST", conv+"/transfer", jsonBody("request_id", rid(), "agent_id", `"ann"`, "to_department", h.Literal),
			want(h, 0), toDept)
		check("display_name "+h.Name, "PUT", "/v1/agents/ann/sign", jsonBody("request_id", rid(), "sign", "true", "display_name", h.Literal),
			want(h, http.StatusOK, hostile.Empty, hostile.Padded, hostile.Path, hostile.Whitespace, hostile.Unicode), "display_name")
		// A name no template has is template_not_found, one the store
		// cannot look up invalid_command: 422 either way.
		check("template name "+h.Name, "POST", conv+"/messages",
			jsonBody("request_id", rid(), "agent_id", `"ann"`, "template", `{"name":`+h.Literal+`,"language":"en"}`), want(h, 0), "")
		if check("variable "+h.Name, "POST", conv+"/messages",
			jsonBody("request_id", rid(), "agent_id", `"ann"`, "template", `{"name":"order_shipped","language":"en","variables":{"first_name":`+h.Literal+`,"order":"A-1"}}`),
			want(h, http.StatusAccepted, texts...), "") == http.StatusAccepted {
			replies++
		}
		check("snooze until "+h.Name, "POST", conv+"/snooze", jsonBody("request_id", rid(), "agent_id", `"ann"`, "until", h.Literal),
			map[bool]int{true: http.StatusRequestEntityTooLarge, false: http.StatusBadRequest}[h.Class == hostile.Huge], "")
	}
	for _, num := range hostile.JSONNumbers() {
		check("snooze duration "+num.Name, "POST", conv+"/snooze", jsonBody("request_id", rid(), "agent_id", `"ann"`, "duration_seconds", num.Text),
			http.StatusBadRequest, "")
		check("quick-accept count "+num.Name, "POST", "/v1/tickets/quick-accept", jsonBody("request_id", rid(), "agent_id", `"ann"`, "count", num.Text),
			http.StatusBadRequest, "")
	}
	check("a huge duration that wraps to an hour", "POST", conv+"/snooze",
		jsonBody("request_id", rid(), "agent_id", `"ann"`, "duration_seconds", "36028797018967568"), http.StatusUnprocessableEntity, "duration_seconds")
	check("unknown field media_urls on a reply", "POST", conv+"/messages",
		jsonBody("request_id", rid(), "agent_id", `"ann"`, "text", `"see"`, "media_urls", `["https://x.example/a.png"]`), http.StatusBadRequest, "")

	for _, h := range hostile.Strings() {
		if h.Class == hostile.Huge {
			continue // a 1 MB request line is refused by the HTTP server itself (431)
		}
		q := url.QueryEscape(h.Value)
		wantQ := http.StatusBadRequest
		if h.Class == hostile.Padded || h.Class == hostile.Path || h.Class == hostile.Whitespace || h.Class == hostile.Unicode {
			wantQ = http.StatusOK
		}
		check("search "+h.Name, "GET", "/v1/tickets/search?agent_id=ann&q="+q, nil, wantQ, "")
		wantAgent := http.StatusBadRequest
		if h.Class == hostile.Empty {
			wantAgent = http.StatusOK
		}
		check("?agent_id= "+h.Name, "GET", "/v1/tickets/unassigned?agent_id="+q, nil, wantAgent, "")
		check("?agent= "+h.Name, "GET", "/v1/tickets/assigned?agent="+q, nil, wantAgent, "")
		check("?by= "+h.Name, "GET", "/v1/tickets/closed?by="+q, nil, wantAgent, "")
		check("?cursor= "+h.Name, "GET", "/v1/tickets/unassigned?cursor="+q, nil, wantAgent, "")
		if h.Class != hostile.Empty {
			check("sign path "+h.Name, "PUT", "/v1/agents/"+url.PathEscape(h.Value)+"/sign", jsonBody("request_id", rid(), "sign", "true"),
				http.StatusUnprocessableEntity, "agent_id")
			check("ticket path "+h.Name, "POST", "/v1/tickets/"+url.PathEscape(h.Value)+"/close", jsonBody("request_id", rid(), "agent_id", `"ann"`),
				http.StatusNotFound, "")
		}
	}

	if got := d.count(t, `SELECT count(*) FROM messages`) - messagesBefore; got != replies {
		t.Errorf("%d messages stored, want the %d accepted replies", got, replies)
	}
	if got := d.count(t, `SELECT count(*) FROM conversation_events WHERE type = 'chatgate.ticket.comment_added'`) - commentsBefore; got != comments {
		t.Errorf("%d comments stored, want the %d accepted", got, comments)
	}
}

// TestR38_NULInADeskReplyCommentOrSearchIsNotA503 is the defect: each
// answered 503 "retry with the same request_id" (PostgreSQL refused the
// NUL), so a client following the docs retried for ever. Each is now a
// 4xx naming the field, and nothing is stored.
func TestR38_NULInADeskReplyCommentOrSearchIsNotA503(t *testing.T) {
	t.Parallel()
	d := newDesk(t)
	conv := fmt.Sprintf("/v1/tickets/%d", d.conv)
	for _, tt := range []struct {
		what, method, path string
		body               *string
		status             int
		code, field        string
	}{
		{"reply", "POST", conv + "/messages", jsonBody("request_id", `"r-1"`, "agent_id", `"ann"`, "text", `"a\u0000b"`), 422, "invalid_command", "text"},
		{"comment", "POST", conv + "/comments", jsonBody("request_id", `"r-2"`, "agent_id", `"ann"`, "text", `"a\u0000b"`), 422, "invalid_command", "text"},
		{"search", "GET", "/v1/tickets/search?agent_id=ann&q=a%00b", nil, 400, "invalid_parameter", "q"},
		{"agent id as a path", "POST", conv + "/messages", jsonBody("request_id", `"r-3"`, "agent_id", `"../../etc/passwd"`, "text", `"hi"`), 422, "invalid_command", "agent_id"},
		{"agent id with a slash", "POST", conv + "/transfer", jsonBody("request_id", `"r-4"`, "agent_id", `"ann"`, "to_agent", `"a/b"`), 422, "invalid_command", "to_agent"},
		{"agent id of 300 characters", "PUT", "/v1/agents/" + strings.Repeat("a", 300) + "/sign", jsonBody("request_id", `"r-5"`, "sign", "true"), 422, "invalid_command", "agent_id"},
		{"media_urls on a reply", "POST", conv + "/messages", jsonBody("request_id", `"r-6"`, "agent_id", `"ann"`, "text", `"hi"`, "media_urls", `[]`), 400, "unknown_field", "media_urls"},
	} {
		t.Run(tt.what, func(t *testing.T) {
			status, code, field := d.raw(t, tt.method, tt.path, tt.body)
			if status != tt.status || code != tt.code || field != tt.field {
				t.Errorf("%s: %d %s naming %q, want %d %s naming %q", tt.what, status, code, field, tt.status, tt.code, tt.field)
			}
		})
	}
	if n := d.count(t, `SELECT count(*) FROM messages WHERE direction = 'outbound'`); n != 0 {
		t.Errorf("%d outbound messages stored for refused requests", n)
	}
}

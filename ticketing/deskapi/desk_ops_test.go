package deskapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/httpapi"
	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
	"github.com/chatgate/chatgate/ticketing"
	"github.com/chatgate/chatgate/ticketing/deskapi"
	"github.com/chatgate/chatgate/ticketing/pgstore"
)

// The tokens of the operations tests, each a principal.
var principals = map[string]httpapi.Principal{
	"ann":    {Role: httpapi.RoleAgent, Agent: "ann"},
	"bob":    {Role: httpapi.RoleAgent, Agent: "bob"},
	"cid":    {Role: httpapi.RoleAgent, Agent: "cid"},
	"sue":    {Role: httpapi.RoleSupervisor, Agent: "sue"},
	"desk":   {Role: httpapi.RoleDesk},
	"ops":    {Role: httpapi.RoleOps},
	"api":    {Role: httpapi.RoleAPIChannel},
	"nobody": {Role: httpapi.RoleAgent}, // an agent token bound to no agent
}

// require stands in for httpapi.Authenticator.Require with principals
// bound to agents: 401 without a known token, 403 for another role.
func require(h http.Handler, roles ...httpapi.Role) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := principals[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
		if !ok {
			httpapi.WriteError(w, http.StatusUnauthorized, httpapi.CodeUnauthorized, "unknown bearer token")
			return
		}
		if !slices.Contains(roles, p.Role) {
			httpapi.WriteError(w, http.StatusForbidden, httpapi.CodeForbidden, "this token's role may not use this route")
			return
		}
		h.ServeHTTP(w, r.WithContext(httpapi.WithPrincipal(r.Context(), p)))
	})
}

// ops is one test's world: departments support (ann, bob) and sales
// (cid), ann, bob and cid online, three API conversations (0, 1 to
// support, 2 to sales), and the desk API mounted with its roles.
type ops struct {
	pool  *pgxpool.Pool
	svc   *ticketing.Service
	srv   *httptest.Server
	convs []int64
	now   time.Time
}

const salesNumber = "+27600000001"

func newOps(t *testing.T) *ops {
	t.Helper()
	o := &ops{pool: pgtest.Pool(t), now: wrote}
	st := pgstore.New(o.pool)
	o.svc = &ticketing.Service{Store: st, Directory: st, Now: func() time.Time { return o.now }}
	ctx := context.Background()
	deps := []ticketing.Department{
		{ID: "support", TimeZone: "UTC", Agents: []string{"ann", "bob"}, Routing: ticketing.Routing{Default: true},
			Schedule: map[string][]string{"monday": {"00:00-24:00"}}},
		{ID: "sales", TimeZone: "UTC", Agents: []string{"cid"}, Routing: ticketing.Routing{Numbers: []string{salesNumber}},
			Schedule: map[string][]string{"monday": {"00:00-24:00"}}},
	}
	if _, err := o.svc.ApplyDepartments(ctx, deps, false); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"ann", "bob", "cid"} {
		if err := o.svc.SetPresence(ctx, a, ticketing.PresenceOnline); err != nil {
			t.Fatal(err)
		}
	}
	for i, to := range []string{"+27600000000", "+27600000000", salesNumber} {
		in := gateway.Inbound{Channel: gateway.ChannelAPI, ProviderID: fmt.Sprintf("in-%d", i), From: fmt.Sprintf("+2782555000%d", i), To: to,
			Text: fmt.Sprintf("parcel question %d", i), ReceivedAt: wrote}
		rec, err := in.Record("test", "chatgate.inbound")
		if err != nil {
			t.Fatal(err)
		}
		if err := o.svc.HandleBatch(ctx, []gateway.Message{rec}); err != nil {
			t.Fatal(err)
		}
		var id int64
		if err := o.pool.QueryRow(ctx, `SELECT max(id) FROM conversations`).Scan(&id); err != nil {
			t.Fatal(err)
		}
		o.convs = append(o.convs, id)
	}
	mux := http.NewServeMux()
	(&deskapi.Handlers{Service: o.svc}).MountWithRoles(mux.Handle, require)
	o.srv = httptest.NewServer(mux)
	t.Cleanup(o.srv.Close)
	return o
}

func (o *ops) call(t *testing.T, method, path, token string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, o.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := o.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s %s: answer is not JSON: %v", method, path, err)
	}
	return resp.StatusCode, out
}

func code(body map[string]any) string {
	if e, ok := body["error"].(map[string]any); ok {
		return e["code"].(string)
	}
	return ""
}

// The role matrix: every route of the desk API with every role. Ops and
// api-channel tokens are refused (403), a missing token 401; an agent
// acting on another agent's conversation gets 403 (commands) or 404
// (reads), except that an agent of its department may join it: read it,
// write on it and comment (R36); supervisors and desks may act on any,
// but by the seeds' policy supervisors do not write to the contact.
func TestDeskRoleMatrix(t *testing.T) {
	t.Parallel()
	type route struct {
		method, path string // %d: bob's conversation
		body         map[string]any
		// status as ann (not hers), as sue (supervisor), as the desk for ann
		ann, sue, desk int
		annCode        string
		// ops is the status for an ops token: 0 means refused (403).
		ops int
	}
	routes := []route{
		{http.MethodPost, "/v1/tickets/%d/messages", map[string]any{"text": "hi"}, 202, 403, 202, "", 0},
		{http.MethodPost, "/v1/tickets/%d/accept", map[string]any{}, 409, 409, 409, ticketing.CodeAlreadyAssigned, 0},
		{http.MethodPost, "/v1/tickets/%d/transfer", map[string]any{"to_agent": "cid"}, 403, 200, 200, ticketing.CodeNotPermitted, 0},
		{http.MethodPost, "/v1/tickets/%d/return", map[string]any{}, 403, 200, 200, ticketing.CodeNotPermitted, 0},
		{http.MethodPost, "/v1/tickets/%d/snooze", map[string]any{"duration_seconds": 600}, 403, 200, 200, ticketing.CodeNotPermitted, 0},
		{http.MethodPost, "/v1/tickets/%d/read", map[string]any{"read": false}, 403, 200, 200, ticketing.CodeNotPermitted, 0},
		{http.MethodPost, "/v1/tickets/%d/comments", map[string]any{"text": "@bob look"}, 200, 200, 200, "", 0},
		{http.MethodPost, "/v1/tickets/%d/close", map[string]any{}, 403, 200, 200, ticketing.CodeNotPermitted, 0},
		{http.MethodPost, "/v1/tickets/%d/reopen", map[string]any{}, 403, 409, 409, ticketing.CodeNotPermitted, 0},
		{http.MethodPost, "/v1/tickets/%d/spam", map[string]any{}, 403, 200, 200, ticketing.CodeNotPermitted, 0},
		{http.MethodPost, "/v1/tickets/%d/delete", map[string]any{}, 403, 200, 200, ticketing.CodeNotPermitted, 0},
		{http.MethodPost, "/v1/tickets/quick-accept", map[string]any{"count": 1}, 200, 200, 200, "", 0},
		{http.MethodPut, "/v1/agents/ann/sign", map[string]any{"sign": true}, 200, 403, 200, "", 0},
		{http.MethodGet, "/v1/tickets/unassigned", nil, 200, 200, 200, "", 0},
		{http.MethodGet, "/v1/tickets/assigned", nil, 200, 200, 200, "", 0},
		{http.MethodGet, "/v1/tickets/closed", nil, 200, 200, 200, "", 0},
		{http.MethodGet, "/v1/tickets/snoozed", nil, 200, 200, 200, "", 0},
		{http.MethodGet, "/v1/tickets/search?q=parcel", nil, 200, 200, 200, "", 0},
		{http.MethodGet, "/v1/tickets/%d", nil, 200, 200, 200, "", 0},
		// %c: the contact of bob's conversation. Agents ask their desk (R34).
		{http.MethodPut, "/v1/contacts/%c/language", map[string]any{"language": "pt-PT"}, 403, 200, 200, httpapi.CodeForbidden, 200},
	}
	if len(routes) != len((&deskapi.Handlers{}).Routes()) {
		t.Fatalf("the matrix covers %d routes of %d", len(routes), len((&deskapi.Handlers{}).Routes()))
	}
	withRequest := func(b map[string]any, id string, agent string) map[string]any {
		if b == nil {
			return nil
		}
		out := map[string]any{"request_id": id}
		if _, contact := b["language"]; contact {
			// PUT /v1/contacts/{id}/language is idempotent by itself: it
			// takes no request id (and refuses one, as any unknown field).
			delete(out, "request_id")
		}
		if agent != "" {
			out["agent_id"] = agent
		}
		for k, v := range b {
			out[k] = v
		}
		return out
	}
	// world returns a fresh world where bob has conversation 0, and the path.
	world := func(t *testing.T, rt route) (*ops, string) {
		o := newOps(t)
		if status, body := o.call(t, http.MethodPost, fmt.Sprintf("/v1/tickets/%d/accept", o.convs[0]), "bob", map[string]any{"request_id": "setup"}); status != http.StatusOK {
			t.Fatalf("setup accept: %d %v", status, body)
		}
		path := rt.path
		if strings.Contains(path, "%d") {
			path = fmt.Sprintf(path, o.convs[0])
		}
		if strings.Contains(path, "%c") {
			var contact int64
			if err := o.pool.QueryRow(context.Background(), `SELECT contact_id FROM conversations WHERE id = $1`, o.convs[0]).Scan(&contact); err != nil {
				t.Fatal(err)
			}
			path = strings.Replace(path, "%c", fmt.Sprint(contact), 1)
		}
		return o, path
	}
	for _, rt := range routes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			t.Parallel()
			o, path := world(t, rt)
			for _, tok := range []string{"ops", "api", ""} {
				want := http.StatusForbidden
				switch {
				case tok == "":
					want = http.StatusUnauthorized
				case tok == "ops" && rt.ops != 0:
					want = rt.ops
				}
				if status, body := o.call(t, rt.method, path, tok, withRequest(rt.body, "x"+tok, "")); status != want {
					t.Errorf("as %q: %d %v, want %d", tok, status, body, want)
				}
			}
			if status, body := o.call(t, rt.method, path, "nobody", withRequest(rt.body, "n", "")); status != http.StatusForbidden {
				t.Errorf("with an agent token bound to no agent: %d %v", status, body)
			}
			if rt.body != nil && rt.path != "/v1/agents/ann/sign" && rt.ann != http.StatusForbidden {
				// An agent token cannot act as another agent.
				if status, body := o.call(t, rt.method, path, "ann", withRequest(rt.body, "b", "bob")); status != http.StatusForbidden {
					t.Errorf("as ann for bob: %d %v", status, body)
				}
			}
			status, body := o.call(t, rt.method, path, "ann", withRequest(rt.body, "a", ""))
			if status != rt.ann || (rt.annCode != "" && code(body) != rt.annCode) {
				t.Errorf("as ann: %d %v, want %d %s", status, body, rt.ann, rt.annCode)
			}
			sueAgent := ""
			if rt.path == "/v1/agents/ann/sign" {
				sueAgent = "ann" // a supervisor signs only for itself
			}
			if status, body := o.call(t, rt.method, path, "sue", withRequest(rt.body, "s", sueAgent)); status != rt.sue {
				t.Errorf("as sue: %d %v, want %d", status, body, rt.sue)
			}
			o, path = world(t, rt)
			if status, body := o.call(t, rt.method, path, "desk", withRequest(rt.body, "d", "ann")); status != rt.desk {
				t.Errorf("as the desk for ann: %d %v, want %d", status, body, rt.desk)
			}
		})
	}
}

// ticketEventsOf returns the ticket events of the outbox after id, with
// their data, in order.
func ticketEventsOf(t *testing.T, pool *pgxpool.Pool, after int64) ([]string, []ticketing.TicketEventData, int64) {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT id, value FROM outbox WHERE topic = 'tickets' AND id > $1 ORDER BY id`, after)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var types []string
	var data []ticketing.TicketEventData
	last := after
	for rows.Next() {
		var v []byte
		if err := rows.Scan(&last, &v); err != nil {
			t.Fatal(err)
		}
		ev, d, err := gateway.DecodeRecord[ticketing.TicketEventData](v)
		if err != nil {
			t.Fatal(err)
		}
		types, data = append(types, ev.Type), append(data, d)
	}
	return types, data, last
}

// The same command over HTTP and over the commands topic gives the same
// events, with the same actor and the same conversation.
func TestDeskCommandOverHTTPAndKafkaGivesTheSameEvents(t *testing.T) {
	t.Parallel()
	type step struct {
		path string
		cmd  ticketing.Command
		body map[string]any
	}
	steps := func(conv int64) []step {
		p := fmt.Sprintf("/v1/tickets/%d", conv)
		return []step{
			{p + "/accept", ticketing.Command{Type: ticketing.TypeCommandAccept}, map[string]any{}},
			{p + "/transfer", ticketing.Command{Type: ticketing.TypeCommandTransfer, DeskArgs: &ticketing.DeskArgs{ToAgent: "bob"}}, map[string]any{"to_agent": "bob"}},
			{p + "/transfer", ticketing.Command{Type: ticketing.TypeCommandTransfer, DeskArgs: &ticketing.DeskArgs{ToAgent: "dan"}}, map[string]any{"to_agent": "dan"}},
			{p + "/comments", ticketing.Command{Type: ticketing.TypeCommandComment, Reply: &ticketing.Reply{Text: "@bob yours"}}, map[string]any{"text": "@bob yours"}},
			{p + "/return", ticketing.Command{Type: ticketing.TypeCommandReturn}, map[string]any{}},
			{p + "/close", ticketing.Command{Type: ticketing.TypeCommandClose}, map[string]any{}},
		}
	}
	run := func(overHTTP bool) ([]string, []ticketing.TicketEventData) {
		o := newOps(t)
		conv := o.convs[0]
		_, _, mark := ticketEventsOf(t, o.pool, 0)
		for i, s := range steps(conv) {
			reqID := fmt.Sprintf("same-%d", i)
			if overHTTP {
				body := map[string]any{"request_id": reqID, "agent_id": "ann"}
				for k, v := range s.body {
					body[k] = v
				}
				o.call(t, http.MethodPost, s.path, "desk", body)
				continue
			}
			c := s.cmd
			c.RequestID, c.ConversationID, c.AgentID = reqID, conv, "ann"
			rec, err := c.Record("desk", "chatgate.commands", wrote)
			if err != nil {
				t.Fatal(err)
			}
			if err := o.svc.HandleBatch(context.Background(), []gateway.Message{rec}); err != nil {
				t.Fatal(err)
			}
		}
		types, data, _ := ticketEventsOf(t, o.pool, mark)
		return types, data
	}
	httpTypes, httpData := run(true)
	kafkaTypes, kafkaData := run(false)
	// Return and resolve each send a text, published as message_added (R37).
	want := []string{gateway.TypeTicketAssigned, gateway.TypeTicketTransferred, gateway.TypeCommandRejected,
		gateway.TypeTicketCommentAdded, gateway.TypeTicketReturned, gateway.TypeTicketMessageAdded, gateway.TypeTicketClosed,
		gateway.TypeTicketMessageAdded}
	if !slices.Equal(httpTypes, want) || !slices.Equal(kafkaTypes, want) {
		t.Fatalf("events over HTTP %v, over Kafka %v, want %v", httpTypes, kafkaTypes, want)
	}
	for i := range httpData {
		h, k := httpData[i], kafkaData[i]
		hj, _ := json.Marshal(h.DeskEvent)
		kj, _ := json.Marshal(k.DeskEvent)
		if h.Conversation.ID != k.Conversation.ID || h.Conversation.State != k.Conversation.State || h.Conversation.Assignee != k.Conversation.Assignee ||
			h.Reason != k.Reason || string(hj) != string(kj) {
			t.Errorf("event %d (%s) differs:\nHTTP  %+v %+v\nKafka %+v %+v", i, want[i], h.Conversation, h.DeskEvent, k.Conversation, k.DeskEvent)
		}
		if i != 2 && (h.Actor == nil || h.Actor.AgentID != "ann" || h.Actor.Role != ticketing.ActorDesk) {
			t.Errorf("event %d (%s) actor %+v", i, want[i], h.Actor)
		}
	}
	if c := httpData[3].Comment; c == nil || !slices.Equal(c.Mentions, []string{"bob"}) {
		t.Errorf("comment_added %+v", c)
	}
	if h := httpData[6].Conversation; h.ClosedBy != "ann" || h.CloseReason != ticketing.ReasonResolved {
		t.Errorf("closed %+v", h)
	}
}

// The lists over HTTP: an agent's queue (R17), a supervisor's assigned list
// grouped with counts (R19), closed by me (R20), cursors, bounds.
func TestDeskListsOverHTTP(t *testing.T) {
	t.Parallel()
	o := newOps(t)
	ids := func(body map[string]any) []int64 {
		out := []int64{}
		for _, c := range body["conversations"].([]any) {
			out = append(out, int64(c.(map[string]any)["id"].(float64)))
		}
		return out
	}
	if _, body := o.call(t, http.MethodGet, "/v1/tickets/unassigned", "ann", nil); !slices.Equal(ids(body), []int64{o.convs[1], o.convs[0]}) {
		t.Fatalf("ann's queue %v", ids(body))
	}
	if _, body := o.call(t, http.MethodGet, "/v1/tickets/unassigned", "cid", nil); !slices.Equal(ids(body), []int64{o.convs[2]}) {
		t.Fatalf("cid's queue %v", ids(body))
	}
	_, page1 := o.call(t, http.MethodGet, "/v1/tickets/unassigned?limit=2", "sue", nil)
	_, page2 := o.call(t, http.MethodGet, "/v1/tickets/unassigned?limit=2&cursor="+page1["next_cursor"].(string), "sue", nil)
	if got := append(ids(page1), ids(page2)...); !slices.Equal(got, []int64{o.convs[2], o.convs[1], o.convs[0]}) || page2["next_cursor"] != nil {
		t.Fatalf("pages %v then %v", page1, page2)
	}
	for _, bad := range []string{"?limit=0", "?limit=201", "?cursor=nope"} {
		if status, _ := o.call(t, http.MethodGet, "/v1/tickets/unassigned"+bad, "sue", nil); status != http.StatusBadRequest {
			t.Errorf("%s: %d", bad, status)
		}
	}
	_, qa := o.call(t, http.MethodPost, "/v1/tickets/quick-accept", "ann", map[string]any{"request_id": "qa", "count": 5})
	if got := qa["conversations"].([]any); len(got) != 2 {
		t.Fatalf("ann quick-accepted %v", qa)
	}
	o.call(t, http.MethodPost, fmt.Sprintf("/v1/tickets/%d/accept", o.convs[2]), "cid", map[string]any{"request_id": "acc"})
	_, assigned := o.call(t, http.MethodGet, "/v1/tickets/assigned", "sue", nil)
	if fmt.Sprint(assigned["agents"]) != "[map[agent_id:ann count:2] map[agent_id:cid count:1]]" || len(ids(assigned)) != 3 {
		t.Fatalf("supervisor's assigned %v", assigned)
	}
	if _, mine := o.call(t, http.MethodGet, "/v1/tickets/assigned", "cid", nil); !slices.Equal(ids(mine), []int64{o.convs[2]}) || mine["agents"] != nil {
		t.Fatalf("cid's assigned %v", mine)
	}
	o.call(t, http.MethodPost, fmt.Sprintf("/v1/tickets/%d/close", o.convs[0]), "ann", map[string]any{"request_id": "c"})
	if _, closed := o.call(t, http.MethodGet, "/v1/tickets/closed?by=me", "ann", nil); !slices.Equal(ids(closed), []int64{o.convs[0]}) {
		t.Fatalf("closed by ann %v", closed)
	}
	if status, _ := o.call(t, http.MethodGet, "/v1/tickets/closed?by=bob", "ann", nil); status != http.StatusForbidden {
		t.Fatalf("ann listing what bob closed: %d", status)
	}
	status, detail := o.call(t, http.MethodGet, fmt.Sprintf("/v1/tickets/%d", o.convs[0]), "ann", nil)
	if status != http.StatusOK || len(detail["messages"].([]any)) != 2 || len(detail["events"].([]any)) != 3 {
		t.Fatalf("detail %d %v", status, detail)
	}
	if _, found := o.call(t, http.MethodGet, "/v1/tickets/search?q=%23"+fmt.Sprint(o.convs[2]), "cid", nil); !slices.Equal(ids(found), []int64{o.convs[2]}) {
		t.Fatalf("search #ID %v", found)
	}
}

package pgstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
	"github.com/chatgate/chatgate/templates"
	tplstore "github.com/chatgate/chatgate/templates/pgstore"
	"github.com/chatgate/chatgate/ticketing"
	"github.com/chatgate/chatgate/ticketing/pgstore"
)

// The command tests start when a WhatsApp contact writes at wrote; late is
// after its window closed.
var (
	wrote = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	late  = wrote.Add(30 * time.Hour)
)

const (
	waContact  = "+27821234567"
	contentSID = "HX0123456789abcdef0123456789abcdef"
)

// deskService is a service with a template store holding the approved
// "order_shipped" (en, any channel) and the draft "welcome" (en).
func deskService(t testing.TB, pool *pgxpool.Pool, c *clock) *ticketing.Service {
	t.Helper()
	ctx := context.Background()
	tpl := tplstore.New(pool)
	for _, tt := range []templates.Template{
		{Name: "order_shipped", Language: "en", Category: templates.CategoryUtility, Channel: templates.ScopeAny,
			Body: "Hi {{1}}, order {{2}} has shipped.", Twilio: templates.TwilioRef{ContentSID: contentSID}},
		{Name: "welcome", Language: "en", Category: templates.CategoryMarketing, Channel: templates.ScopeWhatsApp, Body: "Welcome!"},
	} {
		if _, err := tpl.Create(ctx, &templates.CreateParams{Template: tt}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tpl.SetStatus(ctx, &templates.SetStatusParams{Name: "order_shipped", Language: "en", Status: templates.StatusApproved}); err != nil {
		t.Fatal(err)
	}
	st := pgstore.New(pool)
	return &ticketing.Service{Store: st, Directory: st, Now: c.now, Desk: ticketing.DeskConfig{Templates: tpl}}
}

func waRecord(t testing.TB, id, text string, at time.Time) gateway.Message {
	t.Helper()
	in := gateway.Inbound{Channel: gateway.ChannelWhatsApp, ProviderID: id, From: waContact, To: businessNumber, Text: text, ReceivedAt: at}
	m, err := in.Record("test", "chatgate.inbound")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func commandRecord(t testing.TB, c ticketing.Command) gateway.Message {
	t.Helper()
	if c.Type == "" {
		c.Type = ticketing.TypeCommandReply
	}
	m, err := c.Record("desk", "chatgate.commands", wrote)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func freeText(reqID string, conv int64, text string) ticketing.Command {
	return ticketing.Command{Type: ticketing.TypeCommandReply, RequestID: reqID, ConversationID: conv, AgentID: "ann", Reply: &ticketing.Reply{Text: text}}
}

func shippedTemplate(reqID string, conv int64, order string) ticketing.Command {
	return ticketing.Command{Type: ticketing.TypeCommandReply, RequestID: reqID, ConversationID: conv, AgentID: "ann",
		Reply: &ticketing.Reply{Template: &ticketing.TemplateReply{Name: "order_shipped", Language: "en", Variables: map[string]string{"1": "Ana", "2": order}}}}
}

func conversationIDs(t testing.TB, pool *pgxpool.Pool) []int64 {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT id FROM conversations ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// rejections returns the chatgate.command.rejected events in the outbox, in order.
func rejections(t testing.TB, pool *pgxpool.Pool) []ticketing.CommandRejected {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT key, value FROM outbox WHERE topic = 'tickets' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []ticketing.CommandRejected
	for rows.Next() {
		var key, v []byte
		if err := rows.Scan(&key, &v); err != nil {
			t.Fatal(err)
		}
		ev, data, err := gateway.DecodeRecord[ticketing.CommandRejected](v)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type != gateway.TypeCommandRejected {
			continue
		}
		if string(key) != fmt.Sprint(data.ConversationID) {
			t.Fatalf("rejection keyed %q, want the conversation id %d", key, data.ConversationID)
		}
		out = append(out, data)
	}
	return out
}

func TestR28_CommandsTopicRefusesFreeTextAndSendsTheTemplate(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	clk := newClock(wrote)
	svc := deskService(t, pool, clk)
	handle(t, svc, waRecord(t, "wa1", "Where is my order?", wrote))
	conv := conversationIDs(t, pool)[0]

	clk.set(late)
	batch := []gateway.Message{
		commandRecord(t, freeText("r-1", conv, "It left today.")),
		commandRecord(t, shippedTemplate("r-2", conv, "A-17")),
		commandRecord(t, shippedTemplate("r-3", conv+100, "A-17")),
		commandRecord(t, ticketing.Command{Type: ticketing.TypeCommandReply, RequestID: "r-4", ConversationID: conv, AgentID: "ann",
			Reply: &ticketing.Reply{Template: &ticketing.TemplateReply{Name: "welcome", Language: "en"}}}),
		commandRecord(t, shippedTemplate("r-5", conv, "")),
		commandRecord(t, ticketing.Command{Type: ticketing.TypeCommandReply, RequestID: "r-6", ConversationID: conv, AgentID: "ann",
			Reply: &ticketing.Reply{Template: &ticketing.TemplateReply{Name: "nope", Language: "en"}}}),
	}
	handle(t, svc, batch...)

	rej := rejections(t, pool)
	var codes []string
	for _, r := range rej {
		codes = append(codes, r.RequestID+":"+r.Reason)
	}
	want := []string{"r-1:template_required", "r-3:conversation_not_found", "r-4:template_not_approved", "r-5:invalid_variables", "r-6:template_not_found"}
	if !reflect.DeepEqual(codes, want) {
		t.Fatalf("rejections %v\nwant       %v", codes, want)
	}
	r1 := rej[0].Rejection
	if rej[0].AgentID != "ann" || rej[0].Command != ticketing.TypeCommandReply || r1.Code != rej[0].Reason {
		t.Fatalf("rejection event %+v", rej[0])
	}
	if r1.WindowClosedAt == nil || !r1.WindowClosedAt.Equal(wrote.Add(24*time.Hour)) ||
		len(r1.Templates) != 1 || r1.Templates[0].Name != "order_shipped" || !reflect.DeepEqual(r1.Templates[0].Variables, []string{"1", "2"}) {
		t.Fatalf("template_required rejection %+v: want window_closed_at and the approved order_shipped", r1)
	}
	if v := rej[3].Rejection.Variables; v == nil || !reflect.DeepEqual(v.Empty, []string{"2"}) {
		t.Fatalf("invalid_variables rejection names %+v, want empty 2", v)
	}

	outs := outboundTexts(t, pool)
	if len(outs) != 1 {
		t.Fatalf("%d outbound records, want the template only", len(outs))
	}
	o := outs[0]
	if o.RequestID != "desk:r-2" || o.ConversationID != conv || o.To != waContact || o.From != businessNumber ||
		o.Text != "Hi Ana, order A-17 has shipped." || o.Template == nil || o.Template.TwilioContentSID != contentSID ||
		o.Template.TwilioContentVariables != `{"1":"Ana","2":"A-17"}` || len(o.Template.WhatsApp) == 0 {
		t.Fatalf("outbound %+v", o)
	}
	var msgID int64
	var sentBy, tplRef string
	if err := pool.QueryRow(context.Background(), `SELECT id, sent_by, template::text FROM messages WHERE direction = 'outbound' AND request_id = 'desk:r-2'`).
		Scan(&msgID, &sentBy, &tplRef); err != nil {
		t.Fatal(err)
	}
	if o.MessageID != msgID || sentBy != "agent:ann" || tplRef != `{"name": "order_shipped", "version": 1, "language": "en"}` {
		t.Fatalf("stored message %d by %q template %s; outbound names message %d", msgID, sentBy, tplRef, o.MessageID)
	}
	var added gateway.TicketEvent
	if err := pool.QueryRow(context.Background(), `SELECT convert_from(value, 'UTF8')::jsonb->'data' FROM outbox
		WHERE topic = 'tickets' AND convert_from(value, 'UTF8')::jsonb->>'type' = $1 ORDER BY id DESC LIMIT 1`, gateway.TypeTicketMessageAdded).Scan(&added); err != nil {
		t.Fatal(err)
	}
	if m := added.Message; m == nil || m.Direction != "outbound" || m.ID != msgID || m.Text != o.Text || added.Conversation.ID != conv {
		t.Fatalf("message_added %+v", added)
	}
	if n := count(t, pool, `SELECT count(*) FROM desk_commands`); n != 6 {
		t.Fatalf("%d stored outcomes, want 6", n)
	}

	// The same batch again (a Kafka redelivery), and the same request ids in
	// a new batch: nothing is sent, stored or published again.
	before := count(t, pool, `SELECT count(*) FROM outbox`)
	handle(t, svc, batch...)
	handle(t, svc, commandRecord(t, shippedTemplate("r-2", conv, "A-17")))
	if n := count(t, pool, `SELECT count(*) FROM outbox`); n != before {
		t.Fatalf("replays wrote %d outbox records", n-before)
	}
	// The same request id for another command is refused, not answered.
	handle(t, svc, commandRecord(t, shippedTemplate("r-2", conv, "B-99")))
	if rej := rejections(t, pool); rej[len(rej)-1].Reason != ticketing.CodeRequestIDReused || len(outboundTexts(t, pool)) != 1 {
		t.Fatalf("reused request id: %+v", rej[len(rej)-1])
	}
}

func TestR32_SameRequestIDConcurrentlySendsOnce(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	clk := newClock(wrote)
	svc := deskService(t, pool, clk)
	handle(t, svc, waRecord(t, "wa1", "Hello", wrote))
	conv := conversationIDs(t, pool)[0]
	clk.set(wrote.Add(time.Hour))

	const n = 8
	outs := make([]ticketing.Outcome, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], errs[i] = svc.Execute(context.Background(), freeText("same", conv, "One moment please."))
		}()
	}
	wg.Wait()
	fresh := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !outs[i].Accepted || outs[i].Message == nil || outs[i].Message.ID != outs[0].Message.ID {
			t.Fatalf("outcome %d = %+v, want the one message", i, outs[i])
		}
		if !outs[i].Replayed {
			fresh++
		}
	}
	if fresh != 1 || len(outboundTexts(t, pool)) != 1 {
		t.Fatalf("%d first outcomes and %d sends, want 1 and 1", fresh, len(outboundTexts(t, pool)))
	}
}

// A batch carrying the contact's message and an agent's reply: the reply
// sees the message (the window it opened), and both land in one
// conversation without losing either's change.
func TestR28_CommandSeesTheInboundOfItsBatch(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	clk := newClock(wrote)
	svc := deskService(t, pool, clk)
	handle(t, svc, waRecord(t, "wa1", "Hello", wrote))
	conv := conversationIDs(t, pool)[0]

	clk.set(late)
	handle(t, svc, commandRecord(t, freeText("r-1", conv, "Sorry for the wait.")), waRecord(t, "wa2", "Anyone?", late))
	if rej := rejections(t, pool); len(rej) != 0 {
		t.Fatalf("rejected: %+v", rej)
	}
	var count, lastSeq int
	if err := pool.QueryRow(context.Background(), `SELECT message_count, (SELECT max(seq) FROM messages WHERE direction = 'outbound') FROM conversations WHERE id = $1`, conv).
		Scan(&count, &lastSeq); err != nil {
		t.Fatal(err)
	}
	if count != 2 || lastSeq != 2 {
		t.Fatalf("message_count %d, reply seq %d: want 2 and 2 (after the contact's second message)", count, lastSeq)
	}
}

func TestR31_TemplateReachesOutAndTheAnswerReopensIt(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	clk := newClock(wrote)
	svc := deskService(t, pool, clk)
	ctx := context.Background()
	handle(t, svc, waRecord(t, "wa1", "Thanks, bye", wrote))
	old := conversationIDs(t, pool)[0]
	if _, err := pool.Exec(ctx, `UPDATE conversations SET state = 'closed', closed_at = $1, close_reason = 'resolved'`, wrote.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	clk.set(late)
	out, err := svc.Execute(ctx, shippedTemplate("r-1", old, "A-17"))
	if err != nil || !out.Accepted {
		t.Fatalf("Execute = %+v, %v", out, err)
	}
	outreach := out.Conversation
	if outreach.ID == old || outreach.State != "closed" || outreach.CloseReason != ticketing.ReasonAwaitingContact || out.Message.ConversationID != outreach.ID {
		t.Fatalf("outreach conversation %+v", outreach)
	}
	// Free text to the old conversation outside the window is still refused.
	if out, err := svc.Execute(ctx, freeText("r-2", old, "Hello?")); err != nil || out.Rejection == nil || out.Rejection.Code != ticketing.CodeTemplateRequired {
		t.Fatalf("free text outside the window = %+v, %v", out, err)
	}

	// The contact answers: the existing reopen rule (R15) turns the outreach
	// into a live chat whose history starts with the template.
	clk.set(late.Add(time.Hour))
	handle(t, svc, waRecord(t, "wa2", "Great, thanks!", late.Add(time.Hour)))
	if ids := conversationIDs(t, pool); !reflect.DeepEqual(ids, []int64{old, outreach.ID}) {
		t.Fatalf("conversations %v, want the old one and the outreach", ids)
	}
	var kind, state string
	if err := pool.QueryRow(ctx, `SELECT kind, state FROM conversations WHERE id = $1`, outreach.ID).Scan(&kind, &state); err != nil {
		t.Fatal(err)
	}
	if kind != "live_chat" || state != "unassigned" {
		t.Fatalf("after the answer the outreach is %s/%s, want an unassigned live chat", kind, state)
	}
	rows, err := pool.Query(ctx, `SELECT direction FROM messages WHERE conversation_id = $1 ORDER BY seq, id`, outreach.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var history []string
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			t.Fatal(err)
		}
		history = append(history, d)
	}
	if !reflect.DeepEqual(history, []string{"outbound", "inbound"}) {
		t.Fatalf("history %v, want the template then the answer", history)
	}
	events, _ := ticketEvents(t, pool)
	if i := slices.Index(events, "created:awaiting_contact"); i < 0 || !slices.Contains(events[i:], "reopened") {
		t.Fatalf("events %v: want the outreach created, then reopened", events)
	}
}

func TestR28_WindowClosingPublishedOncePerWindow(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	clk := newClock(wrote)
	svc := deskService(t, pool, clk)
	ctx := context.Background()
	handle(t, svc, waRecord(t, "wa1", "Hello", wrote))
	handle(t, svc, textRecord(t, "+15550001", "sms1", "Hello", wrote)) // the API channel has no window

	sweep := func(at time.Time) int {
		t.Helper()
		n, err := svc.SweepWindowClosing(ctx, at, 100)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	due := wrote.Add(23 * time.Hour)
	if n := sweep(due.Add(-time.Nanosecond)); n != 0 {
		t.Fatalf("early sweep warned %d", n)
	}
	if n := sweep(due); n != 1 {
		t.Fatalf("sweep at the lead warned %d, want 1", n)
	}
	if n := sweep(due.Add(time.Minute)); n != 0 {
		t.Fatalf("second sweep warned %d, want 0", n)
	}
	types := outboxTypes(t, pool)
	if types[len(types)-1] != gateway.TypeTicketWindowClosing {
		t.Fatalf("events %v", types)
	}
	_, last := ticketEvents(t, pool)
	if w := last.Conversation.WindowExpiresAt; w == nil || !w.Equal(wrote.Add(24*time.Hour)) {
		t.Fatalf("window_closing carries window_expires_at %v", w)
	}

	// The contact writes again: a new window, warned about again.
	again := wrote.Add(23*time.Hour + 30*time.Minute)
	clk.set(again)
	handle(t, svc, waRecord(t, "wa2", "Still there?", again))
	if n := sweep(again.Add(23 * time.Hour)); n != 1 {
		t.Fatalf("sweep of the new window warned %d, want 1", n)
	}
	// A window that closed unwarned (no sweeper ran) is not warned late.
	if n := sweep(again.Add(48 * time.Hour)); n != 0 {
		t.Fatalf("late sweep warned %d", n)
	}
}

func TestCommandRecordsThatCannotBeAnsweredAreDeadLettered(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	svc := deskService(t, pool, newClock(wrote))
	good := commandRecord(t, freeText("r-1", 5, "hi"))
	wrongKey := good
	wrongKey.Key = []byte("6")
	noID := commandRecord(t, freeText("", 5, "hi"))
	handle(t, svc, wrongKey, noID, gateway.Message{Topic: "chatgate.commands", Key: []byte("5"), Value: []byte("not json")})
	if n := count(t, pool, `SELECT count(*) FROM outbox WHERE topic = 'deadletter'`); n != 3 {
		t.Fatalf("%d dead-lettered, want 3", n)
	}
	// An unknown command type is answered: the desk learns it is not supported.
	handle(t, svc, commandRecord(t, ticketing.Command{Type: "chatgate.command.dance", RequestID: "r-2", ConversationID: 5, AgentID: "ann"}))
	rej := rejections(t, pool)
	if len(rej) != 1 || rej[0].Reason != ticketing.CodeUnsupportedCommand {
		t.Fatalf("rejections %+v", rej)
	}
	raw, _ := json.Marshal(rej[0])
	if n := count(t, pool, `SELECT count(*) FROM desk_commands`); n != 0 {
		t.Fatalf("an unsupported command stored its outcome (%s)", raw)
	}
}

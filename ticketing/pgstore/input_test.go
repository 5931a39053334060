package pgstore_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/hostile"
	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
	"github.com/chatgate/chatgate/ticketing"
)

// TestR38_HostileCommandRecordsAreRejectedNotRetried puts records with a
// NUL (and other values no store takes) on the commands topic, in one
// batch with a valid command and a message. Each hostile command ends as
// chatgate.command.rejected with invalid_command, and the batch commits:
// no poison record, no retry loop, and the valid command and the message
// are carried out. (A NUL in a request id used to fail the whole batch: the
// worker looked the id up before it validated the command.)
func TestR38_HostileCommandRecordsAreRejectedNotRetried(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	clk := newClock(wrote)
	svc := deskService(t, pool, clk)
	handle(t, svc, waRecord(t, "wa1", "Where is my order?", wrote))
	conv := conversationIDs(t, pool)[0]

	withRequest := func(c ticketing.Command, id string) ticketing.Command { c.RequestID = id; return c }
	hostileCmds := []ticketing.Command{
		freeText("r-text", conv, "a\x00b"),
		freeText("r-bell", conv, "ring\x07"),
		withRequest(freeText("", conv, "hi"), "r\x00id"),
		withRequest(freeText("", conv, "hi"), strings.Repeat("r", 300)),
		{Type: ticketing.TypeCommandReply, RequestID: "r-agent", ConversationID: conv, AgentID: "ann\x00", Reply: &ticketing.Reply{Text: "hi"}},
		{Type: ticketing.TypeCommandReply, RequestID: "r-path", ConversationID: conv, AgentID: "../../etc/passwd", Reply: &ticketing.Reply{Text: "hi"}},
		{Type: ticketing.TypeCommandComment, RequestID: "r-comment", ConversationID: conv, AgentID: "ann", Reply: &ticketing.Reply{Text: "note\x00"}},
		{Type: ticketing.TypeCommandTransfer, RequestID: "r-transfer", ConversationID: conv, AgentID: "ann", DeskArgs: &ticketing.DeskArgs{ToAgent: "a/b"}},
		{Type: ticketing.TypeCommandTransfer, RequestID: "r-dept", ConversationID: conv, AgentID: "ann", DeskArgs: &ticketing.DeskArgs{ToDepartment: "sales\x00"}},
		{Type: ticketing.TypeCommandReply, RequestID: "r-var", ConversationID: conv, AgentID: "ann",
			Reply: &ticketing.Reply{Template: &ticketing.TemplateReply{Name: "order_shipped", Language: "en", Variables: map[string]string{"1": "Ana", "2": "x", "\x00": "y"}}}},
	}
	batch := []gateway.Message{commandRecord(t, freeText("r-good", conv, "It left today."))}
	for _, c := range hostileCmds {
		batch = append(batch, commandRecord(t, c))
	}
	presence, err := ticketing.PresenceCommand{AgentID: "a\x00b", Status: ticketing.PresenceOnline}.Record("desk", "chatgate.commands", wrote)
	if err != nil {
		t.Fatal(err)
	}
	batch = append(batch, presence, waRecord(t, "wa2", "Thanks", wrote))
	if err := svc.HandleBatch(context.Background(), batch); err != nil {
		t.Fatalf("HandleBatch = %v: a hostile command must not fail the batch", err)
	}

	var got []string
	for _, r := range rejections(t, pool) {
		if r.Reason != ticketing.CodeInvalidCommand {
			t.Errorf("%q rejected with %s, want invalid_command", r.RequestID, r.Reason)
		}
		got = append(got, r.RequestID)
	}
	for _, c := range hostileCmds {
		if !slices.Contains(got, c.RequestID) {
			t.Errorf("no rejection for %q", c.RequestID)
		}
	}
	if n := count(t, pool, `SELECT count(*) FROM desk_commands`); n != 1 {
		t.Errorf("%d outcomes stored, want the valid command's only", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM messages WHERE direction = 'outbound'`); n != 1 {
		t.Errorf("%d replies stored, want the valid one", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM messages WHERE provider_id = 'wa2'`); n != 1 {
		t.Error("the batch's inbound message was not stored")
	}
	if n := count(t, pool, `SELECT count(*) FROM outbox WHERE topic = 'deadletter'`); n != 1 {
		t.Errorf("deadletter rows = %d, want the presence report with a NUL", n)
	}
}

// TestR38_HostileInboundRecordsAreDeadLetteredNotRetried: a record on the
// inbound topic that an adapter should have refused (written by an older
// version, or by hand) is dead-lettered by the worker's Validate, the same
// function the adapters run, and its batch neighbours are stored; before,
// PostgreSQL refused the batch and it was retried.
func TestR38_HostileInboundRecordsAreDeadLetteredNotRetried(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	svc := deskService(t, pool, newClock(wrote))
	batch := []gateway.Message{waRecord(t, "ok-1", "hello", wrote)}
	// Control characters only: a JSON record cannot carry bytes that are
	// not UTF-8 (encoding/json writes U+FFFD for them on both sides).
	for i, h := range hostile.OfClass(hostile.Control) {
		in := gateway.Inbound{Channel: gateway.ChannelWhatsApp, ProviderID: "bad-" + string(rune('a'+i)), From: waContact, To: businessNumber,
			Text: h.Value, ContactName: "Ana", ReceivedAt: wrote}
		// Encoded by hand: the record is what a broken adapter would write.
		m, err := gateway.EncodeRecord("chatgate.inbound", in.ContactKey(), in.EventID(), "test", gateway.TypeInboundMessage, in.ContactKey(), wrote, in)
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, m)
	}
	batch = append(batch, waRecord(t, "ok-2", "still there?", wrote))
	handle(t, svc, batch...)
	if n := count(t, pool, `SELECT count(*) FROM messages WHERE provider_id IN ('ok-1', 'ok-2')`); n != 2 {
		t.Errorf("%d of the valid neighbours stored, want 2", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM messages WHERE provider_id LIKE 'bad-%'`); n != 0 {
		t.Errorf("%d hostile records stored", n)
	}
	if n, want := count(t, pool, `SELECT count(*) FROM outbox WHERE topic = 'deadletter'`), len(batch)-2; n != want {
		t.Errorf("deadletter rows = %d, want %d", n, want)
	}
}

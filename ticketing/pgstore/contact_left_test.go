package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
	"github.com/chatgate/chatgate/ticketing"
)

// R24 through the store: the contact's //end is kept on the conversation
// (contact_left_at), replies over HTTP's path and the commands topic are
// refused with contact_ended_chat, quick accept skips the chat, resolve is
// allowed; the contact's next message clears it and replies go out again.
func TestR24_ContactLeftIsStoredAndRefusesReplies(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	clk := newClock(monday)
	svc := rulesService(t, pool, clk)
	withDepartment(t, svc)
	ctx := context.Background()
	if err := svc.SetPresence(ctx, "ann", ticketing.PresenceOnline); err != nil {
		t.Fatal(err)
	}
	const from = "+27821234567"
	handle(t, svc, textRecord(t, from, "w1", "Hello", monday))
	var conv int64
	if err := pool.QueryRow(ctx, `SELECT id FROM conversations`).Scan(&conv); err != nil {
		t.Fatal(err)
	}
	left := monday.Add(time.Minute)
	clk.set(left)
	handle(t, svc, textRecord(t, from, "w2", "//end", left))

	var leftAt *time.Time
	var state string
	if err := pool.QueryRow(ctx, `SELECT contact_left_at, state FROM conversations WHERE id = $1`, conv).Scan(&leftAt, &state); err != nil {
		t.Fatal(err)
	}
	if leftAt == nil || !leftAt.Equal(left) || state != "unassigned" {
		t.Fatalf("after //end: contact_left_at %v, state %s", leftAt, state)
	}
	events, last := ticketEvents(t, pool)
	if n := len(events); n < 3 || events[n-2] != "contact_left:"+ticketing.ReasonEndKeyword || last.Message == nil || last.Message.SentBy != ticketing.SentBySystem {
		t.Fatalf("events %v, want contact_left then the text's message_added", events)
	}
	if outs := outboundTexts(t, pool); len(outs) != 1 || outs[0].Text != ticketing.DefaultTexts.ContactLeft {
		t.Fatalf("texts sent %+v, want the contact_left text", outs)
	}

	reply := freeText("r-1", conv, "Are you still there?")
	if out := execute(t, svc, reply); out.Rejection == nil || out.Rejection.Code != ticketing.CodeContactEndedChat {
		t.Fatalf("reply: %+v", out)
	}
	handle(t, svc, commandRecord(t, freeText("r-2", conv, "Hello?")))
	if rej := rejections(t, pool); len(rej) != 2 || rej[1].Reason != ticketing.CodeContactEndedChat || rej[1].RequestID != "r-2" {
		t.Fatalf("rejections on the commands topic %+v", rej)
	}
	qa := execute(t, svc, ticketing.Command{Type: ticketing.TypeCommandQuickAccept, RequestID: "qa", AgentID: "ann", Role: ticketing.ActorAgent, DeskArgs: &ticketing.DeskArgs{Count: 5}})
	if !qa.Accepted || len(qa.Conversations) != 0 {
		t.Fatalf("quick accept took %+v", qa.Conversations)
	}

	// The contact writes again: the same conversation resumes.
	back := left.Add(time.Minute)
	clk.set(back)
	handle(t, svc, textRecord(t, from, "w3", "One more thing", back))
	if err := pool.QueryRow(ctx, `SELECT contact_left_at FROM conversations WHERE id = $1`, conv).Scan(&leftAt); err != nil || leftAt != nil {
		t.Fatalf("after writing again: contact_left_at %v (%v)", leftAt, err)
	}
	if n := count(t, pool, `SELECT count(*) FROM conversation_events WHERE conversation_id = $1 AND type = 'chatgate.ticket.contact_returned'`, conv); n != 1 {
		t.Fatalf("%d contact_returned events in the history", n)
	}
	reply.RequestID = "r-3"
	if out := execute(t, svc, reply); !out.Accepted || out.Conversation.ID != conv {
		t.Fatalf("reply after the contact returned: %+v", out)
	}
	// Ended again, then resolved: allowed, and no chat_ended text (the
	// contact was told when it left).
	handle(t, svc, textRecord(t, from, "w4", "//end", back))
	sent := len(outboundTexts(t, pool))
	if out := execute(t, svc, ticketing.Command{Type: ticketing.TypeCommandClose, RequestID: "c", ConversationID: conv, AgentID: "ann"}); !out.Accepted {
		t.Fatalf("resolve: %+v", out.Rejection)
	}
	if n := len(outboundTexts(t, pool)); n != sent {
		t.Fatalf("resolve sent %d texts to a contact that left", n-sent)
	}
}

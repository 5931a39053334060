package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
	"github.com/chatgate/chatgate/ticketing"
)

// R35 through the store: out of hours, the new conversation with a pending
// prompt is in no list, search or quick accept of an agent, nor in a
// supervisor's unassigned list, and accepting it is refused; the contact's
// YES puts it in the queue, queued at that moment.
func TestR35_PromptPendingIsInNoQueue(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	clk := newClock(sunday)
	svc := rulesService(t, pool, clk)
	withDepartment(t, svc)
	ctx := context.Background()
	const from = "+27821234567"
	handle(t, svc, textRecord(t, from, "w1", "Hello, anyone?", sunday))
	var conv int64
	if err := pool.QueryRow(ctx, `SELECT id FROM conversations`).Scan(&conv); err != nil {
		t.Fatal(err)
	}
	ann, sue := scope(t, svc, ticketing.ActorAgent, "ann"), scope(t, svc, ticketing.ActorSupervisor, "sue")
	queue := func(sc ticketing.Scope) []int64 {
		t.Helper()
		page, err := svc.List(ctx, ticketing.ListParams{View: ticketing.ViewUnassigned, Scope: sc, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		return ids(page)
	}
	search := func(sc ticketing.Scope) []int64 {
		t.Helper()
		page, err := svc.Search(ctx, ticketing.SearchParams{Query: "anyone", Scope: sc, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		return ids(page)
	}
	if q, s := queue(ann), search(ann); len(q) != 0 || len(s) != 0 {
		t.Fatalf("ann's queue %v and search %v hold a conversation awaiting consent", q, s)
	}
	if q, s := queue(sue), search(sue); len(q) != 0 || len(s) != 1 {
		t.Fatalf("supervisor's queue %v (want none), search %v (want it)", q, s)
	}
	if _, err := svc.Conversation(ctx, ann, conv); err == nil {
		t.Fatal("ann may read a conversation awaiting consent")
	}
	qa := execute(t, svc, ticketing.Command{Type: ticketing.TypeCommandQuickAccept, RequestID: "qa-1", AgentID: "ann", Role: ticketing.ActorAgent, DeskArgs: &ticketing.DeskArgs{Count: 3}})
	if len(qa.Conversations) != 0 {
		t.Fatalf("quick accept took %+v", qa.Conversations)
	}
	out := execute(t, svc, ticketing.Command{Type: ticketing.TypeCommandAccept, RequestID: "acc-1", ConversationID: conv, AgentID: "sue", Role: ticketing.ActorSupervisor})
	if out.Rejection == nil || out.Rejection.Code != ticketing.CodeAwaitingContactConsent {
		t.Fatalf("accept: %+v", out)
	}

	yes := sunday.Add(2 * time.Minute)
	clk.set(yes)
	handle(t, svc, textRecord(t, from, "w2", "yes", yes))
	if q := queue(ann); len(q) != 1 || q[0] != conv {
		t.Fatalf("after YES ann's queue is %v", q)
	}
	var queued time.Time
	if err := pool.QueryRow(ctx, `SELECT queued_at FROM conversations WHERE id = $1`, conv).Scan(&queued); err != nil || !queued.Equal(yes) {
		t.Fatalf("queued at %v (%v), want the YES at %v", queued, err, yes)
	}
	qa = execute(t, svc, ticketing.Command{Type: ticketing.TypeCommandQuickAccept, RequestID: "qa-2", AgentID: "ann", Role: ticketing.ActorAgent, DeskArgs: &ticketing.DeskArgs{Count: 3}})
	if len(qa.Conversations) != 1 || qa.Conversations[0].ID != conv {
		t.Fatalf("quick accept after YES took %+v", qa.Conversations)
	}
}

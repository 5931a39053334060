package pgstore_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
	"github.com/chatgate/chatgate/ticketing"
)

// openConversations writes one message from each of n API contacts, in one
// batch, and returns the conversation ids in queue order (oldest first).
func openConversations(t testing.TB, svc *ticketing.Service, pool *pgxpool.Pool, n int) []int64 {
	t.Helper()
	msgs := make([]gateway.Message, n)
	for i := range msgs {
		msgs[i] = textRecord(t, fmt.Sprintf("+2782%07d", i), fmt.Sprintf("m-%d", i), fmt.Sprintf("hello number %d", i), t0)
	}
	handle(t, svc, msgs...)
	rows, err := pool.Query(context.Background(), `SELECT id FROM conversations WHERE state = 'unassigned' ORDER BY queued_at, id`)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := collectIDs(rows)
	if err != nil || len(ids) != n {
		t.Fatalf("%d open conversations (%v), want %d", len(ids), err, n)
	}
	return ids
}

func collectIDs(rows interface {
	Next() bool
	Scan(...any) error
	Err() error
	Close()
}) ([]int64, error) {
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

func execute(t testing.TB, svc *ticketing.Service, c ticketing.Command) ticketing.Outcome {
	t.Helper()
	out, err := svc.Execute(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// R18: 20 agents quick-accepting at once never get the same conversation,
// and together they take exactly the oldest ones: none is skipped.
func TestR18_QuickAcceptRaceOfTwentyAgents(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	svc := rulesService(t, pool, newClock(t0))
	const agents, each, open = 20, 3, 80
	ids := openConversations(t, svc, pool, open)

	outs := make([]ticketing.Outcome, agents)
	var wg sync.WaitGroup
	for i := range agents {
		wg.Go(func() {
			out, err := svc.Execute(context.Background(), ticketing.Command{Type: ticketing.TypeCommandQuickAccept,
				RequestID: fmt.Sprintf("q-%d", i), AgentID: fmt.Sprintf("agent-%02d", i), Role: ticketing.ActorAgent,
				DeskArgs: &ticketing.DeskArgs{Count: each}})
			if err != nil {
				t.Error(err)
			}
			outs[i] = out
		})
	}
	wg.Wait()
	owner := map[int64]string{}
	for i, out := range outs {
		if !out.Accepted || len(out.Conversations) != each {
			t.Fatalf("agent %d: accepted %v with %d conversations (%+v)", i, out.Accepted, len(out.Conversations), out.Rejection)
		}
		for _, c := range out.Conversations {
			if prev, dup := owner[c.ID]; dup {
				t.Fatalf("conversation %d given to %s and %s", c.ID, prev, out.AgentID)
			}
			owner[c.ID] = out.AgentID
			if c.Assignee != out.AgentID || c.State != string(ticketing.StateAssigned) {
				t.Fatalf("outcome snapshot %+v", c)
			}
		}
	}
	rows, err := pool.Query(context.Background(), `SELECT id FROM conversations WHERE state = 'assigned' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	assigned, err := collectIDs(rows)
	if err != nil {
		t.Fatal(err)
	}
	oldest := slices.Clone(ids[:agents*each])
	slices.Sort(oldest)
	if !slices.Equal(assigned, oldest) {
		t.Fatalf("assigned %v, want the %d oldest %v", assigned, agents*each, oldest)
	}
	if n := count(t, pool, `SELECT count(*) FROM outbox WHERE topic = 'tickets' AND convert_from(value, 'UTF8')::jsonb->>'type' = $1`, gateway.TypeTicketAssigned); n != agents*each {
		t.Fatalf("%d assigned events, want %d", n, agents*each)
	}
}

// R18: two agents accepting one conversation at once: one gets it, the
// other is refused with already_assigned; it is never overwritten.
func TestR18_ConcurrentAcceptRefusesTheSecond(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	svc := rulesService(t, pool, newClock(t0))
	conv := openConversations(t, svc, pool, 1)[0]
	outs := make([]ticketing.Outcome, 2)
	var wg sync.WaitGroup
	for i, agent := range []string{"ann", "bob"} {
		wg.Go(func() {
			out, err := svc.Execute(context.Background(), ticketing.Command{Type: ticketing.TypeCommandAccept,
				RequestID: "a-" + agent, ConversationID: conv, AgentID: agent, Role: ticketing.ActorAgent})
			if err != nil {
				t.Error(err)
			}
			outs[i] = out
		})
	}
	wg.Wait()
	winner, loser := outs[0], outs[1]
	if !winner.Accepted {
		winner, loser = loser, winner
	}
	if !winner.Accepted || loser.Accepted || loser.Rejection.Code != ticketing.CodeAlreadyAssigned || loser.Rejection.Assignee != winner.AgentID {
		t.Fatalf("outcomes %+v / %+v", winner, loser)
	}
	var assignee string
	if err := pool.QueryRow(context.Background(), `SELECT assignee FROM conversations WHERE id = $1`, conv).Scan(&assignee); err != nil || assignee != winner.AgentID {
		t.Fatalf("stored assignee %q (%v), want %s", assignee, err, winner.AgentID)
	}
}

// The desk commands over the commands topic: carried out in the worker's
// batch, refusals published as chatgate.command.rejected, quick accepts
// keyed by agent, the history kept with the actor.
func TestDeskCommandsOverTheCommandsTopic(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	c := newClock(t0)
	svc := rulesService(t, pool, c)
	ids := openConversations(t, svc, pool, 3)
	if err := svc.SetPresence(context.Background(), "bob", ticketing.PresenceOnline); err != nil {
		t.Fatal(err)
	}
	rec := func(cmd ticketing.Command) gateway.Message { return commandRecord(t, cmd) }
	handle(t, svc,
		rec(ticketing.Command{Type: ticketing.TypeCommandAccept, RequestID: "k1", ConversationID: ids[0], AgentID: "ann"}),
		rec(ticketing.Command{Type: ticketing.TypeCommandAccept, RequestID: "k2", ConversationID: ids[0], AgentID: "cid"}),
		rec(ticketing.Command{Type: ticketing.TypeCommandTransfer, RequestID: "k3", ConversationID: ids[0], AgentID: "ann", DeskArgs: &ticketing.DeskArgs{ToAgent: "bob"}}),
		rec(ticketing.Command{Type: ticketing.TypeCommandTransfer, RequestID: "k4", ConversationID: ids[0], AgentID: "bob", DeskArgs: &ticketing.DeskArgs{ToAgent: "dan"}}),
		rec(ticketing.Command{Type: ticketing.TypeCommandComment, RequestID: "k5", ConversationID: ids[0], AgentID: "bob", Reply: &ticketing.Reply{Text: "@ann thanks"}}),
		rec(ticketing.Command{Type: ticketing.TypeCommandQuickAccept, RequestID: "k6", AgentID: "cid", DeskArgs: &ticketing.DeskArgs{Count: 5}}),
		rec(ticketing.Command{Type: ticketing.TypeCommandClose, RequestID: "k7", ConversationID: ids[1], AgentID: "cid"}),
	)
	rej := rejections(t, pool)
	if len(rej) != 2 || rej[0].Reason != ticketing.CodeAlreadyAssigned || rej[1].Reason != ticketing.CodeAgentUnavailable {
		t.Fatalf("rejections %+v", rej)
	}
	var assignees []string
	rows, err := pool.Query(context.Background(), `SELECT assignee || ':' || state || ':' || closed_by FROM conversations ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		assignees = append(assignees, s)
	}
	// The quick accept runs last in the batch: after cid closed ids[1].
	if want := []string{"bob:assigned:", ":closed:cid", "cid:assigned:"}; !slices.Equal(assignees, want) {
		t.Fatalf("conversations %v, want %v", assignees, want)
	}
	var history []string
	rows, err = pool.Query(context.Background(), `SELECT type || ' by ' || actor FROM conversation_events WHERE conversation_id = $1 ORDER BY id`, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		history = append(history, s)
	}
	want := []string{gateway.TypeTicketCreated + " by ", gateway.TypeTicketAssigned + " by ann", gateway.TypeTicketTransferred + " by ann", gateway.TypeTicketCommentAdded + " by bob"}
	if !slices.Equal(history, want) {
		t.Fatalf("history %v, want %v", history, want)
	}
	// The same records again: nothing more happens.
	before := count(t, pool, `SELECT count(*) FROM outbox`)
	handle(t, svc, rec(ticketing.Command{Type: ticketing.TypeCommandQuickAccept, RequestID: "k6", AgentID: "cid", DeskArgs: &ticketing.DeskArgs{Count: 5}}))
	if after := count(t, pool, `SELECT count(*) FROM outbox`); after != before {
		t.Fatalf("a replayed quick accept wrote %d outbox records", after-before)
	}
}

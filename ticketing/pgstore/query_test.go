package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
	"github.com/chatgate/chatgate/ticketing"
)

func ids(page ticketing.Page) []int64 {
	out := []int64{}
	for _, c := range page.Conversations {
		out = append(out, c.ID)
	}
	return out
}

const salesNumber = "+27600000001"

// queryWorld has departments support (ann, bob) and sales (cid), and five
// conversations queued a minute apart: 0–2 written to support's number,
// 3–4 to sales'.
func queryWorld(t *testing.T) (*ticketing.Service, *clock, []int64) {
	t.Helper()
	pool := pgtest.Pool(t)
	c := newClock(t0)
	svc := rulesService(t, pool, c)
	// Open around the clock with agents online: the conversations are live
	// chats in the queue (out of hours they would await the contacts'
	// consent, in no queue: R35).
	always := map[string][]string{"sunday": {"00:00-24:00"}}
	support := supportDepartment()
	support.Agents, support.Schedule = []string{"ann", "bob"}, always
	sales := ticketing.Department{ID: "sales", TimeZone: "UTC", Agents: []string{"cid"}, Routing: ticketing.Routing{Numbers: []string{salesNumber}}, Schedule: always}
	if _, err := svc.ApplyDepartments(context.Background(), []ticketing.Department{support, sales}, false); err != nil {
		t.Fatal(err)
	}
	var convs []int64
	for i, text := range []string{"my parcel is late", "refund please", "hello", "I want to buy shoes", "buy a hat"} {
		c.set(t0.Add(time.Duration(i) * time.Minute))
		for _, a := range []string{"ann", "bob", "cid"} { // the desks' heartbeat
			if err := svc.SetPresence(context.Background(), a, ticketing.PresenceOnline); err != nil {
				t.Fatal(err)
			}
		}
		to := businessNumber
		if i >= 3 {
			to = salesNumber
		}
		in := gateway.Inbound{Channel: gateway.ChannelAPI, ProviderID: fmt.Sprintf("q-%d", i), From: fmt.Sprintf("+2782000000%d", i), To: to, Text: text, ReceivedAt: c.now()}
		rec, err := in.Record("test", "chatgate.inbound")
		if err != nil {
			t.Fatal(err)
		}
		handle(t, svc, rec)
		page, err := svc.List(context.Background(), ticketing.ListParams{View: ticketing.ViewUnassigned, Scope: ticketing.Scope{All: true}, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		convs = append(convs, page.Conversations[0].ID)
	}
	return svc, c, convs
}

func scope(t *testing.T, svc *ticketing.Service, role ticketing.ActorRole, agent string) ticketing.Scope {
	t.Helper()
	sc, err := svc.ScopeFor(context.Background(), role, agent)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// R17: most recent first; an agent sees only its departments' queue.
func TestR17_UnassignedMostRecentFirstPerDepartment(t *testing.T) {
	t.Parallel()
	svc, _, convs := queryWorld(t)
	ctx := context.Background()
	for _, tc := range []struct {
		role  ticketing.ActorRole
		agent string
		want  []int64
	}{
		{ticketing.ActorSupervisor, "sue", []int64{convs[4], convs[3], convs[2], convs[1], convs[0]}},
		{ticketing.ActorAgent, "ann", []int64{convs[2], convs[1], convs[0]}},
		{ticketing.ActorAgent, "cid", []int64{convs[4], convs[3]}},
	} {
		t.Run(string(tc.role)+" "+tc.agent, func(t *testing.T) {
			sc := scope(t, svc, tc.role, tc.agent)
			var got []int64
			var after *ticketing.Cursor
			for range 10 { // pages of two: the cursor keeps the order stable
				page, err := svc.List(ctx, ticketing.ListParams{View: ticketing.ViewUnassigned, Scope: sc, After: after, Limit: 2})
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, ids(page)...)
				if after = page.Next; after == nil {
					break
				}
				if after, err = ticketing.DecodeCursor(after.Encode()); err != nil {
					t.Fatal(err)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("%s %s sees %v, want %v", tc.role, tc.agent, got, tc.want)
			}
		})
	}
	// R18: quick accept takes the oldest of the agent's queue whatever the list's order.
	out := execute(t, svc, ticketing.Command{Type: ticketing.TypeCommandQuickAccept, RequestID: "qa", AgentID: "cid", Role: ticketing.ActorAgent, DeskArgs: &ticketing.DeskArgs{Count: 1}})
	if len(out.Conversations) != 1 || out.Conversations[0].ID != convs[3] {
		t.Fatalf("quick accept took %+v, want %d", out.Conversations, convs[3])
	}
}

// R19 and R20: an agent sees only its own assigned and closed tickets;
// supervisors see everyone's, grouped by agent with counts.
func TestR19_R20_AssignedAndClosedLists(t *testing.T) {
	t.Parallel()
	svc, c, convs := queryWorld(t)
	ctx := context.Background()
	for i, a := range []struct {
		agent string
		conv  int64
	}{{"ann", convs[0]}, {"bob", convs[1]}, {"ann", convs[2]}, {"cid", convs[3]}} {
		c.set(t0.Add(time.Hour + time.Duration(i)*time.Minute))
		if out := execute(t, svc, ticketing.Command{Type: ticketing.TypeCommandAccept, RequestID: fmt.Sprintf("acc-%d", i), ConversationID: a.conv, AgentID: a.agent}); !out.Accepted {
			t.Fatalf("accept: %+v", out.Rejection)
		}
	}
	execute(t, svc, ticketing.Command{Type: ticketing.TypeCommandClose, RequestID: "close-1", ConversationID: convs[1], AgentID: "bob"})
	execute(t, svc, ticketing.Command{Type: ticketing.TypeCommandClose, RequestID: "close-2", ConversationID: convs[2], AgentID: "sue", Role: ticketing.ActorSupervisor})

	list := func(view ticketing.View, sc ticketing.Scope, agent string) []int64 {
		page, err := svc.List(ctx, ticketing.ListParams{View: view, Scope: sc, Agent: agent})
		if err != nil {
			t.Fatal(err)
		}
		return ids(page)
	}
	ann, sup := scope(t, svc, ticketing.ActorAgent, "ann"), scope(t, svc, ticketing.ActorSupervisor, "sue")
	for _, tc := range []struct {
		name string
		got  []int64
		want []int64
	}{
		{"ann's assigned", list(ticketing.ViewAssigned, ann, ""), []int64{convs[0]}},
		{"ann asking for cid's gets her own", list(ticketing.ViewAssigned, ann, "cid"), []int64{convs[0]}},
		{"supervisor: everyone's, grouped by agent", list(ticketing.ViewAssigned, sup, ""), []int64{convs[0], convs[3]}},
		{"supervisor: cid's", list(ticketing.ViewAssigned, sup, "cid"), []int64{convs[3]}},
		{"ann's closed: the one she had", list(ticketing.ViewClosed, ann, ""), []int64{convs[2]}},
		{"ann's closed by me: none", list(ticketing.ViewClosed, ann, "ann"), []int64{}},
		{"supervisor's closed", list(ticketing.ViewClosed, sup, ""), []int64{convs[2], convs[1]}},
		{"closed by bob", list(ticketing.ViewClosed, sup, "bob"), []int64{convs[1]}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !slices.Equal(tc.got, tc.want) {
				t.Errorf("%s: %v, want %v", tc.name, tc.got, tc.want)
			}
		})
	}
	counts, err := svc.AssignedCounts(ctx)
	if err != nil || !slices.Equal(counts, []ticketing.AgentCount{{AgentID: "ann", Count: 1}, {AgentID: "cid", Count: 1}}) {
		t.Fatalf("counts %v (%v)", counts, err)
	}
	// An agent asking for another agent's conversation is told it does not exist.
	if _, err := svc.Conversation(ctx, ann, convs[3]); !errors.Is(err, ticketing.ErrConversationNotFound) {
		t.Fatalf("ann reading cid's conversation: %v", err)
	}
	d, err := svc.Conversation(ctx, ann, convs[0])
	if err != nil || len(d.Messages) != 1 || len(d.Events) != 2 || d.Events[1].Type != gateway.TypeTicketAssigned || d.Events[1].Actor != "ann" {
		t.Fatalf("ann's conversation: %+v (%v)", d, err)
	}
}

// R22: snoozed conversations are listed soonest back first.
func TestR22_SnoozedList(t *testing.T) {
	t.Parallel()
	svc, _, convs := queryWorld(t)
	for i, conv := range []int64{convs[0], convs[1]} {
		out := execute(t, svc, ticketing.Command{Type: ticketing.TypeCommandSnooze, RequestID: fmt.Sprintf("s-%d", i), ConversationID: conv, AgentID: "ann",
			Role: ticketing.ActorAgent, DeskArgs: &ticketing.DeskArgs{DurationSeconds: int64(3600 - i*600)}})
		if !out.Accepted {
			t.Fatalf("snooze: %+v", out.Rejection)
		}
	}
	page, err := svc.List(context.Background(), ticketing.ListParams{View: ticketing.ViewSnoozed, Scope: scope(t, svc, ticketing.ActorAgent, "ann")})
	if err != nil || !slices.Equal(ids(page), []int64{convs[1], convs[0]}) {
		t.Fatalf("snoozed %v (%v)", ids(page), err)
	}
}

// R26: search finds a conversation by #ID, by a word of a message and by
// the contact's number, among those the reader may see.
func TestR26_Search(t *testing.T) {
	t.Parallel()
	svc, _, convs := queryWorld(t)
	ctx := context.Background()
	sup, cid := scope(t, svc, ticketing.ActorSupervisor, "sue"), scope(t, svc, ticketing.ActorAgent, "cid")
	for _, tc := range []struct {
		q     string
		sc    ticketing.Scope
		want  []int64
		scope string
	}{
		{fmt.Sprintf("#%d", convs[2]), sup, []int64{convs[2]}, "supervisor"},
		{"parcel", sup, []int64{convs[0]}, "supervisor"},
		{"PARCEL late", sup, []int64{convs[0]}, "supervisor"},
		{"buy", sup, []int64{convs[4], convs[3]}, "supervisor"},
		{"+27820000001", sup, []int64{convs[1]}, "supervisor"},
		{"27 82 000 0001", sup, []int64{convs[1]}, "supervisor"},
		{"api:+27820000003", sup, []int64{convs[3]}, "supervisor"},
		{"parcel", cid, []int64{}, "cid (support's queue is not hers)"},
		{fmt.Sprintf("#%d", convs[0]), cid, []int64{}, "cid"},
		{"buy", cid, []int64{convs[4], convs[3]}, "cid"},
		{"nothing-like-this", sup, []int64{}, "supervisor"},
	} {
		t.Run(tc.scope+" "+tc.q, func(t *testing.T) {
			page, err := svc.Search(ctx, ticketing.SearchParams{Query: tc.q, Scope: tc.sc})
			if err != nil {
				t.Fatalf("%q: %v", tc.q, err)
			}
			if !slices.Equal(ids(page), tc.want) {
				t.Errorf("%s searching %q: %v, want %v", tc.scope, tc.q, ids(page), tc.want)
			}
		})
	}
}

// R36: order=oldest reads the queue longest waiting first, page by page,
// and the total counts the whole queue with the reader's filter.
func TestR36_UnassignedOldestFirstWithTotal(t *testing.T) {
	t.Parallel()
	svc, _, convs := queryWorld(t)
	ctx := context.Background()
	for _, tc := range []struct {
		role  ticketing.ActorRole
		agent string
		want  []int64
	}{
		{ticketing.ActorSupervisor, "sue", convs},
		{ticketing.ActorAgent, "ann", convs[:3]},
		{ticketing.ActorAgent, "cid", convs[3:]},
	} {
		t.Run(string(tc.role)+" "+tc.agent, func(t *testing.T) {
			sc := scope(t, svc, tc.role, tc.agent)
			var got []int64
			var after *ticketing.Cursor
			for range 10 {
				page, err := svc.List(ctx, ticketing.ListParams{View: ticketing.ViewUnassigned, Scope: sc, After: after, Limit: 2,
					Order: ticketing.OrderOldest, Total: true})
				if err != nil {
					t.Fatal(err)
				}
				if page.Total == nil || *page.Total != len(tc.want) {
					t.Fatalf("%s: total %v, want %d", tc.agent, page.Total, len(tc.want))
				}
				got = append(got, ids(page)...)
				if after = page.Next; after == nil {
					break
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("%s %s sees %v oldest first, want %v", tc.role, tc.agent, got, tc.want)
			}
		})
	}
	sc := scope(t, svc, ticketing.ActorSupervisor, "sue")
	newest, err := svc.List(ctx, ticketing.ListParams{View: ticketing.ViewUnassigned, Scope: sc, Limit: 1})
	if err != nil || newest.Total != nil {
		t.Fatalf("a total nobody asked for: %v (%v)", newest.Total, err)
	}
	if _, err := svc.List(ctx, ticketing.ListParams{View: ticketing.ViewUnassigned, Scope: sc, Limit: 1, After: newest.Next, Order: ticketing.OrderOldest}); !errors.Is(err, ticketing.ErrInvalidCursor) {
		t.Fatalf("a newest-first cursor continuing oldest first: %v", err)
	}
}

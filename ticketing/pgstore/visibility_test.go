package pgstore_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
	"github.com/chatgate/chatgate/ticketing"
	"github.com/chatgate/chatgate/ticketing/pgstore"
)

// visibilityWorld has departments support (ann, bob) and sales (cid), open
// on Monday, everyone online, and nine live chats in the states the role
// matrix needs, by name:
//
//	ann      assigned to ann (support)
//	returned returned to support's queue by bob, who took part
//	queued   unassigned in support
//	moved    accepted by cid (sales), transferred to bob
//	sales    unassigned in sales
//	closed   closed by ann
//	bobs     assigned to bob, snoozed
//	deleted  deleted from sales' queue by a supervisor
//	hidden   unassigned in support, snoozed by ann
func visibilityWorld(t *testing.T) (*ticketing.Service, *pgstore.Store, map[string]int64) {
	t.Helper()
	pool := pgtest.Pool(t)
	c := newClock(monday)
	svc := rulesService(t, pool, c)
	ctx := context.Background()
	support := supportDepartment()
	support.Agents = []string{"ann", "bob"}
	sales := ticketing.Department{ID: "sales", TimeZone: "UTC", Agents: []string{"cid"},
		Schedule: support.Schedule, Routing: ticketing.Routing{Numbers: []string{salesNumber}}}
	if _, err := svc.ApplyDepartments(ctx, []ticketing.Department{support, sales}, false); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"ann", "bob", "cid"} {
		if err := svc.SetPresence(ctx, a, ticketing.PresenceOnline); err != nil {
			t.Fatal(err)
		}
	}
	names := []string{"ann", "returned", "queued", "moved", "sales", "closed", "bobs", "deleted", "hidden"}
	convs := map[string]int64{}
	for i, name := range names {
		c.set(monday.Add(time.Duration(i) * time.Second))
		to := businessNumber
		if name == "moved" || name == "sales" || name == "deleted" {
			to = salesNumber
		}
		in := gateway.Inbound{Channel: gateway.ChannelAPI, ProviderID: "v-" + name, From: fmt.Sprintf("+2782100000%d", i), To: to, Text: "hello", ReceivedAt: c.now()}
		rec, err := in.Record("test", "chatgate.inbound")
		if err != nil {
			t.Fatal(err)
		}
		handle(t, svc, rec)
		page, err := svc.List(ctx, ticketing.ListParams{View: ticketing.ViewUnassigned, Scope: ticketing.Scope{All: true}, Limit: 1})
		if err != nil || len(page.Conversations) != 1 {
			t.Fatalf("queue after %s: %+v (%v)", name, page, err)
		}
		convs[name] = page.Conversations[0].ID
	}
	n := 0
	do := func(typ, conv, agent string, role ticketing.ActorRole, args *ticketing.DeskArgs) {
		t.Helper()
		n++
		out := execute(t, svc, ticketing.Command{Type: typ, RequestID: "vis-" + strconv.Itoa(n), ConversationID: convs[conv], AgentID: agent, Role: role, DeskArgs: args})
		if !out.Accepted {
			t.Fatalf("%s %s by %s: %+v", typ, conv, agent, out.Rejection)
		}
	}
	agent, sup := ticketing.ActorAgent, ticketing.ActorSupervisor
	do(ticketing.TypeCommandAccept, "ann", "ann", agent, nil)
	do(ticketing.TypeCommandAccept, "returned", "bob", agent, nil)
	do(ticketing.TypeCommandReturn, "returned", "bob", agent, nil)
	do(ticketing.TypeCommandAccept, "moved", "cid", agent, nil)
	do(ticketing.TypeCommandTransfer, "moved", "cid", agent, &ticketing.DeskArgs{ToAgent: "bob"})
	do(ticketing.TypeCommandAccept, "closed", "ann", agent, nil)
	do(ticketing.TypeCommandClose, "closed", "ann", agent, nil)
	do(ticketing.TypeCommandAccept, "bobs", "bob", agent, nil)
	do(ticketing.TypeCommandSnooze, "bobs", "bob", agent, &ticketing.DeskArgs{DurationSeconds: 3600})
	do(ticketing.TypeCommandDelete, "deleted", "sue", sup, nil)
	do(ticketing.TypeCommandSnooze, "hidden", "ann", agent, &ticketing.DeskArgs{DurationSeconds: 600})
	return svc, pgstore.New(pool), convs
}

// R17, R19, R22, R25, R26, R41: ticketing.Scope.Visible, which the live
// stream applies to ticket events, agrees with what the desk API answers
// for the same principal and conversation: GET /v1/tickets/{id}
// (Service.Conversation), the search by #ID (the SQL mirror of the rule),
// and the unassigned and snoozed queues. Each row is also written out by
// hand, so a rule that changed on both sides at once still fails here.
func TestR41_VisibleAgreesWithTheDeskAPI(t *testing.T) {
	t.Parallel()
	svc, _, convs := visibilityWorld(t)
	ctx := context.Background()
	type who struct {
		role  ticketing.ActorRole
		agent string
	}
	principals := []who{{ticketing.ActorSupervisor, "sue"}, {ticketing.ActorDesk, ""},
		{ticketing.ActorAgent, "ann"}, {ticketing.ActorAgent, "bob"}, {ticketing.ActorAgent, "cid"}, {ticketing.ActorAgent, "dan"}}
	everyone := []string{"sue", "desk"}
	sees := map[string][]string{
		"ann":      {"ann"},
		"returned": {"ann", "bob"},
		"queued":   {"ann", "bob"},
		"moved":    {"bob", "cid"},
		"sales":    {"cid"},
		"closed":   {"ann"},
		"bobs":     {"bob"},
		"deleted":  {},
		"hidden":   {"ann", "bob"},
	}
	all := scope(t, svc, ticketing.ActorSupervisor, "sue")
	for name, id := range convs {
		t.Run(name, func(t *testing.T) {
			d, err := svc.Conversation(ctx, all, id)
			if err != nil {
				t.Fatal(err)
			}
			view := d.Conversation
			for _, p := range principals {
				label := p.agent
				if label == "" {
					label = "desk"
				}
				want := slices.Contains(everyone, label) || slices.Contains(sees[name], label)
				sc := scope(t, svc, p.role, p.agent)
				if got := sc.Visible(view); got != want {
					t.Errorf("%s: Visible %v, want %v (view %+v)", label, got, want, view)
				}
				_, err := svc.Conversation(ctx, sc, id)
				if got := err == nil; got != want {
					t.Errorf("%s: GET /v1/tickets/%d answered %v, want visible %v", label, id, err, want)
				}
				page, err := svc.Search(ctx, ticketing.SearchParams{Query: "#" + strconv.FormatInt(id, 10), Scope: sc})
				if err != nil {
					t.Fatal(err)
				}
				if got := slices.Contains(ids(page), id); got != want {
					t.Errorf("%s: search #%d found it: %v, want %v", label, id, got, want)
				}
				var queue ticketing.View
				switch view.State {
				case string(ticketing.StateUnassigned):
					queue = ticketing.ViewUnassigned
				case string(ticketing.StateSnoozed):
					queue = ticketing.ViewSnoozed
				default:
					continue
				}
				page, err = svc.List(ctx, ticketing.ListParams{View: queue, Scope: sc, Limit: ticketing.MaxPageSize})
				if err != nil {
					t.Fatal(err)
				}
				if got := slices.Contains(ids(page), id); got != want {
					t.Errorf("%s: the %s list holds it: %v, want %v", label, queue, got, want)
				}
			}
		})
	}
}

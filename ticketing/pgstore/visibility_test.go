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

const nightNumber = "+27600000003"

// visibilityWorld has departments support (ann, bob) and sales (cid),
// open on Monday, everyone online, support with the default desk policy
// (its agents join its conversations, R36) and sales without joining;
// night (dan), never open. Its conversations, by name:
//
//	ann        assigned to ann (support)
//	returned   returned to support's queue by bob, who took part
//	queued     unassigned in support
//	moved      accepted by cid (sales), transferred to bob
//	sales      unassigned in sales
//	closed     closed by ann
//	bobs       assigned to bob, snoozed (support)
//	deleted    deleted from sales' queue by a supervisor
//	hidden     unassigned in support, snoozed by ann
//	awaiting   night's: waits for the contact's answer to the prompt (R35)
//	reprompted night's open ticket, its contact prompted again (R13)
func visibilityWorld(t *testing.T) (*ticketing.Service, *pgstore.Store, map[string]int64) {
	t.Helper()
	pool := pgtest.Pool(t)
	c := newClock(monday)
	svc := rulesService(t, pool, c)
	ctx := context.Background()
	support := supportDepartment()
	support.Agents = []string{"ann", "bob"}
	noJoin := false
	sales := ticketing.Department{ID: "sales", TimeZone: "UTC", Agents: []string{"cid"}, Schedule: support.Schedule,
		Routing: ticketing.Routing{Numbers: []string{salesNumber}}, DeskPolicy: ticketing.DeskPolicy{AgentsJoin: &noJoin}}
	night := ticketing.Department{ID: "night", TimeZone: "UTC", Agents: []string{"dan"}, Routing: ticketing.Routing{Numbers: []string{nightNumber}}}
	if _, err := svc.ApplyDepartments(ctx, []ticketing.Department{support, sales, night}, false); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"ann", "bob", "cid"} {
		if err := svc.SetPresence(ctx, a, ticketing.PresenceOnline); err != nil {
			t.Fatal(err)
		}
	}
	convs := map[string]int64{}
	msgs := 0
	write := func(name, to, text string) {
		t.Helper()
		msgs++
		c.set(monday.Add(time.Duration(msgs) * time.Second))
		from := fmt.Sprintf("+2782100%04d", len(name)*100+int(name[0]))
		in := gateway.Inbound{Channel: gateway.ChannelAPI, ProviderID: fmt.Sprintf("v-%d", msgs), From: from, To: to, Text: text, ReceivedAt: c.now()}
		rec, err := in.Record("test", "chatgate.inbound")
		if err != nil {
			t.Fatal(err)
		}
		handle(t, svc, rec)
		page, err := svc.Search(ctx, ticketing.SearchParams{Query: from, Scope: ticketing.Scope{All: true}, Limit: 1})
		if err != nil || len(page.Conversations) != 1 {
			t.Fatalf("%s's conversation: %+v (%v)", name, page, err)
		}
		convs[name] = page.Conversations[0].ID
	}
	for _, name := range []string{"ann", "returned", "queued", "moved", "sales", "closed", "bobs", "deleted", "hidden"} {
		to := businessNumber
		if name == "moved" || name == "sales" || name == "deleted" {
			to = salesNumber
		}
		write(name, to, "hello")
	}
	write("awaiting", nightNumber, "hello?")
	for _, text := range []string{"is anyone there?", "YES", "my parcel is late", "//end", "still waiting"} {
		write("reprompted", nightNumber, text)
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

// R17, R19, R22, R25, R26, R35, R36, R41: ticketing.Scope.Visible, which
// the live stream applies to ticket events, agrees with what the desk API
// answers for the same principal and conversation: GET /v1/tickets/{id}
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
		{ticketing.ActorAgent, "ann"}, {ticketing.ActorAgent, "bob"}, {ticketing.ActorAgent, "cid"}, {ticketing.ActorAgent, "dan"},
		{ticketing.ActorAgent, "eve"}}
	everyone := []string{"sue", "desk"}
	sees := map[string][]string{
		"ann":        {"ann", "bob"}, // bob joins support's conversations
		"returned":   {"ann", "bob"},
		"queued":     {"ann", "bob"},
		"moved":      {"bob", "cid"},
		"sales":      {"cid"},
		"closed":     {"ann"},
		"bobs":       {"bob", "ann"},
		"deleted":    {},
		"hidden":     {"ann", "bob"},
		"awaiting":   {},
		"reprompted": {"dan"},
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
				// The queues list what an agent sees without joining, and
				// nothing awaiting consent: a supervisor reads that one, but
				// it is in no queue (R35).
				var queue ticketing.View
				switch {
				case view.Assignee != "" || name == "awaiting":
					continue
				case view.State == string(ticketing.StateUnassigned):
					queue = ticketing.ViewUnassigned
				case view.State == string(ticketing.StateSnoozed):
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

package stream

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/ticketing"
)

// describe names an event as the role matrix lists it: "ticket <type>
// <conversation>", "ticket.removed <type> <conversation>", "notification
// <kind> <conversation>".
func describe(t *testing.T, ev sse) string {
	t.Helper()
	switch ev.Event {
	case eventTicket:
		var ce struct {
			Type string `json:"type"`
			Data struct {
				Conversation   gateway.ConversationView `json:"conversation"`
				ConversationID int64                    `json:"conversation_id"`
			} `json:"data"`
		}
		ev.decode(t, &ce)
		id := ce.Data.Conversation.ID
		if id == 0 {
			id = ce.Data.ConversationID
		}
		return fmt.Sprintf("ticket %s %d", ce.Type, id)
	case eventRemoved:
		var d removedData
		ev.decode(t, &d)
		return fmt.Sprintf("ticket.removed %s %d", d.Type, d.ConversationID)
	case eventNotification:
		var d noticeData
		ev.decode(t, &d)
		return fmt.Sprintf("notification %s %d", d.Kind, d.ConversationID)
	}
	return ev.Event + " " + ev.Data
}

// R17, R19, R23, R24, R41: each principal's stream carries exactly the
// events it may see, checked against a role matrix: an agent never gets
// another department's queue or another agent's conversation, except the
// one ticket.removed that drops a conversation from its lists when it
// leaves them (visible before the change, not after); notifications go to
// the agent they are for.
func TestR41_EachPrincipalGetsExactlyWhatItMaySee(t *testing.T) {
	t.Parallel()
	r := newRig(t, newTopicLog(4))
	names := []string{"sue", "desk", "ann", "bob", "cid", "dan"}
	readers := map[string]*reader{}
	for _, n := range names {
		readers[n] = r.open(t, n, "")
	}
	readers["desk for ann"] = r.open(t, "desk", "", "agent_id=ann")
	for _, rd := range readers {
		if ev := rd.next(t); ev.Event != eventReady {
			t.Fatalf("first event %v", ev)
		}
	}
	bob := actor("bob", ticketing.ActorAgent)
	cidAct := actor("cid", ticketing.ActorAgent)
	script := []gateway.Message{
		ticket(t, 1, gateway.TypeTicketCreated, view(1, "unassigned", "support", ""), nil),
		ticket(t, 2, gateway.TypeTicketCreated, view(2, "unassigned", "sales", ""), nil),
		// bob accepts 1: it leaves ann's queue.
		ticket(t, 1, gateway.TypeTicketAssigned, view(1, "assigned", "support", "bob", "bob"), bob),
		ticket(t, 1, gateway.TypeTicketMessageAdded, view(1, "assigned", "support", "bob", "bob"), nil),
		// sue assigns 2 to cid.
		ticket(t, 2, gateway.TypeTicketAssigned, view(2, "assigned", "sales", "cid", "cid"), actor("sue", ticketing.ActorSupervisor)),
		// ann accepts 3, which this hub saw nothing of before: the event
		// says it came from support's queue.
		ticket(t, 3, gateway.TypeTicketAssigned, view(3, "assigned", "support", "ann", "ann"), actor("ann", ticketing.ActorAgent)),
		// bob transfers 1 to cid; bob took part, so still sees it.
		ticket(t, 1, gateway.TypeTicketTransferred, view(1, "assigned", "support", "cid", "bob", "cid"),
			map[string]any{"actor": ticketing.Actor{AgentID: "bob", Role: ticketing.ActorAgent},
				"transfer": ticketing.Transfer{FromAgent: "bob", ToAgent: "cid", FromDepartment: "support"}}),
		// cid comments on 2 mentioning ann and itself.
		ticket(t, 2, gateway.TypeTicketCommentAdded, view(2, "assigned", "sales", "cid", "cid"),
			map[string]any{"actor": ticketing.Actor{AgentID: "cid", Role: ticketing.ActorAgent},
				"comment": ticketing.Comment{ID: "cm-1", AgentID: "cid", Text: "@ann can you check? @cid", Mentions: []string{"ann", "cid"}, At: testT0}}),
		ticket(t, 2, gateway.TypeTicketContactLeft, view(2, "assigned", "sales", "cid", "cid"), nil),
		rejection(t, 2, 2, "dan"),
		ticket(t, 0, gateway.TypeTicketCreated, view(5, "unassigned", "sales", ""), nil),
		ticket(t, 0, gateway.TypeTicketClosed, view(5, "closed", "sales", ""), map[string]any{"reason": "prompt_expired"}),
		// A self-transfer notifies nobody.
		ticket(t, 2, gateway.TypeTicketTransferred, view(2, "assigned", "sales", "cid", "cid"),
			map[string]any{"actor": cidAct["actor"], "transfer": ticketing.Transfer{FromAgent: "cid", ToAgent: "cid", FromDepartment: "sales"}}),
		// Everyone's queue (no department): the end of the script.
		ticket(t, 3, gateway.TypeTicketCreated, view(99, "unassigned", "", ""), nil),
	}
	r.publish(t, script...)

	all := []string{
		"ticket chatgate.ticket.created 1", "ticket chatgate.ticket.created 2",
		"ticket chatgate.ticket.assigned 1", "ticket chatgate.ticket.message_added 1",
		"ticket chatgate.ticket.assigned 2", "ticket chatgate.ticket.assigned 3",
		"ticket chatgate.ticket.transferred 1", "ticket chatgate.ticket.comment_added 2",
		"ticket chatgate.ticket.contact_left 2", "ticket chatgate.command.rejected 2",
		"ticket chatgate.ticket.created 5", "ticket chatgate.ticket.closed 5", "ticket chatgate.ticket.transferred 2",
		"ticket chatgate.ticket.created 99",
	}
	// Events of one partition keep their order; across partitions a
	// stream's order is the hub's, so the matrix compares sets.
	want := map[string][]string{
		"sue":          all,
		"desk":         all,
		"desk for ann": append(slices.Clone(all), "notification mentioned 2"),
		"ann": {
			"ticket chatgate.ticket.created 1", "ticket.removed chatgate.ticket.assigned 1",
			"ticket chatgate.ticket.assigned 3", "notification mentioned 2", "ticket chatgate.ticket.created 99",
		},
		"bob": {
			"ticket chatgate.ticket.created 1", "ticket chatgate.ticket.assigned 1", "ticket chatgate.ticket.message_added 1",
			"ticket.removed chatgate.ticket.assigned 3", "ticket chatgate.ticket.transferred 1", "ticket chatgate.ticket.created 99",
		},
		"cid": {
			"ticket chatgate.ticket.created 2", "ticket chatgate.ticket.assigned 2", "notification assigned 2",
			"ticket chatgate.ticket.transferred 1", "notification transferred 1", "ticket chatgate.ticket.comment_added 2",
			"ticket chatgate.ticket.contact_left 2", "notification contact_left 2", "ticket chatgate.command.rejected 2",
			"ticket chatgate.ticket.created 5", "ticket.removed chatgate.ticket.closed 5", "ticket chatgate.ticket.transferred 2",
			"ticket chatgate.ticket.created 99",
		},
		"dan": {"ticket chatgate.command.rejected 2", "ticket chatgate.ticket.created 99"},
	}
	dir := directory(t)
	for name, rd := range readers {
		t.Run(name, func(t *testing.T) {
			var got []string
			for !slices.Contains(got, "ticket chatgate.ticket.created 99") {
				ev := rd.next(t)
				got = append(got, describe(t, ev))
				if ev.Event == eventTicket && principals[name].Agent != "" {
					var ce struct {
						Data struct {
							Conversation *gateway.ConversationView `json:"conversation"`
						} `json:"data"`
					}
					ev.decode(t, &ce)
					sc := ticketing.ScopeOf(ticketing.ActorRole(principals[name].Role), principals[name].Agent, dir)
					if c := ce.Data.Conversation; c != nil && !sc.Visible(*c) {
						t.Errorf("%s got conversation %d it may not see: %+v", name, c.ID, c)
					}
				}
			}
			slices.Sort(got)
			w := slices.Clone(want[name])
			slices.Sort(w)
			if !slices.Equal(got, w) {
				t.Errorf("%s got\n  %q\nwant\n  %q", name, got, w)
			}
		})
	}
}

// rejection is a chatgate.command.rejected record of agent's command on
// conversation conv.
func rejection(t *testing.T, part int, conv int64, agent string) gateway.Message {
	t.Helper()
	m, err := gateway.EncodeRecord("chatgate.tickets", fmt.Sprint(conv), fmt.Sprintf("rej-%d-%s", conv, agent), "chatgate/ticketing",
		gateway.TypeCommandRejected, fmt.Sprint(conv), testT0, map[string]any{
			"request_id": "r-1", "command": ticketing.TypeCommandAccept, "conversation_id": conv, "agent_id": agent, "reason": ticketing.CodeNotPermitted,
		})
	if err != nil {
		t.Fatal(err)
	}
	m.Partition = part
	return m
}

// R23, R41: a notification names the conversation, the event and who
// acted, and nothing of the conversation's content.
func TestR41_NotificationPayload(t *testing.T) {
	t.Parallel()
	r := newRig(t, newTopicLog(1))
	ann := r.open(t, "ann", "")
	ann.next(t)
	m := r.publish(t, ticket(t, 0, gateway.TypeTicketCommentAdded, view(7, "assigned", "sales", "cid", "cid"),
		map[string]any{"actor": ticketing.Actor{AgentID: "cid", Role: ticketing.ActorAgent},
			"comment": ticketing.Comment{ID: "cm-9", AgentID: "cid", Text: "@ann the customer's card number is…", Mentions: []string{"ann"}, At: testT0}}))[0]
	ev := ann.next(t)
	if ev.Event != eventNotification || !ev.hasID {
		t.Fatalf("ann got %v, want only her notification", ev)
	}
	var d noticeData
	ev.decode(t, &d)
	head, err := gateway.DecodeEvent(m.Value)
	if err != nil {
		t.Fatal(err)
	}
	want := noticeData{Kind: NoticeMentioned, ConversationID: 7, EventID: head.ID, Type: gateway.TypeTicketCommentAdded, At: testT0, By: "cid", CommentID: "cm-9"}
	if d != want {
		t.Fatalf("notification %+v, want %+v", d, want)
	}
	if strings.Contains(ev.Data, "card") {
		t.Fatal("the notification carries the comment's text")
	}
}

package ticketing

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway"
)

// The desk tests run at deskNow on the "support" department (agents ann
// and bob) plus "sales" (agent cid); who is online is per case.
var deskNow = openNow

func sales() Department {
	return Department{ID: "sales", TimeZone: "Africa/Johannesburg", Agents: []string{"cid"}, Routing: Routing{Keywords: []string{"buy"}}}
}

func deskEnv(t *testing.T, online ...string) Env {
	t.Helper()
	return world{deps: []Department{support(), sales()}, online: online}.env(t, deskNow)
}

// deskConv is conversation 7 of WhatsApp contact 1 (who wrote an hour
// ago) in department support, in state s, assigned to assignee.
func deskConv(s State, assignee string) (*ContactState, *Conversation) {
	c := &Contact{ID: 1, Channel: gateway.ChannelWhatsApp, Address: "+27821234567", LastInboundAt: deskNow.Add(-time.Hour)}
	conv := &Conversation{ID: 7, ContactID: 1, Kind: KindLiveChat, State: s, DepartmentID: "support",
		BusinessAddress: businessNumber, CreatedAt: deskNow.Add(-time.Hour), QueuedAt: deskNow.Add(-time.Hour),
		Assignee: assignee, MessageCount: 1, LastInboundAt: deskNow.Add(-time.Hour)}
	if assignee != "" {
		conv.Participants = []string{assignee}
	}
	st := &ContactState{Contact: c}
	if s.Open() {
		st.Open = conv
	} else {
		conv.ClosedAt = deskNow.Add(-time.Minute)
		st.Last = conv
	}
	return st, conv
}

func cmd(typ, agent string, args *DeskArgs) Command {
	return Command{Type: typ, RequestID: "r-" + typ, ConversationID: 7, AgentID: agent, Role: ActorAgent, DeskArgs: args}
}

func ptr[T any](v T) *T { return &v }

// deskCase is one command on one conversation and what must follow.
type deskCase struct {
	name     string
	state    State
	assignee string
	cmd      Command
	online   []string
	setup    func(st *ContactState, conv *Conversation)
	code     string     // rejection code; "" when carried out
	events   []string   // ticket event types, in order
	texts    []TextKind // texts sent to the contact
	check    func(t *testing.T, conv *Conversation, effects []Effect)
}

func runDeskCases(t *testing.T, cases []deskCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st, conv := deskConv(tc.state, tc.assignee)
			if tc.setup != nil {
				tc.setup(st, conv)
			}
			if rej := tc.cmd.Validate(); rej != nil {
				if rej.Code != tc.code {
					t.Fatalf("Validate: %v, want code %q", rej, tc.code)
				}
				return
			}
			dec := DecideDesk(DeskInput{Command: tc.cmd, Conversation: conv, State: st}, deskEnv(t, tc.online...))
			got := ""
			if dec.Rejection != nil {
				got = dec.Rejection.Code
			}
			if got != tc.code {
				t.Fatalf("code %q (%v), want %q", got, dec.Rejection, tc.code)
			}
			if tc.code != "" {
				if len(dec.Effects) != 0 {
					t.Fatalf("a refused command has effects: %v", dec.Effects)
				}
				return
			}
			if ev := eventTypes(dec.Effects); !reflect.DeepEqual(ev, tc.events) {
				t.Fatalf("events %v, want %v", ev, tc.events)
			}
			if tx := texts(dec.Effects); !reflect.DeepEqual(tx, tc.texts) {
				t.Fatalf("texts %v, want %v", tx, tc.texts)
			}
			for _, e := range dec.Effects {
				if ev, ok := e.(EmitTicketEvent); ok && (ev.Desk == nil || ev.Desk.Actor == nil || ev.Desk.Actor.AgentID != tc.cmd.AgentID) {
					t.Fatalf("event %s does not carry the actor %s: %+v", ev.Type, tc.cmd.AgentID, ev.Desk)
				}
			}
			if tc.check != nil {
				tc.check(t, conv, dec.Effects)
			}
		})
	}
}

func TestR18_Accept(t *testing.T) {
	t.Parallel()
	runDeskCases(t, []deskCase{
		{name: "unassigned is assigned to the accepting agent", state: StateUnassigned, cmd: cmd(TypeCommandAccept, "ann", nil),
			events: []string{gateway.TypeTicketAssigned}, check: func(t *testing.T, conv *Conversation, _ []Effect) {
				if conv.State != StateAssigned || conv.Assignee != "ann" || !conv.AssignedAt.Equal(deskNow) || !slices.Equal(conv.Participants, []string{"ann"}) {
					t.Fatalf("after accept: %+v", conv)
				}
			}},
		{name: "another agent's is refused, never overwritten", state: StateAssigned, assignee: "bob",
			cmd: cmd(TypeCommandAccept, "ann", nil), code: CodeAlreadyAssigned},
		{name: "a supervisor cannot take it over by accepting either", state: StateAssigned, assignee: "bob",
			cmd: func() Command { c := cmd(TypeCommandAccept, "sue", nil); c.Role = ActorSupervisor; return c }(), code: CodeAlreadyAssigned},
		{name: "own again changes nothing", state: StateAssigned, assignee: "ann", cmd: cmd(TypeCommandAccept, "ann", nil)},
		{name: "a closed ticket is refused", state: StateClosed, cmd: cmd(TypeCommandAccept, "ann", nil), code: CodeConversationClosed},
		{name: "a deleted one is refused", state: StateDeleted, cmd: cmd(TypeCommandAccept, "ann", nil), code: CodeConversationClosed},
		{name: "snoozed unassigned is woken and assigned", state: StateSnoozed, cmd: cmd(TypeCommandAccept, "ann", nil),
			setup: func(_ *ContactState, c *Conversation) {
				c.SnoozedFrom, c.SnoozeUntil = StateUnassigned, deskNow.Add(time.Hour)
			},
			events: []string{gateway.TypeTicketWoken, gateway.TypeTicketAssigned}},
		{name: "another department's is not in the agent's queue", state: StateUnassigned, cmd: cmd(TypeCommandAccept, "cid", nil), code: CodeNotPermitted},
		{name: "a desk acting for the agent is trusted", state: StateUnassigned,
			cmd:    func() Command { c := cmd(TypeCommandAccept, "cid", nil); c.Role = ActorDesk; return c }(),
			events: []string{gateway.TypeTicketAssigned}},
	})
}

func TestR18_QuickAcceptSkipsTakenOnes(t *testing.T) {
	t.Parallel()
	var claimed []*ContactState
	for i := range 3 {
		st, conv := deskConv(StateUnassigned, "")
		conv.ID, conv.ContactID, st.Contact.ID = int64(10+i), int64(i+1), int64(i+1)
		claimed = append(claimed, st)
	}
	claimed[1].Open.Assignee, claimed[1].Open.State = "bob", StateAssigned // taken by an earlier command of the batch
	c := Command{Type: TypeCommandQuickAccept, RequestID: "q", AgentID: "ann", DeskArgs: &DeskArgs{Count: 3}}
	if rej := c.Validate(); rej != nil {
		t.Fatal(rej)
	}
	effects, taken := DecideQuickAccept(c, claimed, deskEnv(t))
	var ids []int64
	for _, v := range taken {
		ids = append(ids, v.ID)
		if v.Assignee != "ann" || v.State != StateAssigned {
			t.Fatalf("taken %+v", v)
		}
	}
	if !slices.Equal(ids, []int64{10, 12}) || !slices.Equal(eventTypes(effects), []string{gateway.TypeTicketAssigned, gateway.TypeTicketAssigned}) {
		t.Fatalf("took %v with events %v", ids, eventTypes(effects))
	}
	for _, n := range []int{0, -1, MaxQuickAccept + 1} {
		c.Count = n
		if rej := c.Validate(); rej == nil || rej.Code != CodeInvalidCommand {
			t.Fatalf("count %d: %v", n, rej)
		}
	}
}

func TestR21_TransferReturnResolve(t *testing.T) {
	t.Parallel()
	runDeskCases(t, []deskCase{
		{name: "to an online agent", state: StateAssigned, assignee: "ann", online: []string{"bob"},
			cmd: cmd(TypeCommandTransfer, "ann", &DeskArgs{ToAgent: "bob"}), events: []string{gateway.TypeTicketTransferred},
			check: func(t *testing.T, conv *Conversation, effects []Effect) {
				ev := effects[len(effects)-1].(EmitTicketEvent)
				if conv.Assignee != "bob" || ev.Desk.Transfer.FromAgent != "ann" || ev.Desk.Transfer.ToAgent != "bob" ||
					!slices.Equal(conv.Participants, []string{"ann", "bob"}) {
					t.Fatalf("after transfer %+v, event %+v", conv, ev.Desk.Transfer)
				}
			}},
		{name: "to an offline agent is refused", state: StateAssigned, assignee: "ann",
			cmd: cmd(TypeCommandTransfer, "ann", &DeskArgs{ToAgent: "bob"}), code: CodeAgentUnavailable},
		{name: "to an agent whose heartbeat is stale is refused", state: StateAssigned, assignee: "ann",
			cmd: cmd(TypeCommandTransfer, "ann", &DeskArgs{ToAgent: "zed"}), online: []string{"bob"}, code: CodeAgentUnavailable},
		{name: "to a department with an available agent", state: StateAssigned, assignee: "ann", online: []string{"cid"},
			cmd: cmd(TypeCommandTransfer, "ann", &DeskArgs{ToDepartment: "sales"}), events: []string{gateway.TypeTicketTransferred},
			check: func(t *testing.T, conv *Conversation, _ []Effect) {
				if conv.State != StateUnassigned || conv.Assignee != "" || conv.DepartmentID != "sales" || !conv.QueuedAt.Equal(deskNow) {
					t.Fatalf("after transfer to sales: %+v", conv)
				}
			}},
		{name: "to a department with none available is refused", state: StateAssigned, assignee: "ann", online: []string{"bob"},
			cmd: cmd(TypeCommandTransfer, "ann", &DeskArgs{ToDepartment: "sales"}), code: CodeDepartmentUnavailable},
		{name: "to an unknown department is refused", state: StateAssigned, assignee: "ann",
			cmd: cmd(TypeCommandTransfer, "ann", &DeskArgs{ToDepartment: "nope"}), code: CodeDepartmentNotFound},
		{name: "agent and department at once is malformed", state: StateAssigned, assignee: "ann",
			cmd: cmd(TypeCommandTransfer, "ann", &DeskArgs{ToAgent: "bob", ToDepartment: "sales"}), code: CodeInvalidCommand},
		{name: "an agent cannot transfer another agent's", state: StateAssigned, assignee: "bob", online: []string{"ann"},
			cmd: cmd(TypeCommandTransfer, "ann", &DeskArgs{ToAgent: "ann"}), code: CodeNotPermitted},
		{name: "a supervisor can", state: StateAssigned, assignee: "bob", online: []string{"ann"},
			cmd: func() Command {
				c := cmd(TypeCommandTransfer, "sue", &DeskArgs{ToAgent: "ann"})
				c.Role = ActorSupervisor
				return c
			}(),
			events: []string{gateway.TypeTicketTransferred}},
		{name: "return puts it back and tells the contact", state: StateAssigned, assignee: "ann",
			cmd: cmd(TypeCommandReturn, "ann", nil), events: []string{gateway.TypeTicketReturned, gateway.TypeTicketMessageAdded}, texts: []TextKind{TextAgentOnTheWay},
			check: func(t *testing.T, conv *Conversation, effects []Effect) {
				if conv.State != StateUnassigned || conv.Assignee != "" {
					t.Fatalf("after return: %+v", conv)
				}
				for _, e := range effects {
					if s, ok := e.(SendText); ok && s.Outbound.Text != DefaultTexts.AgentOnTheWay {
						t.Fatalf("text %q", s.Outbound.Text)
					}
				}
			}},
		{name: "return of an unassigned one is refused", state: StateUnassigned, cmd: cmd(TypeCommandReturn, "ann", nil), code: CodeNotAssigned},
		{name: "return outside the WhatsApp window tells nothing", state: StateAssigned, assignee: "ann",
			setup: func(st *ContactState, _ *Conversation) { st.Contact.LastInboundAt = deskNow.Add(-25 * time.Hour) },
			cmd:   cmd(TypeCommandReturn, "ann", nil), events: []string{gateway.TypeTicketReturned}},
		{name: "resolve closes, records who and tells the contact", state: StateAssigned, assignee: "ann",
			cmd: cmd(TypeCommandClose, "ann", nil), events: []string{gateway.TypeTicketClosed, gateway.TypeTicketMessageAdded}, texts: []TextKind{TextChatEnded},
			check: func(t *testing.T, conv *Conversation, _ []Effect) {
				if conv.State != StateClosed || conv.ClosedBy != "ann" || conv.CloseReason != ReasonResolved || conv.Assignee != "ann" {
					t.Fatalf("after close: %+v", conv)
				}
			}},
		{name: "resolve twice is refused", state: StateClosed, assignee: "ann", cmd: cmd(TypeCommandClose, "ann", nil), code: CodeConversationClosed},
	})
}

func TestR22_Snooze(t *testing.T) {
	t.Parallel()
	runDeskCases(t, []deskCase{
		{name: "5 minutes", state: StateAssigned, assignee: "ann", cmd: cmd(TypeCommandSnooze, "ann", &DeskArgs{DurationSeconds: 300}),
			events: []string{gateway.TypeTicketSnoozed}, check: func(t *testing.T, conv *Conversation, _ []Effect) {
				if conv.State != StateSnoozed || conv.SnoozedFrom != StateAssigned || !conv.SnoozeUntil.Equal(deskNow.Add(5*time.Minute)) {
					t.Fatalf("after snooze: %+v", conv)
				}
			}},
		{name: "24 hours until a time", state: StateUnassigned, cmd: cmd(TypeCommandSnooze, "ann", &DeskArgs{Until: ptr(deskNow.Add(24 * time.Hour))}),
			events: []string{gateway.TypeTicketSnoozed}},
		{name: "under 5 minutes is refused", state: StateAssigned, assignee: "ann", cmd: cmd(TypeCommandSnooze, "ann", &DeskArgs{DurationSeconds: 299}), code: CodeSnoozeOutOfRange},
		{name: "over 24 hours is refused", state: StateAssigned, assignee: "ann", cmd: cmd(TypeCommandSnooze, "ann", &DeskArgs{Until: ptr(deskNow.Add(24*time.Hour + time.Second))}), code: CodeSnoozeOutOfRange},
		{name: "in the past is refused", state: StateAssigned, assignee: "ann", cmd: cmd(TypeCommandSnooze, "ann", &DeskArgs{Until: ptr(deskNow.Add(-time.Hour))}), code: CodeSnoozeOutOfRange},
		{name: "both until and duration is malformed", state: StateAssigned, assignee: "ann", cmd: cmd(TypeCommandSnooze, "ann", &DeskArgs{DurationSeconds: 600, Until: ptr(deskNow)}), code: CodeInvalidCommand},
		{name: "a closed one is refused", state: StateClosed, cmd: cmd(TypeCommandSnooze, "ann", &DeskArgs{DurationSeconds: 600}), code: CodeConversationClosed},
	})
}

func TestR23_DeleteSpamUnreadComment(t *testing.T) {
	t.Parallel()
	runDeskCases(t, []deskCase{
		{name: "delete", state: StateAssigned, assignee: "ann", cmd: cmd(TypeCommandDelete, "ann", nil), events: []string{gateway.TypeTicketDeleted},
			check: func(t *testing.T, conv *Conversation, _ []Effect) {
				if conv.State != StateDeleted {
					t.Fatalf("state %s", conv.State)
				}
			}},
		{name: "delete twice is refused", state: StateDeleted, cmd: cmd(TypeCommandDelete, "ann", nil), code: CodeConversationClosed},
		{name: "spam marks the contact and closes its conversation", state: StateAssigned, assignee: "ann",
			cmd: cmd(TypeCommandSpam, "ann", nil), events: []string{gateway.TypeTicketSpam, gateway.TypeTicketClosed},
			check: func(t *testing.T, conv *Conversation, effects []Effect) {
				saved := false
				for _, e := range effects {
					if s, ok := e.(SaveContact); ok && s.Contact.Spam {
						saved = true
					}
				}
				if !saved || conv.State != StateClosed || conv.CloseReason != ReasonSpam {
					t.Fatalf("contact saved %v, conversation %+v", saved, conv)
				}
			}},
		{name: "not spam", state: StateClosed, assignee: "ann", cmd: cmd(TypeCommandSpam, "ann", &DeskArgs{Spam: ptr(false)}),
			setup: func(st *ContactState, _ *Conversation) { st.Contact.Spam = true }, events: []string{gateway.TypeTicketSpam}},
		{name: "mark unread", state: StateAssigned, assignee: "ann", cmd: cmd(TypeCommandRead, "ann", &DeskArgs{Read: ptr(false)}),
			events: []string{gateway.TypeTicketReadState}, check: func(t *testing.T, conv *Conversation, _ []Effect) {
				if !conv.Unread {
					t.Fatal("not unread")
				}
			}},
		{name: "mark read when read changes nothing", state: StateAssigned, assignee: "ann", cmd: cmd(TypeCommandRead, "ann", &DeskArgs{Read: ptr(true)})},
		{name: "read without the flag is malformed", state: StateAssigned, assignee: "ann", cmd: cmd(TypeCommandRead, "ann", nil), code: CodeInvalidCommand},
		{name: "comment names the mentioned agents", state: StateAssigned, assignee: "ann",
			cmd: func() Command {
				c := cmd(TypeCommandComment, "ann", nil)
				c.Reply = &Reply{Text: "@bob can you check? cc @cid. mail ops@example.com"}
				return c
			}(),
			events: []string{gateway.TypeTicketCommentAdded}, check: func(t *testing.T, _ *Conversation, effects []Effect) {
				cm := effects[0].(EmitTicketEvent).Desk.Comment
				if !slices.Equal(cm.Mentions, []string{"bob", "cid"}) || cm.AgentID != "ann" || cm.ID != "r-"+TypeCommandComment {
					t.Fatalf("comment %+v", cm)
				}
			}},
		{name: "an empty comment is malformed", state: StateAssigned, assignee: "ann",
			cmd: func() Command { c := cmd(TypeCommandComment, "ann", nil); c.Reply = &Reply{Text: " "}; return c }(), code: CodeInvalidCommand},
		{name: "an agent cannot comment on another department's", state: StateAssigned, assignee: "bob",
			cmd: func() Command { c := cmd(TypeCommandComment, "cid", nil); c.Reply = &Reply{Text: "hi"}; return c }(), code: CodeNotPermitted},
		{name: "reopen assigns it to the agent", state: StateClosed, assignee: "ann", cmd: cmd(TypeCommandReopen, "ann", nil),
			events: []string{gateway.TypeTicketReopened, gateway.TypeTicketAssigned}, check: func(t *testing.T, conv *Conversation, _ []Effect) {
				if conv.State != StateAssigned || conv.Assignee != "ann" || !conv.ClosedAt.IsZero() {
					t.Fatalf("after reopen %+v", conv)
				}
			}},
		{name: "reopen with another open conversation is refused", state: StateClosed, assignee: "ann", cmd: cmd(TypeCommandReopen, "ann", nil),
			setup: func(st *ContactState, _ *Conversation) {
				st.Open = &Conversation{ID: 8, ContactID: 1, State: StateUnassigned}
			}, code: CodeOpenConversationExists},
		{name: "reopen of an open one is refused", state: StateAssigned, assignee: "ann", cmd: cmd(TypeCommandReopen, "ann", nil), code: CodeConversationOpen},
	})
}

func TestR24_ContactEndedChatOnlyResolveOrDelete(t *testing.T) {
	t.Parallel()
	ended := func(_ *ContactState, c *Conversation) { c.ContactLeftAt = deskNow.Add(-time.Minute) }
	runDeskCases(t, []deskCase{
		{name: "accept is refused", state: StateUnassigned, setup: ended, cmd: cmd(TypeCommandAccept, "ann", nil), code: CodeContactEndedChat},
		{name: "transfer is refused", state: StateAssigned, assignee: "ann", setup: ended, online: []string{"bob"},
			cmd: cmd(TypeCommandTransfer, "ann", &DeskArgs{ToAgent: "bob"}), code: CodeContactEndedChat},
		{name: "snooze is refused", state: StateAssigned, assignee: "ann", setup: ended, cmd: cmd(TypeCommandSnooze, "ann", &DeskArgs{DurationSeconds: 600}), code: CodeContactEndedChat},
		{name: "return is refused", state: StateAssigned, assignee: "ann", setup: ended, cmd: cmd(TypeCommandReturn, "ann", nil), code: CodeContactEndedChat},
		// The contact was told when it left: resolving sends no chat_ended.
		{name: "resolve", state: StateAssigned, assignee: "ann", setup: ended, cmd: cmd(TypeCommandClose, "ann", nil),
			events: []string{gateway.TypeTicketClosed}},
		{name: "resolve an unassigned one from the queue", state: StateUnassigned, setup: ended, cmd: cmd(TypeCommandClose, "bob", nil),
			events: []string{gateway.TypeTicketClosed}},
		{name: "delete", state: StateAssigned, assignee: "ann", setup: ended, cmd: cmd(TypeCommandDelete, "ann", nil), events: []string{gateway.TypeTicketDeleted}},
		{name: "comment (internal)", state: StateAssigned, assignee: "ann", setup: ended, events: []string{gateway.TypeTicketCommentAdded},
			cmd: func() Command { c := cmd(TypeCommandComment, "ann", nil); c.Reply = &Reply{Text: "gone"}; return c }()},
	})
	claimed, _ := deskConv(StateUnassigned, "")
	claimed.Open.ContactLeftAt = deskNow
	if _, taken := DecideQuickAccept(Command{Type: TypeCommandQuickAccept, RequestID: "q", AgentID: "ann", DeskArgs: &DeskArgs{Count: 1}},
		[]*ContactState{claimed}, deskEnv(t)); len(taken) != 0 {
		t.Fatalf("quick accept took a chat the contact ended: %+v", taken)
	}
	st, conv := deskConv(StateAssigned, "ann")
	conv.ContactLeftAt = deskNow.Add(-time.Minute)
	dec := DecideReply(ReplyInput{Command: Command{Type: TypeCommandReply, RequestID: "r", ConversationID: 7, AgentID: "ann", Reply: &Reply{Text: "hi"}},
		Conversation: conv, State: st}, deskEnv(t))
	if dec.Rejection == nil || dec.Rejection.Code != CodeContactEndedChat {
		t.Fatalf("reply after the contact ended the chat: %+v", dec.Rejection)
	}
}

func TestR25_SignAndAgentJoined(t *testing.T) {
	t.Parallel()
	reply := func(agent string) Command {
		return Command{Type: TypeCommandReply, RequestID: "r-" + agent, ConversationID: 7, AgentID: agent, Role: ActorAgent, Reply: &Reply{Text: "On it."}}
	}
	st, conv := deskConv(StateAssigned, "ann")
	dec := DecideReply(ReplyInput{Command: reply("ann"), Conversation: conv, State: st, Agent: AgentSettings{AgentID: "ann", Sign: true, DisplayName: "Ann"}}, deskEnv(t))
	if dec.Rejection != nil || dec.Message.Body != "Ann: On it." || slices.Contains(eventTypes(dec.Effects), gateway.TypeTicketAgentJoined) {
		t.Fatalf("signed reply: %+v %v %v", dec.Rejection, dec.Message, eventTypes(dec.Effects))
	}
	dec = DecideReply(ReplyInput{Command: reply("bob"), Conversation: conv, State: st, Agent: AgentSettings{AgentID: "bob"}}, deskEnv(t))
	if dec.Message.Body != "On it." || !slices.Equal(eventTypes(dec.Effects), []string{gateway.TypeTicketAgentJoined, gateway.TypeTicketMessageAdded}) ||
		!slices.Equal(conv.Participants, []string{"ann", "bob"}) {
		t.Fatalf("second agent: %q %v %v", dec.Message.Body, eventTypes(dec.Effects), conv.Participants)
	}
	c := Command{Type: TypeCommandSign, RequestID: "s", AgentID: "ann", DeskArgs: &DeskArgs{}}
	if rej := c.Validate(); rej == nil || rej.Fields[0].Field != "sign" {
		t.Fatalf("sign without the flag: %v", rej)
	}
}

func TestR17_AgentQueue(t *testing.T) {
	t.Parallel()
	dir := deskEnv(t).Directory
	for _, tc := range []struct {
		dep, agent string
		want       bool
	}{
		{"support", "ann", true},
		{"support", "cid", false},
		{"sales", "cid", true},
		{"", "cid", true},        // unrouted: everyone's
		{"deleted", "cid", true}, // a department that no longer exists: everyone's
	} {
		t.Run(tc.dep+"/"+tc.agent, func(t *testing.T) {
			if got := dir.InQueueOf(tc.dep, tc.agent); got != tc.want {
				t.Errorf("InQueueOf(%q, %q) = %v, want %v", tc.dep, tc.agent, got, tc.want)
			}
		})
	}
	var none *Directory
	if !none.InQueueOf("support", "cid") {
		t.Error("without departments every agent sees every unassigned conversation")
	}
	sc := ScopeOf(ActorAgent, "cid", dir)
	if sc.All || !slices.Equal(sc.Mine, []string{"sales"}) || !slices.Equal(sc.Known, []string{"sales", "support"}) {
		t.Errorf("scope %+v", sc)
	}
}

func TestMentions(t *testing.T) {
	t.Parallel()
	for text, want := range map[string][]string{
		"@ann":                   {"ann"},
		"hi @ann and @bob, @ann": {"ann", "bob"},
		"(@bob.)":                {"bob"},
		"ann@example.com":        {},
		"@":                      {},
	} {
		if got := Mentions(text); !slices.Equal(got, want) {
			t.Errorf("Mentions(%q) = %v, want %v", text, got, want)
		}
	}
}

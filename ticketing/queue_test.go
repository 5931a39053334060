package ticketing

import (
	"testing"
	"time"
)

// R35: a conversation whose contact has not answered the leave-a-message
// prompt is in no agent queue and cannot be accepted or transferred; it
// enters the queue when the contact says YES, queued at that moment. An
// open ticket prompted again (R13) stays in the queue.
func TestR35_PromptPendingIsInNoQueue(t *testing.T) {
	t.Parallel()
	st := prompted(t)
	conv := st.Open
	conv.ID = 7
	if !conv.AwaitingConsent() {
		t.Fatalf("a new conversation with a pending prompt must await consent: %+v", conv)
	}
	env := unstaffed.env(t, closedAt)
	agent := ScopeOf(ActorAgent, "ann", env.Directory)
	if agent.Sees(conv) || Permitted(ActorAgent, "ann", conv, env.Directory) {
		t.Fatal("an agent sees or may act on a conversation awaiting consent")
	}
	if !ScopeOf(ActorSupervisor, "sue", env.Directory).Sees(conv) {
		t.Fatal("a supervisor must still find it")
	}
	for _, c := range []Command{
		{Type: TypeCommandAccept, Role: ActorAgent, AgentID: "ann"},
		{Type: TypeCommandAccept, Role: ActorSupervisor, AgentID: "sue"},
		{Type: TypeCommandAccept, AgentID: "ann"}, // a desk
		{Type: TypeCommandTransfer, Role: ActorSupervisor, AgentID: "sue", DeskArgs: &DeskArgs{ToAgent: "ann"}},
	} {
		t.Run(string(c.Type)+" as "+string(c.Role), func(t *testing.T) {
			c.RequestID, c.ConversationID = "r", conv.ID
			dec := DecideDesk(DeskInput{Command: c, Conversation: conv, State: st}, world{online: []string{"ann"}}.env(t, closedAt))
			if dec.Rejection == nil || dec.Rejection.Code != CodeAwaitingContactConsent {
				t.Fatalf("%s as %s: %+v, want %s", c.Type, c.Role, dec.Rejection, CodeAwaitingContactConsent)
			}
		})
	}
	if _, taken := DecideQuickAccept(Command{Type: TypeCommandQuickAccept, RequestID: "q", AgentID: "ann", DeskArgs: &DeskArgs{Count: 1}},
		[]*ContactState{st}, env); len(taken) != 0 {
		t.Fatal("quick accept took a conversation awaiting consent")
	}

	yes := closedAt.Add(3 * time.Minute)
	DecideInbound(st, msg("m2", "YES", yes), unstaffed.env(t, yes))
	if conv.AwaitingConsent() || !conv.QueuedAt.Equal(yes) || !ScopeOf(ActorAgent, "ann", env.Directory).Sees(conv) {
		t.Fatalf("after YES: awaiting %v, queued at %v", conv.AwaitingConsent(), conv.QueuedAt)
	}
	dec := DecideDesk(DeskInput{Command: Command{Type: TypeCommandAccept, RequestID: "a", ConversationID: 7, AgentID: "ann", Role: ActorAgent},
		Conversation: conv, State: st}, unstaffed.env(t, yes))
	if dec.Rejection != nil {
		t.Fatalf("accept after YES: %v", dec.Rejection)
	}

	// An open ticket the contact writes to again out of hours is prompted
	// again but stays in the queue, where it was.
	ticket := openTicket(StateUnassigned)
	ticket.Open.QueuedAt = t0
	DecideInbound(ticket, msg("m9", "any news?", closedAt), unstaffed.env(t, closedAt))
	if ticket.Open.Intake != IntakePrompted || ticket.Open.AwaitingConsent() || !ticket.Open.QueuedAt.Equal(t0) {
		t.Fatalf("re-prompted ticket %+v", ticket.Open)
	}
}

package ticketing

import (
	"slices"
	"strings"
	"testing"

	"github.com/chatgate/chatgate/gateway"
)

// R36: the desk policies of a department, with the seeds' defaults:
// agents transfer live chats but not tickets (supervisors assign both);
// supervisors comment but do not write to the contact; any agent of the
// department may join a conversation of its department and write on it
// with its own token. Each refusal has its code; a desk service is trusted.
func TestR36_DeskPolicies(t *testing.T) {
	t.Parallel()
	as := func(role ActorRole, agent string, c Command) Command { c.Role, c.AgentID = role, agent; return c }
	reply := Command{Type: TypeCommandReply, RequestID: "r", ConversationID: 7, Reply: &Reply{Text: "On it."}}
	comment := Command{Type: TypeCommandComment, RequestID: "c", ConversationID: 7, Reply: &Reply{Text: "@ann see this"}}
	transfer := Command{Type: TypeCommandTransfer, RequestID: "t", ConversationID: 7, DeskArgs: &DeskArgs{ToAgent: "bob"}}
	cases := []struct {
		name   string
		policy DeskPolicy
		kind   Kind
		cmd    Command
		code   string   // "" when carried out
		events []string // when carried out
	}{
		{"agent transfers its live chat", DeskPolicy{}, KindLiveChat, as(ActorAgent, "ann", transfer), "", []string{gateway.TypeTicketTransferred}},
		{"agent transfers its ticket", DeskPolicy{}, KindTicket, as(ActorAgent, "ann", transfer), CodePolicyForbidsTransfer, nil},
		{"supervisor assigns a ticket", DeskPolicy{}, KindTicket, as(ActorSupervisor, "sue", transfer), "", []string{gateway.TypeTicketTransferred}},
		{"desk service transfers a ticket", DeskPolicy{}, KindTicket, as(ActorDesk, "ann", transfer), "", []string{gateway.TypeTicketTransferred}},
		{"agents transfer all", DeskPolicy{AgentTransfers: TransferAll}, KindTicket, as(ActorAgent, "ann", transfer), "", []string{gateway.TypeTicketTransferred}},
		{"agents transfer none", DeskPolicy{AgentTransfers: TransferNone}, KindLiveChat, as(ActorAgent, "ann", transfer), CodePolicyForbidsTransfer, nil},
		{"supervisor writes to the contact", DeskPolicy{}, KindLiveChat, as(ActorSupervisor, "sue", reply), CodePolicyForbidsSupervisorReply, nil},
		{"supervisor comments", DeskPolicy{}, KindLiveChat, as(ActorSupervisor, "sue", comment), "", []string{gateway.TypeTicketCommentAdded}},
		{"supervisors may write", DeskPolicy{SupervisorsReply: ptr(true)}, KindLiveChat, as(ActorSupervisor, "sue", reply), "",
			[]string{gateway.TypeTicketAgentJoined, gateway.TypeTicketMessageAdded}},
		{"a colleague of the department joins and writes", DeskPolicy{}, KindTicket, as(ActorAgent, "bob", reply), "",
			[]string{gateway.TypeTicketAgentJoined, gateway.TypeTicketMessageAdded}},
		{"a colleague comments", DeskPolicy{}, KindTicket, as(ActorAgent, "bob", comment), "", []string{gateway.TypeTicketCommentAdded}},
		{"agents may not join", DeskPolicy{AgentsJoin: ptr(false)}, KindLiveChat, as(ActorAgent, "bob", reply), CodePolicyForbidsJoin, nil},
		{"nor comment then", DeskPolicy{AgentsJoin: ptr(false)}, KindLiveChat, as(ActorAgent, "bob", comment), CodePolicyForbidsJoin, nil},
		{"another department's agent", DeskPolicy{}, KindLiveChat, as(ActorAgent, "cid", reply), CodeNotPermitted, nil},
		{"a colleague still cannot transfer it", DeskPolicy{}, KindLiveChat, as(ActorAgent, "bob", Command{Type: TypeCommandTransfer, RequestID: "t", ConversationID: 7, DeskArgs: &DeskArgs{ToAgent: "ann"}}), CodeNotPermitted, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dep := support()
			dep.DeskPolicy = tc.policy
			env := world{deps: []Department{dep, sales()}, online: []string{"ann", "bob"}}.env(t, deskNow)
			st, conv := deskConv(StateAssigned, "ann")
			conv.Kind = tc.kind
			if rej := tc.cmd.Validate(); rej != nil {
				t.Fatal(rej)
			}
			var code string
			var effects []Effect
			if tc.cmd.Type == TypeCommandReply {
				d := DecideReply(ReplyInput{Command: tc.cmd, Conversation: conv, State: st}, env)
				if d.Rejection != nil {
					code = d.Rejection.Code
				}
				effects = d.Effects
			} else {
				d := DecideDesk(DeskInput{Command: tc.cmd, Conversation: conv, State: st}, env)
				if d.Rejection != nil {
					code = d.Rejection.Code
				}
				effects = d.Effects
			}
			if code != tc.code {
				t.Fatalf("code %q, want %q", code, tc.code)
			}
			if tc.code == "" && !slices.Equal(eventTypes(effects), tc.events) {
				t.Fatalf("events %v, want %v", eventTypes(effects), tc.events)
			}
		})
	}
}

// R36: an agent sees (reads, finds) the open conversations it may join,
// not the closed ones of colleagues, and none where the policy forbids it.
func TestR36_AgentsSeeWhatTheyMayJoin(t *testing.T) {
	t.Parallel()
	closedPolicy := support()
	closedPolicy.DeskPolicy.AgentsJoin = ptr(false)
	for _, tc := range []struct {
		name  string
		deps  []Department
		state State
		agent string
		want  bool
	}{
		{"a colleague's open conversation", nil, StateAssigned, "bob", true},
		{"a colleague's closed conversation", nil, StateClosed, "bob", false},
		{"another department's", nil, StateAssigned, "cid", false},
		{"joining forbidden", []Department{closedPolicy, sales()}, StateAssigned, "bob", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			deps := tc.deps
			if deps == nil {
				deps = []Department{support(), sales()}
			}
			dir := world{deps: deps}.env(t, deskNow).Directory
			_, conv := deskConv(tc.state, "ann")
			if got := ScopeOf(ActorAgent, tc.agent, dir).Sees(conv); got != tc.want {
				t.Errorf("%s: sees %v, want %v", tc.name, got, tc.want)
			}
			if got := MayJoin(tc.agent, conv, dir); got != tc.want {
				t.Errorf("%s: MayJoin %v, want %v", tc.name, got, tc.want)
			}
		})
	}
	d := support()
	d.DeskPolicy.AgentTransfers = "tickets"
	if err := d.Validate(); err == nil || !strings.Contains(err.Error(), "desk_policy.agent_transfers") {
		t.Fatalf("an unknown transfer policy: %v", err)
	}
	if p := (*Department)(nil).Policy(); p != DefaultDeskPolicy || p.AgentTransfers != TransferLiveChats || p.SupervisorsReply || !p.AgentsJoin {
		t.Fatalf("default policy %+v", p)
	}
}

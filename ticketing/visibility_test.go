package ticketing

import (
	"slices"
	"testing"

	"github.com/chatgate/chatgate/gateway"
)

// visibilityDirectory has support (ann, bob) with the default desk policy,
// so its agents join its conversations (R36), and sales (cid) whose agents
// do not; dan works in none.
func visibilityDirectory(t *testing.T) *Directory {
	t.Helper()
	noJoin := false
	s := sales()
	s.DeskPolicy.AgentsJoin = &noJoin
	dir, err := NewDirectory([]Department{support(), s}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

type reader struct {
	role  ActorRole
	agent string
	dir   *Directory
}

// readers are the role matrix's principals by name; annAll is ann where
// no department is configured.
func readers(t *testing.T) map[string]reader {
	t.Helper()
	dir := visibilityDirectory(t)
	empty, err := NewDirectory(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]reader{
		"sue": {ActorSupervisor, "sue", dir}, "desk": {ActorDesk, "", dir},
		"ann": {ActorAgent, "ann", dir}, "bob": {ActorAgent, "bob", dir}, "cid": {ActorAgent, "cid", dir},
		"dan": {ActorAgent, "dan", dir}, "annAll": {ActorAgent, "ann", empty},
	}
}

// R17, R19, R25, R35, R36, R41: who sees which conversation, by role, over
// the record contract's view. The desk store agrees with every kind of row
// (pgstore's TestR41_VisibleAgreesWithTheDeskAPI).
func TestR41_VisibleRoleMatrix(t *testing.T) {
	t.Parallel()
	by := readers(t)
	view := func(kind Kind, state State, dep, assignee, closedBy string, participants ...string) gateway.ConversationView {
		return gateway.ConversationView{ID: 7, Kind: string(kind), State: string(state), Department: dep, Assignee: assignee, ClosedBy: closedBy, Participants: participants}
	}
	chat, ticket := KindLiveChat, KindTicket
	prompted := func(v gateway.ConversationView) gateway.ConversationView { v.Intake = string(IntakePrompted); return v }
	for _, tc := range []struct {
		name string
		v    gateway.ConversationView
		sees []string // everyone else must not
	}{
		{"unassigned support: its queue", view(chat, StateUnassigned, "support", "", ""), []string{"sue", "desk", "ann", "bob", "annAll"}},
		{"unassigned sales: its queue", view(chat, StateUnassigned, "sales", "", ""), []string{"sue", "desk", "cid", "annAll"}},
		{"unassigned of no department: everyone's queue", view(chat, StateUnassigned, "", "", ""), []string{"sue", "desk", "ann", "bob", "cid", "dan", "annAll"}},
		{"unassigned of a deleted department: everyone's queue", view(chat, StateUnassigned, "gone", "", ""), []string{"sue", "desk", "ann", "bob", "cid", "dan", "annAll"}},
		{"snoozed unassigned support: still its queue", view(chat, StateSnoozed, "support", "", ""), []string{"sue", "desk", "ann", "bob", "annAll"}},
		{"assigned to ann in support: bob joins (R36)", view(chat, StateAssigned, "support", "ann", "", "ann"), []string{"sue", "desk", "ann", "bob", "annAll"}},
		{"assigned to ann in sales: cid may not join", view(chat, StateAssigned, "sales", "ann", "", "ann"), []string{"sue", "desk", "ann", "annAll"}},
		{"assigned to cid in support: support's agents join", view(chat, StateAssigned, "support", "cid", "", "cid"), []string{"sue", "desk", "ann", "bob", "cid"}},
		{"snoozed, bob's, in sales: bob only", view(chat, StateSnoozed, "sales", "bob", "", "bob"), []string{"sue", "desk", "bob"}},
		{"assigned to cid, bob took part (R25)", view(chat, StateAssigned, "sales", "cid", "", "bob", "cid"), []string{"sue", "desk", "bob", "cid"}},
		{"returned to support's queue by bob", view(chat, StateUnassigned, "support", "", "", "bob"), []string{"sue", "desk", "ann", "bob", "annAll"}},
		{"transferred to sales by bob", view(chat, StateUnassigned, "sales", "", "", "bob"), []string{"sue", "desk", "bob", "cid", "annAll"}},
		{"closed by ann: no joining a closed one", view(chat, StateClosed, "support", "ann", "ann", "ann"), []string{"sue", "desk", "ann", "annAll"}},
		{"closed by a rule, unassigned: nobody's queue", view(chat, StateClosed, "support", "", ""), []string{"sue", "desk"}},
		{"deleted from the queue", view(chat, StateDeleted, "support", "", ""), []string{"sue", "desk"}},
		{"deleted, had been bob's", view(chat, StateDeleted, "sales", "bob", "", "bob"), []string{"sue", "desk", "bob"}},
		{"a chat awaiting the prompt's answer: in no queue (R35)", prompted(view(chat, StateUnassigned, "support", "", "")), []string{"sue", "desk"}},
		{"an open ticket prompted again: still its queue (R13)", prompted(view(ticket, StateUnassigned, "support", "", "")), []string{"sue", "desk", "ann", "bob", "annAll"}},
		{"a view without state: only those who see all", gateway.ConversationView{}, []string{"sue", "desk"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for name, w := range by {
				want := slices.Contains(tc.sees, name)
				if got := ScopeOf(w.role, w.agent, w.dir).Visible(tc.v); got != want {
					t.Errorf("%s sees it: %v, want %v", name, got, want)
				}
			}
		})
	}
}

// R17, R19, R22, R41: which desk list a group of conversations is on, the
// rule the stream's queue counts follow: an agent's unassigned queue (its
// departments', whatever joining allows), its own assigned and snoozed
// ones and its queue's snoozed ones; everything for supervisors and desks.
func TestR41_ListedFollowsTheLists(t *testing.T) {
	t.Parallel()
	by := readers(t)
	for _, tc := range []struct {
		state, dep, assignee string
		listed               []string
	}{
		{"unassigned", "support", "", []string{"sue", "desk", "ann", "bob", "annAll"}},
		{"unassigned", "sales", "", []string{"sue", "desk", "cid", "annAll"}},
		{"unassigned", "", "", []string{"sue", "desk", "ann", "bob", "cid", "dan", "annAll"}},
		{"assigned", "", "ann", []string{"sue", "desk", "ann", "annAll"}},
		{"assigned", "", "cid", []string{"sue", "desk", "cid"}},
		{"snoozed", "support", "", []string{"sue", "desk", "ann", "bob", "annAll"}},
		{"snoozed", "support", "bob", []string{"sue", "desk", "bob"}}, // ann may join it, but it is not on her list
		{"closed", "support", "ann", []string{"sue", "desk"}},
	} {
		t.Run(tc.state+" "+tc.dep+" "+tc.assignee, func(t *testing.T) {
			for name, w := range by {
				want := slices.Contains(tc.listed, name)
				if got := ScopeOf(w.role, w.agent, w.dir).Listed(tc.state, tc.dep, tc.assignee); got != want {
					t.Errorf("%s: listed %v, want %v", name, got, want)
				}
			}
		})
	}
}

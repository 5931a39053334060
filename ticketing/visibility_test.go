package ticketing

import (
	"testing"

	"github.com/chatgate/chatgate/gateway"
)

// R17, R19, R25, R41: who sees which conversation, by role, over the
// record contract's view. Departments support (ann, bob) and sales (cid);
// dan works in none. The desk store agrees with every row
// (pgstore's TestR41_VisibleAgreesWithTheDeskAPI).
func TestR41_VisibleRoleMatrix(t *testing.T) {
	t.Parallel()
	dir, err := NewDirectory([]Department{support(), sales()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	empty, err := NewDirectory(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	view := func(state State, dep, assignee, closedBy string, participants ...string) gateway.ConversationView {
		return gateway.ConversationView{ID: 7, State: string(state), Department: dep, Assignee: assignee, ClosedBy: closedBy, Participants: participants}
	}
	type who struct {
		role  ActorRole
		agent string
		dir   *Directory
	}
	var (
		sue     = who{ActorSupervisor, "sue", dir}
		desk    = who{ActorDesk, "", dir}
		ann     = who{ActorAgent, "ann", dir}
		bob     = who{ActorAgent, "bob", dir}
		cid     = who{ActorAgent, "cid", dir}
		dan     = who{ActorAgent, "dan", dir}
		annAll  = who{ActorAgent, "ann", empty} // no department configured
		everyAg = []who{sue, desk, ann, bob, cid, dan, annAll}
	)
	for _, tc := range []struct {
		name string
		v    gateway.ConversationView
		sees []who // everyone else must not
	}{
		{"unassigned support: its queue", view(StateUnassigned, "support", "", ""), []who{sue, desk, ann, bob, annAll}},
		{"unassigned sales: its queue", view(StateUnassigned, "sales", "", ""), []who{sue, desk, cid, annAll}},
		{"unassigned of no department: everyone's queue", view(StateUnassigned, "", "", ""), everyAg},
		{"unassigned of a deleted department: everyone's queue", view(StateUnassigned, "gone", "", ""), everyAg},
		{"snoozed unassigned support: still its queue", view(StateSnoozed, "support", "", ""), []who{sue, desk, ann, bob, annAll}},
		{"assigned to ann: hers only", view(StateAssigned, "support", "ann", "", "ann"), []who{sue, desk, ann, annAll}},
		{"assigned to cid in support's department: not ann's queue", view(StateAssigned, "support", "cid", "", "cid"), []who{sue, desk, cid}},
		{"snoozed assigned to bob", view(StateSnoozed, "support", "bob", "", "bob"), []who{sue, desk, bob}},
		{"assigned to cid, bob took part (R25)", view(StateAssigned, "sales", "cid", "", "bob", "cid"), []who{sue, desk, bob, cid}},
		{"returned to support's queue by bob", view(StateUnassigned, "support", "", "", "bob"), []who{sue, desk, ann, bob, annAll}},
		{"transferred to sales by bob", view(StateUnassigned, "sales", "", "", "bob"), []who{sue, desk, bob, cid, annAll}},
		{"closed by ann", view(StateClosed, "support", "ann", "ann", "ann"), []who{sue, desk, ann, annAll}},
		{"closed by a rule, unassigned: nobody's queue", view(StateClosed, "support", "", ""), []who{sue, desk}},
		{"deleted from the queue", view(StateDeleted, "support", "", ""), []who{sue, desk}},
		{"deleted, had been bob's", view(StateDeleted, "support", "bob", "", "bob"), []who{sue, desk, bob}},
		{"a view without state: only those who see all", gateway.ConversationView{}, []who{sue, desk}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, w := range everyAg {
				want := false
				for _, s := range tc.sees {
					if s == w {
						want = true
					}
				}
				if got := ScopeOf(w.role, w.agent, w.dir).Visible(tc.v); got != want {
					t.Errorf("%s %q (departments configured: %v) sees it: %v, want %v", w.role, w.agent, w.dir == dir, got, want)
				}
			}
		})
	}
}

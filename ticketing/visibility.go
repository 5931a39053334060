package ticketing

import "github.com/chatgate/chatgate/gateway"

// Visible reports whether a reader with scope sc may see the conversation
// whose state v is: a ticket event's snapshot, or a conversation as the desk
// API lists it. It is the one visibility rule of the desk (R17, R19, R25,
// R41): Sees, which GET /v1/tickets/{id} and the search apply and whose
// SQL the lists mirror, taken over the record contract's view, so the live
// stream (gateway/stream) and the desk API can never disagree on who sees a
// conversation.
//
// Supervisors and desk services see everything. An agent sees a
// conversation assigned to it, closed by it or that it took part in, and an
// open unassigned one of its queue: of one of its departments, of no
// department or of one that no longer exists, or any one when no department
// is configured (Directory.InQueueOf).
//
// A Scope is the principal's role, agent id and departments (ScopeOf,
// Service.ScopeFor); Visible reads nothing else, no store and no clock.
func (sc Scope) Visible(v gateway.ConversationView) bool {
	return sc.Sees(&Conversation{
		State:        State(v.State),
		DepartmentID: v.Department,
		Assignee:     v.Assignee,
		ClosedBy:     v.ClosedBy,
		Participants: v.Participants,
	})
}

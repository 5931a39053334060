package ticketing

import "github.com/chatgate/chatgate/gateway"

// Visible reports whether a reader with scope sc may see the conversation
// whose state v is: a ticket event's snapshot, or a conversation as the desk
// API lists it. It is the one visibility rule of the desk (R17, R19, R25,
// R35, R36, R41): Sees, which GET /v1/tickets/{id} and the search apply and
// whose SQL the lists mirror, taken over the record contract's view, so the
// live stream (gateway/stream) and the desk API do not drift apart.
//
// Supervisors and desk services see everything. An agent sees a
// conversation assigned to it, closed by it or that it took part in; an
// open unassigned one of its queue (its departments', one of no department
// or of a department that no longer exists, any when no department is
// configured); and, where its department's policy lets agents join, any
// open conversation of that department. A conversation awaiting the
// contact's answer to the leave-a-message prompt is in nobody's queue.
//
// The view does not say whether a prompted conversation awaits consent
// (Conversation.IntakeCloseOnDecline); Visible takes a prompted live chat
// as awaiting it and a prompted ticket as an open ticket the contact wrote
// to again (R13), which is exact but for a closed ticket reopened by an
// out-of-hours message (R15), which it shows before the contact's YES.
//
// A Scope is the principal's role, agent id and departments (ScopeOf,
// Service.ScopeFor); Visible reads nothing else, no store and no clock.
func (sc Scope) Visible(v gateway.ConversationView) bool {
	intake := Intake(v.Intake)
	return sc.Sees(&Conversation{
		Kind:                 Kind(v.Kind),
		State:                State(v.State),
		DepartmentID:         v.Department,
		Assignee:             v.Assignee,
		ClosedBy:             v.ClosedBy,
		Participants:         v.Participants,
		Intake:               intake,
		IntakeCloseOnDecline: intake == IntakePrompted && Kind(v.Kind) != KindTicket,
	})
}

// Listed reports whether a conversation in state, of department, assigned
// to assignee ("" for none) is on the reader's desk list of that state:
// the unassigned queue (R17), the assigned list (an agent's own; every
// agent's for supervisors and desks, R19) or the snoozed list (R22). It is
// the lists' rule (their SQL in ticketing/pgstore) for conversations that
// do not await the contact's consent, which the lists' counts leave out
// (pgstore.Store.QueueTotals): the live stream's queue counts are these
// lists' lengths.
func (sc Scope) Listed(state, department, assignee string) bool {
	if sc.All {
		return true
	}
	switch State(state) {
	case StateUnassigned:
		return sc.inQueue(department)
	case StateAssigned:
		return assignee == sc.Agent
	case StateSnoozed:
		return assignee == sc.Agent || (assignee == "" && sc.inQueue(department))
	}
	return false
}

package ticketing

import (
	"fmt"
	"slices"
)

// TransferPolicy says which conversations an agent may transfer (R36).
type TransferPolicy string

// Transfer policies. Supervisors and desk services transfer (assign) any
// conversation whatever the policy.
const (
	// TransferLiveChats: agents transfer live chats, not tickets (the
	// default).
	TransferLiveChats TransferPolicy = "live_chats"
	// TransferAll: agents transfer live chats and tickets.
	TransferAll TransferPolicy = "all"
	// TransferNone: agents transfer nothing; supervisors assign.
	TransferNone TransferPolicy = "none"
)

// DeskPolicy is a department's desk policy (R36), explicit in its
// document; an unset field takes the default of DefaultDeskPolicy. It
// binds agents and supervisors; a desk service (the desk role) is trusted
// to enforce its own users' roles.
type DeskPolicy struct {
	// AgentTransfers is what an agent may transfer: live_chats (default),
	// all, or none.
	AgentTransfers TransferPolicy `json:"agent_transfers,omitempty"`
	// SupervisorsReply lets supervisors write to the contact. Default
	// false: supervisors comment (and assign), agents write.
	SupervisorsReply *bool `json:"supervisors_reply,omitempty"`
	// AgentsJoin lets any agent of the department join a conversation of
	// the department and write on it with its own token (R25). Default
	// true.
	AgentsJoin *bool `json:"agents_join,omitempty"`
}

// Policy is a department's desk policy with its defaults applied.
type Policy struct {
	AgentTransfers   TransferPolicy
	SupervisorsReply bool
	AgentsJoin       bool
}

// DefaultDeskPolicy is the policy of a department that sets none, and of
// conversations of no department: agents transfer live chats but not
// tickets (supervisors assign both), supervisors comment but do not write
// to the contact, any agent of the department may join and write.
var DefaultDeskPolicy = Policy{AgentTransfers: TransferLiveChats, SupervisorsReply: false, AgentsJoin: true}

// Policy returns d's desk policy with the defaults applied; a nil d has
// the default policy.
func (d *Department) Policy() Policy {
	p := DefaultDeskPolicy
	if d == nil {
		return p
	}
	if d.DeskPolicy.AgentTransfers != "" {
		p.AgentTransfers = d.DeskPolicy.AgentTransfers
	}
	if v := d.DeskPolicy.SupervisorsReply; v != nil {
		p.SupervisorsReply = *v
	}
	if v := d.DeskPolicy.AgentsJoin; v != nil {
		p.AgentsJoin = *v
	}
	return p
}

// MayTransfer reports whether the policy lets an agent transfer conv.
func (p Policy) MayTransfer(conv *Conversation) bool {
	switch p.AgentTransfers {
	case TransferAll:
		return true
	case TransferLiveChats:
		return conv.Kind == KindLiveChat
	}
	return false
}

// Refusal codes of the desk policies (R36).
const (
	// CodePolicyForbidsTransfer: the department's policy does not let
	// agents transfer this conversation (by default: a ticket).
	CodePolicyForbidsTransfer = "policy_forbids_transfer"
	// CodePolicyForbidsSupervisorReply: the department's policy does not
	// let supervisors write to the contact (the default); they comment.
	CodePolicyForbidsSupervisorReply = "policy_forbids_supervisor_reply"
	// CodePolicyForbidsJoin: an agent of the department wrote on another
	// agent's conversation, and the policy does not let agents join.
	CodePolicyForbidsJoin = "policy_forbids_join"
)

// MayJoin reports whether agent may join conv and write on it though it is
// not its own (R25, R36): an open conversation (not one awaiting the
// contact's consent, R35) of a department that lists the agent and whose
// policy lets agents join. A conversation of no department (none
// configured, or none routed) is no agent's department's: only its
// assignee, its participants and the queue act on it, as before.
func MayJoin(agent string, conv *Conversation, dir *Directory) bool {
	d := dir.Get(conv.DepartmentID)
	return inDepartment(agent, conv, d) && d.Policy().AgentsJoin
}

func inDepartment(agent string, conv *Conversation, d *Department) bool {
	return conv.State.Open() && !conv.AwaitingConsent() && d != nil && slices.Contains(d.Agents, agent)
}

// refuseJoin returns why agent may not write on (or comment) conv, which
// is not its own: the policy's refusal when the conversation is of its
// department, else not_permitted.
func refuseJoin(agent string, conv *Conversation, dir *Directory) (code, message string) {
	if inDepartment(agent, conv, dir.Get(conv.DepartmentID)) {
		return CodePolicyForbidsJoin, fmt.Sprintf("department %s does not let agents join a colleague's conversation: agent %s may not write on conversation %d", deptName(conv.DepartmentID), agent, conv.ID)
	}
	return CodeNotPermitted, fmt.Sprintf("agent %s may not write on conversation %d: it is neither assigned to it nor in its queue", agent, conv.ID)
}

// joinable returns the departments of agent whose policy lets agents join.
func joinable(agent string, dir *Directory) []string {
	out := []string{}
	for _, d := range dir.Departments() {
		if slices.Contains(d.Agents, agent) && d.Policy().AgentsJoin {
			out = append(out, d.ID)
		}
	}
	return out
}

package ticketing

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/chatgate/chatgate/gateway"
)

// Desk command types (docs/rules.md R17–R26), beside TypeCommandReply: the
// CloudEvents type of a record on the commands topic, and the command an
// HTTP route of ticketing/deskapi builds. (They belong beside the other
// record types in gateway; they live here until the record contract takes
// them.)
const (
	// TypeCommandAccept assigns the conversation to the acting agent (R18).
	TypeCommandAccept = "chatgate.command.accept"
	// TypeCommandQuickAccept assigns the Count oldest unassigned
	// conversations the agent may see to it (R18). Agent-scoped: no
	// conversation_id; keyed by the agent.
	TypeCommandQuickAccept = "chatgate.command.quick_accept"
	// TypeCommandTransfer hands the conversation to an online, available
	// agent (ToAgent) or to a department with one (ToDepartment) (R21).
	TypeCommandTransfer = "chatgate.command.transfer"
	// TypeCommandReturn puts an assigned conversation back in the
	// unassigned queue and tells the contact another agent is on the way (R21).
	TypeCommandReturn = "chatgate.command.return"
	// TypeCommandClose resolves the conversation and tells the contact the
	// chat has ended (R21); closed_by records the agent (R20).
	TypeCommandClose = "chatgate.command.close"
	// TypeCommandReopen reopens a closed conversation, assigned to the
	// acting agent.
	TypeCommandReopen = "chatgate.command.reopen"
	// TypeCommandSnooze hides the conversation for 5 minutes to 24 hours (R22).
	TypeCommandSnooze = "chatgate.command.snooze"
	// TypeCommandDelete deletes the conversation (R23).
	TypeCommandDelete = "chatgate.command.delete"
	// TypeCommandSpam marks the contact as spam, or not (Spam false) (R16, R23).
	TypeCommandSpam = "chatgate.command.spam"
	// TypeCommandRead marks the conversation read or unread (R23).
	TypeCommandRead = "chatgate.command.read"
	// TypeCommandComment adds an internal comment; @agent mentions are
	// named in the comment_added event (R23).
	TypeCommandComment = "chatgate.command.comment"
	// TypeCommandSign turns the agent's signature on or off (R25).
	// Agent-scoped: no conversation_id; keyed by the agent.
	TypeCommandSign = "chatgate.command.sign"
)

// Rejection codes of desk operations, beside those of command.go.
const (
	// CodeAlreadyAssigned: another agent has the conversation (R18);
	// Assignee names it. Never silently overwritten.
	CodeAlreadyAssigned = "already_assigned"
	// CodeNotAssigned: return of a conversation nobody is assigned.
	CodeNotAssigned = "not_assigned"
	// CodeNotPermitted: an agent acting on a conversation that is neither
	// its own nor in its queue (R17, R19).
	CodeNotPermitted = "not_permitted"
	// CodeAgentUnavailable: the transfer's agent is not online and
	// available (R21).
	CodeAgentUnavailable = "agent_unavailable"
	// CodeDepartmentUnavailable: none of the department's agents is online
	// and available (R21).
	CodeDepartmentUnavailable = "department_unavailable"
	// CodeDepartmentNotFound: no department has the id.
	CodeDepartmentNotFound = "department_not_found"
	// CodeSnoozeOutOfRange: a snooze shorter than 5 minutes or longer than
	// 24 hours (R22).
	CodeSnoozeOutOfRange = "snooze_out_of_range"
	// CodeConversationOpen: reopen of a conversation that is open.
	CodeConversationOpen = "conversation_open"
	// CodeConversationArchived: reopen of an archived ticket (R27: it
	// stays readable, it is not worked on again).
	CodeConversationArchived = "conversation_archived"
	// CodeOpenConversationExists: reopen while the contact has another open
	// conversation (one per contact, R13); OpenConversationID names it.
	CodeOpenConversationExists = "open_conversation_exists"
	// CodeAwaitingContactConsent: accept or transfer of a conversation
	// whose contact has not answered the leave-a-message prompt yet (R35):
	// it enters the queue when the contact says YES.
	CodeAwaitingContactConsent = "awaiting_contact_consent"
)

// Reasons carried by desk events.
const (
	ReasonResolved = "resolved" // closed by an agent (R21)
	ReasonSpam     = "spam"     // closed because the contact was marked spam (R16)
	ReasonAccepted = "accepted" // woken because an agent accepted it
	ReasonNotSpam  = "not_spam" // spam event: the mark was removed
)

// Limits of desk commands.
const (
	// MaxQuickAccept bounds one quick accept (R18: 3, 5, 10 or any number).
	MaxQuickAccept = 100
	// MaxCommentLen bounds a comment, like a message.
	MaxCommentLen = gateway.MaxTextLen
	// MaxDisplayNameLen bounds an agent's display name.
	MaxDisplayNameLen = 64
)

// ActorRole is the role a command is carried out with. Commands on the
// commands topic come from trusted desk services (ActorDesk); over HTTP the
// token's role decides (ticketing/deskapi).
type ActorRole string

// Actor roles. An agent acts only on its own conversations and its queue
// (R17, R19); a supervisor and a desk service act on any.
const (
	ActorDesk       ActorRole = "desk"
	ActorAgent      ActorRole = "agent"
	ActorSupervisor ActorRole = "supervisor"
	// ActorOps changes contacts' profiles (R34), never conversations.
	ActorOps ActorRole = "ops"
)

// DeskArgs are the payload fields of the desk command types, side by side
// with the envelope in a command's data. A comment's text is Reply.Text
// ("text"), as for a reply.
type DeskArgs struct {
	// Count is how many conversations a quick accept takes (1–MaxQuickAccept).
	Count int `json:"count,omitempty"`
	// ToAgent or ToDepartment is a transfer's target, exactly one.
	ToAgent      string `json:"to_agent,omitempty"`
	ToDepartment string `json:"to_department,omitempty"`
	// Until or DurationSeconds is how long a snooze lasts, exactly one.
	Until           *time.Time `json:"until,omitempty"`
	DurationSeconds int64      `json:"duration_seconds,omitempty"`
	// Spam marks (true, the default) or unmarks (false) the contact.
	Spam *bool `json:"spam,omitempty"`
	// Read marks the conversation read (true) or unread (false); required.
	Read *bool `json:"read,omitempty"`
	// Sign turns the signature on or off; DisplayName is the name shown
	// (default: the agent id).
	Sign        *bool  `json:"sign,omitempty"`
	DisplayName string `json:"display_name,omitempty"`
}

// AgentScoped reports whether commands of type typ are about the agent, not
// one conversation: they carry no conversation_id and are keyed by agent.
func AgentScoped(typ string) bool {
	return typ == TypeCommandQuickAccept || typ == TypeCommandSign
}

// knownCommand reports whether typ is a command type this version carries out.
func knownCommand(typ string) bool {
	switch typ {
	case TypeCommandReply, TypeCommandAccept, TypeCommandQuickAccept, TypeCommandTransfer, TypeCommandReturn,
		TypeCommandClose, TypeCommandReopen, TypeCommandSnooze, TypeCommandDelete, TypeCommandSpam,
		TypeCommandRead, TypeCommandComment, TypeCommandSign:
		return true
	}
	return false
}

// Actor is who carried out a change, as desk events show it.
type Actor struct {
	// AgentID is empty for ops, who act for no agent.
	AgentID string    `json:"agent_id,omitempty"`
	Role    ActorRole `json:"role"`
}

// Transfer is what a transferred event says moved.
type Transfer struct {
	FromAgent      string `json:"from_agent,omitempty"`
	ToAgent        string `json:"to_agent,omitempty"`
	FromDepartment string `json:"from_department,omitempty"`
	ToDepartment   string `json:"to_department,omitempty"`
}

// Comment is an agent's internal note on a conversation (R23). It is never
// sent to the contact. Its id is the command's request id.
type Comment struct {
	ID       string    `json:"id"`
	AgentID  string    `json:"agent_id"`
	Text     string    `json:"text"`
	Mentions []string  `json:"mentions"`
	At       time.Time `json:"at"`
}

// AgentSettings are an agent's desk settings (R25).
type AgentSettings struct {
	AgentID     string `json:"agent_id"`
	Sign        bool   `json:"sign"`
	DisplayName string `json:"display_name,omitempty"`
}

// Signature returns the name shown with the agent's replies.
func (a AgentSettings) Signature() string {
	if a.DisplayName != "" {
		return a.DisplayName
	}
	return a.AgentID
}

// DeskEvent holds what a ticket event says besides the conversation, the
// message and the reason: who acted, and the details of its type.
type DeskEvent struct {
	Actor    *Actor    `json:"actor,omitempty"`
	Transfer *Transfer `json:"transfer,omitempty"`
	Comment  *Comment  `json:"comment,omitempty"`
	// AgentID is the agent who joined (agent_joined, R25).
	AgentID string `json:"agent_id,omitempty"`
	// Spam is the contact's mark after a spam event.
	Spam *bool `json:"spam,omitempty"`
}

func (e *DeskEvent) empty() bool {
	return e == nil || (e.Actor == nil && e.Transfer == nil && e.Comment == nil && e.AgentID == "" && e.Spam == nil)
}

// ConversationSnapshot is a conversation as ticket events and the desk API
// show it: the record contract's gateway.ConversationView, desk fields
// included, the same in every event.
type ConversationSnapshot = gateway.ConversationView

// TicketEventData is the data of every chatgate.ticket.* event the worker
// emits through EmitTicketEvent: gateway.TicketEvent's fields with the desk
// fields of the conversation and of the change.
type TicketEventData struct {
	Conversation ConversationSnapshot `json:"conversation"`
	Message      *gateway.MessageView `json:"message,omitempty"`
	Reason       string               `json:"reason,omitempty"`
	*DeskEvent
}

// Snapshot returns the conversation c of contact ct as events show it.
func Snapshot(c Conversation, ct Contact) ConversationSnapshot {
	return conversationSnapshot(c, ct)
}

// InQueueOf reports whether an unassigned conversation of department dep is
// in agent's queue (R17): with departments configured, those of the
// agent's departments, plus conversations of no department or of one that
// no longer exists (otherwise nobody but supervisors would see them);
// without departments, every one.
func (dir *Directory) InQueueOf(dep, agent string) bool {
	if dir == nil || len(dir.departments) == 0 || dep == "" {
		return true
	}
	d := dir.byID[dep]
	return d == nil || slices.Contains(d.Agents, agent)
}

// AgentDepartments returns the ids of the departments agent works in.
func (dir *Directory) AgentDepartments(agent string) []string {
	var out []string
	for _, d := range dir.Departments() {
		if slices.Contains(d.Agents, agent) {
			out = append(out, d.ID)
		}
	}
	return out
}

// Available reports whether agent is online and available at now (R21).
func (dir *Directory) Available(agent string, now time.Time, ttl time.Duration) bool {
	return dir != nil && dir.presence[agent].Available(now, ttl)
}

// AnyAvailable reports whether an agent of d is online and available (R21:
// business hours are not required, the agents' presence is).
func (dir *Directory) AnyAvailable(d *Department, now time.Time, ttl time.Duration) bool {
	if d == nil {
		return false
	}
	for _, a := range d.Agents {
		if dir.Available(a, now, ttl) {
			return true
		}
	}
	return false
}

// Permitted reports whether the command's actor may act on conv: a
// supervisor or desk service on any; an agent on a conversation assigned
// to it, closed by it, one it took part in (R25), or an open unassigned
// one of its queue (R17, R19) — which one awaiting the contact's consent
// is not (R35).
func Permitted(role ActorRole, agent string, conv *Conversation, dir *Directory) bool {
	if role != ActorAgent {
		return true
	}
	if conv.Assignee == agent || conv.ClosedBy == agent || slices.Contains(conv.Participants, agent) {
		return true
	}
	return conv.Assignee == "" && conv.State.Open() && !conv.AwaitingConsent() && dir.InQueueOf(conv.DepartmentID, agent)
}

// mentionPattern finds @agent mentions: an @ at the start or after a
// character that cannot be part of an e-mail address's local part.
var mentionPattern = regexp.MustCompile(`(?:^|[^\w.@])@([A-Za-z0-9][A-Za-z0-9._-]{0,127})`)

// Mentions returns the agents a comment mentions (@ann), in order, each
// once, without a trailing dot ("thanks @ann." mentions ann).
func Mentions(text string) []string {
	out := []string{}
	for _, m := range mentionPattern.FindAllStringSubmatch(text, -1) {
		name := strings.TrimRight(m[1], "._-")
		if name != "" && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// DeskInput is a desk command on one conversation with the state it is
// decided on.
type DeskInput struct {
	Command Command
	// Conversation is the named conversation; nil when none has the id.
	Conversation *Conversation
	// State is its contact with its open conversation or else its latest
	// one. Decisions advance it in place.
	State *ContactState
}

// DeskDecision is what a desk command decided: effects, or a rejection.
type DeskDecision struct {
	Effects []Effect
	// Conversation is the conversation acted on and Snapshot it right after.
	Conversation *Conversation
	Snapshot     Conversation
	// Comment is the comment added (TypeCommandComment).
	Comment   *Comment
	Rejection *Rejection
}

func deskReject(code, format string, args ...any) DeskDecision {
	return DeskDecision{Rejection: &Rejection{Code: code, Message: fmt.Sprintf(format, args...)}}
}

func closedRejection(conv *Conversation) DeskDecision {
	d := deskReject(CodeConversationClosed, "conversation %d is %s", conv.ID, conv.State)
	d.Rejection.State = conv.State
	return d
}

// DecideDesk decides a valid desk command on one conversation (every desk
// type but TypeCommandQuickAccept and TypeCommandSign, which are
// agent-scoped). It does no I/O and reads no clock; env.Directory holds the
// departments and presence. The checks, in order: the conversation exists
// and is not deleted; accept, transfer, return, close and snooze need it
// open; R24's ended chat allows only close, delete, comment and read; an
// accept of another agent's conversation is already_assigned (R18); the
// actor may act on it (R17, R19); then the command's own checks.
func DecideDesk(in DeskInput, env Env) DeskDecision {
	c, conv, st := in.Command, in.Conversation, in.State
	if conv == nil || st == nil || st.Contact == nil {
		return deskReject(CodeConversationNotFound, "conversation %d does not exist", c.ConversationID)
	}
	if conv.State == StateDeleted {
		return closedRejection(conv)
	}
	switch c.Type {
	case TypeCommandAccept, TypeCommandTransfer, TypeCommandReturn, TypeCommandClose, TypeCommandSnooze:
		if !conv.State.Open() {
			return closedRejection(conv)
		}
	}
	switch c.Type {
	case TypeCommandClose, TypeCommandDelete, TypeCommandComment, TypeCommandRead:
	default:
		if contactEndedChat(conv) {
			return deskReject(CodeContactEndedChat, "the contact ended the chat of conversation %d: it can only be resolved or deleted", conv.ID)
		}
	}
	if (c.Type == TypeCommandAccept || c.Type == TypeCommandTransfer) && conv.AwaitingConsent() {
		return deskReject(CodeAwaitingContactConsent, "the contact of conversation %d has not answered the leave-a-message prompt: it enters the queue when it says YES", conv.ID)
	}
	role := c.Role
	if role == "" {
		role = ActorDesk
	}
	actor := c.AgentID
	if c.Type == TypeCommandAccept && conv.Assignee != "" && conv.Assignee != actor && (conv.State == StateAssigned || conv.State == StateSnoozed) {
		d := deskReject(CodeAlreadyAssigned, "conversation %d is assigned to %s", conv.ID, conv.Assignee)
		d.Rejection.Assignee = conv.Assignee
		return d
	}
	if !Permitted(role, actor, conv, env.Directory) {
		if c.Type != TypeCommandComment {
			return deskReject(CodeNotPermitted, "agent %s may not act on conversation %d: it is neither assigned to it nor in its queue", actor, conv.ID)
		}
		// An agent who may join a colleague's conversation may comment
		// on it too (R36).
		if !MayJoin(actor, conv, env.Directory) {
			code, msg := refuseJoin(actor, conv, env.Directory)
			return deskReject(code, "%s", msg)
		}
	}
	if c.Type == TypeCommandTransfer && role == ActorAgent && !env.Directory.Get(conv.DepartmentID).Policy().MayTransfer(conv) {
		// R36: by default agents transfer live chats, supervisors assign
		// tickets.
		return deskReject(CodePolicyForbidsTransfer, "department %s does not let agents transfer a %s: a supervisor assigns it", deptName(conv.DepartmentID), conv.Kind)
	}
	d := newDecider(st, env)
	d.actor = &Actor{AgentID: actor, Role: role}
	a := c.DeskArgs
	if a == nil {
		a = &DeskArgs{}
	}
	switch c.Type {
	case TypeCommandAccept: // R18
		if !conv.State.Open() {
			return closedRejection(conv)
		}
		if conv.State == StateSnoozed {
			d.wake(conv, ReasonAccepted)
		}
		if conv.State == StateAssigned && conv.Assignee == actor {
			break // already the actor's: nothing changes
		}
		d.assignTo(conv, actor)
		d.emitDesk(gateway.TypeTicketAssigned, conv, "", nil)

	case TypeCommandTransfer: // R21
		if !conv.State.Open() {
			return closedRejection(conv)
		}
		if a.ToAgent != "" {
			if !env.Directory.Available(a.ToAgent, d.now, d.cfg.PresenceTTL) {
				r := deskReject(CodeAgentUnavailable, "agent %s is not online and available", a.ToAgent)
				r.Rejection.Agent = a.ToAgent
				return r
			}
			if conv.State == StateAssigned && conv.Assignee == a.ToAgent {
				break
			}
			if conv.State == StateSnoozed {
				d.wake(conv, ReasonAccepted)
			}
			tr := &Transfer{FromAgent: conv.Assignee, ToAgent: a.ToAgent, FromDepartment: conv.DepartmentID}
			d.assignTo(conv, a.ToAgent)
			d.emitDesk(gateway.TypeTicketTransferred, conv, "", &DeskEvent{Transfer: tr})
			break
		}
		dep := env.Directory.Get(a.ToDepartment)
		switch {
		case dep == nil:
			return deskReject(CodeDepartmentNotFound, "no department %q", a.ToDepartment)
		case !env.Directory.AnyAvailable(dep, d.now, d.cfg.PresenceTTL):
			r := deskReject(CodeDepartmentUnavailable, "no agent of department %s is online and available", dep.ID)
			r.Rejection.Department = dep.ID
			return r
		}
		if conv.State == StateSnoozed {
			d.wake(conv, ReasonAccepted)
		}
		tr := &Transfer{FromAgent: conv.Assignee, FromDepartment: conv.DepartmentID, ToDepartment: dep.ID}
		conv.DepartmentID = dep.ID
		d.unassign(conv)
		d.emitDesk(gateway.TypeTicketTransferred, conv, "", &DeskEvent{Transfer: tr})

	case TypeCommandReturn: // R21
		if !conv.State.Open() {
			return closedRejection(conv)
		}
		if conv.Assignee == "" {
			return deskReject(CodeNotAssigned, "conversation %d is not assigned to an agent", conv.ID)
		}
		d.unassign(conv)
		d.emitDesk(gateway.TypeTicketReturned, conv, "", nil)
		d.tell(conv, TextAgentOnTheWay, c.RequestID)

	case TypeCommandClose: // R20, R21
		if !conv.State.Open() {
			return closedRejection(conv)
		}
		left := contactEndedChat(conv)
		conv.ClosedBy = actor
		d.close(conv, ReasonResolved)
		if !left {
			// A contact that ended the chat itself was told so then (R24).
			d.tell(conv, TextChatEnded, c.RequestID)
		}

	case TypeCommandReopen:
		switch {
		case conv.State.Open():
			return deskReject(CodeConversationOpen, "conversation %d is %s, not closed", conv.ID, conv.State)
		case !conv.ArchivedAt.IsZero():
			return deskReject(CodeConversationArchived, "conversation %d is archived: it stays readable but is not reopened", conv.ID)
		case st.Contact.Spam:
			return deskReject(CodeContactSpam, "the contact of conversation %d is marked as spam", conv.ID)
		case st.Open != nil && st.Open != conv:
			r := deskReject(CodeOpenConversationExists, "the contact's conversation %d is open", st.Open.ID)
			r.Rejection.OpenConversationID = st.Open.ID
			return r
		}
		d.reopen(conv)
		d.assignTo(conv, actor)
		d.emitDesk(gateway.TypeTicketAssigned, conv, "", nil)

	case TypeCommandSnooze: // R22
		until := d.now.Add(time.Duration(a.DurationSeconds) * time.Second)
		if a.Until != nil {
			until = a.Until.UTC()
		}
		if !conv.State.Open() {
			return closedRejection(conv)
		}
		if dur := until.Sub(d.now); dur < MinSnooze || dur > MaxSnooze {
			return deskReject(CodeSnoozeOutOfRange, "%v: snooze lasts between 5 minutes and 24 hours", dur.Round(time.Second))
		}
		if conv.State != StateSnoozed {
			conv.SnoozedFrom = conv.State
		}
		conv.State = StateSnoozed
		conv.SnoozeUntil = until
		conv.UpdatedAt = d.now
		d.save(conv)
		d.emit(gateway.TypeTicketSnoozed, conv, nil, "")

	case TypeCommandDelete: // R23
		open := st.Open == conv
		conv.State = StateDeleted
		conv.Intake, conv.IntakeCloseOnDecline = IntakeNone, false
		conv.PromptExpiresAt, conv.IntakeClosesAt, conv.SnoozeUntil, conv.ArchiveAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		conv.SnoozedFrom = ""
		conv.UpdatedAt = d.now
		if open {
			st.Open, st.Last = nil, conv
		}
		d.save(conv)
		d.emitDesk(gateway.TypeTicketDeleted, conv, "", nil)

	case TypeCommandSpam: // R16, R23
		mark := a.Spam == nil || *a.Spam
		if st.Contact.Spam == mark {
			break
		}
		st.Contact.Spam = mark
		st.Contact.UpdatedAt = d.now
		d.effects = append(d.effects, SaveContact{Contact: st.Contact})
		reason := ReasonSpam
		if !mark {
			reason = ReasonNotSpam
		}
		d.emitDesk(gateway.TypeTicketSpam, conv, reason, &DeskEvent{Spam: &mark})
		if open := st.Open; mark && open != nil {
			// R16: a spam contact has no open conversation.
			open.ClosedBy = actor
			d.close(open, ReasonSpam)
		}

	case TypeCommandRead: // R23
		unread := !*a.Read
		if conv.Unread == unread {
			break
		}
		conv.Unread = unread
		conv.UpdatedAt = d.now
		d.save(conv)
		d.emitDesk(gateway.TypeTicketReadState, conv, "", nil)

	case TypeCommandComment: // R23
		cm := &Comment{ID: c.RequestID, AgentID: actor, Text: c.Text, Mentions: Mentions(c.Text), At: d.now}
		d.emitDesk(gateway.TypeTicketCommentAdded, conv, "", &DeskEvent{Comment: cm})
		return DeskDecision{Effects: d.effects, Conversation: conv, Snapshot: *conv, Comment: cm}

	default:
		return deskReject(CodeUnsupportedCommand, "command type %q is not supported", c.Type)
	}
	return DeskDecision{Effects: d.effects, Conversation: conv, Snapshot: *conv}
}

// DecideQuickAccept assigns the claimed conversations (each the open
// conversation of its state, oldest first, locked by the store) to the
// acting agent (R18). A claimed conversation an earlier command of the
// batch already took is skipped. It returns the conversations assigned, in
// order.
func DecideQuickAccept(c Command, claimed []*ContactState, env Env) ([]Effect, []*Conversation) {
	role := c.Role
	if role == "" {
		role = ActorDesk
	}
	var effects []Effect
	var taken []*Conversation
	for _, st := range claimed {
		conv := st.Open
		if conv == nil || conv.State != StateUnassigned || conv.Assignee != "" || contactEndedChat(conv) || conv.AwaitingConsent() {
			continue
		}
		d := newDecider(st, env)
		d.actor = &Actor{AgentID: c.AgentID, Role: role}
		d.assignTo(conv, c.AgentID)
		d.emitDesk(gateway.TypeTicketAssigned, conv, "", nil)
		effects = append(effects, d.effects...)
		taken = append(taken, conv)
	}
	return effects, taken
}

// assignTo makes agent the conversation's assignee.
func (d *decider) assignTo(conv *Conversation, agent string) {
	conv.State = StateAssigned
	conv.Assignee = agent
	conv.AssignedAt = d.now
	conv.UpdatedAt = d.now
	d.join(conv, agent)
	d.save(conv)
}

// unassign puts conv back in the unassigned queue (return, transfer to a
// department); a snooze it had is cleared.
func (d *decider) unassign(conv *Conversation) {
	conv.State = StateUnassigned
	conv.Assignee, conv.AssignedAt = "", time.Time{}
	conv.SnoozeUntil, conv.SnoozedFrom = time.Time{}, ""
	conv.QueuedAt = d.now
	conv.UpdatedAt = d.now
	d.save(conv)
}

// join adds agent to the conversation's participants (R25) and reports
// whether it joined someone else's conversation.
func (d *decider) join(conv *Conversation, agent string) bool {
	if agent == "" || slices.Contains(conv.Participants, agent) {
		return false
	}
	others := len(conv.Participants) > 0 || (conv.Assignee != "" && conv.Assignee != agent)
	conv.Participants = append(slices.Clone(conv.Participants), agent)
	return others
}

// tell sends the department's text of kind to the contact of conv, when it
// can receive free text: not on WhatsApp outside the window (the text is
// not a template) and not to a spam contact. trigger (the command's request
// id) makes the send's request id deterministic.
func (d *decider) tell(conv *Conversation, kind TextKind, trigger string) {
	ct := d.st.Contact
	if ct.Spam || !WindowAt(ct.Channel, ct.LastInboundAt, d.now).Open {
		return
	}
	d.send(conv, kind, "cmd:"+trigger)
}

// emitDesk emits a desk event with the decider's actor and the details in ev.
func (d *decider) emitDesk(typ string, conv *Conversation, reason string, ev *DeskEvent) {
	if ev == nil {
		ev = &DeskEvent{}
	}
	if ev.Actor == nil {
		ev.Actor = d.actor
	}
	d.effects = append(d.effects, EmitTicketEvent{Type: typ, Conv: conv, Snapshot: *conv, Contact: *d.st.Contact, Reason: reason, Desk: ev})
}

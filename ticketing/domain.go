// Package ticketing keeps conversations: the domain types, the pure decision
// core that applies the rules of docs/rules.md to a contact's state, and the Service that
// runs the core over Kafka batches with one store transaction per batch.
//
// The package never touches PostgreSQL or Kafka itself: it declares the Store
// it needs (implemented by ticketing/pgstore) and speaks gateway records.
package ticketing

import (
	"time"

	"github.com/chatgate/chatgate/gateway"
)

// Kind says whether a conversation is a live chat or a ticket.
type Kind string

// Conversation kinds (docs/rules.md).
const (
	KindLiveChat Kind = "live_chat"
	KindTicket   Kind = "ticket"
)

// State is a conversation's queue state.
type State string

// Queue states (docs/rules.md).
const (
	StateUnassigned State = "unassigned"
	StateAssigned   State = "assigned"
	StateSnoozed    State = "snoozed"
	StateClosed     State = "closed"
	StateDeleted    State = "deleted"
)

// Open reports whether a conversation in state s still receives the
// contact's messages (at most one per contact is open).
func (s State) Open() bool {
	return s == StateUnassigned || s == StateAssigned || s == StateSnoozed
}

// Direction of a message.
type Direction string

// Message directions.
const (
	DirectionInbound  Direction = "inbound"
	DirectionOutbound Direction = "outbound"
)

// Contact is one customer address on one channel.
type Contact struct {
	ID            int64
	Channel       gateway.Channel
	Address       string
	Name          string
	CreatedAt     time.Time
	UpdatedAt     time.Time
	LastInboundAt time.Time // zero: never wrote
	// Spam contacts are quarantined (R16): their messages are stored, no
	// conversation is opened, nothing is sent to them.
	Spam bool
	// Language is the contact's language as last resolved (R34,
	// language.go): it picks the auto-responder texts and the templates
	// offered; LanguageSource says where it came from. Both empty until
	// resolved.
	Language       string
	LanguageSource LanguageSource
	// LanguageOverride is the language a desk or ops set on the contact's
	// profile; it wins over every other source. Empty: none.
	LanguageOverride string
	// ChannelLanguage is the language the contact's channel last reported
	// (the API channel's "language"); empty: never reported.
	ChannelLanguage string
	// OptedOut contacts replied STOP (or a provider said they did): nothing
	// is sent to them until they opt back in (R33, see optout.go).
	OptedOut   bool
	OptedOutAt time.Time // zero unless OptedOut
}

// Key returns the contact's Kafka key, "channel:address".
func (c *Contact) Key() string { return gateway.ContactKey(c.Channel, c.Address) }

// Conversation is the thread a contact's messages land in. A conversation
// created in the current batch has ID 0 until the shell allocates ids.
type Conversation struct {
	ID            int64
	ContactID     int64
	Kind          Kind
	State         State
	CreatedAt     time.Time
	UpdatedAt     time.Time
	LastMessageAt time.Time
	LastInboundAt time.Time
	MessageCount  int
	ClosedAt      time.Time
	CloseReason   string

	// DepartmentID is the department the conversation was routed to (R3);
	// empty when no department is configured or none fits.
	DepartmentID string
	// BusinessAddress is the address the contact wrote to; replies go out from it.
	BusinessAddress string
	// Intake is the state of the out-of-hours leave-a-message session (R6–R12).
	Intake Intake
	// IntakeCloseOnDecline says that a declined or expired prompt closes
	// the conversation (it was opened, reopened or a live chat for the
	// session); otherwise it was an open ticket, which stays open (R13).
	IntakeCloseOnDecline bool
	// Due times of the conversation's timers; zero when not scheduled.
	PromptExpiresAt time.Time // R10
	IntakeClosesAt  time.Time // R12
	SnoozeUntil     time.Time // R22
	ArchiveAt       time.Time // R27
	// SnoozedFrom is the state a snoozed conversation returns to when woken.
	SnoozedFrom State
	ArchivedAt  time.Time

	// Desk fields (desk.go). Assignee is the agent working on it (R18,
	// R19), kept when it is closed or snoozed; AssignedAt when it was
	// assigned. ClosedBy is the agent who resolved it (R20), empty when a
	// rule closed it. Unread is the desk's read flag (R23): a message of
	// the contact sets it. Participants are the agents who were assigned it
	// or wrote on it, in order (R25). QueuedAt is when it last entered the
	// unassigned queue, which R17 lists and R18 quick-accepts by.
	Assignee     string
	AssignedAt   time.Time
	ClosedBy     string
	Unread       bool
	Participants []string
	QueuedAt     time.Time
	// ContactLeftAt is when the contact ended the live chat (R24): while
	// it is set and the chat is open, replies are refused and agents can
	// only resolve or delete it; the contact's next message clears it.
	ContactLeftAt time.Time
}

// AwaitingConsent reports whether c waits for its contact's answer to the
// leave-a-message prompt and exists for that session only (R35): opened,
// reopened or a live chat when the prompt was sent. Such a conversation is
// in no agent queue and cannot be accepted until the contact says YES. An
// open ticket that is prompted again (R13) was in the queue before and
// stays there: the contact agreed to leave a message already.
func (c *Conversation) AwaitingConsent() bool {
	return c.Intake == IntakePrompted && c.IntakeCloseOnDecline
}

// Intake is the state of a conversation's leave-a-message session.
type Intake string

// Intake states: no session, prompt sent and awaiting YES or NO, and the
// contact leaving messages after YES until //end or the intake timeout.
const (
	IntakeNone     Intake = ""
	IntakePrompted Intake = "prompted"
	IntakeLeaving  Intake = "leaving"
)

// Close reasons carried by closed events.
const (
	ReasonSupersededByChat = "superseded_by_chat" // R14
	ReasonConsentDeclined  = "consent_declined"   // R8
	ReasonPromptExpired    = "prompt_expired"     // R10
	ReasonEndedByContact   = "ended_by_contact"   // R12, //end (or end_chat) while leaving messages
	ReasonIntakeTimeout    = "intake_timeout"     // R12, no message for the intake close time
	ReasonContactWrote     = "contact_wrote"      // R15, R22: woken by a message
	ReasonSnoozeExpired    = "snooze_expired"     // R22
	ReasonEndKeyword       = "end_keyword"        // R24: contact_left by an end keyword
	ReasonEndChat          = "end_chat"           // R24: contact_left by the channel's end_chat control
)

// Message is one stored message. Conv points at the conversation it belongs
// to, so a message of a new conversation learns its conversation id when the
// shell allocates it.
type Message struct {
	ID         int64
	Conv       *Conversation
	ContactID  int64
	Channel    gateway.Channel
	Direction  Direction
	ProviderID string
	Body       string
	Seq        int
	SentAt     time.Time
	StoredAt   time.Time

	// Outbound messages only (status.go): the send's request id (R32), who
	// wrote it (SentBySystem, SentByPhone, or a desk's author), and its
	// delivery state, which only moves forward (gateway.DeliveryStatus.Rank).
	RequestID    string
	SentBy       string
	Status       gateway.DeliveryStatus
	ErrorCode    string
	ErrorMessage string
	StatusAt     time.Time
}

// ContactState is everything the decision core needs to know about a contact:
// the contact itself, its open conversation if any, and otherwise its most
// recent conversation (closed or deleted), which a message may reopen (R15).
type ContactState struct {
	Contact *Contact
	Open    *Conversation
	Last    *Conversation // nil when Open is set or the contact has none
}

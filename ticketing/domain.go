// Package ticketing keeps conversations: the domain types, the pure decision
// core that applies SPEC.md's rules to a contact's state, and the Service that
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

// Conversation kinds (SPEC.md §1).
const (
	KindLiveChat Kind = "live_chat"
	KindTicket   Kind = "ticket"
)

// State is a conversation's queue state.
type State string

// Queue states (SPEC.md §1).
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
}

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
}

// ContactState is everything the decision core needs to know about a contact:
// the contact itself and its open conversation, if any.
type ContactState struct {
	Contact *Contact
	Open    *Conversation
}

package ticketing

import (
	"context"
	"time"

	"github.com/chatgate/chatgate/gateway"
)

// ContactRef names a contact the batch touches; Name and At seed a contact
// that does not exist yet.
type ContactRef struct {
	Channel gateway.Channel
	Address string
	Name    string
}

// Key returns the contact's Kafka key.
func (r ContactRef) Key() string { return gateway.ContactKey(r.Channel, r.Address) }

// MessageRef is a message's idempotency key (R1).
type MessageRef struct {
	Channel    gateway.Channel
	ProviderID string
}

// LoadRequest is what a batch needs read before deciding.
type LoadRequest struct {
	Contacts []ContactRef
	Messages []MessageRef
}

// LoadResult is the state a batch decides on.
type LoadResult struct {
	// States by contact key. Every requested contact is present: missing ones
	// were created. The store holds a lock on each contact until the
	// transaction ends, so two workers never decide for one contact at once.
	States map[string]*ContactState
	// Known lists the requested messages already stored.
	Known map[MessageRef]bool
	// Departments and Presence are what routing and reachability need
	// (R3, R4): every stored department, and the agents whose status is
	// online (the core checks their heartbeat against the TTL).
	Departments []Department
	Presence    []Presence
}

// TimerClaim is what a timer sweep decides on: due conversations, locked
// with their contacts so no other sweeper or batch touches them until the
// transaction ends, plus the departments for the texts timers send.
type TimerClaim struct {
	Conversations []*Conversation
	// Contacts by id; conversations of one contact share one Contact.
	Contacts    map[int64]*Contact
	Departments []Department
	Presence    []Presence
}

// OutboxRecord is one record the relay will publish after commit.
type OutboxRecord struct {
	Topic gateway.Topic
	Key   []byte
	Value []byte
}

// Changes is everything one batch writes.
type Changes struct {
	Contacts         []*Contact
	NewConversations []*Conversation
	Conversations    []*Conversation // existing ones to update
	Messages         []*Message
	Statuses         StatusChanges // delivery statuses (status.go)
	// Events are the ticket events kept in their conversations' history
	// (every one but message_added: the messages are the history of those).
	Events []ConversationEvent
	Outbox []OutboxRecord
}

// ConversationEvent is a ticket event as a conversation's history keeps it.
type ConversationEvent struct {
	ConversationID int64
	// EventID is the published CloudEvent's id.
	EventID string
	Type    string
	// Actor is the acting agent, empty for rules and timers.
	Actor  string
	Reason string
	// Data is the event's DeskEvent as JSON ({} when it has none).
	Data []byte
	At   time.Time
}

func (ch *Changes) empty() bool {
	return len(ch.Contacts) == 0 && len(ch.NewConversations) == 0 && len(ch.Conversations) == 0 &&
		len(ch.Messages) == 0 && len(ch.Outbox) == 0 && len(ch.Events) == 0 && ch.Statuses.empty()
}

// Store is the persistence the ticketing service needs.
type Store interface {
	// InTx runs fn in one transaction, committing when fn returns nil.
	InTx(ctx context.Context, fn func(tx StoreTx) error) error
}

// StoreTx is the work one batch does inside its transaction.
type StoreTx interface {
	// Load creates missing contacts, locks every requested contact and returns
	// their state and which messages are already stored.
	Load(ctx context.Context, req LoadRequest) (LoadResult, error)
	// AllocateIDs reserves ids for new conversations and messages.
	AllocateIDs(ctx context.Context, conversations, messages int) (convIDs, msgIDs []int64, err error)
	// Save writes the changes and the outbox records, and wakes the relay.
	// Existing conversations are updated before new ones are inserted, so
	// closing a ticket and opening a chat in one batch keeps one open
	// conversation per contact.
	Save(ctx context.Context, ch *Changes) error
	// ClaimTimers locks up to limit conversations with a timer due at now,
	// earliest first, skipping rows another transaction holds (FOR UPDATE
	// SKIP LOCKED), so concurrent sweepers fire each timer once.
	ClaimTimers(ctx context.Context, now time.Time, limit int) (TimerClaim, error)
	StatusTx
	CommandTx // command.go
	ContactTx // language.go
}

// DepartmentChanges says what an edit of the department set wrote, by id.
// Applying a set that equals the stored one changes nothing.
type DepartmentChanges struct {
	Created   []string `json:"created"`
	Updated   []string `json:"updated"`
	Deleted   []string `json:"deleted"`
	Unchanged []string `json:"unchanged"`
}

// DirectoryStore keeps departments and agent presence: what ops and desks
// change, and what Load reads for every batch.
type DirectoryStore interface {
	// EditDepartments locks the department set, passes the stored set to
	// edit and writes the set edit returns: new ids are inserted, changed
	// documents updated (version+1), missing ids deleted. Two edits never
	// interleave, so the set as a whole stays valid.
	EditDepartments(ctx context.Context, now time.Time, edit func(current []Department) ([]Department, error)) (DepartmentChanges, error)
	// ListDepartments returns the stored departments sorted by id.
	ListDepartments(ctx context.Context) ([]Department, error)
	// SetPresence records an agent's status and heartbeat.
	SetPresence(ctx context.Context, p Presence) error
}

package ticketing

import (
	"context"

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
	Outbox           []OutboxRecord
}

func (ch *Changes) empty() bool {
	return len(ch.Contacts) == 0 && len(ch.NewConversations) == 0 && len(ch.Conversations) == 0 &&
		len(ch.Messages) == 0 && len(ch.Outbox) == 0
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
	Save(ctx context.Context, ch *Changes) error
}

package ticketing

import (
	"time"

	"github.com/chatgate/chatgate/gateway"
)

// Env is what a decision may depend on besides the contact's state. The
// clock is passed in: nothing in the core reads time itself.
type Env struct {
	Now time.Time
}

// Effect is one thing a decision asks the shell to do. The shell applies the
// effects of a whole batch in one transaction.
type Effect interface{ effect() }

// CreateConversation asks the shell to insert Conv (its ID is allocated then).
type CreateConversation struct{ Conv *Conversation }

// SaveConversation asks the shell to persist Conv's current fields.
type SaveConversation struct{ Conv *Conversation }

// SaveContact asks the shell to persist Contact's current fields.
type SaveContact struct{ Contact *Contact }

// StoreMessage asks the shell to insert Msg.
type StoreMessage struct{ Msg *Message }

// EmitTicketEvent asks the shell to publish a chatgate.ticket.* event through
// the outbox. Snapshot is the conversation as it was right after the change;
// Conv is the live conversation, read only for the id allocated later.
type EmitTicketEvent struct {
	Type     string
	Conv     *Conversation
	Snapshot Conversation
	Contact  Contact
	Msg      *Message
	Reason   string
}

func (CreateConversation) effect() {}
func (SaveConversation) effect()   {}
func (SaveContact) effect()        {}
func (StoreMessage) effect()       {}
func (EmitTicketEvent) effect()    {}

// DecideInbound applies the rules to one inbound message of the contact in
// st and returns the effects. It advances st in place (st is the shell's
// working copy for the batch), so the next message of the same contact in the
// batch sees the result. It does no I/O and reads no clock.
//
// For now every message opens or continues a live chat, unassigned; the
// business-hours and leave-a-message rules grow here.
func DecideInbound(st *ContactState, in gateway.Inbound, env Env) []Effect {
	now := env.Now.UTC()
	sent := in.ReceivedAt.UTC()
	var effects []Effect

	contact := st.Contact
	if in.ContactName != "" && in.ContactName != contact.Name {
		contact.Name = in.ContactName
	}
	if sent.After(contact.LastInboundAt) {
		contact.LastInboundAt = sent
	}
	contact.UpdatedAt = now
	effects = append(effects, SaveContact{Contact: contact})

	conv := st.Open
	created := conv == nil
	if created {
		conv = &Conversation{
			ContactID: contact.ID,
			Kind:      KindLiveChat,
			State:     StateUnassigned,
			CreatedAt: now,
		}
		st.Open = conv
		effects = append(effects, CreateConversation{Conv: conv})
	}
	conv.MessageCount++
	conv.UpdatedAt = now
	conv.LastMessageAt = now
	if sent.After(conv.LastInboundAt) {
		conv.LastInboundAt = sent
	}
	if !created {
		effects = append(effects, SaveConversation{Conv: conv})
	}

	msg := &Message{
		Conv:       conv,
		ContactID:  contact.ID,
		Channel:    in.Channel,
		Direction:  DirectionInbound,
		ProviderID: in.ProviderID,
		Body:       in.Text,
		Seq:        conv.MessageCount,
		SentAt:     sent,
		StoredAt:   now,
	}
	effects = append(effects, StoreMessage{Msg: msg})
	if created {
		effects = append(effects, event(gateway.TypeTicketCreated, st, nil, ""))
	}
	effects = append(effects, event(gateway.TypeTicketMessageAdded, st, msg, ""))
	return effects
}

func event(typ string, st *ContactState, msg *Message, reason string) EmitTicketEvent {
	return EmitTicketEvent{Type: typ, Conv: st.Open, Snapshot: *st.Open, Contact: *st.Contact, Msg: msg, Reason: reason}
}

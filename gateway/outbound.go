package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Event types of the outbound and status topics.
const (
	TypeOutboundMessage = "chatgate.outbound.message"
	TypeMessageStatus   = "chatgate.status.message"
)

// Outbound is the data of a chatgate.outbound.message record on the outbound
// topic: one message to send to a contact, with everything its channel
// needs, so sender adapters carry no business or template logic.
type Outbound struct {
	// RequestID is the send's idempotency key (R32): a sender that already
	// has a provider id for it does not send again.
	RequestID string  `json:"request_id"`
	Channel   Channel `json:"channel"`
	To        string  `json:"to"`             // the contact's address
	From      string  `json:"from,omitempty"` // the business address to send from; empty: the channel's default
	// ConversationID and MessageID tie the send to chatgate's records (0 when none).
	ConversationID int64 `json:"conversation_id,omitempty"`
	MessageID      int64 `json:"message_id,omitempty"`
	// Text is the rendered text, present for every send (also for templates).
	Text      string            `json:"text"`
	Template  *OutboundTemplate `json:"template,omitempty"`
	MediaURLs []string          `json:"media_urls,omitempty"`
	// ReplyTo is the provider id of the contact's message this one answers,
	// shown quoted where the channel can (WhatsApp); others ignore it.
	ReplyTo string `json:"reply_to,omitempty"`
	// Interactive is a WhatsApp Cloud API "interactive" object (reply
	// buttons or a list), as JSON; Text is its body when it has none.
	// Channels without interactive messages send Text alone.
	Interactive json.RawMessage `json:"interactive,omitempty"`
	CreatedAt   time.Time       `json:"created_at"`
}

// OutboundTemplate carries a rendered template's provider references.
type OutboundTemplate struct {
	Name     string `json:"name"`
	Language string `json:"language"`
	// TwilioContentSID and TwilioContentVariables (a JSON object) for
	// Twilio's Content API.
	TwilioContentSID       string `json:"twilio_content_sid,omitempty"`
	TwilioContentVariables string `json:"twilio_content_variables,omitempty"`
	// WhatsApp is the WhatsApp Cloud API template object (name, language,
	// components), as JSON.
	WhatsApp json.RawMessage `json:"whatsapp,omitempty"`
}

// ContactKey returns the Kafka key of the receiving contact.
func (o Outbound) ContactKey() string { return ContactKey(o.Channel, o.To) }

// EventID is deterministic per request.
func (o Outbound) EventID() string { return "outbound:" + o.RequestID }

// Limits on outbound and status fields, in characters.
const (
	// MaxOutboundTextLen bounds a rendered outbound text: an agent's reply
	// (MaxTextLen) with its signature, or a template filled in.
	MaxOutboundTextLen = 4 * MaxTextLen
	// MaxStatusFieldLen bounds a status's provider word and error code;
	// MaxErrorMessageLen its error message.
	MaxStatusFieldLen  = 64
	MaxErrorMessageLen = 1024
)

// Validate checks the fields every producer must fill, with the rules of
// R38 (gateway/text.go). It returns nil or a *ValidationError.
func (o Outbound) Validate() error {
	var c fieldChecker
	c.key("request_id", o.RequestID, MaxProviderIDLen, true)
	if !o.Channel.Valid() {
		c.add("channel", fmt.Sprintf("%q is not one of api, sms, whatsapp", o.Channel))
	}
	c.key("to", o.To, MaxAddressLen, true)
	c.key("from", o.From, MaxAddressLen, false)
	if o.Text == "" && o.Template == nil && len(o.MediaURLs) == 0 {
		c.add("text", "is required unless a template or media is given")
	}
	c.text("text", o.Text, MaxOutboundTextLen, false)
	if len(o.MediaURLs) > MaxMedia {
		c.add("media_urls", fmt.Sprintf("has %d attachments, at most %d allowed", len(o.MediaURLs), MaxMedia))
	}
	for i, u := range o.MediaURLs {
		c.key(fmt.Sprintf("media_urls[%d]", i), u, MaxURLLen, true)
	}
	c.key("reply_to", o.ReplyTo, MaxProviderIDLen, false)
	if len(o.Interactive) > 0 && !isJSONObject(o.Interactive) {
		c.add("interactive", "must be a JSON object")
	}
	return c.result("outbound message")
}

// DeliveryStatus is a message's delivery state, as chatgate names it.
type DeliveryStatus string

// Delivery states. Queued → sending → sent → delivered → read move forward
// only; failed is final.
const (
	StatusQueued    DeliveryStatus = "queued"
	StatusSending   DeliveryStatus = "sending"
	StatusSent      DeliveryStatus = "sent"
	StatusDelivered DeliveryStatus = "delivered"
	StatusRead      DeliveryStatus = "read"
	StatusFailed    DeliveryStatus = "failed"
)

// Rank orders states so a late or duplicate receipt never moves a message
// backwards: a status is applied only if its rank is higher than the
// message's current one. Failed outranks everything but read: a message the
// contact read was delivered, whatever a later callback says.
func (s DeliveryStatus) Rank() int {
	switch s {
	case StatusQueued:
		return 1
	case StatusSending:
		return 2
	case StatusSent:
		return 3
	case StatusDelivered:
		return 4
	case StatusFailed:
		return 5
	case StatusRead:
		return 6
	}
	return 0
}

// Valid reports whether s is a known state.
func (s DeliveryStatus) Valid() bool { return s.Rank() > 0 }

// Status is the data of a chatgate.status.message record on the status
// topic: what happened to one outbound message.
type Status struct {
	RequestID  string         `json:"request_id,omitempty"` // the outbound request, when known
	Channel    Channel        `json:"channel"`
	Contact    string         `json:"contact"`               // the contact's address
	ProviderID string         `json:"provider_id,omitempty"` // the provider's message id (Twilio SID, WhatsApp id)
	Status     DeliveryStatus `json:"status"`
	// ProviderStatus is the provider's own word (Twilio's "undelivered", WhatsApp's "played").
	ProviderStatus string    `json:"provider_status,omitempty"`
	ErrorCode      string    `json:"error_code,omitempty"`
	ErrorMessage   string    `json:"error_message,omitempty"`
	At             time.Time `json:"at"`
	// Pricing is how the provider bills the message, when it says
	// (WhatsApp Cloud API statuses).
	Pricing *Pricing `json:"pricing,omitempty"`
}

// Pricing is a provider's billing information about one sent message: on
// WhatsApp Cloud API, the conversation it opened or belongs to and how it
// is charged. Every field is optional.
type Pricing struct {
	// ConversationID, ConversationOrigin (service, utility, marketing,
	// authentication, referral_conversion …) and ConversationExpiresAt
	// describe the billed conversation.
	ConversationID        string     `json:"conversation_id,omitempty"`
	ConversationOrigin    string     `json:"conversation_origin,omitempty"`
	ConversationExpiresAt *time.Time `json:"conversation_expires_at,omitempty"`
	// Billable is false for free messages; nil when not said.
	Billable *bool `json:"billable,omitempty"`
	// Model is the pricing model ("CBP" per conversation, "PMP" per message).
	Model string `json:"model,omitempty"`
	// Category is the billed category (marketing, utility, service …).
	Category string `json:"category,omitempty"`
	// Type is the per-message price type ("regular", "free_customer_service", "free_entry_point").
	Type string `json:"type,omitempty"`
}

// ContactKey returns the Kafka key of the contact.
func (s Status) ContactKey() string { return ContactKey(s.Channel, s.Contact) }

// EventID identifies the status change; a provider repeating the same
// callback produces the same id.
func (s Status) EventID() string {
	ref := s.ProviderID
	if ref == "" {
		ref = s.RequestID
	}
	return "status:" + string(s.Channel) + ":" + ref + ":" + string(s.Status)
}

// Validate checks the fields every adapter must fill, with the rules of
// R38 (gateway/text.go). It returns nil or a *ValidationError.
func (s Status) Validate() error {
	var c fieldChecker
	c.key("request_id", s.RequestID, MaxProviderIDLen, false)
	if !s.Channel.Valid() {
		c.add("channel", fmt.Sprintf("%q is not one of api, sms, whatsapp", s.Channel))
	}
	c.key("contact", s.Contact, MaxAddressLen, true)
	c.key("provider_id", s.ProviderID, MaxProviderIDLen, false)
	if s.ProviderID == "" && s.RequestID == "" {
		c.add("provider_id", "is required unless request_id is given")
	}
	if !s.Status.Valid() {
		c.add("status", fmt.Sprintf("%q is not a delivery status", s.Status))
	}
	c.line("provider_status", s.ProviderStatus, MaxStatusFieldLen)
	c.line("error_code", s.ErrorCode, MaxStatusFieldLen)
	c.text("error_message", s.ErrorMessage, MaxErrorMessageLen, false)
	if s.At.IsZero() {
		c.add("at", ProblemRequired)
	}
	if p := s.Pricing; p != nil {
		c.key("pricing.conversation_id", p.ConversationID, MaxProviderIDLen, false)
		c.line("pricing.conversation_origin", p.ConversationOrigin, MaxStatusFieldLen)
		c.line("pricing.model", p.Model, MaxStatusFieldLen)
		c.line("pricing.category", p.Category, MaxStatusFieldLen)
		c.line("pricing.type", p.Type, MaxStatusFieldLen)
	}
	return c.result("status")
}

// Record encodes the status as its CloudEvent record for topic, keyed by contact.
func (s Status) Record(source, topic string) (Message, error) {
	key := s.ContactKey()
	return EncodeRecord(topic, key, s.EventID(), source, TypeMessageStatus, key, s.At, s)
}

// Record encodes the outbound message as its CloudEvent record for topic,
// keyed by contact.
func (o Outbound) Record(source, topic string) (Message, error) {
	key := o.ContactKey()
	return EncodeRecord(topic, key, o.EventID(), source, TypeOutboundMessage, key, o.CreatedAt, o)
}

// SendAttempt is what the send log knows about one outbound request.
type SendAttempt struct {
	RequestID    string
	Channel      Channel
	ProviderID   string         // empty until the provider accepted the send
	Status       DeliveryStatus // StatusSending while in flight
	ErrorCode    string
	ErrorMessage string
	StartedAt    time.Time
	FinishedAt   time.Time // zero while in flight
}

// SendLog remembers outbound sends by request id, so that a redelivered
// outbound record is never sent twice (R32). Senders call Begin before
// calling the provider and Finish with the outcome.
type SendLog interface {
	// Begin claims requestID. claimed is true for the first caller; later
	// callers get the earlier attempt instead and must not send: if it has
	// a ProviderID the message went out, and if it is still in flight (a
	// sender crashed mid-send) its outcome is unknown.
	Begin(ctx context.Context, requestID string, channel Channel, at time.Time) (prev SendAttempt, claimed bool, err error)
	// Finish records the outcome of a claimed send.
	Finish(ctx context.Context, a SendAttempt) error
}

// isJSONObject reports whether raw is one JSON object.
func isJSONObject(raw json.RawMessage) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(raw, &m) == nil && m != nil
}

package gateway

import (
	"fmt"
	"time"
)

// Limits on inbound fields, in characters; adapters refuse (or, where the
// docs say so, cut) larger values before they reach Kafka. Together they
// keep a record far below Kafka's 1 MB default record size.
const (
	MaxProviderIDLen  = 128
	MaxAddressLen     = 128
	MaxTextLen        = 4096
	MaxContactNameLen = 256
	// MaxMedia is the most attachments one message carries (Twilio's MMS limit).
	MaxMedia = 10
	// MaxURLLen bounds a media URL; MaxMediaFieldLen its content type, file
	// name and digest.
	MaxURLLen        = 2048
	MaxMediaFieldLen = 256
	// MaxLocationTextLen bounds a location's name and address.
	MaxLocationTextLen = 1024
	// MaxContacts and MaxVCardLen bound shared contacts.
	MaxContacts = 20
	MaxVCardLen = 16384
	// MaxButtonPayloadLen bounds a button's payload; MaxReactionLen a reaction.
	MaxButtonPayloadLen = 1024
	MaxReactionLen      = 32
)

// InboundKind says what an inbound record carries. The zero value is text.
type InboundKind string

// Inbound kinds. Reactions, edits and revokes refer to an earlier message by
// TargetID and are not ordinary messages of a conversation.
const (
	KindText     InboundKind = "text"
	KindMedia    InboundKind = "media"    // Media set; Text is the caption, may be empty
	KindLocation InboundKind = "location" // Location set
	KindContacts InboundKind = "contacts" // Contacts set (vCards)
	KindButton   InboundKind = "button"   // a quick-reply button press: Text is its label, Button set
	KindReaction InboundKind = "reaction" // Reaction and TargetID set
	KindEdit     InboundKind = "edit"     // Text is the new text of TargetID
	KindRevoke   InboundKind = "revoke"   // TargetID was deleted by the contact
	// KindEndChat: the contact ended the live chat (R24) by a control of its
	// channel (the API channel's end_chat event); Text may be empty. An end
	// keyword typed as text stays KindText: the ticketing rules recognise it.
	KindEndChat InboundKind = "end_chat"
)

// Media is a reference to an attachment kept outside Kafka (provider URL or
// chatgate's blob store); records never inline media bytes.
type Media struct {
	URL         string `json:"url"`
	ContentType string `json:"content_type,omitempty"`
	FileName    string `json:"file_name,omitempty"`
	Size        int64  `json:"size,omitempty"`
	SHA256      string `json:"sha256,omitempty"`
}

// Location is a shared location.
type Location struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
	Name      string  `json:"name,omitempty"`
	Address   string  `json:"address,omitempty"`
}

// Button is a quick-reply button press.
type Button struct {
	Text    string `json:"text"`
	Payload string `json:"payload,omitempty"`
}

// Inbound is the data of a chatgate.inbound.message record on the inbound
// topic: one message a contact sent, normalized by its channel adapter.
type Inbound struct {
	Channel     Channel     `json:"channel"`
	ProviderID  string      `json:"provider_id"` // idempotency key within the channel (R1)
	From        string      `json:"from"`        // the contact's address on the channel (E.164 for phones)
	To          string      `json:"to,omitempty"`
	Kind        InboundKind `json:"kind,omitempty"` // empty means text
	Text        string      `json:"text"`
	ContactName string      `json:"contact_name,omitempty"`
	// Language is the contact's language as its channel reports it (the API
	// channel's "language"), in canonical form (NormalizeLanguage); empty
	// when the channel does not know it (R34).
	Language   string    `json:"language,omitempty"`
	ReceivedAt time.Time `json:"received_at"`
	Media      []Media   `json:"media,omitempty"`
	Location   *Location `json:"location,omitempty"`
	Contacts   []string  `json:"contacts,omitempty"` // vCards
	Button     *Button   `json:"button,omitempty"`
	Reaction   string    `json:"reaction,omitempty"`  // emoji; empty removes a reaction
	ReplyTo    string    `json:"reply_to,omitempty"`  // provider id of the quoted message
	TargetID   string    `json:"target_id,omitempty"` // provider id a reaction, edit or revoke is about
	// UserID is the contact's business-scoped user id on WhatsApp (a
	// BSUID such as "US.13491208655302741918"), when the channel reports
	// one beside the phone number in From. A contact known only by its
	// BSUID has it as From.
	UserID string `json:"user_id,omitempty"`
	// Referral is the ad or post the contact came from (WhatsApp's
	// click-to-WhatsApp ads), when the channel reports one.
	Referral *Referral `json:"referral,omitempty"`
}

// Referral is the ad or post that led a contact to write, as the channel
// reports it. Every field is optional.
type Referral struct {
	SourceType string `json:"source_type,omitempty"` // "ad" or "post"
	SourceID   string `json:"source_id,omitempty"`   // the ad's or post's id
	SourceURL  string `json:"source_url,omitempty"`
	Headline   string `json:"headline,omitempty"`
	Body       string `json:"body,omitempty"`
	MediaType  string `json:"media_type,omitempty"` // "image" or "video"
	MediaURL   string `json:"media_url,omitempty"`
	// ClickID is the ad click's id (Meta's ctwa_clid), which conversion
	// reporting sends back to the ad platform.
	ClickID string `json:"click_id,omitempty"`
}

// EffectiveKind returns Kind, with empty meaning text.
func (in Inbound) EffectiveKind() InboundKind {
	if in.Kind == "" {
		return KindText
	}
	return in.Kind
}

// ContactKey returns the Kafka key of the sending contact.
func (in Inbound) ContactKey() string { return ContactKey(in.Channel, in.From) }

// EventID is deterministic, so the same provider message published twice
// carries the same CloudEvents id.
func (in Inbound) EventID() string { return "inbound:" + string(in.Channel) + ":" + in.ProviderID }

// Validate checks every field against the rules of R38 (gateway/text.go)
// and the limits above, and that the fields of the record's kind are
// there. It returns nil or a *ValidationError naming each field at fault
// by its JSON name. Every adapter runs it before it acknowledges a
// message, and the worker runs it again on every record it reads.
func (in Inbound) Validate() error {
	var c fieldChecker
	if !in.Channel.Valid() {
		c.add("channel", fmt.Sprintf("%q is not one of api, sms, whatsapp", in.Channel))
	}
	c.key("provider_id", in.ProviderID, MaxProviderIDLen, true)
	c.key("from", in.From, MaxAddressLen, true)
	c.key("to", in.To, MaxAddressLen, false)
	kind := in.EffectiveKind()
	switch kind {
	case KindText, KindEdit, KindRevoke, KindReaction, KindEndChat, KindMedia, KindLocation, KindContacts, KindButton:
	default:
		c.add("kind", fmt.Sprintf("%q is not a known inbound kind", in.Kind))
	}
	c.text("text", in.Text, MaxTextLen, kind == KindText || kind == KindButton || kind == KindEdit)
	c.line("contact_name", in.ContactName, MaxContactNameLen)
	if in.Language != "" {
		if canon, err := NormalizeLanguage(in.Language); err != nil || canon != in.Language {
			c.add("language", fmt.Sprintf("%q is not a canonical language tag (like pt_BR)", in.Language))
		}
	}
	if in.ReceivedAt.IsZero() {
		c.add("received_at", ProblemRequired)
	}
	if kind == KindMedia && len(in.Media) == 0 {
		c.add("media", "is required for kind media")
	}
	if len(in.Media) > MaxMedia {
		c.add("media", fmt.Sprintf("has %d attachments, at most %d allowed", len(in.Media), MaxMedia))
	}
	for i, m := range in.Media {
		f := func(name string) string { return fmt.Sprintf("media[%d].%s", i, name) }
		c.key(f("url"), m.URL, MaxURLLen, true)
		c.line(f("content_type"), m.ContentType, MaxMediaFieldLen)
		c.line(f("file_name"), m.FileName, MaxMediaFieldLen)
		c.line(f("sha256"), m.SHA256, MaxMediaFieldLen)
		if m.Size < 0 {
			c.add(f("size"), "must not be negative")
		}
	}
	switch {
	case in.Location != nil:
		if field, problem := CheckCoordinates(in.Location.Latitude, in.Location.Longitude); problem != "" {
			c.add("location."+field, problem)
		}
		c.text("location.name", in.Location.Name, MaxLocationTextLen, false)
		c.text("location.address", in.Location.Address, MaxLocationTextLen, false)
	case kind == KindLocation:
		c.add("location", "is required for kind location")
	}
	if kind == KindContacts && len(in.Contacts) == 0 {
		c.add("contacts", "is required for kind contacts")
	}
	if len(in.Contacts) > MaxContacts {
		c.add("contacts", fmt.Sprintf("has %d contacts, at most %d allowed", len(in.Contacts), MaxContacts))
	}
	for i, v := range in.Contacts {
		c.text(fmt.Sprintf("contacts[%d]", i), v, MaxVCardLen, true)
	}
	switch {
	case in.Button != nil:
		c.text("button.text", in.Button.Text, MaxTextLen, false)
		c.text("button.payload", in.Button.Payload, MaxButtonPayloadLen, false)
	case kind == KindButton:
		c.add("button", "is required for kind button")
	}
	c.line("reaction", in.Reaction, MaxReactionLen)
	c.key("reply_to", in.ReplyTo, MaxProviderIDLen, false)
	c.key("target_id", in.TargetID, MaxProviderIDLen, kind == KindReaction || kind == KindEdit || kind == KindRevoke)
	c.key("user_id", in.UserID, MaxAddressLen, false)
	if r := in.Referral; r != nil {
		c.line("referral.source_type", r.SourceType, MaxMediaFieldLen)
		c.key("referral.source_id", r.SourceID, MaxProviderIDLen, false)
		c.key("referral.source_url", r.SourceURL, MaxURLLen, false)
		c.text("referral.headline", r.Headline, MaxLocationTextLen, false)
		c.text("referral.body", r.Body, MaxTextLen, false)
		c.line("referral.media_type", r.MediaType, MaxMediaFieldLen)
		c.key("referral.media_url", r.MediaURL, MaxURLLen, false)
		c.key("referral.click_id", r.ClickID, MaxURLLen, false)
	}
	return c.result("inbound message")
}

// Event wraps the inbound message in its CloudEvents envelope.
func (in Inbound) Event(source string) (Event, error) {
	return NewEvent(in.EventID(), source, TypeInboundMessage, in.ContactKey(), in.ReceivedAt, in)
}

// Record encodes the inbound message as its CloudEvent record for topic,
// keyed by contact.
func (in Inbound) Record(source, topic string) (Message, error) {
	key := in.ContactKey()
	return EncodeRecord(topic, key, in.EventID(), source, TypeInboundMessage, key, in.ReceivedAt, in)
}

// ContactView is a contact as ticket events show it.
type ContactView struct {
	ID      int64   `json:"id"`
	Channel Channel `json:"channel"`
	Address string  `json:"address"`
	Name    string  `json:"name,omitempty"`
	// Language is the contact's language, which picks its auto-texts and
	// the templates offered (R34), and LanguageSource where it came from:
	// "profile" (set by a desk or ops), "channel" (the API channel's
	// language field), "number_prefix" (the department's mapping of number
	// prefixes), "department_default"; both empty while unknown.
	Language       string `json:"language,omitempty"`
	LanguageSource string `json:"language_source,omitempty"`
}

// ConversationView is a conversation's whole state after a change. Every
// ticket event carries one, so a desk can rebuild a conversation from its
// latest event alone.
type ConversationView struct {
	ID            int64       `json:"id"`
	Kind          string      `json:"kind"`  // live_chat or ticket
	State         string      `json:"state"` // unassigned, assigned, snoozed, closed, deleted
	Contact       ContactView `json:"contact"`
	CreatedAt     time.Time   `json:"created_at"`
	UpdatedAt     time.Time   `json:"updated_at"`
	LastMessageAt time.Time   `json:"last_message_at"`
	// LastInboundAt is the contact's last message; WhatsApp's 24-hour window runs from it.
	LastInboundAt time.Time `json:"last_inbound_at"`
	MessageCount  int       `json:"message_count"`
	// Department the conversation was routed to (R3), and the business
	// address the contact wrote to.
	Department      string `json:"department,omitempty"`
	BusinessAddress string `json:"business_address,omitempty"`
	// Intake is the leave-a-message session: "", "prompted" (waiting for
	// YES/NO, R6) or "leaving" (the contact is leaving messages, R7).
	Intake string `json:"intake,omitempty"`
	// WindowExpiresAt is when WhatsApp's 24-hour customer-service window
	// closes: 24 hours after the contact's last inbound message (R28).
	// Absent on channels without a window and before any inbound message.
	WindowExpiresAt *time.Time `json:"window_expires_at,omitempty"`
	ClosedAt        *time.Time `json:"closed_at,omitempty"`
	CloseReason     string     `json:"close_reason,omitempty"`
	// Due times of the conversation's timers, when set.
	PromptExpiresAt *time.Time `json:"prompt_expires_at,omitempty"`
	IntakeClosesAt  *time.Time `json:"intake_closes_at,omitempty"`
	SnoozedUntil    *time.Time `json:"snoozed_until,omitempty"`
	ArchiveAt       *time.Time `json:"archive_at,omitempty"`
	ArchivedAt      *time.Time `json:"archived_at,omitempty"`
	// The desk's view: the assigned agent and since when, who closed it,
	// whether agents have read the contact's last message, every agent who
	// worked on it, and when it (last) entered the unassigned queue.
	Assignee     string     `json:"assignee,omitempty"`
	AssignedAt   *time.Time `json:"assigned_at,omitempty"`
	ClosedBy     string     `json:"closed_by,omitempty"`
	Unread       bool       `json:"unread"`
	Participants []string   `json:"participants,omitempty"`
	QueuedAt     *time.Time `json:"queued_at,omitempty"`
	// ContactLeftAt is when the contact ended the live chat (R24); absent
	// unless it did and has not written again since.
	ContactLeftAt *time.Time `json:"contact_left_at,omitempty"`
}

// MessageView is one stored message as ticket events show it.
type MessageView struct {
	ID         int64     `json:"id"`
	Direction  string    `json:"direction"` // inbound or outbound
	ProviderID string    `json:"provider_id,omitempty"`
	Text       string    `json:"text"`
	SentAt     time.Time `json:"sent_at"`   // when the provider received it from the sender
	StoredAt   time.Time `json:"stored_at"` // when chatgate stored it
	Seq        int       `json:"seq"`       // 1-based position in the conversation
	// SentBy is who wrote an outbound message: "system" (chatgate's
	// auto-responder and other texts, R37), "phone" (the business's own
	// WhatsApp phone) or "agent:<id>"; empty for the contact's messages.
	SentBy string `json:"sent_by,omitempty"`
}

// TicketEvent is the data of every chatgate.ticket.* event: the conversation
// after the change, plus the message or reason the change is about.
type TicketEvent struct {
	Conversation ConversationView `json:"conversation"`
	Message      *MessageView     `json:"message,omitempty"`
	Reason       string           `json:"reason,omitempty"`
}

// Deadletter is the data of a chatgate.deadletter record: something a
// component could not handle, kept with the reason instead of dropped.
// Topic, Partition and Offset locate a consumed record; adapters that refuse
// a provider message before it reached Kafka leave them empty and put the
// message in Value.
type Deadletter struct {
	Topic     string `json:"topic,omitempty"`
	Partition int    `json:"partition"`
	Offset    int64  `json:"offset"`
	Key       string `json:"key"`
	Value     string `json:"value"`
	Reason    string `json:"reason"`
}

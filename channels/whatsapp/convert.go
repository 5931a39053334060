package whatsapp

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/chatgate/chatgate/gateway"
)

// SentByPhone is the SentBy of a PhoneMessage.
const SentByPhone = "phone"

// TypePhoneMessage is the CloudEvents type of a PhoneMessage record.
const TypePhoneMessage = "chatgate.whatsapp.phone_message"

// PhoneMessage is a message the business sent to a contact from its own
// WhatsApp phone (or another linked device), not through chatgate. It is
// published on the status topic, keyed by the contact, with type
// TypePhoneMessage: never on the outbound topic, which would send it again.
type PhoneMessage struct {
	Channel    gateway.Channel     `json:"channel"`
	ProviderID string              `json:"provider_id"` // the WhatsApp message id
	Contact    string              `json:"contact"`     // who it was sent to
	From       string              `json:"from,omitempty"`
	SentBy     string              `json:"sent_by"` // always "phone"
	Kind       gateway.InboundKind `json:"kind"`
	Text       string              `json:"text,omitempty"`
	Media      []gateway.Media     `json:"media,omitempty"`
	Location   *gateway.Location   `json:"location,omitempty"`
	Contacts   []string            `json:"contacts,omitempty"`
	Reaction   string              `json:"reaction,omitempty"`
	ReplyTo    string              `json:"reply_to,omitempty"`
	TargetID   string              `json:"target_id,omitempty"`
	SentAt     time.Time           `json:"sent_at"`
}

// ContactKey returns the Kafka key of the contact.
func (p PhoneMessage) ContactKey() string { return gateway.ContactKey(p.Channel, p.Contact) }

// EventID is deterministic per WhatsApp message.
func (p PhoneMessage) EventID() string { return "phone:" + string(p.Channel) + ":" + p.ProviderID }

// Record encodes the message as its CloudEvent record for topic, keyed by contact.
func (p PhoneMessage) Record(source, topic string) (gateway.Message, error) {
	key := p.ContactKey()
	return gateway.EncodeRecord(topic, key, p.EventID(), source, TypePhoneMessage, key, p.SentAt, p)
}

// Converted is the outcome of converting one whatsmeow message event:
// exactly one of Inbound and Phone is set, or neither and Skip says why.
type Converted struct {
	Inbound *gateway.Inbound
	Phone   *PhoneMessage
	Skip    string
	// Normalized names the record fields ("text", "contact_name", …) that
	// were changed to be stored at all (R38): see Converter.Message.
	Normalized []string
}

// Skip reasons.
const (
	SkipGroup       = "group"       // group chat, and groups are not enabled
	SkipBroadcast   = "broadcast"   // status updates, broadcast lists, newsletters
	SkipProtocol    = "protocol"    // key distribution, history sync, app state…
	SkipUnsupported = "unsupported" // polls, payments, calls… (logged, counted)
	SkipEmpty       = "empty"
)

// Converter turns whatsmeow events into gateway records. It does no I/O
// except media downloads through Media and LID lookups through LIDs.
type Converter struct {
	// Own is the business's own address (the paired number, "+E164"): the
	// To of inbound records and the From of phone messages.
	Own string
	// Groups admits group messages (From is the member, To "group:ID").
	// Off by default: chatgate serves one-to-one conversations.
	Groups bool
	// Media stores attachments; required for media messages.
	Media *MediaSaver
	// LIDs resolves senders known only by LID to phone numbers; optional.
	LIDs LIDResolver
	// Now stamps records whose event has no timestamp. Default time.Now.
	Now func() time.Time
}

var normalizedTotal = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "chatgate_whatsapp_normalized_total",
	Help: "WhatsApp message fields changed to be storable (R38), by record field.",
}, []string{"field"})

// Message converts one message event. An error is temporary (a failed
// download or lookup): the caller must not acknowledge the event.
//
// A WhatsApp message cannot be refused to the phone that sent it: whatever
// chatgate does not store is lost. So what the contact wrote is normalised
// into what a record may hold (R38, docs/whatsapp.md), and each change is
// named in Converted.Normalized and counted: texts, captions, button and
// location texts and vCards lose bytes that are not UTF-8 (replaced by
// U+FFFD) and the control characters other than tab, line feed and
// carriage return; the profile name, file names and content types become
// one line; texts over their limit are cut, marked with "…"; a quoted
// message id that cannot be one is dropped; more than gateway.MaxContacts
// shared contacts are cut to that many. What cannot be normalised without
// inventing content (a message id or target id that is not an id,
// coordinates that are not degrees, a vCard over its limit) is left as it
// came, for gateway.Inbound.Validate to refuse and Intake to dead-letter.
func (c *Converter) Message(ctx context.Context, evt *events.Message) (Converted, error) {
	info := evt.Info
	switch {
	case info.Chat.Server == types.BroadcastServer || info.Chat.Server == types.NewsletterServer:
		return Converted{Skip: SkipBroadcast}, nil
	case (info.IsGroup || info.Chat.Server == types.GroupServer) && !c.Groups:
		return Converted{Skip: SkipGroup}, nil
	case evt.Message == nil:
		return Converted{Skip: SkipEmpty}, nil
	}

	var in gateway.Inbound
	var norm normalizer
	skip, err := c.content(ctx, info.ID, evt.Message, &in, &norm)
	if err != nil || skip != "" {
		return Converted{Skip: skip}, err
	}
	in.Channel = gateway.ChannelWhatsApp
	in.ProviderID = info.ID
	in.ReceivedAt = info.Timestamp.UTC()
	if in.ReceivedAt.IsZero() {
		now := time.Now
		if c.Now != nil {
			now = c.Now
		}
		in.ReceivedAt = now().UTC()
	}

	if info.IsFromMe {
		// Sent from the business's phone: the chat is the contact.
		contact, err := resolveAddress(ctx, info.Chat, info.RecipientAlt, c.LIDs)
		if err != nil {
			return Converted{}, fmt.Errorf("address of chat: %w", err)
		}
		return Converted{Phone: &PhoneMessage{
			Channel: in.Channel, ProviderID: in.ProviderID, Contact: contact, From: c.Own,
			SentBy: SentByPhone, Kind: in.EffectiveKind(), Text: in.Text, Media: in.Media,
			Location: in.Location, Contacts: in.Contacts, Reaction: in.Reaction,
			ReplyTo: in.ReplyTo, TargetID: in.TargetID, SentAt: in.ReceivedAt,
		}, Normalized: norm.done()}, nil
	}

	from, err := resolveAddress(ctx, info.Sender, info.SenderAlt, c.LIDs)
	if err != nil {
		return Converted{}, fmt.Errorf("address of sender: %w", err)
	}
	in.From = from
	in.To = c.Own
	if info.IsGroup {
		in.To = "group:" + info.Chat.User
	}
	in.ContactName = norm.line("contact_name", info.PushName, gateway.MaxContactNameLen)
	return Converted{Inbound: &in, Normalized: norm.done()}, nil
}

// normalizer applies the normal forms of Converter.Message and remembers
// which fields it changed.
type normalizer struct {
	fields []string
}

func (n *normalizer) changed(field string) {
	if !slices.Contains(n.fields, field) {
		n.fields = append(n.fields, field)
	}
}

// text is a text field's normal form: storable, then cut to max.
func (n *normalizer) text(field, s string, max int) string {
	out, changed := gateway.NormalizeText(s)
	out = truncate(out, max)
	if changed || out != s {
		n.changed(field)
	}
	return out
}

// line is a one-line field's normal form, cut to max.
func (n *normalizer) line(field, s string, max int) string {
	out, _ := gateway.NormalizeLine(s, math.MaxInt)
	out = truncate(out, max)
	if out != s {
		n.changed(field)
	}
	return out
}

// ref is a reference to another message (a quoted one): dropped when it
// cannot be a message id, since it only links the two.
func (n *normalizer) ref(field, id string) string {
	if gateway.CheckKey(id, gateway.MaxProviderIDLen) != "" {
		n.changed(field)
		return ""
	}
	return id
}

func (n *normalizer) done() []string {
	for _, f := range n.fields {
		normalizedTotal.WithLabelValues(f).Inc()
	}
	return n.fields
}

// content fills the kind-specific fields of in from msg, in their normal
// forms (Message).
func (c *Converter) content(ctx context.Context, id string, msg *waE2E.Message, in *gateway.Inbound, norm *normalizer) (skip string, err error) {
	text := func(s string) string { return norm.text("text", s, gateway.MaxTextLen) }
	quote := func(ci *waE2E.ContextInfo) string { return norm.ref("reply_to", ci.GetStanzaID()) }
	media := func(m mediaInfo, caption, fileName string, ci *waE2E.ContextInfo) (string, error) {
		ref, err := c.Media.save(ctx, id, m, fileName)
		if err != nil {
			return "", err
		}
		ref.FileName = norm.line("media[0].file_name", ref.FileName, gateway.MaxMediaFieldLen)
		ref.ContentType = norm.line("media[0].content_type", ref.ContentType, gateway.MaxMediaFieldLen)
		in.Kind, in.Text, in.Media = gateway.KindMedia, text(caption), []gateway.Media{ref}
		in.ReplyTo = quote(ci)
		return "", nil
	}
	switch {
	case msg.GetProtocolMessage() != nil:
		pm := msg.GetProtocolMessage()
		switch pm.GetType() {
		case waE2E.ProtocolMessage_REVOKE:
			in.Kind, in.TargetID = gateway.KindRevoke, pm.GetKey().GetID()
		case waE2E.ProtocolMessage_MESSAGE_EDIT:
			in.Kind, in.TargetID, in.Text = gateway.KindEdit, pm.GetKey().GetID(), text(plainText(pm.GetEditedMessage()))
			if in.Text == "" {
				return SkipUnsupported, nil // an edit of something without text
			}
		default:
			return SkipProtocol, nil
		}
		if in.TargetID == "" {
			return SkipEmpty, nil
		}
	case msg.GetReactionMessage() != nil:
		r := msg.GetReactionMessage()
		in.Kind, in.TargetID = gateway.KindReaction, r.GetKey().GetID()
		in.Reaction = norm.line("reaction", r.GetText(), gateway.MaxReactionLen)
		if in.TargetID == "" {
			return SkipEmpty, nil
		}
	case msg.Conversation != nil:
		in.Kind, in.Text = gateway.KindText, text(msg.GetConversation())
	case msg.GetExtendedTextMessage() != nil:
		m := msg.GetExtendedTextMessage()
		in.Kind, in.Text, in.ReplyTo = gateway.KindText, text(m.GetText()), quote(m.GetContextInfo())
	case msg.GetImageMessage() != nil:
		m := msg.GetImageMessage()
		return media(m, m.GetCaption(), "", m.GetContextInfo())
	case msg.GetVideoMessage() != nil:
		m := msg.GetVideoMessage()
		return media(m, m.GetCaption(), "", m.GetContextInfo())
	case msg.GetPtvMessage() != nil:
		m := msg.GetPtvMessage()
		return media(m, m.GetCaption(), "", m.GetContextInfo())
	case msg.GetAudioMessage() != nil:
		m := msg.GetAudioMessage()
		return media(m, "", "", m.GetContextInfo())
	case msg.GetDocumentMessage() != nil:
		m := msg.GetDocumentMessage()
		name := m.GetFileName()
		if name == "" {
			name = m.GetTitle()
		}
		return media(m, m.GetCaption(), name, m.GetContextInfo())
	case msg.GetStickerMessage() != nil:
		m := msg.GetStickerMessage()
		return media(m, "", "", m.GetContextInfo())
	case msg.GetLocationMessage() != nil:
		m := msg.GetLocationMessage()
		in.Kind = gateway.KindLocation
		in.Location = &gateway.Location{Latitude: m.GetDegreesLatitude(), Longitude: m.GetDegreesLongitude(),
			Name:    norm.text("location.name", m.GetName(), gateway.MaxLocationTextLen),
			Address: norm.text("location.address", m.GetAddress(), gateway.MaxLocationTextLen)}
		in.ReplyTo = quote(m.GetContextInfo())
	case msg.GetLiveLocationMessage() != nil:
		m := msg.GetLiveLocationMessage()
		in.Kind, in.Text = gateway.KindLocation, text(m.GetCaption())
		in.Location = &gateway.Location{Latitude: m.GetDegreesLatitude(), Longitude: m.GetDegreesLongitude()}
		in.ReplyTo = quote(m.GetContextInfo())
	case msg.GetContactMessage() != nil:
		m := msg.GetContactMessage()
		in.Kind, in.Contacts = gateway.KindContacts, []string{vcard(norm, m.GetVcard())}
		in.ReplyTo = quote(m.GetContextInfo())
	case msg.GetContactsArrayMessage() != nil:
		m := msg.GetContactsArrayMessage()
		in.Kind = gateway.KindContacts
		for _, cm := range m.GetContacts() {
			if v := cm.GetVcard(); v != "" {
				in.Contacts = append(in.Contacts, vcard(norm, v))
			}
		}
		if len(in.Contacts) == 0 {
			return SkipEmpty, nil
		}
		if len(in.Contacts) > gateway.MaxContacts {
			in.Contacts = in.Contacts[:gateway.MaxContacts]
			norm.changed("contacts")
		}
		in.ReplyTo = quote(m.GetContextInfo())
	case msg.GetButtonsResponseMessage() != nil:
		m := msg.GetButtonsResponseMessage()
		in.Kind, in.Text = gateway.KindButton, text(m.GetSelectedDisplayText())
		in.Button = &gateway.Button{Text: in.Text, Payload: payload(norm, m.GetSelectedButtonID())}
		in.ReplyTo = quote(m.GetContextInfo())
	case msg.GetTemplateButtonReplyMessage() != nil:
		m := msg.GetTemplateButtonReplyMessage()
		in.Kind, in.Text = gateway.KindButton, text(m.GetSelectedDisplayText())
		in.Button = &gateway.Button{Text: in.Text, Payload: payload(norm, m.GetSelectedID())}
		in.ReplyTo = quote(m.GetContextInfo())
	case msg.GetListResponseMessage() != nil:
		m := msg.GetListResponseMessage()
		in.Kind, in.Text = gateway.KindButton, text(m.GetTitle())
		in.Button = &gateway.Button{Text: in.Text, Payload: payload(norm, m.GetSingleSelectReply().GetSelectedRowID())}
		in.ReplyTo = quote(m.GetContextInfo())
	case msg.GetSenderKeyDistributionMessage() != nil || msg.GetMessageContextInfo() != nil && isOnlyContextInfo(msg):
		return SkipProtocol, nil
	default:
		return SkipUnsupported, nil
	}
	if in.Kind == gateway.KindButton && in.Text == "" {
		in.Text = in.Button.Payload
		in.Button.Text = in.Text
		if in.Text == "" {
			return SkipEmpty, nil
		}
	}
	if in.Kind == gateway.KindText && in.Text == "" {
		return SkipEmpty, nil
	}
	return "", nil
}

// vcard is a shared contact's normal form: storable, but never cut, since
// a cut vCard is a broken one (an over-long one is refused by Validate).
func vcard(norm *normalizer, v string) string {
	out, changed := gateway.NormalizeText(v)
	if changed {
		norm.changed("contacts")
	}
	return out
}

func payload(norm *normalizer, p string) string {
	return norm.text("button.payload", p, gateway.MaxButtonPayloadLen)
}

// plainText is the text of a text message, or the caption of a media one.
func plainText(msg *waE2E.Message) string {
	switch {
	case msg == nil:
		return ""
	case msg.Conversation != nil:
		return msg.GetConversation()
	case msg.GetExtendedTextMessage() != nil:
		return msg.GetExtendedTextMessage().GetText()
	case msg.GetImageMessage() != nil:
		return msg.GetImageMessage().GetCaption()
	case msg.GetVideoMessage() != nil:
		return msg.GetVideoMessage().GetCaption()
	case msg.GetDocumentMessage() != nil:
		return msg.GetDocumentMessage().GetCaption()
	}
	return ""
}

// isOnlyContextInfo reports a message that carries nothing but
// MessageContextInfo (e.g. a bare message-secret update).
func isOnlyContextInfo(msg *waE2E.Message) bool {
	clone := proto.Clone(msg).(*waE2E.Message)
	clone.MessageContextInfo = nil
	return proto.Size(clone) == 0
}

// truncate shortens s to max runes, marking the cut with "…"; WhatsApp
// allows longer texts than chatgate's records.
func truncate(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return string(r[:max-1]) + "…"
}

// Receipt converts a receipt event into one status per message id:
// delivered, read, and played (a voice note listened to) as read with
// ProviderStatus "played". Receipts of other kinds (read-self, retry,
// sender, …) and receipts in groups return nothing.
func (c *Converter) Receipt(ctx context.Context, evt *events.Receipt) ([]gateway.Status, error) {
	var st gateway.DeliveryStatus
	var providerStatus string
	switch evt.Type {
	case types.ReceiptTypeDelivered:
		st, providerStatus = gateway.StatusDelivered, "delivered"
	case types.ReceiptTypeRead:
		st, providerStatus = gateway.StatusRead, "read"
	case types.ReceiptTypePlayed:
		st, providerStatus = gateway.StatusRead, "played"
	default:
		return nil, nil
	}
	if evt.IsGroup || evt.IsFromMe || evt.Chat.Server == types.BroadcastServer || evt.Chat.Server == types.NewsletterServer {
		return nil, nil
	}
	contact, err := resolveAddress(ctx, evt.Chat, evt.SenderAlt, c.LIDs)
	if err != nil {
		return nil, fmt.Errorf("address of receipt chat: %w", err)
	}
	at := evt.Timestamp.UTC()
	if at.IsZero() {
		now := time.Now
		if c.Now != nil {
			now = c.Now
		}
		at = now().UTC()
	}
	out := make([]gateway.Status, 0, len(evt.MessageIDs))
	for _, id := range evt.MessageIDs {
		if gateway.CheckKey(id, gateway.MaxProviderIDLen) != "" || id == "" {
			continue // no message of chatgate has that id
		}
		out = append(out, gateway.Status{
			Channel: gateway.ChannelWhatsApp, Contact: contact, ProviderID: id,
			Status: st, ProviderStatus: providerStatus, At: at,
		})
	}
	return out, nil
}

package cloudapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/httpapi"
)

// MediaRefPrefix starts the URL of an inbound attachment in a record: the
// Graph API media id after it ("cloudapi-media:1234567890"). Records carry
// no bytes; Client.DownloadMedia fetches them by that id (Meta keeps them
// for 30 days). An outbound MediaURLs entry of this form is sent by id.
const MediaRefPrefix = "cloudapi-media:"

// callbackPrefix marks the biz_opaque_callback_data chatgate sets on every
// send: the request id after it. Meta echoes it in the send's statuses, so
// a status is tied to its request even before the send's id is recorded.
const callbackPrefix = "chatgate:"

// Error codes of the webhook's JSON error answers, beside httpapi's
// CodeBodyTooLarge (413), CodeUnsupportedMediaType (415), CodeUnavailable
// (503) and CodeInternal (500).
const (
	// CodeInvalidSignature: X-Hub-Signature-256 is missing, malformed or
	// does not match the body (403).
	CodeInvalidSignature = "invalid_signature"
	// CodeInvalidVerifyToken: the GET handshake's hub.verify_token is not
	// the configured one (403).
	CodeInvalidVerifyToken = "invalid_verify_token"
	// CodeInvalidHandshake: the GET handshake lacks hub.mode=subscribe or
	// hub.challenge, or the challenge is not printable (400).
	CodeInvalidHandshake = "invalid_handshake"
	// CodeInvalidWebhook: the body is not a Cloud API webhook: not JSON,
	// not UTF-8, another object, or fields of the wrong type (400).
	CodeInvalidWebhook = "invalid_webhook"
	// CodeInvalidMessage: a message, status or template update in it has
	// missing or malformed fields; details name them (400).
	CodeInvalidMessage = "invalid_message"
)

// Reasons of Skipped entries: what a webhook carried that is not stored.
const (
	SkipGroup     = "group"      // a message in a group chat: chatgate serves one-to-one conversations
	SkipDuplicate = "duplicate"  // the same message id again in one webhook
	SkipStatus    = "status"     // a status chatgate does not track (deleted, unknown ones)
	SkipSystem    = "system"     // system notices (number changed), welcome requests
	SkipField     = "field"      // a webhook field other than messages and message_template_status_update
	SkipMetaError = "meta_error" // an error Meta reports about the webhook itself (no message)
	SkipEmpty     = "empty"      // a messages change with nothing in it
)

// Limits of the webhook's answers; what a webhook may carry is bounded by
// gateway's limits.
const (
	maxProblems    = 20  // problems listed in one 400
	maxUnsupported = 256 // the text standing for an unsupported message
)

// Batch is what one webhook carries, checked and converted to records.
type Batch struct {
	Inbound         []gateway.Inbound
	Statuses        []gateway.Status
	TemplateUpdates []TemplateStatusUpdate
	// Skipped lists what was not converted, with the reason, in order.
	Skipped []Skipped
}

// Skipped is one part of a webhook that is not stored.
type Skipped struct {
	Path   string // JSON path in the webhook: "entry[0].changes[0].value.messages[1]"
	Reason string // one of the Skip… reasons
	Detail string // for logs: the status, field or Meta error; no phone numbers or texts
}

// ParseWebhook checks a webhook body (after its signature was checked) and
// converts it. Numbers of cfg give the To of inbound records. Errors are
// *httpapi.Error (400 CodeInvalidWebhook or CodeInvalidMessage, with
// details naming the fields): nothing of a webhook is stored when any part
// of it is malformed, so Meta's retry (or an operator) sees the whole of it.
func ParseWebhook(body []byte, cfg Config) (Batch, error) {
	if at, what := checkRawJSON(body); at >= 0 {
		return Batch{}, invalidWebhook(fmt.Sprintf("the body has %s at byte offset %d", what, at))
	}
	var wb webhookBody
	if err := decodeStrictJSON(body, &wb); err != nil {
		return Batch{}, err
	}
	if wb.Object != "whatsapp_business_account" {
		return Batch{}, invalidWebhook(fmt.Sprintf("object %q is not whatsapp_business_account", clip(wb.Object, 64)))
	}
	p := &parser{cfg: cfg}
	for i, e := range wb.Entry {
		for j, c := range e.Changes {
			p.change(fmt.Sprintf("entry[%d].changes[%d]", i, j), e.ID, c)
		}
	}
	if len(p.problems) > 0 {
		return Batch{}, &httpapi.Error{Status: http.StatusBadRequest, Code: CodeInvalidMessage,
			Message: "the webhook has malformed or missing fields; nothing of it was stored", Details: p.problems}
	}
	return p.out, nil
}

func invalidWebhook(msg string) error {
	return &httpapi.Error{Status: http.StatusBadRequest, Code: CodeInvalidWebhook, Message: msg}
}

// decodeStrictJSON decodes one JSON value; json.Unmarshal itself refuses
// anything but white space after it.
func decodeStrictJSON(body []byte, dst any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return invalidWebhook("the body is empty")
	}
	if err := json.Unmarshal(body, dst); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return invalidWebhook(fmt.Sprintf("malformed JSON at byte offset %d: %v", syn.Offset, syn))
		case errors.As(err, &typ) && typ.Field != "":
			field := strings.NewReplacer(".messagesValue", "", ".templateStatusValue", "").Replace(typ.Field)
			return invalidWebhook(fmt.Sprintf("field %s must be %s, not the JSON %s", field, jsonKind(typ.Type.Kind().String()), typ.Value))
		case errors.As(err, &typ):
			return invalidWebhook("the body must be a JSON object, not " + typ.Value)
		}
		return invalidWebhook("malformed JSON: " + err.Error())
	}
	return nil
}

type parser struct {
	cfg      Config
	out      Batch
	problems []httpapi.ErrorDetail
	seen     map[string]bool // message ids of this webhook
}

func (p *parser) problem(field, format string, args ...any) {
	if len(p.problems) < maxProblems {
		p.problems = append(p.problems, httpapi.ErrorDetail{Field: field, Message: fmt.Sprintf(format, args...)})
	}
}

func (p *parser) skip(path, reason, detail string) {
	p.out.Skipped = append(p.out.Skipped, Skipped{Path: path, Reason: reason, Detail: detail})
}

// check records the problem of a checked value, if any, as the problem of
// path+field: joined only then, since a webhook is mostly fine.
func (p *parser) check(path, field, problem string) bool {
	if problem != "" {
		p.problem(path+field, "%s", problem)
		return false
	}
	return true
}

func (p *parser) change(path, wabaID string, c change) {
	switch c.Field {
	case "messages":
		if c.Value == nil {
			p.problem(path+".value", "is required")
			return
		}
		p.messages(path+".value", c.Value.messagesValue)
	case "message_template_status_update":
		if c.Value == nil {
			p.problem(path+".value", "is required")
			return
		}
		if u, ok := p.templateStatus(path+".value", wabaID, c.Value.templateStatusValue); ok {
			p.out.TemplateUpdates = append(p.out.TemplateUpdates, u)
		}
	default:
		p.skip(path, SkipField, clip(c.Field, 64))
	}
}

// jsonKind names a Go kind in JSON words.
func jsonKind(kind string) string {
	switch {
	case kind == "string":
		return "a string"
	case kind == "bool":
		return "a boolean"
	case strings.HasPrefix(kind, "int"), strings.HasPrefix(kind, "uint"), strings.HasPrefix(kind, "float"):
		return "a number (in range)"
	case kind == "slice", kind == "array":
		return "an array"
	}
	return "an object"
}

func (p *parser) messages(path string, v messagesValue) {
	if len(v.Messages) == 0 && len(v.Statuses) == 0 && len(v.Errors) == 0 {
		p.skip(path, SkipEmpty, "")
		return
	}
	for i, e := range v.Errors {
		p.skip(fmt.Sprintf("%s.errors[%d]", path, i), SkipMetaError, clip(fmt.Sprintf("%d %s", e.Code, e.Title), 200))
	}
	if len(v.Messages) == 0 && len(v.Statuses) == 0 {
		return
	}
	to := p.businessAddress(path+".metadata", v.Metadata)
	for i, m := range v.Messages {
		mp := fmt.Sprintf("%s.messages[%d]", path, i)
		if in, ok := p.message(mp, m, v.Contacts, to); ok {
			p.out.Inbound = append(p.out.Inbound, in)
		}
	}
	for i, s := range v.Statuses {
		if st, ok := p.status(fmt.Sprintf("%s.statuses[%d]", path, i), s); ok {
			p.out.Statuses = append(p.out.Statuses, st)
		}
	}
}

// businessAddress is the To of the change's messages: the configured
// Address of its phone_number_id, else the display number in E.164, else
// the phone_number_id.
func (p *parser) businessAddress(path string, md metadata) string {
	if md.PhoneNumberID == "" {
		p.problem(path+".phone_number_id", "is required")
		return ""
	}
	if !isGraphID(md.PhoneNumberID) {
		p.problem(path+".phone_number_id", "is not a Graph API id (digits)")
		return ""
	}
	if n, ok := p.cfg.Number(md.PhoneNumberID); ok && n.Address != "" {
		return n.Address
	}
	if md.DisplayPhoneNumber != "" {
		if a, err := normalizeBusinessNumber(md.DisplayPhoneNumber); err == nil {
			return a
		}
	}
	return md.PhoneNumberID
}

func (p *parser) message(path string, m waMessage, contacts []waContact, to string) (gateway.Inbound, bool) {
	if m.GroupID != "" {
		p.skip(path, SkipGroup, "")
		return gateway.Inbound{}, false
	}
	switch m.Type {
	case "system", "request_welcome":
		p.skip(path, SkipSystem, m.Type)
		return gateway.Inbound{}, false
	}
	before := len(p.problems)
	in := gateway.Inbound{Channel: gateway.ChannelWhatsApp, ProviderID: m.ID, To: to}
	if m.ID == "" {
		p.problem(path+".id", "is required")
	} else {
		p.check(path, ".id", gateway.CheckKey(m.ID, gateway.MaxProviderIDLen))
	}
	switch {
	case m.From != "":
		a, err := contactAddress(m.From)
		if err != nil {
			p.problem(path+".from", "%v", err)
		}
		in.From = a
	case m.FromUserID != "":
		if !isBSUID(m.FromUserID) {
			p.problem(path+".from_user_id", "%q is not a business-scoped user id", gateway.Mask(m.FromUserID))
		}
		in.From = m.FromUserID
	default:
		p.problem(path+".from", "is required (or from_user_id)")
	}
	if uid := m.FromUserID; isBSUID(uid) && uid != in.From {
		in.UserID = uid
	}
	if c, ok := contactOf(contacts, m); ok {
		in.ContactName, _ = gateway.NormalizeLine(c.Profile.Name, gateway.MaxContactNameLen)
		if in.UserID == "" && isBSUID(c.UserID) && c.UserID != in.From {
			in.UserID = c.UserID
		}
	}
	at, err := unixTime(m.Timestamp)
	if err != nil {
		p.problem(path+".timestamp", "%v", err)
	}
	in.ReceivedAt = at
	if m.Context != nil && m.Context.ID != "" {
		if p.check(path, ".context.id", gateway.CheckKey(m.Context.ID, gateway.MaxProviderIDLen)) {
			in.ReplyTo = m.Context.ID
		}
	}
	if m.Referral != nil {
		in.Referral = p.referral(path+".referral", m.Referral)
	}
	p.content(path, m, &in)
	if len(p.problems) > before {
		return gateway.Inbound{}, false
	}
	if err := in.Validate(); err != nil {
		p.problem(path, "%v", err)
		return gateway.Inbound{}, false
	}
	if p.seen[in.ProviderID] {
		p.skip(path, SkipDuplicate, in.ProviderID)
		return gateway.Inbound{}, false
	}
	if p.seen == nil {
		p.seen = map[string]bool{}
	}
	p.seen[in.ProviderID] = true
	return in, true
}

// contactOf finds the contacts entry of a message's sender.
func contactOf(contacts []waContact, m waMessage) (waContact, bool) {
	for _, c := range contacts {
		if (m.From != "" && (c.WaID == m.From || c.UserID == m.From)) || (m.FromUserID != "" && c.UserID == m.FromUserID) {
			return c, true
		}
	}
	if len(contacts) == 1 {
		return contacts[0], true
	}
	return waContact{}, false
}

// content fills the kind-specific fields of in.
func (p *parser) content(path string, m waMessage, in *gateway.Inbound) {
	text := func(base, field, v string, required bool) string {
		v = said(v)
		if required && v == "" {
			p.problem(base+field, "is required")
			return ""
		}
		p.check(base, field, gateway.CheckText(v, gateway.MaxTextLen))
		return v
	}
	media := func(field string, md *waMedia) {
		if md == nil {
			p.problem(field, "is required for a message of type %s", m.Type)
			return
		}
		switch {
		case md.ID == "":
			p.problem(field+".id", "is required")
		case !p.check(field, ".id", gateway.CheckKey(md.ID, gateway.MaxURLLen-len(MediaRefPrefix))):
		}
		p.check(field, ".mime_type", gateway.CheckLine(md.MimeType, gateway.MaxMediaFieldLen))
		p.check(field, ".sha256", gateway.CheckLine(md.SHA256, gateway.MaxMediaFieldLen))
		fileName, _ := gateway.NormalizeLine(md.Filename, gateway.MaxMediaFieldLen)
		in.Kind = gateway.KindMedia
		in.Text = text(field, ".caption", md.Caption, false)
		in.Media = []gateway.Media{{URL: MediaRefPrefix + md.ID, ContentType: md.MimeType, FileName: fileName, SHA256: md.SHA256}}
	}
	switch m.Type {
	case "text":
		if m.Text == nil {
			p.problem(path+".text", "is required for a message of type text")
			return
		}
		in.Kind = gateway.KindText
		in.Text = text(path, ".text.body", m.Text.Body, true)
	case "image":
		media(path+".image", m.Image)
	case "video":
		media(path+".video", m.Video)
	case "audio":
		media(path+".audio", m.Audio)
	case "voice":
		// The on-premises API's voice notes; the Cloud API sends them as
		// audio with voice true.
		media(path+".voice", m.Voice)
	case "document":
		media(path+".document", m.Document)
	case "sticker":
		media(path+".sticker", m.Sticker)
	case "location":
		l := m.Location
		if l == nil {
			p.problem(path+".location", "is required for a message of type location")
			return
		}
		if field, problem := gateway.CheckCoordinates(l.Latitude, l.Longitude); problem != "" {
			p.problem(path+".location."+field, "%s", problem)
		}
		name, address := said(l.Name), said(l.Address)
		p.check(path, ".location.name", gateway.CheckText(name, gateway.MaxLocationTextLen))
		p.check(path, ".location.address", gateway.CheckText(address, gateway.MaxLocationTextLen))
		in.Kind = gateway.KindLocation
		in.Location = &gateway.Location{Latitude: l.Latitude, Longitude: l.Longitude, Name: name, Address: address}
	case "contacts":
		if len(m.Contacts) == 0 {
			p.problem(path+".contacts", "is required for a message of type contacts")
			return
		}
		if len(m.Contacts) > gateway.MaxContacts {
			p.problem(path+".contacts", "has %d contacts, at most %d allowed", len(m.Contacts), gateway.MaxContacts)
			return
		}
		in.Kind = gateway.KindContacts
		for i, c := range m.Contacts {
			card := said(vCard(c))
			if p.check(fmt.Sprintf("%s.contacts[%d]", path, i), "", gateway.CheckText(card, gateway.MaxVCardLen)) {
				in.Contacts = append(in.Contacts, card)
			}
		}
	case "reaction":
		r := m.Reaction
		if r == nil || r.MessageID == "" {
			p.problem(path+".reaction.message_id", "is required for a message of type reaction")
			return
		}
		p.check(path, ".reaction.message_id", gateway.CheckKey(r.MessageID, gateway.MaxProviderIDLen))
		emoji, _ := gateway.NormalizeLine(r.Emoji, gateway.MaxReactionLen)
		in.Kind, in.TargetID, in.Reaction = gateway.KindReaction, r.MessageID, emoji
	case "button":
		// A quick-reply button of a template: text is its label, payload
		// what the template set.
		b := m.Button
		if b == nil {
			p.problem(path+".button", "is required for a message of type button")
			return
		}
		label, payload := said(firstNonEmpty(b.Text, b.Payload)), said(b.Payload)
		in.Kind, in.Text = gateway.KindButton, text(path, ".button.text", label, true)
		p.check(path, ".button.payload", gateway.CheckText(payload, gateway.MaxButtonPayloadLen))
		in.Button = &gateway.Button{Text: in.Text, Payload: payload}
	case "interactive":
		p.interactive(path+".interactive", m, in)
	default:
		// "unsupported" (a message kind the Cloud API does not deliver: a
		// poll, a deleted message, a view-once photo), and kinds chatgate
		// does not model (order). The contact did write: keep a text that
		// tells the agent so, with Meta's reason.
		in.Kind = gateway.KindText
		in.Text = unsupportedText(m)
	}
}

func (p *parser) interactive(path string, m waMessage, in *gateway.Inbound) {
	it := m.Interactive
	if it == nil {
		p.problem(path, "is required for a message of type interactive")
		return
	}
	reply := func(field string, r *replyRef) {
		if r == nil {
			p.problem(field, "is required for an interactive reply of type %s", it.Type)
			return
		}
		label, id := said(firstNonEmpty(r.Title, r.ID)), said(r.ID)
		if label == "" {
			p.problem(field+".title", "is required")
			return
		}
		p.check(field, ".title", gateway.CheckText(label, gateway.MaxTextLen))
		p.check(field, ".id", gateway.CheckText(id, gateway.MaxButtonPayloadLen))
		in.Kind, in.Text = gateway.KindButton, label
		in.Button = &gateway.Button{Text: label, Payload: id}
	}
	switch it.Type {
	case "button_reply":
		reply(path+".button_reply", it.ButtonReply)
	case "list_reply":
		reply(path+".list_reply", it.ListReply)
	case "nfm_reply":
		// A completed WhatsApp Flow: body is the text the contact saw on
		// the button ("Sent"), response_json the form's answers, kept as
		// the payload when it is a JSON object.
		r := it.NFMReply
		if r == nil {
			p.problem(path+".nfm_reply", "is required for an interactive reply of type nfm_reply")
			return
		}
		label := said(firstNonEmpty(r.Body, r.Name, "Flow completed"))
		p.check(path, ".nfm_reply.body", gateway.CheckText(label, gateway.MaxTextLen))
		payload := ""
		if raw := strings.TrimSpace(r.ResponseJSON); strings.HasPrefix(raw, "{") && json.Valid([]byte(raw)) {
			payload = said(raw)
		}
		p.check(path, ".nfm_reply.response_json", gateway.CheckText(payload, gateway.MaxButtonPayloadLen))
		in.Kind, in.Text = gateway.KindButton, label
		in.Button = &gateway.Button{Text: label, Payload: payload}
	default:
		in.Kind = gateway.KindText
		in.Text = clip(fmt.Sprintf("[WhatsApp: unsupported interactive reply %q]", it.Type), maxUnsupported)
	}
}

// unsupportedText is the text of a message chatgate cannot represent.
func unsupportedText(m waMessage) string {
	var b strings.Builder
	b.WriteString("[WhatsApp: unsupported message")
	if m.Type != "" && m.Type != "unsupported" {
		fmt.Fprintf(&b, " of type %q", clip(m.Type, 32))
	}
	if len(m.Errors) > 0 {
		e := m.Errors[0]
		reason := firstNonEmpty(e.ErrorData.Details, e.Details, e.Title, e.Message)
		fmt.Fprintf(&b, ": %s (code %d)", clip(reason, 160), e.Code)
	}
	b.WriteString("]")
	s, _ := gateway.NormalizeText(b.String())
	return clip(s, maxUnsupported)
}

func (p *parser) referral(path string, r *waReferral) *gateway.Referral {
	ref := &gateway.Referral{
		SourceType: r.SourceType, SourceID: r.SourceID, SourceURL: r.SourceURL,
		Headline: said(r.Headline), Body: said(r.Body), MediaType: r.MediaType,
		MediaURL: firstNonEmpty(r.ImageURL, r.VideoURL), ClickID: r.CTWAClid,
	}
	p.check(path, ".source_type", gateway.CheckLine(ref.SourceType, gateway.MaxMediaFieldLen))
	p.check(path, ".source_id", gateway.CheckKey(ref.SourceID, gateway.MaxProviderIDLen))
	p.check(path, ".source_url", gateway.CheckKey(ref.SourceURL, gateway.MaxURLLen))
	p.check(path, ".headline", gateway.CheckText(ref.Headline, gateway.MaxLocationTextLen))
	p.check(path, ".body", gateway.CheckText(ref.Body, gateway.MaxTextLen))
	p.check(path, ".media_type", gateway.CheckLine(ref.MediaType, gateway.MaxMediaFieldLen))
	p.check(path, ".image_url", gateway.CheckKey(ref.MediaURL, gateway.MaxURLLen))
	p.check(path, ".ctwa_clid", gateway.CheckKey(ref.ClickID, gateway.MaxURLLen))
	return ref
}

func (p *parser) status(path string, s waStatus) (gateway.Status, bool) {
	before := len(p.problems)
	var ds gateway.DeliveryStatus
	switch s.Status {
	case "sent":
		ds = gateway.StatusSent
	case "delivered":
		ds = gateway.StatusDelivered
	case "read":
		ds = gateway.StatusRead
	case "failed":
		ds = gateway.StatusFailed
	default:
		// "deleted" (the contact deleted the message), and whatever Meta
		// adds: not a delivery state. A receipt is not worth refusing the
		// webhook (and the messages in it) for.
		p.skip(path, SkipStatus, clip(s.Status, 32))
		return gateway.Status{}, false
	}
	st := gateway.Status{Channel: gateway.ChannelWhatsApp, ProviderID: s.ID, Status: ds, ProviderStatus: s.Status}
	if s.ID == "" {
		p.problem(path+".id", "is required")
	} else {
		p.check(path, ".id", gateway.CheckKey(s.ID, gateway.MaxProviderIDLen))
	}
	switch {
	case s.RecipientID != "":
		a, err := contactAddress(s.RecipientID)
		if err != nil {
			p.problem(path+".recipient_id", "%v", err)
		}
		st.Contact = a
	case isBSUID(s.RecipientUserID):
		st.Contact = s.RecipientUserID
	default:
		p.problem(path+".recipient_id", "is required (or recipient_user_id)")
	}
	at, err := unixTime(s.Timestamp)
	if err != nil {
		p.problem(path+".timestamp", "%v", err)
	}
	st.At = at
	if rid, ok := strings.CutPrefix(s.BizOpaqueCallbackData, callbackPrefix); ok && rid != "" && gateway.CheckKey(rid, gateway.MaxProviderIDLen) == "" {
		st.RequestID = rid
	}
	if len(s.Errors) > 0 {
		e := s.Errors[0]
		code, msg := describeMetaError(e.Code, firstNonEmpty(e.Title, e.Message), firstNonEmpty(e.ErrorData.Details, e.Details))
		msg, _ = gateway.NormalizeText(msg)
		st.ErrorCode, st.ErrorMessage = code, clip(msg, gateway.MaxErrorMessageLen)
	}
	st.Pricing = p.pricing(path, s)
	if len(p.problems) > before {
		return gateway.Status{}, false
	}
	if err := st.Validate(); err != nil {
		p.problem(path, "%v", err)
		return gateway.Status{}, false
	}
	return st, true
}

func (p *parser) pricing(path string, s waStatus) *gateway.Pricing {
	if s.Conversation == nil && s.Pricing == nil {
		return nil
	}
	var pr gateway.Pricing
	if c := s.Conversation; c != nil {
		pr.ConversationID, pr.ConversationOrigin = c.ID, c.Origin.Type
		p.check(path, ".conversation.id", gateway.CheckKey(c.ID, gateway.MaxProviderIDLen))
		p.check(path, ".conversation.origin.type", gateway.CheckLine(c.Origin.Type, gateway.MaxStatusFieldLen))
		if raw := strings.Trim(string(c.ExpirationTimestamp), `"`); raw != "" && raw != "null" {
			t, err := unixTime(raw)
			if err != nil {
				p.problem(path+".conversation.expiration_timestamp", "%v", err)
			} else {
				pr.ConversationExpiresAt = &t
			}
		}
	}
	if q := s.Pricing; q != nil {
		pr.Billable, pr.Model, pr.Category, pr.Type = q.Billable, q.PricingModel, q.Category, q.Type
		p.check(path, ".pricing.pricing_model", gateway.CheckLine(q.PricingModel, gateway.MaxStatusFieldLen))
		p.check(path, ".pricing.category", gateway.CheckLine(q.Category, gateway.MaxStatusFieldLen))
		p.check(path, ".pricing.type", gateway.CheckLine(q.Type, gateway.MaxStatusFieldLen))
	}
	return &pr
}

// unixTime parses Meta's timestamps: seconds since 1970 as a decimal string.
func unixTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("is required")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	// Up to the year 9999; anything else is not a time Meta sends.
	if err != nil || n <= 0 || n > 253402300799 {
		return time.Time{}, fmt.Errorf("%q is not a Unix time in seconds", clip(s, 32))
	}
	return time.Unix(n, 0).UTC(), nil
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// clip cuts s to at most n characters.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}

// said is what a contact wrote (or Meta relays from an ad), minus the
// control characters no text may hold: nobody could correct it, so the
// message is kept rather than refused (R38), as the other channels do.
func said(s string) string {
	out, _ := gateway.NormalizeText(s)
	return out
}

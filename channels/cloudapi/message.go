package cloudapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/url"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/sender"
)

// WhatsApp's limits on what one message carries, in characters.
const (
	maxTextBody          = 4096 // a text message
	maxCaption           = 1024 // a media caption
	maxInteractiveBody   = 1024
	maxInteractiveHeader = 60
	maxInteractiveFooter = 60
	maxReplyButtons      = 3
	maxButtonTitle       = 20
	maxButtonID          = 256
	maxListButton        = 20
	maxListSections      = 10
	maxListRows          = 10
	maxRowTitle          = 24
	maxRowDescription    = 72
	maxRowID             = 200
	maxSectionTitle      = 24
	maxCallbackData      = 512
)

// outMessage is the body of POST /{phone-number-id}/messages.
type outMessage struct {
	MessagingProduct string         `json:"messaging_product"`
	RecipientType    string         `json:"recipient_type"`
	To               string         `json:"to,omitempty"`
	Recipient        string         `json:"recipient,omitempty"` // a BSUID, instead of to
	Type             string         `json:"type"`
	Context          *outContext    `json:"context,omitempty"`
	Text             *outText       `json:"text,omitempty"`
	Image            *outMedia      `json:"image,omitempty"`
	Video            *outMedia      `json:"video,omitempty"`
	Audio            *outMedia      `json:"audio,omitempty"`
	Document         *outMedia      `json:"document,omitempty"`
	Sticker          *outMedia      `json:"sticker,omitempty"`
	Template         *waTemplate    `json:"template,omitempty"`
	Interactive      *waInteractive `json:"interactive,omitempty"`
	CallbackData     string         `json:"biz_opaque_callback_data,omitempty"`
}

type outContext struct {
	MessageID string `json:"message_id"`
}

type outText struct {
	Body       string `json:"body"`
	PreviewURL bool   `json:"preview_url"`
}

// outMedia is a media object: by Graph API id or by link.
type outMedia struct {
	ID       string `json:"id,omitempty"`
	Link     string `json:"link,omitempty"`
	Caption  string `json:"caption,omitempty"`
	Filename string `json:"filename,omitempty"`
}

// The template object of gateway.OutboundTemplate.WhatsApp, as the Cloud API
// takes it. Unknown fields are refused (DisallowUnknownFields): a
// parameter chatgate would drop must not be sent without it.
type waTemplate struct {
	Name       string        `json:"name"`
	Namespace  string        `json:"namespace,omitempty"`
	Language   waLanguage    `json:"language"`
	Components []waComponent `json:"components,omitempty"`
}

type waLanguage struct {
	Code   string `json:"code"`
	Policy string `json:"policy,omitempty"`
}

type waComponent struct {
	Type       string        `json:"type"`               // header, body, button
	SubType    string        `json:"sub_type,omitempty"` // quick_reply, url, copy_code, flow, catalog, …
	Index      flexIndex     `json:"index,omitempty"`
	Parameters []waParameter `json:"parameters,omitempty"`
}

// flexIndex is a button's index, which Meta's examples write as a string
// ("0") and clients often as a number; it is sent as a string.
type flexIndex string

func (f *flexIndex) UnmarshalJSON(b []byte) error {
	var n json.Number
	if err := json.Unmarshal(b, &n); err == nil {
		*f = flexIndex(n.String())
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("index must be a number or a string")
	}
	*f = flexIndex(s)
	return nil
}

type waParameter struct {
	Type          string          `json:"type"`
	ParameterName string          `json:"parameter_name,omitempty"`
	Text          string          `json:"text,omitempty"`
	Payload       string          `json:"payload,omitempty"`
	CouponCode    string          `json:"coupon_code,omitempty"`
	Image         *outMedia       `json:"image,omitempty"`
	Video         *outMedia       `json:"video,omitempty"`
	Document      *outMedia       `json:"document,omitempty"`
	Location      *waLocParam     `json:"location,omitempty"`
	Currency      json.RawMessage `json:"currency,omitempty"`
	DateTime      json.RawMessage `json:"date_time,omitempty"`
	Action        json.RawMessage `json:"action,omitempty"`
}

type waLocParam struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
	Name      string  `json:"name,omitempty"`
	Address   string  `json:"address,omitempty"`
}

// The interactive object of gateway.Outbound.Interactive: reply buttons or
// a list.
type waInteractive struct {
	Type   string     `json:"type"` // button or list
	Header *waIHeader `json:"header,omitempty"`
	Body   *waIText   `json:"body,omitempty"`
	Footer *waIText   `json:"footer,omitempty"`
	Action waIAction  `json:"action"`
}

type waIHeader struct {
	Type     string    `json:"type"` // text, image, video, document
	Text     string    `json:"text,omitempty"`
	Image    *outMedia `json:"image,omitempty"`
	Video    *outMedia `json:"video,omitempty"`
	Document *outMedia `json:"document,omitempty"`
}

type waIText struct {
	Text string `json:"text"`
}

type waIAction struct {
	Buttons  []waIButton  `json:"buttons,omitempty"`
	Button   string       `json:"button,omitempty"` // the list's button label
	Sections []waISection `json:"sections,omitempty"`
}

type waIButton struct {
	Type  string   `json:"type"` // reply
	Reply waIReply `json:"reply"`
}

type waIReply struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

type waISection struct {
	Title string   `json:"title,omitempty"`
	Rows  []waIRow `json:"rows"`
}

type waIRow struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
}

// mediaPart is one outbound attachment with its WhatsApp message type.
type mediaPart struct {
	kind  string // image, video, audio, document, sticker
	media outMedia
}

func (m mediaPart) captionable() bool {
	return m.kind == "image" || m.kind == "video" || m.kind == "document"
}

// build turns an outbound record into the messages to send, in order:
// attachments first (the text as the caption of the first one that takes
// one), then the text, split at WhatsApp's 4,096 characters; a template as
// one message with the attachment as its media header; an interactive
// message last, with an image, video or document as its header. Errors
// are permanent *sender.Error values naming the field.
func (p *Provider) build(out gateway.Outbound) ([]outMessage, error) {
	media := make([]mediaPart, 0, len(out.MediaURLs))
	for i, u := range out.MediaURLs {
		m, err := mediaOf(u)
		if err != nil {
			return nil, sender.Permanent(CodeInvalidMedia, fmt.Sprintf("media_urls[%d]: %v", i, err))
		}
		media = append(media, m)
	}
	switch {
	case out.Template != nil:
		t, err := buildTemplate(out.Template, media)
		if err != nil {
			return nil, err
		}
		return []outMessage{{Type: "template", Template: t}}, nil
	case len(out.Interactive) > 0:
		it, rest, err := buildInteractive(out.Interactive, out.Text, media)
		if err != nil {
			return nil, err
		}
		msgs := mediaMessages(rest)
		return append(msgs, outMessage{Type: "interactive", Interactive: it}), nil
	}
	text := out.Text
	if len(media) > 0 && media[0].captionable() && text != "" && utf8.RuneCountInString(text) <= maxCaption {
		media[0].media.Caption, text = text, ""
	}
	msgs := mediaMessages(media)
	for _, chunk := range splitText(text, maxTextBody) {
		msgs = append(msgs, outMessage{Type: "text", Text: &outText{Body: chunk, PreviewURL: !p.noPreview && hasLink(chunk)}})
	}
	if len(msgs) == 0 {
		return nil, sender.Permanent(CodeInvalidMedia, "nothing to send: no text, media, template or interactive message")
	}
	return msgs, nil
}

func mediaMessages(media []mediaPart) []outMessage {
	msgs := make([]outMessage, 0, len(media))
	for _, m := range media {
		om := outMessage{Type: m.kind}
		mm := m.media
		switch m.kind {
		case "image":
			om.Image = &mm
		case "video":
			om.Video = &mm
		case "audio":
			om.Audio = &mm
		case "sticker":
			om.Sticker = &mm
		default:
			om.Document = &mm
		}
		msgs = append(msgs, om)
	}
	return msgs
}

// mediaOf reads one outbound media URL: an http(s) link, typed by its
// extension (document when unknown), or a media reference
// "cloudapi-media:ID" with optional mime_type and filename query
// parameters ("cloudapi-media:123?mime_type=image/jpeg").
func mediaOf(raw string) (mediaPart, error) {
	if rest, ok := strings.CutPrefix(raw, MediaRefPrefix); ok {
		id, query, _ := strings.Cut(rest, "?")
		if !isGraphID(id) {
			return mediaPart{}, fmt.Errorf("%q is not a media reference (cloudapi-media: and a Graph API media id)", clip(raw, 64))
		}
		q, err := url.ParseQuery(query)
		if err != nil {
			return mediaPart{}, fmt.Errorf("media reference %s: malformed query", id)
		}
		kind := kindOfMIME(q.Get("mime_type"))
		m := mediaPart{kind: kind, media: outMedia{ID: id}}
		if kind == "document" {
			m.media.Filename = q.Get("filename")
		}
		return m, nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return mediaPart{}, fmt.Errorf("%q is neither an http(s) URL nor a media reference", clip(raw, 64))
	}
	ext := strings.ToLower(path.Ext(u.Path))
	kind := kindOfMIME(mime.TypeByExtension(ext))
	switch ext {
	case ".webp":
		kind = "sticker" // WhatsApp takes WebP only as stickers
	case ".opus", ".amr", ".aac", ".m4a", ".ogg":
		kind = "audio"
	case ".3gp":
		kind = "video"
	}
	m := mediaPart{kind: kind, media: outMedia{Link: raw}}
	if kind == "document" {
		if name := path.Base(u.Path); name != "." && name != "/" {
			m.media.Filename = name
		}
	}
	return m, nil
}

// kindOfMIME is the WhatsApp message type of a content type.
func kindOfMIME(ct string) string {
	base, _, _ := strings.Cut(ct, ";")
	base = strings.ToLower(strings.TrimSpace(base))
	switch {
	case base == "image/webp":
		return "sticker"
	case strings.HasPrefix(base, "image/"):
		return "image"
	case strings.HasPrefix(base, "video/"):
		return "video"
	case strings.HasPrefix(base, "audio/"):
		return "audio"
	}
	return "document"
}

// mediaObject turns a template or interactive media object that names a
// chatgate media reference as its link into one sent by id.
func mediaObject(m *outMedia) error {
	if m == nil {
		return nil
	}
	if id, ok := strings.CutPrefix(m.Link, MediaRefPrefix); ok {
		id, _, _ = strings.Cut(id, "?")
		if !isGraphID(id) {
			return fmt.Errorf("link %q is not a media reference", clip(m.Link, 64))
		}
		m.ID, m.Link = id, ""
	}
	switch {
	case m.ID == "" && m.Link == "":
		return fmt.Errorf("needs an id or a link")
	case m.ID != "" && !isGraphID(m.ID):
		return fmt.Errorf("id %q is not a Graph API media id", clip(m.ID, 64))
	case m.Link != "":
		if u, err := url.Parse(m.Link); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("link %q is not an http(s) URL", clip(m.Link, 64))
		}
	}
	return nil
}

func decodeStrict(raw []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("unexpected data after the object")
	}
	return nil
}

// buildTemplate reads the Cloud API template object of an outbound
// template (or builds a bare one from its name and language) and adds the
// attachment as the media header when the object has no header.
func buildTemplate(ot *gateway.OutboundTemplate, media []mediaPart) (*waTemplate, error) {
	invalid := func(format string, args ...any) error {
		return sender.Permanent(CodeInvalidTemplate, fmt.Sprintf("template %q: ", clip(ot.Name, 64))+fmt.Sprintf(format, args...))
	}
	var t waTemplate
	if len(bytes.TrimSpace(ot.WhatsApp)) > 0 {
		if err := decodeStrict(ot.WhatsApp, &t); err != nil {
			return nil, invalid("its WhatsApp object is not a Cloud API template object: %v", err)
		}
	} else {
		t = waTemplate{Name: ot.Name, Language: waLanguage{Code: ot.Language}}
	}
	if t.Name == "" || gateway.CheckKey(t.Name, 512) != "" {
		return nil, invalid("name is required")
	}
	if t.Language.Code == "" || gateway.CheckKey(t.Language.Code, 32) != "" {
		return nil, invalid("language.code is required")
	}
	if t.Language.Policy == "" {
		t.Language.Policy = "deterministic"
	}
	hasHeader := false
	for i := range t.Components {
		c := &t.Components[i]
		c.Type = strings.ToLower(c.Type)
		switch c.Type {
		case "header":
			hasHeader = true
		case "body", "carousel", "limited_time_offer":
		case "button":
			if c.SubType == "" || c.Index == "" {
				return nil, invalid("components[%d]: a button component needs sub_type and index", i)
			}
		default:
			return nil, invalid("components[%d]: type %q is not header, body or button", i, clip(c.Type, 32))
		}
		for j := range c.Parameters {
			if err := checkParameter(&c.Parameters[j]); err != nil {
				return nil, invalid("components[%d].parameters[%d]: %v", i, j, err)
			}
		}
	}
	switch {
	case len(media) > 1:
		return nil, invalid("a template takes one attachment (its header), %d given", len(media))
	case len(media) == 1 && hasHeader:
		return nil, invalid("its object has a header already; the attachment has nowhere to go")
	case len(media) == 1:
		m := media[0]
		mm := m.media
		mm.Caption = ""
		param := waParameter{Type: m.kind}
		switch m.kind {
		case "image":
			param.Image = &mm
		case "video":
			param.Video = &mm
		case "document":
			param.Document = &mm
		default:
			return nil, invalid("a template header takes an image, video or document, not %s", m.kind)
		}
		t.Components = append([]waComponent{{Type: "header", Parameters: []waParameter{param}}}, t.Components...)
	}
	return &t, nil
}

// checkParameter checks that a template parameter has the value its type
// needs.
func checkParameter(p *waParameter) error {
	switch p.Type {
	case "text":
		if p.Text == "" && p.ParameterName == "" {
			return fmt.Errorf("a text parameter needs text")
		}
		if problem := gateway.CheckText(p.Text, 32768); problem != "" {
			return fmt.Errorf("text %s", problem)
		}
	case "payload":
		if p.Payload == "" {
			return fmt.Errorf("a payload parameter needs payload")
		}
	case "coupon_code":
		if p.CouponCode == "" {
			return fmt.Errorf("a coupon_code parameter needs coupon_code")
		}
	case "image", "video", "document":
		m := map[string]*outMedia{"image": p.Image, "video": p.Video, "document": p.Document}[p.Type]
		if m == nil {
			return fmt.Errorf("a %s parameter needs %s", p.Type, p.Type)
		}
		if err := mediaObject(m); err != nil {
			return fmt.Errorf("%s %w", p.Type, err)
		}
	case "location":
		if p.Location == nil {
			return fmt.Errorf("a location parameter needs location")
		}
		if field, problem := gateway.CheckCoordinates(p.Location.Latitude, p.Location.Longitude); problem != "" {
			return fmt.Errorf("location.%s %s", field, problem)
		}
	case "currency", "date_time", "action":
		raw := map[string]json.RawMessage{"currency": p.Currency, "date_time": p.DateTime, "action": p.Action}[p.Type]
		if len(raw) == 0 {
			return fmt.Errorf("a %s parameter needs %s", p.Type, p.Type)
		}
	default:
		return fmt.Errorf("type %q is not a template parameter type", clip(p.Type, 32))
	}
	if problem := gateway.CheckKey(p.ParameterName, 128); problem != "" {
		return fmt.Errorf("parameter_name %s", problem)
	}
	return nil
}

// buildInteractive reads the Cloud API interactive object of an outbound
// record, checks it against WhatsApp's limits, takes out.Text as its body
// when it has none, and puts an image, video or document attachment into
// the header of reply buttons. It returns the attachments still to be sent
// before it.
func buildInteractive(raw json.RawMessage, text string, media []mediaPart) (*waInteractive, []mediaPart, error) {
	invalid := func(format string, args ...any) error {
		return sender.Permanent(CodeInvalidInteractive, fmt.Sprintf(format, args...))
	}
	var it waInteractive
	if err := decodeStrict(raw, &it); err != nil {
		return nil, nil, invalid("interactive is not a Cloud API interactive object: %v", err)
	}
	lenCheck := func(field, v string, min, max int) error {
		n := utf8.RuneCountInString(v)
		if problem := gateway.CheckText(v, max); problem != "" || n < min {
			if problem == "" {
				problem = "is required"
			}
			return invalid("interactive.%s %s", field, problem)
		}
		return nil
	}
	if it.Body == nil || it.Body.Text == "" {
		it.Body = &waIText{Text: text}
	}
	if err := lenCheck("body.text", it.Body.Text, 1, maxInteractiveBody); err != nil {
		return nil, nil, err
	}
	if it.Footer != nil {
		if err := lenCheck("footer.text", it.Footer.Text, 1, maxInteractiveFooter); err != nil {
			return nil, nil, err
		}
	}
	if h := it.Header; h != nil {
		switch h.Type {
		case "text":
			if err := lenCheck("header.text", h.Text, 1, maxInteractiveHeader); err != nil {
				return nil, nil, err
			}
		case "image", "video", "document":
			m := map[string]*outMedia{"image": h.Image, "video": h.Video, "document": h.Document}[h.Type]
			if m == nil {
				return nil, nil, invalid("interactive.header needs %s", h.Type)
			}
			if err := mediaObject(m); err != nil {
				return nil, nil, invalid("interactive.header.%s %v", h.Type, err)
			}
		default:
			return nil, nil, invalid("interactive.header.type %q is not text, image, video or document", clip(h.Type, 32))
		}
	}
	switch it.Type {
	case "button":
		bs := it.Action.Buttons
		if len(bs) == 0 || len(bs) > maxReplyButtons {
			return nil, nil, invalid("interactive.action.buttons has %d buttons; reply buttons are 1 to %d", len(bs), maxReplyButtons)
		}
		ids := map[string]bool{}
		for i := range bs {
			b := &bs[i]
			if b.Type == "" {
				b.Type = "reply"
			}
			if b.Type != "reply" {
				return nil, nil, invalid("interactive.action.buttons[%d].type must be reply", i)
			}
			if err := lenCheck(fmt.Sprintf("action.buttons[%d].reply.title", i), b.Reply.Title, 1, maxButtonTitle); err != nil {
				return nil, nil, err
			}
			if err := lenCheck(fmt.Sprintf("action.buttons[%d].reply.id", i), b.Reply.ID, 1, maxButtonID); err != nil {
				return nil, nil, err
			}
			if ids[b.Reply.ID] {
				return nil, nil, invalid("interactive.action.buttons[%d].reply.id %q is not unique", i, clip(b.Reply.ID, 32))
			}
			ids[b.Reply.ID] = true
		}
		if it.Header == nil && len(media) > 0 && media[0].captionable() {
			m := media[0].media
			h := &waIHeader{Type: media[0].kind}
			switch media[0].kind {
			case "image":
				h.Image = &m
			case "video":
				h.Video = &m
			default:
				h.Document = &m
			}
			it.Header, media = h, media[1:]
		}
	case "list":
		a := it.Action
		if err := lenCheck("action.button", a.Button, 1, maxListButton); err != nil {
			return nil, nil, err
		}
		if len(a.Sections) == 0 || len(a.Sections) > maxListSections {
			return nil, nil, invalid("interactive.action.sections has %d sections; a list has 1 to %d", len(a.Sections), maxListSections)
		}
		rows, ids := 0, map[string]bool{}
		for i, s := range a.Sections {
			if s.Title != "" || len(a.Sections) > 1 {
				if err := lenCheck(fmt.Sprintf("action.sections[%d].title", i), s.Title, 1, maxSectionTitle); err != nil {
					return nil, nil, err
				}
			}
			if len(s.Rows) == 0 {
				return nil, nil, invalid("interactive.action.sections[%d].rows is empty", i)
			}
			for j, r := range s.Rows {
				rows++
				f := fmt.Sprintf("action.sections[%d].rows[%d]", i, j)
				if err := lenCheck(f+".title", r.Title, 1, maxRowTitle); err != nil {
					return nil, nil, err
				}
				if err := lenCheck(f+".id", r.ID, 1, maxRowID); err != nil {
					return nil, nil, err
				}
				if err := lenCheck(f+".description", r.Description, 0, maxRowDescription); err != nil {
					return nil, nil, err
				}
				if ids[r.ID] {
					return nil, nil, invalid("interactive.%s.id %q is not unique", f, clip(r.ID, 32))
				}
				ids[r.ID] = true
			}
		}
		if rows > maxListRows {
			return nil, nil, invalid("interactive.action.sections have %d rows; a list has at most %d", rows, maxListRows)
		}
		if it.Header != nil && it.Header.Type != "text" {
			return nil, nil, invalid("interactive.header of a list must be text")
		}
	default:
		return nil, nil, invalid("interactive.type %q is not button or list", clip(it.Type, 32))
	}
	return &it, media, nil
}

// splitText cuts s into pieces of at most max characters, at the last
// line break or space before the limit when there is one.
func splitText(s string, max int) []string {
	var out []string
	for s != "" {
		r := []rune(s)
		if len(r) <= max {
			out = append(out, s)
			break
		}
		cut := max
		for i := max; i > max/2; i-- {
			if r[i] == '\n' || r[i] == ' ' {
				cut = i
				break
			}
		}
		out = append(out, string(r[:cut]))
		s = strings.TrimLeft(string(r[cut:]), " \n")
	}
	return out
}

// hasLink reports whether text holds an http(s) link, which is what
// WhatsApp previews.
func hasLink(text string) bool {
	return strings.Contains(text, "https://") || strings.Contains(text, "http://")
}

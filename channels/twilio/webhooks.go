package twilio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/twilio/twilio-go/client"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/httpapi"
)

const (
	// HeaderSignature carries Twilio's signature of a webhook request.
	HeaderSignature = "X-Twilio-Signature"
	// EventSource is the CloudEvents source of the records this package writes.
	EventSource = "chatgate/channels/twilio"
	// DefaultMaxBodyBytes bounds a webhook body when WebhookOptions.MaxBodyBytes
	// is 0. Twilio's largest message webhooks (a 1600-character body, ten
	// media URLs) are far below it.
	DefaultMaxBodyBytes int64 = 64 << 10
	// DefaultPublishTimeout bounds the Kafka write of one webhook when
	// WebhookOptions.PublishTimeout is 0. It is below Twilio's 15-second
	// webhook timeout, so Twilio hears the 503 and can retry.
	DefaultPublishTimeout = 10 * time.Second
	// MaxMedia is the most media one inbound message may carry (Twilio's
	// limit for MMS).
	MaxMedia = 10
	// QueryRequestID is the query parameter of the status callback URL that
	// carries the outbound request id, so a status can be tied to its
	// request even before the send's MessageSid is recorded.
	QueryRequestID = "rid"
)

// Error codes of the webhooks' JSON error answers, beside httpapi's
// CodeBodyTooLarge (413), CodeUnsupportedMediaType (415), CodeUnavailable
// (503) and CodeInternal (500).
const (
	// CodeInvalidSignature: X-Twilio-Signature is missing or does not match (403).
	CodeInvalidSignature = "invalid_signature"
	// CodeInvalidForm: the body is not a form, or Twilio's fields are missing
	// or malformed; details name the fields (400).
	CodeInvalidForm = "invalid_form"
	// CodeInvalidMessage: the fields parse but make no valid message (400).
	CodeInvalidMessage = "invalid_message"
	// CodeUnknownStatus: a MessageStatus Twilio does not document (400).
	CodeUnknownStatus = "unknown_status"
)

// twimlEmpty is the answer to a webhook that was stored: TwiML that tells
// Twilio to do nothing more (no automatic reply).
const twimlEmpty = `<?xml version="1.0" encoding="UTF-8"?><Response/>`

var webhooksTotal = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "chatgate_twilio_webhooks_total",
	Help: "Twilio webhook requests by webhook (messages, status) and outcome (stored, ignored, invalid_signature, invalid, unavailable).",
}, []string{"webhook", "outcome"})

// WebhookOptions are the collaborators of Webhooks.
type WebhookOptions struct {
	// Publisher writes the records; Publish must return only after Kafka
	// acknowledged them. Required.
	Publisher gateway.Publisher
	// Topics names the inbound and status topics.
	Topics gateway.Topics
	// Logger receives refused and failed webhooks, with addresses masked.
	// Default: discard.
	Logger *slog.Logger
	// Now stamps ReceivedAt and At. Default time.Now.
	Now func() time.Time
	// MaxBodyBytes bounds a request body. Default DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// PublishTimeout bounds the Kafka write. Default DefaultPublishTimeout.
	PublishTimeout time.Duration
}

// Webhooks receives Twilio's webhooks: incoming messages and status
// callbacks of sent ones. Safe for concurrent use; it keeps no state.
type Webhooks struct {
	validator client.RequestValidator
	public    *url.URL
	trust     bool
	opts      WebhookOptions
}

// NewWebhooks returns the webhooks of an Enabled, valid cfg. cfg.AuthToken
// is required: Twilio signs webhooks with the account's auth token, and an
// API key cannot check them.
func NewWebhooks(cfg Config, opts WebhookOptions) (*Webhooks, error) {
	cfg = cfg.WithDefaults()
	if !cfg.Enabled() {
		return nil, gateway.ConfigErrorf("AccountSID", "required for the Twilio webhooks")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.AuthToken == "" {
		return nil, gateway.ConfigErrorf("AuthToken", "required to check Twilio's webhook signatures (an API key cannot)")
	}
	if opts.Publisher == nil {
		return nil, errors.New("twilio webhooks: a Publisher is required")
	}
	public, err := url.Parse(cfg.PublicURL)
	if err != nil {
		return nil, &gateway.ConfigError{Field: "PublicURL", Err: err}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.PublishTimeout <= 0 {
		opts.PublishTimeout = DefaultPublishTimeout
	}
	return &Webhooks{
		validator: client.NewRequestValidator(cfg.AuthToken),
		public:    public,
		trust:     cfg.TrustForwarded,
		opts:      opts,
	}, nil
}

// Mount registers MessagesHandler at MessagesPattern and StatusHandler at
// StatusPattern on mux (an *httpapi.Server or *http.ServeMux). The routes
// take no bearer token: the signature is their authentication.
func (w *Webhooks) Mount(mux interface {
	Handle(pattern string, h http.Handler)
}) {
	mux.Handle(MessagesPattern, w.MessagesHandler())
	mux.Handle(StatusPattern, w.StatusHandler())
}

// MessagesHandler serves POST /webhooks/twilio/messages, Twilio's "a message
// comes in" webhook. It answers:
//
//   - 200 with empty TwiML (text/xml) once the inbound record is on Kafka;
//   - 403 invalid_signature when X-Twilio-Signature is missing or wrong;
//   - 413 body_too_large, 415 unsupported_media_type, 400 invalid_form or
//     invalid_message for a request that is not a Twilio message;
//   - 503 unavailable when the record could not be written, so Twilio
//     (or its fallback URL) can try again.
//
// Nothing is written for any answer but 200.
func (w *Webhooks) MessagesHandler() http.Handler {
	return http.HandlerFunc(w.serveMessage)
}

// StatusHandler serves POST /webhooks/twilio/status, the StatusCallback of
// the messages Provider sends. It answers like MessagesHandler, plus 400
// unknown_status for a MessageStatus Twilio does not document; a callback
// about an inbound message ("receiving", "received") is answered 200 and
// not written.
func (w *Webhooks) StatusHandler() http.Handler {
	return http.HandlerFunc(w.serveStatus)
}

func (w *Webhooks) serveMessage(rw http.ResponseWriter, r *http.Request) {
	const hook = "messages"
	form, ok := w.readSigned(rw, r, hook)
	if !ok {
		return
	}
	in, err := parseInbound(form, w.opts.Now().UTC())
	if err != nil {
		w.refuse(rw, r, hook, err)
		return
	}
	msg, err := in.Record(EventSource, w.opts.Topics.Name(gateway.TopicInbound))
	if err != nil {
		w.opts.Logger.ErrorContext(r.Context(), "twilio webhook: encode inbound record", "provider_id", in.ProviderID, "error", err)
		webhooksTotal.WithLabelValues(hook, "invalid").Inc()
		httpapi.WriteError(rw, http.StatusInternalServerError, httpapi.CodeInternal, "internal error")
		return
	}
	if !w.publish(rw, r, hook, msg, in.EventID()) {
		return
	}
	w.opts.Logger.DebugContext(r.Context(), "twilio webhook: inbound message stored",
		"channel", in.Channel, "provider_id", in.ProviderID, "event_id", in.EventID(), "kind", in.EffectiveKind())
	writeTwiML(rw)
}

func (w *Webhooks) serveStatus(rw http.ResponseWriter, r *http.Request) {
	const hook = "status"
	form, ok := w.readSigned(rw, r, hook)
	if !ok {
		return
	}
	st, ignore, err := parseStatus(form, r.URL.Query().Get(QueryRequestID), w.opts.Now().UTC())
	if err != nil {
		w.refuse(rw, r, hook, err)
		return
	}
	if ignore {
		webhooksTotal.WithLabelValues(hook, "ignored").Inc()
		writeTwiML(rw)
		return
	}
	msg, err := st.Record(EventSource, w.opts.Topics.Name(gateway.TopicStatus))
	if err != nil {
		w.opts.Logger.ErrorContext(r.Context(), "twilio webhook: encode status record", "provider_id", st.ProviderID, "error", err)
		webhooksTotal.WithLabelValues(hook, "invalid").Inc()
		httpapi.WriteError(rw, http.StatusInternalServerError, httpapi.CodeInternal, "internal error")
		return
	}
	if !w.publish(rw, r, hook, msg, st.EventID()) {
		return
	}
	w.opts.Logger.DebugContext(r.Context(), "twilio webhook: status stored",
		"channel", st.Channel, "provider_id", st.ProviderID, "status", st.Status, "provider_status", st.ProviderStatus)
	writeTwiML(rw)
}

// readSigned reads the form of a webhook and checks its signature. On
// failure it has answered and returns false.
func (w *Webhooks) readSigned(rw http.ResponseWriter, r *http.Request, hook string) (url.Values, bool) {
	sig := r.Header.Get(HeaderSignature)
	if sig == "" {
		w.deny(rw, r, hook, "X-Twilio-Signature is missing", "")
		return nil, false
	}
	if err := checkFormContentType(r.Header.Get("Content-Type")); err != nil {
		w.refuse(rw, r, hook, err)
		return nil, false
	}
	body, err := w.readBody(rw, r)
	if err != nil {
		w.refuse(rw, r, hook, err)
		return nil, false
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		w.refuse(rw, r, hook, &httpapi.Error{Status: http.StatusBadRequest, Code: CodeInvalidForm,
			Message: "the body is not a URL-encoded form"})
		return nil, false
	}
	// Twilio signs each parameter once; like twilio-go's ValidateBody,
	// check the first value of each, which is also the one the parsers read.
	params := make(map[string]string, len(form))
	for k, vs := range form {
		params[k] = vs[0]
	}
	signedURL := w.signedURL(r)
	if !w.validator.Validate(signedURL, params, sig) {
		w.deny(rw, r, hook, "X-Twilio-Signature does not match the request", signedURL)
		return nil, false
	}
	return form, true
}

func (w *Webhooks) readBody(rw http.ResponseWriter, r *http.Request) ([]byte, error) {
	limit := w.opts.MaxBodyBytes
	tooLarge := &httpapi.Error{Status: http.StatusRequestEntityTooLarge, Code: httpapi.CodeBodyTooLarge,
		Message: fmt.Sprintf("request body is larger than %d bytes", limit)}
	if r.ContentLength > limit {
		// Not worth reading the rest: close the connection after answering.
		rw.Header().Set("Connection", "close")
		return nil, tooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, limit))
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			rw.Header().Set("Connection", "close")
			return nil, tooLarge
		}
		return nil, &httpapi.Error{Status: http.StatusBadRequest, Code: CodeInvalidForm, Message: "request body could not be read"}
	}
	return body, nil
}

func checkFormContentType(ct string) error {
	const want = "application/x-www-form-urlencoded"
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != want {
		return &httpapi.Error{Status: http.StatusUnsupportedMediaType, Code: httpapi.CodeUnsupportedMediaType,
			Message: "Content-Type must be " + want}
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
		return &httpapi.Error{Status: http.StatusUnsupportedMediaType, Code: httpapi.CodeUnsupportedMediaType,
			Message: fmt.Sprintf("charset %s is not supported; Twilio sends UTF-8", cs)}
	}
	return nil
}

// signedURL is the URL Twilio called, as it signed it: the public URL's
// scheme, host and path prefix, then the path and query as received. With
// TrustForwarded, a proxy's headers override parts of it: X-Forwarded-Proto
// the scheme, X-Forwarded-Host the host, X-Forwarded-Prefix the path prefix,
// and X-Forwarded-Path the whole path (the query is kept).
func (w *Webhooks) signedURL(r *http.Request) string {
	scheme, host := w.public.Scheme, w.public.Host
	prefix := strings.TrimRight(w.public.EscapedPath(), "/")
	uri := r.RequestURI
	if !strings.HasPrefix(uri, "/") {
		uri = r.URL.RequestURI()
	}
	if w.trust {
		if p := strings.ToLower(firstValue(r.Header.Get("X-Forwarded-Proto"))); p == "http" || p == "https" {
			scheme = p
		}
		if h := firstValue(r.Header.Get("X-Forwarded-Host")); h != "" && !strings.ContainsAny(h, "/?#@ ") {
			host = h
		}
		if p := firstValue(r.Header.Get("X-Forwarded-Prefix")); strings.HasPrefix(p, "/") {
			prefix = strings.TrimRight(p, "/")
		}
		if p := firstValue(r.Header.Get("X-Forwarded-Path")); strings.HasPrefix(p, "/") {
			prefix, uri = "", p
			if !strings.Contains(p, "?") && r.URL.RawQuery != "" {
				uri += "?" + r.URL.RawQuery
			}
		}
	}
	return scheme + "://" + host + prefix + uri
}

// firstValue is the first of a proxy header's comma-separated values: the
// one the outermost proxy, the one Twilio talked to, set.
func firstValue(v string) string {
	first, _, _ := strings.Cut(v, ",")
	return strings.TrimSpace(first)
}

// publish writes msg and answers 503 when that fails. The write does not
// end when Twilio hangs up: a record half-way to Kafka is finished, so a
// message Twilio gave up on is still stored once, not lost.
func (w *Webhooks) publish(rw http.ResponseWriter, r *http.Request, hook string, msg gateway.Message, eventID string) bool {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), w.opts.PublishTimeout)
	defer cancel()
	if err := w.opts.Publisher.Publish(ctx, msg); err != nil {
		// Any subset may have been written; Twilio's retry carries the same
		// MessageSid, hence the same event id, and the worker stores it once.
		w.opts.Logger.WarnContext(r.Context(), "twilio webhook: record not stored", "webhook", hook, "event_id", eventID, "error", err)
		webhooksTotal.WithLabelValues(hook, "unavailable").Inc()
		httpapi.WriteUnavailable(rw, "the message could not be stored; retry")
		return false
	}
	webhooksTotal.WithLabelValues(hook, "stored").Inc()
	return true
}

func (w *Webhooks) deny(rw http.ResponseWriter, r *http.Request, hook, reason, signedURL string) {
	w.opts.Logger.WarnContext(r.Context(), "twilio webhook: signature refused", "webhook", hook, "reason", reason,
		"signed_url", signedURL, "remote_addr", r.RemoteAddr)
	webhooksTotal.WithLabelValues(hook, "invalid_signature").Inc()
	httpapi.WriteError(rw, http.StatusForbidden, CodeInvalidSignature, reason)
}

func (w *Webhooks) refuse(rw http.ResponseWriter, r *http.Request, hook string, err error) {
	w.opts.Logger.WarnContext(r.Context(), "twilio webhook: request refused", "webhook", hook, "error", err)
	webhooksTotal.WithLabelValues(hook, "invalid").Inc()
	httpapi.WriteErrorFrom(rw, err)
}

func writeTwiML(rw http.ResponseWriter) {
	rw.Header().Set("Content-Type", "text/xml; charset=utf-8")
	rw.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(rw, twimlEmpty)
}

// formError collects the problems with a webhook's fields as one 400.
type formError struct {
	details []httpapi.ErrorDetail
}

func (f *formError) add(field, format string, args ...any) {
	f.details = append(f.details, httpapi.ErrorDetail{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (f *formError) err() error {
	if len(f.details) == 0 {
		return nil
	}
	return &httpapi.Error{Status: http.StatusBadRequest, Code: CodeInvalidForm,
		Message: "the form lacks fields of a Twilio webhook or has malformed ones", Details: f.details}
}

// parseInbound turns the form of an incoming message webhook into an
// inbound record. Errors are *httpapi.Error.
//
// What the contact wrote (Body, ButtonText, ButtonPayload, Label, Address)
// loses the control characters a text cannot hold (R38: C0 controls but
// tab, line feed and carriage return; PostgreSQL cannot store U+0000):
// Twilio cannot correct a contact's message, so it is kept, minus what
// cannot be stored, rather than refused and lost. ProfileName, which the
// contact chose, is made one line and cut to length. Bytes that are not
// UTF-8 are refused: Twilio always sends UTF-8, so they are not from Twilio.
// Everything else is judged by gateway.Inbound.Validate, the worker's own
// check, and refused with the Twilio field named.
func parseInbound(form url.Values, now time.Time) (gateway.Inbound, error) {
	var fe formError
	// text reads a field the contact wrote, in its normal form.
	text := func(field string) string {
		v := form.Get(field)
		if !utf8.ValidString(v) {
			fe.add(field, "is not valid UTF-8")
			return ""
		}
		out, _ := gateway.NormalizeText(v)
		return out
	}
	sid := strings.TrimSpace(form.Get("MessageSid"))
	if sid == "" {
		fe.add("MessageSid", "is required")
	}
	var ch gateway.Channel
	var from, to string
	if raw := form.Get("From"); raw == "" {
		fe.add("From", "is required")
	} else if c, a, err := splitAddress(raw); err != nil {
		fe.add("From", "%v", err)
	} else {
		ch, from = c, a
	}
	if raw := form.Get("To"); raw != "" {
		if c, a, err := splitAddress(raw); err != nil {
			fe.add("To", "%v", err)
		} else if ch != "" && c != ch {
			fe.add("To", "is on channel %s, From on %s", c, ch)
		} else {
			to = a
		}
	}
	profile := form.Get("ProfileName")
	if !utf8.ValidString(profile) {
		fe.add("ProfileName", "is not valid UTF-8")
	}
	profile, _ = gateway.NormalizeLine(profile, gateway.MaxContactNameLen)
	in := gateway.Inbound{
		Channel:     ch,
		ProviderID:  sid,
		From:        from,
		To:          to,
		Text:        text("Body"),
		ContactName: profile,
		ReceivedAt:  now,
		ReplyTo:     strings.TrimSpace(form.Get("OriginalRepliedMessageSid")),
	}
	if raw := strings.TrimSpace(form.Get("NumMedia")); raw != "" {
		n, err := strconv.Atoi(raw)
		switch {
		case err != nil || n < 0:
			fe.add("NumMedia", "%q is not a count", raw)
		case n > MaxMedia:
			fe.add("NumMedia", "%d is more than %d", n, MaxMedia)
		default:
			for i := range n {
				field := "MediaUrl" + strconv.Itoa(i)
				u := strings.TrimSpace(form.Get(field))
				if u == "" {
					fe.add(field, "is required with NumMedia %d", n)
					continue
				}
				in.Media = append(in.Media, gateway.Media{URL: u, ContentType: form.Get("MediaContentType" + strconv.Itoa(i))})
			}
		}
	}
	switch {
	case len(in.Media) > 0:
		in.Kind = gateway.KindMedia
	case ch == gateway.ChannelWhatsApp && form.Get("ButtonText") != "":
		// A quick-reply press: Body repeats the label, ButtonPayload is the
		// id the template gave the button. SMS has no buttons, so a stray
		// ButtonText there is ignored and Body kept.
		in.Kind = gateway.KindButton
		in.Text = text("ButtonText")
		in.Button = &gateway.Button{Text: in.Text, Payload: text("ButtonPayload")}
	case ch == gateway.ChannelWhatsApp && form.Has("Latitude") && form.Has("Longitude"):
		// ParseFloat reads "NaN" and "Inf" without an error, and 1e309 as
		// an infinity with one: CheckCoordinates refuses all of them.
		lat, errLat := strconv.ParseFloat(strings.TrimSpace(form.Get("Latitude")), 64)
		lng, errLng := strconv.ParseFloat(strings.TrimSpace(form.Get("Longitude")), 64)
		field, problem := gateway.CheckCoordinates(lat, lng)
		switch {
		case errLat != nil || field == "latitude":
			fe.add("Latitude", "%q is not a latitude in degrees (-90 to 90)", truncateRunes(form.Get("Latitude"), 32))
		case errLng != nil || problem != "":
			fe.add("Longitude", "%q is not a longitude in degrees (-180 to 180)", truncateRunes(form.Get("Longitude"), 32))
		default:
			in.Kind = gateway.KindLocation
			in.Location = &gateway.Location{Latitude: lat, Longitude: lng, Name: text("Label"), Address: text("Address")}
		}
	}
	if err := fe.err(); err != nil {
		return gateway.Inbound{}, err
	}
	if err := in.Validate(); err != nil {
		return gateway.Inbound{}, invalidRecord(err, inboundFormField)
	}
	return in, nil
}

// invalidRecord is the 400 invalid_message of a record that
// gateway's Validate refused, its details naming the Twilio fields.
func invalidRecord(err error, formField func(recordField string) string) error {
	e := &httpapi.Error{Status: http.StatusBadRequest, Code: CodeInvalidMessage, Message: err.Error()}
	var ve *gateway.ValidationError
	if errors.As(err, &ve) {
		for _, f := range ve.Fields {
			e.Details = append(e.Details, httpapi.ErrorDetail{Field: formField(f.Field), Message: f.Message})
		}
	}
	return e
}

// inboundFormField is the webhook's name of a field of gateway.Inbound.
func inboundFormField(recordField string) string {
	var i int
	if _, err := fmt.Sscanf(recordField, "media[%d].url", &i); err == nil {
		return "MediaUrl" + strconv.Itoa(i)
	}
	if _, err := fmt.Sscanf(recordField, "media[%d].content_type", &i); err == nil {
		return "MediaContentType" + strconv.Itoa(i)
	}
	switch recordField {
	case "provider_id":
		return "MessageSid"
	case "from":
		return "From"
	case "to":
		return "To"
	case "text":
		return "Body"
	case "button.text":
		return "ButtonText"
	case "contact_name":
		return "ProfileName"
	case "button.payload":
		return "ButtonPayload"
	case "location.latitude":
		return "Latitude"
	case "location.longitude":
		return "Longitude"
	case "location.name":
		return "Label"
	case "location.address":
		return "Address"
	case "reply_to":
		return "OriginalRepliedMessageSid"
	case "media":
		return "NumMedia"
	}
	return recordField
}

// statusFormField is the status callback's name of a field of gateway.Status.
func statusFormField(recordField string) string {
	switch recordField {
	case "provider_id":
		return "MessageSid"
	case "contact":
		return "To"
	case "provider_status":
		return "MessageStatus"
	case "error_code":
		return "ErrorCode"
	case "error_message":
		return "ErrorMessage"
	}
	return recordField
}

// parseStatus turns the form of a status callback into a status record.
// ignore is true for callbacks about inbound messages. requestID is the
// QueryRequestID of the callback URL, "" when absent. Errors are
// *httpapi.Error.
func parseStatus(form url.Values, requestID string, now time.Time) (st gateway.Status, ignore bool, err error) {
	var fe formError
	sid := strings.TrimSpace(firstNonEmpty(form.Get("MessageSid"), form.Get("SmsSid")))
	if sid == "" {
		fe.add("MessageSid", "is required")
	}
	raw := strings.ToLower(strings.TrimSpace(firstNonEmpty(form.Get("MessageStatus"), form.Get("SmsStatus"))))
	if raw == "" {
		fe.add("MessageStatus", "is required")
	}
	if err := fe.err(); err != nil {
		return gateway.Status{}, false, err
	}
	if inboundStatuses[raw] {
		return gateway.Status{}, true, nil
	}
	mapped, ok := MapStatus(raw)
	if !ok {
		return gateway.Status{}, false, &httpapi.Error{Status: http.StatusBadRequest, Code: CodeUnknownStatus,
			Message: fmt.Sprintf("MessageStatus %q is not one Twilio documents", truncateRunes(raw, 32))}
	}
	// The status topic is keyed by contact, the To of the message chatgate
	// sent; Twilio's callbacks always carry it.
	var ch gateway.Channel
	var contact string
	if rawTo := form.Get("To"); rawTo == "" {
		fe.add("To", "is required: it is the contact the status is about")
	} else if c, a, err := splitAddress(rawTo); err != nil {
		fe.add("To", "%v", err)
	} else {
		ch, contact = c, a
	}
	code := strings.TrimSpace(form.Get("ErrorCode"))
	if code != "" {
		if n, err := strconv.Atoi(code); err != nil || n < 0 {
			fe.add("ErrorCode", "%q is not a Twilio error code", truncateRunes(code, 16))
		}
	}
	if err := fe.err(); err != nil {
		return gateway.Status{}, false, err
	}
	// Twilio's error message is its own words about the send, not the
	// contact's: made one line and cut, it never costs the status (R38).
	errMsg, _ := gateway.NormalizeLine(form.Get("ErrorMessage"), gateway.MaxErrorMessageLen)
	st = gateway.Status{
		Channel:        ch,
		Contact:        contact,
		ProviderID:     sid,
		Status:         mapped,
		ProviderStatus: raw,
		ErrorCode:      code,
		ErrorMessage:   errMsg,
		At:             now,
	}
	if st.ErrorMessage == "" && code != "" {
		n, _ := strconv.Atoi(code)
		st.ErrorMessage = Reason(n)
	}
	if raw == "canceled" && st.ErrorMessage == "" {
		st.ErrorMessage = "the scheduled message was canceled before it was sent"
	}
	// A request id that cannot be one (chatgate wrote the URL) is dropped:
	// the MessageSid still ties the status to its message.
	if requestID != "" && gateway.CheckKey(requestID, gateway.MaxProviderIDLen) == "" {
		st.RequestID = requestID
	}
	if err := st.Validate(); err != nil {
		return gateway.Status{}, false, invalidRecord(err, statusFormField)
	}
	return st, false, nil
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n])
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// Package api is the inbound side of chatgate's generic API channel: systems
// that are not WhatsApp or Twilio (a web chat widget, an in-app messenger, a
// partner's platform) POST each message a contact sent to
// POST /v1/channels/api/messages, and Handler turns it into a
// chatgate.inbound.message record on the inbound topic.
//
// # Contract of a channel adapter
//
// An adapter tells its sender "got it" only once the message is safe: Handler
// answers 202 only after Publisher.Publish returned nil, that is after Kafka
// acknowledged the record with acks=all. Every failure to store it is a 503
// with Retry-After, never a 202, so a sender that retries until it gets a 202
// loses nothing.
//
// Retrying is always safe. The body's "id" is the message's idempotency key
// (R1): the record's CloudEvents id is derived from it, so a retried
// message yields a second record with the same event id, and the ticketing
// worker stores it once. Handler itself keeps no state and does not dedupe.
//
// Records are keyed by contact ("api:<from>"), so one contact's messages stay
// in order (R2) as long as the sender sends them one after another.
//
// # Request
//
// The body is one JSON object
// {"id","from","to","type","text","contact_name","language"}; id and from
// are required, and text for a message. A field beyond these is refused
// (400 unknown_field, naming it): a sender must not believe chatgate kept a
// field it dropped. "type" is "message" (the default) or "end_chat": the
// contact ended the live chat (R24), text then optional. "language" is the
// contact's language in any spelling gateway.NormalizeLanguage accepts
// ("pt-br"), recorded in canonical form ("pt_BR") for R34.
//
// Every field is checked by gateway.Inbound.Validate, the same function
// the worker runs, so nothing is acknowledged that the worker would refuse
// (R38): a 422 invalid_message names each field at fault. Lengths are
// counted in characters, with the limits of gateway.Inbound
// (gateway.MaxProviderIDLen and so on). The identifiers id, from and to
// must not be blank, carry leading or trailing white space or control
// characters: " alice" and "alice" would otherwise be two contacts. The
// text is kept exactly as sent (white space, line breaks and tabs
// included) but must not contain other control characters; contact_name
// is trimmed of surrounding white space and must not contain control
// characters. Nothing else is normalised: a sender can always correct and
// resend, so refusing is better than guessing.
//
// Authentication is the wiring's job: mount the handler behind
// httpapi.Authenticator.Require(h, httpapi.RoleAPIChannel).
package api

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/httpapi"
)

const (
	// Pattern is the route Handler serves, for httpapi.Server.Handle.
	Pattern = "POST /v1/channels/api/messages"
	// EventSource is the CloudEvents source of the records Handler writes.
	EventSource = "chatgate/channels/api"
	// DefaultMaxBodyBytes is the body limit when Handler.MaxBodyBytes is 0.
	DefaultMaxBodyBytes int64 = 64 << 10
	// CodeInvalidMessage is the error code of a 422: the JSON is well-formed
	// but fields are missing, out of bounds or hold what chatgate cannot
	// store; details name each field.
	CodeInvalidMessage = "invalid_message"
	// TypeMessage and TypeEndChat are the values of Request.Type.
	TypeMessage = "message"
	TypeEndChat = "end_chat"
	// StatusAccepted is the "status" of a 202 answer.
	StatusAccepted = "accepted"
)

// Request is the JSON body of POST /v1/channels/api/messages.
type Request struct {
	// ID is the sender's id of the message, its idempotency key. Required.
	ID string `json:"id"`
	// From is the contact's address on the API channel. Required.
	From string `json:"from"`
	// To is the address written to, which may pick the department. Optional.
	To string `json:"to,omitempty"`
	// Type is TypeMessage (empty means it) or TypeEndChat: the contact
	// ended the live chat (R24).
	Type string `json:"type,omitempty"`
	// Text is the message text. Required for a message; optional for
	// end_chat.
	Text string `json:"text"`
	// ContactName is the contact's display name, if the sender knows it.
	// Surrounding white space is trimmed.
	ContactName string `json:"contact_name,omitempty"`
	// Language is the contact's language, if the sender knows it, in any
	// spelling gateway.NormalizeLanguage accepts; recorded canonical (R34).
	Language string `json:"language,omitempty"`
}

// Accepted is the JSON body of a 202 answer.
type Accepted struct {
	// ID echoes Request.ID.
	ID string `json:"id"`
	// Status is always StatusAccepted.
	Status string `json:"status"`
}

// Handler receives inbound messages of the API channel and publishes them to
// the inbound topic. It keeps no state and is safe for concurrent use.
type Handler struct {
	// Publisher writes the records; Publish must return only after Kafka
	// acknowledged them. Required.
	Publisher gateway.Publisher
	// Topics names the inbound topic.
	Topics gateway.Topics
	// Now stamps ReceivedAt. Default time.Now.
	Now func() time.Time
	// Logger receives publish failures. It never gets addresses or texts.
	// Default: discard.
	Logger *slog.Logger
	// MaxBodyBytes bounds the request body. Default DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

var _ http.Handler = (*Handler)(nil)

// ServeHTTP handles one POST /v1/channels/api/messages. See the package
// documentation for the contract; in short: 202 after Kafka acked, 415, 413,
// 400 invalid_json or unknown_field, or 422 invalid_message for a bad
// request (nothing published), 503 unavailable with Retry-After when the message could not be
// stored.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	logger := h.logger()

	var req Request
	if err := httpapi.DecodeJSON(w, r, h.maxBodyBytes(), &req); err != nil {
		httpapi.WriteErrorFrom(w, err)
		return
	}
	in, details := inbound(req, h.now().UTC())
	if len(details) > 0 {
		httpapi.WriteErrorDetails(w, http.StatusUnprocessableEntity, CodeInvalidMessage,
			"the message has invalid fields", details)
		return
	}

	msg, err := in.Record(EventSource, h.Topics.Name(gateway.TopicInbound))
	if err != nil {
		logger.ErrorContext(ctx, "api channel: encode inbound record", "provider_id", req.ID, "error", err)
		httpapi.WriteErrorFrom(w, err)
		return
	}
	if h.Publisher == nil {
		logger.ErrorContext(ctx, "api channel: no publisher configured")
		httpapi.WriteError(w, http.StatusInternalServerError, httpapi.CodeInternal, "internal error")
		return
	}
	if err := h.Publisher.Publish(ctx, msg); err != nil {
		// Any subset may have been written; the retry carries the same event
		// id, so the worker stores the message once either way.
		logger.WarnContext(ctx, "api channel: inbound message not stored",
			"provider_id", req.ID, "event_id", in.EventID(), "error", err)
		httpapi.WriteUnavailable(w, "the message could not be stored; retry")
		return
	}
	logger.DebugContext(ctx, "api channel: inbound message accepted", "provider_id", req.ID, "event_id", in.EventID())
	httpapi.WriteJSON(w, http.StatusAccepted, Accepted{ID: req.ID, Status: StatusAccepted})
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (h *Handler) maxBodyBytes() int64 {
	if h.MaxBodyBytes > 0 {
		return h.MaxBodyBytes
	}
	return DefaultMaxBodyBytes
}

// inbound turns a request into its record, with the normal forms the
// package documentation names, and lists every field at fault by its JSON
// name in the request: the problems of gateway.Inbound.Validate, which is
// the judge, plus those of type and language, in the order of the body.
func inbound(req Request, now time.Time) (gateway.Inbound, []httpapi.ErrorDetail) {
	in := gateway.Inbound{
		Channel:     gateway.ChannelAPI,
		ProviderID:  req.ID,
		From:        req.From,
		To:          req.To,
		Text:        req.Text,
		ContactName: strings.TrimSpace(req.ContactName),
		ReceivedAt:  now,
	}
	var problems []gateway.FieldError
	switch req.Type {
	case "", TypeMessage:
	case TypeEndChat:
		in.Kind = gateway.KindEndChat
	default:
		problems = append(problems, gateway.FieldError{Field: "kind",
			Message: fmt.Sprintf("%q is not one of %s, %s", clip(req.Type), TypeMessage, TypeEndChat)})
	}
	if req.Language != "" {
		lang, err := gateway.NormalizeLanguage(req.Language)
		if err != nil {
			problems = append(problems, gateway.FieldError{Field: "language",
				Message: "is not a language tag like en, pt-BR or zh_Hant_TW"})
		}
		in.Language = lang
	}
	var ve *gateway.ValidationError
	if err := in.Validate(); errors.As(err, &ve) {
		problems = append(problems, ve.Fields...)
	} else if err != nil {
		problems = append(problems, gateway.FieldError{Message: err.Error()})
	}
	if len(problems) == 0 {
		return in, nil
	}
	slices.SortStableFunc(problems, func(a, b gateway.FieldError) int { return fieldOrder(a.Field) - fieldOrder(b.Field) })
	details := make([]httpapi.ErrorDetail, len(problems))
	for i, p := range problems {
		details[i] = httpapi.ErrorDetail{Field: requestField(p.Field), Message: p.Message}
	}
	return in, details
}

// requestField is the request's name of a field of gateway.Inbound.
func requestField(recordField string) string {
	switch recordField {
	case "provider_id":
		return "id"
	case "kind":
		return "type"
	}
	return recordField
}

// fieldOrder ranks the record's fields in the order of the request body,
// so details read in the order a sender wrote them.
func fieldOrder(recordField string) int {
	for i, f := range []string{"provider_id", "from", "to", "kind", "text", "contact_name", "language"} {
		if f == recordField {
			return i
		}
	}
	return 100
}

// clip bounds a refused value quoted back in a message.
func clip(s string) string {
	if utf8.RuneCountInString(s) <= 32 {
		return s
	}
	return string([]rune(s)[:32]) + "…"
}

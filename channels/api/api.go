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
// (SPEC R1): the record's CloudEvents id is derived from it, so a retried
// message yields a second record with the same event id, and the ticketing
// worker stores it once. Handler itself keeps no state and does not dedupe.
//
// Records are keyed by contact ("api:<from>"), so one contact's messages stay
// in order (R2) as long as the sender sends them one after another.
//
// # Request
//
// The body is one JSON object {"id","from","to","text","contact_name"}; id,
// from and text are required. A field beyond these is refused (400
// unknown_field, naming it): a sender must not believe chatgate kept a field
// it dropped. Lengths are counted in characters, with
// the limits of gateway.Inbound (gateway.MaxProviderIDLen and so on). The
// identifiers id, from and to must not carry leading or trailing white space
// or control characters: " alice" and "alice" would otherwise be two contacts.
//
// Authentication is the wiring's job: mount the handler behind
// httpapi.Authenticator.Require(h, httpapi.RoleAPIChannel).
package api

import (
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
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
	// but fields are missing or out of bounds; details name each field.
	CodeInvalidMessage = "invalid_message"
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
	// Text is the message text. Required.
	Text string `json:"text"`
	// ContactName is the contact's display name, if the sender knows it.
	ContactName string `json:"contact_name,omitempty"`
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
// 400 invalid_json or 422 invalid_message for a bad request (nothing
// published), 503 unavailable with Retry-After when the message could not be
// stored.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	logger := h.logger()

	var req Request
	if err := httpapi.DecodeJSON(w, r, h.maxBodyBytes(), &req); err != nil {
		httpapi.WriteErrorFrom(w, err)
		return
	}
	if details := validate(req); len(details) > 0 {
		httpapi.WriteErrorDetails(w, http.StatusUnprocessableEntity, CodeInvalidMessage,
			"the message has invalid fields", details)
		return
	}
	in := gateway.Inbound{
		Channel:     gateway.ChannelAPI,
		ProviderID:  req.ID,
		From:        req.From,
		To:          req.To,
		Text:        req.Text,
		ContactName: req.ContactName,
		ReceivedAt:  h.now().UTC(),
	}
	// validate mirrors Inbound.Validate field by field to name JSON fields;
	// this catches any rule the record gains that validate does not know yet.
	if err := in.Validate(); err != nil {
		httpapi.WriteError(w, http.StatusUnprocessableEntity, CodeInvalidMessage, err.Error())
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

// validate checks each field against gateway.Inbound's limits, naming the
// JSON field, in the order of the body.
func validate(req Request) []httpapi.ErrorDetail {
	var details []httpapi.ErrorDetail
	check := func(field, v string, maxLen int, required, identifier bool) {
		msg := ""
		switch {
		case v == "" && required:
			msg = "is required"
		case v == "":
		case !utf8.ValidString(v):
			msg = "is not valid UTF-8"
		case utf8.RuneCountInString(v) > maxLen:
			msg = "is longer than " + strconv.Itoa(maxLen) + " characters"
		case identifier && strings.TrimSpace(v) == "":
			msg = "must not be blank"
		case identifier && strings.TrimSpace(v) != v:
			msg = "must not have leading or trailing white space"
		case identifier && strings.ContainsFunc(v, unicode.IsControl):
			msg = "must not contain control characters"
		}
		if msg != "" {
			details = append(details, httpapi.ErrorDetail{Field: field, Message: msg})
		}
	}
	check("id", req.ID, gateway.MaxProviderIDLen, true, true)
	check("from", req.From, gateway.MaxAddressLen, true, true)
	check("to", req.To, gateway.MaxAddressLen, false, true)
	check("text", req.Text, gateway.MaxTextLen, true, false)
	check("contact_name", req.ContactName, gateway.MaxContactNameLen, false, false)
	return details
}

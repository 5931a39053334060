// Package deskapi is the desk HTTP API of the ticketing service, under
// /v1/tickets. Today it serves one route, an agent's reply:
//
//	POST /v1/tickets/{id}/messages
//
// It carries the command out with ticketing.Service.Execute, the same
// decisions as a chatgate.command.reply record on the commands topic, in
// its own transaction, and answers with the outcome (docs/desk.md).
//
// It does not authenticate: the wiring wraps every route of Routes with the
// desk role (httpapi.Authenticator.Require(h, httpapi.RoleDesk)).
package deskapi

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/chatgate/chatgate/gateway/httpapi"
	"github.com/chatgate/chatgate/templates"
	"github.com/chatgate/chatgate/ticketing"
)

// HeaderReplayed is set to "true" on an answer that repeats the outcome of
// an earlier request with the same request id.
const HeaderReplayed = "Idempotent-Replayed"

// Handlers serves the desk routes.
type Handlers struct {
	// Service carries commands out. Required.
	Service *ticketing.Service
	// Logger receives failures (error) and outcomes (debug); nil discards.
	Logger *slog.Logger
}

// Route is one pattern of the API and its handler, unauthenticated.
type Route struct {
	// Pattern is a ServeMux pattern, e.g. "POST /v1/tickets/{id}/messages".
	Pattern string
	// Handler serves it.
	Handler http.Handler
}

// Routes returns every route of the desk API, for the wiring to wrap with
// authentication and mount.
func (h *Handlers) Routes() []Route {
	return []Route{
		{"POST /v1/tickets/{id}/messages", http.HandlerFunc(h.reply)},
	}
}

// Mount registers every route with mount, each wrapped by wrap (nil: as is),
// for example:
//
//	h.Mount(srv.Handle, func(h http.Handler) http.Handler { return auth.Require(h, httpapi.RoleDesk) })
func (h *Handlers) Mount(mount func(pattern string, h http.Handler), wrap func(http.Handler) http.Handler) {
	for _, rt := range h.Routes() {
		handler := rt.Handler
		if wrap != nil {
			handler = wrap(handler)
		}
		mount(rt.Pattern, handler)
	}
}

// ReplyRequest is the body of POST /v1/tickets/{id}/messages: free text or
// a template, never both.
type ReplyRequest struct {
	// RequestID is the client's idempotency key: the same id again sends
	// nothing and answers the first outcome.
	RequestID string `json:"request_id"`
	// AgentID is the agent the desk acts for.
	AgentID string `json:"agent_id"`
	// Text is free text.
	Text string `json:"text,omitempty"`
	// Template is an approved template with its variables.
	Template *ticketing.TemplateReply `json:"template,omitempty"`
}

func (h *Handlers) reply(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeRejection(w, &ticketing.Rejection{Code: ticketing.CodeConversationNotFound,
			Message: fmt.Sprintf("%q is not a conversation id", r.PathValue("id"))}, "", false)
		return
	}
	var req ReplyRequest
	if err := httpapi.DecodeJSON(w, r, 0, &req); err != nil {
		httpapi.WriteErrorFrom(w, err)
		return
	}
	cmd := ticketing.Command{
		Type: ticketing.TypeCommandReply, RequestID: req.RequestID, ConversationID: id, AgentID: req.AgentID,
		Reply: &ticketing.Reply{Text: req.Text, Template: req.Template},
	}
	out, err := h.Service.Execute(r.Context(), cmd)
	if err != nil {
		h.logger().ErrorContext(r.Context(), "desk reply failed", "conversation_id", id, "request_id", req.RequestID, "err", err)
		// Nothing was done (the transaction rolled back) and the request is
		// idempotent: the desk may retry it as it is.
		httpapi.WriteUnavailable(w, "the reply could not be carried out now; retry with the same request_id")
		return
	}
	if out.Rejection != nil {
		h.logger().DebugContext(r.Context(), "desk reply refused", "conversation_id", id, "request_id", req.RequestID, "code", out.Rejection.Code)
		writeRejection(w, out.Rejection, out.RequestID, out.Replayed)
		return
	}
	status := http.StatusAccepted
	if out.Replayed {
		w.Header().Set(HeaderReplayed, "true")
		status = http.StatusOK
	}
	httpapi.WriteJSON(w, status, out)
}

// StatusOf is the HTTP status of a rejection code.
func StatusOf(code string) int {
	switch code {
	case ticketing.CodeConversationNotFound:
		return http.StatusNotFound
	case ticketing.CodeConversationClosed, ticketing.CodeContactEndedChat, ticketing.CodeContactSpam,
		ticketing.CodeContactOptedOut, ticketing.CodeTemplateRequired, ticketing.CodeRequestIDReused:
		return http.StatusConflict
	case ticketing.CodeUnsupportedCommand:
		return http.StatusBadRequest
	}
	// invalid_command, template_not_found, template_not_approved,
	// template_not_for_channel, invalid_variables: the request names
	// something that cannot be sent as it is.
	return http.StatusUnprocessableEntity
}

// errorBody is chatgate's JSON error, with the details a rejection carries.
type errorBody struct {
	Error errorPayload `json:"error"`
}

type errorPayload struct {
	Code               string                    `json:"code"`
	Message            string                    `json:"message"`
	Details            []detail                  `json:"details,omitempty"`
	RequestID          string                    `json:"request_id,omitempty"`
	WindowClosedAt     *time.Time                `json:"window_closed_at,omitempty"`
	Channel            string                    `json:"channel,omitempty"`
	Language           string                    `json:"language,omitempty"`
	Templates          []ticketing.TemplateOffer `json:"templates,omitzero"`
	Variables          *templates.VariableError  `json:"variables,omitempty"`
	TemplateStatus     templates.Status          `json:"template_status,omitempty"`
	State              ticketing.State           `json:"state,omitempty"`
	OpenConversationID int64                     `json:"open_conversation_id,omitempty"`
}

// detail names one field at fault; Code is set for variables (missing,
// extra, empty, invalid), as on the template routes.
type detail struct {
	Field   string `json:"field"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message"`
}

func writeRejection(w http.ResponseWriter, rej *ticketing.Rejection, requestID string, replayed bool) {
	p := errorPayload{
		Code: rej.Code, Message: rej.Message, RequestID: requestID,
		WindowClosedAt: rej.WindowClosedAt, Channel: string(rej.Channel), Language: rej.Language, Templates: rej.Templates,
		Variables: rej.Variables, TemplateStatus: rej.TemplateStatus, State: rej.State, OpenConversationID: rej.OpenConversationID,
	}
	for _, f := range rej.Fields {
		p.Details = append(p.Details, detail{Field: f.Field, Message: f.Message})
	}
	if v := rej.Variables; v != nil {
		for _, kind := range []struct {
			code, msg string
			names     []string
		}{
			{"missing", "no value for {{%s}}", v.Missing},
			{"extra", "{{%s}} is not a variable of the template", v.Extra},
			{"empty", "the value of {{%s}} is empty", v.Empty},
			{"invalid", "the value of {{%s}} is not valid UTF-8", v.Invalid},
		} {
			for _, n := range kind.names {
				p.Details = append(p.Details, detail{Field: "template.variables." + n, Code: kind.code, Message: fmt.Sprintf(kind.msg, n)})
			}
		}
	}
	if replayed {
		w.Header().Set(HeaderReplayed, "true")
	}
	httpapi.WriteJSON(w, StatusOf(rej.Code), errorBody{Error: p})
}

func (h *Handlers) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}

// Package deskapi is the desk HTTP API of the ticketing service, under
// /v1/tickets (docs/desk.md). Commands:
//
//	POST /v1/tickets/{id}/messages   reply (text or template)
//	POST /v1/tickets/{id}/accept     accept (R18)
//	POST /v1/tickets/quick-accept    accept the N oldest of the queue (R18)
//	POST /v1/tickets/{id}/transfer   to an agent or a department (R21)
//	POST /v1/tickets/{id}/return     back to the unassigned queue (R21)
//	POST /v1/tickets/{id}/close      resolve (R20, R21)
//	POST /v1/tickets/{id}/reopen     reopen, assigned to the agent
//	POST /v1/tickets/{id}/snooze     5 minutes to 24 hours (R22)
//	POST /v1/tickets/{id}/delete     delete (R23)
//	POST /v1/tickets/{id}/spam       mark the contact spam, or not (R16, R23)
//	POST /v1/tickets/{id}/read       mark read or unread (R23)
//	POST /v1/tickets/{id}/comments   comment with @mentions (R23)
//	PUT  /v1/agents/{id}/sign        signature on or off (R25)
//
// Each builds a ticketing.Command and carries it out with
// ticketing.Service.Execute: the same decisions as the same command on the
// commands topic, in its own transaction, idempotent on its request id.
// Queries:
//
//	GET /v1/tickets/unassigned       R17
//	GET /v1/tickets/assigned         R19 (supervisors: everyone's, grouped, with counts)
//	GET /v1/tickets/closed           R20 (?by=me)
//	GET /v1/tickets/snoozed          R22
//	GET /v1/tickets/search?q=        R26
//	GET /v1/tickets/{id}             one conversation with its history
//
// Contacts (contacts.go):
//
//	PUT /v1/contacts/{id}/language   the contact's language (R34; desk, supervisor, ops)
//
// Every ticket route admits the agent, supervisor and desk roles (Route.Roles);
// the wiring wraps each with httpapi.Authenticator.Require and its roles
// (MountWithRoles). The handlers read the request's httpapi.Principal: an
// agent or supervisor token acts as its own agent; a desk token acts for
// the agent named in the request (agent_id).
package deskapi

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/chatgate/chatgate/gateway"
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

// Route is one pattern of the API, its unauthenticated handler, and the
// roles that may use it.
type Route struct {
	// Pattern is a ServeMux pattern, e.g. "POST /v1/tickets/{id}/messages".
	Pattern string
	// Handler serves it.
	Handler http.Handler
	// Roles admitted by the route.
	Roles []httpapi.Role
}

// Roles are the roles every desk route admits.
var Roles = []httpapi.Role{httpapi.RoleAgent, httpapi.RoleSupervisor, httpapi.RoleDesk}

// Routes returns every route of the desk API, for the wiring to wrap with
// authentication and mount.
func (h *Handlers) Routes() []Route {
	cmd := func(typ string) http.Handler { return h.command(typ) }
	routes := []Route{
		{Pattern: "POST /v1/tickets/{id}/messages", Handler: http.HandlerFunc(h.reply)},
		{Pattern: "POST /v1/tickets/quick-accept", Handler: cmd(ticketing.TypeCommandQuickAccept)},
		{Pattern: "POST /v1/tickets/{id}/accept", Handler: cmd(ticketing.TypeCommandAccept)},
		{Pattern: "POST /v1/tickets/{id}/transfer", Handler: cmd(ticketing.TypeCommandTransfer)},
		{Pattern: "POST /v1/tickets/{id}/return", Handler: cmd(ticketing.TypeCommandReturn)},
		{Pattern: "POST /v1/tickets/{id}/close", Handler: cmd(ticketing.TypeCommandClose)},
		{Pattern: "POST /v1/tickets/{id}/reopen", Handler: cmd(ticketing.TypeCommandReopen)},
		{Pattern: "POST /v1/tickets/{id}/snooze", Handler: cmd(ticketing.TypeCommandSnooze)},
		{Pattern: "POST /v1/tickets/{id}/delete", Handler: cmd(ticketing.TypeCommandDelete)},
		{Pattern: "POST /v1/tickets/{id}/spam", Handler: cmd(ticketing.TypeCommandSpam)},
		{Pattern: "POST /v1/tickets/{id}/read", Handler: cmd(ticketing.TypeCommandRead)},
		{Pattern: "POST /v1/tickets/{id}/comments", Handler: cmd(ticketing.TypeCommandComment)},
		{Pattern: "PUT /v1/agents/{id}/sign", Handler: cmd(ticketing.TypeCommandSign)},
		{Pattern: "GET /v1/tickets/unassigned", Handler: h.list(ticketing.ViewUnassigned)},
		{Pattern: "GET /v1/tickets/assigned", Handler: h.list(ticketing.ViewAssigned)},
		{Pattern: "GET /v1/tickets/closed", Handler: h.list(ticketing.ViewClosed)},
		{Pattern: "GET /v1/tickets/snoozed", Handler: h.list(ticketing.ViewSnoozed)},
		{Pattern: "GET /v1/tickets/search", Handler: http.HandlerFunc(h.search)},
		{Pattern: "GET /v1/tickets/{id}", Handler: http.HandlerFunc(h.get)},
	}
	for i := range routes {
		routes[i].Roles = Roles
	}
	return append(routes, Route{Pattern: "PUT /v1/contacts/{id}/language", Handler: http.HandlerFunc(h.contactLanguage), Roles: ContactRoles})
}

// MountWithRoles registers every route with mount, each wrapped by require
// with the route's roles, for example:
//
//	h.MountWithRoles(srv.Handle, auth.Require)
func (h *Handlers) MountWithRoles(mount func(pattern string, h http.Handler), require func(h http.Handler, roles ...httpapi.Role) http.Handler) {
	for _, rt := range h.Routes() {
		mount(rt.Pattern, require(rt.Handler, rt.Roles...))
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
	// AgentID is the agent a desk token acts for; an agent or supervisor
	// token acts as its own agent (absent, or its own id).
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
	role, agent, err := actorOf(r, req.AgentID)
	if err != nil {
		httpapi.WriteErrorFrom(w, err)
		return
	}
	cmd := ticketing.Command{
		Type: ticketing.TypeCommandReply, RequestID: req.RequestID, ConversationID: id, AgentID: agent, Role: role,
		Reply: &ticketing.Reply{Text: req.Text, Template: req.Template},
	}
	out, err := h.Service.Execute(r.Context(), cmd)
	if err != nil {
		h.logger().ErrorContext(r.Context(), "desk reply failed", "conversation_id", id, "request_id", req.RequestID, "err", err)
		// Nothing was done (the transaction rolled back) and the request is
		// idempotent: the desk may retry it as it is, unless the store
		// refused a value of it as data, which no retry fixes (R38).
		writeFailure(w, err, "the reply could not be carried out now; retry with the same request_id")
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
	case ticketing.CodeNotPermitted, ticketing.CodePolicyForbidsTransfer, ticketing.CodePolicyForbidsSupervisorReply,
		ticketing.CodePolicyForbidsJoin:
		return http.StatusForbidden
	case ticketing.CodeConversationClosed, ticketing.CodeContactEndedChat, ticketing.CodeContactSpam,
		ticketing.CodeContactOptedOut, ticketing.CodeTemplateRequired, ticketing.CodeRequestIDReused,
		ticketing.CodeAlreadyAssigned, ticketing.CodeNotAssigned, ticketing.CodeAgentUnavailable,
		ticketing.CodeDepartmentUnavailable, ticketing.CodeConversationOpen, ticketing.CodeConversationArchived,
		ticketing.CodeOpenConversationExists, ticketing.CodeAwaitingContactConsent:
		return http.StatusConflict
	case ticketing.CodeUnsupportedCommand:
		return http.StatusBadRequest
	}
	// invalid_command, template_not_found, template_not_approved,
	// template_not_for_channel, invalid_variables, department_not_found,
	// snooze_out_of_range: the request names something that cannot be
	// carried out as it is.
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
	Assignee           string                    `json:"assignee,omitempty"`
	Agent              string                    `json:"agent,omitempty"`
	Department         string                    `json:"department,omitempty"`
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
		Assignee: rej.Assignee, Agent: rej.Agent, Department: rej.Department,
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
			{"invalid", "the value of {{%s}} is not valid text (not UTF-8, a control character, or over 1024 characters)", v.Invalid},
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

// writeFailure answers an error of the service, after which nothing was
// done: 422 invalid_input when the store refused a value as data (a
// PostgreSQL data exception that validation let through: retrying the
// same request fails again), 503 with the retry hint otherwise.
func writeFailure(w http.ResponseWriter, err error, retry string) {
	if gateway.IsInvalidData(err) {
		httpapi.WriteInvalidInput(w)
		return
	}
	httpapi.WriteUnavailable(w, retry)
}

func (h *Handlers) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}

package deskapi

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/chatgate/chatgate/gateway/httpapi"
	"github.com/chatgate/chatgate/ticketing"
)

// CommandRequest is the body of the desk command routes: the envelope
// (request id, the agent a desk acts for) and the fields of the route's
// command type (ticketing.DeskArgs; a comment's text).
type CommandRequest struct {
	// RequestID is the client's idempotency key: the same id again does
	// nothing more and answers the first outcome.
	RequestID string `json:"request_id"`
	// AgentID is the agent a desk token acts for; an agent or supervisor
	// token acts as its own agent (absent, or its own id).
	AgentID string `json:"agent_id,omitempty"`
	// Text is a comment's text (POST …/comments).
	Text string `json:"text,omitempty"`
	ticketing.DeskArgs
}

// actorOf returns the role and agent a request acts with: an agent or
// supervisor token as its own agent (named names it, or nothing), a desk
// token for the agent named.
func actorOf(r *http.Request, named string) (ticketing.ActorRole, string, error) {
	p, ok := httpapi.PrincipalFrom(r.Context())
	if !ok {
		return "", "", &httpapi.Error{Status: http.StatusUnauthorized, Code: httpapi.CodeUnauthorized, Message: "no authenticated principal"}
	}
	switch p.Role {
	case httpapi.RoleDesk:
		return ticketing.ActorDesk, named, nil
	case httpapi.RoleAgent, httpapi.RoleSupervisor:
		role := ticketing.ActorAgent
		if p.Role == httpapi.RoleSupervisor {
			role = ticketing.ActorSupervisor
		}
		switch {
		case p.Agent == "":
			return "", "", &httpapi.Error{Status: http.StatusForbidden, Code: httpapi.CodeForbidden, Message: "this token is not bound to an agent"}
		case named != "" && named != p.Agent:
			return "", "", &httpapi.Error{Status: http.StatusForbidden, Code: httpapi.CodeForbidden,
				Message: fmt.Sprintf("an %s token acts as its own agent %q, not %q", p.Role, p.Agent, named)}
		}
		return role, p.Agent, nil
	}
	return "", "", &httpapi.Error{Status: http.StatusForbidden, Code: httpapi.CodeForbidden, Message: "this token's role may not use this route"}
}

// command serves the route of one desk command type.
func (h *Handlers) command(typ string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req CommandRequest
		if err := httpapi.DecodeJSON(w, r, 0, &req); err != nil {
			httpapi.WriteErrorFrom(w, err)
			return
		}
		cmd := ticketing.Command{Type: typ, RequestID: req.RequestID}
		switch {
		case typ == ticketing.TypeCommandSign:
			req.AgentID = r.PathValue("id")
		case !ticketing.AgentScoped(typ):
			id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
			if err != nil || id <= 0 {
				writeRejection(w, &ticketing.Rejection{Code: ticketing.CodeConversationNotFound,
					Message: fmt.Sprintf("%q is not a conversation id", r.PathValue("id"))}, "", false)
				return
			}
			cmd.ConversationID = id
		}
		role, agent, err := actorOf(r, req.AgentID)
		if err != nil {
			httpapi.WriteErrorFrom(w, err)
			return
		}
		cmd.Role, cmd.AgentID = role, agent
		args := req.DeskArgs
		if typ == ticketing.TypeCommandSpam && args.Spam == nil {
			mark := true // POST …/spam marks; {"spam": false} unmarks
			args.Spam = &mark
		}
		cmd.DeskArgs = &args
		if typ == ticketing.TypeCommandComment {
			cmd.Reply = &ticketing.Reply{Text: req.Text}
		}
		h.execute(w, r, cmd, http.StatusOK)
	})
}

// execute carries cmd out and answers its outcome: status when carried
// out, 200 with HeaderReplayed for a repeat, the rejection's status and
// code when refused.
func (h *Handlers) execute(w http.ResponseWriter, r *http.Request, cmd ticketing.Command, status int) {
	out, err := h.Service.Execute(r.Context(), cmd)
	if err != nil {
		h.logger().ErrorContext(r.Context(), "desk command failed", "type", cmd.Type, "conversation_id", cmd.ConversationID, "request_id", cmd.RequestID, "err", err)
		// Nothing was done (the transaction rolled back) and the command is
		// idempotent: the desk may retry it as it is, unless the store
		// refused a value of it as data (R38).
		writeFailure(w, err, "the command could not be carried out now; retry with the same request_id")
		return
	}
	if out.Rejection != nil {
		h.logger().DebugContext(r.Context(), "desk command refused", "type", cmd.Type, "conversation_id", cmd.ConversationID, "request_id", cmd.RequestID, "code", out.Rejection.Code)
		writeRejection(w, out.Rejection, out.RequestID, out.Replayed)
		return
	}
	if out.Replayed {
		w.Header().Set(HeaderReplayed, "true")
		status = http.StatusOK
	}
	httpapi.WriteJSON(w, status, out)
}

package deskapi

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/httpapi"
	"github.com/chatgate/chatgate/ticketing"
)

// Error codes of the query routes, besides httpapi's shared ones.
const (
	// CodeInvalidParameter: a query parameter has a value the route does
	// not accept (400); details name it.
	CodeInvalidParameter = "invalid_parameter"
	// CodeInvalidCursor: the cursor was not returned by this list (400).
	CodeInvalidCursor = "invalid_cursor"
)

// ListResponse is the body of the list and search routes.
type ListResponse struct {
	Conversations []ticketing.ConversationSnapshot `json:"conversations"`
	// NextCursor fetches the next page (?cursor=); absent on the last.
	NextCursor string `json:"next_cursor,omitempty"`
	// Total is how many conversations the whole list holds (every page),
	// counted with the same filter: on the unassigned, assigned and
	// snoozed lists (R36), absent on closed lists and searches.
	Total *int `json:"total,omitempty"`
	// Agents are the per-agent counts of the assigned list of a
	// supervisor or desk without an agent filter (R19).
	Agents []ticketing.AgentCount `json:"agents,omitempty"`
}

// readScope returns who reads: an agent or supervisor token as its agent, a
// desk token for ?agent_id= (optional), with what each sees.
func (h *Handlers) readScope(r *http.Request) (ticketing.Scope, error) {
	if err := agentParameter(r, "agent_id"); err != nil {
		return ticketing.Scope{}, err
	}
	role, agent, err := actorOf(r, r.URL.Query().Get("agent_id"))
	if err != nil {
		return ticketing.Scope{}, err
	}
	return h.Service.ScopeFor(r.Context(), role, agent)
}

// agentParameter refuses a query parameter that is given but is not an
// agent id (gateway.CheckAgentID): no agent can have it, and it must not
// reach the store (R38).
func agentParameter(r *http.Request, name string) error {
	v := r.URL.Query().Get(name)
	if v == "" || (name == "by" && v == "me") {
		return nil
	}
	if problem := gateway.CheckAgentID(v); problem != "" {
		return badParameter(name, problem)
	}
	return nil
}

func badParameter(field, msg string) error {
	return &httpapi.Error{Status: http.StatusBadRequest, Code: CodeInvalidParameter, Message: field + ": " + msg,
		Details: []httpapi.ErrorDetail{{Field: field, Message: msg}}}
}

// pageParams reads ?limit= (1–200, default 50) and ?cursor=.
func pageParams(r *http.Request) (int, *ticketing.Cursor, error) {
	q := r.URL.Query()
	limit := ticketing.DefaultPageSize
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > ticketing.MaxPageSize {
			return 0, nil, badParameter("limit", "must be a number from 1 to "+strconv.Itoa(ticketing.MaxPageSize))
		}
		limit = n
	}
	var after *ticketing.Cursor
	if v := q.Get("cursor"); v != "" {
		c, err := ticketing.DecodeCursor(v)
		if err != nil {
			return 0, nil, &httpapi.Error{Status: http.StatusBadRequest, Code: CodeInvalidCursor, Message: err.Error()}
		}
		after = c
	}
	return limit, after, nil
}

// list serves one of the lists. ?agent_id= is the agent a desk reads for;
// on the assigned list a supervisor's ?agent= filters to one agent; on the
// closed list ?by=me (or, for supervisors and desks, ?by=<agent>) lists
// those closed by that agent (R20).
func (h *Handlers) list(view ticketing.View) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sc, err := h.readScope(r)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		limit, after, err := pageParams(r)
		if err == nil {
			err = agentParameter(r, "agent")
		}
		if err == nil {
			err = agentParameter(r, "by")
		}
		if err != nil {
			httpapi.WriteErrorFrom(w, err)
			return
		}
		q := r.URL.Query()
		p := ticketing.ListParams{View: view, Scope: sc, After: after, Limit: limit, Total: view != ticketing.ViewClosed}
		switch o := ticketing.Order(q.Get("order")); {
		case o == "" || o == ticketing.OrderNewest:
		case o == ticketing.OrderOldest && view == ticketing.ViewUnassigned:
			p.Order = o
		default:
			httpapi.WriteErrorFrom(w, badParameter("order", "is newest (the default) or oldest, on the unassigned list only"))
			return
		}
		if after != nil && after.Order != p.Order {
			httpapi.WriteErrorFrom(w, &httpapi.Error{Status: http.StatusBadRequest, Code: CodeInvalidCursor,
				Message: "the cursor continues a list of another order: ask again without it"})
			return
		}
		switch view {
		case ticketing.ViewAssigned:
			p.Agent = q.Get("agent")
			if p.Agent == "" && !sc.All {
				p.Agent = sc.Agent
			}
		case ticketing.ViewClosed:
			switch by := q.Get("by"); {
			case by == "me":
				if sc.Agent == "" {
					httpapi.WriteErrorFrom(w, badParameter("by", "\"me\" needs an agent: a desk names it with agent_id"))
					return
				}
				p.Agent = sc.Agent
			case by != "" && !sc.All && by != sc.Agent:
				httpapi.WriteError(w, http.StatusForbidden, httpapi.CodeForbidden, "an agent lists only what it closed itself (by=me)")
				return
			default:
				p.Agent = by
			}
		}
		page, err := h.Service.List(r.Context(), p)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		resp := ListResponse{Conversations: page.Conversations, Total: page.Total}
		if page.Next != nil {
			resp.NextCursor = page.Next.Encode()
		}
		if view == ticketing.ViewAssigned && sc.All && p.Agent == "" && after == nil {
			if resp.Agents, err = h.Service.AssignedCounts(r.Context()); err != nil {
				h.fail(w, r, err)
				return
			}
			if resp.Agents == nil {
				resp.Agents = []ticketing.AgentCount{}
			}
		}
		httpapi.WriteJSON(w, http.StatusOK, resp)
	})
}

// search serves GET /v1/tickets/search?q= (R26).
func (h *Handlers) search(w http.ResponseWriter, r *http.Request) {
	sc, err := h.readScope(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	limit, after, err := pageParams(r)
	if err != nil {
		httpapi.WriteErrorFrom(w, err)
		return
	}
	q := r.URL.Query().Get("q")
	if len(q) == 0 || len(q) > 256 {
		httpapi.WriteErrorFrom(w, badParameter("q", "is required, at most 256 bytes: #ID, a contact's number or words"))
		return
	}
	if problem := gateway.CheckLine(q, 256); problem != "" {
		// A NUL reached PostgreSQL and came back as a 503 "retry" (R38).
		httpapi.WriteErrorFrom(w, badParameter("q", problem))
		return
	}
	page, err := h.Service.Search(r.Context(), ticketing.SearchParams{Query: q, Scope: sc, After: after, Limit: limit})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	resp := ListResponse{Conversations: page.Conversations}
	if page.Next != nil {
		resp.NextCursor = page.Next.Encode()
	}
	httpapi.WriteJSON(w, http.StatusOK, resp)
}

// get serves GET /v1/tickets/{id}: the conversation with its messages and
// events. A conversation the reader may not see is answered 404, as one
// that does not exist.
func (h *Handlers) get(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		httpapi.WriteError(w, http.StatusNotFound, ticketing.CodeConversationNotFound, "no conversation "+strconv.Quote(r.PathValue("id")))
		return
	}
	sc, err := h.readScope(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d, err := h.Service.Conversation(r.Context(), sc, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, d)
}

// fail answers err: its own answer for an *httpapi.Error, 404 for a
// conversation not found, 422 invalid_input for a value the store refused
// as data (R38), otherwise 503 (logged).
func (h *Handlers) fail(w http.ResponseWriter, r *http.Request, err error) {
	var he *httpapi.Error
	switch {
	case errors.As(err, &he):
		httpapi.WriteErrorFrom(w, err)
	case errors.Is(err, ticketing.ErrInvalidCursor):
		httpapi.WriteError(w, http.StatusBadRequest, CodeInvalidCursor, err.Error())
	case errors.Is(err, ticketing.ErrConversationNotFound):
		httpapi.WriteError(w, http.StatusNotFound, ticketing.CodeConversationNotFound, "no conversation "+strconv.Quote(r.PathValue("id"))+" that this token may see")
	default:
		h.logger().ErrorContext(r.Context(), "desk query failed", "path", r.URL.Path, "err", err)
		writeFailure(w, err, "the query could not be answered now; retry")
	}
}

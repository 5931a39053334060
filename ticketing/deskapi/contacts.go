package deskapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/httpapi"
	"github.com/chatgate/chatgate/ticketing"
)

// Error codes of the contact routes.
const (
	// CodeContactNotFound: no contact has the id (404).
	CodeContactNotFound = "contact_not_found"
	// CodeInvalidLanguage: the language is missing or not a language tag
	// (422); details name the field.
	CodeInvalidLanguage = "invalid_language"
)

// ContactRoles may set a contact's profile: desk services and supervisors
// for their desks, ops for their tooling (R34). Agents ask their desk.
var ContactRoles = []httpapi.Role{httpapi.RoleDesk, httpapi.RoleSupervisor, httpapi.RoleOps}

// ContactLanguageRequest is the body of PUT /v1/contacts/{id}/language.
type ContactLanguageRequest struct {
	// Language is the contact's language in any spelling ("pt-pt"); null
	// or "" removes the override, so the channel's, the number prefix's or
	// the department's default language applies again. Required.
	Language NullableString `json:"language"`
	// AgentID is the agent a desk token acts for, shown as the event's
	// actor; optional.
	AgentID string `json:"agent_id,omitempty"`
}

// NullableString is a JSON string field that tells a missing key (Set
// false) from null (Set, Value "").
type NullableString struct {
	Set   bool
	Value string
}

// UnmarshalJSON records that the key was present; null leaves Value empty.
func (n *NullableString) UnmarshalJSON(b []byte) error {
	n.Set = true
	if string(b) == "null" {
		return nil
	}
	return json.Unmarshal(b, &n.Value)
}

// MarshalJSON writes Value, or null when it is empty.
func (n NullableString) MarshalJSON() ([]byte, error) {
	if n.Value == "" {
		return []byte("null"), nil
	}
	return json.Marshal(n.Value)
}

// ContactResponse is the answer of the contact routes: the contact as
// events show it, its language resolved and the source of it.
type ContactResponse struct {
	Contact gateway.ContactView `json:"contact"`
}

// contactLanguage serves PUT /v1/contacts/{id}/language (R34).
func (h *Handlers) contactLanguage(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		httpapi.WriteError(w, http.StatusNotFound, CodeContactNotFound, fmt.Sprintf("%q is not a contact id", r.PathValue("id")))
		return
	}
	var req ContactLanguageRequest
	if err := httpapi.DecodeJSON(w, r, 0, &req); err != nil {
		httpapi.WriteErrorFrom(w, err)
		return
	}
	if !req.Language.Set {
		httpapi.WriteErrorDetails(w, http.StatusUnprocessableEntity, CodeInvalidLanguage, "language is required",
			[]httpapi.ErrorDetail{{Field: "language", Message: "is required: a language tag such as pt_PT, or null to remove the override"}})
		return
	}
	actor := ticketing.Actor{Role: ticketing.ActorOps}
	if p, ok := httpapi.PrincipalFrom(r.Context()); !ok || p.Role != httpapi.RoleOps {
		role, agent, err := actorOf(r, req.AgentID)
		if err != nil {
			httpapi.WriteErrorFrom(w, err)
			return
		}
		actor = ticketing.Actor{AgentID: agent, Role: role}
	}
	view, err := h.Service.SetContactLanguage(r.Context(), ticketing.ContactLanguage{ContactID: id, Language: req.Language.Value, Actor: actor})
	switch {
	case errors.Is(err, ticketing.ErrInvalidLanguage):
		httpapi.WriteErrorDetails(w, http.StatusUnprocessableEntity, CodeInvalidLanguage, err.Error(),
			[]httpapi.ErrorDetail{{Field: "language", Message: fmt.Sprintf("%q is not a language tag such as pt_PT", req.Language.Value)}})
	case errors.Is(err, ticketing.ErrContactNotFound):
		httpapi.WriteError(w, http.StatusNotFound, CodeContactNotFound, fmt.Sprintf("no contact %d", id))
	case err != nil:
		h.logger().ErrorContext(r.Context(), "contact language failed", "contact_id", id, "error", err)
		// Nothing was written; setting a language again is harmless.
		httpapi.WriteUnavailable(w, "the language could not be set now; retry")
	default:
		httpapi.WriteJSON(w, http.StatusOK, ContactResponse{Contact: view})
	}
}

package cloudapi

import (
	"strings"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/templates"
)

// MapMetaStatus maps Meta's template status (or status update event) to
// chatgate's lifecycle. ok is false for statuses that say nothing about
// whether the template may be sent (FLAGGED is a warning; the template
// stays approved until Meta pauses it).
//
//	APPROVED, REINSTATED, UNPAUSED       → approved
//	PENDING, IN_APPEAL                   → draft (waiting for Meta)
//	REJECTED                             → rejected
//	PAUSED, DISABLED, PENDING_DELETION,
//	DELETED, ARCHIVED, LIMIT_EXCEEDED    → disabled
func MapMetaStatus(s string) (templates.Status, bool) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "APPROVED", "REINSTATED", "UNPAUSED":
		return templates.StatusApproved, true
	case "PENDING", "IN_APPEAL":
		return templates.StatusDraft, true
	case "REJECTED":
		return templates.StatusRejected, true
	case "PAUSED", "DISABLED", "PENDING_DELETION", "DELETED", "ARCHIVED", "LIMIT_EXCEEDED":
		return templates.StatusDisabled, true
	}
	return "", false
}

// TemplateStatusUpdate is a message_template_status_update webhook: Meta
// decided about a template.
type TemplateStatusUpdate struct {
	// WABAID is the account (the webhook entry's id).
	WABAID string `json:"waba_id"`
	// TemplateID is Meta's id of the template.
	TemplateID string `json:"template_id"`
	// Name and Language (canonical) identify the template in chatgate.
	Name     string `json:"name"`
	Language string `json:"language"`
	// Event is Meta's word: APPROVED, REJECTED, PENDING, PAUSED, DISABLED,
	// FLAGGED, REINSTATED, PENDING_DELETION, IN_APPEAL, …
	Event string `json:"event"`
	// Status is Event in chatgate's lifecycle; empty when the event does not
	// change whether the template may be sent (FLAGGED).
	Status templates.Status `json:"status,omitempty"`
	// Reason is Meta's reason (a rejection reason, NONE), and Info its
	// further explanation, when given.
	Reason string `json:"reason,omitempty"`
	Info   string `json:"info,omitempty"`
}

func (p *parser) templateStatus(path, wabaID string, v templateStatusValue) (TemplateStatusUpdate, bool) {
	before := len(p.problems)
	u := TemplateStatusUpdate{WABAID: wabaID, Name: v.MessageTemplateName, Event: strings.ToUpper(v.Event), Reason: v.Reason}
	if id := strings.Trim(string(v.MessageTemplateID), `"`); isGraphID(id) {
		u.TemplateID = id
	} else if len(v.MessageTemplateID) > 0 {
		p.problem(path+".message_template_id", "is not a Graph API id")
	}
	if u.Name == "" {
		p.problem(path+".message_template_name", "is required")
	} else {
		p.check(path, ".message_template_name", gateway.CheckKey(u.Name, templates.MaxNameLength))
	}
	lang, err := templates.NormalizeLanguage(v.MessageTemplateLanguage)
	if err != nil {
		p.problem(path+".message_template_language", "%q is not a language tag", clip(v.MessageTemplateLanguage, 32))
	}
	u.Language = lang
	if u.Event == "" {
		p.problem(path+".event", "is required")
	} else {
		p.check(path, ".event", gateway.CheckKey(u.Event, 64))
	}
	u.Status, _ = MapMetaStatus(u.Event)
	p.check(path, ".reason", gateway.CheckLine(u.Reason, 256))
	if oi := v.OtherInfo; oi != nil {
		u.Info = strings.TrimSpace(firstNonEmpty(oi.Title, "") + " " + oi.Description)
		p.check(path, ".other_info", gateway.CheckText(u.Info, 1024))
	}
	return u, len(p.problems) == before
}

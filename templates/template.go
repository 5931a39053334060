package templates

import "fmt"

// Category is WhatsApp's template category; it decides pricing and which
// templates Meta accepts, so every template has one.
type Category string

// The template categories.
const (
	CategoryUtility        Category = "utility"
	CategoryMarketing      Category = "marketing"
	CategoryAuthentication Category = "authentication"
)

// Valid reports whether c is a known category.
func (c Category) Valid() bool {
	switch c {
	case CategoryUtility, CategoryMarketing, CategoryAuthentication:
		return true
	}
	return false
}

// ChannelScope says on which channel a template may be sent.
type ChannelScope string

// The channel scopes. ScopeAny fits every channel, including the API channel.
const (
	ScopeWhatsApp ChannelScope = "whatsapp"
	ScopeSMS      ChannelScope = "sms"
	ScopeAny      ChannelScope = "any"
)

// Valid reports whether s is a known scope.
func (s ChannelScope) Valid() bool {
	switch s {
	case ScopeWhatsApp, ScopeSMS, ScopeAny:
		return true
	}
	return false
}

// Channel names as the window helpers and Fits understand them (compared
// case-insensitively).
const (
	ChannelWhatsApp = "whatsapp"
	ChannelSMS      = "sms"
	ChannelAPI      = "api"
)

// Status is where a template is in its lifecycle: draft → approved or
// rejected; approved → disabled. Only approved templates are sent.
type Status string

// The template statuses.
const (
	StatusDraft    Status = "draft"
	StatusApproved Status = "approved"
	StatusRejected Status = "rejected"
	StatusDisabled Status = "disabled"
)

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	_, ok := allowedTransitions[s]
	return ok
}

// allowedTransitions is the whole lifecycle. Rejected and disabled are final
// for a version: a changed template is a new draft, so what was approved is
// never silently changed.
var allowedTransitions = map[Status][]Status{
	StatusDraft:    {StatusApproved, StatusRejected},
	StatusApproved: {StatusDisabled},
	StatusRejected: nil,
	StatusDisabled: nil,
}

// Transition checks that a template may go from status from to status to.
// It returns a *TransitionError (ErrIllegalTransition) for any other change,
// including staying in the same status and unknown statuses.
func Transition(from, to Status) error {
	for _, s := range allowedTransitions[from] {
		if s == to {
			return nil
		}
	}
	return &TransitionError{From: from, To: to}
}

// SetStatus moves t to status to if Transition allows it, and leaves t
// unchanged otherwise.
func (t *Template) SetStatus(to Status) error {
	if err := Transition(t.Status, to); err != nil {
		return fmt.Errorf("template %s (%s): %w", t.Name, t.Language, err)
	}
	t.Status = to
	return nil
}

// QuickReply is a quick-reply button shown under a WhatsApp template.
type QuickReply struct {
	// Text is the button label, at most MaxButtonText characters.
	Text string `json:"text"`
}

// TwilioRef points at the template's copy in Twilio's Content API.
type TwilioRef struct {
	// ContentSID is the Content SID, "HX" and 32 hex digits.
	ContentSID string `json:"content_sid,omitempty"`
}

// WhatsAppRef points at the template as registered with WhatsApp (Meta).
type WhatsAppRef struct {
	// Name is the WhatsApp template name; empty means Template.Name.
	Name string `json:"name,omitempty"`
	// Namespace is the WhatsApp Business Account's template namespace,
	// needed only by the on-premises API.
	Namespace string `json:"namespace,omitempty"`
}

// Template is one message template in one language and one version.
// (Name, Language) is unique in the store.
type Template struct {
	// Name identifies the template across languages: lowercase letters,
	// digits and underscores, at most MaxNameLength (WhatsApp's rule).
	Name string `json:"name"`
	// Language in canonical form (see NormalizeLanguage); Validate also
	// accepts other spellings that normalise, Normalize rewrites them.
	Language string `json:"language"`
	// Category is utility, marketing or authentication.
	Category Category `json:"category"`
	// Channel is the channel scope: whatsapp, sms or any.
	Channel ChannelScope `json:"channel"`
	// Header is optional plain text shown above the body (no variables).
	Header string `json:"header,omitempty"`
	// Body is the message text with numbered or named variables.
	Body string `json:"body"`
	// Footer is optional plain text shown below the body (no variables).
	Footer string `json:"footer,omitempty"`
	// Buttons are optional quick replies, at most MaxButtons; not on SMS.
	Buttons []QuickReply `json:"buttons,omitempty"`
	// Status is the lifecycle state; only approved templates are sent.
	Status Status `json:"status"`
	// Version counts the edits of (Name, Language); 0 means not stored yet.
	Version int `json:"version"`
	// Twilio is the Twilio Content API reference, if any.
	Twilio TwilioRef `json:"twilio,omitzero"`
	// WhatsApp is the WhatsApp template reference, if any.
	WhatsApp WhatsAppRef `json:"whatsapp,omitzero"`
}

// WhatsAppName returns the name to send to WhatsApp: WhatsApp.Name if set,
// Template.Name otherwise.
func (t *Template) WhatsAppName() string {
	if t.WhatsApp.Name != "" {
		return t.WhatsApp.Name
	}
	return t.Name
}

// Normalize rewrites t into canonical form before validation and storage:
// the language in canonical spelling (left as is when it cannot be parsed,
// so that Validate reports it), an empty channel scope as ScopeAny and an
// empty status as StatusDraft.
func (t *Template) Normalize() {
	if lang, err := NormalizeLanguage(t.Language); err == nil {
		t.Language = lang
	}
	if t.Channel == "" {
		t.Channel = ScopeAny
	}
	if t.Status == "" {
		t.Status = StatusDraft
	}
}

// Sendable returns nil if t may be sent, and a *NotApprovedError
// (ErrNotApproved) naming its status otherwise.
func Sendable(t *Template) error {
	if t == nil {
		return fmt.Errorf("nil template: %w", ErrNotApproved)
	}
	if t.Status != StatusApproved {
		return &NotApprovedError{Name: t.Name, Language: t.Language, Status: t.Status}
	}
	return nil
}

package templates

import (
	"errors"
	"fmt"
	"strings"

	"github.com/chatgate/chatgate/gateway"
)

// Sentinel errors callers branch on with errors.Is. The typed errors of this
// package match the sentinel they refine: a *ValidationError is ErrInvalid, a
// *VariableError is ErrVariables, a *NotApprovedError is ErrNotApproved, a
// *TransitionError is ErrIllegalTransition and a *NotFoundError is ErrNotFound.
var (
	// ErrNotFound reports that no template matches a name and language.
	ErrNotFound = errors.New("template not found")
	// ErrDuplicate reports that a template with the same name and language
	// already exists. The store detects it; this package only names it.
	ErrDuplicate = errors.New("template already exists for this name and language")
	// ErrInvalid reports a template that breaks a validation rule.
	ErrInvalid = errors.New("invalid template")
	// ErrInvalidLanguage reports a language tag that cannot be normalised.
	ErrInvalidLanguage = gateway.ErrInvalidLanguage
	// ErrVariables reports missing, extra, empty or otherwise unusable
	// variable values given to Render.
	ErrVariables = errors.New("template variables do not match")
	// ErrNotApproved reports a template that cannot be sent because its
	// status is not approved.
	ErrNotApproved = errors.New("template not approved")
	// ErrIllegalTransition reports a status change the lifecycle forbids.
	ErrIllegalTransition = errors.New("illegal template status transition")
)

// Validation error codes, stable strings for FieldError.Code that HTTP
// clients may branch on.
const (
	// CodeRequired: the field is empty but must be set.
	CodeRequired = "required"
	// CodeInvalid: the value is not one the field accepts.
	CodeInvalid = "invalid"
	// CodeTooLong: the value has more characters (runes) than allowed.
	CodeTooLong = "too_long"
	// CodeTooMany: the list has more entries than allowed.
	CodeTooMany = "too_many"
	// CodeDuplicate: the list has the same entry twice.
	CodeDuplicate = "duplicate"
	// CodeNotAllowed: the field may not be used here (for example buttons
	// on an SMS template, variables in a footer).
	CodeNotAllowed = "not_allowed"
	// CodeMalformedPlaceholder: "{{" does not open a well-formed variable.
	CodeMalformedPlaceholder = "malformed_placeholder"
	// CodeMixedVariables: numbered and named variables in one body.
	CodeMixedVariables = "mixed_variable_styles"
	// CodeNumberingStart: numbered variables do not start at {{1}}.
	CodeNumberingStart = "numbering_start"
	// CodeNumberingGap: numbered variables skip a number.
	CodeNumberingGap = "numbering_gap"
)

// FieldError is one broken rule of one field. Field uses the JSON names of
// Template ("name", "body", "buttons[1].text", "twilio.content_sid").
type FieldError struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error returns "field: message".
func (e FieldError) Error() string {
	return e.Field + ": " + e.Message
}

// ValidationError lists every broken rule of a template, so that an API can
// report them all at once. It matches ErrInvalid.
type ValidationError struct {
	Errors []FieldError `json:"errors"`
}

// Error joins the field errors in order.
func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		parts[i] = fe.Error()
	}
	return "invalid template: " + strings.Join(parts, "; ")
}

// Is reports whether target is ErrInvalid.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// Fields returns the names of the offending fields in order, without repeats.
func (e *ValidationError) Fields() []string {
	var out []string
	seen := map[string]bool{}
	for _, fe := range e.Errors {
		if !seen[fe.Field] {
			seen[fe.Field] = true
			out = append(out, fe.Field)
		}
	}
	return out
}

// VariableError reports the variable values Render refused. Each list is
// sorted: numbers numerically, then names alphabetically. It matches
// ErrVariables.
type VariableError struct {
	// Missing are variables of the body with no value.
	Missing []string `json:"missing,omitempty"`
	// Extra are values given for variables the body does not have.
	Extra []string `json:"extra,omitempty"`
	// Empty are variables whose value is empty or only whitespace.
	Empty []string `json:"empty,omitempty"`
	// Invalid are variables whose value is not valid text: not UTF-8, a
	// control character other than tab and line breaks, or longer than
	// MaxVariableLength characters.
	Invalid []string `json:"invalid,omitempty"`
}

// Error names every offending variable.
func (e *VariableError) Error() string {
	var parts []string
	add := func(what string, names []string) {
		if len(names) > 0 {
			parts = append(parts, what+" "+strings.Join(names, ", "))
		}
	}
	add("missing", e.Missing)
	add("extra", e.Extra)
	add("empty", e.Empty)
	add("invalid", e.Invalid)
	return "template variables: " + strings.Join(parts, "; ")
}

// Is reports whether target is ErrVariables.
func (e *VariableError) Is(target error) bool { return target == ErrVariables }

// NotApprovedError reports a template whose status does not allow sending.
// It matches ErrNotApproved.
type NotApprovedError struct {
	// Name and Language identify the template.
	Name     string
	Language string
	// Status is the template's status, anything but approved.
	Status Status
}

// Error says which template and which status.
func (e *NotApprovedError) Error() string {
	return fmt.Sprintf("template %s (%s) is %s, only approved templates are sent", e.Name, e.Language, e.Status)
}

// Is reports whether target is ErrNotApproved.
func (e *NotApprovedError) Is(target error) bool { return target == ErrNotApproved }

// TransitionError reports a status change the lifecycle forbids. It matches
// ErrIllegalTransition.
type TransitionError struct {
	// From is the current status.
	From Status
	// To is the refused target status.
	To Status
}

// Error names both statuses and what is allowed instead.
func (e *TransitionError) Error() string {
	allowed := allowedTransitions[e.From]
	if len(allowed) == 0 {
		return fmt.Sprintf("template status cannot change from %q to %q: no change allowed from %q", e.From, e.To, e.From)
	}
	names := make([]string, len(allowed))
	for i, s := range allowed {
		names[i] = string(s)
	}
	return fmt.Sprintf("template status cannot change from %q to %q: allowed %s", e.From, e.To, strings.Join(names, ", "))
}

// Is reports whether target is ErrIllegalTransition.
func (e *TransitionError) Is(target error) bool { return target == ErrIllegalTransition }

// NotFoundError reports that Resolve found no template; Tried lists the
// canonical languages looked for, in order. It matches ErrNotFound.
type NotFoundError struct {
	// Name is the template name looked for.
	Name string
	// Tried are the canonical languages tried, in order.
	Tried []string
}

// Error names the template and the languages tried.
func (e *NotFoundError) Error() string {
	if len(e.Tried) == 0 {
		return fmt.Sprintf("template %q not found: no language to try", e.Name)
	}
	return fmt.Sprintf("template %q not found in languages %s", e.Name, strings.Join(e.Tried, ", "))
}

// Is reports whether target is ErrNotFound.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

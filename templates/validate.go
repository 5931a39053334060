package templates

import (
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/chatgate/chatgate/gateway"
)

// Limits, from WhatsApp's template rules. Lengths count characters (runes),
// not bytes.
const (
	// MaxNameLength is the longest template name.
	MaxNameLength = 512
	// MaxBodyLength is the longest body, placeholders included.
	MaxBodyLength = 1024
	// MaxHeaderLength is the longest text header.
	MaxHeaderLength = 60
	// MaxFooterLength is the longest footer.
	MaxFooterLength = 60
	// MaxButtons is the most quick-reply buttons a template may have.
	MaxButtons = 3
	// MaxButtonText is the longest quick-reply button label.
	MaxButtonText = 20
	// MaxVariableLength is the longest value of one variable: a name, an
	// order number, a date, not a second body.
	MaxVariableLength = 1024
	// MaxNamespaceLength bounds a WhatsApp template namespace.
	MaxNamespaceLength = 128
)

// ValidName reports whether s is a template name: 1 to MaxNameLength
// lowercase ASCII letters, digits and underscores (WhatsApp's rule). A
// name that is not one names no template, so routes refuse it at once.
func ValidName(s string) bool { return len(s) <= MaxNameLength && isTemplateName(s) }

// Validate checks every rule of a template and returns a *ValidationError
// (ErrInvalid) listing every broken one, or nil. It does not change t; call
// Normalize first to accept any spelling of the language and to fill the
// defaults. Uniqueness of (Name, Language) is the store's check
// (ErrDuplicate).
func (t *Template) Validate() error {
	if t == nil {
		return &ValidationError{Errors: []FieldError{{Field: "template", Code: CodeRequired, Message: "no template"}}}
	}
	var v validator
	v.name("name", t.Name)
	v.language(t.Language)
	switch {
	case t.Category == "":
		v.add("category", CodeRequired, "is required")
	case !t.Category.Valid():
		v.add("category", CodeInvalid, fmt.Sprintf("%q is not one of utility, marketing, authentication", t.Category))
	}
	switch {
	case t.Channel == "":
		v.add("channel", CodeRequired, "is required")
	case !t.Channel.Valid():
		v.add("channel", CodeInvalid, fmt.Sprintf("%q is not one of whatsapp, sms, any", t.Channel))
	}
	switch {
	case t.Status == "":
		v.add("status", CodeRequired, "is required")
	case !t.Status.Valid():
		v.add("status", CodeInvalid, fmt.Sprintf("%q is not one of draft, approved, rejected, disabled", t.Status))
	}
	if t.Version < 0 {
		v.add("version", CodeInvalid, fmt.Sprintf("%d is negative", t.Version))
	}
	v.body(t.Body)
	v.plainText("header", t.Header, MaxHeaderLength)
	v.plainText("footer", t.Footer, MaxFooterLength)
	v.buttons(t.Buttons, t.Channel)
	if sid := t.Twilio.ContentSID; sid != "" && !isContentSID(sid) {
		v.add("twilio.content_sid", CodeInvalid, fmt.Sprintf("%q is not a Content SID (HX and 32 hex digits)", clip(sid)))
	}
	if t.WhatsApp.Name != "" {
		v.name("whatsapp.name", t.WhatsApp.Name)
	}
	if p := gateway.CheckKey(t.WhatsApp.Namespace, MaxNamespaceLength); p != "" {
		v.add("whatsapp.namespace", CodeInvalid, p)
	}
	if len(v.errs) > 0 {
		return &ValidationError{Errors: v.errs}
	}
	return nil
}

type validator struct {
	errs []FieldError
}

func (v *validator) add(field, code, msg string) {
	v.errs = append(v.errs, FieldError{Field: field, Code: code, Message: msg})
}

// name applies WhatsApp's template name rule.
func (v *validator) name(field, s string) {
	switch {
	case s == "":
		v.add(field, CodeRequired, "is required")
	case len(s) > MaxNameLength:
		v.add(field, CodeTooLong, fmt.Sprintf("has %d characters, at most %d allowed", utf8.RuneCountInString(s), MaxNameLength))
	case !isTemplateName(s):
		v.add(field, CodeInvalid, fmt.Sprintf("%q may contain only lowercase letters, digits and underscores", clip(s)))
	}
}

func (v *validator) language(s string) {
	if strings.TrimSpace(s) == "" {
		v.add("language", CodeRequired, "is required")
		return
	}
	if _, err := NormalizeLanguage(s); err != nil {
		v.add("language", CodeInvalid, err.Error())
	}
}

// text refuses what no stored text may hold (R38): bytes that are not
// UTF-8 and control characters other than tab and line breaks. PostgreSQL
// cannot store U+0000, and a text that is sent must not carry it either.
func (v *validator) text(field, s string) bool {
	if p := gateway.CheckText(s, math.MaxInt); p != "" {
		v.add(field, CodeInvalid, p)
		return false
	}
	return true
}

func (v *validator) body(s string) {
	switch {
	case strings.TrimSpace(s) == "":
		v.add("body", CodeRequired, "is required")
		return
	case !v.text("body", s):
		return
	}
	if n := utf8.RuneCountInString(s); n > MaxBodyLength {
		v.add("body", CodeTooLong, fmt.Sprintf("has %d characters, at most %d allowed", n, MaxBodyLength))
	}
	_, errs := parseBody("body", s)
	v.errs = append(v.errs, errs...)
}

// plainText checks an optional text without variables.
func (v *validator) plainText(field, s string, limit int) {
	if s == "" || !v.text(field, s) {
		return
	}
	if n := utf8.RuneCountInString(s); n > limit {
		v.add(field, CodeTooLong, fmt.Sprintf("has %d characters, at most %d allowed", n, limit))
	}
	if strings.Contains(s, "{{") {
		v.add(field, CodeNotAllowed, "variables are allowed only in the body")
	}
}

func (v *validator) buttons(bs []QuickReply, scope ChannelScope) {
	if len(bs) == 0 {
		return
	}
	if scope == ScopeSMS {
		v.add("buttons", CodeNotAllowed, "SMS templates have no buttons")
	}
	if len(bs) > MaxButtons {
		v.add("buttons", CodeTooMany, fmt.Sprintf("has %d quick replies, at most %d allowed", len(bs), MaxButtons))
	}
	seen := map[string]int{}
	for i, b := range bs {
		field := fmt.Sprintf("buttons[%d].text", i)
		text := strings.TrimSpace(b.Text)
		switch {
		case text == "":
			v.add(field, CodeRequired, "is required")
			continue
		case gateway.CheckLine(b.Text, math.MaxInt) != "":
			v.add(field, CodeInvalid, gateway.CheckLine(b.Text, math.MaxInt))
			continue
		}
		if n := utf8.RuneCountInString(b.Text); n > MaxButtonText {
			v.add(field, CodeTooLong, fmt.Sprintf("has %d characters, at most %d allowed", n, MaxButtonText))
		}
		if strings.Contains(b.Text, "{{") {
			v.add(field, CodeNotAllowed, "variables are allowed only in the body")
		}
		if j, dup := seen[text]; dup {
			v.add(field, CodeDuplicate, fmt.Sprintf("repeats buttons[%d]", j))
		} else {
			seen[text] = i
		}
	}
}

func isTemplateName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return s != ""
}

func isContentSID(s string) bool {
	if len(s) != 34 || !strings.HasPrefix(s, "HX") {
		return false
	}
	for i := 2; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

package templates

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/chatgate/chatgate/gateway"
)

// PartSeparator joins header, body and footer in Rendered.Text. WhatsApp
// shows the three as separate blocks, header on top and footer at the
// bottom; a blank line between them keeps that layout in plain text (SMS,
// transcripts, desks).
const PartSeparator = "\n\n"

// Rendered is a template with its variables filled in, ready to hand to a
// sender.
type Rendered struct {
	// Name, Language (canonical) and Version identify what was rendered.
	Name     string `json:"name"`
	Language string `json:"language"`
	Version  int    `json:"version"`
	// Header, Body and Footer are the rendered parts; Header and Footer are
	// copied as they are (they have no variables).
	Header string `json:"header,omitempty"`
	Body   string `json:"body"`
	Footer string `json:"footer,omitempty"`
	// Text is the whole message as a contact reads it: the non-empty parts
	// among Header, Body and Footer, joined by PartSeparator. Buttons are not
	// part of it.
	Text string `json:"text"`
	// Buttons are the quick-reply labels, in order.
	Buttons []string `json:"buttons,omitempty"`
	// Twilio is what Twilio's Messages API needs for a Content template.
	Twilio TwilioContent `json:"twilio"`
	// WhatsApp is the "template" object of a WhatsApp Cloud API message.
	WhatsApp WhatsAppTemplate `json:"whatsapp"`
}

// TwilioContent holds Twilio's ContentSid and ContentVariables parameters.
type TwilioContent struct {
	// ContentSID is Template.Twilio.ContentSID (may be empty).
	ContentSID string `json:"content_sid,omitempty"`
	// ContentVariables is a JSON object from variable name to value:
	// {"1":"Ana","2":"Friday"} or {"first_name":"Ana"}; "{}" when the
	// body has no variables.
	ContentVariables string `json:"content_variables"`
}

// WhatsAppTemplate is the "template" object of a WhatsApp Cloud API send
// request (type "template").
type WhatsAppTemplate struct {
	// Name is Template.WhatsAppName().
	Name string `json:"name"`
	// Namespace is Template.WhatsApp.Namespace (on-premises API only).
	Namespace string `json:"namespace,omitempty"`
	// Language is the canonical language with the deterministic policy.
	Language WhatsAppLanguage `json:"language"`
	// Components carry the body parameters; omitted without variables.
	Components []WhatsAppComponent `json:"components,omitempty"`
}

// WhatsAppLanguage is the template's language as WhatsApp expects it.
type WhatsAppLanguage struct {
	// Code is the canonical language, e.g. "pt_BR".
	Code string `json:"code"`
	// Policy is always "deterministic": send exactly this language.
	Policy string `json:"policy"`
}

// WhatsAppComponent is one component of a template message; Render emits a
// single "body" component when the body has variables, and none otherwise.
type WhatsAppComponent struct {
	// Type is "body".
	Type string `json:"type"`
	// Parameters are the values in Variables.Names order.
	Parameters []WhatsAppParameter `json:"parameters"`
}

// WhatsAppParameter is one text parameter, in the order of
// Variables.Names. ParameterName is set for named variables, as the Cloud
// API requires for templates created with named parameters.
type WhatsAppParameter struct {
	// Type is "text".
	Type string `json:"type"`
	// ParameterName is the variable name, for named variables only.
	ParameterName string `json:"parameter_name,omitempty"`
	// Text is the value, as given.
	Text string `json:"text"`
}

// Render fills the body of t with vars, keyed by variable name ("1", "2", …
// or "first_name"). It refuses, before anything could be sent:
//   - a template that fails Validate (*ValidationError, ErrInvalid);
//   - missing, extra, empty or whitespace-only, or non-UTF-8 values, all
//     reported at once in a *VariableError (ErrVariables).
//
// Values are inserted literally in one pass: a value containing "{{2}}"
// stays "{{2}}" in the result and is never expanded.
//
// Render does not look at the status, so that drafts can be previewed;
// senders must use RenderForSend, or call Sendable first.
func Render(t *Template, vars map[string]string) (Rendered, error) {
	if err := t.Validate(); err != nil {
		if t == nil {
			return Rendered{}, fmt.Errorf("render template: %w", err)
		}
		return Rendered{}, fmt.Errorf("render template %s (%s): %w", t.Name, t.Language, err)
	}
	p, errs := parseBody("body", t.Body)
	if len(errs) > 0 { // unreachable after Validate; kept so a future change cannot render garbage
		return Rendered{}, fmt.Errorf("render template %s (%s): %w", t.Name, t.Language, &ValidationError{Errors: errs})
	}
	if err := checkValues(p.vars.Names, vars); err != nil {
		return Rendered{}, fmt.Errorf("render template %s (%s): %w", t.Name, t.Language, err)
	}

	var body strings.Builder
	for _, s := range p.segments {
		if s.variable {
			body.WriteString(vars[s.text])
		} else {
			body.WriteString(s.text)
		}
	}
	lang, _ := NormalizeLanguage(t.Language) // valid: Validate passed
	r := Rendered{
		Name:     t.Name,
		Language: lang,
		Version:  t.Version,
		Header:   t.Header,
		Body:     body.String(),
		Footer:   t.Footer,
	}
	var parts []string
	for _, s := range []string{r.Header, r.Body, r.Footer} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	r.Text = strings.Join(parts, PartSeparator)
	for _, b := range t.Buttons {
		r.Buttons = append(r.Buttons, b.Text)
	}

	cv, err := contentVariables(p.vars.Names, vars)
	if err != nil {
		return Rendered{}, fmt.Errorf("render template %s (%s): twilio content variables: %w", t.Name, t.Language, err)
	}
	r.Twilio = TwilioContent{ContentSID: t.Twilio.ContentSID, ContentVariables: cv}

	r.WhatsApp = WhatsAppTemplate{
		Name:      t.WhatsAppName(),
		Namespace: t.WhatsApp.Namespace,
		Language:  WhatsAppLanguage{Code: lang, Policy: "deterministic"},
	}
	if len(p.vars.Names) > 0 {
		params := make([]WhatsAppParameter, len(p.vars.Names))
		for i, name := range p.vars.Names {
			params[i] = WhatsAppParameter{Type: "text", Text: vars[name]}
			if p.vars.Style == StyleNamed {
				params[i].ParameterName = name
			}
		}
		r.WhatsApp.Components = []WhatsAppComponent{{Type: "body", Parameters: params}}
	}
	return r, nil
}

// RenderForSend is Sendable followed by Render: the way to render a template
// that is about to be sent.
func RenderForSend(t *Template, vars map[string]string) (Rendered, error) {
	if err := Sendable(t); err != nil {
		return Rendered{}, fmt.Errorf("render template for sending: %w", err)
	}
	return Render(t, vars)
}

// checkValues compares the body's variables with the values given.
func checkValues(names []string, vars map[string]string) error {
	var e VariableError
	want := make(map[string]bool, len(names))
	for _, n := range names {
		want[n] = true
		v, ok := vars[n]
		switch {
		case !ok:
			e.Missing = append(e.Missing, n)
		case gateway.CheckText(v, MaxVariableLength) != "":
			// Not UTF-8, a control character (R38: the rendered text is
			// stored and sent), or longer than a variable may be.
			e.Invalid = append(e.Invalid, n)
		case strings.TrimSpace(v) == "":
			e.Empty = append(e.Empty, n)
		}
	}
	for n := range vars {
		if !want[n] {
			e.Extra = append(e.Extra, n)
		}
	}
	if len(e.Missing)+len(e.Extra)+len(e.Empty)+len(e.Invalid) == 0 {
		return nil
	}
	for _, l := range [][]string{e.Missing, e.Extra, e.Empty, e.Invalid} {
		slices.SortFunc(l, compareVariableNames)
	}
	return &e
}

// compareVariableNames orders numbers numerically, then other names
// alphabetically.
func compareVariableNames(a, b string) int {
	an, bn := allASCIIDigits(a), allASCIIDigits(b)
	switch {
	case an && bn:
		at, bt := strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
		return cmp.Or(cmp.Compare(len(at), len(bt)), strings.Compare(at, bt), strings.Compare(a, b))
	case an:
		return -1
	case bn:
		return 1
	}
	return strings.Compare(a, b)
}

// contentVariables encodes the values as Twilio's ContentVariables JSON,
// without HTML escaping so that "<" and "&" stay readable.
func contentVariables(names []string, vars map[string]string) (string, error) {
	m := make(map[string]string, len(names))
	for _, n := range names {
		m[n] = vars[n]
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return "", err
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

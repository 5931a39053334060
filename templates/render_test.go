package templates_test

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/chatgate/chatgate/templates"
)

func TestR29_Render(t *testing.T) {
	t.Parallel()
	type param struct{ name, text string }
	tests := []struct {
		name       string
		tmpl       *templates.Template
		vars       map[string]string
		wantBody   string
		wantText   string
		wantTwilio string
		wantParams []param
	}{
		{
			name:       "numbered",
			tmpl:       valid(),
			vars:       map[string]string{"1": "Ana", "2": "A-17"},
			wantBody:   "Hi Ana, your order A-17 has shipped.",
			wantText:   "Hi Ana, your order A-17 has shipped.",
			wantTwilio: `{"1":"Ana","2":"A-17"}`,
			wantParams: []param{{"", "Ana"}, {"", "A-17"}},
		},
		{
			name:     "numbered out of order and repeated, parameters by number",
			tmpl:     with(func(t *templates.Template) { t.Body = "{{2}}, {{1}}! {{2}}." }),
			vars:     map[string]string{"1": "one", "2": "two"},
			wantBody: "two, one! two.", wantText: "two, one! two.",
			wantTwilio: `{"1":"one","2":"two"}`,
			wantParams: []param{{"", "one"}, {"", "two"}},
		},
		{
			name:       "ten variables ordered numerically",
			tmpl:       with(func(t *templates.Template) { t.Body = "{{10}}{{9}}{{8}}{{7}}{{6}}{{5}}{{4}}{{3}}{{2}}{{1}}" }),
			vars:       map[string]string{"1": "a", "2": "b", "3": "c", "4": "d", "5": "e", "6": "f", "7": "g", "8": "h", "9": "i", "10": "j"},
			wantBody:   "jihgfedcba",
			wantText:   "jihgfedcba",
			wantTwilio: `{"1":"a","10":"j","2":"b","3":"c","4":"d","5":"e","6":"f","7":"g","8":"h","9":"i"}`,
			wantParams: []param{{"", "a"}, {"", "b"}, {"", "c"}, {"", "d"}, {"", "e"}, {"", "f"}, {"", "g"}, {"", "h"}, {"", "i"}, {"", "j"}},
		},
		{
			name:       "named, parameters in order of appearance",
			tmpl:       with(func(t *templates.Template) { t.Body = "Hi {{first_name}}, order {{order_id}} for {{first_name}}." }),
			vars:       map[string]string{"order_id": "A-17", "first_name": "Ana"},
			wantBody:   "Hi Ana, order A-17 for Ana.",
			wantText:   "Hi Ana, order A-17 for Ana.",
			wantTwilio: `{"first_name":"Ana","order_id":"A-17"}`,
			wantParams: []param{{"first_name", "Ana"}, {"order_id", "A-17"}},
		},
		{
			name:       "no variables",
			tmpl:       with(func(t *templates.Template) { t.Body = "We are open again." }),
			vars:       nil,
			wantBody:   "We are open again.",
			wantText:   "We are open again.",
			wantTwilio: `{}`,
		},
		{
			name:       "value containing a placeholder stays literal",
			tmpl:       valid(),
			vars:       map[string]string{"1": "{{2}}", "2": "{{1}}"},
			wantBody:   "Hi {{2}}, your order {{1}} has shipped.",
			wantText:   "Hi {{2}}, your order {{1}} has shipped.",
			wantTwilio: `{"1":"{{2}}","2":"{{1}}"}`,
			wantParams: []param{{"", "{{2}}"}, {"", "{{1}}"}},
		},
		{
			name:       "named value containing a placeholder stays literal",
			tmpl:       with(func(t *templates.Template) { t.Body = "{{a}} {{b}}" }),
			vars:       map[string]string{"a": "{{b}}", "b": "{{{{a}}}}"},
			wantBody:   "{{b}} {{{{a}}}}",
			wantText:   "{{b}} {{{{a}}}}",
			wantTwilio: `{"a":"{{b}}","b":"{{{{a}}}}"}`,
			wantParams: []param{{"a", "{{b}}"}, {"b", "{{{{a}}}}"}},
		},
		{
			name:       "unicode",
			tmpl:       with(func(t *templates.Template) { t.Body = "こんにちは {{1}} 🎉 — {{2}}" }),
			vars:       map[string]string{"1": "Zoë 👩🏽‍💻", "2": "مرحبا"},
			wantBody:   "こんにちは Zoë 👩🏽‍💻 🎉 — مرحبا",
			wantText:   "こんにちは Zoë 👩🏽‍💻 🎉 — مرحبا",
			wantTwilio: `{"1":"Zoë 👩🏽‍💻","2":"مرحبا"}`,
			wantParams: []param{{"", "Zoë 👩🏽‍💻"}, {"", "مرحبا"}},
		},
		{
			name:       "values with JSON and HTML characters",
			tmpl:       valid(),
			vars:       map[string]string{"1": `"Ana" <a&b>`, "2": "line1\nline2 \\"},
			wantBody:   "Hi \"Ana\" <a&b>, your order line1\nline2 \\ has shipped.",
			wantText:   "Hi \"Ana\" <a&b>, your order line1\nline2 \\ has shipped.",
			wantTwilio: `{"1":"\"Ana\" <a&b>","2":"line1\nline2 \\"}`,
			wantParams: []param{{"", `"Ana" <a&b>`}, {"", "line1\nline2 \\"}},
		},
		{
			name: "header, body and footer",
			tmpl: with(func(t *templates.Template) {
				t.Header = "Order update"
				t.Footer = "Reply STOP to opt out"
			}),
			vars:       map[string]string{"1": "Ana", "2": "A-17"},
			wantBody:   "Hi Ana, your order A-17 has shipped.",
			wantText:   "Order update\n\nHi Ana, your order A-17 has shipped.\n\nReply STOP to opt out",
			wantTwilio: `{"1":"Ana","2":"A-17"}`,
			wantParams: []param{{"", "Ana"}, {"", "A-17"}},
		},
		{
			name:       "footer only",
			tmpl:       with(func(t *templates.Template) { t.Footer = "Acme Ltd" }),
			vars:       map[string]string{"1": "Ana", "2": "A-17"},
			wantBody:   "Hi Ana, your order A-17 has shipped.",
			wantText:   "Hi Ana, your order A-17 has shipped.\n\nAcme Ltd",
			wantTwilio: `{"1":"Ana","2":"A-17"}`,
			wantParams: []param{{"", "Ana"}, {"", "A-17"}},
		},
		{
			name:       "values with surrounding spaces are kept as given",
			tmpl:       valid(),
			vars:       map[string]string{"1": " Ana ", "2": "\tA-17"},
			wantBody:   "Hi  Ana , your order \tA-17 has shipped.",
			wantText:   "Hi  Ana , your order \tA-17 has shipped.",
			wantTwilio: `{"1":" Ana ","2":"\tA-17"}`,
			wantParams: []param{{"", " Ana "}, {"", "\tA-17"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := templates.Render(tt.tmpl, tt.vars)
			if err != nil {
				t.Fatalf("Render() = %v", err)
			}
			if r.Body != tt.wantBody {
				t.Errorf("Body = %q, want %q", r.Body, tt.wantBody)
			}
			if r.Text != tt.wantText {
				t.Errorf("Text = %q, want %q", r.Text, tt.wantText)
			}
			if r.Twilio.ContentVariables != tt.wantTwilio {
				t.Errorf("ContentVariables = %s, want %s", r.Twilio.ContentVariables, tt.wantTwilio)
			}
			var got []param
			for _, c := range r.WhatsApp.Components {
				if c.Type != "body" {
					t.Errorf("component type %q, want body", c.Type)
				}
				for _, p := range c.Parameters {
					if p.Type != "text" {
						t.Errorf("parameter type %q, want text", p.Type)
					}
					got = append(got, param{p.ParameterName, p.Text})
				}
			}
			if !slices.Equal(got, tt.wantParams) {
				t.Errorf("WhatsApp parameters = %q, want %q", got, tt.wantParams)
			}
			if len(tt.wantParams) == 0 && r.WhatsApp.Components != nil {
				t.Errorf("Components = %+v, want none", r.WhatsApp.Components)
			}
			if r.Name != tt.tmpl.Name || r.Version != tt.tmpl.Version || r.Header != tt.tmpl.Header || r.Footer != tt.tmpl.Footer {
				t.Errorf("identity fields = %q %q %d %q %q", r.Name, r.Language, r.Version, r.Header, r.Footer)
			}
		})
	}
}

func TestRenderProviderReferences(t *testing.T) {
	t.Parallel()
	tm := with(func(t *templates.Template) {
		t.Language = "pt-br"
		t.Buttons = []templates.QuickReply{{"Yes"}, {"No"}}
		t.Twilio.ContentSID = "HX0123456789abcdef0123456789abcdef"
		t.WhatsApp.Namespace = "ns_1"
	})
	r, err := templates.Render(tm, map[string]string{"1": "a", "2": "b"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Language != "pt_BR" || r.WhatsApp.Language != (templates.WhatsAppLanguage{Code: "pt_BR", Policy: "deterministic"}) {
		t.Errorf("language = %q / %+v, want canonical pt_BR", r.Language, r.WhatsApp.Language)
	}
	if r.WhatsApp.Name != "order_shipped" || r.WhatsApp.Namespace != "ns_1" {
		t.Errorf("WhatsApp name/namespace = %q/%q", r.WhatsApp.Name, r.WhatsApp.Namespace)
	}
	if r.Twilio.ContentSID != tm.Twilio.ContentSID {
		t.Errorf("ContentSID = %q", r.Twilio.ContentSID)
	}
	if !slices.Equal(r.Buttons, []string{"Yes", "No"}) {
		t.Errorf("Buttons = %q", r.Buttons)
	}
	tm.WhatsApp.Name = "order_shipped_meta"
	if r, _ := templates.Render(tm, map[string]string{"1": "a", "2": "b"}); r.WhatsApp.Name != "order_shipped_meta" {
		t.Errorf("WhatsApp name = %q, want the WhatsApp reference", r.WhatsApp.Name)
	}
}

// TestRenderMatchesProviderFixtures checks the payload shapes against
// requests recorded by a production gateway (see testdata).
func TestRenderMatchesProviderFixtures(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("testdata/provider_template_sends.json")
	if err != nil {
		t.Fatal(err)
	}
	var fx struct {
		WhatsApp            json.RawMessage `json:"whatsapp_cloud_template"`
		WhatsAppNoVariables json.RawMessage `json:"whatsapp_cloud_template_no_variables"`
		Twilio              string          `json:"twilio_content_variables"`
	}
	if err := json.Unmarshal(raw, &fx); err != nil {
		t.Fatal(err)
	}
	tm := &templates.Template{
		Name: "revive_issue", Language: "en-us", Category: templates.CategoryUtility,
		Channel: templates.ScopeWhatsApp, Status: templates.StatusApproved, Version: 1,
		Body: "Hi {{1}}, are you still experiencing problems with {{2}}?",
	}
	r, err := templates.Render(tm, map[string]string{"1": "Chef", "2": "tomorrow"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Twilio.ContentVariables != fx.Twilio {
		t.Errorf("ContentVariables = %s, want %s", r.Twilio.ContentVariables, fx.Twilio)
	}
	assertSameJSON(t, r.WhatsApp, fx.WhatsApp)

	tm.Body = "Are you still experiencing problems?"
	r, err = templates.Render(tm, nil)
	if err != nil {
		t.Fatal(err)
	}
	assertSameJSON(t, r.WhatsApp, fx.WhatsAppNoVariables)
}

func assertSameJSON(t *testing.T, got any, want json.RawMessage) {
	t.Helper()
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	var g, w any
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("JSON = %s\nwant %s", b, want)
	}
}

func TestR29_RenderRefusesVariables(t *testing.T) {
	t.Parallel()
	eleven := with(func(t *templates.Template) {
		t.Body = "{{1}}{{2}}{{3}}{{4}}{{5}}{{6}}{{7}}{{8}}{{9}}{{10}}{{11}}"
	})
	named := with(func(t *templates.Template) { t.Body = "{{first_name}} {{city}}" })
	tests := []struct {
		name string
		tmpl *templates.Template
		vars map[string]string
		want templates.VariableError
	}{
		{"nil map", valid(), nil, templates.VariableError{Missing: []string{"1", "2"}}},
		{"one missing", valid(), map[string]string{"1": "Ana"}, templates.VariableError{Missing: []string{"2"}}},
		{"one extra", valid(), map[string]string{"1": "Ana", "2": "x", "3": "y"}, templates.VariableError{Extra: []string{"3"}}},
		{"extra on a body without variables", with(func(t *templates.Template) { t.Body = "Hello" }),
			map[string]string{"1": "x"}, templates.VariableError{Extra: []string{"1"}}},
		{"empty", valid(), map[string]string{"1": "", "2": "x"}, templates.VariableError{Empty: []string{"1"}}},
		{"whitespace only", valid(), map[string]string{"1": " \t\n", "2": "\u00a0\u3000"}, templates.VariableError{Empty: []string{"1", "2"}}},
		{"not UTF-8", valid(), map[string]string{"1": "Ana", "2": "\xff"}, templates.VariableError{Invalid: []string{"2"}}},
		{"NUL", valid(), map[string]string{"1": "Ana\x00", "2": "x"}, templates.VariableError{Invalid: []string{"1"}}},
		{"escape sequence", valid(), map[string]string{"1": "Ana", "2": "\x1b[2J"}, templates.VariableError{Invalid: []string{"2"}}},
		{"over 1024 characters", valid(), map[string]string{"1": strings.Repeat("é", templates.MaxVariableLength+1), "2": "x"}, templates.VariableError{Invalid: []string{"1"}}},
		{"numbered key for a named body", named, map[string]string{"1": "Ana", "city": "Lisbon"},
			templates.VariableError{Missing: []string{"first_name"}, Extra: []string{"1"}}},
		{"key in braces is not the name", valid(), map[string]string{"{{1}}": "Ana", "2": "x"},
			templates.VariableError{Missing: []string{"1"}, Extra: []string{"{{1}}"}}},
		{"all at once, sorted numerically then by name", eleven, map[string]string{
			"1": "a", "3": " ", "4": "d", "5": "e", "6": "f", "7": "g", "8": "h", "9": "", "12": "x", "zeta": "z", "alpha": "a", "020": "y",
		}, templates.VariableError{
			Missing: []string{"2", "10", "11"},
			Extra:   []string{"12", "020", "alpha", "zeta"},
			Empty:   []string{"3", "9"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := templates.Render(tt.tmpl, tt.vars)
			var ve *templates.VariableError
			if !errors.Is(err, templates.ErrVariables) || !errors.As(err, &ve) {
				t.Fatalf("Render() = %+v, %v; want *VariableError", r, err)
			}
			if diff := cmp.Diff(tt.want, *ve); diff != "" {
				t.Fatalf("VariableError (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(templates.Rendered{}, r); diff != "" {
				t.Fatalf("Render() returned a result with an error (-want +got):\n%s", diff)
			}
			for _, l := range [][]string{tt.want.Missing, tt.want.Extra, tt.want.Empty, tt.want.Invalid} {
				for _, name := range l {
					if !strings.Contains(err.Error(), name) {
						t.Errorf("error %q does not name %q", err, name)
					}
				}
			}
		})
	}
}

func TestRenderRefusesTemplates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		tmpl *templates.Template
		want error
	}{
		{"nil", nil, templates.ErrInvalid},
		{"malformed placeholder", with(func(t *templates.Template) { t.Body = "Hi {{ }}" }), templates.ErrInvalid},
		{"gap", with(func(t *templates.Template) { t.Body = "Hi {{1}} {{3}}" }), templates.ErrInvalid},
		{"body too long", with(func(t *templates.Template) { t.Body = strings.Repeat("x", 1025) }), templates.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := templates.Render(tt.tmpl, map[string]string{"1": "a", "3": "c"})
			if !errors.Is(err, tt.want) || errors.Is(err, templates.ErrVariables) {
				t.Fatalf("Render() = %v, want %v only", err, tt.want)
			}
		})
	}
}

func TestR29_RenderForSend(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"1": "Ana", "2": "A-17"}
	draft := with(func(t *templates.Template) { t.Status = templates.StatusDraft })
	if _, err := templates.Render(draft, vars); err != nil {
		t.Fatalf("Render(draft) = %v; previews of drafts must work", err)
	}
	if _, err := templates.RenderForSend(draft, vars); !errors.Is(err, templates.ErrNotApproved) {
		t.Fatalf("RenderForSend(draft) = %v, want ErrNotApproved", err)
	}
	// The status is checked before the variables: nothing about a disabled
	// template is worth fixing.
	disabled := with(func(t *templates.Template) { t.Status = templates.StatusDisabled })
	if _, err := templates.RenderForSend(disabled, nil); !errors.Is(err, templates.ErrNotApproved) || errors.Is(err, templates.ErrVariables) {
		t.Fatalf("RenderForSend(disabled, nil) = %v, want ErrNotApproved only", err)
	}
	if _, err := templates.RenderForSend(valid(), map[string]string{"1": "Ana"}); !errors.Is(err, templates.ErrVariables) {
		t.Fatalf("RenderForSend(missing) = %v, want ErrVariables", err)
	}
	r, err := templates.RenderForSend(valid(), vars)
	if err != nil || r.Body != "Hi Ana, your order A-17 has shipped." {
		t.Fatalf("RenderForSend() = %q, %v", r.Body, err)
	}
}

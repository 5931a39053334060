package templates_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/chatgate/chatgate/templates"
)

// valid returns a fresh template that passes Validate; tests change one thing.
func valid() *templates.Template {
	return &templates.Template{
		Name:     "order_shipped",
		Language: "en",
		Category: templates.CategoryUtility,
		Channel:  templates.ScopeAny,
		Body:     "Hi {{1}}, your order {{2}} has shipped.",
		Status:   templates.StatusApproved,
		Version:  1,
	}
}

func with(change func(t *templates.Template)) *templates.Template {
	t := valid()
	change(t)
	return t
}

// fieldCodes renders the errors as "field:code" for exact comparison.
func fieldCodes(err error) []string {
	var ve *templates.ValidationError
	if !errors.As(err, &ve) {
		return nil
	}
	out := make([]string, len(ve.Errors))
	for i, fe := range ve.Errors {
		out[i] = fe.Field + ":" + fe.Code
	}
	return out
}

func TestR29_ValidateAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		tmpl *templates.Template
	}{
		{"numbered", valid()},
		{"named", with(func(t *templates.Template) { t.Body = "Hi {{first_name}}, order {{order_id2}} shipped." })},
		{"no variables", with(func(t *templates.Template) { t.Body = "Your order has shipped." })},
		{"repeated variable", with(func(t *templates.Template) { t.Body = "{{1}} and {{1}} again, then {{2}}" })},
		{"numbers out of order", with(func(t *templates.Template) { t.Body = "{{2}} before {{1}}" })},
		{"ten variables", with(func(t *templates.Template) {
			t.Body = "{{1}}{{2}}{{3}}{{4}}{{5}}{{6}}{{7}}{{8}}{{9}}{{10}}"
		})},
		{"lone closing braces are text", with(func(t *templates.Template) { t.Body = "a }} b {{1}} }}" })},
		{"single braces are text", with(func(t *templates.Template) { t.Body = "json {\"a\": 1} and {1}" })},
		{"body of exactly 1024 runes, multibyte", with(func(t *templates.Template) { t.Body = strings.Repeat("é", 1024) })},
		{"header and footer of exactly 60 runes", with(func(t *templates.Template) {
			t.Header = strings.Repeat("ü", 60)
			t.Footer = strings.Repeat("ß", 60)
		})},
		{"three buttons of 20 runes", with(func(t *templates.Template) {
			t.Buttons = []templates.QuickReply{{strings.Repeat("ñ", 20)}, {"No"}, {"Later"}}
		})},
		{"name of 512 characters", with(func(t *templates.Template) { t.Name = strings.Repeat("a", 512) })},
		{"name with digits and underscores", with(func(t *templates.Template) { t.Name = "_2fa_code_9" })},
		{"language pt-BR", with(func(t *templates.Template) { t.Language = "pt-BR" })},
		{"language pt_br", with(func(t *templates.Template) { t.Language = "pt_br" })},
		{"language zh_Hant_TW", with(func(t *templates.Template) { t.Language = "zh-hant-tw" })},
		{"language es_419", with(func(t *templates.Template) { t.Language = "es-419" })},
		{"sms scope", with(func(t *templates.Template) { t.Channel = templates.ScopeSMS })},
		{"whatsapp scope with buttons", with(func(t *templates.Template) {
			t.Channel = templates.ScopeWhatsApp
			t.Buttons = []templates.QuickReply{{"Yes"}}
		})},
		{"draft version 0", with(func(t *templates.Template) { t.Status = templates.StatusDraft; t.Version = 0 })},
		{"provider references", with(func(t *templates.Template) {
			t.Twilio.ContentSID = "HX" + strings.Repeat("0aF9", 8)
			t.WhatsApp = templates.WhatsAppRef{Name: "order_shipped_v2", Namespace: "c8ae5f90_307a_ca4c_b8f6_d1e2a2573574"}
		})},
		{"every category", with(func(t *templates.Template) { t.Category = templates.CategoryAuthentication })},
		{"marketing", with(func(t *templates.Template) { t.Category = templates.CategoryMarketing })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := tt.tmpl.Validate(); err != nil {
				t.Fatalf("Validate() = %v, want nil", err)
			}
		})
	}
}

func TestR29_ValidateRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		tmpl *templates.Template
		want []string // "field:code", in order
	}{
		{"nil template", nil, []string{"template:required"}},
		// name
		{"empty name", with(func(t *templates.Template) { t.Name = "" }), []string{"name:required"}},
		{"uppercase name", with(func(t *templates.Template) { t.Name = "Order_Shipped" }), []string{"name:invalid"}},
		{"name with hyphen", with(func(t *templates.Template) { t.Name = "order-shipped" }), []string{"name:invalid"}},
		{"name with space", with(func(t *templates.Template) { t.Name = "order shipped" }), []string{"name:invalid"}},
		{"name with non-ASCII letter", with(func(t *templates.Template) { t.Name = "pedido_não" }), []string{"name:invalid"}},
		{"name of 513 characters", with(func(t *templates.Template) { t.Name = strings.Repeat("a", 513) }), []string{"name:too_long"}},
		// language
		{"empty language", with(func(t *templates.Template) { t.Language = " " }), []string{"language:required"}},
		{"language too short", with(func(t *templates.Template) { t.Language = "e" }), []string{"language:invalid"}},
		{"language with variant", with(func(t *templates.Template) { t.Language = "de-DE-1996" }), []string{"language:invalid"}},
		{"language with bad region", with(func(t *templates.Template) { t.Language = "pt-BRA" }), []string{"language:invalid"}},
		{"language with empty subtag", with(func(t *templates.Template) { t.Language = "pt__BR" }), []string{"language:invalid"}},
		// enums
		{"empty category", with(func(t *templates.Template) { t.Category = "" }), []string{"category:required"}},
		{"unknown category", with(func(t *templates.Template) { t.Category = "promo" }), []string{"category:invalid"}},
		{"empty channel", with(func(t *templates.Template) { t.Channel = "" }), []string{"channel:required"}},
		{"unknown channel", with(func(t *templates.Template) { t.Channel = "telegram" }), []string{"channel:invalid"}},
		{"empty status", with(func(t *templates.Template) { t.Status = "" }), []string{"status:required"}},
		{"unknown status", with(func(t *templates.Template) { t.Status = "pending" }), []string{"status:invalid"}},
		{"negative version", with(func(t *templates.Template) { t.Version = -1 }), []string{"version:invalid"}},
		// body
		{"empty body", with(func(t *templates.Template) { t.Body = "" }), []string{"body:required"}},
		{"whitespace body", with(func(t *templates.Template) { t.Body = " \n\t " }), []string{"body:required"}},
		{"body not UTF-8", with(func(t *templates.Template) { t.Body = "hi \xff" }), []string{"body:invalid"}},
		{"body of 1025 runes", with(func(t *templates.Template) { t.Body = strings.Repeat("é", 1025) }), []string{"body:too_long"}},
		{"mixed styles", with(func(t *templates.Template) { t.Body = "Hi {{1}}, {{first_name}}" }), []string{"body:mixed_variable_styles"}},
		{"gap", with(func(t *templates.Template) { t.Body = "{{1}} {{3}}" }), []string{"body:numbering_gap"}},
		{"several gaps", with(func(t *templates.Template) { t.Body = "{{1}} {{3}} {{7}}" }), []string{"body:numbering_gap"}},
		{"starts at 2", with(func(t *templates.Template) { t.Body = "{{2}} {{3}}" }), []string{"body:numbering_start"}},
		{"starts at 2 with a gap", with(func(t *templates.Template) { t.Body = "{{2}} {{4}}" }), []string{"body:numbering_start", "body:numbering_gap"}},
		{"zero", with(func(t *templates.Template) { t.Body = "{{0}} {{1}}" }), []string{"body:numbering_start"}},
		{"huge number", with(func(t *templates.Template) { t.Body = "{{1}} {{2147483647}}" }), []string{"body:numbering_gap"}},
		{"number overflowing int", with(func(t *templates.Template) { t.Body = "{{1}} {{99999999999999999999999}}" }), []string{"body:malformed_placeholder"}},
		{"leading zero", with(func(t *templates.Template) { t.Body = "{{01}}" }), []string{"body:malformed_placeholder"}},
		{"empty placeholder", with(func(t *templates.Template) { t.Body = "Hi {{}}" }), []string{"body:malformed_placeholder"}},
		{"blank placeholder", with(func(t *templates.Template) { t.Body = "Hi {{ }}" }), []string{"body:malformed_placeholder"}},
		{"unclosed", with(func(t *templates.Template) { t.Body = "Hi {{1" }), []string{"body:malformed_placeholder"}},
		{"unclosed then valid", with(func(t *templates.Template) { t.Body = "Hi {{a {{1}}" }), []string{"body:malformed_placeholder"}},
		{"single closing brace", with(func(t *templates.Template) { t.Body = "Hi {{1} there" }), []string{"body:malformed_placeholder"}},
		{"hyphenated name", with(func(t *templates.Template) { t.Body = "Hi {{a-b}}" }), []string{"body:malformed_placeholder"}},
		{"uppercase name", with(func(t *templates.Template) { t.Body = "Hi {{Name}}" }), []string{"body:malformed_placeholder"}},
		{"name starting with digit", with(func(t *templates.Template) { t.Body = "Hi {{1a}}" }), []string{"body:malformed_placeholder"}},
		{"name starting with underscore", with(func(t *templates.Template) { t.Body = "Hi {{_a}}" }), []string{"body:malformed_placeholder"}},
		{"spaces inside", with(func(t *templates.Template) { t.Body = "Hi {{ 1 }}" }), []string{"body:malformed_placeholder"}},
		{"triple braces", with(func(t *templates.Template) { t.Body = "Hi {{{1}}}" }), []string{"body:malformed_placeholder"}},
		{"negative number", with(func(t *templates.Template) { t.Body = "Hi {{-1}}" }), []string{"body:malformed_placeholder"}},
		{"two malformed, both reported", with(func(t *templates.Template) { t.Body = "{{ }} and {{a-b}}" }),
			[]string{"body:malformed_placeholder", "body:malformed_placeholder"}},
		{"many malformed: ten described and a count", with(func(t *templates.Template) { t.Body = strings.Repeat("{{x-y}}", 50) }),
			slices.Repeat([]string{"body:malformed_placeholder"}, 11)},
		{"huge adversarial body stays linear", with(func(t *templates.Template) { t.Body = strings.Repeat("{{a", 300_000) + "}}" }),
			append([]string{"body:too_long"}, slices.Repeat([]string{"body:malformed_placeholder"}, 11)...)},
		// header and footer
		{"header of 61 runes", with(func(t *templates.Template) { t.Header = strings.Repeat("ü", 61) }), []string{"header:too_long"}},
		{"footer of 61 runes", with(func(t *templates.Template) { t.Footer = strings.Repeat("ß", 61) }), []string{"footer:too_long"}},
		{"variable in header", with(func(t *templates.Template) { t.Header = "Hi {{1}}" }), []string{"header:not_allowed"}},
		{"variable in footer", with(func(t *templates.Template) { t.Footer = "Bye {{1}}" }), []string{"footer:not_allowed"}},
		{"footer not UTF-8", with(func(t *templates.Template) { t.Footer = "\xc3" }), []string{"footer:invalid"}},
		// buttons
		{"four buttons", with(func(t *templates.Template) {
			t.Buttons = []templates.QuickReply{{"A"}, {"B"}, {"C"}, {"D"}}
		}), []string{"buttons:too_many"}},
		{"button of 21 runes", with(func(t *templates.Template) {
			t.Buttons = []templates.QuickReply{{"ok"}, {strings.Repeat("ñ", 21)}}
		}), []string{"buttons[1].text:too_long"}},
		{"empty button", with(func(t *templates.Template) { t.Buttons = []templates.QuickReply{{" "}} }), []string{"buttons[0].text:required"}},
		{"duplicate buttons", with(func(t *templates.Template) { t.Buttons = []templates.QuickReply{{"Yes"}, {"Yes "}} }),
			[]string{"buttons[1].text:duplicate"}},
		{"variable in button", with(func(t *templates.Template) { t.Buttons = []templates.QuickReply{{"{{1}}"}} }),
			[]string{"buttons[0].text:not_allowed"}},
		{"buttons on SMS", with(func(t *templates.Template) {
			t.Channel = templates.ScopeSMS
			t.Buttons = []templates.QuickReply{{"Yes"}}
		}), []string{"buttons:not_allowed"}},
		// provider references
		{"bad content SID", with(func(t *templates.Template) { t.Twilio.ContentSID = "ext_id_revive_issue" }), []string{"twilio.content_sid:invalid"}},
		{"content SID with non-hex", with(func(t *templates.Template) { t.Twilio.ContentSID = "HX" + strings.Repeat("g", 32) }),
			[]string{"twilio.content_sid:invalid"}},
		{"content SID with control bytes", with(func(t *templates.Template) { t.Twilio.ContentSID = "HX" + strings.Repeat("\x10", 32) }),
			[]string{"twilio.content_sid:invalid"}},
		{"bad WhatsApp name", with(func(t *templates.Template) { t.WhatsApp.Name = "Order Shipped" }), []string{"whatsapp.name:invalid"}},
		// R38: what PostgreSQL cannot store, or a sent text must not carry
		{"NUL in the body", with(func(t *templates.Template) { t.Body = "Hi {{1}}\x00" }), []string{"body:invalid"}},
		{"escape in the header", with(func(t *templates.Template) { t.Header = "\x1b[1mNews" }), []string{"header:invalid"}},
		{"NUL in the footer", with(func(t *templates.Template) { t.Footer = "Shop\x00" }), []string{"footer:invalid"}},
		{"line break in a button", with(func(t *templates.Template) { t.Buttons = []templates.QuickReply{{"Yes\nNo"}} }), []string{"buttons[0].text:invalid"}},
		{"NUL in the WhatsApp namespace", with(func(t *templates.Template) { t.WhatsApp.Namespace = "ns\x00" }), []string{"whatsapp.namespace:invalid"}},
		{"padded WhatsApp namespace", with(func(t *templates.Template) { t.WhatsApp.Namespace = " ns" }), []string{"whatsapp.namespace:invalid"}},
		// everything at once: all reported
		{"many fields", &templates.Template{Body: "{{1}} {{x}}"}, []string{
			"name:required", "language:required", "category:required", "channel:required",
			"status:required", "body:mixed_variable_styles",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.tmpl.Validate()
			if !errors.Is(err, templates.ErrInvalid) {
				t.Fatalf("Validate() = %v, want ErrInvalid", err)
			}
			if got := fieldCodes(err); !slices.Equal(got, tt.want) {
				t.Fatalf("Validate() errors = %q, want %q (%v)", got, tt.want, err)
			}
			var ve *templates.ValidationError
			errors.As(err, &ve)
			for _, fe := range ve.Errors {
				if fe.Message == "" {
					t.Errorf("field %s code %s has no message", fe.Field, fe.Code)
				}
			}
		})
	}
}

func TestValidationErrorMessages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body string
		want string // substring of the error
	}{
		{"Hi {{1}} {{3}}", "missing {{2}}"},
		{"{{1}} {{5}} {{6}} {{9}}", "missing {{2}} to {{4}}, {{7}} to {{8}}"},
		{"{{3}}", "numbering must start at {{1}}, the first variable is {{3}}"},
		{"ab {{a-b}}", `"{{a-b}}" at character 4`},
		{"é {{ }}", `"{{ }}" at character 3`},
		{"Hi {{1", `"{{1" at character 4: no closing }}`},
		{"{{1}} {{name}}", "mixes numbered ({{1}}) and named ({{name}})"},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			t.Parallel()
			_, err := templates.ParseVariables(tt.body)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseVariables(%q) = %v, want error containing %q", tt.body, err, tt.want)
			}
		})
	}
}

func TestParseVariables(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body  string
		style templates.VariableStyle
		names []string
	}{
		{"plain", templates.StyleNone, nil},
		{"{{2}} {{1}} {{2}} {{3}}", templates.StyleNumbered, []string{"1", "2", "3"}},
		{"{{b}} {{a}} {{b}} {{c_1}}", templates.StyleNamed, []string{"b", "a", "c_1"}},
		{"{{1}}{{2}}{{3}}{{4}}{{5}}{{6}}{{7}}{{8}}{{9}}{{10}}{{11}}", templates.StyleNumbered,
			[]string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"}},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			t.Parallel()
			got, err := templates.ParseVariables(tt.body)
			if err != nil {
				t.Fatal(err)
			}
			if got.Style != tt.style || !slices.Equal(got.Names, tt.names) {
				t.Fatalf("ParseVariables(%q) = %+v, want %s %q", tt.body, got, tt.style, tt.names)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	tm := &templates.Template{Language: " pt-br ", Name: "x", Category: templates.CategoryUtility, Body: "b"}
	tm.Normalize()
	if tm.Language != "pt_BR" || tm.Channel != templates.ScopeAny || tm.Status != templates.StatusDraft {
		t.Fatalf("Normalize() = %+v", tm)
	}
	if err := tm.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := &templates.Template{Language: "not a language", Channel: templates.ScopeSMS, Status: templates.StatusApproved}
	bad.Normalize()
	if bad.Language != "not a language" || bad.Channel != templates.ScopeSMS || bad.Status != templates.StatusApproved {
		t.Fatalf("Normalize() changed what it should keep: %+v", bad)
	}
}

func TestValidationErrorFields(t *testing.T) {
	t.Parallel()
	err := (&templates.Template{Body: "{{ }} {{a-b}}"}).Validate()
	var ve *templates.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("not a *ValidationError: %v", err)
	}
	want := []string{"name", "language", "category", "channel", "status", "body"}
	if got := ve.Fields(); !slices.Equal(got, want) {
		t.Fatalf("Fields() = %q, want %q", got, want)
	}
	if msg := fmt.Sprint(err); !strings.HasPrefix(msg, "invalid template: name: is required; ") {
		t.Fatalf("Error() = %q", msg)
	}
}

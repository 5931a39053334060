package templates_test

import (
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/chatgate/chatgate/templates"
)

// FuzzRender checks Render's invariants on arbitrary bodies and values:
//   - it never panics;
//   - it succeeds exactly when the template is valid and the values match
//     the body's variables one to one, each non-blank UTF-8;
//   - on success every value appears literally in the body and text, the
//     provider payloads carry exactly the values, and rendering with values
//     free of braces leaves no "{{" behind (no placeholder unreplaced);
//   - parse∘render: rendering each variable as its own placeholder gives
//     the body back unchanged.
//
// mode picks how the values are spoilt: 0 exact, 1 drop one, 2 add an extra,
// 3 blank one.
func FuzzRender(f *testing.F) {
	f.Add("Hi {{1}}, your order {{2}} has shipped.", "Ana", "A-17", uint8(0))
	f.Add("Hi {{first_name}}, see you in {{city}}.", "Zoë 👩🏽‍💻", "{{city}}", uint8(0))
	f.Add("{{1}}{{1}}{{2}}", "{{2}}", "{{1}}", uint8(0))
	f.Add("No variables here } {", "x", "y", uint8(2))
	f.Add("{{1}} {{3}}", "a", "b", uint8(0))
	f.Add("{{ }} {{a-b}} {{1", "a", "b", uint8(0))
	f.Add("{{1}} {{name}}", "a", "b", uint8(0))
	f.Add("こんにちは {{1}} 🎉", "مرحبا", "", uint8(1))
	f.Add("{{a}} {{b}}", " ", "\t", uint8(3))
	f.Add("{{{1}}}", "a", "b", uint8(0))
	f.Add("{{1}}", "\xff", "b", uint8(0))
	f.Add(strings.Repeat("é", 1024), "a", "b", uint8(0))
	f.Fuzz(func(t *testing.T, body, v1, v2 string, mode uint8) {
		tm := &templates.Template{
			Name: "fuzz", Language: "en", Category: templates.CategoryUtility,
			Channel: templates.ScopeAny, Status: templates.StatusApproved, Version: 1,
			Body: body,
		}
		vars := map[string]string{}
		vs, parseErr := templates.ParseVariables(body)
		for i, name := range vs.Names {
			if i%2 == 0 {
				vars[name] = v1
			} else {
				vars[name] = v2
			}
		}
		switch mode % 4 {
		case 1:
			if len(vs.Names) > 0 {
				delete(vars, vs.Names[len(vs.Names)-1])
			}
		case 2:
			vars["zz_extra"] = v1
		case 3:
			if len(vs.Names) > 0 {
				vars[vs.Names[0]] = " "
			}
		}

		r, err := templates.Render(tm, vars)

		validErr := tm.Validate()
		if parseErr != nil && validErr == nil {
			t.Fatalf("ParseVariables(%q) = %v but Validate() = nil", body, parseErr)
		}
		if validErr != nil {
			if !errors.Is(err, templates.ErrInvalid) {
				t.Fatalf("invalid template rendered: Validate() = %v, Render() = %v", validErr, err)
			}
			return
		}
		valuesOK := len(vars) == len(vs.Names)
		for _, name := range vs.Names {
			v, ok := vars[name]
			valuesOK = valuesOK && ok && utf8.ValidString(v) && strings.TrimSpace(v) != ""
		}
		if !valuesOK {
			if !errors.Is(err, templates.ErrVariables) {
				t.Fatalf("Render(%q, %q) = %v, want ErrVariables", body, vars, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Render(%q, %q) = %v, want success", body, vars, err)
		}

		for name, v := range vars {
			if !strings.Contains(r.Body, v) || !strings.Contains(r.Text, v) {
				t.Fatalf("value %s=%q not literal in body %q", name, v, r.Body)
			}
		}
		var cv map[string]string
		if err := json.Unmarshal([]byte(r.Twilio.ContentVariables), &cv); err != nil {
			t.Fatalf("ContentVariables %q: %v", r.Twilio.ContentVariables, err)
		}
		if !maps.Equal(cv, vars) {
			t.Fatalf("ContentVariables = %v, want %v", cv, vars)
		}
		var params []templates.WhatsAppParameter
		for _, c := range r.WhatsApp.Components {
			params = append(params, c.Parameters...)
		}
		if len(params) != len(vs.Names) {
			t.Fatalf("%d WhatsApp parameters for %d variables", len(params), len(vs.Names))
		}
		for i, p := range params {
			if p.Text != vars[vs.Names[i]] {
				t.Fatalf("parameter %d = %q, want %q", i, p.Text, vars[vs.Names[i]])
			}
			if named := vs.Style == templates.StyleNamed; named != (p.ParameterName == vs.Names[i]) || !named && p.ParameterName != "" {
				t.Fatalf("parameter %d name = %q, style %s", i, p.ParameterName, vs.Style)
			}
		}

		// No placeholder left: with brace-free values nothing of the
		// template's placeholders can survive.
		plain := map[string]string{}
		for i, name := range vs.Names {
			plain[name] = "v" + strings.Repeat("x", i)
		}
		pr, err := templates.Render(tm, plain)
		if err != nil {
			t.Fatalf("Render with plain values: %v", err)
		}
		if strings.Contains(pr.Body, "{{") {
			t.Fatalf("unreplaced placeholder in %q (body %q)", pr.Body, body)
		}
		if again, err := templates.ParseVariables(pr.Body); err != nil || again.Style != templates.StyleNone {
			t.Fatalf("rendered body %q still parses as %+v, %v", pr.Body, again, err)
		}

		// parse∘render: each variable rendered as its own placeholder.
		self := map[string]string{}
		for _, name := range vs.Names {
			self[name] = "{{" + name + "}}"
		}
		sr, err := templates.Render(tm, self)
		if err != nil {
			t.Fatalf("Render with placeholders as values: %v", err)
		}
		if sr.Body != body {
			t.Fatalf("parse∘render changed the body: %q → %q", body, sr.Body)
		}
	})
}

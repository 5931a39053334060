package templates_test

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/chatgate/chatgate/gateway/testkit"
	"github.com/chatgate/chatgate/templates"
)

const sampleFile = `
templates:
  - name: order_shipped
    language: pt-BR
    category: utility
    channel: whatsapp
    status: approved
    header: Pedido enviado
    body: |
      Olá {{first_name}},

      o pedido {{order_id}} saiu para entrega.
    footer: Loja Exemplo
    buttons:
      - text: Rastrear
    twilio:
      content_sid: HX0123456789abcdef0123456789abcdef
    whatsapp:
      name: order_shipped_br
  - name: otp
    language: en
    category: authentication
    channel: sms
    body: "{{1}} is your code."
`

func TestParseFile(t *testing.T) {
	t.Parallel()
	got, err := templates.ParseFile([]byte(sampleFile))
	if err != nil {
		t.Fatal(err)
	}
	want := []templates.Template{{
		Name: "order_shipped", Language: "pt-BR", Category: templates.CategoryUtility, Channel: templates.ScopeWhatsApp,
		Status: templates.StatusApproved, Header: "Pedido enviado",
		Body: "Olá {{first_name}},\n\no pedido {{order_id}} saiu para entrega.\n", Footer: "Loja Exemplo",
		Buttons:  []templates.QuickReply{{Text: "Rastrear"}},
		Twilio:   templates.TwilioRef{ContentSID: "HX0123456789abcdef0123456789abcdef"},
		WhatsApp: templates.WhatsAppRef{Name: "order_shipped_br"},
	}, {
		Name: "otp", Language: "en", Category: templates.CategoryAuthentication, Channel: templates.ScopeSMS,
		Body: "{{1}} is your code.",
	}}
	if diff := cmp.Diff(want, got, testkit.ExactTime); diff != "" {
		t.Fatalf("ParseFile() (-want +got):\n%s", diff)
	}
}

func TestParseFileRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, file, want string }{
		{"misspelt field", "templates:\n  - name: a\n    bodyy: x\n", `unknown field "bodyy"`},
		{"version is the store's", "templates:\n  - name: a\n    version: 2\n", `unknown field "version"`},
		{"repeated key", "templates:\n  - name: a\n    name: b\n", `"name" already set`},
		{"unknown top level", "template:\n  - name: a\n", `unknown field "template"`},
		{"bare list", "- name: a\n", "cannot unmarshal"},
		{"unquoted placeholder", "templates:\n  - body: {{1}} is your code\n", "templates file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := templates.ParseFile([]byte(tt.file))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseFile() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
	if ts, err := templates.ParseFile(nil); err != nil || len(ts) != 0 {
		t.Fatalf("ParseFile(empty) = %v, %v", ts, err)
	}
}

func TestMarshalFileRoundTrips(t *testing.T) {
	t.Parallel()
	in, err := templates.ParseFile([]byte(sampleFile))
	if err != nil {
		t.Fatal(err)
	}
	in[1].Version = 3
	in[1].Body = "{{1}} is your code.\n\n  Indented line, 'quotes' and \"double\" quotes: yes\n"
	in[1].Footer = "{{not a variable in YAML}}"
	out, err := templates.MarshalFile(in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "  # otp (en), version 3 when exported\n  - body: ") {
		t.Fatalf("entry comment missing:\n%s", out)
	}
	back, err := templates.ParseFile(out)
	if err != nil {
		t.Fatalf("ParseFile(MarshalFile()) = %v\n%s", err, out)
	}
	in[1].Version = 0 // not part of the file
	if diff := cmp.Diff(in, back, testkit.ExactTime); diff != "" {
		t.Fatalf("round trip (-want +got):\n%s\nfile:\n%s", diff, out)
	}

	empty, err := templates.MarshalFile(nil)
	if err != nil {
		t.Fatal(err)
	}
	if ts, err := templates.ParseFile(empty); err != nil || len(ts) != 0 {
		t.Fatalf("ParseFile(MarshalFile(nil)) = %v, %v\n%s", ts, err, empty)
	}
}

// The example shipped in deploy/ must stay a valid file.
func TestExampleFileIsValid(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../deploy/templates.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ts, err := templates.ParseFile(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) == 0 {
		t.Fatal("example file has no templates")
	}
	for i := range ts {
		tm := ts[i]
		tm.Status = templates.StatusDraft
		tm.Normalize()
		if err := tm.Validate(); err != nil {
			t.Errorf("templates[%d]: %v", i, err)
		}
	}
}

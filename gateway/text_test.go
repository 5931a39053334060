package gateway_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/hostile"
)

// Every hostile string, judged by each of the three string rules and the
// agent id rule: what each refuses is exactly what its doc comment says.
func TestR38_StringRulesJudgeTheHostileCorpus(t *testing.T) {
	t.Parallel()
	// refused by rule, per class; a class not listed is accepted.
	refused := map[string]map[hostile.Class]bool{
		"text":     {hostile.Control: true, hostile.InvalidUTF8: true, hostile.Huge: true},
		"line":     {hostile.Control: true, hostile.InvalidUTF8: true, hostile.Huge: true, hostile.Blank: true}, // the blank value holds a tab and a line feed
		"key":      {hostile.Control: true, hostile.InvalidUTF8: true, hostile.Huge: true, hostile.Long: true, hostile.Blank: true, hostile.Padded: true},
		"agent id": {hostile.Control: true, hostile.InvalidUTF8: true, hostile.Huge: true, hostile.Long: true, hostile.Blank: true, hostile.Padded: true, hostile.Empty: true, hostile.Path: true, hostile.Whitespace: true, hostile.Unicode: true},
	}
	rules := map[string]func(string) string{
		"text":     func(s string) string { return gateway.CheckText(s, gateway.MaxTextLen) },
		"line":     func(s string) string { return gateway.CheckLine(s, gateway.MaxTextLen) },
		"key":      func(s string) string { return gateway.CheckKey(s, gateway.MaxProviderIDLen) },
		"agent id": gateway.CheckAgentID,
	}
	for rule, check := range rules {
		for _, h := range hostile.Strings() {
			t.Run(rule+"/"+h.Name, func(t *testing.T) {
				t.Parallel()
				problem := check(h.Value)
				if want := refused[rule][h.Class]; (problem != "") != want {
					t.Fatalf("%s rule on %q: problem %q, want refused=%v", rule, clip(h.Value), problem, want)
				}
			})
		}
	}
	// The line rule refuses what the text rule allows: line breaks and tabs.
	if gateway.CheckLine("a\nb", 10) == "" || gateway.CheckText("a\nb\tc\r", 10) != "" {
		t.Fatal("line breaks: the line rule must refuse them and the text rule allow them")
	}
}

func TestR38_AgentIDRule(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"ann", "Ann.Smith", "agent-7", "a_b", "7", strings.Repeat("a", gateway.MaxAgentIDLen)} {
		if p := gateway.CheckAgentID(id); p != "" {
			t.Errorf("CheckAgentID(%q) = %q, want accepted", id, p)
		}
	}
	for _, id := range []string{"../../etc/passwd", "a/b", `a\b`, strings.Repeat("a", 300), "ann.", ".ann", "-ann", "ann@example.com", "ann smith", "ann\x00", ""} {
		if p := gateway.CheckAgentID(id); p == "" {
			t.Errorf("CheckAgentID(%q) accepted", clip(id))
		}
	}
}

// Normalising makes any hostile string acceptable text, keeps what can be
// kept, and changes nothing the second time.
func TestR38_NormalizeText(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"a\x00b", "ab"},
		{"ring\x07", "ring"},
		{"\x1b[31mred", "[31mred"},
		{"keep\ttabs\nand\r\nlines", "keep\ttabs\nand\r\nlines"},
		{"a\xffb", "a\uFFFDb"},
		{"\xed\xa0\x80", "\uFFFD"}, // one replacement per run of bad bytes
		{"fine", "fine"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, changed := gateway.NormalizeText(tt.in)
			if got != tt.want || changed != (tt.in != tt.want) {
				t.Errorf("NormalizeText(%q) = %q, %v; want %q", tt.in, got, changed, tt.want)
			}
		})
	}
	for _, h := range hostile.Strings() {
		got, _ := gateway.NormalizeText(h.Value)
		if p := gateway.CheckText(got, hostile.MB); p != "" {
			t.Errorf("%s: normal form %q still refused: %s", h.Name, clip(got), p)
		}
		if again, changed := gateway.NormalizeText(got); changed || again != got {
			t.Errorf("%s: NormalizeText is not idempotent", h.Name)
		}
		line, _ := gateway.NormalizeLine(h.Value, gateway.MaxContactNameLen)
		if p := gateway.CheckLine(line, gateway.MaxContactNameLen); p != "" || strings.TrimSpace(line) != line {
			t.Errorf("%s: NormalizeLine gave %q (%s)", h.Name, clip(line), p)
		}
	}
	if got, _ := gateway.NormalizeLine("  Ada\tLovelace\n", 256); got != "Ada Lovelace" {
		t.Errorf("NormalizeLine = %q, want %q", got, "Ada Lovelace")
	}
	if got, _ := gateway.NormalizeLine(strings.Repeat("é", 300), 256); utf8.RuneCountInString(got) != 256 {
		t.Errorf("NormalizeLine kept %d characters, want 256", utf8.RuneCountInString(got))
	}
}

// Every string field of an inbound record refuses what no stage after
// the adapter accepts, naming the field; a record Validate accepts is one
// the JSON encoder can write.
func TestR38_InboundValidateNamesEachHostileField(t *testing.T) {
	t.Parallel()
	base := gateway.Inbound{Channel: gateway.ChannelWhatsApp, ProviderID: "wamid.1", From: "+27821234567", To: "+27600000000",
		Text: "hello", ReceivedAt: at}
	fields := []struct {
		field string
		set   func(in *gateway.Inbound, v string)
	}{
		{"provider_id", func(in *gateway.Inbound, v string) { in.ProviderID = v }},
		{"from", func(in *gateway.Inbound, v string) { in.From = v }},
		{"to", func(in *gateway.Inbound, v string) { in.To = v }},
		{"text", func(in *gateway.Inbound, v string) { in.Text = v }},
		{"contact_name", func(in *gateway.Inbound, v string) { in.ContactName = v }},
		{"reply_to", func(in *gateway.Inbound, v string) { in.ReplyTo = v }},
		{"media[0].url", func(in *gateway.Inbound, v string) {
			in.Kind, in.Media = gateway.KindMedia, []gateway.Media{{URL: v}}
		}},
		{"media[0].file_name", func(in *gateway.Inbound, v string) {
			in.Kind, in.Media = gateway.KindMedia, []gateway.Media{{URL: "blob://1", FileName: v}}
		}},
		{"location.name", func(in *gateway.Inbound, v string) {
			in.Kind, in.Location = gateway.KindLocation, &gateway.Location{Latitude: 1, Longitude: 2, Name: v}
		}},
		{"contacts[0]", func(in *gateway.Inbound, v string) { in.Kind, in.Contacts = gateway.KindContacts, []string{v} }},
		{"button.payload", func(in *gateway.Inbound, v string) {
			in.Kind, in.Button = gateway.KindButton, &gateway.Button{Text: "Yes", Payload: v}
		}},
		{"reaction", func(in *gateway.Inbound, v string) {
			in.Kind, in.TargetID, in.Reaction = gateway.KindReaction, "wamid.0", v
		}},
		{"target_id", func(in *gateway.Inbound, v string) { in.Kind, in.TargetID = gateway.KindRevoke, v }},
	}
	for _, f := range fields {
		for _, h := range hostile.OfClass(hostile.Control, hostile.InvalidUTF8, hostile.Huge) {
			t.Run(f.field+"/"+h.Name, func(t *testing.T) {
				t.Parallel()
				in := base
				f.set(&in, h.Value)
				err := in.Validate()
				var ve *gateway.ValidationError
				if !errors.As(err, &ve) || !errors.Is(err, gateway.ErrInvalidRecord) {
					t.Fatalf("Validate = %v, want a *ValidationError", err)
				}
				if _, ok := ve.Field(f.field); !ok {
					t.Fatalf("Validate = %v, want a problem of %s", err, f.field)
				}
			})
		}
	}
	// And the identifiers refuse blank, padded and over-long values.
	for _, f := range fields[:3] {
		for _, h := range hostile.OfClass(hostile.Blank, hostile.Padded, hostile.Long) {
			in := base
			f.set(&in, h.Value)
			if err := in.Validate(); err == nil || !strings.Contains(err.Error(), f.field) {
				t.Errorf("%s = %q: Validate = %v, want a problem of %s", f.field, h.Value, err, f.field)
			}
		}
	}
}

func TestR38_InboundCoordinatesMustBeFiniteDegrees(t *testing.T) {
	t.Parallel()
	for _, c := range hostile.Coordinates() {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			in := gateway.Inbound{Channel: gateway.ChannelWhatsApp, ProviderID: "1", From: "+27821234567", Kind: gateway.KindLocation,
				Location: &gateway.Location{Latitude: c.Latitude, Longitude: c.Longitude}, ReceivedAt: at}
			err := in.Validate()
			if err == nil || !strings.Contains(err.Error(), "location.l") {
				t.Fatalf("Validate = %v, want a problem of location.latitude or location.longitude", err)
			}
		})
	}
	ok := gateway.Inbound{Channel: gateway.ChannelWhatsApp, ProviderID: "1", From: "+27821234567", Kind: gateway.KindLocation,
		Location: &gateway.Location{Latitude: -90, Longitude: 180}, ReceivedAt: at}
	if err := ok.Validate(); err != nil {
		t.Fatalf("the poles and the antimeridian are valid: %v", err)
	}
	if _, err := json.Marshal(ok); err != nil {
		t.Fatal(err)
	}
}

func TestR38_StatusAndOutboundRefuseHostileFields(t *testing.T) {
	t.Parallel()
	st := gateway.Status{Channel: gateway.ChannelSMS, Contact: "+15551234567", ProviderID: "SM1", Status: gateway.StatusFailed, At: at}
	out := gateway.Outbound{RequestID: "r1", Channel: gateway.ChannelSMS, To: "+15551234567", Text: "hi"}
	if err := st.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := out.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, h := range hostile.OfClass(hostile.Control, hostile.InvalidUTF8, hostile.Huge) {
		for field, set := range map[string]func(*gateway.Status){
			"contact":         func(s *gateway.Status) { s.Contact = h.Value },
			"provider_id":     func(s *gateway.Status) { s.ProviderID = h.Value },
			"request_id":      func(s *gateway.Status) { s.RequestID = h.Value },
			"provider_status": func(s *gateway.Status) { s.ProviderStatus = h.Value },
			"error_message":   func(s *gateway.Status) { s.ErrorMessage = h.Value },
		} {
			s := st
			set(&s)
			if err := s.Validate(); err == nil || !strings.Contains(err.Error(), field) {
				t.Errorf("status %s = %s: Validate = %v", field, h.Name, err)
			}
		}
		for field, set := range map[string]func(*gateway.Outbound){
			"request_id":    func(o *gateway.Outbound) { o.RequestID = h.Value },
			"to":            func(o *gateway.Outbound) { o.To = h.Value },
			"text":          func(o *gateway.Outbound) { o.Text = h.Value },
			"media_urls[0]": func(o *gateway.Outbound) { o.MediaURLs = []string{h.Value} },
		} {
			o := out
			set(&o)
			if err := o.Validate(); err == nil || !strings.Contains(err.Error(), field) {
				t.Errorf("outbound %s = %s: Validate = %v", field, h.Name, err)
			}
		}
	}
}

// sqlStateError stands in for pgx's *pgconn.PgError, which has the same method.
type sqlStateError struct{ code string }

func (e *sqlStateError) Error() string    { return "ERROR: (SQLSTATE " + e.code + ")" }
func (e *sqlStateError) SQLState() string { return e.code }

func TestR38_IsInvalidDataIsSQLStateClass22(t *testing.T) {
	t.Parallel()
	for code, want := range map[string]bool{
		"22021": true,  // character_not_in_repertoire: a NUL in text
		"22P05": true,  // untranslatable_character: \u0000 in jsonb
		"22003": true,  // numeric_value_out_of_range
		"23505": false, // unique_violation: a concurrent writer, retried
		"08006": false, // connection_failure: an outage
		"40001": false,
	} {
		err := fmt.Errorf("save batch: %w", &sqlStateError{code})
		if got := gateway.IsInvalidData(err); got != want {
			t.Errorf("IsInvalidData(SQLSTATE %s) = %v, want %v", code, got, want)
		}
	}
	if gateway.IsInvalidData(errors.New("dial tcp: connection refused")) || gateway.IsInvalidData(nil) {
		t.Error("an error without SQLSTATE is not invalid data")
	}
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

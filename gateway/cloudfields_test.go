package gateway_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/chatgate/chatgate/gateway"
)

// R38 on the optional fields of the WhatsApp Cloud API's records: each is
// checked like the other fields of its kind, and named when refused.
func TestR38_CloudAPIFields(t *testing.T) {
	t.Parallel()
	in := func(f func(*gateway.Inbound)) error {
		v := gateway.Inbound{Channel: gateway.ChannelWhatsApp, ProviderID: "wamid.1", From: "+27821234567", Text: "hi", ReceivedAt: at,
			UserID: "US.1234", Referral: &gateway.Referral{SourceType: "ad", SourceID: "1", Headline: "Sale", ClickID: "ARA"}}
		f(&v)
		return v.Validate()
	}
	out := func(f func(*gateway.Outbound)) error {
		v := gateway.Outbound{RequestID: "r", Channel: gateway.ChannelWhatsApp, To: "+27821234567", Text: "hi", ReplyTo: "wamid.1",
			Interactive: json.RawMessage(`{"type":"button"}`)}
		f(&v)
		return v.Validate()
	}
	st := func(f func(*gateway.Status)) error {
		v := gateway.Status{Channel: gateway.ChannelWhatsApp, Contact: "+27821234567", ProviderID: "wamid.1", Status: gateway.StatusSent, At: at,
			Pricing: &gateway.Pricing{ConversationID: "c1", Model: "PMP", Category: "utility", Type: "regular"}}
		f(&v)
		return v.Validate()
	}
	cases := []struct {
		name  string
		err   error
		field string // "" when valid
	}{
		{"inbound as built", in(func(*gateway.Inbound) {}), ""},
		{"user id with a line break", in(func(v *gateway.Inbound) { v.UserID = "US.1\n" }), "user_id"},
		{"referral headline with NUL", in(func(v *gateway.Inbound) { v.Referral.Headline = "a\x00b" }), "referral.headline"},
		{"referral URL padded", in(func(v *gateway.Inbound) { v.Referral.SourceURL = " https://x" }), "referral.source_url"},
		{"outbound as built", out(func(*gateway.Outbound) {}), ""},
		{"reply_to padded", out(func(v *gateway.Outbound) { v.ReplyTo = "wamid.1 " }), "reply_to"},
		{"interactive not an object", out(func(v *gateway.Outbound) { v.Interactive = json.RawMessage(`[1]`) }), "interactive"},
		{"status as built", st(func(*gateway.Status) {}), ""},
		{"pricing model with a control character", st(func(v *gateway.Status) { v.Pricing.Model = "P\x07" }), "pricing.model"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.field == "" {
				if tc.err != nil {
					t.Fatalf("refused: %v", tc.err)
				}
				return
			}
			var ve *gateway.ValidationError
			if !errors.As(tc.err, &ve) {
				t.Fatalf("err = %v, want a *ValidationError", tc.err)
			}
			if _, ok := ve.Field(tc.field); !ok {
				t.Fatalf("err %v does not name %s", ve, tc.field)
			}
		})
	}
}

package gateway_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway"
)

var at = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)

func TestInboundRecordRoundTrip(t *testing.T) {
	t.Parallel()
	in := gateway.Inbound{Channel: gateway.ChannelSMS, ProviderID: "SM1", From: "+15551234567", Text: "hi", ReceivedAt: at}
	m, err := in.Record("test", "chatgate.inbound")
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Key) != "sms:+15551234567" || m.Topic != "chatgate.inbound" {
		t.Fatalf("record key/topic = %s/%s", m.Key, m.Topic)
	}
	ev, got, err := gateway.DecodeRecord[gateway.Inbound](m.Value)
	if err != nil {
		t.Fatal(err)
	}
	if ev.ID != "inbound:sms:SM1" || ev.Type != gateway.TypeInboundMessage || ev.SpecVersion != "1.0" || ev.Subject != "sms:+15551234567" {
		t.Fatalf("envelope %+v", ev)
	}
	if got.Text != "hi" || !got.ReceivedAt.Equal(at) || got.ProviderID != "SM1" {
		t.Fatalf("data %+v", got)
	}
	// The generic decoder agrees with the envelope-only one.
	ev2, err := gateway.DecodeEvent(m.Value)
	if err != nil || ev2.ID != ev.ID {
		t.Fatalf("DecodeEvent: %+v %v", ev2, err)
	}
}

func TestDecodeRejectsBrokenEnvelopes(t *testing.T) {
	t.Parallel()
	for name, value := range map[string]string{
		"not json":        `{`,
		"wrong version":   `{"specversion":"0.3","id":"1","source":"s","type":"t","data":{}}`,
		"missing id":      `{"specversion":"1.0","source":"s","type":"t","data":{}}`,
		"missing type":    `{"specversion":"1.0","id":"1","source":"s","data":{}}`,
		"data wrong type": `{"specversion":"1.0","id":"1","source":"s","type":"t","data":{"text":5}}`,
	} {
		if _, _, err := gateway.DecodeRecord[gateway.Inbound]([]byte(value)); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
}

func TestInboundValidate(t *testing.T) {
	t.Parallel()
	ok := gateway.Inbound{Channel: gateway.ChannelAPI, ProviderID: "1", From: "a", Text: "x", ReceivedAt: at}
	cases := map[string]struct {
		mutate func(*gateway.Inbound)
		want   string
	}{
		"valid":           {func(*gateway.Inbound) {}, ""},
		"unknown channel": {func(in *gateway.Inbound) { in.Channel = "fax" }, "channel"},
		"no provider id":  {func(in *gateway.Inbound) { in.ProviderID = "" }, "provider_id is required"},
		"no text":         {func(in *gateway.Inbound) { in.Text = "" }, "text is required"},
		"text too long":   {func(in *gateway.Inbound) { in.Text = strings.Repeat("é", gateway.MaxTextLen+1) }, "text is longer"},
		"bad utf8":        {func(in *gateway.Inbound) { in.Text = "\xff" }, "UTF-8"},
		"no time":         {func(in *gateway.Inbound) { in.ReceivedAt = time.Time{} }, "received_at"},
		"media without":   {func(in *gateway.Inbound) { in.Kind = gateway.KindMedia; in.Text = "" }, "media is required"},
		"media caption ok": {func(in *gateway.Inbound) {
			in.Kind = gateway.KindMedia
			in.Text = ""
			in.Media = []gateway.Media{{URL: "blob://1"}}
		}, ""},
		"reaction target": {func(in *gateway.Inbound) { in.Kind = gateway.KindReaction; in.Reaction = "👍" }, "target_id"},
		"unknown kind":    {func(in *gateway.Inbound) { in.Kind = "poll" }, "not a known inbound kind"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			in := ok
			tc.mutate(&in)
			err := in.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("%s: unexpected error %v", name, err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("%s: error %v, want it to mention %q", name, err, tc.want)
			}
		})
	}
}

func TestContactKeyRoundTrip(t *testing.T) {
	t.Parallel()
	ch, addr, err := gateway.ParseContactKey(gateway.ContactKey(gateway.ChannelWhatsApp, "+27821234567"))
	if err != nil || ch != gateway.ChannelWhatsApp || addr != "+27821234567" {
		t.Fatalf("got %s %s %v", ch, addr, err)
	}
	for _, bad := range []string{"", "whatsapp", "fax:+1", "sms:"} {
		if _, _, err := gateway.ParseContactKey(bad); err == nil {
			t.Errorf("ParseContactKey(%q) succeeded", bad)
		}
	}
}

func TestDeliveryStatusNeverMovesBackwards(t *testing.T) {
	t.Parallel()
	order := []gateway.DeliveryStatus{gateway.StatusQueued, gateway.StatusSending, gateway.StatusSent, gateway.StatusDelivered, gateway.StatusFailed, gateway.StatusRead}
	for i := 1; i < len(order); i++ {
		if order[i].Rank() <= order[i-1].Rank() {
			t.Fatalf("%s does not outrank %s", order[i], order[i-1])
		}
	}
	if gateway.DeliveryStatus("undelivered").Valid() {
		t.Fatal("provider words are not chatgate statuses")
	}
}

func TestTopicsUsePrefix(t *testing.T) {
	t.Parallel()
	all := gateway.Topics{Prefix: "x."}.All()
	if len(all) != 6 || all[0] != "x.inbound" || all[5] != "x.deadletter" {
		t.Fatalf("topics %v", all)
	}
}

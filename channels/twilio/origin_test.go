package twilio_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/chatgate/chatgate/channels/twilio"
	"github.com/chatgate/chatgate/gateway"
)

// The list format of CHATGATE_TWILIO_NUMBERS and
// CHATGATE_TWILIO_MESSAGING_SERVICES: numbers are normalized, blank entries
// skipped, and every bad entry named by its position.
func TestParseOrigins(t *testing.T) {
	t.Parallel()
	got, err := twilio.ParseOrigins(" sms:+1 (555) 123-4567=sales@1, whatsapp:+14155238886=support@80 ,sms:384387,sms:ACME,", false)
	if err != nil {
		t.Fatal(err)
	}
	want := []twilio.Origin{
		{Channel: gateway.ChannelSMS, Address: "+15551234567", Department: "sales", Rate: 1},
		{Channel: gateway.ChannelWhatsApp, Address: "+14155238886", Department: "support", Rate: 80},
		{Channel: gateway.ChannelSMS, Address: "384387"},
		{Channel: gateway.ChannelSMS, Address: "ACME"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("numbers\n got %+v\nwant %+v", got, want)
	}
	services, err := twilio.ParseOrigins("sms:MG0123456789abcdef0123456789abcdef=marketing", true)
	if err != nil || len(services) != 1 || !services[0].Service || services[0].Department != "marketing" {
		t.Errorf("services %+v, %v", services, err)
	}
	if none, err := twilio.ParseOrigins("", false); err != nil || none != nil {
		t.Errorf("empty list: %+v, %v", none, err)
	}
	tests := []struct {
		name     string
		list     string
		services bool
		want     []string // substrings of the error
	}{
		{"number without channel", "+15551234567", false, []string{"entry 1", "channel:address"}},
		{"unknown channel", "sms:+15551234567,telegram:+15551234567", false, []string{"entry 2", "telegram"}},
		{"not a number", "sms:+1555-CALL-NOW", false, []string{"E.164"}},
		{"whatsapp short code", "whatsapp:384387", false, []string{"WhatsApp"}},
		{"bad rate", "sms:+15551234567@fast", false, []string{"rate"}},
		{"zero rate", "sms:+15551234567@0", false, []string{"rate"}},
		{"empty department", "sms:+15551234567=@1", false, []string{"department"}},
		{"listed twice", "sms:+15551234567,sms:+1 555 123 4567", false, []string{"entry 2", "twice"}},
		{"service SID", "sms:PN123", true, []string{"MG"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := twilio.ParseOrigins(tt.list, tt.services)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// Default rates follow Twilio's documented per-sender limits.
func TestOrigin_MessagesPerSecond(t *testing.T) {
	t.Parallel()
	tests := []struct {
		origin twilio.Origin
		want   float64
	}{
		{twilio.Origin{Channel: gateway.ChannelSMS, Address: "+15551234567"}, 1},
		{twilio.Origin{Channel: gateway.ChannelSMS, Address: "+18885551234"}, 3},
		{twilio.Origin{Channel: gateway.ChannelSMS, Address: "+18335551234"}, 3},
		{twilio.Origin{Channel: gateway.ChannelSMS, Address: "+27821234567"}, 10},
		{twilio.Origin{Channel: gateway.ChannelSMS, Address: "+447700900123"}, 10},
		{twilio.Origin{Channel: gateway.ChannelSMS, Address: "ACME"}, 10},
		{twilio.Origin{Channel: gateway.ChannelSMS, Address: "384387"}, 100},
		{twilio.Origin{Channel: gateway.ChannelWhatsApp, Address: "+14155238886"}, 80},
		{twilio.Origin{Channel: gateway.ChannelSMS, Address: "MG1", Service: true}, 0},
		{twilio.Origin{Channel: gateway.ChannelSMS, Address: "+15551234567", Rate: 4.5}, 4.5},
	}
	for _, tt := range tests {
		if got := tt.origin.MessagesPerSecond(); got != tt.want {
			t.Errorf("%s: %v/s, want %v/s", tt.origin.Key(), got, tt.want)
		}
	}
}

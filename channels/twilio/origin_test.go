package twilio_test

import (
	"testing"

	"github.com/chatgate/chatgate/channels/twilio"
	"github.com/chatgate/chatgate/gateway"
)

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

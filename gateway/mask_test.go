package gateway_test

import (
	"testing"

	"github.com/chatgate/chatgate/gateway"
)

// One mask for every log and logged error: a phone number keeps its last
// four characters, everything else stays as it is.
func TestMask(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"E.164 number", "+27821234567", "********4567"},
		{"WhatsApp LID address", "lid:123456789012345", "lid:***********2345"},
		{"number without country code", "4133881111", "******1111"},
		{"number as people write it", "+1 (413) 388-1111", "*************1111"},
		{"number inside a provider's message", "Cannot reach +14133881111 today", "Cannot reach ********1111 today"},
		{"two numbers", "from +14133881111 to +12028831111", "from ********1111 to ********1111"},
		{"WhatsApp JID", "27821234567@s.whatsapp.net", "*******4567@s.whatsapp.net"},
		{"shortest number masked", "1234567", "***4567"},
		{"short code kept", "sms:384387", "sms:384387"},
		{"too short to be a number", "12", "12"},
		{"alphanumeric sender ID kept", "ACME", "ACME"},
		{"address and port kept", "dial tcp 127.0.0.1:9092: connection refused", "dial tcp 127.0.0.1:9092: connection refused"},
		{"message id kept", "3EB0B78BA740A939C26D05", "3EB0B78BA740A939C26D05"},
		{"digits inside a SID kept", "SM00000000000000000000000000000002", "SM00000000000000000000000000000002"},
		{"dotted international number", "+44.7700.900123", "***********0123"},
		{"number glued to a letter", "+14155238886x is not a number", "********8886x is not a number"},
		{"IP address kept", "connect 192.168.100.200:5432", "connect 192.168.100.200:5432"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := gateway.Mask(tt.in); got != tt.want {
				t.Fatalf("Mask(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

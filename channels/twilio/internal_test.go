package twilio

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/sender"
)

// The error titles compiled into the package are the catalogue's.
func TestErrorTitlesMatchCatalogue(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("testdata/twilio-error-codes.json")
	if err != nil {
		t.Fatal(err)
	}
	var catalogue map[string]string
	if err := json.Unmarshal(b, &catalogue); err != nil {
		t.Fatal(err)
	}
	if len(catalogue) != len(twilioErrorTitles) {
		t.Errorf("%d titles in testdata, %d compiled in", len(catalogue), len(twilioErrorTitles))
	}
	for k, title := range catalogue {
		code, err := strconv.Atoi(k)
		if err != nil {
			t.Fatal(err)
		}
		if twilioErrorTitles[code] != title {
			t.Errorf("%d: compiled %q, catalogue %q", code, twilioErrorTitles[code], title)
		}
	}
	for code := range readableReasons {
		if _, ok := twilioErrorTitles[code]; !ok && code != 30034 {
			t.Errorf("readable reason for %d, which is not in the catalogue subset", code)
		}
	}
}

func TestSplitAddress(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		channel gateway.Channel
		addr    string
		err     bool
	}{
		{"+14133881111", gateway.ChannelSMS, "+14133881111", false},
		{" +1 (413) 388-1111 ", gateway.ChannelSMS, "+14133881111", false},
		{"+44.7700.900123", gateway.ChannelSMS, "+447700900123", false},
		{"whatsapp:+14133881111", gateway.ChannelWhatsApp, "+14133881111", false},
		{"WhatsApp:+14133881111", gateway.ChannelWhatsApp, "+14133881111", false},
		{"whatsapp:US.1234", gateway.ChannelWhatsApp, "US.1234", false},
		{"384387", gateway.ChannelSMS, "384387", false},
		{"4133881111", gateway.ChannelSMS, "4133881111", false},
		{"", "", "", true},
		{"whatsapp:", "", "", true},
		{"messenger:1234", "", "", true},
		{"+0123456789", "", "", true},
		{"+123456", "", "", true},
		{"+1234567890123456", "", "", true},
		{"+1-800-FLOWERS", "", "", true},
		{"user@example.com", "", "", true},
		{"+" + strings.Repeat("1", 200), "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			ch, addr, err := splitAddress(tt.in)
			if (err != nil) != tt.err || ch != tt.channel || addr != tt.addr {
				t.Errorf("splitAddress(%q) = %q, %q, %v", tt.in, ch, addr, err)
			}
			if err != nil && strings.Contains(err.Error(), "3881111") {
				t.Errorf("error %q shows the number unmasked", err)
			}
		})
	}
}

func TestSMSSegments(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want int
	}{
		{"empty", "", 1},
		{"GSM-7, 160 characters", strings.Repeat("a", 160), 1},
		{"GSM-7, 161 characters", strings.Repeat("a", 161), 2},
		{"GSM-7, 306 characters", strings.Repeat("a", 306), 2},
		{"GSM-7, 307 characters", strings.Repeat("a", 307), 3},
		{"GSM-7 extension characters count twice", strings.Repeat("€", 80), 1},
		{"GSM-7 extension characters over the limit", strings.Repeat("€", 81), 2},
		{"UCS-2, 70 characters", strings.Repeat("☺", 70), 1},
		{"UCS-2, 71 characters", strings.Repeat("☺", 71), 2},
		{"one emoji makes it UCS-2", strings.Repeat("a", 100) + "😀", 2},
		{"emoji are two UTF-16 units", strings.Repeat("😀", 35), 1},
		{"courier's long send", "This is a longer message than 160 characters and will cause us to split it into two separate parts, isn't that right but it is even longer than before I say, I need to keep adding more things to make it work", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := smsSegments(tt.body); got != tt.want {
				t.Errorf("%s: %d segments, want %d", tt.name, got, tt.want)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":                              0,
		"7":                             7 * time.Second,
		"-3":                            0,
		"soon":                          0,
		"Sun, 22 Nov 2026 10:00:30 GMT": 30 * time.Second,
		"Sun, 22 Nov 2026 09:00:00 GMT": 0,
		"999999":                        MaxRetryAfter,
	} {
		h := http.Header{}
		if v != "" {
			h.Set("Retry-After", v)
		}
		if got := retryAfter(h, now); got != want {
			t.Errorf("Retry-After %q: %v, want %v", v, got, want)
		}
	}
}

// Without an answer: temporary when the request was not written, unknown
// outcome when it was.
func TestClassifyWithoutAnswer(t *testing.T) {
	t.Parallel()
	cause := errors.New("connection reset by peer")
	var se *sender.Error
	if err := classify(cause, attempt{}, time.Now()); !errors.As(err, &se) || se.Permanent || se.Code != CodeNetworkError {
		t.Errorf("not written: %v", err)
	}
	if err := classify(cause, attempt{wrote: true}, time.Now()); !errors.As(err, &se) || !se.Permanent || se.Code != sender.CodeOutcomeUnknown {
		t.Errorf("written: %v", err)
	}
	if err := classify(cause, attempt{wrote: true, parentDone: errors.New("ctx done")}, time.Now()); errors.As(err, &se) {
		t.Errorf("context ended: %v, want the context's error", err)
	}
}

package templates_test

import (
	"testing"
	"time"

	"github.com/chatgate/chatgate/templates"
)

func TestR28_WindowExpiresAt(t *testing.T) {
	t.Parallel()
	last := time.Date(2026, 3, 28, 23, 30, 0, 0, time.UTC)
	if got, want := templates.WindowExpiresAt(last), last.Add(24*time.Hour); !got.Equal(want) {
		t.Fatalf("WindowExpiresAt() = %v, want %v", got, want)
	}
	if got := templates.WindowExpiresAt(time.Time{}); !got.IsZero() {
		t.Fatalf("WindowExpiresAt(zero) = %v, want zero", got)
	}
	// A daylight-saving change does not shorten the window: it is 24 real hours.
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err == nil {
		local := time.Date(2026, 3, 28, 12, 0, 0, 0, berlin)
		if got := templates.WindowExpiresAt(local); got.Sub(local) != 24*time.Hour {
			t.Fatalf("WindowExpiresAt across DST = %v after, want 24h", got.Sub(local))
		}
	}
}

func TestR28_WindowOpen(t *testing.T) {
	t.Parallel()
	last := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	end := last.Add(24 * time.Hour)
	tests := []struct {
		name      string
		channel   string
		last, now time.Time
		want      bool
	}{
		{"whatsapp just after inbound", "whatsapp", last, last, true},
		{"whatsapp 1ns before 24h", "whatsapp", last, end.Add(-time.Nanosecond), true},
		{"whatsapp exactly 24h: closed", "whatsapp", last, end, false},
		{"whatsapp 1ns after 24h", "whatsapp", last, end.Add(time.Nanosecond), false},
		{"whatsapp a week later", "whatsapp", last, last.Add(7 * 24 * time.Hour), false},
		{"whatsapp no inbound ever", "whatsapp", time.Time{}, last, false},
		{"whatsapp in another zone", "whatsapp", last.In(time.FixedZone("X", 5*3600)), end.Add(-time.Second), true},
		{"whatsapp case-insensitive", "WhatsApp", last, end, false},
		{"sms never has a window", "sms", last, end.Add(time.Hour), true},
		{"sms no inbound ever", "sms", time.Time{}, last, true},
		{"api never has a window", "api", time.Time{}, last, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := templates.WindowOpen(tt.channel, tt.last, tt.now); got != tt.want {
				t.Fatalf("WindowOpen(%q, %v, %v) = %v, want %v", tt.channel, tt.last, tt.now, got, tt.want)
			}
		})
	}
}

package templates

import (
	"strings"
	"time"
)

// WindowLength is WhatsApp's customer-service window: free text may be sent
// for this long after the contact's last inbound message (R28).
const WindowLength = 24 * time.Hour

// WindowExpiresAt returns when the window opened by lastInbound closes, or
// the zero time if the contact never wrote (zero lastInbound).
func WindowExpiresAt(lastInbound time.Time) time.Time {
	if lastInbound.IsZero() {
		return time.Time{}
	}
	return lastInbound.Add(WindowLength)
}

// WindowOpen reports whether free text may be sent on channel at now.
// Only WhatsApp has a window: it is open iff the contact has written
// (non-zero lastInbound) and now is strictly before lastInbound + 24 h, so at
// exactly 24 h it is closed. SMS, the API channel and any other channel have
// no window and are always open. Channel names compare case-insensitively.
func WindowOpen(channel string, lastInbound, now time.Time) bool {
	if !strings.EqualFold(strings.TrimSpace(channel), ChannelWhatsApp) {
		return true
	}
	if lastInbound.IsZero() {
		return false
	}
	return now.Before(WindowExpiresAt(lastInbound))
}

package twilio

import (
	"errors"
	"fmt"
	"strings"

	"github.com/chatgate/chatgate/gateway"
)

// whatsappPrefix is how Twilio marks a WhatsApp address ("whatsapp:+14155238886").
const whatsappPrefix = "whatsapp:"

// E.164 allows at most 15 digits after the "+"; the shortest numbers in
// service (small island networks) have 7. A number without "+" (a short
// code, or a number without its country code) has at least 3 digits (the
// shortest short codes) and, like any phone number, at most 15.
const (
	minE164Digits  = 7
	maxE164Digits  = 15
	minLocalDigits = 3
)

// splitAddress splits an address as Twilio writes it in a webhook into
// chatgate's channel and the normalized address: "whatsapp:+14155238886" is
// WhatsApp's "+14155238886", a bare "+15551234567" or short code "384387" is
// SMS. Other channel prefixes Twilio knows (messenger:, rcs:) are refused:
// chatgate has no such channel.
func splitAddress(raw string) (gateway.Channel, string, error) {
	s := strings.TrimSpace(raw)
	ch := gateway.ChannelSMS
	if prefix, rest, ok := strings.Cut(s, ":"); ok {
		if !strings.EqualFold(prefix, "whatsapp") {
			return "", "", fmt.Errorf("channel %q is not supported (only SMS and WhatsApp)", prefix)
		}
		ch, s = gateway.ChannelWhatsApp, rest
	}
	addr, err := normalizeAddress(s)
	if err != nil {
		return "", "", err
	}
	return ch, addr, nil
}

// normalizeAddress returns a contact or business address in chatgate's form:
//
//   - "+" and digits is a phone number in E.164; spaces, dots, dashes and
//     parentheses are dropped ("+1 (415) 523-8886" → "+14155238886");
//   - digits alone (3 to 15 of them) are a short code or a number without
//     country code, kept as given: without the country it was dialled in,
//     guessing one would invent a different contact;
//   - anything else made of letters, digits, '.', '_' and '-' is an identifier
//     that is not a phone number, such as WhatsApp's business-scoped user id
//     ("US.1234"), kept as given.
func normalizeAddress(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("address is empty")
	}
	if len(s) > gateway.MaxAddressLen {
		return "", fmt.Errorf("address is longer than %d characters", gateway.MaxAddressLen)
	}
	if rest, ok := strings.CutPrefix(s, "+"); ok {
		digits, ok := phoneDigits(rest)
		if !ok || len(digits) < minE164Digits || len(digits) > maxE164Digits || digits[0] == '0' {
			return "", fmt.Errorf("%q is not an E.164 phone number", gateway.Mask(s))
		}
		return "+" + digits, nil
	}
	if digits, ok := phoneDigits(s); ok && digits != "" {
		if len(digits) < minLocalDigits || len(digits) > maxE164Digits {
			return "", fmt.Errorf("%q is not a phone number or short code (3 to 15 digits)", gateway.Mask(s))
		}
		return digits, nil
	}
	for _, r := range s {
		if !isIDRune(r) {
			return "", fmt.Errorf("%q is neither a phone number nor an identifier", gateway.Mask(s))
		}
	}
	return s, nil
}

// phoneDigits drops the separators people write in phone numbers and
// reports whether only ASCII digits remained.
func phoneDigits(s string) (string, bool) {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return "", false
		}
	}
	return b.String(), true
}

func isIDRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
}

// twilioAddress is the To or From of a REST call for an address of ch.
func twilioAddress(ch gateway.Channel, addr string) string {
	if ch == gateway.ChannelWhatsApp {
		return whatsappPrefix + addr
	}
	return addr
}

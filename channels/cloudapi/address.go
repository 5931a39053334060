package cloudapi

import (
	"errors"
	"fmt"
	"strings"

	"github.com/chatgate/chatgate/gateway"
)

// E.164 allows at most 15 digits after the "+"; the shortest business
// numbers in service have 7.
const (
	minE164Digits = 7
	maxE164Digits = 15
)

// contactAddress turns a WhatsApp id as Meta writes it (wa_id, from,
// recipient_id: the number's digits without "+") into chatgate's address of
// the contact: "+" and the digits, as the linked-device channel writes it,
// so one person is one contact whichever WhatsApp channel they write to. A
// business-scoped user id ("US.1234", sent when the user hides the number)
// is kept as it is.
func contactAddress(waID string) (string, error) {
	switch {
	case waID == "":
		return "", errors.New("is empty")
	case isDigits(waID):
		if len(waID) > maxE164Digits || waID[0] == '0' {
			return "", fmt.Errorf("%q is not a phone number in international form", gateway.Mask(waID))
		}
		return "+" + waID, nil
	case isBSUID(waID):
		return waID, nil
	}
	return "", fmt.Errorf("%q is neither a WhatsApp phone number nor a business-scoped user id", gateway.Mask(waID))
}

// recipientOf is the reverse of contactAddress for a send: the "to" of a
// phone number (digits without "+"), or the "recipient" of a BSUID.
func recipientOf(addr string) (to, userID string, err error) {
	a := strings.TrimSpace(addr)
	if rest, ok := strings.CutPrefix(a, "+"); ok {
		if !isDigits(rest) || len(rest) > maxE164Digits || rest[0] == '0' {
			return "", "", fmt.Errorf("%q is not an E.164 phone number", gateway.Mask(a))
		}
		return rest, "", nil
	}
	switch {
	case isDigits(a) && len(a) <= maxE164Digits && a[0] != '0':
		return a, "", nil
	case isBSUID(a):
		return "", a, nil
	}
	return "", "", fmt.Errorf("%q is neither an E.164 phone number nor a business-scoped user id", gateway.Mask(a))
}

// isBSUID reports whether s has the shape of a business-scoped user id: an
// ISO 3166 country code in capitals, a dot, then letters, digits and dots
// ("US.13491208655302741918", a parent id "US.ENT.5678").
func isBSUID(s string) bool {
	if len(s) < 4 || len(s) > 128 || s[2] != '.' {
		return false
	}
	for i := 0; i < 2; i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	rest := s[3:]
	if rest == "" || rest[0] == '.' || rest[len(rest)-1] == '.' {
		return false
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '.') {
			return false
		}
	}
	return true
}

// normalizeBusinessNumber turns a display number ("+250 788 123 200",
// "15550783881") into E.164.
func normalizeBusinessNumber(s string) (string, error) {
	s = strings.TrimSpace(s)
	rest := strings.TrimPrefix(s, "+")
	var b strings.Builder
	b.WriteByte('+')
	for _, r := range rest {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return "", fmt.Errorf("%q is not a phone number", gateway.Mask(s))
		}
	}
	out := b.String()
	if len(out) < minE164Digits+1 || len(out) > maxE164Digits+1 || out[1] == '0' {
		return "", fmt.Errorf("%q is not an E.164 phone number", gateway.Mask(s))
	}
	return out, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

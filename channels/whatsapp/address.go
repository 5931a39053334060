package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.mau.fi/whatsmeow/types"

	"github.com/chatgate/chatgate/gateway"
)

// LIDAddressPrefix starts the address of a contact known only by its
// WhatsApp linked identity (LID), whose phone number WhatsApp did not reveal:
// "lid:123456789012345". Outbound records to such an address are sent to
// the LID.
const LIDAddressPrefix = "lid:"

// ErrInvalidAddress marks an address that is neither E.164 nor a LID address.
var ErrInvalidAddress = errors.New("invalid whatsapp address")

// LIDResolver finds the phone-number JID of a LID. whatsmeow's
// store.LIDStore (device.LIDs) implements it.
type LIDResolver interface {
	GetPNForLID(ctx context.Context, lid types.JID) (types.JID, error)
}

// AddressOfJID returns the chatgate address of a user JID: "+E164" for a
// phone-number JID, "lid:…" for a LID. The device part is dropped, so every
// device of one person has one address.
func AddressOfJID(jid types.JID) (string, error) {
	switch jid.Server {
	case types.DefaultUserServer:
		if !isDigits(jid.User) {
			return "", fmt.Errorf("%w: phone JID user %q is not a number", ErrInvalidAddress, jid.User)
		}
		return "+" + jid.User, nil
	case types.HiddenUserServer:
		if jid.User == "" {
			return "", fmt.Errorf("%w: empty LID", ErrInvalidAddress)
		}
		return LIDAddressPrefix + jid.User, nil
	}
	return "", fmt.Errorf("%w: JID on server %q is not a user", ErrInvalidAddress, jid.Server)
}

// JIDOfAddress parses a chatgate address ("+E164", also without the plus,
// spaces, dashes and brackets allowed; or "lid:…") into the user JID to send to.
func JIDOfAddress(addr string) (types.JID, error) {
	if lid, ok := strings.CutPrefix(addr, LIDAddressPrefix); ok {
		if lid == "" || !isDigits(lid) {
			return types.JID{}, fmt.Errorf("%w: LID address %q", ErrInvalidAddress, addr)
		}
		return types.NewJID(lid, types.HiddenUserServer), nil
	}
	num, err := NormalizePhone(addr)
	if err != nil {
		return types.JID{}, err
	}
	return types.NewJID(num[1:], types.DefaultUserServer), nil
}

// NormalizePhone returns phone in E.164 form ("+27821234567"). It accepts
// a leading "+" or "00", and spaces, dashes, dots and brackets between digits.
func NormalizePhone(phone string) (string, error) {
	s := strings.TrimSpace(phone)
	switch {
	case strings.HasPrefix(s, "+"):
		s = s[1:]
	case strings.HasPrefix(s, "00"):
		s = s[2:]
	}
	var b strings.Builder
	b.WriteByte('+')
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return "", fmt.Errorf("%w: phone number contains %q", ErrInvalidAddress, r)
		}
	}
	out := b.String()
	// E.164: country code 1-9, at most 15 digits; 7 is the shortest number
	// WhatsApp accepts for pairing.
	if len(out) < 8 || len(out) > 16 || out[1] == '0' {
		return "", fmt.Errorf("%w: %q is not an international number of 7 to 15 digits", ErrInvalidAddress, gateway.Mask(phone))
	}
	return out, nil
}

// resolveAddress picks the phone-number address of a contact: the JID
// itself when it is a phone JID, else its alternative (whatsmeow's
// SenderAlt/RecipientAlt), else a LID lookup, else the LID address.
func resolveAddress(ctx context.Context, jid, alt types.JID, lids LIDResolver) (string, error) {
	if jid.Server == types.DefaultUserServer {
		return AddressOfJID(jid)
	}
	if alt.Server == types.DefaultUserServer {
		return AddressOfJID(alt)
	}
	if jid.Server == types.HiddenUserServer && lids != nil {
		pn, err := lids.GetPNForLID(ctx, jid.ToNonAD())
		if err != nil {
			return "", fmt.Errorf("look up phone number of LID: %w", err)
		}
		if pn.Server == types.DefaultUserServer {
			return AddressOfJID(pn)
		}
	}
	return AddressOfJID(jid)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

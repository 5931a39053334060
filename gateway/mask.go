package gateway

import (
	"regexp"
	"strings"
)

// phoneNumber matches what may be a phone number in a text: a digit, then
// digits, spaces, hyphens and parentheses, ending in a digit, at least
// seven characters in all, not preceded by a letter or digit; or the same
// after a "+", where dots count as separators too ("+44.7700.900123"). It
// catches E.164 numbers ("+27821234567"), numbers as people write them
// ("+1 (415) 523-8886"), numbers without country code and a WhatsApp JID's
// or LID's user part, also when a letter follows ("+14155238886x" in a
// refused address). It leaves short codes, ports and IP addresses (dots
// without a "+") alone, and the digits inside an identifier that starts
// with a letter (a Twilio SID). A date written with hyphens is caught too:
// in a log, hiding too much beats hiding too little.
var phoneNumber = regexp.MustCompile(`\+\d[\d ().-]{5,}\d|\b\d[\d ()-]{5,}\d`)

// maskKeep is how many characters at the end of a phone number Mask keeps:
// enough for an operator to tell two contacts apart or match a complaint,
// too few to call anyone.
const maskKeep = 4

// Mask returns s with every phone number in it hidden but its last four
// characters, each hidden character written "*": "+27821234567" becomes
// "********4567", "lid:123456789012345" becomes "lid:***********2345", and
// "Cannot reach +14133881111 today" becomes "Cannot reach ********1111
// today". It is the one mask of chatgate: for addresses in info-level logs
// and for error texts that may be logged (a provider's message, a
// dead-letter reason, a refused address), which must not carry a contact's
// number (STYLE 7). What is not a phone number (a short code, an
// alphanumeric sender ID, a message id) is kept as it is.
func Mask(s string) string {
	return phoneNumber.ReplaceAllStringFunc(s, func(number string) string {
		// The pattern matches ASCII only, so bytes are characters.
		return strings.Repeat("*", len(number)-maskKeep) + number[len(number)-maskKeep:]
	})
}

package gateway

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidLanguage reports a language tag that cannot be normalised.
var ErrInvalidLanguage = errors.New("invalid language")

// NormalizeLanguage returns the canonical form of a language tag: the
// primary language (2–3 letters) in lowercase, then an optional script
// (4 letters) in title case, then an optional region (2 letters in
// uppercase, or 3 digits), joined by "_". Hyphens and underscores are both
// accepted as separators and surrounding spaces are ignored, so "pt-br",
// "PT_br" and " pt_BR " all give "pt_BR". Other subtags (variants,
// extensions) are refused with ErrInvalidLanguage.
//
// The underscore form is WhatsApp's template language code, so canonical
// languages can be sent to WhatsApp and Twilio unchanged.
func NormalizeLanguage(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("%w: empty", ErrInvalidLanguage)
	}
	parts := strings.FieldsFunc(s, func(r rune) bool { return r == '-' || r == '_' })
	// FieldsFunc drops empty fields; a tag like "pt--BR" or "_pt" is malformed.
	if strings.Count(s, "-")+strings.Count(s, "_") != len(parts)-1 {
		return "", fmt.Errorf("%w: %q has an empty subtag", ErrInvalidLanguage, s)
	}
	lang := parts[0]
	if len(lang) < 2 || len(lang) > 3 || !allASCIILetters(lang) {
		return "", fmt.Errorf("%w: %q: primary language must be 2 or 3 letters", ErrInvalidLanguage, s)
	}
	out := []string{strings.ToLower(lang)}
	rest := parts[1:]
	if len(rest) > 0 && len(rest[0]) == 4 && allASCIILetters(rest[0]) {
		out = append(out, strings.ToUpper(rest[0][:1])+strings.ToLower(rest[0][1:]))
		rest = rest[1:]
	}
	if len(rest) > 0 {
		r := rest[0]
		switch {
		case len(r) == 2 && allASCIILetters(r):
			out = append(out, strings.ToUpper(r))
		case len(r) == 3 && allASCIIDigits(r):
			out = append(out, r)
		default:
			return "", fmt.Errorf("%w: %q: %q is neither a script nor a region", ErrInvalidLanguage, s, r)
		}
		rest = rest[1:]
	}
	if len(rest) > 0 {
		return "", fmt.Errorf("%w: %q: unexpected subtag %q", ErrInvalidLanguage, s, rest[0])
	}
	return strings.Join(out, "_"), nil
}

func allASCIILetters(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20 // fold ASCII upper case onto lower case
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

func allASCIIDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

package gateway

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The rules every entrance applies to text before it acknowledges anything
// (R38). PostgreSQL refuses U+0000 in text and jsonb and any byte sequence
// that is not UTF-8; Go's JSON encoder cannot write a NaN. A value that
// passes these checks is one the worker, PostgreSQL and Kafka all accept,
// so nothing is acknowledged that a later stage refuses. The problems are
// phrased to follow a field name: "text contains a control character".
//
// Three kinds of string field:
//
//   - text (CheckText): what people wrote, a message, a comment, a template
//     body. Tab, line feed and carriage return are allowed; other C0 control
//     characters (U+0000–U+001F) are not.
//   - a line (CheckLine): a name shown on one line, a display name, a label.
//     No control character at all.
//   - a key (CheckKey): an identifier chosen by someone else, a provider's
//     message id, an address, a request id. No control character, not blank,
//     no leading or trailing white space (" alice" and "alice" would be two
//     contacts); inside it anything else goes, since it is someone else's.
//
// Identifiers chatgate defines itself (agent ids) follow the stricter
// CheckAgentID.
//
// Lengths are counted in characters (runes), never bytes. A string that is
// valid UTF-8 cannot hold a lone UTF-16 surrogate: Go's UTF-8 decoder
// refuses the encoded surrogates U+D800–U+DFFF, so the checks refuse them as
// invalid UTF-8.

// Problem messages of the checks, for callers that compare them.
const (
	ProblemRequired     = "is required"
	ProblemBlank        = "must not be blank"
	ProblemPadded       = "must not have leading or trailing white space"
	ProblemControl      = "must not contain control characters"
	ProblemInvalidUTF8  = "is not valid UTF-8"
	ProblemAgentIDChars = "must be 1 to 128 of the letters A-Z and a-z, digits, '.', '_' and '-', start with a letter or digit and not end with '.'"
)

// tooLong is the problem of a value over max characters.
func tooLong(max int) string { return "is longer than " + strconv.Itoa(max) + " characters" }

// CheckText returns the problem of a text field of at most max characters,
// or "" when it is acceptable. The empty string is acceptable: callers say
// which fields are required.
func CheckText(s string, max int) string {
	switch {
	case !utf8.ValidString(s):
		return ProblemInvalidUTF8
	case strings.ContainsFunc(s, isForbiddenInText):
		return "must not contain control characters other than tab, line feed and carriage return"
	case utf8.RuneCountInString(s) > max:
		return tooLong(max)
	}
	return ""
}

// CheckLine returns the problem of a one-line text field of at most max
// characters, or "": like CheckText, but no control character at all.
func CheckLine(s string, max int) string {
	switch {
	case !utf8.ValidString(s):
		return ProblemInvalidUTF8
	case strings.ContainsFunc(s, unicode.IsControl):
		return ProblemControl
	case utf8.RuneCountInString(s) > max:
		return tooLong(max)
	}
	return ""
}

// CheckKey returns the problem of an identifier of at most max characters
// chosen by someone else (a provider id, an address, a request id), or "".
// Empty is acceptable; callers say which keys are required.
func CheckKey(s string, max int) string {
	switch {
	case s == "":
		return ""
	case !utf8.ValidString(s):
		return ProblemInvalidUTF8
	case strings.TrimSpace(s) == "":
		return ProblemBlank
	case strings.TrimSpace(s) != s:
		return ProblemPadded
	case strings.ContainsFunc(s, unicode.IsControl):
		return ProblemControl
	case utf8.RuneCountInString(s) > max:
		return tooLong(max)
	}
	return ""
}

// MaxAgentIDLen is the longest agent id.
const MaxAgentIDLen = 128

// CheckAgentID returns the problem of an agent id, or "" when id is one.
// An agent id is 1 to 128 ASCII letters, digits, '.', '_' and '-',
// starting with a letter or digit and not ending with '.': exactly what
// a comment's @mention can name, safe in a URL path and a log line, and
// never a path ("../x", "a/b") or two spellings of one agent (" ann").
func CheckAgentID(id string) string {
	if id == "" {
		return ProblemRequired
	}
	if len(id) > MaxAgentIDLen {
		return tooLong(MaxAgentIDLen)
	}
	if !isAlnum(id[0]) || id[len(id)-1] == '.' {
		return ProblemAgentIDChars
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !isAlnum(c) && c != '.' && c != '_' && c != '-' {
			return ProblemAgentIDChars
		}
	}
	return ""
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// isForbiddenInText reports the control characters text may not hold:
// U+0000–U+001F except tab, line feed and carriage return.
func isForbiddenInText(r rune) bool { return r < 0x20 && r != '\t' && r != '\n' && r != '\r' }

// NormalizeText returns s as a text field may hold it: invalid UTF-8
// replaced by U+FFFD, and the control characters CheckText refuses
// removed. changed reports whether anything was. It is for content a
// channel cannot refuse (a WhatsApp message arrives over a socket, with
// nobody to tell): the message is kept, minus what cannot be stored.
func NormalizeText(s string) (out string, changed bool) {
	if utf8.ValidString(s) && !strings.ContainsFunc(s, isForbiddenInText) {
		return s, false
	}
	s = strings.ToValidUTF8(s, string(utf8.RuneError))
	return strings.Map(func(r rune) rune {
		if isForbiddenInText(r) {
			return -1
		}
		return r
	}, s), true
}

// NormalizeLine returns s as a one-line field may hold it: invalid UTF-8
// replaced by U+FFFD, every control character (tab and line breaks too)
// replaced by a space, runs of spaces left as they are, then trimmed of
// white space and cut to max characters. It is how channels keep a
// contact's profile name, which the contact chose and the channel cannot
// refuse. changed reports whether the result differs from s.
func NormalizeLine(s string, max int) (out string, changed bool) {
	out = strings.ToValidUTF8(s, string(utf8.RuneError))
	out = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, out)
	out = strings.TrimSpace(out)
	if utf8.RuneCountInString(out) > max {
		out = strings.TrimSpace(string([]rune(out)[:max]))
	}
	return out, out != s
}

// CheckCoordinates returns the problem of a latitude and longitude pair,
// naming the field at fault, or "" when both are finite degrees in range
// (latitude −90 to 90, longitude −180 to 180). JSON has no NaN or
// infinity: a record holding one could not even be written.
func CheckCoordinates(lat, lng float64) (field, problem string) {
	switch {
	case math.IsNaN(lat) || math.IsInf(lat, 0) || lat < -90 || lat > 90:
		return "latitude", fmt.Sprintf("%v is not a latitude in degrees (-90 to 90)", lat)
	case math.IsNaN(lng) || math.IsInf(lng, 0) || lng < -180 || lng > 180:
		return "longitude", fmt.Sprintf("%v is not a longitude in degrees (-180 to 180)", lng)
	}
	return "", ""
}

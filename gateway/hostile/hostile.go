// Package hostile is the hostile input corpus of R38, defined once: the
// values an attacker, a broken client or a buggy provider sends. The tests
// of every entrance (the API channel, the Twilio webhooks, the WhatsApp
// conversion, the desk and ops APIs, the commands topic) feed it to each of
// their fields and check that what is acknowledged is stored, in its
// documented normal form, and that everything else is refused with a 4xx
// that names the field: never a 5xx, never "retry later".
//
// Only tests import it. It depends on the standard library only.
package hostile

import (
	"math"
	"strings"
	"unicode/utf8"
)

// Class says what is wrong with a value, so each entrance can state per
// field what it does with each class (refuse, normalise, keep).
type Class string

// Classes of hostile values.
const (
	// Control: NUL or another C0 control character (not tab, LF or CR).
	Control Class = "control"
	// InvalidUTF8: bytes that are not UTF-8, encoded lone surrogates included.
	InvalidUTF8 Class = "invalid_utf8"
	// LoneSurrogate: a JSON escape of half a UTF-16 surrogate pair ("\ud800").
	LoneSurrogate Class = "lone_surrogate"
	// Huge: 1 MB, over every field's limit and every body limit.
	Huge Class = "huge"
	// Long: 300 characters, over the limit of identifiers (128), within
	// that of texts.
	Long Class = "long"
	// Empty: the empty string.
	Empty Class = "empty"
	// Blank: white space only.
	Blank Class = "blank"
	// Padded: leading or trailing white space around a plausible value.
	Padded Class = "padded"
	// Path: path traversal and slashes, where an identifier is expected.
	Path Class = "path"
	// Whitespace: white space inside a plausible value ("ann smith").
	Whitespace Class = "whitespace"
	// Unicode: non-ASCII letters in a plausible identifier.
	Unicode Class = "unicode"
)

// String is one hostile string value.
type String struct {
	Name  string
	Class Class
	Value string
}

// MB is the size of the Huge value: 1 MiB.
const MB = 1 << 20

// Strings returns the hostile strings, every class but LoneSurrogate
// (which only JSON can carry as such; raw, it is InvalidUTF8).
func Strings() []String {
	return []String{
		{"NUL inside", Control, "a\x00b"},
		{"NUL alone", Control, "\x00"},
		{"bell", Control, "ring\x07"},
		{"escape sequence", Control, "\x1b[31mred"},
		{"vertical tab", Control, "a\vb"},
		{"invalid byte", InvalidUTF8, "a\xffb"},
		{"truncated sequence", InvalidUTF8, "euro \xe2\x82"},
		{"overlong slash", InvalidUTF8, "\xc0\xaf"},
		{"encoded lone surrogate", InvalidUTF8, "\xed\xa0\x80"},
		{"1 MB", Huge, strings.Repeat("x", MB)},
		{"300 characters", Long, strings.Repeat("é", 300)},
		{"empty", Empty, ""},
		{"white space only", Blank, " \t\n "},
		{"padded", Padded, " ann "},
		{"path traversal", Path, "../../etc/passwd"},
		{"slash", Path, "a/b"},
		{"inner space", Whitespace, "ann smith"},
		{"non-ASCII letters", Unicode, "jürgen"},
	}
}

// OfClass returns the hostile strings of the given classes.
func OfClass(classes ...Class) []String {
	var out []String
	for _, s := range Strings() {
		for _, c := range classes {
			if s.Class == c {
				out = append(out, s)
			}
		}
	}
	return out
}

// JSONString is a hostile JSON string literal, quotes included, as raw
// body bytes: what a client can put in a JSON body that a Go string built
// by json.Marshal never holds.
type JSONString struct {
	Name    string
	Class   Class
	Literal string
}

// JSONStrings returns every hostile string as a JSON literal (Literal
// keeps invalid bytes raw), plus the lone surrogate escapes and the escaped
// NUL.
func JSONStrings() []JSONString {
	out := []JSONString{
		{"escaped NUL", Control, `"a\u0000b"`},
		{"escaped escape", Control, `"\u001b[2J"`},
		{"lone high surrogate", LoneSurrogate, `"\ud800"`},
		{"lone low surrogate", LoneSurrogate, `"a\udc00b"`},
		{"high surrogate then text", LoneSurrogate, `"\ud83dx"`},
		{"surrogates reversed", LoneSurrogate, `"\ude00\ud83d"`},
		{"two high surrogates", LoneSurrogate, `"\ud83d\ud83d"`},
	}
	for _, s := range Strings() {
		out = append(out, JSONString{Name: s.Name, Class: s.Class, Literal: Literal(s.Value)})
	}
	return out
}

// Literal returns s as a JSON string literal. Unlike json.Marshal it keeps
// bytes that are not UTF-8 as they are, so a test can send them; control
// characters are escaped as \u00XX, as JSON requires.
func Literal(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			b.WriteByte(s[i])
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			const hex = "0123456789abcdef"
			b.WriteString(`\u00`)
			b.WriteByte(hex[r>>4])
			b.WriteByte(hex[r&0xf])
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	b.WriteByte('"')
	return b.String()
}

// Number is a hostile number as a client writes it in JSON, in place of
// a number field: each is refused by the JSON decoder (NaN and Infinity are
// not JSON; the others do not fit an int64 or a float64).
type Number struct {
	Name string
	Text string
}

// JSONNumbers returns the hostile JSON numbers.
func JSONNumbers() []Number {
	return []Number{
		{"NaN", "NaN"},
		{"Infinity", "Infinity"},
		{"minus Infinity", "-Infinity"},
		{"1e309", "1e309"},
		{"-1e309", "-1e309"},
		{"past int64", "9223372036854775808"},
		{"fraction for an integer", "2.5"},
	}
}

// Coordinate is a hostile latitude and longitude pair, as numbers and as
// the text a form carries.
type Coordinate struct {
	Name                   string
	Latitude, Longitude    float64
	LatitudeText, LongText string
}

// Coordinates returns the hostile coordinates: non-finite, beyond float64,
// and out of range.
func Coordinates() []Coordinate {
	return []Coordinate{
		{"NaN latitude", math.NaN(), 18.4, "NaN", "18.4"},
		{"NaN longitude", -33.9, math.NaN(), "-33.9", "nan"},
		{"infinite latitude", math.Inf(1), 18.4, "Inf", "18.4"},
		{"minus infinite longitude", -33.9, math.Inf(-1), "-33.9", "-Infinity"},
		{"1e309", math.Inf(1), 18.4, "1e309", "18.4"},
		{"latitude 91", 91, 18.4, "91", "18.4"},
		{"longitude -181", -33.9, -181, "-33.9", "-181"},
	}
}

// Phone is an odd phone number. Normal is what a phone channel (Twilio)
// records it as, E.164 or a number kept as given, or "" when it must be
// refused.
type Phone struct {
	Name   string
	Value  string
	Normal string
}

// PhoneNumbers returns odd phone numbers with their normal form.
func PhoneNumbers() []Phone {
	return []Phone{
		{"letters", "+1-800-FLOWERS", ""},
		{"40 digits", "+" + strings.Repeat("1234567890", 4), ""},
		{"40 digits without plus", strings.Repeat("1234567890", 4), ""},
		{"16 digits", "+1234567890123456", ""},
		{"too short", "+123456", ""},
		{"leading zero", "+0821234567", ""},
		{"fullwidth digits", "+２７８２１２３４５６７", ""},
		{"arabic-indic digits", "+٢٧٨٢١٢٣٤٥٦٧", ""},
		{"NUL inside", "+2782\x001234567", ""},
		{"missing plus", "27821234567", "27821234567"},
		{"spaces and dashes", "+27 82-123 4567", "+27821234567"},
		{"parentheses", "+1 (415) 523-8886", "+14155238886"},
	}
}

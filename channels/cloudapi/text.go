package cloudapi

import (
	"bytes"
	"unicode/utf8"
)

// checkRawJSON refuses what Go's JSON decoder would silently change: bytes
// that are not UTF-8 (decoded as U+FFFD) and \u escapes of lone UTF-16
// surrogates (also decoded as U+FFFD). The signature covers the raw bytes,
// so a webhook is stored exactly as Meta sent it, or refused. It returns
// the byte offset of the first problem and what it is, or -1.
func checkRawJSON(body []byte) (int, string) {
	if !utf8.Valid(body) {
		for i := 0; i < len(body); {
			r, size := utf8.DecodeRune(body[i:])
			if r == utf8.RuneError && size <= 1 {
				return i, "bytes that are not UTF-8"
			}
			i += size
		}
	}
	if !bytes.Contains(body, []byte(`\u`)) {
		return -1, "" // no \u escape at all, the common case
	}
	inString := false
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !inString {
			if c == '"' {
				inString = true
			}
			continue
		}
		switch c {
		case '"':
			inString = false
		case '\\':
			if i+1 >= len(body) {
				return -1, "" // malformed; the decoder says so
			}
			if body[i+1] != 'u' {
				i++
				continue
			}
			hi, ok := hex4(body, i+2)
			if !ok {
				return -1, ""
			}
			switch {
			case hi >= 0xD800 && hi <= 0xDBFF:
				lo, ok := -1, false
				if i+7 < len(body) && body[i+6] == '\\' && body[i+7] == 'u' {
					lo, ok = hex4(body, i+8)
				}
				if !ok || lo < 0xDC00 || lo > 0xDFFF {
					return i, "a lone UTF-16 surrogate escape"
				}
				i += 11
			case hi >= 0xDC00 && hi <= 0xDFFF:
				return i, "a lone UTF-16 surrogate escape"
			default:
				i += 5
			}
		}
	}
	return -1, ""
}

// hex4 reads four hex digits at b[i:].
func hex4(b []byte, i int) (int, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	v := 0
	for _, c := range b[i : i+4] {
		v <<= 4
		switch {
		case c >= '0' && c <= '9':
			v |= int(c - '0')
		case c >= 'a' && c <= 'f':
			v |= int(c-'a') + 10
		case c >= 'A' && c <= 'F':
			v |= int(c-'A') + 10
		default:
			return 0, false
		}
	}
	return v, true
}

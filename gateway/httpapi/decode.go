package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// DefaultMaxBodyBytes is the body limit DecodeJSON applies when given none.
const DefaultMaxBodyBytes int64 = 64 << 10

// DecodeJSON reads one JSON object from the request body into dst. On
// failure it returns an *Error ready for WriteErrorFrom:
//
//   - 415 unsupported_media_type when Content-Type is not application/json
//     (or a +json type) or names a charset other than UTF-8;
//   - 413 body_too_large when the body is over maxBytes (≤ 0 means
//     DefaultMaxBodyBytes);
//   - 400 invalid_json for an empty body, malformed JSON, a value of the wrong
//     type or out of its type's range, anything but white space after the
//     object, bytes that are not UTF-8, or a \u escape of a lone UTF-16
//     surrogate ("\ud800"); the message gives the line, column and byte
//     offset the decoder stopped at;
//   - 400 unknown_field for a field dst does not have, named in the details
//     (R38): a field a client believes is read, but is not, is refused
//     rather than silently dropped ("media_urls" on a text reply).
//
// encoding/json would otherwise replace invalid UTF-8 and lone surrogates
// with U+FFFD without a word, so a client would never learn that what was
// stored is not what it sent. The body is read whole (it is bounded by
// maxBytes) so that error positions can be given as line and column.
func DecodeJSON(w http.ResponseWriter, r *http.Request, maxBytes int64, dst any) error {
	if err := checkJSONContentType(r.Header.Get("Content-Type")); err != nil {
		return err
	}
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBodyBytes
	}
	tooLarge := &Error{
		Status:  http.StatusRequestEntityTooLarge,
		Code:    CodeBodyTooLarge,
		Message: fmt.Sprintf("request body is larger than %d bytes", maxBytes),
	}
	// The rest of an oversized body is not worth reading: close the
	// connection after the answer (MaxBytesReader cannot tell the server so
	// itself through the middleware's ResponseWriter).
	if r.ContentLength > maxBytes {
		w.Header().Set("Connection", "close")
		return tooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBytes))
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			w.Header().Set("Connection", "close")
			return tooLarge
		}
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Message: "request body could not be read"}
	}
	return decodeBody(body, dst)
}

func checkJSONContentType(ct string) error {
	unsupported := func(msg string) error {
		return &Error{Status: http.StatusUnsupportedMediaType, Code: CodeUnsupportedMediaType, Message: msg}
	}
	if ct == "" {
		return unsupported("Content-Type is missing; send application/json")
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return unsupported("Content-Type is malformed; send application/json")
	}
	if mt != "application/json" && !(strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")) {
		return unsupported(fmt.Sprintf("Content-Type %s is not supported; send application/json", mt))
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
		return unsupported(fmt.Sprintf("charset %s is not supported; send UTF-8", cs))
	}
	return nil
}

func decodeBody(body []byte, dst any) error {
	invalid := func(msg string) error {
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Message: msg}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return invalid("request body is empty; send a JSON object")
	}
	if !utf8.Valid(body) {
		return invalid(fmt.Sprintf("request body is not valid UTF-8 at %s; send UTF-8", position(body, invalidUTF8At(body))))
	}
	if at, ok := loneSurrogateAt(body); ok {
		return invalid(fmt.Sprintf("%s at %s is half of a UTF-16 surrogate pair; escape a character outside the BMP as a pair (\\ud83d\\ude00) or send it as UTF-8",
			body[at:at+6], position(body, int64(at))))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var syntaxErr *json.SyntaxError
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syntaxErr):
			// Offset counts the offending byte; point at it, not past it.
			return invalid(fmt.Sprintf("malformed JSON at %s: %s", position(body, max(syntaxErr.Offset-1, 0)), syntaxErr.Error()))
		case errors.As(err, &typeErr) && typeErr.Field == "":
			return invalid(fmt.Sprintf("request body must be a JSON object, not %s", typeErr.Value))
		case errors.As(err, &typeErr) && strings.HasPrefix(typeErr.Value, "number") && jsonKind(typeErr.Type.String()) == "a number":
			return invalid(fmt.Sprintf("field %q: %s is out of range or not a whole number (value ends at %s)",
				typeErr.Field, typeErr.Value, position(body, typeErr.Offset)))
		case errors.As(err, &typeErr):
			return invalid(fmt.Sprintf("field %q must be %s, not %s (value ends at %s)",
				typeErr.Field, jsonKind(typeErr.Type.String()), typeErr.Value, position(body, typeErr.Offset)))
		case unknownField(err) != "":
			name := unknownField(err)
			return &Error{Status: http.StatusBadRequest, Code: CodeUnknownField,
				Message: fmt.Sprintf("field %q is not a field of this request; remove it", name),
				Details: []ErrorDetail{{Field: name, Message: "is not a field of this request"}}}
		case errors.Is(err, io.ErrUnexpectedEOF):
			return invalid(fmt.Sprintf("malformed JSON at %s: unexpected end of input", position(body, int64(len(body)))))
		default:
			return invalid("malformed JSON: " + err.Error())
		}
	}
	// One object and nothing after it: "{…} {…}" or "{…}garbage" is refused
	// rather than silently half-read.
	end := dec.InputOffset()
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return invalid(fmt.Sprintf("unexpected data after the JSON object at %s", position(body, end)))
	}
	return nil
}

// unknownField returns the field named by the decoder's error for a field
// dst lacks (DisallowUnknownFields), or "". encoding/json has no error type
// for it, only the text `json: unknown field "name"`; TestDecodeJSON fails
// if that text ever changes.
func unknownField(err error) string {
	rest, ok := strings.CutPrefix(err.Error(), "json: unknown field ")
	if !ok {
		return ""
	}
	name, err := strconv.Unquote(rest)
	if err != nil {
		return rest
	}
	return name
}

// invalidUTF8At returns the offset of the first byte of body that does not
// start a valid UTF-8 sequence.
func invalidUTF8At(body []byte) int64 {
	for i := 0; i < len(body); {
		r, size := utf8.DecodeRune(body[i:])
		if r == utf8.RuneError && size <= 1 {
			return int64(i)
		}
		i += size
	}
	return int64(len(body))
}

// loneSurrogateAt finds the first \u escape inside a JSON string that is
// half of a UTF-16 surrogate pair without its other half, and returns its
// offset. It reads only what it recognises; malformed JSON is left for the
// decoder to report.
func loneSurrogateAt(body []byte) (int, bool) {
	hex4 := func(i int) (rune, bool) {
		if i+6 > len(body) || body[i] != '\\' || body[i+1] != 'u' {
			return 0, false
		}
		n, err := strconv.ParseUint(string(body[i+2:i+6]), 16, 16)
		return rune(n), err == nil
	}
	inString := false
	for i := 0; i < len(body); i++ {
		switch c := body[i]; {
		case !inString:
			inString = c == '"'
		case c == '"':
			inString = false
		case c == '\\':
			r, ok := hex4(i)
			switch {
			case !ok:
				i++ // another escape: skip the escaped byte
			case utf16.IsSurrogate(r) && r < 0xDC00:
				if low, ok := hex4(i + 6); !ok || low < 0xDC00 || low > 0xDFFF {
					return i, true
				}
				i += 11 // the pair
			case utf16.IsSurrogate(r):
				return i, true // a low half with no high half before it
			default:
				i += 5
			}
		}
	}
	return 0, false
}

// position turns a byte offset into "line L, column C, byte offset O",
// counting lines from 1 and columns in bytes from 1.
func position(body []byte, offset int64) string {
	if offset > int64(len(body)) {
		offset = int64(len(body))
	}
	line, col := 1, 1
	for _, b := range body[:offset] {
		if b == '\n' {
			line++
			col = 1
			continue
		}
		col++
	}
	return fmt.Sprintf("line %d, column %d, byte offset %d", line, col, offset)
}

// jsonKind names a Go type in JSON words for error messages.
func jsonKind(goType string) string {
	switch {
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "a boolean"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"), strings.HasPrefix(goType, "float"):
		return "a number"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.HasPrefix(goType, "map["), strings.Contains(goType, "struct"), strings.Contains(goType, "."):
		return "an object"
	}
	return "of type " + goType
}

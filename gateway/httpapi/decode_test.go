package httpapi_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/chatgate/chatgate/gateway/hostile"
	"github.com/chatgate/chatgate/gateway/httpapi"
)

type decodeTarget struct {
	Name  string       `json:"name"`
	Count int          `json:"count"`
	Inner *decodeInner `json:"inner"`
}

type decodeInner struct {
	Flag bool `json:"flag"`
}

func TestDecodeJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		contentType   string
		body          string
		unknownLength bool // send without Content-Length, as a chunked body would
		maxBytes      int64
		wantStatus    int    // 0: success
		wantCode      string // error code
		wantMessage   string // substring of the message
		wantField     string // the field of the error's one detail
		want          decodeTarget
	}{
		{name: "ok", contentType: "application/json", body: `{"name":"a","count":2}`, want: decodeTarget{Name: "a", Count: 2}},
		{name: "ok with charset", contentType: "application/json; charset=UTF-8", body: `{"name":"a"}`, want: decodeTarget{Name: "a"}},
		{name: "ok with +json type", contentType: "application/vnd.chatgate+json", body: `{"name":"a"}`, want: decodeTarget{Name: "a"}},
		{name: "unknown field refused", contentType: "application/json", body: `{"name":"a","extra":{"x":[1,2]}}`, wantStatus: 400, wantCode: "unknown_field", wantMessage: `field "extra"`, wantField: "extra"},
		{name: "unknown nested field refused", contentType: "application/json", body: `{"name":"a","inner":{"flag":true,"media_urls":[]}}`, wantStatus: 400, wantCode: "unknown_field", wantField: "media_urls"},
		{name: "known nested field", contentType: "application/json", body: `{"inner":{"flag":true}}`, want: decodeTarget{Inner: &decodeInner{Flag: true}}},
		{name: "invalid UTF-8", contentType: "application/json", body: "{\"name\":\"a\xffb\"}", wantStatus: 400, wantCode: "invalid_json", wantMessage: "not valid UTF-8 at line 1, column 11, byte offset 10"},
		{name: "encoded surrogate", contentType: "application/json", body: "{\"name\":\"\xed\xa0\x80\"}", wantStatus: 400, wantCode: "invalid_json", wantMessage: "not valid UTF-8"},
		{name: "lone high surrogate escape", contentType: "application/json", body: `{"name":"\ud800"}`, wantStatus: 400, wantCode: "invalid_json", wantMessage: `\ud800 at line 1, column 10`},
		{name: "lone low surrogate escape", contentType: "application/json", body: `{"name":"x\uDC00"}`, wantStatus: 400, wantCode: "invalid_json", wantMessage: "surrogate"},
		{name: "high surrogate before text", contentType: "application/json", body: `{"name":"\ud83dx"}`, wantStatus: 400, wantCode: "invalid_json", wantMessage: "surrogate"},
		{name: "two high surrogates", contentType: "application/json", body: `{"name":"\ud83d\ud83d\ude00"}`, wantStatus: 400, wantCode: "invalid_json", wantMessage: "surrogate"},
		{name: "surrogate pair", contentType: "application/json", body: `{"name":"\ud83d\ude00"}`, want: decodeTarget{Name: "😀"}},
		{name: "escaped backslash before u", contentType: "application/json", body: `{"name":"\\ud800"}`, want: decodeTarget{Name: `\ud800`}},
		{name: "surrogate escape in a key", contentType: "application/json", body: `{"\ud800":1}`, wantStatus: 400, wantCode: "invalid_json", wantMessage: "surrogate"},
		{name: "number out of range", contentType: "application/json", body: `{"count":1e309}`, wantStatus: 400, wantCode: "invalid_json", wantMessage: `field "count": number 1e309 is out of range`},
		{name: "NaN is not JSON", contentType: "application/json", body: `{"count":NaN}`, wantStatus: 400, wantCode: "invalid_json", wantMessage: "malformed JSON"},
		{name: "trailing white space", contentType: "application/json", body: "{\"name\":\"a\"}\n\t ", want: decodeTarget{Name: "a"}},
		{name: "no content type", body: `{}`, wantStatus: 415, wantCode: "unsupported_media_type", wantMessage: "missing"},
		{name: "text/plain", contentType: "text/plain", body: `{}`, wantStatus: 415, wantCode: "unsupported_media_type", wantMessage: "text/plain"},
		{name: "form", contentType: "application/x-www-form-urlencoded", body: `name=a`, wantStatus: 415, wantCode: "unsupported_media_type"},
		{name: "malformed content type", contentType: "application/json; charset", body: `{}`, wantStatus: 415, wantCode: "unsupported_media_type"},
		{name: "latin-1", contentType: "application/json; charset=iso-8859-1", body: `{}`, wantStatus: 415, wantCode: "unsupported_media_type", wantMessage: "iso-8859-1"},
		{name: "over limit by Content-Length", contentType: "application/json", body: `{"name":"` + strings.Repeat("x", 100) + `"}`, maxBytes: 50, wantStatus: 413, wantCode: "body_too_large", wantMessage: "50 bytes"},
		{name: "over limit while reading", contentType: "application/json", body: `{"name":"` + strings.Repeat("x", 100) + `"}`, unknownLength: true, maxBytes: 50, wantStatus: 413, wantCode: "body_too_large"},
		{name: "exactly at limit", contentType: "application/json", body: `{"name":"abc"}`, maxBytes: 14, want: decodeTarget{Name: "abc"}},
		{name: "empty", contentType: "application/json", body: ``, wantStatus: 400, wantCode: "invalid_json", wantMessage: "empty"},
		{name: "blank", contentType: "application/json", body: " \n", wantStatus: 400, wantCode: "invalid_json", wantMessage: "empty"},
		{name: "syntax error", contentType: "application/json", body: "{\n  \"name\": \"a\",\n  }", wantStatus: 400, wantCode: "invalid_json", wantMessage: "line 3, column 3, byte offset 19"},
		{name: "truncated", contentType: "application/json", body: `{"name":"a"`, wantStatus: 400, wantCode: "invalid_json", wantMessage: "unexpected end"},
		{name: "wrong type", contentType: "application/json", body: `{"name":5}`, wantStatus: 400, wantCode: "invalid_json", wantMessage: `field "name" must be a string, not number`},
		{name: "wrong type number", contentType: "application/json", body: `{"count":"x"}`, wantStatus: 400, wantCode: "invalid_json", wantMessage: `field "count" must be a number, not string`},
		{name: "array body", contentType: "application/json", body: `[{"name":"a"}]`, wantStatus: 400, wantCode: "invalid_json", wantMessage: "must be a JSON object, not array"},
		{name: "string body", contentType: "application/json", body: `"hi"`, wantStatus: 400, wantCode: "invalid_json", wantMessage: "must be a JSON object, not string"},
		{name: "two objects", contentType: "application/json", body: `{"name":"a"} {"name":"b"}`, wantStatus: 400, wantCode: "invalid_json", wantMessage: "after the JSON object at line 1, column 13"},
		{name: "trailing garbage", contentType: "application/json", body: `{"name":"a"}xyz`, wantStatus: 400, wantCode: "invalid_json", wantMessage: "after the JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var body io.Reader = strings.NewReader(tt.body)
			if tt.unknownLength {
				body = io.MultiReader(body) // hides the length from NewRequest
			}
			req := httptest.NewRequest(http.MethodPost, "/", body)
			if tt.unknownLength {
				req.ContentLength = -1
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			var got decodeTarget
			rec := httptest.NewRecorder()
			err := httpapi.DecodeJSON(rec, req, tt.maxBytes, &got)
			if closing := rec.Header().Get("Connection") == "close"; closing != (tt.wantStatus == http.StatusRequestEntityTooLarge) {
				t.Errorf("Connection: close set = %v; want it exactly for 413", closing)
			}
			if tt.wantStatus == 0 {
				if err != nil {
					t.Fatalf("DecodeJSON = %v", err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("decoded (-want +got):\n%s", diff)
				}
				return
			}
			var apiErr *httpapi.Error
			if !errors.As(err, &apiErr) {
				t.Fatalf("DecodeJSON = %v (%T), want *httpapi.Error", err, err)
			}
			if apiErr.Status != tt.wantStatus || apiErr.Code != tt.wantCode {
				t.Errorf("error = %d %s, want %d %s", apiErr.Status, apiErr.Code, tt.wantStatus, tt.wantCode)
			}
			if !strings.Contains(apiErr.Message, tt.wantMessage) {
				t.Errorf("message = %q, want it to contain %q", apiErr.Message, tt.wantMessage)
			}
			if tt.wantField != "" && (len(apiErr.Details) != 1 || apiErr.Details[0].Field != tt.wantField) {
				t.Errorf("details = %+v, want one naming %s", apiErr.Details, tt.wantField)
			}
		})
	}
}

func TestDecodeJSONDefaultLimit(t *testing.T) {
	t.Parallel()
	big := `{"name":"` + strings.Repeat("x", int(httpapi.DefaultMaxBodyBytes)) + `"}`
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(big))
	req.Header.Set("Content-Type", "application/json")
	var got decodeTarget
	var apiErr *httpapi.Error
	if err := httpapi.DecodeJSON(httptest.NewRecorder(), req, 0, &got); !errors.As(err, &apiErr) || apiErr.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("DecodeJSON of %d bytes with the default limit = %v, want 413", len(big), err)
	}
}

// R38: DecodeJSON never hands a handler a value it changed. Bytes that are
// not UTF-8 and lone surrogate escapes, which encoding/json would turn into
// U+FFFD, are refused; every other hostile string arrives exactly as sent,
// for the route's own validation to judge by field.
func TestR38_DecodeJSONRefusesWhatItWouldReplace(t *testing.T) {
	t.Parallel()
	for _, h := range hostile.JSONStrings() {
		t.Run(h.Name, func(t *testing.T) {
			t.Parallel()
			body := `{"name":` + h.Literal + `}`
			req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			var got decodeTarget
			err := httpapi.DecodeJSON(httptest.NewRecorder(), req, hostile.MB*2, &got)
			switch h.Class {
			case hostile.InvalidUTF8, hostile.LoneSurrogate:
				var apiErr *httpapi.Error
				if !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest || apiErr.Code != httpapi.CodeInvalidJSON {
					t.Fatalf("DecodeJSON(%s) = %v, want 400 invalid_json", clip(body), err)
				}
			default:
				if err != nil {
					t.Fatalf("DecodeJSON(%s) = %v, want it decoded for the route to judge", clip(body), err)
				}
				var want string
				if err := json.Unmarshal([]byte(h.Literal), &want); err != nil || got.Name != want {
					t.Fatalf("decoded %q, want %q exactly", clip(got.Name), clip(want))
				}
			}
		})
	}
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

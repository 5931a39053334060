package httpapi_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chatgate/chatgate/gateway/httpapi"
)

type decodeTarget struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
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
		want          decodeTarget
	}{
		{name: "ok", contentType: "application/json", body: `{"name":"a","count":2}`, want: decodeTarget{Name: "a", Count: 2}},
		{name: "ok with charset", contentType: "application/json; charset=UTF-8", body: `{"name":"a"}`, want: decodeTarget{Name: "a"}},
		{name: "ok with +json type", contentType: "application/vnd.chatgate+json", body: `{"name":"a"}`, want: decodeTarget{Name: "a"}},
		{name: "unknown fields ignored", contentType: "application/json", body: `{"name":"a","extra":{"x":[1,2]}}`, want: decodeTarget{Name: "a"}},
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
				if got != tt.want {
					t.Errorf("decoded %+v, want %+v", got, tt.want)
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

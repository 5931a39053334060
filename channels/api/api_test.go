package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chatgate/chatgate/channels/api"
	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/httpapi"
	"github.com/chatgate/chatgate/gateway/testkit"
)

var (
	topics = gateway.Topics{Prefix: "test."}
	// now is in a non-UTC zone, so the test sees ReceivedAt converted.
	now = time.Date(2026, 11, 22, 10, 30, 0, 123, time.FixedZone("SAST", 2*60*60))
)

func newHandler(pub gateway.Publisher) *api.Handler {
	return &api.Handler{
		Publisher: pub,
		Topics:    topics,
		Now:       func() time.Time { return now },
	}
}

func post(t *testing.T, h http.Handler, contentType, body string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/v1/channels/api/messages", strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

type errorResponse struct {
	Error struct {
		Code    string                `json:"code"`
		Message string                `json:"message"`
		Details []httpapi.ErrorDetail `json:"details"`
	} `json:"error"`
}

func decodeError(t *testing.T, resp *http.Response) errorResponse {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var e errorResponse
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		t.Fatalf("error body is not JSON: %v", err)
	}
	if e.Error.Code == "" || e.Error.Message == "" {
		t.Errorf("error body lacks code or message: %+v", e)
	}
	return e
}

func TestAccepted(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want gateway.Inbound
	}{
		{
			name: "all fields",
			body: `{"id":"msg-1","from":"+27821234567","to":"support","text":"Hello, my order","contact_name":"Ada"}`,
			want: gateway.Inbound{ProviderID: "msg-1", From: "+27821234567", To: "support", Text: "Hello, my order", ContactName: "Ada"},
		},
		{
			name: "required fields only",
			body: `{"id":"msg-2","from":"cust-9","text":"hi"}`,
			want: gateway.Inbound{ProviderID: "msg-2", From: "cust-9", Text: "hi"},
		},
		{
			name: "null optional fields",
			body: `{"id":"msg-4","from":"cust-9","text":"hi","to":null,"contact_name":null}`,
			want: gateway.Inbound{ProviderID: "msg-4", From: "cust-9", Text: "hi"},
		},
		{
			name: "text keeps its white space and new lines",
			body: `{"id":"msg-5","from":"cust-9","text":"  line one\nline two  "}`,
			want: gateway.Inbound{ProviderID: "msg-5", From: "cust-9", Text: "  line one\nline two  "},
		},
		{
			name: "fields at their limits",
			body: fmt.Sprintf(`{"id":%q,"from":%q,"to":%q,"text":%q,"contact_name":%q}`,
				strings.Repeat("i", gateway.MaxProviderIDLen), strings.Repeat("f", gateway.MaxAddressLen),
				strings.Repeat("t", gateway.MaxAddressLen), strings.Repeat("é", gateway.MaxTextLen),
				strings.Repeat("n", gateway.MaxContactNameLen)),
			want: gateway.Inbound{
				ProviderID: strings.Repeat("i", gateway.MaxProviderIDLen), From: strings.Repeat("f", gateway.MaxAddressLen),
				To: strings.Repeat("t", gateway.MaxAddressLen), Text: strings.Repeat("é", gateway.MaxTextLen),
				ContactName: strings.Repeat("n", gateway.MaxContactNameLen),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			type ctxKey struct{}
			var publishCtx context.Context
			pub := &testkit.Publisher{PublishFunc: func(ctx context.Context, _ ...gateway.Message) error {
				publishCtx = ctx
				return nil
			}}
			req := httptest.NewRequest(http.MethodPost, "/v1/channels/api/messages", strings.NewReader(tt.body))
			req = req.WithContext(context.WithValue(req.Context(), ctxKey{}, "request"))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			newHandler(pub).ServeHTTP(rec, req)
			resp := rec.Result()

			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("status = %d, want 202; body %s", resp.StatusCode, rec.Body)
			}
			var got api.Accepted
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
				t.Fatalf("decode 202 body: %v", err)
			}
			if got != (api.Accepted{ID: tt.want.ProviderID, Status: "accepted"}) {
				t.Errorf("202 body = %+v", got)
			}
			if publishCtx == nil || publishCtx.Value(ctxKey{}) != "request" {
				t.Error("Publish did not get the request's context")
			}

			calls, msgs := pub.Calls(), pub.Messages()
			if calls != 1 || len(msgs) != 1 {
				t.Fatalf("Publish called %d times with %d messages, want exactly one record", calls, len(msgs))
			}
			msg := msgs[0]
			wantKey := "api:" + tt.want.From
			if msg.Topic != "test.inbound" || string(msg.Key) != wantKey {
				t.Errorf("record topic %q key %q, want test.inbound %q", msg.Topic, msg.Key, wantKey)
			}
			ev, err := gateway.DecodeEvent(msg.Value)
			if err != nil {
				t.Fatalf("record is not a valid CloudEvent: %v", err)
			}
			if ev.ID != "inbound:api:"+tt.want.ProviderID || ev.Type != gateway.TypeInboundMessage ||
				ev.Source != api.EventSource || ev.Subject != wantKey || !ev.Time.Equal(now) {
				t.Errorf("envelope = %+v", ev)
			}
			var in gateway.Inbound
			if err := ev.DecodeData(&in); err != nil {
				t.Fatal(err)
			}
			want := tt.want
			want.Channel = gateway.ChannelAPI
			want.ReceivedAt = now.UTC()
			if in.ReceivedAt.Location() != time.UTC {
				t.Errorf("received_at %v is not UTC", in.ReceivedAt)
			}
			if !in.ReceivedAt.Equal(want.ReceivedAt) {
				t.Errorf("received_at = %v, want %v", in.ReceivedAt, want.ReceivedAt)
			}
			in.ReceivedAt, want.ReceivedAt = time.Time{}, time.Time{}
			if diff := cmp.Diff(want, in, testkit.ExactTime); diff != "" {
				t.Errorf("data (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRefusedRequestsPublishNothing(t *testing.T) {
	t.Parallel()
	valid := `{"id":"m","from":"c","text":"hi"}`
	tests := []struct {
		name        string
		contentType string
		body        string
		maxBytes    int64
		wantStatus  int
		wantCode    string
		wantMessage string                // substring
		wantDetails []httpapi.ErrorDetail // for 422
	}{
		{name: "no content type", body: valid, wantStatus: 415, wantCode: "unsupported_media_type"},
		{name: "form content type", contentType: "application/x-www-form-urlencoded", body: "id=m", wantStatus: 415, wantCode: "unsupported_media_type"},
		{name: "text content type", contentType: "text/plain", body: valid, wantStatus: 415, wantCode: "unsupported_media_type"},
		{name: "over the configured limit", contentType: "application/json", body: `{"id":"m","from":"c","text":"` + strings.Repeat("x", 200) + `"}`, maxBytes: 100, wantStatus: 413, wantCode: "body_too_large"},
		{name: "over the default 64 KiB", contentType: "application/json", body: `{"id":"m","from":"c","text":"` + strings.Repeat("x", 64<<10) + `"}`, wantStatus: 413, wantCode: "body_too_large", wantMessage: "65536"},
		{name: "empty body", contentType: "application/json", body: "", wantStatus: 400, wantCode: "invalid_json"},
		{name: "malformed", contentType: "application/json", body: `{"id":"m",}`, wantStatus: 400, wantCode: "invalid_json", wantMessage: "line 1, column 11"},
		{name: "number for from", contentType: "application/json", body: `{"id":"m","from":27821234567,"text":"hi"}`, wantStatus: 400, wantCode: "invalid_json", wantMessage: `field "from" must be a string`},
		{name: "object for text", contentType: "application/json", body: `{"id":"m","from":"c","text":{"body":"hi"}}`, wantStatus: 400, wantCode: "invalid_json", wantMessage: `field "text"`},
		{name: "array body", contentType: "application/json", body: `[` + valid + `]`, wantStatus: 400, wantCode: "invalid_json"},
		{name: "unknown field", contentType: "application/json", body: `{"id":"m","from":"c","text":"hi","attachments":[{"url":"x"}]}`, wantStatus: 400, wantCode: "unknown_field",
			wantMessage: `"attachments"`, wantDetails: []httpapi.ErrorDetail{{Field: "attachments", Message: "is not a field of this request"}}},
		{name: "trailing garbage", contentType: "application/json", body: valid + `,`, wantStatus: 400, wantCode: "invalid_json", wantMessage: "after the JSON object"},
		{name: "two objects", contentType: "application/json", body: valid + valid, wantStatus: 400, wantCode: "invalid_json"},
		{
			name: "all required missing", contentType: "application/json", body: `{}`,
			wantStatus: 422, wantCode: "invalid_message",
			wantDetails: []httpapi.ErrorDetail{{Field: "id", Message: "is required"}, {Field: "from", Message: "is required"}, {Field: "text", Message: "is required"}},
		},
		{
			name: "required fields null", contentType: "application/json", body: `{"id":null,"from":"c","text":null}`,
			wantStatus: 422, wantCode: "invalid_message",
			wantDetails: []httpapi.ErrorDetail{{Field: "id", Message: "is required"}, {Field: "text", Message: "is required"}},
		},
		{
			name: "every field too long", contentType: "application/json",
			body: fmt.Sprintf(`{"id":%q,"from":%q,"to":%q,"text":%q,"contact_name":%q}`,
				strings.Repeat("i", gateway.MaxProviderIDLen+1), strings.Repeat("f", gateway.MaxAddressLen+1),
				strings.Repeat("t", gateway.MaxAddressLen+1), strings.Repeat("é", gateway.MaxTextLen+1),
				strings.Repeat("n", gateway.MaxContactNameLen+1)),
			wantStatus: 422, wantCode: "invalid_message",
			wantDetails: []httpapi.ErrorDetail{
				{Field: "id", Message: "is longer than 128 characters"},
				{Field: "from", Message: "is longer than 128 characters"},
				{Field: "to", Message: "is longer than 128 characters"},
				{Field: "text", Message: "is longer than 4096 characters"},
				{Field: "contact_name", Message: "is longer than 256 characters"},
			},
		},
		{
			name: "blank and padded identifiers", contentType: "application/json", body: `{"id":"  ","from":" alice","to":"bob\n","text":"hi"}`,
			wantStatus: 422, wantCode: "invalid_message",
			wantDetails: []httpapi.ErrorDetail{
				{Field: "id", Message: "must not be blank"},
				{Field: "from", Message: "must not have leading or trailing white space"},
				{Field: "to", Message: "must not have leading or trailing white space"},
			},
		},
		{
			name: "control character in from", contentType: "application/json", body: `{"id":"m","from":"al\u0000ice","text":"hi"}`,
			wantStatus: 422, wantCode: "invalid_message",
			wantDetails: []httpapi.ErrorDetail{{Field: "from", Message: "must not contain control characters"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pub := &testkit.Publisher{}
			h := newHandler(pub)
			h.MaxBodyBytes = tt.maxBytes
			resp := post(t, h, tt.contentType, tt.body)
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			e := decodeError(t, resp)
			if e.Error.Code != tt.wantCode {
				t.Errorf("code = %q, want %q (%s)", e.Error.Code, tt.wantCode, e.Error.Message)
			}
			if !strings.Contains(e.Error.Message, tt.wantMessage) {
				t.Errorf("message = %q, want it to contain %q", e.Error.Message, tt.wantMessage)
			}
			if fmt.Sprint(e.Error.Details) != fmt.Sprint(tt.wantDetails) {
				t.Errorf("details = %+v\nwant      %+v", e.Error.Details, tt.wantDetails)
			}
			if calls, msgs := pub.Calls(), pub.Messages(); calls != 0 || len(msgs) != 0 {
				t.Errorf("a refused request published %d records in %d calls", len(msgs), calls)
			}
		})
	}
}

func TestPublishFailureIsUnavailable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
	}{
		{name: "broker down", err: fmt.Errorf("publish 1 records: %w: %w", gateway.ErrUnavailable, errors.New("dial tcp 10.0.0.7:9092: connection refused"))},
		{name: "unclassified error", err: errors.New("kafka: not enough replicas")},
		{name: "client went away", err: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pub := &testkit.Publisher{PublishFunc: func(context.Context, ...gateway.Message) error { return tt.err }}
			resp := post(t, newHandler(pub), "application/json", `{"id":"m-1","from":"c","text":"hi"}`)
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("status = %d, want 503", resp.StatusCode)
			}
			if got := resp.Header.Get("Retry-After"); got != "1" {
				t.Errorf("Retry-After = %q, want 1", got)
			}
			e := decodeError(t, resp)
			if e.Error.Code != "unavailable" {
				t.Errorf("code = %q, want unavailable", e.Error.Code)
			}
			if strings.Contains(e.Error.Message, "10.0.0.7") || strings.Contains(e.Error.Message, "replicas") {
				t.Errorf("message %q leaks the publisher's error", e.Error.Message)
			}
			if calls := pub.Calls(); calls != 1 {
				t.Errorf("Publish called %d times, want 1 (the sender retries, not the handler)", calls)
			}
		})
	}
}

func TestSameIDTwiceGivesTwoRecordsWithOneEventID(t *testing.T) {
	t.Parallel()
	// R1 dedupe happens in the worker, on the CloudEvents id: the handler
	// publishes every attempt, and both carry the same id.
	pub := &testkit.Publisher{}
	h := newHandler(pub)
	body := `{"id":"dup-1","from":"c","text":"hi"}`
	for i := range 2 {
		if resp := post(t, h, "application/json", body); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("attempt %d: status %d", i+1, resp.StatusCode)
		}
	}
	msgs := pub.Messages()
	if len(msgs) != 2 {
		t.Fatalf("%d records, want 2", len(msgs))
	}
	var ids []string
	for _, m := range msgs {
		ev, err := gateway.DecodeEvent(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ev.ID)
	}
	if ids[0] != ids[1] || ids[0] != "inbound:api:dup-1" {
		t.Errorf("event ids = %v, want both inbound:api:dup-1", ids)
	}
}

func TestMountedBehindAuthentication(t *testing.T) {
	t.Parallel()
	pub := &testkit.Publisher{}
	auth := httpapi.NewAuthenticator(map[string]httpapi.Role{
		"api-token":  httpapi.RoleAPIChannel,
		"desk-token": httpapi.RoleDesk,
	})
	srv := httpapi.New(httpapi.Config{})
	srv.Handle(api.Pattern, auth.Require(newHandler(pub), httpapi.RoleAPIChannel))

	tests := []struct {
		name       string
		method     string
		token      string
		wantStatus int
	}{
		{name: "no token", method: http.MethodPost, wantStatus: 401},
		{name: "desk token", method: http.MethodPost, token: "desk-token", wantStatus: 403},
		{name: "api token, wrong method", method: http.MethodGet, token: "api-token", wantStatus: 405},
		{name: "api token", method: http.MethodPost, token: "api-token", wantStatus: 202},
	}
	// Subtests run in order: the record count is checked after all of them.
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, "/v1/channels/api/messages", strings.NewReader(`{"id":"m","from":"c","text":"hi"}`))
			req.Header.Set("Content-Type", "application/json")
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			rec := httptest.NewRecorder()
			srv.Handler().ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d; body %s", rec.Code, tt.wantStatus, rec.Body)
			}
		})
	}
	if msgs := pub.Messages(); len(msgs) != 1 {
		t.Errorf("%d records published, want 1 (only the authorised request)", len(msgs))
	}
}

func TestLogsCarryNoAddressOrText(t *testing.T) {
	t.Parallel()
	logs := testkit.NewLogs()
	fail := true
	pub := &testkit.Publisher{PublishFunc: func(context.Context, ...gateway.Message) error {
		if fail {
			return errors.New("broker down")
		}
		return nil
	}}
	h := newHandler(pub)
	h.Logger = logs.Logger()
	body := `{"id":"m-9","from":"+27821234567","text":"my secret word is zebraquartz","contact_name":"Adalovelacy"}`
	if resp := post(t, h, "application/json", body); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status = %d, want 503", resp.StatusCode)
	}
	fail = false
	if resp := post(t, h, "application/json", body); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status = %d, want 202", resp.StatusCode)
	}
	logged := logs.String()
	if !strings.Contains(logged, "m-9") {
		t.Errorf("logs lack the message id: %s", logged)
	}
	for _, secret := range []string{"27821234567", "zebraquartz", "Adalovelacy"} {
		if strings.Contains(logged, secret) {
			t.Errorf("logs contain %q: %s", secret, logged)
		}
	}
}

func TestNilPublisherIsInternalError(t *testing.T) {
	t.Parallel()
	h := &api.Handler{Topics: topics}
	resp := post(t, h, "application/json", `{"id":"m","from":"c","text":"hi"}`)
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500", resp.StatusCode)
	}
	if e := decodeError(t, resp); e.Error.Code != "internal" {
		t.Errorf("code = %q", e.Error.Code)
	}
}

// R38: U+0000 in the text or the contact name was acknowledged with 202,
// then refused by PostgreSQL and dead-lettered: acknowledged, then lost.
// Now it is a 422 naming the field, and nothing is published.
func TestR38_NULInTextOrContactNameIsRefused(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ body, field string }{
		{`{"id":"m","from":"c","text":"a\u0000b"}`, "text"},
		{`{"id":"m","from":"c","text":"hi","contact_name":"Ada\u0000"}`, "contact_name"},
		{`{"id":"m","from":"c","text":"bell \u0007"}`, "text"},
		{`{"id":"m","from":"c","text":"hi","contact_name":"Ada\nLovelace"}`, "contact_name"},
	} {
		t.Run(tt.body, func(t *testing.T) {
			pub := &testkit.Publisher{}
			resp := post(t, newHandler(pub), "application/json", tt.body)
			if resp.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("%s: status %d, want 422", tt.body, resp.StatusCode)
			}
			if e := decodeError(t, resp); e.Error.Code != "invalid_message" || len(e.Error.Details) != 1 || e.Error.Details[0].Field != tt.field {
				t.Errorf("%s: error %+v, want invalid_message naming %s", tt.body, e.Error, tt.field)
			}
			if calls := pub.Calls(); calls != 0 {
				t.Errorf("%s: published although refused", tt.body)
			}
		})
	}
}

// R34: the API channel's "language", in any spelling NormalizeLanguage
// accepts, is carried to the record in canonical form; anything else is a
// 422 naming language.
func TestR34_LanguageIsRecordedCanonical(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"pt-br": "pt_BR", "EN": "en", " zh-hant-tw ": "zh_Hant_TW", "es_419": "es_419"} {
		t.Run(in, func(t *testing.T) {
			t.Parallel()
			pub := &testkit.Publisher{}
			body := fmt.Sprintf(`{"id":"m","from":"c","text":"hi","language":%q}`, in)
			if resp := post(t, newHandler(pub), "application/json", body); resp.StatusCode != http.StatusAccepted {
				t.Fatalf("language %q: status %d, want 202", in, resp.StatusCode)
			}
			msgs := pub.Messages()
			_, rec, err := gateway.DecodeRecord[gateway.Inbound](msgs[0].Value)
			if err != nil || rec.Language != want {
				t.Errorf("language %q recorded as %q (%v), want %q", in, rec.Language, err, want)
			}
		})
	}
	for _, bad := range []string{"english", "pt-BR-x-private", "p", "pt\u0000"} {
		t.Run(bad, func(t *testing.T) {
			t.Parallel()
			pub := &testkit.Publisher{}
			body := `{"id":"m","from":"c","text":"hi","language":` + hostileLiteral(bad) + `}`
			resp := post(t, newHandler(pub), "application/json", body)
			if resp.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("language %q: status %d, want 422", bad, resp.StatusCode)
			}
			if e := decodeError(t, resp); len(e.Error.Details) != 1 || e.Error.Details[0].Field != "language" {
				t.Errorf("language %q: details %+v, want language", bad, e.Error.Details)
			}
		})
	}
}

// R24: "type":"end_chat" is the contact ending the live chat: a record of
// kind end_chat, text optional; "message" is the default, and any other
// type is a 422 naming type.
func TestR24_EndChatEventBecomesAnEndChatRecord(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body     string
		status   int
		kind     gateway.InboundKind
		badField string
	}{
		{`{"id":"e1","from":"c","type":"end_chat"}`, http.StatusAccepted, gateway.KindEndChat, ""},
		{`{"id":"e2","from":"c","type":"end_chat","text":"bye"}`, http.StatusAccepted, gateway.KindEndChat, ""},
		{`{"id":"e3","from":"c","type":"message","text":"hi"}`, http.StatusAccepted, "", ""},
		{`{"id":"e4","from":"c","type":"message"}`, http.StatusUnprocessableEntity, "", "text"},
		{`{"id":"e5","from":"c","type":"close","text":"hi"}`, http.StatusUnprocessableEntity, "", "type"},
		{`{"id":"e6","from":"c","type":"END_CHAT"}`, http.StatusUnprocessableEntity, "", "type"},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			pub := &testkit.Publisher{}
			resp := post(t, newHandler(pub), "application/json", tt.body)
			if resp.StatusCode != tt.status {
				t.Fatalf("%s: status %d, want %d", tt.body, resp.StatusCode, tt.status)
			}
			if tt.badField != "" {
				if e := decodeError(t, resp); len(e.Error.Details) == 0 || e.Error.Details[0].Field != tt.badField {
					t.Errorf("%s: details %+v, want %s", tt.body, e.Error.Details, tt.badField)
				}
				return
			}
			msgs := pub.Messages()
			_, rec, err := gateway.DecodeRecord[gateway.Inbound](msgs[0].Value)
			if err != nil || rec.Kind != tt.kind {
				t.Errorf("%s: kind %q (%v), want %q", tt.body, rec.Kind, err, tt.kind)
			}
		})
	}
}

// hostileLiteral writes s as a JSON string.
func hostileLiteral(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

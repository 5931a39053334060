package cloudapi_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chatgate/chatgate/channels/cloudapi"
	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/testkit"
)

// recordedAt is the timestamp of every recorded webhook (1454119029).
var recordedAt = time.Date(2016, 1, 30, 1, 57, 9, 0, time.UTC)

func boolPtr(b bool) *bool { return &b }

// recordedWant is chatgate's answer to one recorded incoming case.
type recordedWant struct {
	status int
	code   string            // error code of a non-200
	fields []string          // fields a 400 must name
	in     []gateway.Inbound // inbound records stored
	st     []gateway.Status  // statuses stored
	why    string            // where chatgate differs from courier's recorded answer
}

func text(id, from, body string) gateway.Inbound {
	return gateway.Inbound{Channel: gateway.ChannelWhatsApp, ProviderID: id, From: from, To: testAddress, Kind: gateway.KindText,
		Text: body, ContactName: "Kerry Fisher", ReceivedAt: recordedAt}
}

func media(body, ref, ct, sha string) gateway.Inbound {
	in := text("external_id", "+5678", body)
	in.Kind = gateway.KindMedia
	in.Media = []gateway.Media{{URL: cloudapi.MediaRefPrefix + ref, ContentType: ct, SHA256: sha}}
	return in
}

func button(label, payload string) gateway.Inbound {
	in := text("external_id", "+5678", label)
	in.Kind, in.Button = gateway.KindButton, &gateway.Button{Text: label, Payload: payload}
	return in
}

func recordedWants() map[string]recordedWant {
	const invalid = "courier answers 200 and drops it; chatgate answers 400 so nothing malformed is acknowledged (R38), and Meta's retries end in its own dead letter"
	hello := text("external_id", "+5678", "Hello World")
	withUser := hello
	withUser.UserID = "US.1234"
	bsuid := text("external_id", "US.1234", "Hello World")
	btn := button("No", "No-Button-Payload")
	btn.ReplyTo = "gBGGFmkiWVVPAgkgQkwi7IORac0"
	loc := text("external_id", "+5678", "")
	loc.Kind = gateway.KindLocation
	loc.Location = &gateway.Location{Latitude: 0, Longitude: 1, Name: "Main Street Beach", Address: "Main Street Beach, Santa Cruz, CA"}
	unsupported := text("external_id", "+5678", "[WhatsApp: unsupported message: Message type is not currently supported (code 131051)]")
	exp := recordedAt
	sent := gateway.Status{Channel: gateway.ChannelWhatsApp, Contact: "+5678", ProviderID: "external_id", Status: gateway.StatusSent,
		ProviderStatus: "sent", At: recordedAt, Pricing: &gateway.Pricing{ConversationID: "CONVERSATION_ID", ConversationOrigin: "referral_conversion",
			ConversationExpiresAt: &exp, Billable: boolPtr(false), Model: "CBP", Category: "referral_conversion"}}
	failed := sent
	failed.Status, failed.ProviderStatus = gateway.StatusFailed, "failed"
	failed.ErrorCode, failed.ErrorMessage = "131014", "Request for url https://URL.jpg failed with error: 404 (Not Found) (Meta 131014)"
	flow := button("Sent", `{"flow_token": "fl0w+t0k3n", "first_name": "Bob", "age": "32"}`)
	return map[string]recordedWant{
		"Receive Message WAC":                                        {status: 200, in: []gateway.Inbound{hello}},
		"Receive Message WAC with user_id":                           {status: 200, in: []gateway.Inbound{withUser}, why: "the BSUID is kept as the record's user_id"},
		"Receive Message WAC with invalid user_id, no new URN added": {status: 200, in: []gateway.Inbound{hello}},
		"Receive Message WAC from BSUID with no phone":               {status: 200, in: []gateway.Inbound{bsuid}},
		"Receive Message WAC with BSUID in from":                     {status: 200, in: []gateway.Inbound{bsuid}},
		"Receive Message WAC with no from or from_user_id": {status: 400, code: cloudapi.CodeInvalidMessage,
			fields: []string{"entry[0].changes[0].value.messages[0].from"}, why: invalid},
		"Receive Duplicate Valid Message": {status: 200, in: []gateway.Inbound{hello}},
		"Receive Valid Voice Message": {status: 200, in: []gateway.Inbound{media("", "id_voice", "audio/ogg; codecs=opus",
			"fa9e1807d936b7cebe63654ea3a7912b1fa9479220258d823590521ef53b0710")}, why: "media stay at Meta, referenced by id, until the media step stores them"},
		"Receive Valid Button Message": {status: 200, in: []gateway.Inbound{btn}},
		"Receive Valid Document Message": {status: 200, in: []gateway.Inbound{media("80skaraokesonglistartist", "id_document", "application/pdf",
			"3b11fa6ef2bde1dd14726e09d3edaf782120919d06f6484f32d5d5caa4b8e")}},
		"Receive Valid Image Message": {status: 200, in: []gateway.Inbound{media("Check out my new phone!", "id_image", "image/jpeg",
			"29ed500fa64eb55fc19dc4124acb300e5dcc54a0f822a301ae99944db")}},
		"Receive Valid Video Message": {status: 200, in: []gateway.Inbound{media("Check out my new phone!", "id_video", "image/jpeg",
			"29ed500fa64eb55fc19dc4124acb300e5dcc54a0f822a301ae99944db")}},
		"Receive Valid Audio Message": {status: 200, in: []gateway.Inbound{media("Check out my new phone!", "id_audio", "image/jpeg",
			"29ed500fa64eb55fc19dc4124acb300e5dcc54a0f822a301ae99944db")}},
		"Receive Valid Location Message":     {status: 200, in: []gateway.Inbound{loc}},
		"Receive group Message WAC, ignored": {status: 200},
		"Receive Invalid JSON":               {status: 400, code: cloudapi.CodeInvalidWebhook, why: invalid},
		"Receive Invalid From": {status: 400, code: cloudapi.CodeInvalidMessage,
			fields: []string{"entry[0].changes[0].value.messages[0].from"}, why: invalid},
		"Receive Invalid Timestamp": {status: 400, code: cloudapi.CodeInvalidMessage,
			fields: []string{"entry[0].changes[0].value.messages[0].from", "entry[0].changes[0].value.messages[0].timestamp"}, why: invalid},
		"Receive Message WAC invalid signature": {status: 403, code: cloudapi.CodeInvalidSignature, why: "403, not courier's 200"},
		"Receive Message WAC with error message": {status: 200, in: []gateway.Inbound{unsupported},
			why: "the contact wrote something WhatsApp cannot show: kept as a text that says so"},
		"Receive error message":                                                {status: 200, why: "an error about the webhook itself: logged and counted, nothing to store"},
		"Receive Valid Status":                                                 {status: 200, st: []gateway.Status{sent}},
		"Receive Valid Status with error message":                              {status: 200, st: []gateway.Status{failed}},
		"Receive Invalid Status":                                               {status: 200, why: "an unknown status is skipped, not refused: a receipt is not worth holding the messages of the webhook hostage"},
		"Receive Ignore Status":                                                {status: 200},
		"Receive Valid Interactive Button Reply Message":                       {status: 200, in: []gateway.Inbound{button("Yes", "id_button_reply")}},
		"Receive Valid Interactive List Reply Message":                         {status: 200, in: []gateway.Inbound{button("Yes", "id_list_reply")}},
		"Receive Valid Interactive Flow Reply Message":                         {status: 200, in: []gateway.Inbound{flow}, why: "the flow's answers are the button's payload"},
		"Receive Interactive Flow Reply Message With Non-Object Response JSON": {status: 200, in: []gateway.Inbound{button("Sent", "")}},
	}
}

// Every recorded incoming case, posted as recorded (headers and body,
// signed with the test app secret) to the real handler.
func TestRecordedIncoming(t *testing.T) {
	t.Parallel()
	wants := recordedWants()
	cases := fixtures(t).Incoming
	if len(cases) != 29 {
		t.Fatalf("%d recorded cases, want 29", len(cases))
	}
	for _, c := range cases {
		want, ok := wants[c.Label]
		if !ok {
			t.Errorf("%s: no expectation for this recorded case", c.Label)
			continue
		}
		t.Run(c.Label, func(t *testing.T) {
			t.Parallel()
			pub := &testkit.Publisher{}
			w := newWebhooks(t, pub)
			req := httptest.NewRequest(http.MethodPost, cloudapi.WebhookPath, strings.NewReader(c.RawBody))
			for k, v := range c.Headers {
				req.Header.Set(k, v)
			}
			rec := serve(w.EventsHandler(), req)
			if rec.Code != want.status {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, want.status, rec.Body.String())
			}
			if want.status != 200 {
				e := decodeError(t, rec)
				if e.Error.Code != want.code {
					t.Errorf("error code = %q, want %q", e.Error.Code, want.code)
				}
				var got []string
				for _, d := range e.Error.Details {
					got = append(got, d.Field)
				}
				if want.fields != nil && !reflect.DeepEqual(got, want.fields) {
					t.Errorf("fields = %q, want %q", got, want.fields)
				}
				if n := len(pub.Messages()); n != 0 {
					t.Fatalf("%d records published for a %d", n, rec.Code)
				}
				return
			}
			ins, sts := decoded(t, pub.Messages())
			if diff := cmp.Diff(want.in, ins, testkit.ExactTime); diff != "" {
				t.Errorf("inbound (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(want.st, sts, testkit.ExactTime); diff != "" {
				t.Errorf("statuses (-want +got):\n%s", diff)
			}
		})
	}
}

// The recorded signature vectors, and Sign agreeing with the signatures
// recomputed independently for the test app secret.
func TestSignatureVectors(t *testing.T) {
	t.Parallel()
	r := fixtures(t)
	for _, v := range r.SignatureVectors {
		if got := cloudapi.Sign(v.AppSecret, []byte(v.Body)); got != "sha256="+v.Expected {
			t.Errorf("Sign(%q) = %s, want sha256=%s", v.Body, got, v.Expected)
		}
		if err := cloudapi.VerifySignature(v.AppSecret, []byte(v.Body), "sha256="+v.Expected); err != nil {
			t.Errorf("vector %q: %v", v.Body, err)
		}
	}
	for _, c := range r.Incoming {
		if c.Signature != "valid" {
			continue
		}
		if got := cloudapi.Sign(testAppSecret, []byte(c.RawBody)); got != c.Headers[cloudapi.HeaderSignature] {
			t.Errorf("%s: Sign = %s, recomputed %s", c.Label, got, c.Headers[cloudapi.HeaderSignature])
		}
	}
}

// R50: a webhook whose X-Hub-Signature-256 is missing, malformed, made
// with another secret or over another body is refused with 403 and
// nothing is published; a replayed one is accepted again with the same
// event ids, so it is stored once.
func TestR50_SignedWebhooksOnly(t *testing.T) {
	t.Parallel()
	body := webhook(messageValue(`{"from":"27821234567","id":"wamid.SIG1","timestamp":"1700000000","type":"text","text":{"body":"hi"}}`))
	other := strings.Replace(body, `"hi"`, `"hI"`, 1)
	cases := []struct {
		name   string
		header string
		body   string
		want   error
	}{
		{"missing", "", body, cloudapi.ErrSignatureMissing},
		{"no prefix", strings.TrimPrefix(cloudapi.Sign(testAppSecret, []byte(body)), "sha256="), body, cloudapi.ErrSignatureMalformed},
		{"sha1 prefix", "sha1=" + strings.TrimPrefix(cloudapi.Sign(testAppSecret, []byte(body)), "sha256="), body, cloudapi.ErrSignatureMalformed},
		{"not hex", "sha256=" + strings.Repeat("zz", 32), body, cloudapi.ErrSignatureMalformed},
		{"truncated", cloudapi.Sign(testAppSecret, []byte(body))[:70], body, cloudapi.ErrSignatureMalformed},
		{"other secret", cloudapi.Sign("not-the-secret", []byte(body)), body, cloudapi.ErrSignatureMismatch},
		{"other body", cloudapi.Sign(testAppSecret, []byte(other)), body, cloudapi.ErrSignatureMismatch},
		{"upper-case hex", "sha256=" + strings.ToUpper(strings.TrimPrefix(cloudapi.Sign(testAppSecret, []byte(body)), "sha256=")), body, nil},
		{"valid", cloudapi.Sign(testAppSecret, []byte(body)), body, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if err := cloudapi.VerifySignature(testAppSecret, []byte(tc.body), tc.header); !errors.Is(err, tc.want) {
				t.Fatalf("VerifySignature = %v, want %v", err, tc.want)
			}
			pub := &testkit.Publisher{}
			req := httptest.NewRequest(http.MethodPost, cloudapi.WebhookPath, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			if tc.header != "" {
				req.Header.Set(cloudapi.HeaderSignature, tc.header)
			}
			rec := serve(newWebhooks(t, pub).EventsHandler(), req)
			if tc.want != nil {
				if rec.Code != http.StatusForbidden || decodeError(t, rec).Error.Code != cloudapi.CodeInvalidSignature {
					t.Fatalf("answer %d %s, want 403 invalid_signature", rec.Code, rec.Body.String())
				}
				if len(pub.Messages()) != 0 {
					t.Fatal("a record was published for a refused signature")
				}
				return
			}
			if rec.Code != http.StatusOK || len(pub.Messages()) != 1 {
				t.Fatalf("answer %d %s with %d records, want 200 and 1", rec.Code, rec.Body.String(), len(pub.Messages()))
			}
		})
	}

	t.Run("replayed", func(t *testing.T) {
		t.Parallel()
		pub := &testkit.Publisher{}
		h := newWebhooks(t, pub).EventsHandler()
		for i := range 2 {
			if rec := serve(h, post(body)); rec.Code != http.StatusOK {
				t.Fatalf("delivery %d: %d %s", i+1, rec.Code, rec.Body.String())
			}
		}
		msgs := pub.Messages()
		if len(msgs) != 2 {
			t.Fatalf("%d records, want one per delivery", len(msgs))
		}
		ins, _ := decoded(t, msgs)
		if ins[0].EventID() != ins[1].EventID() || ins[0].EventID() != "inbound:whatsapp:wamid.SIG1" {
			t.Fatalf("event ids %q and %q: a replay must carry the same id, so the worker stores it once", ins[0].EventID(), ins[1].EventID())
		}
	})
}

// R50: the GET verification handshake echoes hub.challenge as text/plain
// for the configured verify token only.
func TestR50_VerificationHandshake(t *testing.T) {
	t.Parallel()
	w := newWebhooks(t, &testkit.Publisher{})
	cases := []struct {
		name   string
		query  url.Values
		status int
		code   string
	}{
		{"valid", url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {testVerifyToken}, "hub.challenge": {"1158201444"}}, 200, ""},
		{"wrong token", url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {"guess"}, "hub.challenge": {"1158201444"}}, 403, cloudapi.CodeInvalidVerifyToken},
		{"token prefix", url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {testVerifyToken[:5]}, "hub.challenge": {"1"}}, 403, cloudapi.CodeInvalidVerifyToken},
		{"no token", url.Values{"hub.mode": {"subscribe"}, "hub.challenge": {"1158201444"}}, 403, cloudapi.CodeInvalidVerifyToken},
		{"other mode", url.Values{"hub.mode": {"unsubscribe"}, "hub.verify_token": {testVerifyToken}, "hub.challenge": {"1"}}, 400, cloudapi.CodeInvalidHandshake},
		{"no challenge", url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {testVerifyToken}}, 400, cloudapi.CodeInvalidHandshake},
		{"markup challenge", url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {testVerifyToken}, "hub.challenge": {"<script> alert(1)</script>"}}, 400, cloudapi.CodeInvalidHandshake},
		{"huge challenge", url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {testVerifyToken}, "hub.challenge": {strings.Repeat("9", 257)}}, 400, cloudapi.CodeInvalidHandshake},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := serve(w.VerifyHandler(), httptest.NewRequest(http.MethodGet, cloudapi.WebhookPath+"?"+tc.query.Encode(), nil))
			if rec.Code != tc.status {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tc.status, rec.Body.String())
			}
			if tc.status != 200 {
				if got := decodeError(t, rec).Error.Code; got != tc.code {
					t.Fatalf("code = %q, want %q", got, tc.code)
				}
				return
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") || rec.Body.String() != tc.query.Get("hub.challenge") {
				t.Fatalf("answer %q (%s), want the challenge as text/plain", rec.Body.String(), ct)
			}
		})
	}
}

// The POST is answered 200 only once the publisher acknowledged, and 503
// (with nothing acknowledged) when it failed, so Meta retries; a webhook
// Meta hangs up on is still written.
func TestWebhookAnsweredAfterPublish(t *testing.T) {
	t.Parallel()
	body := webhook(messageValue(`{"from":"27821234567","id":"wamid.ACK1","timestamp":"1700000000","type":"text","text":{"body":"hi"}}`))

	t.Run("publish fails", func(t *testing.T) {
		t.Parallel()
		pub := &testkit.Publisher{PublishFunc: func(context.Context, ...gateway.Message) error { return errors.New("broker down") }}
		rec := serve(newWebhooks(t, pub).EventsHandler(), post(body))
		if rec.Code != http.StatusServiceUnavailable || decodeError(t, rec).Error.Code != "unavailable" || rec.Header().Get("Retry-After") == "" {
			t.Fatalf("answer %d %s, want 503 unavailable with Retry-After", rec.Code, rec.Body.String())
		}
	})
	t.Run("client gone", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		pub := &testkit.Publisher{PublishFunc: func(pctx context.Context, _ ...gateway.Message) error {
			cancel() // Meta hangs up while the record is on its way
			return pctx.Err()
		}}
		rec := serve(newWebhooks(t, pub).EventsHandler(), post(body).WithContext(ctx))
		if rec.Code != http.StatusOK || len(pub.Messages()) != 1 {
			t.Fatalf("answer %d with %d records: the write must not end with the request", rec.Code, len(pub.Messages()))
		}
	})
	t.Run("template update not applied", func(t *testing.T) {
		t.Parallel()
		pub := &testkit.Publisher{}
		w := newWebhooks(t, pub, func(o *cloudapi.WebhookOptions) {
			o.TemplateStatus = func(context.Context, []cloudapi.TemplateStatusUpdate) error { return errors.New("database down") }
		})
		rec := serve(w.EventsHandler(), post(templateUpdate("APPROVED", "NONE")))
		if rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("answer %d %s, want 503", rec.Code, rec.Body.String())
		}
	})
}

func templateUpdate(event, reason string) string {
	return `{"object":"whatsapp_business_account","entry":[{"id":"8856996819413533","time":1700000000,"changes":[{"field":"message_template_status_update",` +
		`"value":{"event":"` + event + `","message_template_id":1234567890123,"message_template_name":"order_shipped","message_template_language":"en_US","reason":"` + reason + `"}}]}]}`
}

package twilio_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/chatgate/chatgate/channels/twilio"
	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/hostile"
	"github.com/chatgate/chatgate/gateway/testkit"
)

const (
	sid1 = "SMe287d7109a5a925f182f0e07fe5b223b"
	sid2 = "SMbbf29aeb9d380ce2a1c0ae4635ff9dab"
	sid3 = "SM681a1f26d9ec591431ce406e8f399525"
	sid4 = "SM0b6e2697aae04182a9f5b5c7a8994c7f"
	// base64Body is courier's "Receive Base64" body. Courier guesses that it
	// is base64 and decodes it; chatgate keeps what the contact sent.
	base64Body = "QmFubm9uIEV4cGxhaW5zIFRoZSBXb3JsZCAuLi4K4oCcVGhlIENhbXAgb2YgdGhlIFNhaW50c+KA"
)

// recordedWant is chatgate's answer to one recorded incoming case.
type recordedWant struct {
	status int
	code   string           // error code of a non-200
	in     *gateway.Inbound // the record of a stored message (ReceivedAt filled in)
	st     *gateway.Status  // the record of a stored status (At filled in)
	why    string           // where chatgate differs from courier's recorded answer
}

func sms(sid, from, to, text string) *gateway.Inbound {
	return &gateway.Inbound{Channel: gateway.ChannelSMS, ProviderID: sid, From: from, To: to, Text: text}
}

func wa(sid, from, to, text string) *gateway.Inbound {
	return &gateway.Inbound{Channel: gateway.ChannelWhatsApp, ProviderID: sid, From: from, To: to, Text: text}
}

func withMedia(in *gateway.Inbound, urls ...string) *gateway.Inbound {
	in.Kind = gateway.KindMedia
	for _, u := range urls {
		in.Media = append(in.Media, gateway.Media{URL: u})
	}
	return in
}

// recordedWants maps "group / label" (" #2" for a repeated label) of every
// recorded incoming case to chatgate's answer.
func recordedWants() map[string]recordedWant {
	const (
		noTo      = "courier's recorded form has no To, which every real status callback carries; the status topic is keyed by the contact, so chatgate refuses it"
		forbidden = "chatgate answers a missing or wrong signature with 403, courier with 400"
		noParams  = "a form without MessageSid is not a Twilio webhook; courier ignores it with 200"
	)
	stop := &gateway.Status{Channel: gateway.ChannelSMS, Contact: "+12028831111", ProviderID: sid1,
		Status: gateway.StatusFailed, ProviderStatus: "failed", ErrorCode: "21610", ErrorMessage: twilio.Reason(21610)}
	want := map[string]recordedWant{}
	for _, g := range []string{"T", "TMS", "TW"} {
		want[g+" / Receive Valid"] = recordedWant{status: 200, in: sms(sid1, "+14133881111", "+12028831111", "Msg")}
		want[g+" / Receive Invalid Signature"] = recordedWant{status: 403, code: "invalid_signature", why: forbidden}
		want[g+" / Receive Missing Signature"] = recordedWant{status: 403, code: "invalid_signature", why: forbidden}
		want[g+" / Receive No Params"] = recordedWant{status: 400, code: "invalid_form"}
		want[g+" / Receive Media"] = recordedWant{status: 200, in: withMedia(sms(sid1, "+14133881111", "+12028831111", ""), "cat.jpg", "dog.jpg")}
		want[g+" / Receive Media With Msg"] = recordedWant{status: 200, in: withMedia(sms(sid1, "+14133881111", "+12028831111", "Msg"), "cat.jpg", "dog.jpg")}
		want[g+" / Receive Base64"] = recordedWant{status: 200, in: sms(sid1, "+14133881111", "+12028831111", base64Body),
			why: "the body is kept as sent; courier decodes what looks like base64"}
		want[g+" / Status Stop contact"] = recordedWant{status: 200, st: stop}
		want[g+" / Status No Params"] = recordedWant{status: 400, code: "invalid_form", why: noParams}
		want[g+" / Status Invalid Status"] = recordedWant{status: 400, code: "unknown_status"}
		for _, l := range []string{"Status Valid", "Status ID Valid", "Status ID Invalid"} {
			want[g+" / "+l] = recordedWant{status: 400, code: "invalid_form", why: noTo}
		}
	}
	want["T / Status Read"] = recordedWant{status: 400, code: "invalid_form", why: noTo}
	want["T / Receive Button Ignored"] = recordedWant{status: 200, in: sms(sid1, "+14133881111", "+12028831111", "Msg")}
	want["TMS / Receive TMS extra"] = recordedWant{status: 200, in: sms(sid2, "+14133881111", "384387", "John Cruz")}
	want["TMS / Status TMS extra"] = recordedWant{status: 200, st: &gateway.Status{Channel: gateway.ChannelSMS, Contact: "2021",
		ProviderID: sid4, Status: gateway.StatusSent, ProviderStatus: "sent"}}
	want["TW / Receive Forwarded Valid"] = recordedWant{status: 403, code: "invalid_signature",
		why: "signed for the X-Forwarded-Path URL, which counts only with TrustForwarded (see TestForwardedHeaders)"}
	want["T-whatsapp / Receive Valid"] = recordedWant{status: 200, in: wa(sid1, "+14133881111", "+12028831111", "Msg")}
	want["TWA / Receive Valid"] = recordedWant{status: 200, in: wa(sid1, "+14133881111", "+12028831111", "Msg")}
	want["TWA / Receive BSUID Valid"] = recordedWant{status: 200, in: wa(sid1, "+14133881111", "+12028831111", "Msg"),
		why: "ExternalUserId (the business-scoped user id) is not recorded: the contact is the phone number"}
	want["TWA / Receive From BSUID with no phone"] = recordedWant{status: 200, in: wa(sid1, "US.1234", "+12028831111", "Msg")}
	want["TWA / Receive with invalid ExternalUserId, no new URN added"] = recordedWant{status: 200, in: wa(sid1, "+14133881111", "+12028831111", "Msg")}
	btn := wa(sid1, "+14133881111", "+12028831111", "Confirm")
	btn.Kind, btn.Button = gateway.KindButton, &gateway.Button{Text: "Confirm"}
	want["TWA / Receive Valid #2"] = recordedWant{status: 200, in: btn}
	want["TWA / Receive Prefixless URN"] = recordedWant{status: 200, in: sms(sid3, "+14133881111", "+12028831111", "Msg"),
		why: "one webhook URL serves both channels, so an address without whatsapp: is SMS, as Twilio means it"}
	want["TWA / Status No Params"] = recordedWant{status: 400, code: "invalid_form", why: noParams}
	want["TWA / Status Invalid Status"] = recordedWant{status: 400, code: "unknown_status"}
	for _, l := range []string{"Status Valid", "Status ID Valid", "Status ID Rate limit", "Status ID Invalid"} {
		want["TWA / "+l] = recordedWant{status: 400, code: "invalid_form", why: noTo}
	}
	return want
}

// Every recorded incoming Twilio case, posted as recorded (path, headers,
// body, signature) to the handler its path names, with the public URL the
// signatures were made for.
func TestRecordedIncoming(t *testing.T) {
	t.Parallel()
	wants := recordedWants()
	seen := map[string]int{}
	for _, c := range fixtures(t).Incoming {
		key := c.Group + " / " + c.Label
		if seen[key]++; seen[key] > 1 {
			key += fmt.Sprintf(" #%d", seen[key])
		}
		want, ok := wants[key]
		if !ok {
			t.Errorf("%s: no expectation for this recorded case", key)
			continue
		}
		delete(wants, key)
		t.Run(key, func(t *testing.T) {
			t.Parallel()
			pub := &testkit.Publisher{}
			w := newWebhooks(t, testConfig("https://localhost"), pub)
			h := w.MessagesHandler()
			if strings.Contains(c.Path, "/status") {
				h = w.StatusHandler()
			}
			req := httptest.NewRequest(c.Method, c.Path, strings.NewReader(c.RawBody))
			for k, v := range c.Headers {
				req.Header.Set(k, v)
			}
			rec := serve(h, req)
			if rec.Code != want.status {
				t.Fatalf("status %d, want %d (%s); body %s", rec.Code, want.status, want.why, rec.Body.String())
			}
			msgs := pub.Messages()
			if want.status != http.StatusOK {
				if e := decodeError(t, rec); e.Error.Code != want.code {
					t.Errorf("code %q, want %q: %s", e.Error.Code, want.code, e.Error.Message)
				}
				if len(msgs) != 0 {
					t.Errorf("%d records published for a refused request", len(msgs))
				}
				return
			}
			checkTwiML(t, rec)
			if len(msgs) != 1 {
				t.Fatalf("%d records published, want 1", len(msgs))
			}
			switch {
			case want.in != nil:
				exp := *want.in
				exp.ReceivedAt = now.UTC()
				if diff := cmp.Diff(exp, decodeInbound(t, msgs[0]), testkit.ExactTime); diff != "" {
					t.Errorf("inbound (-want +got):\n%s", diff)
				}
			case want.st != nil:
				exp := *want.st
				exp.At = now.UTC()
				if diff := cmp.Diff(exp, decodeStatus(t, msgs[0]), testkit.ExactTime); diff != "" {
					t.Errorf("status (-want +got):\n%s", diff)
				}
			}
		})
	}
	for key := range wants {
		t.Errorf("%s: expected but not in testdata", key)
	}
}

const public = "https://chat.example.com"

// messageForm is the form of an incoming SMS as Twilio sends it.
func messageForm(kv ...string) url.Values {
	form := url.Values{
		"ToCountry": {"US"}, "ToState": {"DC"}, "SmsMessageSid": {sid1}, "NumMedia": {"0"}, "SmsSid": {sid1},
		"SmsStatus": {"received"}, "Body": {"Hello"}, "FromCountry": {"US"}, "To": {"+12028831111"},
		"NumSegments": {"1"}, "MessageSid": {sid1}, "AccountSid": {testAccountSID}, "From": {"+14133881111"},
		"ApiVersion": {"2010-04-01"},
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			form.Del(kv[i])
		} else {
			form.Set(kv[i], kv[i+1])
		}
	}
	return form
}

// Message kinds beyond the recorded cases: MMS with content types,
// WhatsApp media, buttons with payloads, locations, replies, profile names,
// number formats.
func TestMessages_Kinds(t *testing.T) {
	t.Parallel()
	img := func(in *gateway.Inbound) *gateway.Inbound {
		in.Kind = gateway.KindMedia
		in.Media = []gateway.Media{
			{URL: "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1", ContentType: "image/jpeg"},
			{URL: "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME2", ContentType: "application/pdf"},
		}
		return in
	}
	tests := []struct {
		name string
		form url.Values
		want *gateway.Inbound
	}{
		{"sms text", messageForm(), sms(sid1, "+14133881111", "+12028831111", "Hello")},
		{"mms with content types", messageForm("NumMedia", "2", "Body", "see attached",
			"MediaUrl0", "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1", "MediaContentType0", "image/jpeg",
			"MediaUrl1", "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME2", "MediaContentType1", "application/pdf"),
			img(sms(sid1, "+14133881111", "+12028831111", "see attached"))},
		{"whatsapp with profile name", messageForm("From", "whatsapp:+14133881111", "To", "whatsapp:+12028831111", "ProfileName", "Ada Lovelace"),
			func() *gateway.Inbound {
				in := wa(sid1, "+14133881111", "+12028831111", "Hello")
				in.ContactName = "Ada Lovelace"
				return in
			}()},
		{"whatsapp button with payload", messageForm("From", "whatsapp:+14133881111", "To", "whatsapp:+12028831111",
			"Body", "Yes, confirm", "ButtonText", "Yes, confirm", "ButtonPayload", "confirm_order_42"),
			func() *gateway.Inbound {
				in := wa(sid1, "+14133881111", "+12028831111", "Yes, confirm")
				in.Kind, in.Button = gateway.KindButton, &gateway.Button{Text: "Yes, confirm", Payload: "confirm_order_42"}
				return in
			}()},
		{"whatsapp location", messageForm("From", "whatsapp:+14133881111", "To", "whatsapp:+12028831111", "Body", "",
			"Latitude", "-33.9249", "Longitude", "18.4241", "Label", "Office", "Address", "1 Main Rd, Cape Town"),
			func() *gateway.Inbound {
				in := wa(sid1, "+14133881111", "+12028831111", "")
				in.Kind = gateway.KindLocation
				in.Location = &gateway.Location{Latitude: -33.9249, Longitude: 18.4241, Name: "Office", Address: "1 Main Rd, Cape Town"}
				return in
			}()},
		{"whatsapp reply to a message", messageForm("From", "whatsapp:+14133881111", "To", "whatsapp:+12028831111", "OriginalRepliedMessageSid", sid2),
			func() *gateway.Inbound {
				in := wa(sid1, "+14133881111", "+12028831111", "Hello")
				in.ReplyTo = sid2
				return in
			}()},
		{"formatted number normalized to E.164", messageForm("From", "+1 (413) 388-1111"), sms(sid1, "+14133881111", "+12028831111", "Hello")},
		{"long profile name truncated", messageForm("From", "whatsapp:+14133881111", "To", "whatsapp:+12028831111", "ProfileName", strings.Repeat("é", 300)),
			func() *gateway.Inbound {
				in := wa(sid1, "+14133881111", "+12028831111", "Hello")
				in.ContactName = strings.Repeat("é", gateway.MaxContactNameLen)
				return in
			}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pub := &testkit.Publisher{}
			rec := serve(newWebhooks(t, testConfig(public), pub).MessagesHandler(), signedRequest(public, twilio.MessagesPath, tt.form))
			checkTwiML(t, rec)
			msgs := pub.Messages()
			if len(msgs) != 1 {
				t.Fatalf("%d records, want 1", len(msgs))
			}
			want := *tt.want
			want.ReceivedAt = now.UTC()
			if diff := cmp.Diff(want, decodeInbound(t, msgs[0]), testkit.ExactTime); diff != "" {
				t.Errorf("inbound (-want +got):\n%s", diff)
			}
		})
	}
}

// Requests that are not a Twilio webhook are refused with the fitting
// status and code, and nothing is published.
func TestMessages_Refused(t *testing.T) {
	t.Parallel()
	signed := func(form url.Values) func() *http.Request {
		return func() *http.Request { return signedRequest(public, twilio.MessagesPath, form) }
	}
	tests := []struct {
		name   string
		req    func() *http.Request
		status int
		code   string
		field  string
	}{
		{"missing signature", func() *http.Request {
			r := signedRequest(public, twilio.MessagesPath, messageForm())
			r.Header.Del(twilio.HeaderSignature)
			return r
		}, 403, "invalid_signature", ""},
		{"signature of another account", func() *http.Request {
			r := signedRequest(public, twilio.MessagesPath, messageForm())
			r.Header.Set(twilio.HeaderSignature, sign("0ther", public+twilio.MessagesPath, messageForm()))
			return r
		}, 403, "invalid_signature", ""},
		{"signed for another URL", func() *http.Request {
			r := signedRequest("https://evil.example.com", twilio.MessagesPath, messageForm())
			return r
		}, 403, "invalid_signature", ""},
		{"malformed form", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, twilio.MessagesPath, strings.NewReader("MessageSid=%zz&From=%2B1"))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Header.Set(twilio.HeaderSignature, "c29tZXRoaW5n")
			return r
		}, 400, "invalid_form", ""},
		{"JSON body", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, twilio.MessagesPath, strings.NewReader(`{"MessageSid":"SM1"}`))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set(twilio.HeaderSignature, "c29tZXRoaW5n")
			return r
		}, 415, "unsupported_media_type", ""},
		{"oversized body, declared", func() *http.Request {
			return signedRequest(public, twilio.MessagesPath, messageForm("Body", strings.Repeat("x", 70<<10)))
		}, 413, "body_too_large", ""},
		{"oversized body, streamed", func() *http.Request {
			r := signedRequest(public, twilio.MessagesPath, messageForm("Body", strings.Repeat("x", 70<<10)))
			r.ContentLength = -1
			return r
		}, 413, "body_too_large", ""},
		{"no MessageSid", signed(messageForm("MessageSid", "")), 400, "invalid_form", "MessageSid"},
		{"no From", signed(messageForm("From", "")), 400, "invalid_form", "From"},
		{"From not a number", signed(messageForm("From", "+1-800-FLOWERS")), 400, "invalid_form", "From"},
		{"unsupported channel", signed(messageForm("From", "messenger:12345", "To", "messenger:678")), 400, "invalid_form", "From"},
		{"To and From on different channels", signed(messageForm("To", "whatsapp:+12028831111")), 400, "invalid_form", "To"},
		{"NumMedia not a count", signed(messageForm("NumMedia", "two")), 400, "invalid_form", "NumMedia"},
		{"NumMedia too large", signed(messageForm("NumMedia", "11")), 400, "invalid_form", "NumMedia"},
		{"media URL missing", signed(messageForm("NumMedia", "1")), 400, "invalid_form", "MediaUrl0"},
		{"empty message", signed(messageForm("Body", "")), 400, "invalid_message", ""},
		{"text too long", signed(messageForm("Body", strings.Repeat("y", gateway.MaxTextLen+1))), 400, "invalid_message", ""},
		{"Body not UTF-8", signed(messageForm("Body", "a\xffb")), 400, "invalid_form", "Body"},
		{"Body only a NUL", signed(messageForm("Body", "\x00")), 400, "invalid_message", "Body"},
		{"MessageSid with a NUL", signed(messageForm("MessageSid", "SM\x001")), 400, "invalid_message", "MessageSid"},
		{"From of 40 digits", signed(messageForm("From", strings.Repeat("1234567890", 4))), 400, "invalid_form", "From"},
		{"From in fullwidth digits", signed(messageForm("From", "+２７８２１２３４５６７")), 400, "invalid_form", "From"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pub := &testkit.Publisher{}
			rec := serve(newWebhooks(t, testConfig(public), pub).MessagesHandler(), tt.req())
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tt.status, rec.Body.String())
			}
			e := decodeError(t, rec)
			if e.Error.Code != tt.code {
				t.Errorf("code %q, want %q (%s)", e.Error.Code, tt.code, e.Error.Message)
			}
			if tt.field != "" && (len(e.Error.Details) == 0 || e.Error.Details[0].Field != tt.field) {
				t.Errorf("details %+v, want field %s", e.Error.Details, tt.field)
			}
			if n := len(pub.Messages()); n != 0 {
				t.Errorf("%d records published for a refused request", n)
			}
		})
	}
}

// Behind a proxy: the signature is checked against the URL Twilio called,
// which the X-Forwarded-* headers describe only if they are trusted.
func TestForwardedHeaders(t *testing.T) {
	t.Parallel()
	form := messageForm()
	type hdrs map[string]string
	tests := []struct {
		name      string
		publicURL string
		trust     bool
		signedFor string // the URL Twilio called
		headers   hdrs
		target    string // what reaches chatgate
		ok        bool
	}{
		{"public URL with path prefix, proxy strips it", "https://gw.example.com/chat", false,
			"https://gw.example.com/chat" + twilio.MessagesPath, nil, twilio.MessagesPath, true},
		{"proto and host trusted", "http://localhost:8080", true,
			"https://chat.example.com" + twilio.MessagesPath, hdrs{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "chat.example.com"}, twilio.MessagesPath, true},
		{"proto and host not trusted", "http://localhost:8080", false,
			"https://chat.example.com" + twilio.MessagesPath, hdrs{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "chat.example.com"}, twilio.MessagesPath, false},
		{"forged headers not trusted: the public URL counts", public, false,
			public + twilio.MessagesPath, hdrs{"X-Forwarded-Host": "evil.example.com"}, twilio.MessagesPath, true},
		{"first of chained values", "http://localhost:8080", true,
			"https://chat.example.com" + twilio.MessagesPath, hdrs{"X-Forwarded-Proto": "https, http", "X-Forwarded-Host": "chat.example.com, lb.internal"}, twilio.MessagesPath, true},
		{"prefix trusted", public, true,
			public + "/chatgate" + twilio.MessagesPath, hdrs{"X-Forwarded-Prefix": "/chatgate"}, twilio.MessagesPath, true},
		{"path trusted, query kept", public, true,
			public + "/hooks/sms?tenant=7", hdrs{"X-Forwarded-Path": "/hooks/sms"}, twilio.MessagesPath + "?tenant=7", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(tt.publicURL)
			cfg.TrustForwarded = tt.trust
			pub := &testkit.Publisher{}
			req := httptest.NewRequest(http.MethodPost, tt.target, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set(twilio.HeaderSignature, sign(testAuthToken, tt.signedFor, form))
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			rec := serve(newWebhooks(t, cfg, pub).MessagesHandler(), req)
			if got := rec.Code == http.StatusOK; got != tt.ok {
				t.Fatalf("status %d; body %s", rec.Code, rec.Body.String())
			}
			if want := map[bool]int{true: 1, false: 0}[tt.ok]; len(pub.Messages()) != want {
				t.Errorf("%d records, want %d", len(pub.Messages()), want)
			}
		})
	}

	// The recorded forwarded case: signed for its X-Forwarded-Path URL.
	for _, c := range fixtures(t).Incoming {
		if c.Label != "Receive Forwarded Valid" {
			continue
		}
		for _, trust := range []bool{false, true} {
			cfg := testConfig("https://localhost")
			cfg.TrustForwarded = trust
			req := httptest.NewRequest(c.Method, c.Path, strings.NewReader(c.RawBody))
			for k, v := range c.Headers {
				req.Header.Set(k, v)
			}
			rec := serve(newWebhooks(t, cfg, &testkit.Publisher{}).MessagesHandler(), req)
			if want := map[bool]int{true: 200, false: 403}[trust]; rec.Code != want {
				t.Errorf("recorded forwarded case, trust %v: status %d, want %d", trust, rec.Code, want)
			}
		}
	}
}

// The webhook is answered 200 only after Publish returned nil; a failed
// publish is a 503 with Retry-After, so Twilio can retry.
func TestMessages_PublishFailureIs503(t *testing.T) {
	t.Parallel()
	for _, hook := range []string{"messages", "status"} {
		pub := &testkit.Publisher{PublishFunc: func(context.Context, ...gateway.Message) error {
			return fmt.Errorf("kafka: %w", gateway.ErrUnavailable)
		}}
		w := newWebhooks(t, testConfig(public), pub)
		h, req := w.MessagesHandler(), signedRequest(public, twilio.MessagesPath, messageForm())
		if hook == "status" {
			h, req = w.StatusHandler(), signedRequest(public, twilio.StatusPath, statusForm("delivered"))
		}
		rec := serve(h, req)
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
			t.Fatalf("%s: status %d Retry-After %q, want 503 with Retry-After", hook, rec.Code, rec.Header().Get("Retry-After"))
		}
		if e := decodeError(t, rec); e.Error.Code != "unavailable" {
			t.Errorf("%s: code %q, want unavailable", hook, e.Error.Code)
		}
		if strings.Contains(rec.Body.String(), "<Response") {
			t.Errorf("%s: a failed publish answered with TwiML", hook)
		}
	}
}

// Twilio hanging up mid-request does not abort the hand-off to Kafka: a
// message whose publish has begun is stored, not lost with the connection.
func TestMessages_PublishOutlivesTheCaller(t *testing.T) {
	t.Parallel()
	ctx, hangUp := context.WithCancel(context.Background())
	var publishCtxErr error
	pub := &testkit.Publisher{PublishFunc: func(ctx context.Context, _ ...gateway.Message) error {
		hangUp() // Twilio gives up while the record is on its way
		publishCtxErr = ctx.Err()
		return ctx.Err()
	}}
	req := signedRequest(public, twilio.MessagesPath, messageForm()).WithContext(ctx)
	rec := serve(newWebhooks(t, testConfig(public), pub).MessagesHandler(), req)
	if publishCtxErr != nil || rec.Code != http.StatusOK {
		t.Fatalf("publish context ended with the request (%v); status %d", publishCtxErr, rec.Code)
	}
}

// Identical webhooks arriving together (Twilio's retry racing the
// original) are each answered 200 and published with one CloudEvent id,
// the MessageSid's, so the worker stores one message (R1).
func TestR1_ConcurrentDuplicateWebhooksShareOneEventID(t *testing.T) {
	t.Parallel()
	pub := &testkit.Publisher{}
	h := newWebhooks(t, testConfig(public), pub).MessagesHandler()
	const n = 20
	form := messageForm()
	codes := make([]int, n)
	var start, done sync.WaitGroup
	start.Add(1)
	for i := range n {
		done.Add(1)
		go func() {
			defer done.Done()
			req := signedRequest(public, twilio.MessagesPath, form)
			start.Wait()
			codes[i] = serve(h, req).Code
		}()
	}
	start.Done()
	done.Wait()
	for i, c := range codes {
		if c != http.StatusOK {
			t.Errorf("request %d: status %d, want 200", i, c)
		}
	}
	msgs := pub.Messages()
	if len(msgs) != n {
		t.Fatalf("%d records, want %d (one per request; the worker dedupes)", len(msgs), n)
	}
	ids := map[string]bool{}
	for _, m := range msgs {
		ev, err := gateway.DecodeEvent(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		ids[ev.ID] = true
		if string(m.Key) != "sms:+14133881111" {
			t.Errorf("key %q, want the contact", m.Key)
		}
	}
	if len(ids) != 1 || !ids["inbound:sms:"+sid1] {
		t.Errorf("event ids %v, want only inbound:sms:%s", ids, sid1)
	}
}

// statusForm is a status callback as Twilio sends it for an SMS.
func statusForm(status string, kv ...string) url.Values {
	form := url.Values{
		"SmsSid": {sid1}, "SmsStatus": {status}, "MessageStatus": {status}, "To": {"+14133881111"},
		"MessageSid": {sid1}, "AccountSid": {testAccountSID}, "From": {"+12028831111"}, "ApiVersion": {"2010-04-01"},
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			form.Del(kv[i])
		} else {
			form.Set(kv[i], kv[i+1])
		}
	}
	return form
}

// Every MessageStatus Twilio documents maps onto a delivery state, with
// Twilio's word and error code kept; the request id comes from the
// callback URL the Provider set.
func TestStatus_EveryMessageStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status  string
		want    gateway.DeliveryStatus
		errCode string
		errMsg  string
	}{
		{"accepted", gateway.StatusQueued, "", ""},
		{"scheduled", gateway.StatusQueued, "", ""},
		{"queued", gateway.StatusQueued, "", ""},
		{"sending", gateway.StatusSending, "", ""},
		{"sent", gateway.StatusSent, "", ""},
		{"partially_delivered", gateway.StatusSent, "", ""},
		{"delivered", gateway.StatusDelivered, "", ""},
		{"read", gateway.StatusRead, "", ""},
		{"undelivered", gateway.StatusFailed, "30003", twilio.Reason(30003)},
		{"failed", gateway.StatusFailed, "30008", twilio.Reason(30008)},
		{"canceled", gateway.StatusFailed, "", "the scheduled message was canceled before it was sent"},
	}
	for _, tt := range tests {
		t.Run(tt.status, func(t *testing.T) {
			t.Parallel()
			form := statusForm(tt.status, "ErrorCode", tt.errCode)
			pub := &testkit.Publisher{}
			rec := serve(newWebhooks(t, testConfig(public), pub).StatusHandler(),
				signedRequest(public, twilio.StatusPath+"?rid=req-42", form))
			checkTwiML(t, rec)
			msgs := pub.Messages()
			if len(msgs) != 1 {
				t.Fatalf("%d records, want 1", len(msgs))
			}
			want := gateway.Status{RequestID: "req-42", Channel: gateway.ChannelSMS, Contact: "+14133881111", ProviderID: sid1,
				Status: tt.want, ProviderStatus: tt.status, ErrorCode: tt.errCode, ErrorMessage: tt.errMsg, At: now.UTC()}
			if diff := cmp.Diff(want, decodeStatus(t, msgs[0]), testkit.ExactTime); diff != "" {
				t.Errorf("status (-want +got):\n%s", diff)
			}
			if got, ok := twilio.MapStatus(tt.status); !ok || got != tt.want {
				t.Errorf("MapStatus(%q) = %q, %v", tt.status, got, ok)
			}
		})
	}
}

// More status callbacks: WhatsApp, opt-out and window errors, an error
// message Twilio sent, inbound states, and refusals.
func TestStatus_Cases(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		target string
		form   url.Values
		status int
		code   string          // error code of a refusal
		want   *gateway.Status // nil with 200: ignored
	}{
		{"whatsapp read", twilio.StatusPath, statusForm("read", "To", "whatsapp:+14133881111", "From", "whatsapp:+12028831111"), 200, "",
			&gateway.Status{Channel: gateway.ChannelWhatsApp, Contact: "+14133881111", ProviderID: sid1, Status: gateway.StatusRead, ProviderStatus: "read"}},
		{"whatsapp outside the window", twilio.StatusPath, statusForm("failed", "To", "whatsapp:+14133881111", "ErrorCode", "63016"), 200, "",
			&gateway.Status{Channel: gateway.ChannelWhatsApp, Contact: "+14133881111", ProviderID: sid1, Status: gateway.StatusFailed,
				ProviderStatus: "failed", ErrorCode: "63016", ErrorMessage: twilio.Reason(63016)}},
		{"opted out", twilio.StatusPath, statusForm("failed", "ErrorCode", "21610"), 200, "",
			&gateway.Status{Channel: gateway.ChannelSMS, Contact: "+14133881111", ProviderID: sid1, Status: gateway.StatusFailed,
				ProviderStatus: "failed", ErrorCode: "21610", ErrorMessage: twilio.Reason(21610)}},
		{"Twilio's error message kept", twilio.StatusPath, statusForm("undelivered", "ErrorCode", "30007", "ErrorMessage", "Carrier violation"), 200, "",
			&gateway.Status{Channel: gateway.ChannelSMS, Contact: "+14133881111", ProviderID: sid1, Status: gateway.StatusFailed,
				ProviderStatus: "undelivered", ErrorCode: "30007", ErrorMessage: "Carrier violation"}},
		{"legacy SmsStatus only", twilio.StatusPath, statusForm("delivered", "MessageStatus", "", "MessageSid", ""), 200, "",
			&gateway.Status{Channel: gateway.ChannelSMS, Contact: "+14133881111", ProviderID: sid1, Status: gateway.StatusDelivered, ProviderStatus: "delivered"}},
		{"overlong request id dropped", twilio.StatusPath + "?rid=" + strings.Repeat("r", 200), statusForm("sent"), 200, "",
			&gateway.Status{Channel: gateway.ChannelSMS, Contact: "+14133881111", ProviderID: sid1, Status: gateway.StatusSent, ProviderStatus: "sent"}},
		{"received is about an inbound message", twilio.StatusPath, statusForm("received"), 200, "", nil},
		{"receiving is about an inbound message", twilio.StatusPath, statusForm("receiving"), 200, "", nil},
		{"unknown status", twilio.StatusPath, statusForm("huh"), 400, "unknown_status", nil},
		{"no To", twilio.StatusPath, statusForm("sent", "To", ""), 400, "invalid_form", nil},
		{"ErrorCode not a number", twilio.StatusPath, statusForm("failed", "ErrorCode", "abc"), 400, "invalid_form", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pub := &testkit.Publisher{}
			rec := serve(newWebhooks(t, testConfig(public), pub).StatusHandler(), signedRequest(public, tt.target, tt.form))
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tt.status, rec.Body.String())
			}
			msgs := pub.Messages()
			if tt.status != http.StatusOK {
				if e := decodeError(t, rec); e.Error.Code != tt.code {
					t.Errorf("code %q, want %q", e.Error.Code, tt.code)
				}
			} else {
				checkTwiML(t, rec)
			}
			if tt.want == nil {
				if len(msgs) != 0 {
					t.Errorf("%d records, want none", len(msgs))
				}
				return
			}
			if len(msgs) != 1 {
				t.Fatalf("%d records, want 1", len(msgs))
			}
			want := *tt.want
			want.At = now.UTC()
			if diff := cmp.Diff(want, decodeStatus(t, msgs[0]), testkit.ExactTime); diff != "" {
				t.Errorf("status (-want +got):\n%s", diff)
			}
		})
	}
}

// Mount registers both webhooks on a ServeMux at their patterns.
func TestMount(t *testing.T) {
	t.Parallel()
	pub := &testkit.Publisher{}
	mux := http.NewServeMux()
	newWebhooks(t, testConfig(public), pub).Mount(mux)
	checkTwiML(t, serve(mux, signedRequest(public, twilio.MessagesPath, messageForm())))
	checkTwiML(t, serve(mux, signedRequest(public, twilio.StatusPath, statusForm("sent"))))
	if rec := serve(mux, httptest.NewRequest(http.MethodGet, twilio.MessagesPath, nil)); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET: status %d, want 405", rec.Code)
	}
	if n := len(pub.Messages()); n != 2 {
		t.Errorf("%d records, want 2", n)
	}
}

func TestNewWebhooks_Refuses(t *testing.T) {
	t.Parallel()
	noToken := testConfig(public)
	noToken.AuthToken, noToken.APIKey, noToken.APISecret = "", "SK0123456789abcdef0123456789abcdef", "secret"
	for name, tc := range map[string]struct {
		cfg  twilio.Config
		pub  gateway.Publisher
		want string
	}{
		"disabled":              {twilio.Config{}, &testkit.Publisher{}, "AccountSID"},
		"API key, no token":     {noToken, &testkit.Publisher{}, "AuthToken"},
		"no publisher":          {testConfig(public), nil, "Publisher"},
		"invalid configuration": {func() twilio.Config { c := testConfig("ftp://x"); return c }(), &testkit.Publisher{}, "PublicURL"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := twilio.NewWebhooks(tc.cfg, twilio.WebhookOptions{Publisher: tc.pub})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: error %v, want one naming %s", name, err, tc.want)
			}
		})
	}
}

// R38: a signed webhook whose Body holds U+0000 was answered 200, then
// refused by PostgreSQL and dead-lettered: acknowledged, then lost. The
// contact's text now loses only what cannot be stored (docs/twilio.md),
// and is published, and so stored.
func TestR38_NULInASignedBodyIsStoredWithoutIt(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]string{"a\x00b": "ab", "line\r\nbreak\ttab\x07": "line\r\nbreak\ttab", "\x1b[1mbold": "[1mbold"} {
		pub := &testkit.Publisher{}
		form := messageForm("From", "whatsapp:+14133881111", "To", "whatsapp:+12028831111", "Body", body, "ProfileName", "Ada\x00 Lovelace\n")
		checkTwiML(t, serve(newWebhooks(t, testConfig(public), pub).MessagesHandler(), signedRequest(public, twilio.MessagesPath, form)))
		msgs := pub.Messages()
		if len(msgs) != 1 {
			t.Fatalf("%q: %d records, want 1", body, len(msgs))
		}
		in := decodeInbound(t, msgs[0])
		if in.Text != want || in.ContactName != "Ada  Lovelace" {
			t.Errorf("%q: text %q, contact name %q; want %q, %q", body, in.Text, in.ContactName, want, "Ada  Lovelace")
		}
		if err := in.Validate(); err != nil {
			t.Errorf("%q: the worker would refuse the record: %v", body, err)
		}
	}
}

// R38: a signed webhook with Latitude=NaN (or an infinity, or out of
// range) was a 500: the record could not be encoded. It is a 400 naming
// the field, and nothing is published.
func TestR38_NonFiniteCoordinatesAreA400(t *testing.T) {
	t.Parallel()
	for _, c := range hostile.Coordinates() {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			pub := &testkit.Publisher{}
			form := messageForm("From", "whatsapp:+14133881111", "To", "whatsapp:+12028831111", "Body", "",
				"Latitude", c.LatitudeText, "Longitude", c.LongText)
			rec := serve(newWebhooks(t, testConfig(public), pub).MessagesHandler(), signedRequest(public, twilio.MessagesPath, form))
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400; body %s", rec.Code, rec.Body.String())
			}
			e := decodeError(t, rec)
			if e.Error.Code != "invalid_form" || len(e.Error.Details) != 1 || !strings.HasSuffix(e.Error.Details[0].Field, "itude") {
				t.Errorf("error %+v, want invalid_form naming Latitude or Longitude", e.Error)
			}
			if n := len(pub.Messages()); n != 0 {
				t.Errorf("%d records published", n)
			}
		})
	}
}

package cloudapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chatgate/chatgate/channels/cloudapi"
	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/hostile"
	"github.com/chatgate/chatgate/gateway/testkit"
	"github.com/chatgate/chatgate/templates"
)

var handMadeAt = time.Unix(1700000000, 0).UTC()

func handText(id, body string) gateway.Inbound {
	return gateway.Inbound{Channel: gateway.ChannelWhatsApp, ProviderID: id, From: "+27821234567", To: testAddress,
		Kind: gateway.KindText, Text: body, ContactName: "Kerry Fisher", ReceivedAt: handMadeAt}
}

// Hand-made webhooks for the kinds the recorded ones lack, in the shapes
// of Meta's webhook reference: each through the real handler.
func TestR50_EveryMessageKind(t *testing.T) {
	t.Parallel()
	msg := func(id, typ, content string) string {
		return `{"from":"27821234567","id":"` + id + `","timestamp":"1700000000","type":"` + typ + `",` + content + `}`
	}
	sticker := handText("wamid.ST", "")
	sticker.Kind, sticker.Media = gateway.KindMedia, []gateway.Media{{URL: "cloudapi-media:1003", ContentType: "image/webp", SHA256: "c2hh"}}
	voice := handText("wamid.VO", "")
	voice.Kind, voice.Media = gateway.KindMedia, []gateway.Media{{URL: "cloudapi-media:1004", ContentType: "audio/ogg; codecs=opus"}}
	doc := handText("wamid.DO", "the invoice")
	doc.Kind, doc.Media = gateway.KindMedia, []gateway.Media{{URL: "cloudapi-media:1005", ContentType: "application/pdf", FileName: "invoice 42.pdf"}}
	card := "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Dr. Ann O'Neil\r\nN:O'Neil;Ann;;Dr.;\r\nORG:Acme\\, Inc.;Support\r\nTITLE:Agent\r\n" +
		"TEL;TYPE=CELL;waid=27829999999:+27 82 999 9999\r\nEMAIL;TYPE=WORK:ann@example.com\r\n" +
		"ADR;TYPE=WORK:;;1 Main St;Cape Town;WC;8001;South Africa\r\nURL:https://example.com\r\nBDAY:1990-01-31\r\nEND:VCARD\r\n"
	contacts := handText("wamid.CO", "")
	contacts.Kind, contacts.Contacts = gateway.KindContacts, []string{card}
	reaction := handText("wamid.RE", "")
	reaction.Kind, reaction.TargetID, reaction.Reaction = gateway.KindReaction, "wamid.SENT1", "👍"
	unreaction := reaction
	unreaction.ProviderID, unreaction.Reaction = "wamid.RE2", ""
	referral := handText("wamid.AD", "I saw your ad")
	referral.Referral = &gateway.Referral{SourceType: "ad", SourceID: "120208", SourceURL: "https://fb.me/abc", Headline: "Winter sale",
		Body: "Everything half price", MediaType: "image", MediaURL: "https://scontent.example/ad.jpg", ClickID: "ARAkLkA8"}
	quoted := handText("wamid.QU", "about this one")
	quoted.ReplyTo = "wamid.SENT2"
	order := handText("wamid.OR", `[WhatsApp: unsupported message of type "order"]`)

	cases := []struct {
		name string
		msg  string
		want *gateway.Inbound // nil: skipped
	}{
		{"sticker", msg("wamid.ST", "sticker", `"sticker":{"mime_type":"image/webp","sha256":"c2hh","id":"1003","animated":false}`), &sticker},
		{"voice note", msg("wamid.VO", "audio", `"audio":{"mime_type":"audio/ogg; codecs=opus","id":"1004","voice":true}`), &voice},
		{"document with file name", msg("wamid.DO", "document", `"document":{"caption":"the invoice","filename":"invoice 42.pdf","mime_type":"application/pdf","id":"1005"}`), &doc},
		{"contacts", msg("wamid.CO", "contacts", `"contacts":[{"name":{"formatted_name":"Dr. Ann O'Neil","first_name":"Ann","last_name":"O'Neil","prefix":"Dr."},`+
			`"org":{"company":"Acme, Inc.","department":"Support","title":"Agent"},"phones":[{"phone":"+27 82 999 9999","type":"CELL","wa_id":"27829999999"}],`+
			`"emails":[{"email":"ann@example.com","type":"WORK"}],"addresses":[{"street":"1 Main St","city":"Cape Town","state":"WC","zip":"8001","country":"South Africa","type":"WORK"}],`+
			`"urls":[{"url":"https://example.com"}],"birthday":"1990-01-31"}]`), &contacts},
		{"reaction", msg("wamid.RE", "reaction", `"reaction":{"message_id":"wamid.SENT1","emoji":"👍"}`), &reaction},
		{"reaction removed", msg("wamid.RE2", "reaction", `"reaction":{"message_id":"wamid.SENT1"}`), &unreaction},
		{"ad referral", msg("wamid.AD", "text", `"text":{"body":"I saw your ad"},"referral":{"source_url":"https://fb.me/abc","source_id":"120208","source_type":"ad",`+
			`"headline":"Winter sale","body":"Everything half price","media_type":"image","image_url":"https://scontent.example/ad.jpg","ctwa_clid":"ARAkLkA8"}`), &referral},
		{"reply to a message", msg("wamid.QU", "text", `"text":{"body":"about this one"},"context":{"from":"250788123200","id":"wamid.SENT2"}`), &quoted},
		{"order", msg("wamid.OR", "order", `"order":{"catalog_id":"1","product_items":[]}`), &order},
		{"number changed", msg("wamid.SY", "system", `"system":{"body":"User changed number","type":"user_changed_number"}`), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pub := &testkit.Publisher{}
			rec := serve(newWebhooks(t, pub).EventsHandler(), post(webhook(messageValue(tc.msg))))
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %s", rec.Code, rec.Body.String())
			}
			ins, _ := decoded(t, pub.Messages())
			if tc.want == nil {
				if len(ins) != 0 {
					t.Fatalf("stored %+v, want it skipped", ins)
				}
				return
			}
			if diff := cmp.Diff([]gateway.Inbound{*tc.want}, ins, testkit.ExactTime); diff != "" {
				t.Fatalf("inbound (-want +got):\n%s", diff)
			}
		})
	}
}

// R50: statuses sent, delivered, read and failed with Meta's error code and
// title, the request id from biz_opaque_callback_data, pricing kept, and a
// re-engagement failure as window_closed.
func TestR50_Statuses(t *testing.T) {
	t.Parallel()
	status := func(s, extra string) string {
		return `{"id":"wamid.OUT1","status":"` + s + `","timestamp":"1700000000","recipient_id":"27821234567"` + extra + `}`
	}
	value := func(statuses ...string) string {
		return `{"messaging_product":"whatsapp","metadata":{"display_phone_number":"+250 788 123 200","phone_number_id":"` + testNumberID + `"},"statuses":[` + strings.Join(statuses, ",") + `]}`
	}
	base := gateway.Status{Channel: gateway.ChannelWhatsApp, Contact: "+27821234567", ProviderID: "wamid.OUT1", At: handMadeAt}
	with := func(ds gateway.DeliveryStatus, f func(*gateway.Status)) gateway.Status {
		s := base
		s.Status, s.ProviderStatus = ds, string(ds)
		if f != nil {
			f(&s)
		}
		return s
	}
	cases := []struct {
		name   string
		status string
		want   gateway.Status
	}{
		{"delivered with request id", status("delivered", `,"biz_opaque_callback_data":"chatgate:req-42","pricing":{"billable":true,"pricing_model":"PMP","category":"utility","type":"regular"}`),
			with(gateway.StatusDelivered, func(s *gateway.Status) {
				s.RequestID = "req-42"
				s.Pricing = &gateway.Pricing{Billable: boolPtr(true), Model: "PMP", Category: "utility", Type: "regular"}
			})},
		{"read", status("read", ""), with(gateway.StatusRead, nil)},
		{"foreign callback data", status("sent", `,"biz_opaque_callback_data":"crm:77"`), with(gateway.StatusSent, nil)},
		{"to a BSUID", `{"id":"wamid.OUT1","status":"sent","timestamp":"1700000000","recipient_user_id":"US.1234"}`,
			with(gateway.StatusSent, func(s *gateway.Status) { s.Contact = "US.1234" })},
		{"window closed", status("failed", `,"errors":[{"code":131047,"title":"Re-engagement message","message":"Re-engagement message","error_data":{"details":"Message failed to send because more than 24 hours have passed since the customer last replied to this number."}}]`),
			with(gateway.StatusFailed, func(s *gateway.Status) {
				s.ErrorCode = cloudapi.CodeWindowClosed
				s.ErrorMessage = "outside WhatsApp's 24-hour customer service window: send an approved template (Meta 131047: Re-engagement message: " +
					"Message failed to send because more than 24 hours have passed since the customer last replied to this number.)"
			})},
		{"undeliverable", status("failed", `,"errors":[{"code":131026,"title":"Message undeliverable"}]`),
			with(gateway.StatusFailed, func(s *gateway.Status) {
				s.ErrorCode = "131026"
				s.ErrorMessage = "the message could not be delivered: the contact's number may not be on WhatsApp, or cannot receive it (Meta 131026: Message undeliverable)"
			})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pub := &testkit.Publisher{}
			rec := serve(newWebhooks(t, pub).EventsHandler(), post(webhook(value(tc.status))))
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %s", rec.Code, rec.Body.String())
			}
			_, sts := decoded(t, pub.Messages())
			if diff := cmp.Diff([]gateway.Status{tc.want}, sts, testkit.ExactTime); diff != "" {
				t.Fatalf("status (-want +got):\n%s", diff)
			}
		})
	}
}

// One webhook with several entries and changes: messages and statuses of
// two numbers, a template update, a field chatgate does not handle and a
// group message, all in one answer after one publish.
func TestWebhookWithSeveralChanges(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var updates []cloudapi.TemplateStatusUpdate
	publishes := 0
	pub := &testkit.Publisher{PublishFunc: func(context.Context, ...gateway.Message) error { mu.Lock(); publishes++; mu.Unlock(); return nil }}
	w := newWebhooks(t, pub, func(o *cloudapi.WebhookOptions) {
		o.TemplateStatus = func(_ context.Context, us []cloudapi.TemplateStatusUpdate) error {
			mu.Lock()
			updates = append(updates, us...)
			mu.Unlock()
			return nil
		}
	})
	unknownNumber := `{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"999"},` +
		`"contacts":[{"profile":{"name":"Bo\u0007b  "},"wa_id":"15551234567"}],"messages":[{"from":"15551234567","id":"wamid.U1","timestamp":"1700000000","type":"text","text":{"body":"hello?"}}]}`
	body := `{"object":"whatsapp_business_account","entry":[` +
		`{"id":"1","changes":[{"field":"messages","value":` + messageValue(`{"from":"27821234567","id":"wamid.A","timestamp":"1700000000","type":"text","text":{"body":"one"}}`,
		`{"from":"27821234567","id":"wamid.G","group_id":"555","timestamp":"1700000000","type":"text","text":{"body":"group"}}`) + `},` +
		`{"field":"account_update","value":{"event":"VERIFIED_ACCOUNT"}}]},` +
		`{"id":"2","changes":[{"field":"messages","value":` + unknownNumber + `},` +
		`{"field":"message_template_status_update","value":{"event":"REJECTED","message_template_id":"77","message_template_name":"order_shipped","message_template_language":"pt_BR","reason":"INVALID_FORMAT"}}]}]}`
	rec := serve(w.EventsHandler(), post(body))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"skipped":2`) {
		t.Fatalf("answer %d %s, want 200 with 2 skipped", rec.Code, rec.Body.String())
	}
	ins, _ := decoded(t, pub.Messages())
	if publishes != 1 || len(ins) != 2 {
		t.Fatalf("%d publishes with %d messages, want 1 with 2", publishes, len(ins))
	}
	if ins[1].To != "+15550783881" || ins[1].ContactName != "Bo b" || ins[1].From != "+15551234567" {
		t.Errorf("message to an unconfigured number: to %q name %q from %q", ins[1].To, ins[1].ContactName, ins[1].From)
	}
	want := []cloudapi.TemplateStatusUpdate{{WABAID: "2", TemplateID: "77", Name: "order_shipped", Language: "pt_BR", Event: "REJECTED",
		Status: templates.StatusRejected, Reason: "INVALID_FORMAT"}}
	if diff := cmp.Diff(want, updates, testkit.ExactTime); diff != "" {
		t.Fatalf("template updates (-want +got):\n%s", diff)
	}
}

// R38: what Go's decoder would silently change, what no real webhook
// holds and what is not a webhook is a 4xx naming the problem, and nothing
// is published.
func TestStrictInput(t *testing.T) {
	t.Parallel()
	textMsg := func(body string) string {
		return webhook(messageValue(`{"from":"27821234567","id":"wamid.X","timestamp":"1700000000","type":"text","text":{"body":` + body + `}}`))
	}
	locMsg := func(lat string) string {
		return webhook(messageValue(`{"from":"27821234567","id":"wamid.L","timestamp":"1700000000","type":"location","location":{"latitude":` + lat + `,"longitude":18.4}}`))
	}
	cases := []struct {
		name   string
		body   string
		ct     string
		status int
		code   string
		field  string
	}{
		{"invalid UTF-8", textMsg("\"caf\xe9\""), "", 400, cloudapi.CodeInvalidWebhook, ""},
		{"lone surrogate", textMsg(`"\ud800"`), "", 400, cloudapi.CodeInvalidWebhook, ""},
		{"reversed surrogates", textMsg(`"\ude00\ud83d"`), "", 400, cloudapi.CodeInvalidWebhook, ""},
		{"text too long", textMsg(`"` + strings.Repeat("é", gateway.MaxTextLen+1) + `"`), "", 400, cloudapi.CodeInvalidMessage, "entry[0].changes[0].value.messages[0].text.body"},
		{"empty text", textMsg(`""`), "", 400, cloudapi.CodeInvalidMessage, "entry[0].changes[0].value.messages[0].text.body"},
		{"NaN", locMsg("NaN"), "", 400, cloudapi.CodeInvalidWebhook, ""},
		{"1e400", locMsg("1e400"), "", 400, cloudapi.CodeInvalidWebhook, ""},
		{"latitude 91", locMsg("91"), "", 400, cloudapi.CodeInvalidMessage, "entry[0].changes[0].value.messages[0].location.latitude"},
		{"padded id", webhook(messageValue(`{"from":"27821234567","id":" wamid.X","timestamp":"1700000000","type":"text","text":{"body":"x"}}`)), "", 400, cloudapi.CodeInvalidMessage, "entry[0].changes[0].value.messages[0].id"},
		{"number as timestamp", webhook(messageValue(`{"from":"27821234567","id":"wamid.X","timestamp":1700000000,"type":"text","text":{"body":"x"}}`)), "", 400, cloudapi.CodeInvalidWebhook, ""},
		{"timestamp zero", webhook(messageValue(`{"from":"27821234567","id":"wamid.X","timestamp":"0","type":"text","text":{"body":"x"}}`)), "", 400, cloudapi.CodeInvalidMessage, "entry[0].changes[0].value.messages[0].timestamp"},
		{"media without id", webhook(messageValue(`{"from":"27821234567","id":"wamid.X","timestamp":"1700000000","type":"image","image":{"mime_type":"image/jpeg"}}`)), "", 400, cloudapi.CodeInvalidMessage, "entry[0].changes[0].value.messages[0].image.id"},
		{"phone_number_id missing", webhook(`{"metadata":{},"messages":[{"from":"27821234567","id":"wamid.X","timestamp":"1700000000","type":"text","text":{"body":"x"}}]}`), "", 400, cloudapi.CodeInvalidMessage, "entry[0].changes[0].value.metadata.phone_number_id"},
		{"value not an object", `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":[1]}]}]}`, "", 400, cloudapi.CodeInvalidWebhook, ""},
		{"another object", `{"object":"page","entry":[]}`, "", 400, cloudapi.CodeInvalidWebhook, ""},
		{"trailing data", textMsg(`"x"`) + `{}`, "", 400, cloudapi.CodeInvalidWebhook, ""},
		{"an array", `[]`, "", 400, cloudapi.CodeInvalidWebhook, ""},
		{"empty", ``, "", 400, cloudapi.CodeInvalidWebhook, ""},
		{"form", textMsg(`"x"`), "application/x-www-form-urlencoded", 415, "unsupported_media_type", ""},
		{"latin-1", textMsg(`"x"`), "application/json; charset=iso-8859-1", 415, "unsupported_media_type", ""},
		{"template update without name", `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"message_template_status_update","value":{"event":"APPROVED","message_template_language":"en"}}]}]}`,
			"", 400, cloudapi.CodeInvalidMessage, "entry[0].changes[0].value.message_template_name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pub := &testkit.Publisher{}
			req := post(tc.body)
			if tc.ct != "" {
				req.Header.Set("Content-Type", tc.ct)
			}
			rec := serve(newWebhooks(t, pub).EventsHandler(), req)
			if rec.Code != tc.status {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tc.status, rec.Body.String())
			}
			e := decodeError(t, rec)
			if e.Error.Code != tc.code {
				t.Errorf("code = %q, want %q (%s)", e.Error.Code, tc.code, e.Error.Message)
			}
			if tc.field != "" && (len(e.Error.Details) == 0 || e.Error.Details[0].Field != tc.field) {
				t.Errorf("details %+v, want field %s first", e.Error.Details, tc.field)
			}
			if len(pub.Messages()) != 0 {
				t.Fatal("records published for a refused webhook")
			}
		})
	}

	t.Run("body too large", func(t *testing.T) {
		t.Parallel()
		pub := &testkit.Publisher{}
		w := newWebhooks(t, pub, func(o *cloudapi.WebhookOptions) { o.MaxBodyBytes = 1024 })
		big := textMsg(`"` + strings.Repeat("a", 2000) + `"`)
		for _, chunked := range []bool{false, true} {
			req := post(big)
			if chunked {
				req = httptest.NewRequest(http.MethodPost, cloudapi.WebhookPath, struct{ *strings.Reader }{strings.NewReader(big)})
				req.ContentLength = -1
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set(cloudapi.HeaderSignature, cloudapi.Sign(testAppSecret, []byte(big)))
			}
			rec := serve(w.EventsHandler(), req)
			if rec.Code != http.StatusRequestEntityTooLarge || decodeError(t, rec).Error.Code != "body_too_large" {
				t.Fatalf("chunked %v: %d %s, want 413", chunked, rec.Code, rec.Body.String())
			}
		}
		if len(pub.Messages()) != 0 {
			t.Fatal("records published for an oversized body")
		}
	})
}

// hostileWant is the documented answer to a webhook with one hostile
// value in one field: the status, and for a 200 the value stored.
type hostileWant struct {
	status int
	stored string
}

// webhookWants is docs/cloudapi.md's rule for one field: what the contact
// wrote is kept minus the control characters a text cannot hold (refused
// only when nothing is left of a message, or it is longer than WhatsApp
// allows); the profile name is made one line; ids must be ids; bytes that
// are not UTF-8 and lone surrogates are never from Meta.
func webhookWants(field string, h hostile.JSONString) hostileWant {
	if h.Class == hostile.InvalidUTF8 || h.Class == hostile.LoneSurrogate {
		return hostileWant{status: 400}
	}
	var v string
	if err := json.Unmarshal([]byte(h.Literal), &v); err != nil {
		panic(err)
	}
	switch field {
	case "text.body", "image.caption", "location.name", "button.payload":
		max := map[string]int{"text.body": gateway.MaxTextLen, "image.caption": gateway.MaxTextLen,
			"location.name": gateway.MaxLocationTextLen, "button.payload": gateway.MaxButtonPayloadLen}[field]
		normal, _ := gateway.NormalizeText(v)
		if (normal == "" && field == "text.body") || gateway.CheckText(normal, max) != "" {
			return hostileWant{status: 400}
		}
		return hostileWant{status: 200, stored: normal}
	case "profile.name":
		normal, _ := gateway.NormalizeLine(v, gateway.MaxContactNameLen)
		return hostileWant{status: 200, stored: normal}
	case "id":
		if v == "" || gateway.CheckKey(v, gateway.MaxProviderIDLen) != "" {
			return hostileWant{status: 400}
		}
		return hostileWant{status: 200, stored: v}
	}
	panic("no rule for " + field)
}

// TestR38_HostileCorpusAtTheWebhook puts every hostile value in every kind
// of field a webhook carries, each request signed, so the content is what
// is judged: each answer is the documented one (never a 5xx), each record
// holds the documented normal form and passes the worker's check, and
// nothing refused is published.
func TestR38_HostileCorpusAtTheWebhook(t *testing.T) {
	t.Parallel()
	type build func(lit string) (body string, stored func(gateway.Inbound) string)
	fields := map[string]build{
		"text.body": func(lit string) (string, func(gateway.Inbound) string) {
			return webhook(messageValue(`{"from":"27821234567","id":"wamid.H","timestamp":"1700000000","type":"text","text":{"body":` + lit + `}}`)),
				func(in gateway.Inbound) string { return in.Text }
		},
		"image.caption": func(lit string) (string, func(gateway.Inbound) string) {
			return webhook(messageValue(`{"from":"27821234567","id":"wamid.H","timestamp":"1700000000","type":"image","image":{"id":"1","mime_type":"image/jpeg","caption":` + lit + `}}`)),
				func(in gateway.Inbound) string { return in.Text }
		},
		"location.name": func(lit string) (string, func(gateway.Inbound) string) {
			return webhook(messageValue(`{"from":"27821234567","id":"wamid.H","timestamp":"1700000000","type":"location","location":{"latitude":1,"longitude":2,"name":` + lit + `}}`)),
				func(in gateway.Inbound) string { return in.Location.Name }
		},
		"button.payload": func(lit string) (string, func(gateway.Inbound) string) {
			return webhook(messageValue(`{"from":"27821234567","id":"wamid.H","timestamp":"1700000000","type":"button","button":{"text":"Yes","payload":` + lit + `}}`)),
				func(in gateway.Inbound) string { return in.Button.Payload }
		},
		"profile.name": func(lit string) (string, func(gateway.Inbound) string) {
			return webhook(`{"messaging_product":"whatsapp","metadata":{"display_phone_number":"+250788123200","phone_number_id":"` + testNumberID + `"},` +
					`"contacts":[{"profile":{"name":` + lit + `},"wa_id":"27821234567"}],"messages":[{"from":"27821234567","id":"wamid.H","timestamp":"1700000000","type":"text","text":{"body":"hi"}}]}`),
				func(in gateway.Inbound) string { return in.ContactName }
		},
		"id": func(lit string) (string, func(gateway.Inbound) string) {
			return webhook(messageValue(`{"from":"27821234567","id":` + lit + `,"timestamp":"1700000000","type":"text","text":{"body":"hi"}}`)),
				func(in gateway.Inbound) string { return in.ProviderID }
		},
	}
	for field, mk := range fields {
		for _, hs := range hostile.JSONStrings() {
			t.Run(field+"/"+hs.Name, func(t *testing.T) {
				t.Parallel()
				pub := &testkit.Publisher{}
				h := newWebhooks(t, pub).EventsHandler()
				body, stored := mk(hs.Literal)
				want := webhookWants(field, hs)
				rec := serve(h, post(body))
				if rec.Code != want.status {
					t.Fatalf("status = %d, want %d; body %.300s", rec.Code, want.status, rec.Body.String())
				}
				ins, _ := decoded(t, pub.Messages())
				if want.status != 200 {
					decodeError(t, rec)
					if len(ins) != 0 {
						t.Fatal("refused, yet published")
					}
					return
				}
				if len(ins) != 1 {
					t.Fatalf("%d records, want 1", len(ins))
				}
				if err := ins[0].Validate(); err != nil {
					t.Fatalf("the worker would refuse the record: %v", err)
				}
				if got := stored(ins[0]); got != want.stored {
					t.Fatalf("stored %.80q, want %.80q", got, want.stored)
				}
			})
		}
	}
}

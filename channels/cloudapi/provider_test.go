package cloudapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatgate/chatgate/channels/cloudapi"
	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/sender"
	"github.com/chatgate/chatgate/gateway/sender/sendertest"
	"github.com/chatgate/chatgate/gateway/testkit"
)

const messagesPath = "/" + cloudapi.DefaultGraphVersion + "/" + testNumberID + "/messages"

func newProvider(t testing.TB, g *graphStandIn, opts ...func(*cloudapi.Config, *cloudapi.ProviderOptions)) *cloudapi.Provider {
	t.Helper()
	cfg := testConfig(g.URL)
	var o cloudapi.ProviderOptions
	for _, f := range opts {
		f(&cfg, &o)
	}
	p, err := cloudapi.NewProvider(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func outbound(f func(*gateway.Outbound)) gateway.Outbound {
	o := gateway.Outbound{RequestID: "req-1", Channel: gateway.ChannelWhatsApp, To: "+250788123123", From: testAddress, Text: "Simple Message", CreatedAt: handMadeAt}
	if f != nil {
		f(&o)
	}
	return o
}

// envelope is what every message body carries, around its content.
func envelope(to, content string) string {
	return `{"messaging_product":"whatsapp","recipient_type":"individual",` + to + `,"biz_opaque_callback_data":"chatgate:req-1",` + content + `}`
}

const toContact = `"to":"250788123123"`

// R50: the sends of the recorded cases and of every kind chatgate sends,
// as the stand-in received them: text (with the link preview), media by
// link and by id, captions, reply context, templates with components, and
// interactive buttons and lists.
func TestR50_Sends(t *testing.T) {
	t.Parallel()
	template := func(obj string) *gateway.OutboundTemplate {
		return &gateway.OutboundTemplate{Name: "revive_issue", Language: "en_US", WhatsApp: json.RawMessage(obj)}
	}
	cases := []struct {
		name string
		out  gateway.Outbound
		want []string // the bodies, in order
	}{
		{"plain", outbound(nil), []string{envelope(toContact, `"type":"text","text":{"body":"Simple Message","preview_url":false}`)}},
		{"unicode", outbound(func(o *gateway.Outbound) { o.Text = "☺" }), []string{envelope(toContact, `"type":"text","text":{"body":"☺","preview_url":false}`)}},
		{"link preview", outbound(func(o *gateway.Outbound) { o.Text = "Link Sending https://link.com" }),
			[]string{envelope(toContact, `"type":"text","text":{"body":"Link Sending https://link.com","preview_url":true}`)}},
		{"to a BSUID", outbound(func(o *gateway.Outbound) { o.To = "US.1234" }),
			[]string{envelope(`"recipient":"US.1234"`, `"type":"text","text":{"body":"Simple Message","preview_url":false}`)}},
		{"reply context", outbound(func(o *gateway.Outbound) { o.ReplyTo = "wamid.IN1" }),
			[]string{envelope(toContact, `"type":"text","context":{"message_id":"wamid.IN1"},"text":{"body":"Simple Message","preview_url":false}`)}},
		{"image with caption", outbound(func(o *gateway.Outbound) {
			o.Text, o.MediaURLs = "image caption", []string{"https://foo.bar/image.jpg"}
		}),
			[]string{envelope(toContact, `"type":"image","image":{"link":"https://foo.bar/image.jpg","caption":"image caption"}`)}},
		{"document", outbound(func(o *gateway.Outbound) {
			o.Text, o.MediaURLs = "document caption", []string{"https://foo.bar/document.pdf"}
		}),
			[]string{envelope(toContact, `"type":"document","document":{"link":"https://foo.bar/document.pdf","caption":"document caption","filename":"document.pdf"}`)}},
		{"video", outbound(func(o *gateway.Outbound) {
			o.Text, o.MediaURLs = "video caption", []string{"https://foo.bar/video.mp4"}
		}),
			[]string{envelope(toContact, `"type":"video","video":{"link":"https://foo.bar/video.mp4","caption":"video caption"}`)}},
		{"audio, then its text", outbound(func(o *gateway.Outbound) {
			o.Text, o.MediaURLs = "audio caption", []string{"https://foo.bar/audio.mp3"}
		}),
			[]string{envelope(toContact, `"type":"audio","audio":{"link":"https://foo.bar/audio.mp3"}`),
				envelope(toContact, `"type":"text","text":{"body":"audio caption","preview_url":false}`)}},
		{"media by id", outbound(func(o *gateway.Outbound) {
			o.Text, o.MediaURLs = "", []string{"cloudapi-media:1013?mime_type=image%2Fpng", "cloudapi-media:1014?mime_type=application%2Fpdf&filename=quote.pdf"}
		}),
			[]string{envelope(toContact, `"type":"image","image":{"id":"1013"}`), envelope(toContact, `"type":"document","document":{"id":"1014","filename":"quote.pdf"}`)}},
		{"long text in two", outbound(func(o *gateway.Outbound) { o.Text = strings.Repeat("a", 4096) + " " + "tail" }),
			[]string{envelope(toContact, `"type":"text","text":{"body":"`+strings.Repeat("a", 4096)+`","preview_url":false}`),
				envelope(toContact, `"type":"text","text":{"body":"tail","preview_url":false}`)}},
		{"template", outbound(func(o *gateway.Outbound) {
			o.Text = "templated message"
			o.Template = template(`{"name":"revive_issue","language":{"code":"en_US","policy":"deterministic"},"components":[{"type":"body","parameters":[{"type":"text","text":"Chef"},{"type":"text","text":"tomorrow"}]}]}`)
		}), []string{envelope(toContact, `"type":"template","template":{"name":"revive_issue","language":{"code":"en_US","policy":"deterministic"},`+
			`"components":[{"type":"body","parameters":[{"type":"text","text":"Chef"},{"type":"text","text":"tomorrow"}]}]}`)}},
		{"template, attachment as header", outbound(func(o *gateway.Outbound) {
			o.MediaURLs = []string{"https://foo.bar/image.jpg"}
			o.Template = template(`{"name":"revive_issue","language":{"code":"en_US","policy":"deterministic"},"components":[{"type":"body","parameters":[{"type":"text","text":"Chef"}]}]}`)
		}), []string{envelope(toContact, `"type":"template","template":{"name":"revive_issue","language":{"code":"en_US","policy":"deterministic"},`+
			`"components":[{"type":"header","parameters":[{"type":"image","image":{"link":"https://foo.bar/image.jpg"}}]},{"type":"body","parameters":[{"type":"text","text":"Chef"}]}]}`)}},
		{"template, button parameters", outbound(func(o *gateway.Outbound) {
			o.Template = template(`{"name":"revive_issue","language":{"code":"en_US"},"components":[` +
				`{"type":"header","parameters":[{"type":"document","document":{"link":"cloudapi-media:2001","filename":"ticket.pdf"}}]},` +
				`{"type":"body","parameters":[{"type":"text","parameter_name":"name","text":"Ryan Lewis"},{"type":"currency","currency":{"fallback_value":"$5","code":"USD","amount_1000":5000}}]},` +
				`{"type":"button","sub_type":"quick_reply","index":0,"parameters":[{"type":"payload","payload":"Sip"}]},` +
				`{"type":"button","sub_type":"url","index":"1","parameters":[{"type":"text","text":"id00231"}]}]}`)
		}), []string{envelope(toContact, `"type":"template","template":{"name":"revive_issue","language":{"code":"en_US","policy":"deterministic"},"components":[`+
			`{"type":"header","parameters":[{"type":"document","document":{"id":"2001","filename":"ticket.pdf"}}]},`+
			`{"type":"body","parameters":[{"type":"text","parameter_name":"name","text":"Ryan Lewis"},{"type":"currency","currency":{"fallback_value":"$5","code":"USD","amount_1000":5000}}]},`+
			`{"type":"button","sub_type":"quick_reply","index":"0","parameters":[{"type":"payload","payload":"Sip"}]},`+
			`{"type":"button","sub_type":"url","index":"1","parameters":[{"type":"text","text":"id00231"}]}]}`)}},
		{"template from name and language", outbound(func(o *gateway.Outbound) {
			o.Template = &gateway.OutboundTemplate{Name: "hello_world", Language: "en_US"}
		}), []string{envelope(toContact, `"type":"template","template":{"name":"hello_world","language":{"code":"en_US","policy":"deterministic"}}`)}},
		{"reply buttons", outbound(func(o *gateway.Outbound) {
			o.Text = "Interactive Button Msg"
			o.Interactive = json.RawMessage(`{"type":"button","action":{"buttons":[{"type":"reply","reply":{"id":"0","title":"BUTTON1"}}]}}`)
		}), []string{envelope(toContact, `"type":"interactive","interactive":{"type":"button","body":{"text":"Interactive Button Msg"},"action":{"buttons":[{"type":"reply","reply":{"id":"0","title":"BUTTON1"}}]}}`)}},
		{"reply buttons with an image header", outbound(func(o *gateway.Outbound) {
			o.Text, o.MediaURLs = "Interactive Button Msg", []string{"https://foo.bar/image.jpg"}
			o.Interactive = json.RawMessage(`{"type":"button","footer":{"text":"Reply below"},"action":{"buttons":[{"reply":{"id":"yes","title":"Yes"}},{"reply":{"id":"no","title":"No"}}]}}`)
		}), []string{envelope(toContact, `"type":"interactive","interactive":{"type":"button","header":{"type":"image","image":{"link":"https://foo.bar/image.jpg"}},`+
			`"body":{"text":"Interactive Button Msg"},"footer":{"text":"Reply below"},"action":{"buttons":[{"type":"reply","reply":{"id":"yes","title":"Yes"}},{"type":"reply","reply":{"id":"no","title":"No"}}]}}`)}},
		{"list after its attachment", outbound(func(o *gateway.Outbound) {
			o.Text, o.MediaURLs = "Interactive List Msg", []string{"https://foo.bar/image.jpg"}
			o.Interactive = json.RawMessage(`{"type":"list","action":{"button":"Menu","sections":[{"rows":[{"id":"0","title":"ROW1"},{"id":"2","title":"ROW3","description":"Third description"}]}]}}`)
		}), []string{envelope(toContact, `"type":"image","image":{"link":"https://foo.bar/image.jpg"}`),
			envelope(toContact, `"type":"interactive","interactive":{"type":"list","body":{"text":"Interactive List Msg"},"action":{"button":"Menu","sections":[{"rows":[{"id":"0","title":"ROW1"},{"id":"2","title":"ROW3","description":"Third description"}]}]}}`)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := newGraph(t)
			p := newProvider(t, g)
			id, err := p.Send(t.Context(), tc.out)
			if err != nil {
				t.Fatal(err)
			}
			reqs := g.requests()
			if len(reqs) != len(tc.want) {
				t.Fatalf("%d requests, want %d", len(reqs), len(tc.want))
			}
			if id != "wamid."+itoa(len(reqs)) {
				t.Errorf("provider id %q, want the last message's wamid", id)
			}
			for i, r := range reqs {
				if r.Method != http.MethodPost || r.Path != messagesPath || r.Auth != "Bearer "+testAccessToken || r.ContentType != "application/json" {
					t.Errorf("request %d: %s %s auth %q type %q", i, r.Method, r.Path, r.Auth, r.ContentType)
				}
				if got, want := canon(t, r.Body), canon(t, []byte(tc.want[i])); got != want {
					t.Errorf("request %d body\n%s\nwant\n%s", i, got, want)
				}
			}
		})
	}
}

// Records a sender cannot send are refused before any call, permanently,
// with the field at fault.
func TestSendRefusesBadRecords(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		out  gateway.Outbound
		code string
	}{
		{"sms record", outbound(func(o *gateway.Outbound) { o.Channel = gateway.ChannelSMS }), cloudapi.CodeWrongChannel},
		{"unknown From", outbound(func(o *gateway.Outbound) { o.From = "+15550000000" }), cloudapi.CodeNoSender},
		{"bad address", outbound(func(o *gateway.Outbound) { o.To = "+0123" }), cloudapi.CodeInvalidAddress},
		{"ftp media", outbound(func(o *gateway.Outbound) { o.MediaURLs = []string{"ftp://x/y.jpg"} }), cloudapi.CodeInvalidMedia},
		{"bad media ref", outbound(func(o *gateway.Outbound) { o.MediaURLs = []string{"cloudapi-media:abc"} }), cloudapi.CodeInvalidMedia},
		{"template with unknown field", outbound(func(o *gateway.Outbound) {
			o.Template = &gateway.OutboundTemplate{Name: "x", Language: "en", WhatsApp: json.RawMessage(`{"name":"x","language":{"code":"en"},"colour":"red"}`)}
		}), cloudapi.CodeInvalidTemplate},
		{"template parameter without text", outbound(func(o *gateway.Outbound) {
			o.Template = &gateway.OutboundTemplate{Name: "x", Language: "en", WhatsApp: json.RawMessage(`{"name":"x","language":{"code":"en"},"components":[{"type":"body","parameters":[{"type":"text"}]}]}`)}
		}), cloudapi.CodeInvalidTemplate},
		{"template with two attachments", outbound(func(o *gateway.Outbound) {
			o.MediaURLs = []string{"https://a/1.jpg", "https://a/2.jpg"}
			o.Template = &gateway.OutboundTemplate{Name: "x", Language: "en"}
		}), cloudapi.CodeInvalidTemplate},
		{"template with an audio header", outbound(func(o *gateway.Outbound) {
			o.MediaURLs = []string{"https://a/1.mp3"}
			o.Template = &gateway.OutboundTemplate{Name: "x", Language: "en"}
		}), cloudapi.CodeInvalidTemplate},
		{"four buttons", outbound(func(o *gateway.Outbound) {
			o.Interactive = json.RawMessage(`{"type":"button","action":{"buttons":[{"reply":{"id":"1","title":"a"}},{"reply":{"id":"2","title":"b"}},{"reply":{"id":"3","title":"c"}},{"reply":{"id":"4","title":"d"}}]}}`)
		}), cloudapi.CodeInvalidInteractive},
		{"button title too long", outbound(func(o *gateway.Outbound) {
			o.Interactive = json.RawMessage(`{"type":"button","action":{"buttons":[{"reply":{"id":"1","title":"` + strings.Repeat("x", 21) + `"}}]}}`)
		}), cloudapi.CodeInvalidInteractive},
		{"duplicate row ids", outbound(func(o *gateway.Outbound) {
			o.Interactive = json.RawMessage(`{"type":"list","action":{"button":"Menu","sections":[{"rows":[{"id":"1","title":"a"},{"id":"1","title":"b"}]}]}}`)
		}), cloudapi.CodeInvalidInteractive},
		{"eleven rows", outbound(func(o *gateway.Outbound) {
			rows := make([]string, 11)
			for i := range rows {
				rows[i] = `{"id":"r` + itoa(i) + `","title":"row"}`
			}
			o.Interactive = json.RawMessage(`{"type":"list","action":{"button":"Menu","sections":[{"rows":[` + strings.Join(rows, ",") + `]}]}}`)
		}), cloudapi.CodeInvalidInteractive},
		{"body too long", outbound(func(o *gateway.Outbound) {
			o.Text = strings.Repeat("x", 1025)
			o.Interactive = json.RawMessage(`{"type":"button","action":{"buttons":[{"reply":{"id":"1","title":"a"}}]}}`)
		}), cloudapi.CodeInvalidInteractive},
		{"cta_url", outbound(func(o *gateway.Outbound) {
			o.Interactive = json.RawMessage(`{"type":"cta_url","action":{"buttons":[]}}`)
		}), cloudapi.CodeInvalidInteractive},
	}
	g := newGraph(t)
	p := newProvider(t, g)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := p.Send(t.Context(), tc.out)
			var se *sender.Error
			if !errors.As(err, &se) || !se.Permanent || se.Code != tc.code {
				t.Fatalf("err = %v, want permanent %s", err, tc.code)
			}
		})
	}
	t.Cleanup(func() {
		if n := len(g.requests()); n != 0 {
			t.Errorf("%d requests reached Meta for refused records", n)
		}
	})
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// R50: Meta's error answers, recorded and one per mapped code, classified
// for the runner: re-engagement is window_closed, rate limits are
// temporary with the wait Meta's limits need, recipient and parameter
// errors are permanent with the reason, token and account errors also
// change the number's state.
func TestR50_ErrorCodes(t *testing.T) {
	t.Parallel()
	graphErr := func(code int, msg string) string {
		b, _ := json.Marshal(map[string]any{"error": map[string]any{"message": msg, "type": "OAuthException", "code": code,
			"error_data": map[string]any{"messaging_product": "whatsapp", "details": msg}, "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam"}})
		return string(b)
	}
	type want struct {
		code      string
		permanent bool
		minWait   time.Duration
		state     cloudapi.State
		reason    string // part of the message
	}
	cases := []struct {
		name   string
		status int
		header http.Header
		body   string
		want   want
	}{
		{"re-engagement", 400, nil, graphErr(131047, "Re-engagement message"), want{cloudapi.CodeWindowClosed, true, 0, "", "24-hour"}},
		{"throughput", 400, nil, graphErr(130429, "(#130429) Rate limit hit"), want{"130429", false, time.Second, "", "throughput"}},
		{"pair rate limit", 400, nil, graphErr(131056, "(#131056) (Business Account, Consumer Account) pair rate limit hit"), want{"131056", false, 6 * time.Second, "", "pair rate limit"}},
		{"WABA rate limit", 400, nil, graphErr(80007, "(#80007) Rate limit issues"), want{"80007", false, 30 * time.Second, "", "rate limit"}},
		{"HTTP 429 with Retry-After", 429, http.Header{"Retry-After": {"7"}}, graphErr(613, "Calls to this api have exceeded the rate limit"), want{"613", false, 30 * time.Second, "", "rate limit"}},
		{"HTTP 429 unknown code", 429, http.Header{"Retry-After": {"7"}}, `{}`, want{"http_429", false, 7 * time.Second, "", "429"}},
		{"media upload error", 400, nil, graphErr(131053, "Media upload error"), want{"131053", false, 0, "", "media"}},
		{"server error", 500, nil, "Bad Gateway", want{"http_500", false, 0, "", "500"}},
		{"invalid recipient", 400, nil, graphErr(131026, "Message undeliverable"), want{"131026", true, 0, "", "not be on WhatsApp"}},
		{"invalid parameter", 400, nil, graphErr(100, "Invalid parameter"), want{"100", true, 0, "", "parameter"}},
		{"template missing", 404, nil, graphErr(132001, "Template name does not exist in the translation"), want{"132001", true, 0, "", "does not exist"}},
		{"expired token", 401, nil, graphErr(190, "Error validating access token: Session has expired"), want{"190", true, 0, cloudapi.StateTokenInvalid, "access token"}},
		{"401 without a body", 401, nil, ``, want{"http_401", true, 0, cloudapi.StateTokenInvalid, "access token"}},
		{"missing permission", 403, nil, graphErr(10, "Application does not have permission for this action"), want{"10", true, 0, cloudapi.StatePermissionDenied, "permission"}},
		{"policy block", 403, nil, graphErr(368, "(#368) Temporarily blocked for policies violations"), want{"368", true, 0, cloudapi.StateAccountRestricted, "policy"}},
		{"payment", 400, nil, graphErr(131042, "Business eligibility payment issue"), want{"131042", true, 0, cloudapi.StatePaymentRequired, "payment"}},
		{"not registered", 400, nil, graphErr(133010, "Account not registered"), want{"133010", true, 0, cloudapi.StateNumberNotRegistered, "registered"}},
	}
	// The recorded error answers, with courier's verdict on retrying.
	for _, r := range fixtures(t).SendErrors {
		c := struct {
			name   string
			status int
			header http.Header
			body   string
			want   want
		}{name: "recorded " + r.Label, status: r.Status, body: r.Body}
		c.want.permanent = !r.Retryable
		cases = append(cases, c)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := newGraph(t)
			g.Answer = func(w http.ResponseWriter, _ *http.Request, _ []byte) {
				for k, v := range tc.header {
					w.Header()[k] = v
				}
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}
			states := &testkit.Publisher{}
			p := newProvider(t, g, func(_ *cloudapi.Config, o *cloudapi.ProviderOptions) { o.Publisher, o.Topics = states, topics })
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			_, err := p.Send(ctx, outbound(nil))
			var se *sender.Error
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want a *sender.Error", err)
			}
			if se.Permanent != tc.want.permanent {
				t.Fatalf("%v: permanent = %v, want %v", se, se.Permanent, tc.want.permanent)
			}
			if tc.want.code != "" && se.Code != tc.want.code {
				t.Errorf("code = %q, want %q", se.Code, tc.want.code)
			}
			if !se.Permanent && se.RetryAfter < tc.want.minWait {
				t.Errorf("RetryAfter = %v, want at least %v", se.RetryAfter, tc.want.minWait)
			}
			if !strings.Contains(se.Message, tc.want.reason) {
				t.Errorf("message %q lacks %q", se.Message, tc.want.reason)
			}
			if strings.Contains(se.Message, "250788123123") || strings.Contains(se.Message, testAccessToken) {
				t.Errorf("message %q holds the number or the token", se.Message)
			}
			if strings.HasPrefix(tc.name, "recorded ") {
				return // courier's verdict is all the recorded case says
			}
			wantState := tc.want.state
			if wantState == "" {
				wantState = cloudapi.StateOK
			}
			if got := p.State(testNumberID); got != wantState {
				t.Errorf("state = %s, want %s", got, wantState)
			}
			if tc.want.state != "" {
				msgs := states.Messages()
				if len(msgs) != 1 {
					t.Fatalf("%d state records, want 1", len(msgs))
				}
				ev, cs, err := gateway.DecodeRecord[cloudapi.ChannelState](msgs[0].Value)
				if err != nil || ev.Type != cloudapi.TypeChannelState || cs.State != tc.want.state || cs.Code != tc.want.state.Code() ||
					cs.PhoneNumberID != testNumberID || msgs[0].Topic != topics.Name(gateway.TopicStatus) || cs.Action == "" {
					t.Fatalf("state record %+v %+v %v", ev, cs, err)
				}
			}
		})
	}
}

// A number whose token failed is ok again, and says so, once a send
// succeeds.
func TestStateRecovers(t *testing.T) {
	t.Parallel()
	g := newGraph(t)
	var fail atomic.Bool
	fail.Store(true)
	g.Answer = func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		if fail.Load() {
			w.WriteHeader(401)
			_, _ = io.WriteString(w, `{"error":{"message":"Invalid OAuth access token","code":190}}`)
			return
		}
		_, _ = io.WriteString(w, `{"messages":[{"id":"wamid.OK"}]}`)
	}
	states := &testkit.Publisher{}
	p := newProvider(t, g, func(_ *cloudapi.Config, o *cloudapi.ProviderOptions) { o.Publisher, o.Topics = states, topics })
	if _, err := p.Send(t.Context(), outbound(nil)); err == nil {
		t.Fatal("send with a refused token succeeded")
	}
	fail.Store(false)
	if id, err := p.Send(t.Context(), outbound(func(o *gateway.Outbound) { o.RequestID = "req-2" })); err != nil || id != "wamid.OK" {
		t.Fatalf("send = %q, %v", id, err)
	}
	if p.State(testNumberID) != cloudapi.StateOK || len(states.Messages()) != 2 {
		t.Fatalf("state %s after %d state records, want ok after 2", p.State(testNumberID), len(states.Messages()))
	}
}

// R32 through the shared runner: a rate-limited send is retried after the
// wait and succeeds; a reply of two messages whose second hit a rate limit
// goes on with the second, never sending the first twice; a request that
// left without an answer is not sent again.
func TestR50_RetriesThroughRunner(t *testing.T) {
	t.Parallel()
	run := func(t *testing.T, g *graphStandIn, out gateway.Outbound) gateway.Status {
		t.Helper()
		// A short pair interval: the wait after 131056 is one interval.
		p := newProvider(t, g, func(c *cloudapi.Config, _ *cloudapi.ProviderOptions) { c.PairInterval = 10 * time.Millisecond })
		sink := &sendertest.StatusSink{}
		r, err := sender.New(sender.Config{Provider: p, Log: &sendertest.SendLog{}, Publisher: sink, Topics: topics,
			Source: cloudapi.EventSource, InitialBackoff: time.Millisecond, MaxElapsed: 30 * time.Second, MaxRetryAfter: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		m, err := out.Record("test", topics.Name(gateway.TopicOutbound))
		if err != nil {
			t.Fatal(err)
		}
		if err := r.HandleBatch(t.Context(), []gateway.Message{m}); err != nil {
			t.Fatal(err)
		}
		sts := sink.Statuses()
		if len(sts) != 1 {
			t.Fatalf("%d statuses, want 1", len(sts))
		}
		return sts[0]
	}

	t.Run("rate limited, then sent", func(t *testing.T) {
		t.Parallel()
		g := newGraph(t)
		var calls atomic.Int32
		g.Answer = func(w http.ResponseWriter, _ *http.Request, _ []byte) {
			if calls.Add(1) == 1 {
				w.WriteHeader(400)
				_, _ = io.WriteString(w, `{"error":{"message":"(#130429) Rate limit hit","code":130429}}`)
				return
			}
			_, _ = io.WriteString(w, `{"messages":[{"id":"wamid.SENT"}]}`)
		}
		st := run(t, g, outbound(nil))
		if st.Status != gateway.StatusSent || st.ProviderID != "wamid.SENT" || calls.Load() != 2 {
			t.Fatalf("status %+v after %d calls", st, calls.Load())
		}
	})
	t.Run("second part resumed", func(t *testing.T) {
		t.Parallel()
		g := newGraph(t)
		var calls atomic.Int32
		g.Answer = func(w http.ResponseWriter, _ *http.Request, body []byte) {
			n := calls.Add(1)
			if n == 2 {
				w.WriteHeader(400)
				_, _ = io.WriteString(w, `{"error":{"message":"pair rate limit hit","code":131056}}`)
				return
			}
			_, _ = io.WriteString(w, `{"messages":[{"id":"wamid.P`+itoa(int(n))+`"}]}`)
		}
		st := run(t, g, outbound(func(o *gateway.Outbound) { o.Text, o.MediaURLs = "the song", []string{"https://foo.bar/song.mp3"} }))
		reqs := g.requests()
		if st.Status != gateway.StatusSent || st.ProviderID != "wamid.P3" || len(reqs) != 3 {
			t.Fatalf("status %+v after %d requests", st, len(reqs))
		}
		audio := 0
		for _, r := range reqs {
			if strings.Contains(string(r.Body), `"type":"audio"`) {
				audio++
			}
		}
		if audio != 1 {
			t.Fatalf("the audio was sent %d times", audio)
		}
	})
	t.Run("outcome unknown", func(t *testing.T) {
		t.Parallel()
		g := newGraph(t)
		var calls atomic.Int32
		g.Answer = func(w http.ResponseWriter, _ *http.Request, _ []byte) {
			calls.Add(1)
			hj, _ := w.(http.Hijacker)
			conn, _, err := hj.Hijack()
			if err == nil {
				_ = conn.Close() // the request arrived; the answer never does
			}
		}
		st := run(t, g, outbound(nil))
		if st.Status != gateway.StatusFailed || st.ErrorCode != sender.CodeOutcomeUnknown || calls.Load() != 1 {
			t.Fatalf("status %+v after %d calls, want failed outcome_unknown after 1", st, calls.Load())
		}
	})
	t.Run("connection refused is retried", func(t *testing.T) {
		t.Parallel()
		g := newGraph(t)
		g.Close() // nothing listens: the request never leaves
		p := newProvider(t, g)
		_, err := p.Send(t.Context(), outbound(nil))
		var se *sender.Error
		if !errors.As(err, &se) || se.Permanent || se.Code != cloudapi.CodeNetworkError {
			t.Fatalf("err = %v, want temporary network_error", err)
		}
	})
}

// R50: the number's throughput and the pair limit are kept by waiting;
// when the send's deadline comes before the turn, the send is temporary,
// not sent, and other contacts are not held up.
func TestR50_RateLimits(t *testing.T) {
	t.Parallel()
	g := newGraph(t)
	p := newProvider(t, g, func(c *cloudapi.Config, _ *cloudapi.ProviderOptions) {
		c.PairInterval, c.PairBurst = time.Hour, 2
		c.Numbers[1].MessagesPerSecond = 1.0 / 3600
	})
	short := func() (context.Context, context.CancelFunc) { return context.WithTimeout(t.Context(), 10*time.Second) }
	send := func(f func(*gateway.Outbound)) error {
		ctx, cancel := short()
		defer cancel()
		_, err := p.Send(ctx, outbound(f))
		return err
	}
	for i := range 2 {
		if err := send(nil); err != nil {
			t.Fatalf("send %d within the pair burst: %v", i+1, err)
		}
	}
	var se *sender.Error
	if err := send(nil); !errors.As(err, &se) || se.Permanent || se.Code != cloudapi.CodeRateLimitWait {
		t.Fatalf("third send to one contact: %v, want temporary rate_limit_wait", err)
	}
	if err := send(func(o *gateway.Outbound) { o.To = "+27821111111" }); err != nil {
		t.Fatalf("another contact was held up: %v", err)
	}
	// The second number sends one message an hour.
	if err := send(func(o *gateway.Outbound) { o.From = otherNumber }); err != nil {
		t.Fatalf("first send from the slow number: %v", err)
	}
	if err := send(func(o *gateway.Outbound) { o.From = otherNumber; o.To = "+27822222222" }); !errors.As(err, &se) || se.Code != cloudapi.CodeRateLimitWait {
		t.Fatalf("second send from the slow number: %v, want rate_limit_wait", err)
	}
	if n := len(g.requests()); n != 4 {
		t.Fatalf("%d requests reached Meta, want 4", n)
	}
}

// R50 against the embedded broker: a reply sent through the shared runner
// has its status, with the wamid and the request id, on the status topic.
func TestR50_ReplyStatusReachesKafka(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	prod := newProducer(t, b.Addr())
	stTail := newTail(t, b.Addr(), gateway.TopicStatus)
	g := newGraph(t)
	r, err := sender.New(sender.Config{Provider: newProvider(t, g), Log: &sendertest.SendLog{}, Publisher: prod, Topics: topics, Source: cloudapi.EventSource})
	if err != nil {
		t.Fatal(err)
	}
	m, err := outbound(nil).Record("test", topics.Name(gateway.TopicOutbound))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.HandleBatch(t.Context(), []gateway.Message{m}); err != nil {
		t.Fatal(err)
	}
	_, sts := decoded(t, nextRecords(t, stTail, 1))
	if sts[0].Status != gateway.StatusSent || sts[0].ProviderID != "wamid.1" || sts[0].RequestID != "req-1" {
		t.Fatalf("reply status %+v", sts[0])
	}
}

// graphRequest is one request the Graph API stand-in received.
type graphRequest struct {
	Method, Path, Query, Auth, ContentType string
	Body                                   []byte
}

// graphStandIn is a local Graph API: it records every request and answers
// with Answer (default: a sent message with a fresh wamid).
type graphStandIn struct {
	*httptest.Server
	Answer func(w http.ResponseWriter, r *http.Request, body []byte)

	mu   sync.Mutex
	reqs []graphRequest
	n    int
}

func newGraph(t testing.TB) *graphStandIn {
	t.Helper()
	g := &graphStandIn{}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		g.mu.Lock()
		g.reqs = append(g.reqs, graphRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
			Auth: r.Header.Get("Authorization"), ContentType: r.Header.Get("Content-Type"), Body: body})
		g.n++
		n := g.n
		answer := g.Answer
		g.mu.Unlock()
		if answer != nil {
			answer(w, r, body)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"messaging_product":"whatsapp","contacts":[{"input":"x","wa_id":"x"}],"messages":[{"id":"wamid.`+strconv.Itoa(n)+`"}]}`)
	}))
	t.Cleanup(g.Close)
	return g
}

func (g *graphStandIn) requests() []graphRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.reqs)
}

// canon re-encodes JSON so two documents compare equal when they mean the same.
func canon(t testing.TB, b []byte) string {
	t.Helper()
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("not JSON: %s: %v", b, err)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

package twilio_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chatgate/chatgate/channels/twilio"
	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/sender"
	"github.com/chatgate/chatgate/gateway/sender/sendertest"
)

// reply is one answer of the stand-in.
type reply struct {
	status int
	body   string
	header map[string]string
	block  bool // hold the request until the test ends
}

func created(sid string) reply {
	return reply{status: 201, body: fmt.Sprintf(`{"sid":%q,"status":"queued","account_sid":%q}`, sid, testAccountSID)}
}

func twilioError(status, code int, msg string) reply {
	return reply{status: status, body: fmt.Sprintf(`{"code":%d,"message":%q,"more_info":"https://www.twilio.com/docs/errors/%d","status":%d}`, code, msg, code, status)}
}

// sent is one request the stand-in received.
type sent struct {
	path string
	user string
	pass string
	form url.Values
}

// standIn is a local stand-in for Twilio's REST API: it records each
// request and answers with the replies in order, the last one repeated.
type standIn struct {
	*httptest.Server
	replies []reply
	release chan struct{}
	arrived chan struct{} // one value per request, when it is recorded

	mu   sync.Mutex
	reqs []sent
}

func newStandIn(t *testing.T, replies ...reply) *standIn {
	t.Helper()
	s := &standIn{replies: replies, release: make(chan struct{}), arrived: make(chan struct{}, 100)}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		close(s.release)
		s.Close()
	})
	return s
}

func (s *standIn) serve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	user, pass, _ := r.BasicAuth()
	s.mu.Lock()
	s.reqs = append(s.reqs, sent{path: r.URL.Path, user: user, pass: pass, form: r.PostForm})
	rep := s.replies[min(len(s.reqs), len(s.replies))-1]
	s.mu.Unlock()
	select {
	case s.arrived <- struct{}{}:
	default:
	}
	if rep.block {
		select {
		case <-s.release:
		case <-r.Context().Done():
		}
		return
	}
	for k, v := range rep.header {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(rep.status)
	_, _ = io.WriteString(w, rep.body)
}

func (s *standIn) requests() []sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sent(nil), s.reqs...)
}

// providerConfig is testConfig sending to apiURL. Its numbers send at
// 10000/s, so retries do not wait for the real default of 1/s.
func providerConfig(apiURL string) twilio.Config {
	cfg := testConfig(public)
	cfg.APIURL = apiURL
	for i := range cfg.Numbers {
		cfg.Numbers[i].Rate = 10000
	}
	return cfg.WithDefaults()
}

func newProvider(t *testing.T, cfg twilio.Config, ch gateway.Channel) *twilio.Provider {
	t.Helper()
	p, err := twilio.NewProvider(cfg, ch, twilio.ProviderOptions{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func outboundSMS(id, text string) gateway.Outbound {
	return gateway.Outbound{RequestID: id, Channel: gateway.ChannelSMS, To: "+14133881111", Text: text, CreatedAt: now}
}

const messagesPath = "/2010-04-01/Accounts/" + testAccountSID + "/Messages.json"

// A send is one CreateMessage request with the fields Twilio expects, and
// its MessageSid is the provider id.
func TestProvider_SendsCreateMessage(t *testing.T) {
	t.Parallel()
	callback := public + twilio.StatusPath + "?rid=req-1"
	tests := []struct {
		name     string
		channel  gateway.Channel
		cfg      func(*twilio.Config)
		out      gateway.Outbound
		wantPath string
		wantUser string
		want     url.Values
	}{
		{
			name: "sms from the default number", channel: gateway.ChannelSMS,
			out:  outboundSMS("req-1", "Simple Message ☺"),
			want: url.Values{"To": {"+14133881111"}, "From": {"+12028831111"}, "Body": {"Simple Message ☺"}, "StatusCallback": {callback}},
		},
		{
			name: "sms from a configured number", channel: gateway.ChannelSMS,
			cfg: func(c *twilio.Config) {
				c.Numbers = append(c.Numbers, twilio.Origin{Channel: gateway.ChannelSMS, Address: "+12028832222"})
			},
			out:  func() gateway.Outbound { o := outboundSMS("req-1", "hi"); o.From = "+12028832222"; return o }(),
			want: url.Values{"To": {"+14133881111"}, "From": {"+12028832222"}, "Body": {"hi"}, "StatusCallback": {callback}},
		},
		{
			name: "sms from an unlisted number of the account", channel: gateway.ChannelSMS,
			out:  func() gateway.Outbound { o := outboundSMS("req-1", "hi"); o.From = "+1 202 883 9999"; return o }(),
			want: url.Values{"To": {"+14133881111"}, "From": {"+12028839999"}, "Body": {"hi"}, "StatusCallback": {callback}},
		},
		{
			name: "from an unlisted messaging service", channel: gateway.ChannelSMS,
			out: func() gateway.Outbound {
				o := outboundSMS("req-1", "hi")
				o.From = "MGfedcba9876543210fedcba9876543210"
				return o
			}(),
			want: url.Values{"To": {"+14133881111"}, "MessagingServiceSid": {"MGfedcba9876543210fedcba9876543210"}, "Body": {"hi"}, "StatusCallback": {callback}},
		},
		{
			name: "from an alphanumeric sender ID that starts like a service", channel: gateway.ChannelSMS,
			out:  func() gateway.Outbound { o := outboundSMS("req-1", "hi"); o.From = "MGM"; return o }(),
			want: url.Values{"To": {"+14133881111"}, "From": {"MGM"}, "Body": {"hi"}, "StatusCallback": {callback}},
		},
		{
			name: "messaging service first", channel: gateway.ChannelSMS,
			cfg: func(c *twilio.Config) {
				c.MessagingServices = []twilio.Origin{{Channel: gateway.ChannelSMS, Address: "MG0123456789abcdef0123456789abcdef", Service: true}}
			},
			out:  outboundSMS("req-1", "hi"),
			want: url.Values{"To": {"+14133881111"}, "MessagingServiceSid": {"MG0123456789abcdef0123456789abcdef"}, "Body": {"hi"}, "StatusCallback": {callback}},
		},
		{
			name: "mms", channel: gateway.ChannelSMS,
			out: func() gateway.Outbound {
				o := outboundSMS("req-1", "My pic!")
				o.MediaURLs = []string{"https://foo.bar/image.jpg", "https://foo.bar/audio.m4a"}
				return o
			}(),
			want: url.Values{"To": {"+14133881111"}, "From": {"+12028831111"}, "Body": {"My pic!"},
				"MediaUrl": {"https://foo.bar/image.jpg", "https://foo.bar/audio.m4a"}, "StatusCallback": {callback}},
		},
		{
			name: "sms template without Content SID is sent as text", channel: gateway.ChannelSMS,
			out: func() gateway.Outbound {
				o := outboundSMS("req-1", "Your order shipped")
				o.Template = &gateway.OutboundTemplate{Name: "shipped", Language: "en"}
				return o
			}(),
			want: url.Values{"To": {"+14133881111"}, "From": {"+12028831111"}, "Body": {"Your order shipped"}, "StatusCallback": {callback}},
		},
		{
			name: "whatsapp text", channel: gateway.ChannelWhatsApp,
			out:  gateway.Outbound{RequestID: "req-1", Channel: gateway.ChannelWhatsApp, To: "+250788383383", Text: "Simple Message ☺"},
			want: url.Values{"To": {"whatsapp:+250788383383"}, "From": {"whatsapp:+12028831111"}, "Body": {"Simple Message ☺"}, "StatusCallback": {callback}},
		},
		{
			name: "whatsapp to a business-scoped user id", channel: gateway.ChannelWhatsApp,
			out:  gateway.Outbound{RequestID: "req-1", Channel: gateway.ChannelWhatsApp, To: "US.1234", From: "whatsapp:+12028831111", Text: "hi"},
			want: url.Values{"To": {"whatsapp:US.1234"}, "From": {"whatsapp:+12028831111"}, "Body": {"hi"}, "StatusCallback": {callback}},
		},
		{
			name: "whatsapp template", channel: gateway.ChannelWhatsApp,
			out: gateway.Outbound{RequestID: "req-1", Channel: gateway.ChannelWhatsApp, To: "+250788383383", Text: "templated message",
				Template: &gateway.OutboundTemplate{Name: "revive_issue", Language: "en_US",
					TwilioContentSID: "HX0123456789abcdef0123456789abcdef", TwilioContentVariables: `{"1":"Chef","2":"tomorrow"}`}},
			want: url.Values{"To": {"whatsapp:+250788383383"}, "From": {"whatsapp:+12028831111"},
				"ContentSid": {"HX0123456789abcdef0123456789abcdef"}, "ContentVariables": {`{"1":"Chef","2":"tomorrow"}`}, "StatusCallback": {callback}},
		},
		{
			name: "API key credentials", channel: gateway.ChannelSMS,
			cfg:      func(c *twilio.Config) { c.APIKey, c.APISecret = "SK0123456789abcdef0123456789abcdef", "s3cret" },
			out:      outboundSMS("req-1", "hi"),
			wantUser: "SK0123456789abcdef0123456789abcdef",
			want:     url.Values{"To": {"+14133881111"}, "From": {"+12028831111"}, "Body": {"hi"}, "StatusCallback": {callback}},
		},
		{
			name: "API URL with a path", channel: gateway.ChannelSMS,
			cfg:      func(c *twilio.Config) { c.APIURL += "/twiml_api" },
			out:      outboundSMS("req-1", "hi"),
			wantPath: "/twiml_api" + messagesPath,
			want:     url.Values{"To": {"+14133881111"}, "From": {"+12028831111"}, "Body": {"hi"}, "StatusCallback": {callback}},
		},
		{
			name: "request id escaped in the callback URL", channel: gateway.ChannelSMS,
			out: outboundSMS("a b&c", "hi"),
			want: url.Values{"To": {"+14133881111"}, "From": {"+12028831111"}, "Body": {"hi"},
				"StatusCallback": {public + twilio.StatusPath + "?rid=a+b%26c"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStandIn(t, created("SM1002"))
			cfg := providerConfig(s.URL)
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			p := newProvider(t, cfg, tt.channel)
			if p.Channel() != tt.channel {
				t.Errorf("Channel() = %q", p.Channel())
			}
			id, err := p.Send(context.Background(), tt.out)
			if err != nil || id != "SM1002" {
				t.Fatalf("Send = %q, %v; want SM1002", id, err)
			}
			reqs := s.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			got := reqs[0]
			wantPath, wantUser, wantPass := messagesPath, testAccountSID, testAuthToken
			if tt.wantPath != "" {
				wantPath = tt.wantPath
			}
			if tt.wantUser != "" {
				wantUser, wantPass = tt.wantUser, cfg.APISecret
			}
			if got.path != wantPath || got.user != wantUser || got.pass != wantPass {
				t.Errorf("path %q user %q pass %q, want %q %q %q", got.path, got.user, got.pass, wantPath, wantUser, wantPass)
			}
			if diff := cmp.Diff(tt.want, got.form); diff != "" {
				t.Errorf("form (-want +got):\n%s", diff)
			}
		})
	}
}

// Twilio's error answers become sender errors: temporary for 429, 20429,
// 21611 and 5xx (with Retry-After), permanent with Twilio's code and a
// readable reason otherwise.
func TestProvider_ClassifiesTwilioErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		reply      reply
		code       string
		permanent  bool
		optedOut   bool
		retryAfter time.Duration
		reason     string
	}{
		{"429 with Retry-After seconds", func() reply {
			r := twilioError(429, 20429, "Too Many Requests")
			r.header = map[string]string{"Retry-After": "3"}
			return r
		}(), "20429", false, false, 3 * time.Second, twilio.Reason(20429)},
		{"429 with Retry-After date", func() reply {
			r := twilioError(429, 20429, "Too Many Requests")
			r.header = map[string]string{"Retry-After": now.Add(5 * time.Second).UTC().Format(http.TimeFormat)}
			return r
		}(), "20429", false, false, 5 * time.Second, twilio.Reason(20429)},
		{"429 with a day's Retry-After is capped", func() reply {
			r := twilioError(429, 20429, "Too Many Requests")
			r.header = map[string]string{"Retry-After": "86400"}
			return r
		}(), "20429", false, false, twilio.MaxRetryAfter, twilio.Reason(20429)},
		{"recorded 429", reply{status: 429, body: `{ "code": 20429, "message": "Too Many Requests" }`}, "20429", false, false, 0, twilio.Reason(20429)},
		{"500 with an HTML page", reply{status: 500, body: "<html>oops</html>"}, "http_500", false, false, 0, "Twilio answered 500 Internal Server Error"},
		{"503 with Twilio's JSON", twilioError(503, 20503, "Service Unavailable"), "20503", false, false, 0, "Service Unavailable"},
		{"queue full", twilioError(400, 21611, "This 'From' number has exceeded the maximum number of queued messages"), "21611", false, false, 0, twilio.Reason(21611)},
		{"invalid number", twilioError(400, 21211, "The 'To' number +14133881111 is not a valid phone number."), "21211", true, false, 0, twilio.Reason(21211)},
		{"opted out", twilioError(400, 21610, "Attempt to send to unsubscribed recipient"), "21610", true, true, 0, twilio.Reason(21610)},
		{"recorded opted out", reply{status: 400, body: `{ "code": 21610 }`}, "21610", true, true, 0, twilio.Reason(21610)},
		{"outside the WhatsApp window", twilioError(400, 63016, "Failed to send freeform message"), "63016", true, false, 0, twilio.Reason(63016)},
		{"geo permission", twilioError(400, 21408, "Permission to send an SMS has not been enabled"), "21408", true, false, 0, twilio.Reason(21408)},
		{"not a mobile number", twilioError(400, 21614, "'To' number is not a valid mobile number"), "21614", true, false, 0, twilio.Reason(21614)},
		{"catalogue title for other codes", twilioError(400, 21606, "x"), "21606", true, false, 0, twilio.Reason(21606)},
		{"unknown code: Twilio's message, number masked", twilioError(400, 99999, "Cannot reach +14133881111 today"), "99999", true, false, 0, "Cannot reach ********1111 today"},
		{"recorded 401 without a code", reply{status: 401, body: `{ "error": "out of credits" }`}, "http_401", true, false, 0, twilio.Reason(20003)},
		{"recorded code without a message", reply{status: 400, body: `{ "code": 1001 }`}, "1001", true, false, 0, "Twilio answered 400 Bad Request"},
		{"redirect", reply{status: 302, body: `{}`, header: map[string]string{"Location": "https://elsewhere.example.com/"}}, "http_302", true, false, 0, "Twilio answered 302 Found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStandIn(t, tt.reply)
			p := newProvider(t, providerConfig(s.URL), gateway.ChannelSMS)
			_, err := p.Send(context.Background(), outboundSMS("req-1", "hi"))
			var se *sender.Error
			if !errors.As(err, &se) {
				t.Fatalf("error %v (%T), want *sender.Error", err, err)
			}
			if se.Code != tt.code || se.Permanent != tt.permanent || se.OptedOut != tt.optedOut || se.RetryAfter != tt.retryAfter || se.Message != tt.reason {
				t.Errorf("got code %q permanent %v opted out %v retry after %v reason %q\nwant code %q permanent %v opted out %v retry after %v reason %q",
					se.Code, se.Permanent, se.OptedOut, se.RetryAfter, se.Message, tt.code, tt.permanent, tt.optedOut, tt.retryAfter, tt.reason)
			}
			if n := len(s.requests()); n != 1 {
				t.Errorf("%d requests, want 1 (the runner retries, not the provider)", n)
			}
		})
	}
}

// Records that cannot be sent are refused before anything reaches Twilio.
func TestProvider_RefusesBeforeCalling(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		out  gateway.Outbound
		code string
	}{
		{"other channel", gateway.Outbound{RequestID: "r", Channel: gateway.ChannelAPI, To: "x", Text: "hi"}, twilio.CodeWrongChannel},
		{"address not a number", func() gateway.Outbound { o := outboundSMS("r", "hi"); o.To = "+12-abc"; return o }(), twilio.CodeInvalidAddress},
		{"From cannot send", func() gateway.Outbound { o := outboundSMS("r", "hi"); o.From = "not a sender!"; return o }(), twilio.CodeNoSender},
		{"template variables not JSON", func() gateway.Outbound {
			o := outboundSMS("r", "hi")
			o.Template = &gateway.OutboundTemplate{Name: "t", TwilioContentSID: "HX1", TwilioContentVariables: "{1:"}
			return o
		}(), twilio.CodeInvalidTemplateVariables},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStandIn(t, created("SM1"))
			p := newProvider(t, providerConfig(s.URL), gateway.ChannelSMS)
			_, err := p.Send(context.Background(), tt.out)
			var se *sender.Error
			if !errors.As(err, &se) || !se.Permanent || se.Code != tt.code {
				t.Fatalf("error %v, want permanent %s", err, tt.code)
			}
			if n := len(s.requests()); n != 0 {
				t.Errorf("%d requests reached Twilio", n)
			}
		})
	}

	t.Run("whatsapp template without Content SID", func(t *testing.T) {
		t.Parallel()
		s := newStandIn(t, created("SM1"))
		p := newProvider(t, providerConfig(s.URL), gateway.ChannelWhatsApp)
		_, err := p.Send(context.Background(), gateway.Outbound{RequestID: "r", Channel: gateway.ChannelWhatsApp, To: "+14133881111",
			Text: "templated message", Template: &gateway.OutboundTemplate{Name: "revive_issue", Language: "en_US"}})
		var se *sender.Error
		if !errors.As(err, &se) || !se.Permanent || se.Code != twilio.CodeTemplateNotOnTwilio {
			t.Fatalf("error %v, want permanent %s", err, twilio.CodeTemplateNotOnTwilio)
		}
		if n := len(s.requests()); n != 0 {
			t.Errorf("%d requests reached Twilio", n)
		}
	})
}

// A 2xx is a send, even when its body has no readable MessageSid (the
// recorded "No SID" reply): sending again would duplicate it.
func TestProvider_AcceptedWithoutSID(t *testing.T) {
	t.Parallel()
	for _, r := range []reply{{status: 200, body: "{ }"}, {status: 201, body: "not json"}} {
		s := newStandIn(t, r)
		id, err := newProvider(t, providerConfig(s.URL), gateway.ChannelSMS).Send(context.Background(), outboundSMS("r", "hi"))
		if err != nil || id != "" {
			t.Errorf("reply %q: Send = %q, %v; want no id and no error", r.body, id, err)
		}
	}
}

// No answer within the send timeout after the request reached Twilio: the
// message may exist, and Twilio has no idempotency key, so the send fails
// as outcome unknown instead of being retried into a duplicate (R32).
func TestProvider_TimeoutAfterRequestIsOutcomeUnknown(t *testing.T) {
	t.Parallel()
	s := newStandIn(t, reply{block: true})
	cfg := providerConfig(s.URL)
	cfg.SendTimeout = 50 * time.Millisecond
	_, err := newProvider(t, cfg, gateway.ChannelSMS).Send(context.Background(), outboundSMS("r", "hi"))
	var se *sender.Error
	if !errors.As(err, &se) || !se.Permanent || se.Code != sender.CodeOutcomeUnknown {
		t.Fatalf("error %v, want permanent %s", err, sender.CodeOutcomeUnknown)
	}
	if !strings.Contains(se.Message, "send timeout") {
		t.Errorf("reason %q does not say it timed out", se.Message)
	}
}

// A request that never reached Twilio (nothing listening) is retried.
func TestProvider_ConnectionRefusedIsTemporary(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = newProvider(t, providerConfig("http://"+addr), gateway.ChannelSMS).Send(context.Background(), outboundSMS("r", "hi"))
	var se *sender.Error
	if !errors.As(err, &se) || se.Permanent || se.Code != twilio.CodeNetworkError {
		t.Fatalf("error %v, want temporary %s", err, twilio.CodeNetworkError)
	}
	if strings.Contains(se.Message, testAccountSID) {
		t.Errorf("reason %q repeats the URL with the account SID", se.Message)
	}
}

// A send whose context has ended is not started, and one whose context ends
// mid-call returns the context's error, which the runner treats as a
// shutdown, not a failure of the message.
func TestProvider_ContextEnds(t *testing.T) {
	t.Parallel()
	s := newStandIn(t, reply{block: true})
	p := newProvider(t, providerConfig(s.URL), gateway.ChannelSMS)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Send(ctx, outboundSMS("r", "hi")); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled before: error %v, want context.Canceled", err)
	}
	if n := len(s.requests()); n != 0 {
		t.Errorf("%d requests for a cancelled send", n)
	}

	ctx, cancel = context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := p.Send(ctx, outboundSMS("r", "hi"))
		errc <- err
	}()
	select {
	case <-s.arrived: // the stand-in holds the request
	case err := <-errc:
		t.Fatalf("Send returned %v before the stand-in saw the request", err)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled during: error %v, want context.Canceled", err)
	}
}

// A send waits for its sender's turn; when the context's deadline comes
// before that turn, the wait is refused at once as temporary, and nothing
// is sent.
func TestProvider_RateLimitWaitsForItsTurn(t *testing.T) {
	t.Parallel()
	s := newStandIn(t, created("SM1"))
	cfg := providerConfig(s.URL)
	cfg.Numbers[0].Rate = 0.001 // one message per 1000 s
	p := newProvider(t, cfg, gateway.ChannelSMS)
	if _, err := p.Send(context.Background(), outboundSMS("r1", "hi")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := p.Send(ctx, outboundSMS("r2", "hi"))
	var se *sender.Error
	if !errors.As(err, &se) || se.Permanent || se.Code != twilio.CodeRateLimitWait {
		t.Fatalf("error %v, want temporary %s", err, twilio.CodeRateLimitWait)
	}
	if n := len(s.requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestNewProvider_Refuses(t *testing.T) {
	t.Parallel()
	noWhatsApp := testConfig(public)
	noWhatsApp.Numbers = noWhatsApp.Numbers[:1]
	for name, tc := range map[string]struct {
		cfg  twilio.Config
		ch   gateway.Channel
		want string
	}{
		"disabled":             {twilio.Config{}, gateway.ChannelSMS, "AccountSID"},
		"no number":            {noWhatsApp, gateway.ChannelWhatsApp, "Numbers"},
		"not a Twilio channel": {testConfig(public), gateway.ChannelAPI, "api"},
		"invalid":              {func() twilio.Config { c := testConfig(public); c.AuthToken = "not-alnum"; return c }(), gateway.ChannelSMS, "AuthToken"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := twilio.NewProvider(tc.cfg, tc.ch, twilio.ProviderOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: error %v, want one naming %s", name, err, tc.want)
			}
		})
	}
}

// Through the shared runner, as the sender role runs it: temporary answers
// are retried until Twilio accepts, permanent ones fail the message with
// Twilio's code at once, an unknown outcome is not retried, and a
// redelivered record is not sent again (R32).
func TestR32_ProviderThroughTheRunner(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		replies  []reply
		timeout  time.Duration
		requests int
		want     gateway.Status
	}{
		{"success", []reply{created("SM1")}, 0, 1,
			gateway.Status{ProviderID: "SM1", Status: gateway.StatusSent}},
		{"429 then success", []reply{twilioError(429, 20429, "Too Many Requests"), created("SM2")}, 0, 2,
			gateway.Status{ProviderID: "SM2", Status: gateway.StatusSent}},
		{"5xx twice then success", []reply{{status: 502, body: "bad gateway"}, twilioError(503, 20503, "Service Unavailable"), created("SM3")}, 0, 3,
			gateway.Status{ProviderID: "SM3", Status: gateway.StatusSent}},
		{"invalid number", []reply{twilioError(400, 21211, "Invalid 'To' Phone Number")}, 0, 1,
			gateway.Status{Status: gateway.StatusFailed, ErrorCode: "21211", ErrorMessage: twilio.Reason(21211)}},
		{"opted out", []reply{twilioError(400, 21610, "Attempt to send to unsubscribed recipient")}, 0, 1,
			gateway.Status{Status: gateway.StatusFailed, ErrorCode: "21610", ErrorMessage: twilio.Reason(21610)}},
		{"timeout", []reply{{block: true}}, 50 * time.Millisecond, 1,
			gateway.Status{Status: gateway.StatusFailed, ErrorCode: sender.CodeOutcomeUnknown}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStandIn(t, tt.replies...)
			cfg := providerConfig(s.URL)
			if tt.timeout > 0 {
				cfg.SendTimeout = tt.timeout
			}
			log, sink := &sendertest.SendLog{}, &sendertest.StatusSink{}
			r, err := sender.New(sender.Config{
				Provider: newProvider(t, cfg, gateway.ChannelSMS), Log: log, Publisher: sink, Topics: topics,
				Source: twilio.EventSource, Now: func() time.Time { return now }, InitialBackoff: time.Millisecond, MaxElapsed: 10 * time.Second,
			})
			if err != nil {
				t.Fatal(err)
			}
			rec, err := outboundSMS("req-7", "hello").Record("test", topics.Name(gateway.TopicOutbound))
			if err != nil {
				t.Fatal(err)
			}
			for range 2 { // the second is Kafka redelivering the record
				if err := r.HandleBatch(context.Background(), []gateway.Message{rec}); err != nil {
					t.Fatal(err)
				}
			}
			if n := len(s.requests()); n != tt.requests {
				t.Errorf("%d requests reached Twilio, want %d", n, tt.requests)
			}
			if len(sink.Statuses()) != 2 {
				t.Fatalf("%d statuses, want 2 (one per delivery of the record)", len(sink.Statuses()))
			}
			for _, got := range sink.Statuses() {
				if got.RequestID != "req-7" || got.Contact != "+14133881111" || got.ProviderID != tt.want.ProviderID ||
					got.Status != tt.want.Status || got.ErrorCode != tt.want.ErrorCode ||
					(tt.want.ErrorMessage != "" && got.ErrorMessage != tt.want.ErrorMessage) {
					t.Errorf("status %+v, want %+v", got, tt.want)
				}
			}
		})
	}
}

// The REST replies recorded from courier's send tests, classified.
func TestRecordedSendReplies(t *testing.T) {
	t.Parallel()
	want := map[string]string{ // label → outcome
		"Plain Send":           "sent 1002",
		"Throttled":            "temporary 20429",
		"Error Sending":        "permanent http_401",
		"Error Code":           "permanent 1001",
		"Stopped Contact Code": "permanent 21610 opted out",
		"No SID":               "sent ",
	}
	for _, c := range fixtures(t).OutgoingSend {
		t.Run(c.Label, func(t *testing.T) {
			outcome, ok := want[c.Label]
			if c.Group != "T" || !ok {
				return
			}
			delete(want, c.Label)
			var rep reply
			for _, rs := range c.Responses {
				rep = reply{status: rs[0].Status, body: rs[0].Body}
			}
			s := newStandIn(t, rep)
			id, err := newProvider(t, providerConfig(s.URL), gateway.ChannelSMS).Send(context.Background(), outboundSMS("r", "hi"))
			got := "sent " + id
			var se *sender.Error
			if errors.As(err, &se) {
				got = map[bool]string{true: "permanent ", false: "temporary "}[se.Permanent] + se.Code
				if se.OptedOut {
					got += " opted out"
				}
			} else if err != nil {
				got = err.Error()
			}
			if got != outcome {
				t.Errorf("%s: %q, want %q", c.Label, got, outcome)
			}
		})
	}
	for label := range want {
		t.Errorf("%s: not in testdata", label)
	}
}

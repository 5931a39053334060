package twilio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/sender"
)

// ProviderOptions are the collaborators of a Provider.
type ProviderOptions struct {
	// Transport carries the REST calls. Default: a clone of
	// http.DefaultTransport. Requests to *.twilio.com are sent to
	// Config.APIURL when that is not DefaultAPIURL.
	Transport http.RoundTripper
	// Logger receives sends whose answer could not be read. Default: discard.
	Logger *slog.Logger
	// Now resolves an HTTP-date Retry-After. Default time.Now.
	Now func() time.Time
}

// Provider sends the outbound messages of one channel (SMS or WhatsApp)
// through Twilio's Messages API. It implements sender.Provider: run it with
// sender.New(sender.Config{Provider: p, Source: EventSource, …}). Safe for
// concurrent use; the rate limits are shared by all its sends.
type Provider struct {
	channel    gateway.Channel
	accountSID string
	username   string
	password   string
	apiURL     *url.URL // nil: requests go to Twilio itself
	statusURL  string
	timeout    time.Duration
	origins    []Origin
	byAddress  map[string]Origin
	transport  http.RoundTripper
	limits     *limiters
	logger     *slog.Logger
	now        func() time.Time
}

var _ sender.Provider = (*Provider)(nil)

// NewProvider returns the Provider of ch (gateway.ChannelSMS or
// gateway.ChannelWhatsApp) for an Enabled, valid cfg with at least one
// number or messaging service on ch. Sends authenticate with the API key
// when one is set, else with the auth token.
func NewProvider(cfg Config, ch gateway.Channel, opts ProviderOptions) (*Provider, error) {
	cfg = cfg.WithDefaults()
	if !cfg.Enabled() {
		return nil, gateway.ConfigErrorf("AccountSID", "required to send through Twilio")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if ch != gateway.ChannelSMS && ch != gateway.ChannelWhatsApp {
		return nil, fmt.Errorf("twilio provider: channel %q: want sms or whatsapp", ch)
	}
	origins := cfg.Origins(ch)
	if len(origins) == 0 {
		return nil, gateway.ConfigErrorf("Numbers", "no %s number (or messaging service) to send from", ch)
	}
	p := &Provider{
		channel:    ch,
		accountSID: cfg.AccountSID,
		username:   cfg.AccountSID,
		password:   cfg.AuthToken,
		statusURL:  cfg.PublicURL + StatusPath,
		timeout:    cfg.SendTimeout,
		origins:    origins,
		byAddress:  make(map[string]Origin, len(origins)),
		transport:  opts.Transport,
		limits:     newLimiters(),
		logger:     opts.Logger,
		now:        opts.Now,
	}
	if cfg.APIKey != "" {
		p.username, p.password = cfg.APIKey, cfg.APISecret
	}
	if cfg.APIURL != DefaultAPIURL {
		u, err := url.Parse(cfg.APIURL)
		if err != nil {
			return nil, &gateway.ConfigError{Field: "APIURL", Err: err}
		}
		p.apiURL = u
	}
	for _, o := range origins {
		p.byAddress[o.Address] = o
	}
	if p.transport == nil {
		p.transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	if p.logger == nil {
		p.logger = slog.New(slog.DiscardHandler)
	}
	if p.now == nil {
		p.now = time.Now
	}
	return p, nil
}

// Channel returns the channel whose outbound records p sends.
func (p *Provider) Channel() gateway.Channel { return p.channel }

// Send sends out with CreateMessage and returns Twilio's MessageSid:
//
//   - From is out.From when given (a configured number or messaging service,
//     or any other sender of the account at the default rate of its kind),
//     else the channel's first messaging service, else its first number;
//   - a template with a Twilio Content SID is sent as ContentSid and
//     ContentVariables, anything else as Body; MediaURLs as MediaUrl;
//   - StatusCallback is the public URL's /webhooks/twilio/status with the
//     request id in QueryRequestID.
//
// It first waits for the sender's rate limit. Errors are *sender.Error
// (docs/twilio.md lists the classification): temporary for 429/20429,
// 21611, 5xx and failures before the request reached Twilio, honouring
// Retry-After; permanent for other 4xx with Twilio's code and a readable
// reason, OptedOut for 21610; permanent sender.CodeOutcomeUnknown when
// Twilio may have the message but did not answer. When ctx ends, the error
// wraps ctx.Err(). A 2xx whose body cannot be read counts as sent, with an
// empty id: the status callbacks carry the request id and the SID.
func (p *Provider) Send(ctx context.Context, out gateway.Outbound) (string, error) {
	if out.Channel != p.channel {
		return "", sender.Permanent(CodeWrongChannel, fmt.Sprintf("channel %q is not %q", out.Channel, p.channel))
	}
	params, origin, units, err := p.params(out)
	if err != nil {
		return "", err
	}
	// twilio-go takes no context: do not start what nobody waits for.
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("twilio send: %w", err)
	}
	if err := p.limits.wait(ctx, origin, units); err != nil {
		return "", err
	}
	return p.create(ctx, params)
}

// params builds the CreateMessage parameters of out, the origin it is sent
// from and the rate-limit units it takes.
func (p *Provider) params(out gateway.Outbound) (*openapi.CreateMessageParams, Origin, int, error) {
	to, err := normalizeAddress(out.To)
	if err != nil {
		return nil, Origin{}, 0, sender.Permanent(CodeInvalidAddress, "the contact's address cannot be sent to: "+err.Error())
	}
	origin, err := p.origin(out.From)
	if err != nil {
		return nil, Origin{}, 0, err
	}
	params := &openapi.CreateMessageParams{}
	params.SetTo(twilioAddress(p.channel, to))
	if origin.Service {
		params.SetMessagingServiceSid(origin.Address)
	} else {
		params.SetFrom(twilioAddress(p.channel, origin.Address))
	}
	params.SetStatusCallback(p.statusURL + "?" + QueryRequestID + "=" + url.QueryEscape(out.RequestID))

	units := 1
	switch t := out.Template; {
	case t != nil && t.TwilioContentSID != "":
		params.SetContentSid(t.TwilioContentSID)
		if vars := strings.TrimSpace(t.TwilioContentVariables); vars != "" {
			var obj map[string]any
			if err := json.Unmarshal([]byte(vars), &obj); err != nil {
				return nil, Origin{}, 0, sender.Permanent(CodeInvalidTemplateVariables,
					fmt.Sprintf("template %q: its Twilio content variables are not a JSON object", t.Name))
			}
			params.SetContentVariables(vars)
		}
	case t != nil && p.channel == gateway.ChannelWhatsApp:
		// Its Text would be a free-form message, which WhatsApp refuses
		// outside the window: the reason to send a template at all.
		return nil, Origin{}, 0, sender.Permanent(CodeTemplateNotOnTwilio,
			fmt.Sprintf("template %q (%s) has no Twilio Content SID; add it to the template to send it on WhatsApp", t.Name, t.Language))
	case out.Text != "":
		params.SetBody(out.Text)
		if p.channel == gateway.ChannelSMS && len(out.MediaURLs) == 0 {
			units = smsSegments(out.Text)
		}
	}
	if len(out.MediaURLs) > 0 {
		params.SetMediaUrl(out.MediaURLs)
	}
	return params, origin, units, nil
}

// origin picks the sender of a message whose Outbound.From is from.
func (p *Provider) origin(from string) (Origin, error) {
	from = strings.TrimSpace(from)
	if from == "" {
		return p.origins[0], nil
	}
	from = strings.TrimPrefix(from, whatsappPrefix)
	if o, ok := p.byAddress[from]; ok {
		return o, nil
	}
	service := isServiceSID(from)
	addr, err := normalizeOrigin(p.channel, from, service)
	if err != nil {
		return Origin{}, sender.Permanent(CodeNoSender, "the From address cannot send on "+string(p.channel)+": "+err.Error())
	}
	if o, ok := p.byAddress[addr]; ok {
		return o, nil
	}
	// A sender of the account that is not configured (say, a number a
	// contact wrote to that ops have not listed yet): answer from it, so
	// the contact sees one conversation, at the default rate of its kind.
	return Origin{Channel: p.channel, Address: addr, Service: service}, nil
}

// isServiceSID reports whether s has the shape of a messaging service SID:
// "MG" and 32 hex digits. A shorter "MG…" may be an alphanumeric sender ID.
func isServiceSID(s string) bool {
	if len(s) != 34 || !strings.HasPrefix(s, "MG") {
		return false
	}
	for _, r := range s[2:] {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F') {
			return false
		}
	}
	return true
}

// errSendTimeout is the cause of a call's context when SendTimeout passed.
var errSendTimeout = errors.New("twilio send timed out")

// create makes one CreateMessage call bounded by ctx and the send timeout.
// twilio-go has no context parameter, so each call gets its own small
// client whose transport binds the request to the context, records what
// happened on the wire (status, headers, whether the request was written)
// and sends *.twilio.com requests to Config.APIURL.
func (p *Provider) create(ctx context.Context, params *openapi.CreateMessageParams) (string, error) {
	cctx, cancel := context.WithTimeoutCause(ctx, p.timeout, errSendTimeout)
	defer cancel()
	rt := &callTransport{ctx: cctx, base: p.transport, api: p.apiURL}
	c := &client.Client{
		Credentials: client.NewCredentials(p.username, p.password),
		HTTPClient: &http.Client{
			Transport:     rt,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	c.SetAccountSid(p.accountSID)
	msg, err := openapi.NewApiServiceWithClient(c).CreateMessage(params)
	at := rt.finish()

	if at.status/100 == 2 {
		sid := ""
		if msg != nil && msg.Sid != nil {
			sid = *msg.Sid
		}
		if sid == "" {
			// Accepted, so not to be sent again; the status callbacks
			// carry the request id, and with it the SID.
			p.logger.WarnContext(ctx, "twilio send: accepted without a readable MessageSid", "http_status", at.status, "error", err)
		}
		return sid, nil
	}
	if ctx.Err() != nil {
		at.parentDone = ctx.Err()
	}
	at.timedOut = errors.Is(context.Cause(cctx), errSendTimeout)
	return "", classify(err, at, p.now())
}

// callTransport is the RoundTripper of one CreateMessage call.
type callTransport struct {
	ctx   context.Context
	base  http.RoundTripper
	api   *url.URL
	wrote atomic.Bool

	mu   sync.Mutex
	resp *http.Response
}

func (t *callTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := httptrace.WithClientTrace(t.ctx, &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				t.wrote.Store(true)
			}
		},
	})
	r := req.Clone(ctx)
	if t.api != nil && isTwilioHost(r.URL.Hostname()) {
		r.URL.Scheme, r.URL.Host, r.Host = t.api.Scheme, t.api.Host, ""
		if prefix := strings.TrimRight(t.api.Path, "/"); prefix != "" {
			r.URL.Path, r.URL.RawPath = prefix+r.URL.Path, ""
		}
	}
	resp, err := t.base.RoundTrip(r)
	if resp != nil {
		t.mu.Lock()
		t.resp = resp
		t.mu.Unlock()
	}
	return resp, err
}

// finish closes the answer's body, which twilio-go leaves open on errors,
// and reports what the call saw.
func (t *callTransport) finish() attempt {
	t.mu.Lock()
	defer t.mu.Unlock()
	at := attempt{wrote: t.wrote.Load()}
	if t.resp != nil {
		at.status, at.header = t.resp.StatusCode, t.resp.Header
		// Drain a little so the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(t.resp.Body, 4<<10))
		_ = t.resp.Body.Close()
	}
	return at
}

func isTwilioHost(host string) bool {
	return host == "twilio.com" || strings.HasSuffix(host, ".twilio.com")
}

package cloudapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/sender"
)

// ProviderOptions are the collaborators of a Provider.
type ProviderOptions struct {
	// Client calls the Graph API. Default: NewClient(cfg, ClientOptions{}).
	Client *Client
	// Publisher, when set, receives a chatgate.channel.state record on the
	// status topic (Topics) whenever a number's state changes; best effort,
	// the gauge and the log always tell.
	Publisher gateway.Publisher
	Topics    gateway.Topics
	// Logger receives state changes and unreadable answers. Default: discard.
	Logger *slog.Logger
	// Now stamps state changes and drives the rate limits' pauses. Default time.Now.
	Now func() time.Time
}

// Provider sends the outbound WhatsApp messages of the Cloud API's
// business numbers. It implements sender.Provider: run it with
// sender.New(sender.Config{Provider: p, Source: EventSource, …}). Safe for
// concurrent use; rate limits and states are shared by all its sends.
//
// Its Channel is WhatsApp, which other providers (linked device, Twilio)
// also send on: the wiring routes each record to the provider that Serves
// its From.
type Provider struct {
	cfg       Config
	client    *Client
	limits    *limiters
	noPreview bool
	pub       gateway.Publisher
	topics    gateway.Topics
	logger    *slog.Logger
	now       func() time.Time

	mu       sync.Mutex
	states   map[string]State
	progress map[string]*progress // multi-message sends under way, by request id
}

// progress remembers the messages of one outbound record already sent, so
// the runner's retry after a temporary error does not send them again.
type progress struct {
	done   int
	lastID string
	at     time.Time
}

var _ sender.Provider = (*Provider)(nil)

// NewProvider returns the provider of a valid cfg with AccessToken and at
// least one number.
func NewProvider(cfg Config, opts ProviderOptions) (*Provider, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(cfg.Numbers) == 0 {
		return nil, errors.New("cloudapi config: Numbers: at least one business number is required to send")
	}
	if opts.Client == nil {
		c, err := NewClient(cfg, ClientOptions{Now: opts.Now})
		if err != nil {
			return nil, err
		}
		opts.Client = c
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	p := &Provider{
		cfg: cfg, client: opts.Client, noPreview: cfg.NoLinkPreview,
		limits: newLimiters(cfg.PairInterval, cfg.PairBurst, opts.Now),
		pub:    opts.Publisher, topics: opts.Topics, logger: opts.Logger, now: opts.Now,
		states: map[string]State{}, progress: map[string]*progress{},
	}
	for _, n := range cfg.Numbers {
		setStateGauge(n.PhoneNumberID, StateOK)
	}
	return p, nil
}

// Channel returns gateway.ChannelWhatsApp.
func (p *Provider) Channel() gateway.Channel { return gateway.ChannelWhatsApp }

// Serves reports whether from (an outbound record's From: a configured
// Address or PhoneNumberID) is one of the provider's numbers. The empty
// From is served by the first number.
func (p *Provider) Serves(from string) bool {
	if strings.TrimSpace(from) == "" {
		return true
	}
	_, ok := p.cfg.Number(from)
	return ok
}

// State returns the state of the number phoneNumberID: StateOK until an
// answer of Meta says otherwise.
func (p *Provider) State(phoneNumberID string) State {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s, ok := p.states[phoneNumberID]; ok {
		return s
	}
	return StateOK
}

// Send sends out from the number its From names (the first number when
// empty) and returns the wamid of the last message it took. A record may
// take several messages (attachments, then the text; text over 4,096
// characters); a retry after a temporary error goes on after the last one
// sent. Every message carries the request id as biz_opaque_callback_data,
// so their statuses name it.
//
// It first waits for the contact's pair limit and the number's
// throughput. Errors are *sender.Error: CodeWindowClosed for 131047;
// temporary for rate limits (130429, 131056, 80007, 4, 613, HTTP 429),
// 5xx and failures before the request left, waiting what Meta asks;
// permanent with Meta's code and a readable reason otherwise, and for
// token and account errors the number's State changes (docs/cloudapi.md).
// A request that left without an answer is not sent again:
// sender.CodeOutcomeUnknown, as the runner does for a sender that died.
func (p *Provider) Send(ctx context.Context, out gateway.Outbound) (string, error) {
	if out.Channel != gateway.ChannelWhatsApp {
		return "", sender.Permanent(CodeWrongChannel, fmt.Sprintf("channel %q is not whatsapp", out.Channel))
	}
	num, err := p.number(out.From)
	if err != nil {
		return "", err
	}
	to, userID, err := recipientOf(out.To)
	if err != nil {
		return "", sender.Permanent(CodeInvalidAddress, "the contact's address cannot be sent to: "+err.Error())
	}
	msgs, err := p.build(out)
	if err != nil {
		return "", err
	}
	callback := ""
	if len(callbackPrefix)+len(out.RequestID) <= maxCallbackData {
		callback = callbackPrefix + out.RequestID
	}
	for i := range msgs {
		m := &msgs[i]
		m.MessagingProduct, m.RecipientType, m.To, m.Recipient, m.CallbackData = "whatsapp", "individual", to, userID, callback
	}
	if out.ReplyTo != "" {
		msgs[0].Context = &outContext{MessageID: out.ReplyTo}
	}

	pr := p.takeProgress(out.RequestID)
	recipient := to + userID
	for i := pr.done; i < len(msgs); i++ {
		if err := p.limits.wait(ctx, num, recipient); err != nil {
			p.keepProgress(out.RequestID, pr)
			return "", err
		}
		res, err := p.client.SendMessage(ctx, num.PhoneNumberID, msgs[i])
		if err != nil {
			if e := p.sendError(ctx, err, num, recipient); e != nil {
				var se *sender.Error
				permanent := errors.As(e, &se) && se.Permanent
				if !permanent {
					p.keepProgress(out.RequestID, pr)
				} else if i > 0 {
					se.Message = fmt.Sprintf("%s (after %d of %d messages of this reply were sent)", se.Message, i, len(msgs))
				}
				return "", e
			}
		}
		p.setState(ctx, num, StateOK, "")
		pr.done, pr.lastID = i+1, res.MessageID
		if res.MessageID == "" {
			// Accepted, so not to be sent again; the statuses carry the
			// request id, and with it the wamid.
			p.logger.WarnContext(ctx, "cloudapi send: accepted without a message id", "request_id", out.RequestID, "phone_number_id", num.PhoneNumberID)
		}
	}
	return pr.lastID, nil
}

// number picks the business number of an outbound record's From.
func (p *Provider) number(from string) (Number, error) {
	if strings.TrimSpace(from) == "" {
		return p.cfg.Numbers[0], nil
	}
	if n, ok := p.cfg.Number(from); ok {
		return n, nil
	}
	return Number{}, sender.Permanent(CodeNoSender, fmt.Sprintf("%s is not a business number of the Cloud API configuration", gateway.Mask(from)))
}

// sendError classifies a failed call, slows down what Meta asked to, and
// records the number's state.
func (p *Provider) sendError(ctx context.Context, err error, num Number, recipient string) error {
	var ge *GraphError
	var te *TransportError
	var ae *answerError
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("cloudapi send: %w", ctx.Err())
	case errors.As(err, &ge):
		c := classify(ge, p.cfg.PairInterval)
		p.limits.pause(c.pause, num, recipient, c.wait)
		if c.state != "" {
			p.setState(ctx, num, c.state, c.err.Message)
		}
		return c.err
	case errors.As(err, &te) && te.Wrote:
		return sender.Permanent(sender.CodeOutcomeUnknown,
			"no answer after the request reached Meta ("+transportCause(te.Err)+"); the message may have been sent, so it is not sent again")
	case errors.As(err, &te):
		return sender.Temporary(CodeNetworkError, "the request did not reach Meta: "+transportCause(te.Err), 0)
	case errors.As(err, &ae):
		// A 2xx is a sent message even if its answer is garbled.
		p.logger.WarnContext(ctx, "cloudapi send: answer not readable", "phone_number_id", num.PhoneNumberID, "error", err)
		return nil
	}
	return sender.Permanent(sender.CodeInvalidRecord, err.Error())
}

func (p *Provider) takeProgress(requestID string) progress {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	for id, pr := range p.progress {
		if now.Sub(pr.at) > time.Hour {
			delete(p.progress, id)
		}
	}
	pr, ok := p.progress[requestID]
	if !ok {
		return progress{}
	}
	delete(p.progress, requestID)
	return *pr
}

func (p *Provider) keepProgress(requestID string, pr progress) {
	if pr.done == 0 || requestID == "" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	pr.at = p.now()
	p.progress[requestID] = &pr
}

// setState records a number's state; a change is logged (an error for
// every state but ok), set on the gauge and published when a Publisher is
// configured.
func (p *Provider) setState(ctx context.Context, num Number, s State, reason string) {
	p.mu.Lock()
	prev, known := p.states[num.PhoneNumberID]
	p.states[num.PhoneNumberID] = s
	p.mu.Unlock()
	if !known {
		prev = StateOK
	}
	if prev == s {
		return
	}
	setStateGauge(num.PhoneNumberID, s)
	level := slog.LevelError
	if s == StateOK {
		level = slog.LevelInfo
	}
	p.logger.Log(ctx, level, "cloudapi number state", "phone_number_id", num.PhoneNumberID, "state", s, "code", s.Code(),
		"reason", reason, "action", operatorAction(s))
	if p.pub == nil {
		return
	}
	ev := ChannelState{Channel: gateway.ChannelWhatsApp, Provider: ProviderName, PhoneNumberID: num.PhoneNumberID,
		State: s, Code: s.Code(), Reason: reason, Action: operatorAction(s), At: p.now().UTC()}
	m, err := ev.Record(EventSource, p.topics.Name(gateway.TopicStatus))
	if err == nil {
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		err = p.pub.Publish(pctx, m)
		cancel()
	}
	if err != nil {
		p.logger.WarnContext(ctx, "cloudapi: state event not published", "phone_number_id", num.PhoneNumberID, "error", err)
	}
}

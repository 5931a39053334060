package api

// The outbound side of the API channel: Sender POSTs each outbound message
// for an API-channel contact to the callback URL the operator configured,
// signed with HMAC-SHA256, and classifies the answer for the shared
// sender.Runner, which claims request ids, retries and publishes statuses.
// docs/api-channel.md is the integrator's view of the same contract.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/sender"
)

// Headers of a callback request.
const (
	// HeaderRequestID carries the outbound request id, the message's
	// idempotency key: a receiver that sees it twice must not act twice.
	HeaderRequestID = "X-Chatgate-Request-Id"
	// HeaderTimestamp carries the time of signing, in Unix seconds.
	HeaderTimestamp = "X-Chatgate-Timestamp"
	// HeaderSignature carries SignaturePrefix followed by the lowercase hex
	// HMAC-SHA256, keyed with the secret, of timestamp + "." + body.
	HeaderSignature = "X-Chatgate-Signature"
	// SignaturePrefix names the MAC algorithm in HeaderSignature.
	SignaturePrefix = "sha256="
)

const (
	// DefaultCallbackTimeout bounds one callback attempt when
	// SenderConfig.Timeout is 0.
	DefaultCallbackTimeout = 10 * time.Second
	// DefaultSignatureTolerance is how far a callback's timestamp may be
	// from the receiver's clock, when VerifySignature is given 0.
	DefaultSignatureTolerance = 5 * time.Minute
	// MinSecretLen is the shortest callback secret accepted, in bytes: a
	// short key makes the signature guessable offline.
	MinSecretLen = 16
	// MaxRetryAfter caps a callback's Retry-After, so one receiver asking
	// for a day's pause cannot hold a partition of the outbound topic for
	// that long; the runner's own backoff still applies below it.
	MaxRetryAfter = 2 * time.Minute
	// UserAgent is the User-Agent of callback requests.
	UserAgent = "chatgate-api-channel/1"

	// maxReasonBytes is how much of a refusing callback's body becomes the
	// failure reason kept on the message.
	maxReasonBytes = 200
	// maxResponseBytes is how much of a response is read at all; the rest
	// is discarded with the connection.
	maxResponseBytes = 64 << 10
)

// Error codes of the sender.Error values Sender returns. A refusal by the
// callback has the code "http_<status>", e.g. "http_404".
const (
	CodeTimeout      = "timeout"       // the attempt took longer than SenderConfig.Timeout
	CodeNetworkError = "network_error" // no HTTP answer: DNS, connect, TLS, reset
	CodeWrongChannel = "wrong_channel" // the record is not for the API channel
	CodeInvalidBody  = "invalid_body"  // the record could not be encoded as JSON
	CodeInvalidURL   = "invalid_url"   // the callback URL cannot be requested
)

// Errors VerifySignature returns, wrapped with the detail.
var (
	// ErrSignatureInvalid: the signature or timestamp header is missing or
	// malformed, or the signature does not match the body, timestamp and
	// secret. Answer 401.
	ErrSignatureInvalid = errors.New("api callback signature invalid")
	// ErrSignatureExpired: the signature matches but its timestamp is
	// further from now than the tolerance, so it may be a replay. Answer 401.
	ErrSignatureExpired = errors.New("api callback signature expired")
)

// SenderConfig configures the API channel's Sender. Fill it in code
// (cmd/chatgate reads it from the environment, docs/configuration.md names
// each variable), then call WithDefaults and Validate; NewSender does both.
// Validate's problems are *gateway.ConfigError values naming the field.
type SenderConfig struct {
	// CallbackURL is where outbound messages are POSTed; http or https.
	// Empty: the channel sends nothing (Enabled is false).
	CallbackURL string
	// Secret is the HMAC-SHA256 key of HeaderSignature, at least
	// MinSecretLen bytes; required with CallbackURL.
	Secret string
	// Timeout bounds one attempt (connect, request, reading the answer).
	// Default DefaultCallbackTimeout.
	Timeout time.Duration
	// Client sends the requests. Default: a client that does not follow
	// redirects, since a redirected POST would lose its body or method.
	Client *http.Client
	// Now stamps HeaderTimestamp and resolves an HTTP-date Retry-After.
	// Default time.Now.
	Now func() time.Time
}

// Enabled reports whether a callback URL is configured, that is whether the
// sender role should run a Sender for the API channel.
func (c SenderConfig) Enabled() bool { return c.CallbackURL != "" }

// WithDefaults returns c with every unset optional field set to its default.
func (c SenderConfig) WithDefaults() SenderConfig {
	if c.Timeout == 0 {
		c.Timeout = DefaultCallbackTimeout
	}
	if c.Client == nil {
		c.Client = &http.Client{
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate checks the fields, returning one *gateway.ConfigError per
// problem (joined). A config without a callback URL is valid (and not
// Enabled).
func (c SenderConfig) Validate() error {
	var errs []error
	if c.CallbackURL != "" {
		if err := validateCallbackURL(c.CallbackURL); err != nil {
			errs = append(errs, &gateway.ConfigError{Field: "CallbackURL", Err: err})
		}
		switch {
		case c.Secret == "":
			errs = append(errs, gateway.ConfigErrorf("Secret", "required with a callback URL"))
		case len(c.Secret) < MinSecretLen:
			errs = append(errs, gateway.ConfigErrorf("Secret", "must be at least %d bytes (try: openssl rand -hex 32)", MinSecretLen))
		}
	}
	if c.Timeout < 0 {
		errs = append(errs, gateway.ConfigErrorf("Timeout", "must be positive, got %s", c.Timeout))
	}
	return errors.Join(errs...)
}

func validateCallbackURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the URL, which may carry a token; say less.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("not a URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("scheme %q: must be http or https", u.Scheme)
	}
	if u.Host == "" {
		return errors.New("has no host")
	}
	return nil
}

// Callback is the JSON body POSTed to the callback URL for one outbound
// message. Every field is always present; docs/api-channel.md documents it.
type Callback struct {
	// RequestID is the send's idempotency key; also in HeaderRequestID.
	RequestID string `json:"request_id"`
	// ConversationID and MessageID are chatgate's ids; 0 when the message
	// belongs to no conversation.
	ConversationID int64 `json:"conversation_id"`
	MessageID      int64 `json:"message_id"`
	// To is the contact's address, as it arrived in the inbound "from".
	To string `json:"to"`
	// From is the business address to send from; "" for the default.
	From string `json:"from"`
	// Text is the rendered text, also for templates.
	Text string `json:"text"`
	// Template names the template Text was rendered from; nil for free text.
	Template *CallbackTemplate `json:"template"`
	// MediaURLs lists attachments to fetch; empty, never null.
	MediaURLs []string `json:"media_urls"`
	// CreatedAt is when chatgate decided to send, in UTC.
	CreatedAt time.Time `json:"created_at"`
}

// CallbackTemplate identifies the template a Callback's text came from.
type CallbackTemplate struct {
	Name     string `json:"name"`
	Language string `json:"language"`
}

// NewCallback builds the callback body of out. Provider references of the
// template (Twilio, WhatsApp) are left out: they mean nothing to an API
// channel, and Text already holds the rendered message.
func NewCallback(out gateway.Outbound) Callback {
	cb := Callback{
		RequestID:      out.RequestID,
		ConversationID: out.ConversationID,
		MessageID:      out.MessageID,
		To:             out.To,
		From:           out.From,
		Text:           out.Text,
		MediaURLs:      append([]string{}, out.MediaURLs...),
		CreatedAt:      out.CreatedAt.UTC(),
	}
	if out.Template != nil {
		cb.Template = &CallbackTemplate{Name: out.Template.Name, Language: out.Template.Language}
	}
	return cb
}

// Sign returns the HeaderSignature value for body signed at timestamp (Unix
// seconds, as sent in HeaderTimestamp). Receivers should use VerifySignature,
// which also checks the timestamp's age and compares in constant time.
func Sign(secret, timestamp string, body []byte) string {
	return SignaturePrefix + hex.EncodeToString(mac(secret, timestamp, body))
}

func mac(secret, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// VerifySignature checks a callback as its receiver must: header (the
// HeaderSignature value) is the HMAC-SHA256 of timestamp + "." + body under
// secret, and timestamp (the HeaderTimestamp value) is within tolerance of
// now, in either direction. tolerance <= 0 means DefaultSignatureTolerance.
// body must be the raw bytes received, before any JSON decoding. The error
// wraps ErrSignatureInvalid or ErrSignatureExpired.
func VerifySignature(secret, timestamp string, body []byte, header string, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultSignatureTolerance
	}
	if secret == "" {
		return fmt.Errorf("%w: no secret to verify with", ErrSignatureInvalid)
	}
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil || timestamp == "" || timestamp[0] == '+' || timestamp[0] == '-' {
		return fmt.Errorf("%w: timestamp %q is not Unix seconds", ErrSignatureInvalid, truncate(timestamp, 32))
	}
	hexSum, ok := strings.CutPrefix(header, SignaturePrefix)
	if !ok {
		return fmt.Errorf("%w: signature does not start with %q", ErrSignatureInvalid, SignaturePrefix)
	}
	got, err := hex.DecodeString(hexSum)
	if err != nil || len(got) != sha256.Size {
		return fmt.Errorf("%w: signature is not %d hex digits", ErrSignatureInvalid, 2*sha256.Size)
	}
	if !hmac.Equal(got, mac(secret, timestamp, body)) {
		return fmt.Errorf("%w: signature does not match", ErrSignatureInvalid)
	}
	// Checked after the MAC, so an attacker learns nothing about the clock
	// from a forged request.
	age := now.Sub(time.Unix(sec, 0))
	if age > tolerance || age < -tolerance {
		return fmt.Errorf("%w: timestamp is %s from now, more than %s", ErrSignatureExpired, age.Truncate(time.Second), tolerance)
	}
	return nil
}

// Sender sends the outbound messages of API-channel contacts to the
// configured callback URL. It implements sender.Provider; run it with
// sender.New(sender.Config{Provider: s, …}). Safe for concurrent use.
type Sender struct {
	cfg SenderConfig
}

var _ sender.Provider = (*Sender)(nil)

// NewSender validates cfg, which must be Enabled, and returns a Sender.
func NewSender(cfg SenderConfig) (*Sender, error) {
	if !cfg.Enabled() {
		return nil, gateway.ConfigErrorf("CallbackURL", "required to send to API-channel contacts")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Sender{cfg: cfg.WithDefaults()}, nil
}

// Channel returns gateway.ChannelAPI.
func (s *Sender) Channel() gateway.Channel { return gateway.ChannelAPI }

// errAttemptTimeout is the cause of an attempt's context when Timeout passed.
var errAttemptTimeout = errors.New("api callback attempt timed out")

// Send POSTs out to the callback URL, signed, and returns the provider id:
// the answer's JSON "id" when it has one, else out.RequestID. Every attempt
// is signed afresh, so a retry minutes later still passes the receiver's
// timestamp check. Errors are *sender.Error: temporary for 5xx, 408, 429
// (with Retry-After), timeouts and network errors; permanent for any other
// answer, with code "http_<status>" and the start of the answer's body as
// the reason. When ctx ends, Send returns an error wrapping ctx.Err().
func (s *Sender) Send(ctx context.Context, out gateway.Outbound) (string, error) {
	if out.Channel != gateway.ChannelAPI {
		return "", sender.Permanent(CodeWrongChannel, fmt.Sprintf("channel %q is not %q", out.Channel, gateway.ChannelAPI))
	}
	body, err := json.Marshal(NewCallback(out))
	if err != nil {
		return "", sender.Permanent(CodeInvalidBody, "encode callback body: "+err.Error())
	}

	actx, cancel := context.WithTimeoutCause(ctx, s.cfg.Timeout, errAttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, s.cfg.CallbackURL, bytes.NewReader(body))
	if err != nil {
		return "", sender.Permanent(CodeInvalidURL, "build callback request: "+unwrapURLError(err).Error())
	}
	ts := strconv.FormatInt(s.cfg.Now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set(HeaderRequestID, out.RequestID)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, Sign(s.cfg.Secret, ts, body))

	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return "", s.transportError(ctx, actx, err)
	}
	defer resp.Body.Close()
	// The status decides: a 2xx whose body breaks off was still accepted
	// (retrying would send it twice), and any other answer only loses
	// part of its reason.
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))

	switch code := resp.StatusCode; {
	case code/100 == 2:
		return providerID(answer, out.RequestID), nil
	case code >= 500, code == http.StatusRequestTimeout, code == http.StatusTooManyRequests:
		msg := fmt.Sprintf("callback answered %d %s", code, http.StatusText(code))
		if r := reason(answer); r != "" {
			msg += ": " + r
		}
		return "", sender.Temporary(httpCode(code), msg, retryAfter(resp.Header.Get("Retry-After"), s.cfg.Now()))
	default:
		// 3xx lands here too: the default client does not follow
		// redirects, and configuring the final URL is the fix.
		msg := reason(answer)
		if msg == "" {
			msg = fmt.Sprintf("callback answered %d %s", code, http.StatusText(code))
		}
		return "", sender.Permanent(httpCode(code), msg)
	}
}

// transportError classifies a failure to get an answer. The attempt's own
// timeout is temporary; the caller's ctx ending is returned as such.
func (s *Sender) transportError(ctx, actx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("api callback: %w", ctx.Err())
	}
	err = unwrapURLError(err)
	var ne net.Error
	if errors.Is(context.Cause(actx), errAttemptTimeout) || errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return sender.Temporary(CodeTimeout, fmt.Sprintf("callback did not answer within %s", s.cfg.Timeout), 0)
	}
	return sender.Temporary(CodeNetworkError, "callback unreachable: "+err.Error(), 0)
}

// unwrapURLError drops the *url.Error wrapper, whose message repeats the
// callback URL, which may carry a token in its query.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func httpCode(status int) string { return "http_" + strconv.Itoa(status) }

// providerID is the answer's "id" when it is a non-empty string or number
// that fits a provider id, else the request id.
func providerID(answer []byte, requestID string) string {
	var v struct {
		ID any `json:"id"`
	}
	dec := json.NewDecoder(bytes.NewReader(answer))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return requestID
	}
	var id string
	switch x := v.ID.(type) {
	case string:
		id = x
	case json.Number:
		id = x.String()
	}
	if id == "" || utf8.RuneCountInString(id) > gateway.MaxProviderIDLen || strings.TrimSpace(id) != id {
		return requestID
	}
	return id
}

// reason is the first maxReasonBytes of a refusing answer, cut at a
// character boundary and trimmed, so it reads well as a failure reason.
func reason(answer []byte) string {
	b := answer
	if len(b) > maxReasonBytes {
		b = b[:maxReasonBytes]
		// Drop a character the cut split in two.
		for i := len(b) - 1; i >= 0 && i > len(b)-utf8.UTFMax; i-- {
			if utf8.RuneStart(b[i]) {
				if !utf8.FullRune(b[i:]) {
					b = b[:i]
				}
				break
			}
		}
	}
	return strings.TrimSpace(strings.ToValidUTF8(string(b), "\uFFFD"))
}

// retryAfter parses a Retry-After value: delay seconds or an HTTP date.
// Anything else, or a date in the past, is 0 (use the backoff).
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), MaxRetryAfter)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

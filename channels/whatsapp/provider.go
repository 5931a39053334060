package whatsapp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"golang.org/x/time/rate"
	"google.golang.org/protobuf/proto"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/sender"
)

// MessageID derives the WhatsApp message id of an outbound request:
// "3EB0" and the first 18 hex digits of SHA-256(requestID), upper case,
// 22 characters like whatsmeow's own ids. Sending a redelivered request
// again reuses the id, and WhatsApp shows one message.
func MessageID(requestID string) types.MessageID {
	sum := sha256.Sum256([]byte(requestID))
	return "3EB0" + strings.ToUpper(hex.EncodeToString(sum[:]))[:18]
}

// partID is the id of the n-th extra message of one request (n ≥ 1): the
// second attachment, or the text sent after an audio file.
func partID(requestID string, n int) types.MessageID {
	return MessageID(requestID + "#" + strconv.Itoa(n))
}

// MediaFetcher gets the bytes of an outbound attachment.
type MediaFetcher interface {
	Fetch(ctx context.Context, url string) (data []byte, contentType, fileName string, err error)
}

// HTTPFetcher fetches attachments over HTTP(S).
type HTTPFetcher struct {
	// Client is the HTTP client; default one with a 60 s timeout.
	Client *http.Client
	// MaxBytes bounds an attachment; default DefaultMaxMediaBytes.
	MaxBytes int64
}

var _ MediaFetcher = (*HTTPFetcher)(nil)

// Fetch GETs url. 4xx answers are permanent errors, the rest temporary.
func (f *HTTPFetcher) Fetch(ctx context.Context, url string) ([]byte, string, string, error) {
	client := f.Client
	if client == nil {
		client = &http.Client{Timeout: 60 * time.Second}
	}
	max := f.MaxBytes
	if max <= 0 {
		max = DefaultMaxMediaBytes
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, "", "", sender.Permanent("media_url_invalid", err.Error())
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", "", sender.Temporary("media_fetch_failed", err.Error(), 0)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		msg := fmt.Sprintf("fetch media: HTTP %d", resp.StatusCode)
		if resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests {
			return nil, "", "", sender.Permanent("media_fetch_failed", msg)
		}
		return nil, "", "", sender.Temporary("media_fetch_failed", msg, 0)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, "", "", sender.Temporary("media_fetch_failed", err.Error(), 0)
	}
	if int64(len(data)) > max {
		return nil, "", "", sender.Permanent("media_too_large", fmt.Sprintf("attachment larger than %d bytes", max))
	}
	ct := resp.Header.Get("Content-Type")
	if ct == "" || ct == "application/octet-stream" {
		ct = http.DetectContentType(data)
	}
	name := path.Base(req.URL.Path)
	if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err == nil && params["filename"] != "" {
		name = params["filename"]
	}
	return data, ct, name, nil
}

// ProviderConfig configures a Provider.
type ProviderConfig struct {
	// Client is the connected device's client.
	Client Client
	// Fetcher gets attachments of MediaURLs; default an HTTPFetcher.
	Fetcher MediaFetcher
	// DeviceRate is the most messages per second the device sends, and
	// DeviceBurst how many may go at once. WhatsApp bans numbers that send
	// like a bulk sender. Defaults 1/s and 5.
	DeviceRate  rate.Limit
	DeviceBurst int
	// RecipientGap is the least time between two messages to one contact.
	// Default 1 s.
	RecipientGap time.Duration
}

// Provider sends outbound WhatsApp records through one device. It
// implements sender.Provider; the sender runner does the claiming,
// retries and status publishing.
type Provider struct {
	cfg    ProviderConfig
	device *rate.Limiter

	mu         sync.Mutex
	recipients map[string]*rate.Limiter
	lastPrune  time.Time
}

var _ sender.Provider = (*Provider)(nil)

// NewProvider returns a provider for cfg, with defaults applied.
func NewProvider(cfg ProviderConfig) (*Provider, error) {
	if cfg.Client == nil {
		return nil, errors.New("whatsapp provider: Client is required")
	}
	if cfg.Fetcher == nil {
		cfg.Fetcher = &HTTPFetcher{}
	}
	if cfg.DeviceRate <= 0 {
		cfg.DeviceRate = 1
	}
	if cfg.DeviceBurst <= 0 {
		cfg.DeviceBurst = 5
	}
	if cfg.RecipientGap <= 0 {
		cfg.RecipientGap = time.Second
	}
	return &Provider{cfg: cfg, device: rate.NewLimiter(cfg.DeviceRate, cfg.DeviceBurst), recipients: map[string]*rate.Limiter{}}, nil
}

// Channel returns gateway.ChannelWhatsApp.
func (p *Provider) Channel() gateway.Channel { return gateway.ChannelWhatsApp }

// Send sends out: its text (for templates, the rendered text: whatsmeow has
// no template API; the worker enforces the 24-hour window), and each
// attachment, the text as the first one's caption. It returns the id of the
// first message, derived from the request id (MessageID).
func (p *Provider) Send(ctx context.Context, out gateway.Outbound) (string, error) {
	to, err := JIDOfAddress(out.To)
	if err != nil {
		return "", sender.Permanent("invalid_address", err.Error())
	}
	if out.Text == "" && len(out.MediaURLs) == 0 {
		return "", sender.Permanent("empty_message", "nothing to send: no text and no media (templates need their rendered text)")
	}
	msgs, err := p.build(ctx, out)
	if err != nil {
		return "", err
	}
	for i, m := range msgs {
		id := MessageID(out.RequestID)
		if i > 0 {
			id = partID(out.RequestID, i)
		}
		if err := p.wait(ctx, out.To); err != nil {
			return "", sender.Temporary("rate_limited", "rate limit wait: "+err.Error(), 0)
		}
		if _, err := p.cfg.Client.SendMessage(ctx, to, m, whatsmeow.SendRequestExtra{ID: id}); err != nil {
			return "", classifySendError(err)
		}
	}
	return MessageID(out.RequestID), nil
}

// build turns out into the WhatsApp messages to send, in order.
func (p *Provider) build(ctx context.Context, out gateway.Outbound) ([]*waE2E.Message, error) {
	if len(out.MediaURLs) == 0 {
		return []*waE2E.Message{{Conversation: proto.String(out.Text)}}, nil
	}
	var msgs []*waE2E.Message
	caption := out.Text
	for _, u := range out.MediaURLs {
		data, ct, name, err := p.cfg.Fetcher.Fetch(ctx, u)
		if err != nil {
			var se *sender.Error
			if errors.As(err, &se) {
				return nil, err
			}
			return nil, sender.Temporary("media_fetch_failed", err.Error(), 0)
		}
		m, usedCaption, err := p.mediaMessage(ctx, data, ct, name, caption)
		if err != nil {
			return nil, err
		}
		if usedCaption {
			caption = ""
		}
		msgs = append(msgs, m)
	}
	if caption != "" { // the attachments took no caption (audio)
		msgs = append(msgs, &waE2E.Message{Conversation: proto.String(caption)})
	}
	return msgs, nil
}

// mediaMessage uploads data and returns the message that carries it.
func (p *Provider) mediaMessage(ctx context.Context, data []byte, contentType, fileName, caption string) (*waE2E.Message, bool, error) {
	base, _, _ := strings.Cut(contentType, ";")
	kind := whatsmeow.MediaDocument
	switch {
	case strings.HasPrefix(base, "image/") && base != "image/svg+xml":
		kind = whatsmeow.MediaImage
	case strings.HasPrefix(base, "video/"):
		kind = whatsmeow.MediaVideo
	case strings.HasPrefix(base, "audio/"):
		kind = whatsmeow.MediaAudio
	}
	up, err := p.cfg.Client.Upload(ctx, data, kind)
	if err != nil {
		return nil, false, classifySendError(fmt.Errorf("upload media: %w", err))
	}
	length := proto.Uint64(uint64(len(data)))
	var capPtr *string
	if caption != "" {
		capPtr = proto.String(caption)
	}
	switch kind {
	case whatsmeow.MediaImage:
		return &waE2E.Message{ImageMessage: &waE2E.ImageMessage{
			Caption: capPtr, Mimetype: proto.String(contentType), URL: proto.String(up.URL), DirectPath: proto.String(up.DirectPath),
			MediaKey: up.MediaKey, FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: length,
		}}, true, nil
	case whatsmeow.MediaVideo:
		return &waE2E.Message{VideoMessage: &waE2E.VideoMessage{
			Caption: capPtr, Mimetype: proto.String(contentType), URL: proto.String(up.URL), DirectPath: proto.String(up.DirectPath),
			MediaKey: up.MediaKey, FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: length,
		}}, true, nil
	case whatsmeow.MediaAudio:
		return &waE2E.Message{AudioMessage: &waE2E.AudioMessage{
			Mimetype: proto.String(contentType), URL: proto.String(up.URL), DirectPath: proto.String(up.DirectPath),
			MediaKey: up.MediaKey, FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: length,
		}}, false, nil
	}
	return &waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{
		Caption: capPtr, FileName: proto.String(fileName), Title: proto.String(fileName), Mimetype: proto.String(contentType),
		URL: proto.String(up.URL), DirectPath: proto.String(up.DirectPath),
		MediaKey: up.MediaKey, FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: length,
	}}, true, nil
}

// wait blocks until the device limiter and the recipient's gap allow a send.
func (p *Provider) wait(ctx context.Context, to string) error {
	if err := p.recipient(to).Wait(ctx); err != nil {
		return err
	}
	return p.device.Wait(ctx)
}

func (p *Provider) recipient(to string) *rate.Limiter {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	// Forget contacts whose gap has long passed, so the map stays as small
	// as the set of recently active contacts.
	if now.Sub(p.lastPrune) > time.Minute && len(p.recipients) > 1024 {
		for k, l := range p.recipients {
			if l.TokensAt(now) >= 1 {
				delete(p.recipients, k)
			}
		}
		p.lastPrune = now
	}
	l, ok := p.recipients[to]
	if !ok {
		l = rate.NewLimiter(rate.Every(p.cfg.RecipientGap), 1)
		p.recipients[to] = l
	}
	return l
}

// classifySendError maps whatsmeow's errors to temporary and permanent
// provider errors with codes chatgate names.
func classifySendError(err error) error {
	msg := err.Error()
	var iq *whatsmeow.IQError
	switch {
	case errors.Is(err, whatsmeow.ErrNotLoggedIn):
		return sender.Permanent("wa_logged_out", "device is not logged in: pair it again with `chatgate whatsapp pair`")
	case errors.Is(err, whatsmeow.ErrRecipientADJID), errors.Is(err, whatsmeow.ErrUnknownServer),
		errors.Is(err, whatsmeow.ErrBroadcastListUnsupported):
		return sender.Permanent("wa_invalid_recipient", msg)
	case errors.Is(err, whatsmeow.ErrNotConnected), errors.Is(err, whatsmeow.ErrIQDisconnected):
		return sender.Temporary("wa_not_connected", msg, 5*time.Second)
	case errors.Is(err, whatsmeow.ErrMessageTimedOut), errors.Is(err, whatsmeow.ErrIQTimedOut),
		errors.Is(err, context.DeadlineExceeded):
		return sender.Temporary("wa_timeout", msg, 0)
	case errors.Is(err, whatsmeow.ErrServerReturnedError):
		code := serverErrorCode(msg)
		if code == 429 || code >= 500 || code == 0 {
			return sender.Temporary("wa_server_"+strconv.Itoa(code), msg, 0)
		}
		return sender.Permanent("wa_server_"+strconv.Itoa(code), msg)
	case errors.As(err, &iq):
		if iq.Code == 429 {
			return sender.Temporary("wa_rate_limited", msg, 30*time.Second)
		}
		if iq.Code >= 400 && iq.Code < 500 {
			return sender.Permanent("wa_iq_"+strconv.Itoa(iq.Code), msg)
		}
		return sender.Temporary("wa_iq_"+strconv.Itoa(iq.Code), msg, 0)
	}
	var se *sender.Error
	if errors.As(err, &se) {
		return se
	}
	return sender.Temporary("wa_send_failed", msg, 0)
}

// serverErrorCode reads the code whatsmeow appends to ErrServerReturnedError.
func serverErrorCode(msg string) int {
	i := strings.LastIndexByte(msg, ' ')
	n, err := strconv.Atoi(msg[i+1:])
	if err != nil {
		return 0
	}
	return n
}

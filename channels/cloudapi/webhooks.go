package cloudapi

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/httpapi"
)

const (
	// EventSource is the CloudEvents source of the records this package writes.
	EventSource = "chatgate/channels/cloudapi"
	// WebhookPath is the callback URL's path, relative to the public URL:
	// set CHATGATE_PUBLIC_URL + WebhookPath as the app's WhatsApp webhook.
	WebhookPath = "/webhooks/whatsapp-cloud"
	// VerifyPattern is the GET handshake's route for httpapi.Server.Handle.
	VerifyPattern = "GET " + WebhookPath
	// EventsPattern is the POST webhook's route for httpapi.Server.Handle.
	EventsPattern = "POST " + WebhookPath
	// DefaultMaxBodyBytes bounds a webhook body when WebhookOptions.MaxBodyBytes
	// is 0: Meta's webhooks are at most 3 MB.
	DefaultMaxBodyBytes int64 = 3 << 20
	// DefaultPublishTimeout bounds the Kafka write of one webhook, well
	// below the time Meta waits for an answer before it retries.
	DefaultPublishTimeout = 10 * time.Second
)

var (
	webhooksTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "chatgate_cloudapi_webhooks_total",
		Help: "WhatsApp Cloud API webhook requests by kind (verify, event) and outcome (verified, stored, invalid_signature, invalid_verify_token, invalid, unavailable).",
	}, []string{"kind", "outcome"})
	webhookItemsTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "chatgate_cloudapi_webhook_items_total",
		Help: "Parts of stored WhatsApp Cloud API webhooks by item (message, status, template_status, skipped) and outcome (stored, or the skip reason).",
	}, []string{"item", "outcome"})
	// The counters of every stored webhook, resolved once.
	eventsStored   = webhooksTotal.WithLabelValues("event", "stored")
	messagesStored = webhookItemsTotal.WithLabelValues("message", "stored")
	statusesStored = webhookItemsTotal.WithLabelValues("status", "stored")
)

// TemplateStatusFunc applies the message_template_status_update changes of
// one webhook (see ApplyTemplateStatus). An error makes the webhook answer
// 503, so Meta sends it again.
type TemplateStatusFunc func(ctx context.Context, updates []TemplateStatusUpdate) error

// WebhookOptions are the collaborators of Webhooks.
type WebhookOptions struct {
	// Publisher writes the records; Publish must return only after Kafka
	// acknowledged them. Required.
	Publisher gateway.Publisher
	// Topics names the inbound and status topics.
	Topics gateway.Topics
	// TemplateStatus receives template status updates; nil logs and counts
	// them as skipped (until the wiring passes the template store's).
	TemplateStatus TemplateStatusFunc
	// Logger receives refused and failed webhooks. Default: discard.
	Logger *slog.Logger
	// MaxBodyBytes bounds a request body. Default DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// PublishTimeout bounds the Kafka write. Default DefaultPublishTimeout.
	PublishTimeout time.Duration
}

// Webhooks serves the Cloud API's webhook: the GET verification handshake
// and the POSTed events (messages, statuses, template status updates).
// Safe for concurrent use; it keeps no state.
type Webhooks struct {
	cfg  Config
	opts WebhookOptions
}

// NewWebhooks returns the webhooks of a valid cfg with AppSecret and
// VerifyToken set.
func NewWebhooks(cfg Config, opts WebhookOptions) (*Webhooks, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.AppSecret == "" {
		return nil, errors.New("cloudapi config: AppSecret: required to check the webhooks' X-Hub-Signature-256")
	}
	if cfg.VerifyToken == "" {
		return nil, errors.New("cloudapi config: VerifyToken: required for the webhook's verification handshake")
	}
	if opts.Publisher == nil {
		return nil, errors.New("cloudapi webhooks: a Publisher is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.PublishTimeout <= 0 {
		opts.PublishTimeout = DefaultPublishTimeout
	}
	return &Webhooks{cfg: cfg, opts: opts}, nil
}

// Mount registers VerifyHandler at VerifyPattern and EventsHandler at
// EventsPattern on mux (an *httpapi.Server or *http.ServeMux). The routes
// take no bearer token: the verify token and the signature authenticate.
func (w *Webhooks) Mount(mux interface {
	Handle(pattern string, h http.Handler)
}) {
	mux.Handle(VerifyPattern, w.VerifyHandler())
	mux.Handle(EventsPattern, w.EventsHandler())
}

// VerifyHandler serves Meta's verification handshake, GET with
// hub.mode=subscribe, hub.verify_token and hub.challenge: it answers 200
// with the challenge as text/plain when the token is the configured one,
// 403 invalid_verify_token when it is not, 400 invalid_handshake when a
// parameter is missing or the challenge is not printable ASCII.
func (w *Webhooks) VerifyHandler() http.Handler { return http.HandlerFunc(w.serveVerify) }

// EventsHandler serves the POSTed webhooks. It answers:
//
//   - 200 (JSON: how many records were stored and parts skipped) once every
//     record is on Kafka and template updates were applied;
//   - 403 invalid_signature when X-Hub-Signature-256 is missing or wrong;
//   - 413 body_too_large, 415 unsupported_media_type, 400 invalid_webhook or
//     invalid_message for a body that is not a valid Cloud API webhook;
//   - 503 unavailable when a record could not be written or a template
//     update not applied, so Meta sends the webhook again.
//
// Nothing is written for a 4xx.
func (w *Webhooks) EventsHandler() http.Handler { return http.HandlerFunc(w.serveEvents) }

func (w *Webhooks) serveVerify(rw http.ResponseWriter, r *http.Request) {
	const kind = "verify"
	q := r.URL.Query()
	mode, token, challenge := q.Get("hub.mode"), q.Get("hub.verify_token"), q.Get("hub.challenge")
	var problem string
	switch {
	case mode != "subscribe":
		problem = "hub.mode must be subscribe"
	case challenge == "":
		problem = "hub.challenge is required"
	case len(challenge) > 256 || !printableASCII(challenge):
		problem = "hub.challenge must be at most 256 printable ASCII characters"
	}
	if problem != "" {
		w.opts.Logger.WarnContext(r.Context(), "cloudapi webhook: handshake refused", "reason", problem, "remote_addr", r.RemoteAddr)
		webhooksTotal.WithLabelValues(kind, "invalid").Inc()
		httpapi.WriteError(rw, http.StatusBadRequest, CodeInvalidHandshake, problem)
		return
	}
	if subtle.ConstantTimeCompare([]byte(token), []byte(w.cfg.VerifyToken)) != 1 {
		w.opts.Logger.WarnContext(r.Context(), "cloudapi webhook: handshake with a wrong verify token", "remote_addr", r.RemoteAddr)
		webhooksTotal.WithLabelValues(kind, "invalid_verify_token").Inc()
		httpapi.WriteError(rw, http.StatusForbidden, CodeInvalidVerifyToken, "hub.verify_token is not the configured verify token")
		return
	}
	webhooksTotal.WithLabelValues(kind, "verified").Inc()
	rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	rw.Header().Set("X-Content-Type-Options", "nosniff")
	rw.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(rw, challenge)
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func (w *Webhooks) serveEvents(rw http.ResponseWriter, r *http.Request) {
	const kind = "event"
	sig := r.Header.Get(HeaderSignature)
	if sig == "" {
		w.deny(rw, r, ErrSignatureMissing)
		return
	}
	body, err := w.readBody(rw, r)
	if err != nil {
		w.refuse(rw, r, err)
		return
	}
	if err := VerifySignature(w.cfg.AppSecret, body, sig); err != nil {
		w.deny(rw, r, err)
		return
	}
	if err := checkJSONContentType(r.Header.Get("Content-Type")); err != nil {
		w.refuse(rw, r, err)
		return
	}
	batch, err := ParseWebhook(body, w.cfg)
	if err != nil {
		w.refuse(rw, r, err)
		return
	}
	msgs := make([]gateway.Message, 0, len(batch.Inbound)+len(batch.Statuses))
	for _, in := range batch.Inbound {
		m, err := in.Record(EventSource, w.opts.Topics.Name(gateway.TopicInbound))
		if err != nil {
			w.internal(rw, r, "encode inbound record", err)
			return
		}
		msgs = append(msgs, m)
	}
	for _, st := range batch.Statuses {
		m, err := st.Record(EventSource, w.opts.Topics.Name(gateway.TopicStatus))
		if err != nil {
			w.internal(rw, r, "encode status record", err)
			return
		}
		msgs = append(msgs, m)
	}
	// The writes do not end when Meta hangs up: a record half-way to Kafka
	// is finished, so a webhook Meta gave up on is still stored once.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), w.opts.PublishTimeout)
	defer cancel()
	if len(msgs) > 0 {
		if err := w.opts.Publisher.Publish(ctx, msgs...); err != nil {
			// Any subset may have been written; Meta's retry carries the
			// same message ids, hence the same event ids, stored once (R1).
			w.opts.Logger.WarnContext(r.Context(), "cloudapi webhook: records not stored", "records", len(msgs), "error", err)
			webhooksTotal.WithLabelValues(kind, "unavailable").Inc()
			httpapi.WriteUnavailable(rw, "the webhook could not be stored; retry")
			return
		}
	}
	if len(batch.TemplateUpdates) > 0 {
		if w.opts.TemplateStatus == nil {
			for _, u := range batch.TemplateUpdates {
				w.opts.Logger.WarnContext(r.Context(), "cloudapi webhook: template status update not applied (no template store wired)",
					"template", u.Name, "language", u.Language, "event", u.Event)
				webhookItemsTotal.WithLabelValues("template_status", "not_applied").Inc()
			}
		} else if err := w.opts.TemplateStatus(ctx, batch.TemplateUpdates); err != nil {
			w.opts.Logger.WarnContext(r.Context(), "cloudapi webhook: template status updates not applied", "updates", len(batch.TemplateUpdates), "error", err)
			webhooksTotal.WithLabelValues(kind, "unavailable").Inc()
			httpapi.WriteUnavailable(rw, "the template status update could not be applied; retry")
			return
		} else {
			webhookItemsTotal.WithLabelValues("template_status", "stored").Add(float64(len(batch.TemplateUpdates)))
		}
	}
	eventsStored.Inc()
	if len(batch.Inbound) > 0 {
		messagesStored.Add(float64(len(batch.Inbound)))
	}
	if len(batch.Statuses) > 0 {
		statusesStored.Add(float64(len(batch.Statuses)))
	}
	for _, s := range batch.Skipped {
		webhookItemsTotal.WithLabelValues("skipped", s.Reason).Inc()
		level := slog.LevelDebug
		if s.Reason == SkipMetaError {
			level = slog.LevelWarn // Meta reports a problem with the number or app
		}
		w.opts.Logger.Log(r.Context(), level, "cloudapi webhook: part skipped", "path", s.Path, "reason", s.Reason, "detail", s.Detail)
	}
	w.opts.Logger.DebugContext(r.Context(), "cloudapi webhook stored",
		"messages", len(batch.Inbound), "statuses", len(batch.Statuses), "template_updates", len(batch.TemplateUpdates), "skipped", len(batch.Skipped))
	// The answer is small and fixed in shape: written without reflection,
	// on the hot path of every webhook.
	answer := make([]byte, 0, 40)
	answer = append(answer, `{"stored":`...)
	answer = strconv.AppendInt(answer, int64(len(msgs)+len(batch.TemplateUpdates)), 10)
	answer = append(answer, `,"skipped":`...)
	answer = strconv.AppendInt(answer, int64(len(batch.Skipped)), 10)
	answer = append(answer, "}\n"...)
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(http.StatusOK)
	_, _ = rw.Write(answer)
}

func (w *Webhooks) readBody(rw http.ResponseWriter, r *http.Request) ([]byte, error) {
	limit := w.opts.MaxBodyBytes
	tooLarge := &httpapi.Error{Status: http.StatusRequestEntityTooLarge, Code: httpapi.CodeBodyTooLarge,
		Message: fmt.Sprintf("request body is larger than %d bytes", limit)}
	if r.ContentLength > limit {
		rw.Header().Set("Connection", "close")
		return nil, tooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, limit))
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			rw.Header().Set("Connection", "close")
			return nil, tooLarge
		}
		return nil, &httpapi.Error{Status: http.StatusBadRequest, Code: CodeInvalidWebhook, Message: "request body could not be read"}
	}
	return body, nil
}

func checkJSONContentType(ct string) error {
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return &httpapi.Error{Status: http.StatusUnsupportedMediaType, Code: httpapi.CodeUnsupportedMediaType,
			Message: "Content-Type must be application/json"}
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
		return &httpapi.Error{Status: http.StatusUnsupportedMediaType, Code: httpapi.CodeUnsupportedMediaType,
			Message: fmt.Sprintf("charset %s is not supported; Meta sends UTF-8", cs)}
	}
	return nil
}

func (w *Webhooks) deny(rw http.ResponseWriter, r *http.Request, why error) {
	w.opts.Logger.WarnContext(r.Context(), "cloudapi webhook: signature refused", "reason", why.Error(), "remote_addr", r.RemoteAddr)
	webhooksTotal.WithLabelValues("event", "invalid_signature").Inc()
	httpapi.WriteError(rw, http.StatusForbidden, CodeInvalidSignature, why.Error())
}

func (w *Webhooks) refuse(rw http.ResponseWriter, r *http.Request, err error) {
	w.opts.Logger.WarnContext(r.Context(), "cloudapi webhook: request refused", "error", err)
	webhooksTotal.WithLabelValues("event", "invalid").Inc()
	httpapi.WriteErrorFrom(rw, err)
}

func (w *Webhooks) internal(rw http.ResponseWriter, r *http.Request, what string, err error) {
	w.opts.Logger.ErrorContext(r.Context(), "cloudapi webhook: internal error", "what", what, "error", err)
	webhooksTotal.WithLabelValues("event", "invalid").Inc()
	httpapi.WriteError(rw, http.StatusInternalServerError, httpapi.CodeInternal, "internal error")
}

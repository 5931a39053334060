// Package sender runs a channel's provider over the outbound topic: it picks
// the records of its channel, claims each request id in the send log so a
// redelivered record is never sent twice (R32), calls the provider with
// bounded, jittered retries on temporary errors, records the provider's id,
// and publishes the outcome on the status topic.
//
// Channel adapters implement Provider and classify their errors with
// Temporary and Permanent; everything else about sending is here, once.
package sender

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/chatgate/chatgate/gateway"
)

// Provider sends one message through a channel's provider API.
type Provider interface {
	// Channel is the channel whose outbound records this provider sends.
	Channel() gateway.Channel
	// Send delivers out and returns the provider's message id. Errors should
	// be *Error (see Temporary and Permanent); any other error counts as
	// temporary.
	Send(ctx context.Context, out gateway.Outbound) (providerID string, err error)
}

// Error is a provider failure classified for retrying.
type Error struct {
	Code       string        // the provider's code, e.g. Twilio's "21211"
	Message    string        // readable reason, kept on the message
	Permanent  bool          // retrying cannot help
	RetryAfter time.Duration // the provider asked to wait this long (0: use backoff)
	// OptedOut says the provider refused because the contact opted out (R33).
	OptedOut bool
}

func (e *Error) Error() string {
	kind := "temporary"
	if e.Permanent {
		kind = "permanent"
	}
	if e.Code != "" {
		return fmt.Sprintf("%s provider error %s: %s", kind, e.Code, e.Message)
	}
	return fmt.Sprintf("%s provider error: %s", kind, e.Message)
}

// Temporary returns a retryable provider error.
func Temporary(code, message string, retryAfter time.Duration) *Error {
	return &Error{Code: code, Message: message, RetryAfter: retryAfter}
}

// Permanent returns a provider error that fails the message at once.
func Permanent(code, message string) *Error {
	return &Error{Code: code, Message: message, Permanent: true}
}

// Status codes chatgate itself sets on failed sends.
const (
	CodeOutcomeUnknown   = "outcome_unknown" // a sender died mid-send; not resent blindly (R32)
	CodeRetriesExhausted = "retries_exhausted"
	CodeInvalidRecord    = "invalid_record"
)

var (
	sendsTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "chatgate_sender_sends_total",
		Help: "Outbound sends by channel and outcome (sent, failed, skipped_duplicate).",
	}, []string{"channel", "outcome"})
	sendSeconds = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "chatgate_sender_send_seconds",
		Help:    "Time from claiming a send to its outcome, retries included.",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
	}, []string{"channel"})
)

// Config configures a Runner.
type Config struct {
	Provider  Provider
	Log       gateway.SendLog
	Publisher gateway.Publisher
	Topics    gateway.Topics
	Logger    *slog.Logger
	Now       func() time.Time
	// Source is the CloudEvents source of the status records, e.g.
	// "chatgate/channels/twilio".
	Source string
	// MaxElapsed bounds the retries of one send. Default 2 min.
	MaxElapsed time.Duration
	// InitialBackoff is the first retry delay (jittered). Default 500 ms.
	InitialBackoff time.Duration
	// Parallel is how many contacts of one batch are sent to at once; one
	// contact's messages always go one after the other, in order. Default 8.
	Parallel int
	// MaxRetryAfter caps a provider's Retry-After, so a provider asking for
	// a day cannot hold a partition that long. Default 2 min.
	MaxRetryAfter time.Duration
}

// Runner is a gateway.BatchHandler for the outbound topic.
type Runner struct {
	cfg Config
}

// New validates cfg and returns a runner.
func New(cfg Config) (*Runner, error) {
	if cfg.Provider == nil || cfg.Log == nil || cfg.Publisher == nil {
		return nil, errors.New("sender: Provider, Log and Publisher are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Source == "" {
		cfg.Source = "chatgate/channels/" + string(cfg.Provider.Channel())
	}
	if cfg.MaxElapsed <= 0 {
		cfg.MaxElapsed = 2 * time.Minute
	}
	if cfg.InitialBackoff <= 0 {
		cfg.InitialBackoff = 500 * time.Millisecond
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 8
	}
	if cfg.MaxRetryAfter <= 0 {
		cfg.MaxRetryAfter = 2 * time.Minute
	}
	return &Runner{cfg: cfg}, nil
}

// HandleBatch sends the batch's records of the runner's channel. It returns
// an error only when the send log or Kafka failed, so the consumer retries
// the batch; the send log makes that retry skip what was already sent.
func (r *Runner) HandleBatch(ctx context.Context, msgs []gateway.Message) error {
	byContact := map[string][]gateway.Outbound{}
	var order []string
	var statuses []gateway.Status
	for _, m := range msgs {
		ev, out, err := gateway.DecodeRecord[gateway.Outbound](m.Value)
		if err == nil && ev.Type != gateway.TypeOutboundMessage {
			err = fmt.Errorf("unexpected event type %q on the outbound topic", ev.Type)
		}
		if err == nil && out.Channel != r.cfg.Provider.Channel() {
			continue // another channel's sender handles it
		}
		if err == nil {
			err = out.Validate()
		}
		if err != nil {
			r.cfg.Logger.WarnContext(ctx, "outbound record refused", "offset", m.Offset, "partition", m.Partition, "error", err)
			if out.Channel == r.cfg.Provider.Channel() && out.To != "" && out.RequestID != "" {
				statuses = append(statuses, r.status(out, "", gateway.StatusFailed, CodeInvalidRecord, err.Error()))
			}
			continue
		}
		key := out.ContactKey()
		if _, ok := byContact[key]; !ok {
			order = append(order, key)
		}
		byContact[key] = append(byContact[key], out)
	}

	var mu sync.Mutex
	var firstErr error
	sem := make(chan struct{}, r.cfg.Parallel)
	var wg sync.WaitGroup
	for _, key := range order {
		wg.Add(1)
		sem <- struct{}{}
		go func(outs []gateway.Outbound) {
			defer wg.Done()
			defer func() { <-sem }()
			for _, out := range outs {
				st, err := r.sendOne(ctx, out)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				if st != nil {
					statuses = append(statuses, *st)
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}(byContact[key])
	}
	wg.Wait()
	if err := r.publish(ctx, statuses); err != nil {
		return err
	}
	return firstErr
}

// sendOne returns the status to publish, or an infrastructure error.
func (r *Runner) sendOne(ctx context.Context, out gateway.Outbound) (*gateway.Status, error) {
	ch := string(r.cfg.Provider.Channel())
	start := r.cfg.Now()
	prev, claimed, err := r.cfg.Log.Begin(ctx, out.RequestID, out.Channel, start)
	if err != nil {
		return nil, err
	}
	if !claimed {
		sendsTotal.WithLabelValues(ch, "skipped_duplicate").Inc()
		switch {
		case !prev.FinishedAt.IsZero():
			// Sent (or failed) before: say so again, in case the first
			// status record was lost with the crashed batch.
			st := r.status(out, prev.ProviderID, prev.Status, prev.ErrorCode, prev.ErrorMessage)
			return &st, nil
		default:
			st := r.status(out, "", gateway.StatusFailed, CodeOutcomeUnknown,
				"an earlier attempt of this request was interrupted; not sent again to avoid a duplicate")
			a := gateway.SendAttempt{RequestID: out.RequestID, Status: gateway.StatusFailed, ErrorCode: st.ErrorCode, ErrorMessage: st.ErrorMessage, FinishedAt: r.cfg.Now()}
			if err := r.cfg.Log.Finish(ctx, a); err != nil {
				return nil, err
			}
			return &st, nil
		}
	}

	providerID, sendErr := r.sendWithRetry(ctx, out)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	a := gateway.SendAttempt{RequestID: out.RequestID, ProviderID: providerID, Status: gateway.StatusSent, FinishedAt: r.cfg.Now()}
	if sendErr != nil {
		a.Status = gateway.StatusFailed
		var pe *Error
		if errors.As(sendErr, &pe) {
			a.ErrorCode, a.ErrorMessage = pe.Code, pe.Message
			if !pe.Permanent {
				a.ErrorCode = firstNonEmpty(pe.Code, CodeRetriesExhausted)
				a.ErrorMessage = "gave up after retries: " + pe.Message
			}
		} else {
			a.ErrorCode, a.ErrorMessage = CodeRetriesExhausted, sendErr.Error()
		}
		r.cfg.Logger.WarnContext(ctx, "send failed", "channel", ch, "request_id", out.RequestID, "code", a.ErrorCode, "reason", a.ErrorMessage)
	}
	if err := r.cfg.Log.Finish(ctx, a); err != nil {
		return nil, err
	}
	sendSeconds.WithLabelValues(ch).Observe(r.cfg.Now().Sub(start).Seconds())
	sendsTotal.WithLabelValues(ch, string(a.Status)).Inc()
	st := r.status(out, a.ProviderID, a.Status, a.ErrorCode, a.ErrorMessage)
	return &st, nil
}

func (r *Runner) sendWithRetry(ctx context.Context, out gateway.Outbound) (string, error) {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = r.cfg.InitialBackoff
	b.MaxInterval = 30 * time.Second
	b.MaxElapsedTime = r.cfg.MaxElapsed
	b.RandomizationFactor = 0.5
	var id string
	var last error
	op := func() error {
		var err error
		id, err = r.cfg.Provider.Send(ctx, out)
		if err == nil {
			return nil
		}
		last = err
		var pe *Error
		if errors.As(err, &pe) && pe.Permanent {
			return backoff.Permanent(err)
		}
		return err
	}
	err := backoff.Retry(op, backoff.WithContext(&honourRetryAfter{BackOff: b, last: &last, max: r.cfg.MaxRetryAfter}, ctx))
	if err != nil && last != nil && ctx.Err() == nil {
		return "", last
	}
	return id, err
}

// honourRetryAfter waits at least the provider's Retry-After when the last
// error carried one, and the exponential backoff otherwise.
type honourRetryAfter struct {
	backoff.BackOff
	last *error
	max  time.Duration
}

func (h *honourRetryAfter) NextBackOff() time.Duration {
	next := h.BackOff.NextBackOff()
	var pe *Error
	if next != backoff.Stop && h.last != nil && errors.As(*h.last, &pe) && pe.RetryAfter > next {
		return min(pe.RetryAfter, h.max)
	}
	return next
}

func (r *Runner) status(out gateway.Outbound, providerID string, st gateway.DeliveryStatus, code, msg string) gateway.Status {
	return gateway.Status{
		RequestID: out.RequestID, Channel: out.Channel, Contact: out.To, ProviderID: providerID,
		Status: st, ErrorCode: code, ErrorMessage: msg, At: r.cfg.Now().UTC(),
	}
}

func (r *Runner) publish(ctx context.Context, statuses []gateway.Status) error {
	if len(statuses) == 0 {
		return nil
	}
	msgs := make([]gateway.Message, 0, len(statuses))
	for _, st := range statuses {
		m, err := st.Record(r.cfg.Source, r.cfg.Topics.Name(gateway.TopicStatus))
		if err != nil {
			return err
		}
		msgs = append(msgs, m)
	}
	return r.cfg.Publisher.Publish(ctx, msgs...)
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

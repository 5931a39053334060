package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/deadletter"
)

// DefaultSource is the CloudEvents source of the records this channel publishes.
const DefaultSource = "chatgate/channels/whatsapp"

var eventsTotal = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "chatgate_whatsapp_events_total",
	Help: "WhatsApp message and receipt events by kind and outcome (published, skipped_*, refused, failed).",
}, []string{"event", "outcome"})

// Intake handles whatsmeow events: messages and receipts become records on
// Kafka, connection events become states. Register its Handler with
// AddEventHandlerWithSuccessStatus on a client with SynchronousAck set: the
// handler returns true only after Kafka acknowledged the record, so
// WhatsApp keeps (and redelivers) every message chatgate did not store.
type Intake struct {
	Converter *Converter
	Publisher gateway.Publisher
	Topics    gateway.Topics
	// Source is the CloudEvents source; default DefaultSource.
	Source string
	Logger *slog.Logger
	// Timeout bounds the handling of one event, media download and
	// publish retries included; then the event is left unacknowledged.
	// Default 30 s.
	Timeout time.Duration
	// OnState, if set, receives the connection state changes.
	OnState func(s State, reason string)
}

// Handler returns the function to register with
// AddEventHandlerWithSuccessStatus. ctx bounds all handling: once it is
// done, every event is refused (left for redelivery).
func (h *Intake) Handler(ctx context.Context) func(evt any) bool {
	return func(evt any) bool { return h.handle(ctx, evt) }
}

func (h *Intake) handle(ctx context.Context, evt any) bool {
	switch e := evt.(type) {
	case *events.Message:
		return h.message(ctx, e)
	case *events.Receipt:
		return h.receipt(ctx, e)
	case *events.UndecryptableMessage:
		// whatsmeow already asked the sender's phone to retry; the
		// message arrives again as *events.Message if it can.
		h.logger().WarnContext(ctx, "whatsapp message could not be decrypted", "message_id", e.Info.ID, "unavailable", e.IsUnavailable)
		return true
	}
	if s, reason, ok := stateOf(evt); ok && h.OnState != nil {
		h.OnState(s, reason)
	}
	return true
}

func (h *Intake) message(ctx context.Context, evt *events.Message) bool {
	ctx, cancel := context.WithTimeout(ctx, h.timeout())
	defer cancel()
	log := h.logger()
	conv, err := h.Converter.Message(ctx, evt)
	if err != nil {
		eventsTotal.WithLabelValues("message", "failed").Inc()
		log.WarnContext(ctx, "whatsapp message not converted; left for redelivery", "message_id", evt.Info.ID, "err", err)
		return false
	}
	if len(conv.Normalized) > 0 {
		// Counted by the converter; the message id lets ops find it. The
		// content itself is never logged.
		log.WarnContext(ctx, "whatsapp message normalised to be stored", "message_id", evt.Info.ID, "fields", conv.Normalized)
	}
	var msg gateway.Message
	switch {
	case conv.Inbound != nil:
		if verr := conv.Inbound.Validate(); verr != nil {
			// Retrying cannot fix a record we cannot build: keep the
			// message on the deadletter topic with the reason, then
			// acknowledge it. If even that fails, leave it for redelivery.
			eventsTotal.WithLabelValues("message", "refused").Inc()
			log.ErrorContext(ctx, "whatsapp message refused: invalid record; dead-lettered", "message_id", evt.Info.ID, "err", verr)
			msg, err = h.deadletter(ctx, conv.Inbound, verr)
			break
		}
		msg, err = conv.Inbound.Record(h.source(), h.Topics.Name(gateway.TopicInbound))
	case conv.Phone != nil:
		msg, err = conv.Phone.Record(h.source(), h.Topics.Name(gateway.TopicStatus))
	default:
		eventsTotal.WithLabelValues("message", "skipped_"+conv.Skip).Inc()
		log.DebugContext(ctx, "whatsapp message skipped", "message_id", evt.Info.ID, "reason", conv.Skip)
		return true
	}
	if err != nil {
		eventsTotal.WithLabelValues("message", "refused").Inc()
		log.ErrorContext(ctx, "whatsapp message refused: encode record", "message_id", evt.Info.ID, "err", err)
		return true
	}
	if err := h.publish(ctx, msg); err != nil {
		eventsTotal.WithLabelValues("message", "failed").Inc()
		log.WarnContext(ctx, "whatsapp message not published; left for redelivery", "message_id", evt.Info.ID, "err", err)
		return false
	}
	eventsTotal.WithLabelValues("message", "published").Inc()
	log.DebugContext(ctx, "whatsapp message published", "message_id", evt.Info.ID, "from_phone", conv.Phone != nil)
	return true
}

// deadletter wraps an inbound message that failed validation in a
// chatgate.deadletter record keyed by its contact: its value is the inbound
// record the channel would have published, so `chatgate deadletter replay`
// can put it on the inbound topic once the cause is fixed.
func (h *Intake) deadletter(ctx context.Context, in *gateway.Inbound, cause error) (gateway.Message, error) {
	rec, err := in.Record(h.source(), "")
	if err != nil {
		// JSON has no NaN or infinity: without the location the message
		// still encodes, and the reason (Validate's) names the coordinates.
		// Failing here would acknowledge the message and keep nothing.
		bare := *in
		bare.Location = nil
		if rec, err = bare.Record(h.source(), ""); err != nil {
			return gateway.Message{}, err
		}
	}
	return deadletter.New(ctx, h.logger(), gateway.DeadletterParams{
		Topic: h.Topics.Name(gateway.TopicDeadletter), Source: h.source(), Original: rec, Cause: cause, At: in.ReceivedAt,
	})
}

func (h *Intake) receipt(ctx context.Context, evt *events.Receipt) bool {
	ctx, cancel := context.WithTimeout(ctx, h.timeout())
	defer cancel()
	statuses, err := h.Converter.Receipt(ctx, evt)
	if err != nil {
		eventsTotal.WithLabelValues("receipt", "failed").Inc()
		h.logger().WarnContext(ctx, "whatsapp receipt not converted; left for redelivery", "err", err)
		return false
	}
	if len(statuses) == 0 {
		eventsTotal.WithLabelValues("receipt", "skipped_"+string(evt.Type)).Inc()
		return true
	}
	msgs := make([]gateway.Message, 0, len(statuses))
	for _, st := range statuses {
		m, err := st.Record(h.source(), h.Topics.Name(gateway.TopicStatus))
		if err != nil {
			h.logger().ErrorContext(ctx, "whatsapp receipt refused: encode record", "err", err)
			return true
		}
		msgs = append(msgs, m)
	}
	if err := h.publish(ctx, msgs...); err != nil {
		eventsTotal.WithLabelValues("receipt", "failed").Inc()
		h.logger().WarnContext(ctx, "whatsapp receipt not published; left for redelivery", "err", err)
		return false
	}
	eventsTotal.WithLabelValues("receipt", "published").Inc()
	return true
}

// publish retries a failing Publish with backoff until ctx ends: a short
// broker hiccup should not cost a WhatsApp redelivery, which only comes on
// the next reconnect.
func (h *Intake) publish(ctx context.Context, msgs ...gateway.Message) error {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 100 * time.Millisecond
	b.MaxInterval = 2 * time.Second
	b.MaxElapsedTime = 0 // ctx bounds it
	var last error
	err := backoff.Retry(func() error {
		last = h.Publisher.Publish(ctx, msgs...)
		return last
	}, backoff.WithContext(b, ctx))
	if err == nil {
		return nil
	}
	if last != nil && !errors.Is(last, context.DeadlineExceeded) && !errors.Is(last, context.Canceled) {
		return fmt.Errorf("publish: %w", last)
	}
	return fmt.Errorf("publish: %w", err)
}

func (h *Intake) timeout() time.Duration {
	if h.Timeout > 0 {
		return h.Timeout
	}
	return 30 * time.Second
}

func (h *Intake) source() string {
	if h.Source != "" {
		return h.Source
	}
	return DefaultSource
}

func (h *Intake) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.New(slog.DiscardHandler)
}

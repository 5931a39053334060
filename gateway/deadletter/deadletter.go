// Package deadletter makes every dead letter visible. Whoever gives up on a
// record (the ticketing worker, the consumer that isolates a poison record,
// a channel adapter that refuses a provider message) builds its
// chatgate.deadletter record here: gateway.NewDeadletter gives the one id
// format and fills the fields, and New also counts the record in
// chatgate_deadletter_records_total{source,topic} and logs it at error
// level, so nothing is dead-lettered without an operator being able to see
// it (docs/deadletter.md).
package deadletter

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/chatgate/chatgate/gateway"
)

// NoTopic is the topic label of records refused before they reached Kafka.
const NoTopic = "none"

var records = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "chatgate_deadletter_records_total",
	Help: "Records dead-lettered, by the CloudEvents source of the component that gave up and the record's original topic (none: refused before it reached Kafka).",
}, []string{"source", "topic"})

// New builds the dead letter of p (gateway.NewDeadletter), counts it and
// logs it at error level with its id, source, original position and event
// id. The log never holds the key or the value (a phone number, a message
// text), and digit runs that may be phone numbers are masked in the reason.
// It counts when the decision is taken: a batch that is retried after a
// failed commit counts its dead letters again.
func New(ctx context.Context, log *slog.Logger, p gateway.DeadletterParams) (gateway.Message, error) {
	msg, d, err := gateway.NewDeadletter(p)
	if err != nil {
		return gateway.Message{}, err
	}
	topic := d.Topic
	if topic == "" {
		topic = NoTopic
	}
	records.WithLabelValues(p.Source, topic).Inc()
	if log == nil {
		return msg, nil
	}
	attrs := []any{"deadletter_id", gateway.DeadletterID(p.Original), "source", p.Source, "topic", topic}
	if d.Topic != "" {
		attrs = append(attrs, "partition", d.Partition, "offset", d.Offset)
	}
	if ev, err := gateway.DecodeEvent(p.Original.Value); err == nil {
		attrs = append(attrs, "event_id", ev.ID, "event_type", ev.Type)
	}
	attrs = append(attrs, "error", gateway.Mask(d.Reason))
	log.ErrorContext(ctx, "record dead-lettered", attrs...)
	return msg, nil
}

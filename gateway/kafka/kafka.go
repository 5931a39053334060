// Package kafka is chatgate's only user of github.com/segmentio/kafka-go: a
// producer that implements gateway.Publisher with acks=all, a consumer-group
// runner that hands batches to a gateway.BatchHandler and commits offsets only
// after the handler succeeded, topic creation and a readiness probe.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/chatgate/chatgate/gateway"
)

var (
	recordsOut = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "chatgate_kafka_records_produced_total",
		Help: "Records acknowledged by Kafka, per topic.",
	}, []string{"topic"})
	recordsIn = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "chatgate_kafka_records_consumed_total",
		Help: "Records fetched from Kafka by consumer groups, per topic.",
	}, []string{"topic"})
	poisonRecords = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "chatgate_kafka_poison_records_total",
		Help: "Records a consumer could not handle even alone, dead-lettered, per topic.",
	}, []string{"topic"})
	produceErrors = promauto.NewCounter(prometheus.CounterOpts{
		Name: "chatgate_kafka_produce_errors_total",
		Help: "Publish calls that failed.",
	})
)

// ParseBrokers splits a comma-separated broker list, dropping blanks.
func ParseBrokers(s string) []string {
	var out []string
	for _, b := range strings.Split(s, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// ProducerConfig configures a Producer.
type ProducerConfig struct {
	Brokers []string
	// BatchTimeout bounds how long a write waits for more records to share its
	// batch. kafka-go's default of 1 s would make every synchronous write take a
	// second; concurrent writers share batches anyway. Default 1 ms.
	BatchTimeout time.Duration
	// BatchSize is the most records per partition in one produce request.
	// kafka-go allocates room for BatchSize records for every batch it
	// opens, so keep it near the number of records a batch really holds.
	// Default 100.
	BatchSize int
	// WriteTimeout bounds one produce request. Default 10 s.
	WriteTimeout time.Duration
	// MaxAttempts is how often kafka-go tries a failing write. Default 3.
	MaxAttempts int
}

func (c ProducerConfig) withDefaults() ProducerConfig {
	if c.BatchTimeout <= 0 {
		c.BatchTimeout = time.Millisecond
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 100
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 3
	}
	return c
}

// Producer publishes records with acks=all, hashing keys onto partitions so
// one key's records keep their order.
type Producer struct {
	w *kafkago.Writer
}

var _ gateway.Publisher = (*Producer)(nil)

// NewProducer returns a producer; it connects lazily on the first Publish.
func NewProducer(cfg ProducerConfig) (*Producer, error) {
	cfg = cfg.withDefaults()
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("kafka producer: no brokers configured")
	}
	return &Producer{w: &kafkago.Writer{
		Addr:                   kafkago.TCP(cfg.Brokers...),
		Balancer:               &kafkago.Hash{},
		RequiredAcks:           kafkago.RequireAll,
		BatchTimeout:           cfg.BatchTimeout,
		BatchSize:              cfg.BatchSize,
		WriteTimeout:           cfg.WriteTimeout,
		MaxAttempts:            cfg.MaxAttempts,
		AllowAutoTopicCreation: false,
	}}, nil
}

// Publish writes msgs and returns once Kafka acknowledged all of them.
func (p *Producer) Publish(ctx context.Context, msgs ...gateway.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	kms := make([]kafkago.Message, len(msgs))
	for i, m := range msgs {
		kms[i] = kafkago.Message{Topic: m.Topic, Key: m.Key, Value: m.Value, Headers: toHeaders(m.Headers)}
	}
	if err := p.w.WriteMessages(ctx, kms...); err != nil {
		produceErrors.Inc()
		return fmt.Errorf("publish %d records: %w: %w", len(msgs), gateway.ErrUnavailable, err)
	}
	for _, m := range msgs {
		recordsOut.WithLabelValues(m.Topic).Inc()
	}
	return nil
}

// Close flushes and closes the underlying writer.
func (p *Producer) Close() error { return p.w.Close() }

func toHeaders(hs []gateway.Header) []kafkago.Header {
	if len(hs) == 0 {
		return nil
	}
	out := make([]kafkago.Header, len(hs))
	for i, h := range hs {
		out[i] = kafkago.Header{Key: h.Key, Value: h.Value}
	}
	return out
}

func fromHeaders(hs []kafkago.Header) []gateway.Header {
	if len(hs) == 0 {
		return nil
	}
	out := make([]gateway.Header, len(hs))
	for i, h := range hs {
		out[i] = gateway.Header{Key: h.Key, Value: h.Value}
	}
	return out
}

// EnsureTopics creates the topics that do not exist yet.
func EnsureTopics(ctx context.Context, brokers []string, topics []string, partitions, replicationFactor int) error {
	if partitions <= 0 {
		partitions = 8
	}
	if replicationFactor <= 0 {
		replicationFactor = 1
	}
	client := &kafkago.Client{Addr: kafkago.TCP(brokers...), Timeout: 10 * time.Second}
	req := &kafkago.CreateTopicsRequest{}
	for _, t := range topics {
		req.Topics = append(req.Topics, kafkago.TopicConfig{Topic: t, NumPartitions: partitions, ReplicationFactor: replicationFactor})
	}
	resp, err := client.CreateTopics(ctx, req)
	if err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	var errs []error
	for topic, terr := range resp.Errors {
		if terr != nil && !errors.Is(terr, kafkago.TopicAlreadyExists) {
			errs = append(errs, fmt.Errorf("create topic %s: %w", topic, terr))
		}
	}
	return errors.Join(errs...)
}

// Ping checks that a broker answers a metadata request for topic.
func Ping(ctx context.Context, brokers []string, topic string) error {
	client := &kafkago.Client{Addr: kafkago.TCP(brokers...), Timeout: 5 * time.Second}
	resp, err := client.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return fmt.Errorf("kafka metadata: %w", err)
	}
	for _, t := range resp.Topics {
		if t.Error != nil {
			return fmt.Errorf("kafka topic %s: %w", t.Name, t.Error)
		}
	}
	return nil
}

// WaitReachable polls until a TCP connection to the first broker succeeds or
// ctx ends; it gives clear startup errors when the broker is down.
func WaitReachable(ctx context.Context, brokers []string) error {
	var d net.Dialer
	for {
		conn, err := d.DialContext(ctx, "tcp", brokers[0])
		if err == nil {
			return conn.Close()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kafka broker %s unreachable: %w", brokers[0], err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func discardLogger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

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

// EnsureTopics creates the topics that do not exist yet. It asks the brokers
// one at a time, in order, until one answers: kafka-go given several
// addresses picks one at random and gives up if that one accepts the
// connection but does not answer. Put the broker WaitReachable found first.
func EnsureTopics(ctx context.Context, brokers []string, topics []string, partitions, replicationFactor int) error {
	if partitions <= 0 {
		partitions = 8
	}
	if replicationFactor <= 0 {
		replicationFactor = 1
	}
	if len(brokers) == 0 {
		return errors.New("create topics: no brokers configured")
	}
	req := &kafkago.CreateTopicsRequest{}
	for _, t := range topics {
		req.Topics = append(req.Topics, kafkago.TopicConfig{Topic: t, NumPartitions: partitions, ReplicationFactor: replicationFactor})
	}
	errs := make(map[string]error, len(brokers))
	for _, b := range brokers {
		client := &kafkago.Client{Addr: kafkago.TCP(b), Timeout: 10 * time.Second}
		resp, err := client.CreateTopics(ctx, req)
		if err != nil {
			errs[b] = err
			if ctx.Err() != nil {
				break
			}
			continue
		}
		var terrs []error
		for topic, terr := range resp.Errors {
			if terr != nil && !errors.Is(terr, kafkago.TopicAlreadyExists) {
				terrs = append(terrs, fmt.Errorf("create topic %s: %w", topic, terr))
			}
		}
		return errors.Join(terrs...)
	}
	return fmt.Errorf("create topics: %s", brokerErrors(brokers, errs))
}

// Ping checks that a broker answers a metadata request for topic. It asks
// every broker at once and is satisfied by the first answer, so one broker
// that hangs does not make a process unready.
func Ping(ctx context.Context, brokers []string, topic string) error {
	if len(brokers) == 0 {
		return errors.New("kafka: no brokers configured")
	}
	_, errs := eachBroker(ctx, brokers, func(ctx context.Context, broker string) error {
		client := &kafkago.Client{Addr: kafkago.TCP(broker), Timeout: 5 * time.Second}
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
	})
	if errs == nil {
		return nil
	}
	if len(brokers) == 1 {
		return errs[brokers[0]]
	}
	return errors.New(brokerErrors(brokers, errs))
}

// Timing of WaitReachable.
const (
	// reachAttemptTimeout bounds one broker's answer in a round: a broker
	// that accepts connections but never answers must not stall the others.
	reachAttemptTimeout = 2 * time.Second
	// reachRetryEvery is the pause between rounds.
	reachRetryEvery = 250 * time.Millisecond
	// reachLogEvery is how often a wait says it still waits.
	reachLogEvery = 5 * time.Second
)

// WaitReachable waits until one of brokers answers a Kafka request (an
// ApiVersions round trip, so a port that accepts connections without being
// a broker does not count) or ctx ends, and returns that broker. Each round
// asks every broker at once, since any of them can bootstrap a client; while
// none answers it logs, at warn level, the brokers and why each failed, at
// once and then every few seconds. When ctx ends first the error names every
// broker and its last error.
func WaitReachable(ctx context.Context, brokers []string, log *slog.Logger) (string, error) {
	if len(brokers) == 0 {
		return "", errors.New("kafka: no brokers configured")
	}
	log = discardLogger(log)
	start := time.Now()
	var lastLog time.Time
	lastErrs := make(map[string]error, len(brokers))
	giveUp := func() (string, error) {
		return "", fmt.Errorf("no kafka broker answered (waited %s): %s: %w",
			time.Since(start).Round(100*time.Millisecond), brokerErrors(brokers, lastErrs), ctx.Err())
	}
	for round := 1; ; round++ {
		answered, errs := eachBroker(ctx, brokers, probeBroker)
		if errs == nil {
			if round > 1 {
				log.InfoContext(ctx, "kafka broker answered", "broker", answered, "waited", time.Since(start).Round(time.Millisecond))
			}
			return answered, nil
		}
		for b, err := range errs {
			// A round cut short by ctx says only that time ran out: keep
			// the reason the round before gave.
			if ctx.Err() == nil || lastErrs[b] == nil {
				lastErrs[b] = err
			}
		}
		if ctx.Err() != nil {
			return giveUp()
		}
		if now := time.Now(); now.Sub(lastLog) >= reachLogEvery {
			log.WarnContext(ctx, "waiting for kafka: no broker answers yet",
				"brokers", strings.Join(brokers, ","), "waited", now.Sub(start).Round(time.Second),
				"error", brokerErrors(brokers, lastErrs))
			lastLog = now
		}
		select {
		case <-ctx.Done():
			return giveUp()
		case <-time.After(reachRetryEvery):
		}
	}
}

// eachBroker runs fn for every broker at once. It returns the first broker
// for which fn succeeded, cancelling the others, or else each broker's error.
func eachBroker(ctx context.Context, brokers []string, fn func(ctx context.Context, broker string) error) (string, map[string]error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		broker string
		err    error
	}
	results := make(chan result, len(brokers)) // buffered: the losers never block
	for _, b := range brokers {
		go func() { results <- result{b, fn(ctx, b)} }()
	}
	errs := make(map[string]error, len(brokers))
	for range brokers {
		r := <-results
		if r.err == nil {
			return r.broker, nil
		}
		errs[r.broker] = r.err
	}
	return "", errs
}

// probeBroker connects to one broker and asks for its API versions.
func probeBroker(ctx context.Context, broker string) error {
	ctx, cancel := context.WithTimeout(ctx, reachAttemptTimeout)
	defer cancel()
	conn, err := (&kafkago.Dialer{}).DialContext(ctx, "tcp", broker)
	if err != nil {
		return err
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	if _, err := conn.ApiVersions(); err != nil {
		return fmt.Errorf("ask for API versions: %w", err)
	}
	return nil
}

// brokerErrors formats each broker's error, in the configured order.
func brokerErrors(brokers []string, errs map[string]error) string {
	parts := make([]string, 0, len(brokers))
	for _, b := range brokers {
		if err := errs[b]; err != nil {
			parts = append(parts, b+": "+err.Error())
		}
	}
	return strings.Join(parts, "; ")
}

func discardLogger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

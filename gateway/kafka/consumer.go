package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cenkalti/backoff/v4"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/chatgate/chatgate/gateway"
)

// ConsumerConfig configures a consumer-group runner.
type ConsumerConfig struct {
	Brokers []string
	GroupID string
	Topics  []string
	// MaxBatch is the most records handed to the handler at once. Default 1000.
	MaxBatch int
	// MaxWait is how long a batch keeps filling after its first record
	// arrived. Small, so a lone message is not held back. Default 5 ms.
	MaxWait time.Duration
	// SessionTimeout of the group membership. Real clusters refuse less than
	// 6 s by default; the embedded broker accepts 1 s. Default 6 s.
	SessionTimeout time.Duration
	// HeartbeatInterval default 1 s.
	HeartbeatInterval time.Duration
	// StartOffset for a group with no committed offset: kafkago.FirstOffset
	// (default) so nothing published before the first start is skipped.
	StartOffset int64
	Logger      *slog.Logger
	// Deadletter, when set, takes the records that cannot be handled (see
	// PoisonAttempts): it must store them somewhere durable (the deadletter
	// topic) before returning nil. Without it a failing batch is retried
	// until it succeeds.
	Deadletter func(ctx context.Context, m gateway.Message, cause error) error
	// PoisonAttempts is how often a batch fails before the consumer looks
	// for the records that make it fail: it then handles the records one by
	// one, in order, and dead-letters those that fail alone while others
	// succeed, or whose error Permanent reports. If every record fails, the
	// cause is taken to be outside the records (a database down) and the
	// batch is retried as a whole. Default 8.
	PoisonAttempts int
	// Permanent reports errors that retrying cannot fix (a constraint
	// violation, malformed data); optional.
	Permanent func(error) bool
}

func (c ConsumerConfig) withDefaults() ConsumerConfig {
	if c.MaxBatch <= 0 {
		c.MaxBatch = 1000
	}
	if c.MaxWait <= 0 {
		c.MaxWait = 5 * time.Millisecond
	}
	if c.SessionTimeout <= 0 {
		c.SessionTimeout = 6 * time.Second
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = time.Second
	}
	if c.StartOffset == 0 {
		c.StartOffset = kafkago.FirstOffset
	}
	if c.PoisonAttempts <= 0 {
		c.PoisonAttempts = 8
	}
	c.Logger = discardLogger(c.Logger)
	return c
}

func (c ConsumerConfig) validate() error {
	switch {
	case len(c.Brokers) == 0:
		return errors.New("kafka consumer: no brokers configured")
	case c.GroupID == "":
		return errors.New("kafka consumer: GroupID is empty")
	case len(c.Topics) == 0:
		return errors.New("kafka consumer: no topics")
	}
	return nil
}

// Consumer reads a consumer group's topics in batches. The handler sees each
// batch until it succeeds; offsets are committed only after that, so a crash
// between the two replays the batch (the handler must be idempotent).
type Consumer struct {
	cfg     ConsumerConfig
	r       *kafkago.Reader
	handler gateway.BatchHandler
}

// NewConsumer joins the group at once (kafka-go's reader does so on creation).
func NewConsumer(cfg ConsumerConfig, handler gateway.BatchHandler) (*Consumer, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	r := kafkago.NewReader(kafkago.ReaderConfig{
		Brokers:           cfg.Brokers,
		GroupID:           cfg.GroupID,
		GroupTopics:       cfg.Topics,
		QueueCapacity:     cfg.MaxBatch,
		MinBytes:          1,
		MaxBytes:          16 << 20,
		MaxWait:           250 * time.Millisecond,
		SessionTimeout:    cfg.SessionTimeout,
		HeartbeatInterval: cfg.HeartbeatInterval,
		RebalanceTimeout:  cfg.SessionTimeout,
		JoinGroupBackoff:  500 * time.Millisecond,
		CommitInterval:    0, // synchronous commits: we commit only after the handler succeeded
		StartOffset:       cfg.StartOffset,
		ReadBackoffMin:    10 * time.Millisecond,
		ReadBackoffMax:    500 * time.Millisecond,
		ErrorLogger: kafkago.LoggerFunc(func(msg string, args ...any) {
			cfg.Logger.Debug("kafka reader", "detail", fmt.Sprintf(msg, args...))
		}),
	})
	return &Consumer{cfg: cfg, r: r, handler: handler}, nil
}

// Run consumes until ctx ends; it returns nil on a clean stop.
func (c *Consumer) Run(ctx context.Context) error {
	for {
		batch, err := c.fetchBatch(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("consumer %s: fetch: %w", c.cfg.GroupID, err)
		}
		if err := c.handle(ctx, batch); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if err := c.commit(ctx, batch); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			// A commit can fail after a rebalance moved the partition away; the
			// new owner replays from the last commit and idempotent handling
			// makes that harmless, so log and go on.
			c.cfg.Logger.WarnContext(ctx, "offset commit failed; records will be replayed", "group", c.cfg.GroupID, "error", err)
		}
	}
}

// Close leaves the group.
func (c *Consumer) Close() error { return c.r.Close() }

func (c *Consumer) fetchBatch(ctx context.Context) ([]gateway.Message, error) {
	first, err := c.r.FetchMessage(ctx)
	if err != nil {
		return nil, err
	}
	batch := make([]gateway.Message, 0, 64)
	batch = append(batch, convert(first))
	fill, cancel := context.WithTimeout(ctx, c.cfg.MaxWait)
	defer cancel()
	for len(batch) < c.cfg.MaxBatch {
		m, err := c.r.FetchMessage(fill)
		if err != nil {
			// kafka-go's FetchMessage takes nothing from its queue when the
			// context ends, so stopping here loses no record.
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			break
		}
		batch = append(batch, convert(m))
	}
	for _, m := range batch {
		recordsIn.WithLabelValues(m.Topic).Inc()
	}
	return batch, nil
}

// handle retries the handler with backoff until it succeeds or ctx ends:
// a batch that cannot be stored must not be skipped. A batch that keeps
// failing is searched for poison records (see ConsumerConfig.PoisonAttempts).
func (c *Consumer) handle(ctx context.Context, batch []gateway.Message) error {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 50 * time.Millisecond
	b.MaxInterval = 5 * time.Second
	b.MaxElapsedTime = 0
	attempt := 0
	return backoff.Retry(func() error {
		attempt++
		err := c.handler(ctx, batch)
		if err == nil || ctx.Err() != nil {
			return err
		}
		c.cfg.Logger.ErrorContext(ctx, "batch handler failed; retrying", "group", c.cfg.GroupID, "records", len(batch), "attempt", attempt, "error", err)
		if c.cfg.Deadletter != nil && attempt%c.cfg.PoisonAttempts == 0 {
			return c.isolate(ctx, batch, err)
		}
		return err
	}, backoff.WithContext(b, ctx))
}

// isolate handles the records of a failing batch one by one, in order.
// Records that fail alone are dead-lettered when another record of the batch
// succeeded, or when their error is permanent; otherwise nothing is
// dead-lettered and the batch error is returned, to be retried.
func (c *Consumer) isolate(ctx context.Context, batch []gateway.Message, batchErr error) error {
	type failure struct {
		m   gateway.Message
		err error
	}
	var failed []failure
	succeeded := 0
	for _, m := range batch {
		var err error
		for try := 0; try < 3; try++ {
			if err = c.handler(ctx, []gateway.Message{m}); err == nil || ctx.Err() != nil {
				break
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			failed = append(failed, failure{m, err})
		} else {
			succeeded++
		}
	}
	for _, f := range failed {
		if succeeded == 0 && (c.cfg.Permanent == nil || !c.cfg.Permanent(f.err)) {
			return batchErr // every record fails: the cause is elsewhere
		}
	}
	for _, f := range failed {
		poisonRecords.WithLabelValues(f.m.Topic).Inc()
		// The dead-letter builder (gateway/deadletter) logs the record at
		// error level with its reason and counts it; this says which group
		// gave up on it.
		c.cfg.Logger.WarnContext(ctx, "record fails on its own; dead-lettering it", "group", c.cfg.GroupID,
			"topic", f.m.Topic, "partition", f.m.Partition, "offset", f.m.Offset)
		if err := c.cfg.Deadletter(ctx, f.m, f.err); err != nil {
			return fmt.Errorf("dead-letter %s/%d@%d: %w", f.m.Topic, f.m.Partition, f.m.Offset, err)
		}
	}
	return nil
}

func (c *Consumer) commit(ctx context.Context, batch []gateway.Message) error {
	type tp struct {
		topic     string
		partition int
	}
	last := make(map[tp]gateway.Message)
	for _, m := range batch {
		last[tp{m.Topic, m.Partition}] = m
	}
	msgs := make([]kafkago.Message, 0, len(last))
	for _, m := range last {
		msgs = append(msgs, kafkago.Message{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset})
	}
	return c.r.CommitMessages(ctx, msgs...)
}

func convert(m kafkago.Message) gateway.Message {
	return gateway.Message{
		Topic:     m.Topic,
		Key:       m.Key,
		Value:     m.Value,
		Headers:   fromHeaders(m.Headers),
		Partition: m.Partition,
		Offset:    m.Offset,
	}
}

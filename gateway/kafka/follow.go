package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/chatgate/chatgate/gateway"
)

// followBatch bounds the records one deliver call of Follow hands over.
const followBatch = 256

// Follower reads every partition of one topic from offsets its caller
// chooses, without a consumer group, so every process that follows the
// topic sees every record. The live stream (gateway/stream) follows the
// tickets topic with it: it starts at the end offsets (Ends) and needs to
// know exactly where it started, which Tail does not tell.
type Follower struct {
	brokers []string
	topic   string
	log     *slog.Logger
}

// NewFollower returns a Follower of topic; log receives read errors (nil
// discards them).
func NewFollower(brokers []string, topic string, log *slog.Logger) *Follower {
	return &Follower{brokers: brokers, topic: topic, log: discardLogger(log)}
}

// Ends returns, for every partition of the topic, the offset its next
// record will get.
func (f *Follower) Ends(ctx context.Context) (map[int]int64, error) {
	return EndOffsets(ctx, f.brokers, f.topic)
}

// Follow reads each partition of from, starting at its offset, and passes
// the records read to deliver, in order within each partition, from one
// goroutine, up to followBatch at a time; deliver must not keep the slice
// after it returns. It returns nil once ctx ends.
// Broker errors are logged and retried; partitions the topic gains later are
// not read.
func (f *Follower) Follow(ctx context.Context, from map[int]int64, deliver func([]gateway.Message)) error {
	if len(from) == 0 {
		return fmt.Errorf("follow %s: no partitions to read", f.topic)
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	msgs := make(chan gateway.Message, 4*followBatch)
	var wg sync.WaitGroup
	var readers []*kafkago.Reader
	defer func() {
		cancel()
		for _, r := range readers {
			_ = r.Close()
		}
		wg.Wait()
	}()
	for p, offset := range from {
		r := kafkago.NewReader(kafkago.ReaderConfig{
			Brokers: f.brokers, Topic: f.topic, Partition: p,
			MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 50 * time.Millisecond,
		})
		readers = append(readers, r)
		if err := r.SetOffset(offset); err != nil {
			return fmt.Errorf("follow %s partition %d from %d: %w", f.topic, p, offset, err)
		}
		wg.Go(func() { f.read(rctx, r, p, msgs) })
	}
	batch := make([]gateway.Message, 0, followBatch)
	for {
		select {
		case <-ctx.Done():
			return nil
		case m := <-msgs:
			batch = append(batch[:0], m)
		}
	drain:
		for len(batch) < followBatch {
			select {
			case m := <-msgs:
				batch = append(batch, m)
			default:
				break drain
			}
		}
		deliver(batch)
	}
}

// read copies one partition's records into msgs until ctx ends.
func (f *Follower) read(ctx context.Context, r *kafkago.Reader, partition int, msgs chan<- gateway.Message) {
	for {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			if errors.Is(err, context.Canceled) || ctx.Err() != nil {
				return
			}
			f.log.WarnContext(ctx, "follow: read failed; retrying", "topic", f.topic, "partition", partition, "error", err)
			select {
			case <-time.After(100 * time.Millisecond): // a broker hiccup: try again
			case <-ctx.Done():
				return
			}
			continue
		}
		select {
		case msgs <- convert(m):
		case <-ctx.Done():
			return
		}
	}
}

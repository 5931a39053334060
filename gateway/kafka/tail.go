package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/chatgate/chatgate/gateway"
)

// Tail reads every partition of one topic without a consumer group, from
// the first offset or from the end offsets as they were when it was created.
// Tests and the load command use it to watch what chatgate publishes.
type Tail struct {
	msgs    chan gateway.Message
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	readers []*kafkago.Reader
}

// NewTail starts reading topic. With fromEnd, only records published after
// NewTail returned are delivered.
func NewTail(ctx context.Context, brokers []string, topic string, fromEnd bool) (*Tail, error) {
	parts, err := partitions(ctx, brokers, topic)
	if err != nil {
		return nil, fmt.Errorf("tail %s: %w", topic, err)
	}
	var offsets map[int]int64
	if fromEnd {
		if offsets, err = EndOffsets(ctx, brokers, topic); err != nil {
			return nil, fmt.Errorf("tail %s: %w", topic, err)
		}
	}
	rctx, cancel := context.WithCancel(context.Background())
	t := &Tail{msgs: make(chan gateway.Message, 1024), cancel: cancel}
	for _, p := range parts {
		r := kafkago.NewReader(kafkago.ReaderConfig{
			Brokers: brokers, Topic: topic, Partition: p,
			MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 50 * time.Millisecond,
		})
		start := kafkago.FirstOffset
		if fromEnd {
			start = offsets[p]
		}
		if err := r.SetOffset(start); err != nil {
			cancel()
			t.Close()
			return nil, fmt.Errorf("tail %s partition %d: %w", topic, p, err)
		}
		t.readers = append(t.readers, r)
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			for {
				m, err := r.ReadMessage(rctx)
				if err != nil {
					if !errors.Is(err, context.Canceled) && rctx.Err() == nil {
						time.Sleep(10 * time.Millisecond) // broker hiccup: try again
						continue
					}
					return
				}
				select {
				case t.msgs <- convert(m):
				case <-rctx.Done():
					return
				}
			}
		}()
	}
	return t, nil
}

// Messages delivers the records read, in order within each partition.
func (t *Tail) Messages() <-chan gateway.Message { return t.msgs }

// Close stops reading.
func (t *Tail) Close() {
	t.cancel()
	for _, r := range t.readers {
		_ = r.Close()
	}
	t.wg.Wait()
}

func partitions(ctx context.Context, brokers []string, topic string) ([]int, error) {
	client := &kafkago.Client{Addr: kafkago.TCP(brokers...), Timeout: 10 * time.Second}
	meta, err := client.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	if len(meta.Topics) != 1 || meta.Topics[0].Error != nil {
		return nil, fmt.Errorf("topic %s not found", topic)
	}
	var ids []int
	for _, p := range meta.Topics[0].Partitions {
		ids = append(ids, p.ID)
	}
	return ids, nil
}

// EndOffsets returns the offset the next record of each partition of topic
// will get; their sum is the number of records ever written to the topic.
func EndOffsets(ctx context.Context, brokers []string, topic string) (map[int]int64, error) {
	parts, err := partitions(ctx, brokers, topic)
	if err != nil {
		return nil, err
	}
	client := &kafkago.Client{Addr: kafkago.TCP(brokers...), Timeout: 10 * time.Second}
	req := &kafkago.ListOffsetsRequest{Topics: map[string][]kafkago.OffsetRequest{}}
	for _, p := range parts {
		req.Topics[topic] = append(req.Topics[topic], kafkago.LastOffsetOf(p))
	}
	resp, err := client.ListOffsets(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("list offsets of %s: %w", topic, err)
	}
	offsets := make(map[int]int64, len(parts))
	for _, po := range resp.Topics[topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("offsets of %s partition %d: %w", topic, po.Partition, po.Error)
		}
		offsets[po.Partition] = po.LastOffset
	}
	return offsets, nil
}

// Partitions returns the partition ids of topic.
func Partitions(ctx context.Context, brokers []string, topic string) ([]int, error) {
	return partitions(ctx, brokers, topic)
}

// OffsetRange selects the records of one partition with offsets From to To,
// both inclusive; To < 0 means up to the last record.
type OffsetRange struct {
	Partition int
	From, To  int64
}

// ReadTopic calls fn with the records of topic that exist when it is
// called, partition by partition, in offset order: every record, or only
// those ranges selects. It reads without a consumer group and does not wait
// for records published later, so operators' commands (chatgate deadletter
// list, replay) end. An error from fn stops the reading and is returned.
func ReadTopic(ctx context.Context, brokers []string, topic string, ranges []OffsetRange, fn func(gateway.Message) error) error {
	bounds, err := offsetBounds(ctx, brokers, topic)
	if err != nil {
		return fmt.Errorf("read %s: %w", topic, err)
	}
	if ranges == nil {
		for p := range bounds {
			ranges = append(ranges, OffsetRange{Partition: p, From: 0, To: -1})
		}
		slices.SortFunc(ranges, func(a, b OffsetRange) int { return a.Partition - b.Partition })
	}
	for _, r := range ranges {
		b, ok := bounds[r.Partition]
		if !ok {
			return fmt.Errorf("read %s: no partition %d", topic, r.Partition)
		}
		from, to := max(r.From, b.first), b.end-1
		if r.To >= 0 {
			to = min(r.To, to)
		}
		if from > to {
			continue
		}
		if err := readPartition(ctx, brokers, topic, r.Partition, from, to, fn); err != nil {
			return err
		}
	}
	return nil
}

func readPartition(ctx context.Context, brokers []string, topic string, partition int, from, to int64, fn func(gateway.Message) error) error {
	r := kafkago.NewReader(kafkago.ReaderConfig{
		Brokers: brokers, Topic: topic, Partition: partition,
		MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 100 * time.Millisecond,
	})
	defer r.Close()
	if err := r.SetOffset(from); err != nil {
		return fmt.Errorf("read %s partition %d from %d: %w", topic, partition, from, err)
	}
	for {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			return fmt.Errorf("read %s partition %d: %w", topic, partition, err)
		}
		if m.Offset > to {
			return nil // the last offset in range was not a record (compacted away)
		}
		if err := fn(convert(m)); err != nil {
			return err
		}
		if m.Offset == to {
			return nil
		}
	}
}

// partitionBounds are a partition's first offset still stored and the
// offset its next record will get.
type partitionBounds struct{ first, end int64 }

func offsetBounds(ctx context.Context, brokers []string, topic string) (map[int]partitionBounds, error) {
	parts, err := partitions(ctx, brokers, topic)
	if err != nil {
		return nil, err
	}
	bounds := make(map[int]partitionBounds, len(parts))
	for _, p := range parts {
		// One connection per partition leader: Kafka refuses a ListOffsets
		// request that asks for both ends of one partition.
		var conn *kafkago.Conn
		for _, b := range brokers {
			if conn, err = kafkago.DialLeader(ctx, "tcp", b, topic, p); err == nil {
				break
			}
		}
		if err != nil {
			return nil, fmt.Errorf("offsets of %s partition %d: %w", topic, p, err)
		}
		if dl, ok := ctx.Deadline(); ok {
			_ = conn.SetDeadline(dl)
		} else {
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		}
		first, end, err := conn.ReadOffsets()
		_ = conn.Close()
		if err != nil {
			return nil, fmt.Errorf("offsets of %s partition %d: %w", topic, p, err)
		}
		bounds[p] = partitionBounds{first: first, end: end}
	}
	return bounds, nil
}

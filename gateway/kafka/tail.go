package kafka

import (
	"context"
	"errors"
	"fmt"
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

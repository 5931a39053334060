package kafka_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/kafka"
)

// A Follower starts exactly where it is told on every partition: from the
// end offsets it sees none of the records before, all of the records
// after, each once, in order within its partition; from an earlier offset
// it sees that partition's records from there.
func TestFollowerReadsFromTheGivenOffsets(t *testing.T) {
	t.Parallel()
	brokers := startBroker(t)
	publish(t, brokers, 30, "before")
	f := kafka.NewFollower(brokers, topic, nil)
	ends, err := f.Ends(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	total := int64(0)
	for _, o := range ends {
		total += o
	}
	if len(ends) != 3 || total != 30 {
		t.Fatalf("end offsets %v: want 3 partitions holding 30 records", ends)
	}

	type got struct {
		mu   sync.Mutex
		msgs []gateway.Message
	}
	follow := func(from map[int]int64) (*got, func()) {
		g := &got{}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() {
			done <- f.Follow(ctx, from, func(batch []gateway.Message) {
				g.mu.Lock()
				g.msgs = append(g.msgs, batch...)
				g.mu.Unlock()
			})
		}()
		return g, func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("follow: %v", err)
			}
		}
	}
	fromEnd, stop := follow(ends)
	defer stop()
	// The partition holding the most records, read from one before its end.
	part, back := 0, map[int]int64{}
	for p, o := range ends {
		if o > ends[part] {
			part = p
		}
	}
	back[part] = ends[part] - 1
	fromBack, stopBack := follow(back)
	defer stopBack()

	publish(t, brokers, 20, "after")
	deadline := time.Now().Add(20 * time.Second)
	for {
		fromEnd.mu.Lock()
		n := len(fromEnd.msgs)
		fromEnd.mu.Unlock()
		if n >= 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("followed %d of 20 records", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	fromEnd.mu.Lock()
	next := map[int]int64{}
	for p, o := range ends {
		next[p] = o
	}
	seen := map[string]bool{}
	for _, m := range fromEnd.msgs {
		if m.Offset != next[m.Partition] {
			t.Errorf("partition %d: offset %d, want %d (in order, from the end offset)", m.Partition, m.Offset, next[m.Partition])
		}
		next[m.Partition] = m.Offset + 1
		if v := string(m.Value); seen[v] || v[:5] != "after" {
			t.Errorf("record %q twice or from before the end", v)
		}
		seen[string(m.Value)] = true
	}
	fromEnd.mu.Unlock()

	for {
		fromBack.mu.Lock()
		var first gateway.Message
		n := len(fromBack.msgs)
		if n > 0 {
			first = fromBack.msgs[0]
		}
		fromBack.mu.Unlock()
		if n > 0 {
			if first.Partition != part || first.Offset != ends[part]-1 || first.Value[0] != 'b' {
				t.Fatalf("from partition %d offset %d: first record %s at %d/%d", part, ends[part]-1, first.Value, first.Partition, first.Offset)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing followed from partition %d offset %d", part, ends[part]-1)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

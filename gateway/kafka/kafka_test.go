package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/devstack"
	"github.com/chatgate/chatgate/gateway/kafka"
	"github.com/chatgate/chatgate/gateway/testkit"
)

const topic = "t.inbound"

func startBroker(t *testing.T) []string {
	t.Helper()
	b, err := devstack.StartBroker(devstack.BrokerConfig{Addr: "127.0.0.1:0", Topics: []string{topic}, Partitions: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return []string{b.Addr()}
}

func publish(t *testing.T, brokers []string, n int, prefix string) {
	t.Helper()
	p, err := kafka.NewProducer(kafka.ProducerConfig{Brokers: brokers})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	msgs := make([]gateway.Message, n)
	for i := range msgs {
		msgs[i] = gateway.Message{Topic: topic, Key: []byte(fmt.Sprintf("k%d", i%5)), Value: []byte(fmt.Sprintf("%s-%03d", prefix, i))}
	}
	if err := p.Publish(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
}

// collector is a BatchHandler that fails its first failFirst calls.
type collector struct {
	mu        sync.Mutex
	calls     int
	failFirst int
	seen      []string
}

func (c *collector) handle(_ context.Context, msgs []gateway.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	if c.calls <= c.failFirst {
		return errors.New("database down")
	}
	for _, m := range msgs {
		c.seen = append(c.seen, string(m.Value))
	}
	return nil
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

func run(t *testing.T, brokers []string, group string, h gateway.BatchHandler) (stop func()) {
	t.Helper()
	c, err := kafka.NewConsumer(kafka.ConsumerConfig{
		Brokers: brokers, GroupID: group, Topics: []string{topic},
		SessionTimeout: time.Second, HeartbeatInterval: 200 * time.Millisecond,
	}, h)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("consumer run: %v", err)
		}
		_ = c.Close()
	}
}

// within bounds every wait of these tests: a consumer group's join and
// rebalance take seconds on a loaded machine.
const within = 30 * time.Second

func TestConsumerRetriesAFailedBatchAndCommitsAfterSuccess(t *testing.T) {
	t.Parallel()
	brokers := startBroker(t)
	publish(t, brokers, 30, "a")
	first := &collector{failFirst: 2}
	stop := run(t, brokers, "g", first.handle)
	testkit.WaitFor(t, within, "30 records handled", func() bool { return first.count() == 30 })
	stop()
	if first.calls < 3 {
		t.Fatalf("handler called %d times, want the failed batch retried", first.calls)
	}

	// The offsets were committed: the next member of the group sees only new records.
	publish(t, brokers, 5, "b")
	second := &collector{}
	stop = run(t, brokers, "g", second.handle)
	testkit.WaitFor(t, within, "5 new records", func() bool { return second.count() >= 5 })
	stop()
	for _, v := range second.seen {
		if v[0] != 'b' {
			t.Fatalf("committed record %s delivered again", v)
		}
	}
}

func TestConsumerKeepsOrderPerKey(t *testing.T) {
	t.Parallel()
	brokers := startBroker(t)
	publish(t, brokers, 200, "o")
	c := &collector{}
	stop := run(t, brokers, "order", c.handle)
	testkit.WaitFor(t, within, "200 records", func() bool { return c.count() == 200 })
	stop()
	last := map[int]string{}
	for _, v := range c.seen {
		var i int
		fmt.Sscanf(v, "o-%d", &i)
		if prev, ok := last[i%5]; ok && prev > v {
			t.Fatalf("key k%d: %s after %s", i%5, v, prev)
		}
		last[i%5] = v
	}
}

func TestTailFromEndSeesOnlyNewRecords(t *testing.T) {
	t.Parallel()
	brokers := startBroker(t)
	publish(t, brokers, 10, "old")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tail, err := kafka.NewTail(ctx, brokers, topic, true)
	if err != nil {
		t.Fatal(err)
	}
	defer tail.Close()
	publish(t, brokers, 3, "new")
	for range 3 {
		select {
		case m := <-tail.Messages():
			if string(m.Value[:3]) != "new" {
				t.Fatalf("tail from end delivered %s", m.Value)
			}
		case <-ctx.Done():
			t.Fatal("new records not delivered")
		}
	}
	ends, err := kafka.EndOffsets(ctx, brokers, topic)
	if err != nil {
		t.Fatal(err)
	}
	total := int64(0)
	for _, o := range ends {
		total += o
	}
	if total != 13 {
		t.Fatalf("end offsets sum to %d, want 13", total)
	}
}

func TestPublishToMissingBrokerFailsAsUnavailable(t *testing.T) {
	t.Parallel()
	p, err := kafka.NewProducer(kafka.ProducerConfig{Brokers: []string{"127.0.0.1:1"}, MaxAttempts: 1, WriteTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = p.Publish(ctx, gateway.Message{Topic: topic, Value: []byte("x")})
	if !errors.Is(err, gateway.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
}

// poisonHandler fails every batch that holds a record whose value starts
// with "poison", as a record that violates a constraint would.
type poisonHandler struct {
	mu      sync.Mutex
	handled []string
	calls   int
}

func (p *poisonHandler) handle(_ context.Context, msgs []gateway.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	for _, m := range msgs {
		if string(m.Value[:6]) == "poison" {
			return errors.New("unique violation")
		}
	}
	for _, m := range msgs {
		p.handled = append(p.handled, string(m.Value))
	}
	return nil
}

func TestConsumerDeadLettersAPoisonRecordAndGoesOn(t *testing.T) {
	t.Parallel()
	brokers := startBroker(t)
	p, err := kafka.NewProducer(kafka.ProducerConfig{Brokers: brokers})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	// One key, so all land in one partition and one batch.
	var msgs []gateway.Message
	for _, v := range []string{"good-1", "poison-2", "good-3"} {
		msgs = append(msgs, gateway.Message{Topic: topic, Key: []byte("k"), Value: []byte(v)})
	}
	if err := p.Publish(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
	h := &poisonHandler{}
	var mu sync.Mutex
	var dead []string
	c, err := kafka.NewConsumer(kafka.ConsumerConfig{
		Brokers: brokers, GroupID: "poison", Topics: []string{topic}, SessionTimeout: time.Second, HeartbeatInterval: 200 * time.Millisecond,
		PoisonAttempts: 2,
		Deadletter: func(_ context.Context, m gateway.Message, cause error) error {
			mu.Lock()
			defer mu.Unlock()
			dead = append(dead, string(m.Value)+": "+cause.Error())
			return nil
		},
	}, h.handle)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	testkit.WaitFor(t, within, "the poison record dead-lettered", func() bool { mu.Lock(); defer mu.Unlock(); return len(dead) == 1 })
	cancel()
	<-done
	_ = c.Close()
	h.mu.Lock()
	defer h.mu.Unlock()
	if fmt.Sprint(h.handled) != "[good-1 good-3]" || dead[0] != "poison-2: unique violation" {
		t.Fatalf("handled %v, dead-lettered %v", h.handled, dead)
	}
}

// When every record fails (the database is down), nothing is dead-lettered.
func TestConsumerDoesNotDeadLetterWhenEverythingFails(t *testing.T) {
	t.Parallel()
	brokers := startBroker(t)
	publish(t, brokers, 4, "x")
	var calls atomic.Int64
	c, err := kafka.NewConsumer(kafka.ConsumerConfig{
		Brokers: brokers, GroupID: "down", Topics: []string{topic}, SessionTimeout: time.Second, HeartbeatInterval: 200 * time.Millisecond,
		PoisonAttempts: 1,
		Deadletter: func(context.Context, gateway.Message, error) error {
			t.Error("dead-lettered although every record failed")
			return nil
		},
	}, func(context.Context, []gateway.Message) error { calls.Add(1); return errors.New("connection refused") })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	// One batch attempt, one isolation pass (3 tries per record), and more.
	testkit.WaitFor(t, within, "retries past an isolation pass", func() bool { return calls.Load() > 20 })
	cancel()
	<-done
	_ = c.Close()
}

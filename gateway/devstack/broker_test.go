package devstack

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// testLogger writes to the test's output, shown on failure or with -v.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// startBroker starts a broker and closes it when the test ends.
func startBroker(t *testing.T, cfg BrokerConfig) *Broker {
	t.Helper()
	b, err := StartBroker(cfg)
	if err != nil {
		t.Fatalf("StartBroker: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// newClient returns a kgo client for addr, closed when the test ends.
func newClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// pollRecords polls cl until it has n records or the deadline passes.
func pollRecords(t *testing.T, cl *kgo.Client, n int) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for len(recs) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("got %d of %d records before the deadline", len(recs), n)
		}
		fs.EachError(func(topic string, p int32, err error) {
			t.Fatalf("fetch %s/%d: %v", topic, p, err)
		})
		recs = append(recs, fs.Records()...)
	}
	return recs
}

// topicPartitions returns each topic's partition count, from a metadata request.
func topicPartitions(t *testing.T, cl *kgo.Client) map[string]int {
	t.Helper()
	resp, err := kmsg.NewPtrMetadataRequest().RequestWith(t.Context(), cl)
	if err != nil {
		t.Fatalf("metadata: %v", err)
	}
	got := map[string]int{}
	for _, tp := range resp.Topics {
		got[*tp.Topic] = len(tp.Partitions)
	}
	return got
}

func TestBroker_PersistsRecordsAndCommittedOffsetsAcrossRestart(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	cfg := BrokerConfig{
		Addr:       "127.0.0.1:0",
		DataDir:    dataDir,
		Topics:     []string{"inbound", "outbound"},
		Partitions: 2,
		Logger:     testLogger(t),
	}
	b := startBroker(t, cfg)
	addr := b.Addr()
	if host, port, _ := net.SplitHostPort(addr); host != "127.0.0.1" || port == "0" {
		t.Fatalf("Addr() = %q, want 127.0.0.1 and a real port", addr)
	}

	producer := newClient(t, addr, kgo.DefaultProduceTopic("inbound"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	values := []string{"one", "two", "three"}
	for _, v := range values {
		if err := producer.ProduceSync(t.Context(), &kgo.Record{Value: []byte(v), Partition: 0}).FirstErr(); err != nil {
			t.Fatalf("produce %q: %v", v, err)
		}
	}
	producer.Close()

	// A consumer with a session timeout below kfake's 6 s default proves
	// GroupMinSessionTimeout was lowered.
	groupOpts := []kgo.Opt{
		kgo.ConsumerGroup("workers"), kgo.ConsumeTopics("inbound"), kgo.DisableAutoCommit(),
		kgo.SessionTimeout(time.Second), kgo.HeartbeatInterval(200 * time.Millisecond),
	}
	consumer := newClient(t, addr, groupOpts...)
	recs := pollRecords(t, consumer, len(values))
	// Commit through "two": the group must resume at "three".
	if err := consumer.CommitRecords(t.Context(), recs[1]); err != nil {
		t.Fatalf("commit: %v", err)
	}
	consumer.Close()

	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	// Same DataDir and port, one topic more.
	cfg.Addr = addr
	cfg.Topics = append(cfg.Topics, "added-later")
	b2 := startBroker(t, cfg)
	if b2.Addr() != addr {
		t.Fatalf("restarted broker Addr() = %q, want %q", b2.Addr(), addr)
	}

	reader := newClient(t, addr, kgo.ConsumeTopics("inbound"))
	var got []string
	for _, r := range pollRecords(t, reader, len(values)) {
		got = append(got, string(r.Value))
	}
	if !slices.Equal(got, values) {
		t.Fatalf("records after restart = %q, want %q", got, values)
	}

	consumer2 := newClient(t, addr, groupOpts...)
	resumed := pollRecords(t, consumer2, 1)
	if string(resumed[0].Value) != "three" || resumed[0].Offset != 2 {
		t.Fatalf("group resumed at %q (offset %d), want \"three\" (offset 2)", resumed[0].Value, resumed[0].Offset)
	}

	parts := topicPartitions(t, reader)
	for _, topic := range cfg.Topics {
		if parts[topic] != 2 {
			t.Errorf("topic %q has %d partitions after restart, want 2 (all: %v)", topic, parts[topic], parts)
		}
	}
}

func TestBroker_DataDirInUse(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	startBroker(t, BrokerConfig{Addr: "127.0.0.1:0", DataDir: dataDir})
	_, err := StartBroker(BrokerConfig{Addr: "127.0.0.1:0", DataDir: dataDir})
	if !errors.Is(err, ErrDirInUse) {
		t.Fatalf("second StartBroker on the same DataDir: err = %v, want ErrDirInUse", err)
	}
}

func TestBroker_WildcardListenAdvertisesLoopback(t *testing.T) {
	t.Parallel()
	b := startBroker(t, BrokerConfig{Addr: "0.0.0.0:0", Topics: []string{"t"}, Logger: testLogger(t)})
	if host, _, _ := net.SplitHostPort(b.Addr()); host != "127.0.0.1" {
		t.Fatalf("Addr() = %q, want host 127.0.0.1", b.Addr())
	}
	// The client bootstraps, then dials the advertised address from metadata.
	cl := newClient(t, b.Addr(), kgo.DefaultProduceTopic("t"))
	if err := cl.ProduceSync(t.Context(), &kgo.Record{Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	if got := topicPartitions(t, cl)["t"]; got != int(DefaultPartitions) {
		t.Fatalf("topic t has %d partitions, want %d", got, DefaultPartitions)
	}
}

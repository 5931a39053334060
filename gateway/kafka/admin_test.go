package kafka_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway/kafka"
)

// refusedAddr returns a loopback address nothing listens on.
func refusedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// silentAddr returns a loopback address that accepts connections and never
// answers, like a port that is not a Kafka broker or a broker that hangs.
func silentAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}

// logBuffer collects a logger's output; safe for concurrent writes.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Defect: with several brokers listed, start-up dialled only the first,
// stayed silent and gave up.
func TestWaitReachableTriesEveryBroker(t *testing.T) {
	t.Parallel()
	live := startBroker(t)[0]
	tests := []struct {
		name    string
		brokers []string
	}{
		{"live broker last, after a refusing and a silent one", []string{refusedAddr(t), silentAddr(t), live}},
		{"live broker first", []string{live, refusedAddr(t)}},
		{"only the live broker", []string{live}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			answered, err := kafka.WaitReachable(ctx, tt.brokers, nil)
			if err != nil || answered != live {
				t.Fatalf("WaitReachable(%v) = %q, %v; want %q", tt.brokers, answered, err, live)
			}
			// The rest of start-up works with the same list, whatever its order.
			if err := kafka.EnsureTopics(ctx, tt.brokers, []string{topic}, 3, 1); err != nil {
				t.Fatalf("EnsureTopics(%v) = %v", tt.brokers, err)
			}
			if err := kafka.Ping(ctx, tt.brokers, topic); err != nil {
				t.Fatalf("Ping(%v) = %v", tt.brokers, err)
			}
		})
	}
}

func TestWaitReachableSaysWhatItWaitsForAndWhyItGaveUp(t *testing.T) {
	t.Parallel()
	brokers := []string{refusedAddr(t), silentAddr(t)}
	var logs logBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	ctx, cancel := context.WithTimeout(t.Context(), 2500*time.Millisecond)
	defer cancel()
	_, err := kafka.WaitReachable(ctx, brokers, log)
	if err == nil {
		t.Fatal("WaitReachable with no live broker = nil, want an error")
	}
	for _, b := range brokers {
		if !strings.Contains(err.Error(), b+": ") {
			t.Errorf("error %q does not name broker %s with its last error", err, b)
		}
	}
	if !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("error %q does not carry the refused broker's reason", err)
	}
	out := logs.String()
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "waiting for kafka") ||
		!strings.Contains(out, "brokers="+strings.Join(brokers, ",")) {
		t.Errorf("log while waiting = %q, want a warning naming the brokers", out)
	}
}

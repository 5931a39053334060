package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/outbox"
	"github.com/chatgate/chatgate/gateway/postgres"
	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// recorder is a Publisher that keeps what it was given.
type recorder struct {
	mu       sync.Mutex
	msgs     []gateway.Message
	failNext int
}

func (r *recorder) Publish(_ context.Context, msgs ...gateway.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failNext > 0 {
		r.failNext--
		return errors.New("broker down")
	}
	r.msgs = append(r.msgs, msgs...)
	return nil
}

func (r *recorder) got() []gateway.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]gateway.Message(nil), r.msgs...)
}

func insert(t *testing.T, pool *pgxpool.Pool, key string, values ...string) {
	t.Helper()
	tx, err := pool.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range values {
		if _, err := tx.Exec(context.Background(), `INSERT INTO outbox (topic, key, value) VALUES ('tickets', $1, $2)`, []byte(key), []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tx.Exec(context.Background(), `SELECT pg_notify($1, '')`, postgres.OutboxNotifyChannel); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func startRelay(t *testing.T, pool *pgxpool.Pool, pub gateway.Publisher, poll time.Duration) context.CancelFunc {
	t.Helper()
	r, err := outbox.New(outbox.Config{Pool: pool, Publisher: pub, Topics: gateway.Topics{Prefix: "p."}, BatchSize: 3, PollInterval: poll})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return stop
}

func TestRelayPublishesInOrderAndMarksRows(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	pub := &recorder{}
	// The poll interval is far longer than the test: only NOTIFY can wake the relay in time.
	startRelay(t, pool, pub, time.Hour)
	insert(t, pool, "conv-1", "a", "b", "c", "d")
	insert(t, pool, "conv-2", "x")
	insert(t, pool, "conv-1", "e")
	waitFor(t, "six records", func() bool { return len(pub.got()) == 6 })
	var order []string
	for _, m := range pub.got() {
		if m.Topic != "p.tickets" {
			t.Fatalf("topic %q, want the prefixed name", m.Topic)
		}
		order = append(order, string(m.Key)+"/"+string(m.Value))
	}
	if fmt.Sprint(order) != "[conv-1/a conv-1/b conv-1/c conv-1/d conv-2/x conv-1/e]" {
		t.Fatalf("published %v", order)
	}
	waitFor(t, "rows marked published", func() bool { return unpublished(pool) == 0 })
}

func TestRelayRetriesWhenKafkaFails(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	pub := &recorder{failNext: 2}
	startRelay(t, pool, pub, 50*time.Millisecond)
	insert(t, pool, "k", "1", "2")
	waitFor(t, "records after the broker came back", func() bool { return len(pub.got()) == 2 })
	waitFor(t, "rows marked published", func() bool { return unpublished(pool) == 0 })
}

func unpublished(pool *pgxpool.Pool) int {
	var n int
	_ = pool.QueryRow(context.Background(), `SELECT count(*) FROM outbox WHERE published_at IS NULL`).Scan(&n)
	return n
}

// Only one relay is active at a time; when it stops, a standby takes over
// and nothing is lost.
func TestStandbyRelayTakesOver(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	first, second := &recorder{}, &recorder{}
	stopFirst := startRelay(t, pool, first, 50*time.Millisecond)
	insert(t, pool, "k", "1")
	waitFor(t, "first relay active", func() bool { return len(first.got()) == 1 })
	startRelay(t, pool, second, 50*time.Millisecond)
	insert(t, pool, "k", "2")
	waitFor(t, "first relay publishes", func() bool { return len(first.got()) == 2 })
	if len(second.got()) != 0 {
		t.Fatal("standby relay published while the leader was active")
	}
	stopFirst()
	insert(t, pool, "k", "3")
	waitFor(t, "standby took over", func() bool { return len(second.got()) == 1 })
	if v := string(second.got()[0].Value); v != "3" {
		t.Fatalf("standby published %q, want 3", v)
	}
}

package outbox_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/outbox"
	"github.com/chatgate/chatgate/gateway/postgres"
	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
	"github.com/chatgate/chatgate/gateway/testkit"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func insert(t *testing.T, pool *pgxpool.Pool, key string, values ...string) {
	t.Helper()
	ctx := t.Context()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range values {
		if _, err := tx.Exec(ctx, `INSERT INTO outbox (topic, key, value) VALUES ('tickets', $1, $2)`, []byte(key), []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, '')`, postgres.OutboxNotifyChannel); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

// within bounds every wait of these tests: far longer than a healthy run
// needs on a loaded machine, short enough that a broken one fails soon.
const within = 20 * time.Second

func startRelay(t *testing.T, pool *pgxpool.Pool, pub gateway.Publisher, poll time.Duration) context.CancelFunc {
	t.Helper()
	r, err := outbox.New(outbox.Config{Pool: pool, Publisher: pub, Topics: gateway.Topics{Prefix: "p."}, BatchSize: 3, PollInterval: poll})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return stop
}

func TestRelayPublishesInOrderAndMarksRows(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	pub := &testkit.Publisher{}
	// The poll interval is far longer than the test: only NOTIFY can wake the relay in time.
	startRelay(t, pool, pub, time.Hour)
	insert(t, pool, "conv-1", "a", "b", "c", "d")
	insert(t, pool, "conv-2", "x")
	insert(t, pool, "conv-1", "e")
	testkit.WaitFor(t, within, "six records", func() bool { return len(pub.Messages()) == 6 })
	var order []string
	for _, m := range pub.Messages() {
		if m.Topic != "p.tickets" {
			t.Fatalf("topic %q, want the prefixed name", m.Topic)
		}
		order = append(order, string(m.Key)+"/"+string(m.Value))
	}
	if fmt.Sprint(order) != "[conv-1/a conv-1/b conv-1/c conv-1/d conv-2/x conv-1/e]" {
		t.Fatalf("published %v", order)
	}
	testkit.WaitFor(t, within, "rows marked published", func() bool { return unpublished(t, pool) == 0 })
}

// The broker refuses the first two publishes: the rows stay unpublished,
// and the relay publishes them, in order, once the broker takes them.
func TestRelayRetriesWhenKafkaFails(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	pub := &testkit.Publisher{}
	pub.FailNext(2)
	startRelay(t, pool, pub, 50*time.Millisecond)
	insert(t, pool, "k", "1", "2")
	testkit.WaitFor(t, within, "records after the broker came back", func() bool { return len(pub.Messages()) == 2 })
	// Without this the test would pass just as well had the relay never
	// met a failure: the injected ones must have been returned to it.
	if n := pub.Failures(); n != 2 {
		t.Fatalf("%d publishes failed, want the 2 injected failures", n)
	}
	if n := pub.Calls(); n < 3 {
		t.Fatalf("%d publish calls, want the 2 failed ones and at least one after them", n)
	}
	var order []string
	for _, m := range pub.Messages() {
		order = append(order, string(m.Value))
	}
	if fmt.Sprint(order) != "[1 2]" {
		t.Fatalf("published %v after the failures, want [1 2]", order)
	}
	testkit.WaitFor(t, within, "rows marked published", func() bool { return unpublished(t, pool) == 0 })
}

// unpublished counts the outbox rows not yet published. A failed query
// fails the test: returning 0 would let "nothing left unpublished" hold
// without anything having been published.
func unpublished(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(t.Context(), `SELECT count(*) FROM outbox WHERE published_at IS NULL`).Scan(&n); err != nil {
		t.Fatalf("count unpublished outbox rows: %v", err)
	}
	return n
}

// Only one relay is active at a time; when it stops, a standby takes over
// and nothing is lost.
func TestStandbyRelayTakesOver(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	first, second := &testkit.Publisher{}, &testkit.Publisher{}
	stopFirst := startRelay(t, pool, first, 50*time.Millisecond)
	insert(t, pool, "k", "1")
	testkit.WaitFor(t, within, "first relay active", func() bool { return len(first.Messages()) == 1 })
	startRelay(t, pool, second, 50*time.Millisecond)
	insert(t, pool, "k", "2")
	testkit.WaitFor(t, within, "first relay publishes", func() bool { return len(first.Messages()) == 2 })
	if len(second.Messages()) != 0 {
		t.Fatal("standby relay published while the leader was active")
	}
	stopFirst()
	insert(t, pool, "k", "3")
	testkit.WaitFor(t, within, "standby took over", func() bool { return len(second.Messages()) == 1 })
	if v := string(second.Messages()[0].Value); v != "3" {
		t.Fatalf("standby published %q, want 3", v)
	}
}

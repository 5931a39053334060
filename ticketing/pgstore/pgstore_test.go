package pgstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/postgres"
	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
	"github.com/chatgate/chatgate/ticketing"
	"github.com/chatgate/chatgate/ticketing/pgstore"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var t0 = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)

func record(t testing.TB, from, id, text string, offset int64) gateway.Message {
	t.Helper()
	in := gateway.Inbound{Channel: gateway.ChannelAPI, ProviderID: id, From: from, Text: text, ReceivedAt: t0.Add(time.Duration(offset) * time.Millisecond)}
	ev, err := in.Event("test")
	if err != nil {
		t.Fatal(err)
	}
	m, err := ev.Message("chatgate.inbound", in.ContactKey())
	if err != nil {
		t.Fatal(err)
	}
	m.Offset = offset
	return m
}

func newService(pool *pgxpool.Pool) *ticketing.Service {
	return &ticketing.Service{Store: pgstore.New(pool), Now: func() time.Time { return t0.Add(time.Hour) }}
}

func count(t testing.TB, pool *pgxpool.Pool, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func outboxTypes(t testing.TB, pool *pgxpool.Pool) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT value FROM outbox WHERE topic = 'tickets' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var types []string
	for rows.Next() {
		var v []byte
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		ev, err := gateway.DecodeEvent(v)
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, ev.Type)
	}
	return types
}

func TestR1_ReplayedBatchStoresNothingTwice(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	svc := newService(pool)
	ctx := context.Background()
	batch := []gateway.Message{
		record(t, "+1555000001", "a", "hello", 1),
		record(t, "+1555000001", "b", "again", 2),
		record(t, "+1555000002", "c", "other contact", 3),
	}
	for i := 0; i < 3; i++ {
		if err := svc.HandleBatch(ctx, batch); err != nil {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	if n := count(t, pool, `SELECT count(*) FROM messages`); n != 3 {
		t.Fatalf("messages = %d, want 3", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM conversations`); n != 2 {
		t.Fatalf("conversations = %d, want 2", n)
	}
	types := outboxTypes(t, pool)
	want := []string{gateway.TypeTicketCreated, gateway.TypeTicketMessageAdded, gateway.TypeTicketMessageAdded, gateway.TypeTicketCreated, gateway.TypeTicketMessageAdded}
	if fmt.Sprint(types) != fmt.Sprint(want) {
		t.Fatalf("outbox events = %v, want %v", types, want)
	}
}

func TestR1_DuplicateInsideOneBatch(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	svc := newService(pool)
	batch := []gateway.Message{record(t, "+1555000001", "a", "hello", 1), record(t, "+1555000001", "a", "hello", 2)}
	if err := svc.HandleBatch(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if n := count(t, pool, `SELECT count(*) FROM messages`); n != 1 {
		t.Fatalf("messages = %d, want 1", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM outbox WHERE topic = 'tickets'`); n != 2 {
		t.Fatalf("ticket events = %d, want created + one message_added", n)
	}
}

// Two workers handling overlapping batches of one contact at once (as during
// a consumer-group rebalance) must still store each message once and keep
// one open conversation.
func TestR1_ConcurrentWorkersOnOneContact(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	ctx := context.Background()
	var batch []gateway.Message
	for i := range 50 {
		batch = append(batch, record(t, "+1555000009", fmt.Sprintf("m%02d", i), "x", int64(i)))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			svc := newService(pool)
			// The consumer retries a failed batch; a transient conflict is fine, a lost message is not.
			var err error
			for range 5 {
				if err = svc.HandleBatch(ctx, batch); err == nil || !postgres.IsRetryable(err) {
					break
				}
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := count(t, pool, `SELECT count(*) FROM messages`); n != 50 {
		t.Fatalf("messages = %d, want 50", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM conversations`); n != 1 {
		t.Fatalf("conversations = %d, want 1", n)
	}
	if n := count(t, pool, `SELECT count(DISTINCT seq) FROM messages`); n != 50 {
		t.Fatalf("distinct seqs = %d, want 50", n)
	}
}

func TestR2_OrderPerContactIsKept(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	svc := newService(pool)
	var batch []gateway.Message
	for i := range 30 {
		batch = append(batch, record(t, fmt.Sprintf("+155500000%d", i%3), fmt.Sprintf("m%02d", i), fmt.Sprint(i), int64(i)))
	}
	for i := 0; i < len(batch); i += 7 { // several batches
		end := min(i+7, len(batch))
		if err := svc.HandleBatch(context.Background(), batch[i:end]); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := pool.Query(context.Background(), `SELECT c.address, m.provider_id, m.seq FROM messages m JOIN contacts c ON c.id = m.contact_id ORDER BY c.address, m.id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	last := map[string]string{}
	seq := map[string]int{}
	for rows.Next() {
		var addr, pid string
		var s int
		if err := rows.Scan(&addr, &pid, &s); err != nil {
			t.Fatal(err)
		}
		if pid <= last[addr] || s != seq[addr]+1 {
			t.Fatalf("contact %s: %s (seq %d) after %s (seq %d)", addr, pid, s, last[addr], seq[addr])
		}
		last[addr], seq[addr] = pid, s
	}
}

func TestUndecodableRecordIsDeadLettered(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	svc := newService(pool)
	bad := gateway.Message{Topic: "chatgate.inbound", Key: []byte("api:+1"), Value: []byte("{not json"), Offset: 9}
	wrongKey := record(t, "+1555000001", "k", "hi", 10)
	wrongKey.Key = []byte("api:+1999")
	good := record(t, "+1555000001", "g", "hi", 11)
	if err := svc.HandleBatch(context.Background(), []gateway.Message{bad, wrongKey, good}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, pool, `SELECT count(*) FROM outbox WHERE topic = 'deadletter'`); n != 2 {
		t.Fatalf("deadletter rows = %d, want 2", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM messages`); n != 1 {
		t.Fatalf("messages = %d, want the good one", n)
	}
}

func TestOneOpenConversationPerContactIsEnforced(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	ctx := context.Background()
	if err := newService(pool).HandleBatch(ctx, []gateway.Message{record(t, "+1555000001", "a", "hi", 1)}); err != nil {
		t.Fatal(err)
	}
	_, err := pool.Exec(ctx, `INSERT INTO conversations (contact_id, kind, state, created_at, updated_at, last_message_at)
		SELECT contact_id, 'ticket', 'unassigned', now(), now(), now() FROM conversations LIMIT 1`)
	if !postgres.IsUniqueViolation(err, "conversations_one_open_per_contact") {
		t.Fatalf("second open conversation: err = %v, want unique violation", err)
	}
}

func BenchmarkHandleBatch1000(b *testing.B) {
	pool := pgtest.Pool(b)
	svc := newService(pool)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		batch := make([]gateway.Message, 1000)
		for j := range batch {
			batch[j] = record(b, fmt.Sprintf("+1555%07d", j%200), fmt.Sprintf("b%d-%d", i, j), "benchmark message", int64(j))
		}
		b.StartTimer()
		if err := svc.HandleBatch(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "msgs/s")
}

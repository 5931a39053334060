package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
	"github.com/chatgate/chatgate/ticketing"
	"github.com/chatgate/chatgate/ticketing/pgstore"
)

// R4: presence reported as a record on the commands topic is the same as
// PUT /v1/agents/{id}/presence; the heartbeat is the record's time, not the
// time the worker got to it; an invalid report is dead-lettered.
func TestR4_PresenceOnTheCommandsTopic(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	store := pgstore.New(pool)
	now := t0.Add(time.Hour)
	svc := &ticketing.Service{Store: store, Directory: store, Now: func() time.Time { return now }}
	sent := now.Add(-30 * time.Second) // waited half a minute in Kafka
	good, err := ticketing.PresenceCommand{AgentID: "ann", Status: ticketing.PresenceStatus("online")}.Record("desk", "chatgate.commands", sent)
	if err != nil {
		t.Fatal(err)
	}
	bad, err := ticketing.PresenceCommand{AgentID: "bob", Status: ticketing.PresenceStatus("busy")}.Record("desk", "chatgate.commands", sent)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.HandleBatch(context.Background(), []gateway.Message{good, bad}); err != nil {
		t.Fatal(err)
	}
	var status string
	var heartbeat time.Time
	if err := pool.QueryRow(context.Background(), `SELECT status, heartbeat_at FROM agents WHERE id = 'ann'`).Scan(&status, &heartbeat); err != nil {
		t.Fatal(err)
	}
	if status != "online" || !heartbeat.Equal(sent) {
		t.Fatalf("ann: %s at %v, want online at %v", status, heartbeat, sent)
	}
	if n := count(t, pool, `SELECT count(*) FROM agents WHERE id = 'bob'`); n != 0 {
		t.Fatal("an invalid presence was recorded")
	}
	if n := count(t, pool, `SELECT count(*) FROM outbox WHERE topic = 'deadletter'`); n != 1 {
		t.Fatalf("deadletter rows = %d, want the invalid report", n)
	}
}

package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/postgres"
	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestMigrateTwiceAppliesNothingNew(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t) // already migrated
	applied, err := postgres.Migrate(context.Background(), pool, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != 0 {
		t.Fatalf("second migrate applied %v", applied)
	}
	ms, err := postgres.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range ms {
		if m.Version != i+1 {
			t.Fatalf("migration %s: version %d, want %d (numbers must be consecutive)", m.Name, m.Version, i+1)
		}
	}
}

func TestR32_SendLogClaimsARequestOnce(t *testing.T) {
	t.Parallel()
	log := postgres.NewSendLog(pgtest.Pool(t))
	ctx := context.Background()
	at := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)

	var wg sync.WaitGroup
	var mu sync.Mutex
	claims := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, claimed, err := log.Begin(ctx, "req-1", gateway.ChannelSMS, at)
			if err != nil {
				t.Error(err)
				return
			}
			if claimed {
				mu.Lock()
				claims++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if claims != 1 {
		t.Fatalf("%d senders claimed the request, want 1", claims)
	}
	prev, claimed, err := log.Begin(ctx, "req-1", gateway.ChannelSMS, at)
	if err != nil || claimed || prev.Status != gateway.StatusSending || !prev.FinishedAt.IsZero() {
		t.Fatalf("in-flight attempt: %+v claimed=%v err=%v", prev, claimed, err)
	}
	done := gateway.SendAttempt{RequestID: "req-1", ProviderID: "SM123", Status: gateway.StatusSent, FinishedAt: at.Add(time.Second)}
	if err := log.Finish(ctx, done); err != nil {
		t.Fatal(err)
	}
	prev, claimed, err = log.Begin(ctx, "req-1", gateway.ChannelSMS, at.Add(time.Minute))
	if err != nil || claimed || prev.ProviderID != "SM123" || prev.Status != gateway.StatusSent || prev.Channel != gateway.ChannelSMS {
		t.Fatalf("finished attempt: %+v claimed=%v err=%v", prev, claimed, err)
	}
	if err := log.Finish(ctx, gateway.SendAttempt{RequestID: "never-claimed", Status: gateway.StatusSent}); err == nil {
		t.Fatal("finishing an unclaimed send succeeded")
	}
}

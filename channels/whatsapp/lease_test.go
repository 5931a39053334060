package whatsapp

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
)

func leaseConfig(url string) LeaseConfig {
	return LeaseConfig{DatabaseURL: url, Device: "27110000000", RetryInterval: 50 * time.Millisecond, HeartbeatInterval: 200 * time.Millisecond}
}

// waitLease waits for AcquireLease to return, up to bound.
func waitLease(t *testing.T, ch <-chan *Lease, bound time.Duration) *Lease {
	t.Helper()
	select {
	case l := <-ch:
		return l
	case <-time.After(bound):
		t.Fatalf("lease not taken over within %v", bound)
	}
	return nil
}

func acquireAsync(t *testing.T, ctx context.Context, cfg LeaseConfig) <-chan *Lease {
	t.Helper()
	ch := make(chan *Lease, 1)
	go func() {
		l, err := AcquireLease(ctx, cfg)
		if err != nil {
			if ctx.Err() == nil {
				t.Errorf("AcquireLease: %v", err)
			}
			close(ch)
			return
		}
		ch <- l
	}()
	return ch
}

func TestLease_Takeover(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// stop ends holder a the way the scenario says.
		stop func(t *testing.T, url string, a *Lease)
		// aLost: the old holder must notice it lost the lease.
		aLost bool
	}{
		{name: "holder releases", stop: func(t *testing.T, _ string, a *Lease) {
			if err := a.Release(context.Background()); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "holder's session dies", aLost: true, stop: func(t *testing.T, url string, a *Lease) {
			// What PostgreSQL sees when the holder's process is killed.
			admin, err := pgx.Connect(context.Background(), url)
			if err != nil {
				t.Fatal(err)
			}
			defer admin.Close(context.Background())
			if _, err := admin.Exec(context.Background(), `SELECT pg_terminate_backend($1)`, int32(a.backendPID())); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "holder hangs", aLost: true, stop: func(_ *testing.T, _ string, a *Lease) { a.hang.Store(true) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url := pgtest.URL(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			a, err := TryAcquireLease(ctx, leaseConfig(url))
			if err != nil || a == nil {
				t.Fatalf("first holder: %v, %v", a, err)
			}
			t.Cleanup(func() { _ = a.Release(context.Background()) })

			// While a holds it, nobody else gets it.
			if b, err := TryAcquireLease(ctx, leaseConfig(url)); err != nil || b != nil {
				t.Fatalf("second TryAcquireLease = %v, %v; want nil, nil", b, err)
			}
			other := leaseConfig(url)
			other.Device = "27119999999"
			if o, err := TryAcquireLease(ctx, other); err != nil || o == nil {
				t.Fatalf("another device's lease: %v, %v", o, err)
			} else {
				_ = o.Release(ctx)
			}

			bCh := acquireAsync(t, ctx, leaseConfig(url))
			start := time.Now()
			tt.stop(t, url, a)
			bound := leaseConfig(url).TakeoverBound() + 2*time.Second // + scheduling slack
			b := waitLease(t, bCh, bound)
			if b == nil {
				t.Fatal("no lease")
			}
			t.Cleanup(func() { _ = b.Release(context.Background()) })
			t.Logf("taken over after %v (bound %v)", time.Since(start), leaseConfig(url).TakeoverBound())
			if tt.aLost {
				a.hang.Store(false) // a hung holder that wakes up finds its session gone
				select {
				case <-a.Lost():
				case <-time.After(bound):
					t.Fatal("old holder did not notice it lost the lease")
				}
			}
			// b holds it now.
			if c, err := TryAcquireLease(ctx, leaseConfig(url)); err != nil || c != nil {
				t.Fatalf("third TryAcquireLease = %v, %v; want nil, nil", c, err)
			}
		})
	}
}

package whatsapp

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
	"github.com/chatgate/chatgate/gateway/testkit"
)

// within bounds every wait of these tests: lease take-overs retry every
// 50 ms, but a loaded machine can be slow.
const within = 15 * time.Second

// eventTypes counts the CloudEvents types of msgs.
func eventTypes(msgs []gateway.Message) map[string]int {
	out := map[string]int{}
	for _, m := range msgs {
		ev, err := gateway.DecodeEvent(m.Value)
		if err == nil {
			out[ev.Type]++
		}
	}
	return out
}

func TestService_ServesHoldsLeaseAndStopsOnLogout(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	st := openTestStore(t, url)
	pairFake(t, st, types.JID{User: "27110000000", Server: types.DefaultUserServer, Device: 7})

	newService := func(pub gateway.Publisher, client *fakeClient, served *atomic.Int32) *Service {
		s, err := NewService(Config{
			DatabaseURL: url, Publisher: pub, Topics: testTopics, MediaDir: t.TempDir(), Name: "test",
			LeaseRetryInterval: 50 * time.Millisecond, LeaseHeartbeatInterval: 200 * time.Millisecond,
			Serve: func(ctx context.Context, p *Provider) error {
				served.Add(1)
				<-ctx.Done()
				return nil
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		s.cfg.newClient = func(*store.Device, *atomic.Bool) Client { return client }
		return s
	}
	pub := &testkit.Publisher{}
	c1, c2 := &fakeClient{}, &fakeClient{}
	var served1, served2 atomic.Int32
	s1, s2 := newService(pub, c1, &served1), newService(pub, c2, &served2)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done1, done2 := make(chan error, 1), make(chan error, 1)
	go func() { done1 <- s1.Run(ctx) }()
	testkit.WaitFor(t, within, "first service connected and serving", func() bool { return c1.IsConnected() && served1.Load() == 1 })
	go func() { done2 <- s2.Run(ctx) }()

	// Intake works through the client's handler.
	if !c1.dispatch(incoming("3ASVC", &waE2E.Message{Conversation: proto.String("hi")})) {
		t.Fatal("message not acknowledged")
	}
	c1.dispatch(&events.Connected{})
	if s1.State() != StateConnected {
		t.Fatalf("state = %s", s1.State())
	}
	// The second service stands by: the first holds the lease.
	if c2.IsConnected() {
		t.Fatal("second service connected while the first holds the device")
	}

	// Logged out: the first stops for good and gives the device up; the
	// standby takes over (and would be logged out too on a real server).
	c1.dispatch(&events.LoggedOut{Reason: events.ConnectFailureLoggedOut})
	testkit.WaitFor(t, within, "first service disconnected", func() bool { return !c1.IsConnected() })
	if s1.State() != StateLoggedOut {
		t.Fatalf("state = %s, want logged_out", s1.State())
	}
	testkit.WaitFor(t, within, "standby took over", func() bool { return c2.IsConnected() && served2.Load() == 1 })
	if served1.Load() != 1 {
		t.Fatalf("first service served %d times; a logged-out device must not reconnect", served1.Load())
	}
	testkit.WaitFor(t, within, "records published", func() bool {
		ty := eventTypes(pub.Messages())
		return ty[gateway.TypeInboundMessage] == 1 && ty[TypeChannelState] >= 2
	})
	cancel()
	for _, ch := range []chan error{done1, done2} {
		select {
		case err := <-ch:
			if err != nil {
				t.Fatalf("Run = %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("Run did not return after cancel")
		}
	}
}

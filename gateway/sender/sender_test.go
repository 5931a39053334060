package sender_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/sender"
	"github.com/chatgate/chatgate/gateway/sender/sendertest"
)

var at = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)

type fakeProvider struct {
	mu       sync.Mutex
	channel  gateway.Channel
	SendFunc func(n int, out gateway.Outbound) (string, error)
	calls    []string
}

func (p *fakeProvider) Channel() gateway.Channel { return p.channel }
func (p *fakeProvider) Send(_ context.Context, out gateway.Outbound) (string, error) {
	p.mu.Lock()
	p.calls = append(p.calls, out.RequestID)
	n := len(p.calls)
	p.mu.Unlock()
	return p.SendFunc(n, out)
}

func outbound(t *testing.T, id, to string, ch gateway.Channel) gateway.Message {
	t.Helper()
	m, err := gateway.Outbound{RequestID: id, Channel: ch, To: to, Text: "hello", CreatedAt: at}.Record("test", "chatgate.outbound")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func newRunner(t *testing.T, p sender.Provider, log gateway.SendLog, sink gateway.Publisher) *sender.Runner {
	t.Helper()
	r, err := sender.New(sender.Config{
		Provider: p, Log: log, Publisher: sink, Topics: gateway.Topics{Prefix: "chatgate."},
		Now: func() time.Time { return at }, InitialBackoff: time.Millisecond, MaxElapsed: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestR32_SentOncePerRequestID(t *testing.T) {
	t.Parallel()
	p := &fakeProvider{channel: gateway.ChannelSMS, SendFunc: func(n int, out gateway.Outbound) (string, error) { return "SM" + out.RequestID, nil }}
	log, sink := &sendertest.SendLog{}, &sendertest.StatusSink{}
	r := newRunner(t, p, log, sink)
	batch := []gateway.Message{outbound(t, "r1", "+1", gateway.ChannelSMS), outbound(t, "r1", "+1", gateway.ChannelSMS), outbound(t, "r2", "+2", gateway.ChannelSMS)}
	for range 2 { // and the whole batch redelivered
		if err := r.HandleBatch(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
	}
	if len(p.calls) != 2 {
		t.Fatalf("provider called %v, want r1 and r2 once each", p.calls)
	}
	for _, st := range sink.Statuses() {
		if st.Status != gateway.StatusSent || st.ProviderID != "SM"+st.RequestID {
			t.Fatalf("status %+v", st)
		}
	}
}

func TestR32_TemporaryErrorsAreRetriedPermanentOnesFailWithReason(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		send      func(n int, out gateway.Outbound) (string, error)
		calls     int
		status    gateway.DeliveryStatus
		errorCode string
	}{
		{"429 then success", func(n int, _ gateway.Outbound) (string, error) {
			if n == 1 {
				return "", sender.Temporary("20429", "too many requests", 2*time.Millisecond)
			}
			return "SM1", nil
		}, 2, gateway.StatusSent, ""},
		{"network error then success", func(n int, _ gateway.Outbound) (string, error) {
			if n < 3 {
				return "", errors.New("connection reset")
			}
			return "SM1", nil
		}, 3, gateway.StatusSent, ""},
		{"permanent", func(int, gateway.Outbound) (string, error) {
			return "", sender.Permanent("21211", "invalid 'To' phone number")
		}, 1, gateway.StatusFailed, "21211"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := &fakeProvider{channel: gateway.ChannelSMS, SendFunc: tc.send}
			sink := &sendertest.StatusSink{}
			r := newRunner(t, p, &sendertest.SendLog{}, sink)
			if err := r.HandleBatch(context.Background(), []gateway.Message{outbound(t, "r", "+1", gateway.ChannelSMS)}); err != nil {
				t.Fatal(err)
			}
			if len(p.calls) != tc.calls {
				t.Fatalf("provider called %d times, want %d", len(p.calls), tc.calls)
			}
			if len(sink.Statuses()) != 1 || sink.Statuses()[0].Status != tc.status || sink.Statuses()[0].ErrorCode != tc.errorCode {
				t.Fatalf("statuses %+v", sink.Statuses())
			}
			if tc.status == gateway.StatusFailed && sink.Statuses()[0].ErrorMessage == "" {
				t.Fatal("failed status without the provider's reason")
			}
		})
	}
}

func TestInterruptedSendIsNotRepeated(t *testing.T) {
	t.Parallel()
	p := &fakeProvider{channel: gateway.ChannelSMS, SendFunc: func(int, gateway.Outbound) (string, error) { return "SM", nil }}
	log, sink := &sendertest.SendLog{}, &sendertest.StatusSink{}
	// A previous sender claimed the request and died before finishing.
	if _, _, err := log.Begin(context.Background(), "r", gateway.ChannelSMS, at); err != nil {
		t.Fatal(err)
	}
	r := newRunner(t, p, log, sink)
	if err := r.HandleBatch(context.Background(), []gateway.Message{outbound(t, "r", "+1", gateway.ChannelSMS)}); err != nil {
		t.Fatal(err)
	}
	if len(p.calls) != 0 {
		t.Fatal("an interrupted send was sent again")
	}
	if len(sink.Statuses()) != 1 || sink.Statuses()[0].ErrorCode != sender.CodeOutcomeUnknown {
		t.Fatalf("statuses %+v", sink.Statuses())
	}
}

func TestOtherChannelsAndBadRecordsAreSkipped(t *testing.T) {
	t.Parallel()
	p := &fakeProvider{channel: gateway.ChannelSMS, SendFunc: func(int, gateway.Outbound) (string, error) { return "SM", nil }}
	sink := &sendertest.StatusSink{}
	r := newRunner(t, p, &sendertest.SendLog{}, sink)
	bad, err := gateway.Outbound{RequestID: "bad", Channel: gateway.ChannelSMS, To: "+1", CreatedAt: at}.Record("t", "chatgate.outbound")
	if err != nil {
		t.Fatal(err)
	}
	batch := []gateway.Message{outbound(t, "wa", "+1", gateway.ChannelWhatsApp), bad, {Value: []byte("garbage")}}
	if err := r.HandleBatch(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if len(p.calls) != 0 {
		t.Fatalf("provider called for %v", p.calls)
	}
	if len(sink.Statuses()) != 1 || sink.Statuses()[0].RequestID != "bad" || sink.Statuses()[0].ErrorCode != sender.CodeInvalidRecord {
		t.Fatalf("statuses %+v, want one invalid_record failure", sink.Statuses())
	}
}

func TestOneContactsMessagesGoOutInOrder(t *testing.T) {
	t.Parallel()
	p := &fakeProvider{channel: gateway.ChannelSMS, SendFunc: func(n int, out gateway.Outbound) (string, error) { return out.RequestID, nil }}
	r := newRunner(t, p, &sendertest.SendLog{}, &sendertest.StatusSink{})
	var batch []gateway.Message
	for i := range 20 {
		batch = append(batch, outbound(t, fmt.Sprintf("c%d-%02d", i%2, i), fmt.Sprintf("+%d", i%2), gateway.ChannelSMS))
	}
	if err := r.HandleBatch(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	last := map[byte]string{}
	for _, id := range p.calls {
		if id < last[id[1]] {
			t.Fatalf("contact %c: %s sent after %s", id[1], id, last[id[1]])
		}
		last[id[1]] = id
	}
}

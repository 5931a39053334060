package whatsapp

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/devstack"
	"github.com/chatgate/chatgate/gateway/kafka"
	"github.com/chatgate/chatgate/gateway/testkit"
)

var testTopics = gateway.Topics{Prefix: "test."}

func startBroker(t *testing.T) *devstack.Broker {
	t.Helper()
	b, err := devstack.StartBroker(devstack.BrokerConfig{Addr: "127.0.0.1:0", Topics: testTopics.All(), Partitions: 2})
	if err != nil {
		t.Fatalf("start broker: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func newProducer(t *testing.T, addr string) *kafka.Producer {
	t.Helper()
	p, err := kafka.NewProducer(kafka.ProducerConfig{Brokers: []string{addr}, WriteTimeout: 2 * time.Second, MaxAttempts: 1})
	if err != nil {
		t.Fatalf("producer: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// nextRecord waits for the next record on tail, up to a deadline.
func nextRecord(t *testing.T, tail *kafka.Tail) gateway.Message {
	t.Helper()
	select {
	case m := <-tail.Messages():
		return m
	case <-time.After(20 * time.Second):
		t.Fatal("no record within 20s")
	}
	return gateway.Message{}
}

func newTail(t *testing.T, addr string, topic gateway.Topic) *kafka.Tail {
	t.Helper()
	tail, err := kafka.NewTail(context.Background(), []string{addr}, testTopics.Name(topic), false)
	if err != nil {
		t.Fatalf("tail: %v", err)
	}
	t.Cleanup(tail.Close)
	return tail
}

// TestIntake_AcksAfterKafka is the ack contract against the embedded
// broker: the handler registered with AddEventHandlerWithSuccessStatus
// returns true, and the record is on Kafka by then.
func TestIntake_AcksAfterKafka(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	c, _ := newTestConverter(t, &fakeDownloader{})
	client := &fakeClient{}
	intake := &Intake{Converter: c, Publisher: newProducer(t, b.Addr()), Topics: testTopics, Timeout: 20 * time.Second}
	client.AddEventHandlerWithSuccessStatus(intake.Handler(context.Background()))
	inTail := newTail(t, b.Addr(), gateway.TopicInbound)
	stTail := newTail(t, b.Addr(), gateway.TopicStatus)

	if !client.dispatch(incoming("3AACK1", &waE2E.Message{Conversation: proto.String("where is my parcel?")})) {
		t.Fatal("message not acknowledged although Kafka is up")
	}
	m := nextRecord(t, inTail)
	ev, in, err := gateway.DecodeRecord[gateway.Inbound](m.Value)
	if err != nil || ev.Type != gateway.TypeInboundMessage || ev.ID != "inbound:whatsapp:3AACK1" || string(m.Key) != "whatsapp:"+contactAddr {
		t.Fatalf("inbound record: %+v key %s err %v", ev, m.Key, err)
	}
	want := gateway.Inbound{Channel: gateway.ChannelWhatsApp, ProviderID: "3AACK1", From: contactAddr, To: ownAddr,
		Kind: gateway.KindText, Text: "where is my parcel?", ContactName: "Thandi", ReceivedAt: msgTime}
	if diff := cmp.Diff(want, in, testkit.ExactTime); diff != "" {
		t.Fatalf("inbound (-want +got):\n%s", diff)
	}

	receipt := &events.Receipt{MessageSource: types.MessageSource{Chat: contactJID, Sender: contactJID},
		MessageIDs: []string{"3EB0SENT"}, Timestamp: msgTime, Type: types.ReceiptTypePlayed}
	if !client.dispatch(receipt) {
		t.Fatal("receipt not acknowledged")
	}
	m = nextRecord(t, stTail)
	ev, st, err := gateway.DecodeRecord[gateway.Status](m.Value)
	if err != nil || ev.Type != gateway.TypeMessageStatus || st.ProviderID != "3EB0SENT" || st.Status != gateway.StatusRead || st.ProviderStatus != "played" {
		t.Fatalf("status record: %+v %+v %v", ev, st, err)
	}

	fromPhone := incoming("3APHONE", &waE2E.Message{Conversation: proto.String("typed on the phone")})
	fromPhone.Info.Sender, fromPhone.Info.IsFromMe = ownJID, true
	if !client.dispatch(fromPhone) {
		t.Fatal("phone message not acknowledged")
	}
	m = nextRecord(t, stTail)
	ev, pm, err := gateway.DecodeRecord[PhoneMessage](m.Value)
	if err != nil || ev.Type != TypePhoneMessage || pm.Contact != contactAddr || pm.SentBy != SentByPhone || pm.Text != "typed on the phone" {
		t.Fatalf("phone record: %+v %+v %v", ev, pm, err)
	}
}

// TestIntake_NoAckWithoutKafka: when the record did not reach Kafka the
// handler returns false, so whatsmeow does not acknowledge and WhatsApp
// redelivers.
func TestIntake_NoAckWithoutKafka(t *testing.T) {
	t.Parallel()
	text := func() any { return incoming("3ANOACK", &waE2E.Message{Conversation: proto.String("hello")}) }
	failing := gateway.PublisherFunc(func(context.Context, ...gateway.Message) error { return errors.New("kafka: leader not available") })
	tests := []struct {
		name      string
		publisher func(t *testing.T) gateway.Publisher
		evt       func() any
		download  error
		wantAck   bool
		wantCalls int32 // minimum publish attempts, 0: not checked
	}{
		{name: "publisher always fails", publisher: func(*testing.T) gateway.Publisher { return failing }, evt: text, wantAck: false, wantCalls: 2},
		{name: "broker stopped", evt: text, wantAck: false, publisher: func(t *testing.T) gateway.Publisher {
			b := startBroker(t)
			p := newProducer(t, b.Addr())
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			return p
		}},
		{name: "receipt, publisher fails", publisher: func(*testing.T) gateway.Publisher { return failing }, evt: func() any {
			return &events.Receipt{MessageSource: types.MessageSource{Chat: contactJID, Sender: contactJID}, MessageIDs: []string{"3EB0X"}, Timestamp: msgTime}
		}},
		{name: "one failure, then published", wantAck: true, evt: text, publisher: func(*testing.T) gateway.Publisher {
			var n atomic.Int32
			return gateway.PublisherFunc(func(context.Context, ...gateway.Message) error {
				if n.Add(1) == 1 {
					return errors.New("kafka: not enough replicas")
				}
				return nil
			})
		}},
		{name: "media download fails for now", download: errors.New("connection reset"), publisher: func(*testing.T) gateway.Publisher {
			return gateway.PublisherFunc(func(context.Context, ...gateway.Message) error { return nil })
		}, evt: func() any {
			return incoming("3AIMG", &waE2E.Message{ImageMessage: &waE2E.ImageMessage{DirectPath: proto.String("/img"), Mimetype: proto.String("image/jpeg")}})
		}},
		{name: "skipped group message is acknowledged", wantAck: true, publisher: func(*testing.T) gateway.Publisher { return failing }, evt: func() any {
			e := incoming("3AGRP", &waE2E.Message{Conversation: proto.String("hi")})
			e.Info.Chat, e.Info.IsGroup = types.NewJID("120363000000000001", types.GroupServer), true
			return e
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			pub := tt.publisher(t)
			counting := gateway.PublisherFunc(func(ctx context.Context, msgs ...gateway.Message) error {
				calls.Add(1)
				return pub.Publish(ctx, msgs...)
			})
			dl := &fakeDownloader{err: tt.download}
			c, _ := newTestConverter(t, dl)
			client := &fakeClient{}
			client.AddEventHandlerWithSuccessStatus((&Intake{Converter: c, Publisher: counting, Topics: testTopics, Timeout: time.Second}).Handler(context.Background()))
			if got := client.dispatch(tt.evt()); got != tt.wantAck {
				t.Fatalf("acknowledged = %v, want %v", got, tt.wantAck)
			}
			if calls.Load() < tt.wantCalls {
				t.Fatalf("publish attempts = %d, want at least %d (retries within the timeout)", calls.Load(), tt.wantCalls)
			}
		})
	}
}

func TestIntake_ReportsStates(t *testing.T) {
	t.Parallel()
	var got []State
	h := (&Intake{OnState: func(s State, _ string) { got = append(got, s) }}).Handler(context.Background())
	for _, evt := range []any{&events.Connected{}, &events.Disconnected{}, &events.LoggedOut{}, &events.StreamReplaced{}, &events.TemporaryBan{Code: events.TempBanSentToTooManyPeople}, &events.PushNameSetting{}} {
		if !h(evt) {
			t.Fatalf("%T not acknowledged", evt)
		}
	}
	want := []State{StateConnected, StateDisconnected, StateLoggedOut, StateStreamReplaced, StateTemporarilyBanned}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("states = %v, want %v", got, want)
	}
	for _, s := range want {
		if s.Permanent() != (s != StateConnected && s != StateDisconnected) {
			t.Errorf("%s.Permanent() = %v", s, s.Permanent())
		}
	}
}

// A message that cannot become a valid inbound record (here: a message id
// with trailing white space, which no normal form may change: it is the
// idempotency key) is not lost: it goes to the deadletter topic with the
// reason, and only then is it acknowledged. (Text that is not UTF-8 is
// normalised instead: TestR38_IntakeNormalisesOrDeadLetters.)
func TestIntake_InvalidMessageIsDeadLettered(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	c, _ := newTestConverter(t, &fakeDownloader{})
	client := &fakeClient{}
	intake := &Intake{Converter: c, Publisher: newProducer(t, b.Addr()), Topics: testTopics, Timeout: 20 * time.Second}
	client.AddEventHandlerWithSuccessStatus(intake.Handler(context.Background()))
	dlTail := newTail(t, b.Addr(), gateway.TopicDeadletter)

	if !client.dispatch(incoming("3ABAD ", &waE2E.Message{Conversation: proto.String("some text")})) {
		t.Fatal("dead-lettered message not acknowledged")
	}
	m := nextRecord(t, dlTail)
	ev, dl, err := gateway.DecodeRecord[gateway.Deadletter](m.Value)
	if err != nil || ev.Type != gateway.TypeDeadletter || !strings.Contains(dl.Reason, "provider_id") || !strings.Contains(dl.Value, "3ABAD") {
		t.Fatalf("deadletter record: %+v %+v %v", ev, dl, err)
	}
}

package gateway_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/chatgate/chatgate/gateway"
)

func TestNewDeadletter_OneIDFormatAndEveryField(t *testing.T) {
	t.Parallel()
	in := gateway.Inbound{Channel: gateway.ChannelWhatsApp, ProviderID: "3EB0AA", From: "+27821234567", Text: "hi", ReceivedAt: at}
	refused, err := in.Record("chatgate/channels/whatsapp", "") // never reached Kafka
	if err != nil {
		t.Fatal(err)
	}
	consumed := gateway.Message{Topic: "chatgate.inbound", Partition: 3, Offset: 1041, Key: []byte("api:+1"), Value: []byte("{not json")}
	cases := []struct {
		name     string
		original gateway.Message
		id       string
		want     gateway.Deadletter
		subject  string
	}{
		{"consumed record", consumed, "deadletter:chatgate.inbound:3:1041",
			gateway.Deadletter{Topic: "chatgate.inbound", Partition: 3, Offset: 1041, Key: "api:+1", Value: "{not json", Reason: "boom"}, "chatgate.inbound"},
		{"refused before kafka", refused, "deadletter:inbound:whatsapp:3EB0AA",
			gateway.Deadletter{Key: "whatsapp:+27821234567", Value: string(refused.Value), Reason: "boom"}, "whatsapp:+27821234567"},
		{"refused, not a cloudevent", gateway.Message{Key: []byte("k"), Value: []byte("v")}, "deadletter:sha256:",
			gateway.Deadletter{Key: "k", Value: "v", Reason: "boom"}, "k"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			msg, d, err := gateway.NewDeadletter(gateway.DeadletterParams{
				Topic: "chatgate.deadletter", Source: "chatgate/test", Original: tc.original, Cause: errors.New("boom"), At: at,
			})
			if err != nil {
				t.Fatal(err)
			}
			if d != tc.want {
				t.Fatalf("data = %+v, want %+v", d, tc.want)
			}
			ev, got, err := gateway.DecodeRecord[gateway.Deadletter](msg.Value)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want || msg.Topic != "chatgate.deadletter" || string(msg.Key) != tc.want.Key {
				t.Fatalf("record %s key %q: %+v", msg.Topic, msg.Key, got)
			}
			if !strings.HasPrefix(ev.ID, tc.id) || ev.ID != gateway.DeadletterID(tc.original) || ev.Type != gateway.TypeDeadletter ||
				ev.Source != "chatgate/test" || !ev.Time.Equal(at) || ev.Subject != tc.subject {
				t.Fatalf("envelope = %+v, want id %s…", ev, tc.id)
			}
		})
	}
	if _, _, err := gateway.NewDeadletter(gateway.DeadletterParams{Original: consumed}); err == nil {
		t.Fatal("a dead letter without topic and source was built")
	}
}

func TestDeadletterReplayRecord(t *testing.T) {
	t.Parallel()
	in := gateway.Inbound{Channel: gateway.ChannelWhatsApp, ProviderID: "3EB0AA", From: "+27821234567", Text: "hi", ReceivedAt: at}
	inRec, err := in.Record("chatgate/channels/whatsapp", "")
	if err != nil {
		t.Fatal(err)
	}
	status, err := gateway.EncodeRecord("", "sms:+1", "s1", "test", gateway.TypeMessageStatus, "sms:+1", at, gateway.Status{})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name      string
		d         gateway.Deadletter
		topic     string // "" : refused
		refusedBy string
	}{
		{"consumed: to its own topic", gateway.Deadletter{Topic: "x.commands", Partition: 1, Offset: 2, Key: "7", Value: "{}"}, "x.commands", ""},
		{"refused inbound: to the inbound topic", gateway.Deadletter{Key: in.ContactKey(), Value: string(inRec.Value)}, "x.inbound", ""},
		{"refused, not a cloudevent", gateway.Deadletter{Key: "k", Value: "{not json"}, "", "not a CloudEvent"},
		{"refused, not inbound", gateway.Deadletter{Key: "sms:+1", Value: string(status.Value)}, "", "not an inbound message"},
		{"refused, key of another contact", gateway.Deadletter{Key: "whatsapp:+1", Value: string(inRec.Value)}, "", "not the contact key"},
		{"from the deadletter topic", gateway.Deadletter{Topic: "x.deadletter", Key: "k", Value: "v"}, "", "deadletter topic"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, err := tc.d.ReplayRecord("x.inbound", "x.deadletter")
			if tc.refusedBy != "" {
				if !errors.Is(err, gateway.ErrNotReplayable) || !strings.Contains(err.Error(), tc.refusedBy) {
					t.Fatalf("err = %v, want ErrNotReplayable saying %q", err, tc.refusedBy)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Topic != tc.topic || string(m.Key) != tc.d.Key || string(m.Value) != tc.d.Value {
				t.Fatalf("replay = %s %q %q, want the original key and value on %s", m.Topic, m.Key, m.Value, tc.topic)
			}
		})
	}
}

package deadletter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chatgate/chatgate/gateway"
)

// Every dead letter is counted and logged at error level with what an
// operator needs to find it, and never with the contact's number or text.
func TestNewCountsAndLogsEveryDeadLetterWithoutPhoneOrText(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	in := gateway.Inbound{Channel: gateway.ChannelAPI, ProviderID: "web-7", From: "+27821234567", Text: "my secret order", ReceivedAt: at}
	consumed, err := in.Record("test", "t1.inbound")
	if err != nil {
		t.Fatal(err)
	}
	consumed.Partition, consumed.Offset = 2, 17
	refused, err := in.Record("test", "")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		source   string
		original gateway.Message
		topic    string
		want     map[string]any
	}{
		{"consumed", "t1/worker", consumed, "t1.inbound", map[string]any{
			"deadletter_id": "deadletter:t1.inbound:2:17", "topic": "t1.inbound", "partition": 2.0, "offset": 17.0,
			"event_id": "inbound:api:web-7", "event_type": gateway.TypeInboundMessage}},
		{"refused before kafka", "t1/adapter", refused, NoTopic, map[string]any{
			"deadletter_id": "deadletter:inbound:api:web-7", "topic": NoTopic, "event_id": "inbound:api:web-7"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			log := slog.New(slog.NewJSONHandler(&logs, nil))
			before := counted(t, tc.source, tc.topic)
			cause := errors.New(`record key "api:+27821234567" is not the contact key`)
			msg, err := New(context.Background(), log, gateway.DeadletterParams{
				Topic: "t1.deadletter", Source: tc.source, Original: tc.original, Cause: cause, At: at,
			})
			if err != nil {
				t.Fatal(err)
			}
			if _, d, err := gateway.DecodeRecord[gateway.Deadletter](msg.Value); err != nil || d.Reason != cause.Error() {
				t.Fatalf("record reason %q (%v): the record keeps the whole reason", d.Reason, err)
			}
			if got := counted(t, tc.source, tc.topic) - before; got != 1 {
				t.Fatalf("chatgate_deadletter_records_total{source=%q,topic=%q} grew by %v, want 1", tc.source, tc.topic, got)
			}
			line := logs.String()
			if strings.Contains(line, "27821234567") || strings.Contains(line, "secret") {
				t.Fatalf("log holds the phone number or the text: %s", line)
			}
			var entry map[string]any
			if err := json.Unmarshal(logs.Bytes(), &entry); err != nil {
				t.Fatalf("want one JSON log line: %v\n%s", err, line)
			}
			if entry["level"] != "ERROR" || entry["source"] != tc.source || !strings.Contains(entry["error"].(string), "is not the contact key") {
				t.Fatalf("log entry = %v", entry)
			}
			for k, v := range tc.want {
				if entry[k] != v {
					t.Errorf("log %s = %v, want %v", k, entry[k], v)
				}
			}
		})
	}
}

// counted reads chatgate_deadletter_records_total{source,topic} from the
// registry /metrics serves.
func counted(t *testing.T, source, topic string) float64 {
	t.Helper()
	families, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "chatgate_deadletter_records_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["source"] == source && labels["topic"] == topic {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

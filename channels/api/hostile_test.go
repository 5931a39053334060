package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/devstack"
	"github.com/chatgate/chatgate/gateway/hostile"
	"github.com/chatgate/chatgate/gateway/kafka"
)

// hostileWant is the documented answer to one hostile value in one field:
// the status, and for a 202 the value the record carries (its normal form).
type hostileWant struct {
	status int
	stored string
}

// apiChannelWants is the API channel's documented rule per field and class
// (channels/api's package documentation, docs/api-channel.md): keys refuse
// blank, padded, long and control values but are otherwise the sender's;
// text is kept as sent; contact_name is trimmed; language is normalised;
// type is "message" or "end_chat". What the JSON decoder refuses (invalid
// UTF-8, lone surrogates, an oversized body) never reaches a field.
func apiChannelWants(field string, h hostile.JSONString, value string) hostileWant {
	switch h.Class {
	case hostile.InvalidUTF8, hostile.LoneSurrogate:
		return hostileWant{status: http.StatusBadRequest}
	case hostile.Huge:
		return hostileWant{status: http.StatusRequestEntityTooLarge}
	case hostile.Control:
		return hostileWant{status: http.StatusUnprocessableEntity}
	}
	refused := hostileWant{status: http.StatusUnprocessableEntity}
	kept := hostileWant{status: http.StatusAccepted, stored: value}
	switch field {
	case "id", "from", "to":
		switch h.Class {
		case hostile.Empty:
			if field == "to" {
				return kept
			}
			return refused
		case hostile.Blank, hostile.Padded, hostile.Long:
			return refused
		}
		return kept
	case "text":
		if h.Class == hostile.Empty {
			return refused
		}
		return kept
	case "contact_name":
		if h.Class == hostile.Long {
			return refused
		}
		return hostileWant{status: http.StatusAccepted, stored: strings.TrimSpace(value)}
	case "language":
		switch h.Class {
		case hostile.Empty:
			return kept
		case hostile.Padded: // " ann ": ann is a language code
			return hostileWant{status: http.StatusAccepted, stored: "ann"}
		}
		return refused
	case "type":
		if h.Class == hostile.Empty {
			return hostileWant{status: http.StatusAccepted}
		}
		return refused
	}
	panic("no rule for field " + field)
}

// TestR38_HostileCorpusAtTheAPIChannel posts every hostile value of the
// corpus in every field of the API channel, through the handler and the
// embedded broker: each answer is the documented one (never a 5xx, never a
// 2xx for what is not stored), each 202 published exactly one record whose
// field has the documented normal form and that gateway.Inbound.Validate
// (the worker's check) accepts, and nothing else reached the topic.
func TestR38_HostileCorpusAtTheAPIChannel(t *testing.T) {
	t.Parallel()
	broker, err := devstack.StartBroker(devstack.BrokerConfig{Addr: "127.0.0.1:0", Topics: topics.All(), Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = broker.Close() })
	producer, err := kafka.NewProducer(kafka.ProducerConfig{Brokers: []string{broker.Addr()}, WriteTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = producer.Close() })
	h := newHandler(producer)

	type accepted struct {
		name, field, stored string
	}
	var want []accepted // in the order they were posted: one partition keeps it
	n := 0
	post := func(name, field, literal string, w hostileWant) {
		t.Helper()
		n++
		body := map[string]string{
			"id":   fmt.Sprintf(`"hostile-%d"`, n),
			"from": `"cust-1"`,
			"text": `"hello"`,
		}
		if field == "language" || field == "type" || field == "contact_name" || field == "to" {
			body["to"] = `"support"`
		}
		body[field] = literal
		var b strings.Builder
		b.WriteString("{")
		first := true
		for _, k := range []string{"id", "from", "to", "type", "text", "contact_name", "language"} {
			if v, ok := body[k]; ok {
				if !first {
					b.WriteString(",")
				}
				first = false
				fmt.Fprintf(&b, "%q:%s", k, v)
			}
		}
		b.WriteString("}")
		req := httptest.NewRequest(http.MethodPost, "/v1/channels/api/messages", strings.NewReader(b.String()))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != w.status {
			t.Errorf("%s in %s: status %d, want %d; body %s", name, field, rec.Code, w.status, clip(rec.Body.String()))
			return
		}
		if rec.Code >= 400 {
			var e errorResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code == "" {
				t.Errorf("%s in %s: error body is not chatgate's JSON error: %s", name, field, clip(rec.Body.String()))
			}
			if rec.Code == http.StatusUnprocessableEntity && (len(e.Error.Details) == 0 || e.Error.Details[0].Field != field) {
				t.Errorf("%s in %s: details %+v do not name %s", name, field, e.Error.Details, field)
			}
			return
		}
		want = append(want, accepted{name: name, field: field, stored: w.stored})
	}

	for _, field := range []string{"id", "from", "to", "type", "text", "contact_name", "language"} {
		for _, h := range hostile.JSONStrings() {
			var value string
			_ = json.Unmarshal([]byte(h.Literal), &value) // "" for what JSON cannot carry
			post(h.Name, field, h.Literal, apiChannelWants(field, h, value))
		}
		for _, num := range hostile.JSONNumbers() {
			post("number "+num.Name, field, num.Text, hostileWant{status: http.StatusBadRequest})
		}
	}
	for _, p := range hostile.PhoneNumbers() {
		// The API channel's addresses are the sender's identifiers, not
		// phone numbers: kept as given, unless a key cannot hold them.
		w := hostileWant{status: http.StatusAccepted, stored: p.Value}
		if strings.ContainsRune(p.Value, 0) {
			w = hostileWant{status: http.StatusUnprocessableEntity}
		}
		post("phone "+p.Name, "from", hostile.Literal(p.Value), w)
	}
	post("sentinel", "text", `"sentinel"`, hostileWant{status: http.StatusAccepted, stored: "sentinel"})

	tail, err := kafka.NewTail(context.Background(), []string{broker.Addr()}, topics.Name(gateway.TopicInbound), false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tail.Close)
	for i, w := range want {
		var m gateway.Message
		select {
		case m = <-tail.Messages():
		case <-time.After(20 * time.Second):
			t.Fatalf("record %d (%s in %s) not on the topic within 20s", i, w.name, w.field)
		}
		_, in, err := gateway.DecodeRecord[gateway.Inbound](m.Value)
		if err != nil {
			t.Fatalf("record %d (%s in %s): %v", i, w.name, w.field, err)
		}
		if err := in.Validate(); err != nil {
			t.Errorf("%s in %s: the worker would refuse the published record: %v", w.name, w.field, err)
		}
		got := map[string]string{"id": in.ProviderID, "from": in.From, "to": in.To, "text": in.Text,
			"contact_name": in.ContactName, "language": in.Language, "type": string(in.Kind)}[w.field]
		if got != w.stored {
			t.Errorf("%s in %s: published %q, want the normal form %q", w.name, w.field, clip(got), clip(w.stored))
		}
	}
	// The sentinel was posted last and read last: a refused request that
	// reached Kafka anyway would have shifted the records above.
}

func clip(s string) string {
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}

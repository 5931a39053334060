package cloudapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chatgate/chatgate/channels/cloudapi"
	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/devstack"
	"github.com/chatgate/chatgate/gateway/httpapi"
	"github.com/chatgate/chatgate/gateway/kafka"
)

func startBroker(t testing.TB) *devstack.Broker {
	t.Helper()
	b, err := devstack.StartBroker(devstack.BrokerConfig{Addr: "127.0.0.1:0", Topics: topics.All(), Partitions: 2})
	if err != nil {
		t.Fatalf("start broker: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func newProducer(t testing.TB, addr string) *kafka.Producer {
	t.Helper()
	p, err := kafka.NewProducer(kafka.ProducerConfig{Brokers: []string{addr}, WriteTimeout: 2 * time.Second, MaxAttempts: 1})
	if err != nil {
		t.Fatalf("producer: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func newTail(t testing.TB, addr string, topic gateway.Topic) *kafka.Tail {
	t.Helper()
	tail, err := kafka.NewTail(context.Background(), []string{addr}, topics.Name(topic), false)
	if err != nil {
		t.Fatalf("tail: %v", err)
	}
	t.Cleanup(tail.Close)
	return tail
}

// nextRecords waits for n records on tail, up to a deadline.
func nextRecords(t testing.TB, tail *kafka.Tail, n int) []gateway.Message {
	t.Helper()
	var out []gateway.Message
	deadline := time.After(20 * time.Second)
	for len(out) < n {
		select {
		case m := <-tail.Messages():
			out = append(out, m)
		case <-deadline:
			t.Fatalf("%d of %d records within 20s", len(out), n)
		}
	}
	return out
}

// R50 against the embedded Kafka-protocol broker: every recorded webhook
// that chatgate stores, POSTed over HTTP to the handler mounted on
// chatgate's HTTP server, is on the inbound or status topic, keyed by
// contact, by the time Meta has its 200.
func TestR50_RecordedWebhooksReachKafka(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	prod := newProducer(t, b.Addr())
	inTail, stTail := newTail(t, b.Addr(), gateway.TopicInbound), newTail(t, b.Addr(), gateway.TopicStatus)
	srv := httpapi.New(httpapi.Config{})
	newWebhooks(t, prod).Mount(srv)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)

	wants := recordedWants()
	var wantIn, wantSt int
	for _, c := range fixtures(t).Incoming {
		w := wants[c.Label]
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, ts.URL+cloudapi.WebhookPath, strings.NewReader(c.RawBody))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range c.Headers {
			req.Header.Set(k, v)
		}
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != w.status {
			t.Fatalf("%s: %d, want %d", c.Label, resp.StatusCode, w.status)
		}
		wantIn += len(w.in)
		wantSt += len(w.st)
	}
	ins, _ := decoded(t, nextRecords(t, inTail, wantIn))
	for _, in := range ins {
		if in.Channel != gateway.ChannelWhatsApp || in.To != testAddress {
			t.Errorf("inbound %+v", in)
		}
	}
	_, sts := decoded(t, nextRecords(t, stTail, wantSt))
	if sts[0].ProviderID != "external_id" {
		t.Errorf("status %+v", sts[0])
	}

	// The handshake through the same server.
	resp, err := ts.Client().Get(ts.URL + cloudapi.WebhookPath + "?hub.mode=subscribe&hub.verify_token=" + testVerifyToken + "&hub.challenge=42")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("handshake: %d", resp.StatusCode)
	}
}

// With the broker gone the webhook is a 503 and Meta keeps it.
func TestWebhookUnavailableWithoutKafka(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	prod := newProducer(t, b.Addr())
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	w := newWebhooks(t, prod, func(o *cloudapi.WebhookOptions) { o.PublishTimeout = 5 * time.Second })
	rec := serve(w.EventsHandler(), post(webhook(messageValue(`{"from":"27821234567","id":"wamid.DOWN","timestamp":"1700000000","type":"text","text":{"body":"x"}}`))))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("answer %d %s, want 503", rec.Code, rec.Body.String())
	}
}

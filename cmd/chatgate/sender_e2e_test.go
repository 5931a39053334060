package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	apichannel "github.com/chatgate/chatgate/channels/api"
	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/kafka"
	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
)

// An outbound record for an API-channel contact is POSTed, signed, to the
// callback URL once, even when the record is delivered twice, and its
// result is published on the status topic.
func TestR32_APIChannelSenderDeliversOnceAndReportsStatus(t *testing.T) {
	t.Parallel()
	const secret = "0123456789abcdef0123456789abcdef"
	var mu sync.Mutex
	var calls []string
	callback := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := apichannel.VerifySignature(secret, r.Header.Get(apichannel.HeaderTimestamp), body,
			r.Header.Get(apichannel.HeaderSignature), time.Now(), time.Minute); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		mu.Lock()
		calls = append(calls, r.Header.Get(apichannel.HeaderRequestID))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"front-end-42"}`)
	}))
	defer callback.Close()

	brokers := startBroker(t)
	s := startStackEnv(t, brokers, pgtest.URL(t), map[string]string{
		envAPICallbackURL: callback.URL, envAPICallbackSecret: secret,
	}, roleSender)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tail, err := kafka.NewTail(ctx, brokers, s.app.topics.Name(gateway.TopicStatus), false)
	if err != nil {
		t.Fatal(err)
	}
	defer tail.Close()
	rec, err := gateway.Outbound{RequestID: "req-1", Channel: gateway.ChannelAPI, To: "+27821234567", Text: "We are closed", CreatedAt: time.Now()}.
		Record("test", s.app.topics.Name(gateway.TopicOutbound))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.app.producer.Publish(ctx, rec, rec); err != nil {
		t.Fatal(err)
	}
	var statuses []gateway.Status
	for len(statuses) < 2 {
		select {
		case m := <-tail.Messages():
			_, st, err := gateway.DecodeRecord[gateway.Status](m.Value)
			if err != nil {
				t.Fatal(err)
			}
			statuses = append(statuses, st)
		case <-ctx.Done():
			t.Fatalf("got %d status records, want 2", len(statuses))
		}
	}
	for _, st := range statuses {
		if st.Status != gateway.StatusSent || st.ProviderID != "front-end-42" || st.RequestID != "req-1" || string(st.Channel) != "api" {
			t.Fatalf("status %+v", st)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != 1 || calls[0] != "req-1" {
		t.Fatalf("callback called %v, want once for req-1", calls)
	}
}

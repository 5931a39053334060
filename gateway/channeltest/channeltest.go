// Package channeltest is the conformance suite every channel adapter's
// tests run (in the manner of watermill's pubsub/tests and courier's
// handlertest): one statement of what docs/architecture.md promises of a
// channel, checked the same way for each, so a new adapter proves the
// contract by supplying a fixture rather than by copying tests.
//
// The receive side (RunIntake) must
//   - acknowledge a message to its provider only after Publish returned
//     nil (no inbound message lost): a failing publisher gets no
//     acknowledgement, which over HTTP is a 503 with Retry-After;
//   - publish a redelivered message with the same event id (R1);
//   - never publish input it cannot turn into a valid record as one
//     (R38): an HTTP channel refuses it with a 4xx JSON error and
//     publishes nothing; a channel whose provider cannot be told
//     (WhatsApp) dead-letters it with the reason, then acknowledges.
//
// The send side (RunSender) must classify the provider's failures as
// sender.Error, temporary or permanent, and report the wait a provider
// asked for as RetryAfter, which the sender runner then honours.
//
// On both sides, nothing the adapter logs (captured at every level,
// Debug and below included) contains the contact's full phone number or
// the message's text (STYLE's logging rule).
//
// A fixture describes one adapter: how to build it on the suite's
// Publisher and logger, how its provider delivers a message (valid and
// invalid), and how to make its provider's API fail. See the
// conformance_test.go of channels/api, channels/twilio, channels/whatsapp
// and channels/cloudapi.
package channeltest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/testkit"
)

// The contact and the text of every message the suite delivers or sends.
// None of them may appear in the adapter's logs.
const (
	// Phone is the contact's number in E.164.
	Phone = "+27821234567"
	// Text is the message text; SecretWord is the part of it the log
	// check looks for, so a log that quotes part of the text is caught.
	Text       = "my secret word is " + SecretWord
	SecretWord = "zebraquartz"
)

// Secrets are the strings no captured log record may contain: the phone
// number with and without its +, without its country code, and the
// text's secret word.
var Secrets = []string{Phone, strings.TrimPrefix(Phone, "+"), Phone[3:], SecretWord}

// within bounds every wait of the suite: far beyond what a healthy
// adapter needs on a loaded machine.
const within = 20 * time.Second

// Topics are the topic names the suite gives every adapter.
var Topics = gateway.Topics{Prefix: "conformance."}

// Message is a message the contact sent, for a fixture to dress as its
// provider would deliver it.
type Message struct {
	// ID is the provider's message id, alphanumeric, unique per message.
	ID string
	// From is the contact's number in E.164 (Phone).
	From string
	// Text is what the contact wrote (Text).
	Text string
}

var messageSeq atomic.Int64

// newMessage returns a message with an id no other delivery of this
// process uses, shaped like the ids providers give (Twilio's SM…).
func newMessage() Message {
	return Message{ID: fmt.Sprintf("SMc0de%028x", messageSeq.Add(1)), From: Phone, Text: Text}
}

// Answer is what an adapter told its provider about one delivery.
type Answer struct {
	// Acked says the provider was told the message is taken: a 2xx over
	// HTTP, true returned to whatsmeow.
	Acked bool
	// Status, Header and Body are the HTTP answer; Status is 0 for a
	// channel that does not answer over HTTP.
	Status int
	Header http.Header
	Body   []byte
}

// ServeHTTP serves req with h and returns its answer, acknowledged when
// the status is 2xx: the helper of every HTTP fixture's Deliver.
func ServeHTTP(h http.Handler, req *http.Request) Answer {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return Answer{Acked: rec.Code/100 == 2, Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}

// Refusal is what an adapter does with input that cannot become a valid
// record.
type Refusal int

const (
	// RefuseHTTP answers a 4xx JSON error and publishes nothing: the
	// provider (or the integrator behind it) learns that the message was
	// not taken and can correct it.
	RefuseHTTP Refusal = iota + 1
	// DeadLetter publishes the input on the deadletter topic with the
	// reason, and acknowledges only once that record is on Kafka: the
	// provider cannot be told, and retrying cannot fix the message.
	DeadLetter
)

// Wiring is what the suite gives a fixture to build its adapter with.
type Wiring struct {
	// Publisher is where the adapter writes its records.
	Publisher gateway.Publisher
	// Topics names the topics (Topics).
	Topics gateway.Topics
	// Logger captures everything the adapter logs.
	Logger *slog.Logger
}

// Intake is the fixture of a channel's receive side. In is how one
// delivery is represented: an *http.Request for webhooks, a whatsmeow
// event for the linked device.
type Intake[In any] struct {
	// Channel is the channel of the records a valid message becomes.
	Channel gateway.Channel
	// Refusal is how the adapter treats Invalid input.
	Refusal Refusal
	// New builds the adapter on w and returns the function that hands it
	// one delivery and reports its answer. It may be called many times.
	New func(t *testing.T, w Wiring) (deliver func(ctx context.Context, in In) Answer)
	// Valid dresses m as the provider delivers a text message.
	Valid func(t *testing.T, m Message) In
	// Invalid lists deliveries that cannot become a valid inbound record.
	// Each is built from a Message, so that it carries the contact's
	// number and text and the log check sees what the adapter logs of
	// them.
	Invalid []Case[In]
}

// Case is one named delivery of a fixture.
type Case[In any] struct {
	Name  string
	Build func(t *testing.T, m Message) In
}

// RunIntake runs the receive side's conformance tests against f.
func RunIntake[In any](t *testing.T, f Intake[In]) {
	t.Helper()
	if f.Channel == "" || f.New == nil || f.Valid == nil || (f.Refusal != RefuseHTTP && f.Refusal != DeadLetter) {
		t.Fatal("channeltest: an Intake needs Channel, Refusal, New and Valid")
	}
	if len(f.Invalid) == 0 {
		t.Fatal("channeltest: an Intake needs at least one Invalid case: every provider can deliver what chatgate cannot store")
	}
	t.Run("AcknowledgedOnlyAfterPublishReturned", func(t *testing.T) {
		t.Parallel()
		entered := make(chan struct{}, 1)
		release := make(chan struct{})
		pub := &testkit.Publisher{PublishFunc: func(context.Context, ...gateway.Message) error {
			select {
			case entered <- struct{}{}:
			default:
			}
			select {
			case <-release:
				return nil
			case <-time.After(within):
				return errors.New("channeltest: publish never released")
			}
		}}
		r := start(t, f, pub)
		m := newMessage()
		answered := make(chan Answer, 1)
		in := f.Valid(t, m)
		go func() { answered <- r.deliver(t.Context(), in) }()
		select {
		case <-entered:
		case a := <-answered:
			t.Fatalf("answered %s without publishing", a)
		case <-time.After(within):
			t.Fatalf("Publish not called within %s", within)
		}
		// Publish has not returned: whatever the adapter answered by now
		// it answered before Kafka acknowledged the record.
		select {
		case a := <-answered:
			t.Fatalf("answered %s while Publish had not returned", a)
		default:
		}
		close(release)
		var a Answer
		select {
		case a = <-answered:
		case <-time.After(within):
			t.Fatalf("no answer within %s after Publish returned", within)
		}
		if !a.Acked {
			t.Fatalf("answered %s after a successful publish, want an acknowledgement", a)
		}
		msgs := pub.Messages()
		if len(msgs) != 1 {
			t.Fatalf("%d records published, want the message's one", len(msgs))
		}
		checkInbound(t, f.Channel, m, msgs[0])
		r.logs.RequireAbsent(t, Secrets...)
	})

	t.Run("NotAcknowledgedWhenPublishFails", func(t *testing.T) {
		t.Parallel()
		pub := &testkit.Publisher{PublishFunc: func(context.Context, ...gateway.Message) error {
			return fmt.Errorf("channeltest: %w: broker down", gateway.ErrUnavailable)
		}}
		r := start(t, f, pub)
		a := r.deliver(t.Context(), f.Valid(t, newMessage()))
		if a.Acked {
			t.Fatalf("answered %s although nothing reached Kafka", a)
		}
		if pub.Calls() == 0 {
			t.Fatal("not acknowledged, but Publish was never called: the message was refused, not lost to Kafka")
		}
		if a.Status != 0 {
			checkUnavailable(t, a)
		}
		if r.logs.Len() == 0 {
			t.Error("a message left unstored was not logged: operators cannot see it")
		}
		r.logs.RequireAbsent(t, Secrets...)
	})

	t.Run("RedeliveryKeepsTheEventID", func(t *testing.T) {
		t.Parallel()
		pub := &testkit.Publisher{}
		r := start(t, f, pub)
		m := newMessage()
		for i := range 2 {
			if a := r.deliver(t.Context(), f.Valid(t, m)); !a.Acked {
				t.Fatalf("delivery %d answered %s, want an acknowledgement", i+1, a)
			}
		}
		msgs := pub.Messages()
		if len(msgs) != 2 {
			t.Fatalf("%d records for two deliveries, want 2 (the worker dedupes, R1)", len(msgs))
		}
		first, second := checkInbound(t, f.Channel, m, msgs[0]), checkInbound(t, f.Channel, m, msgs[1])
		if first.EventID() != second.EventID() {
			t.Fatalf("event ids %q and %q for one message, want one (R1)", first.EventID(), second.EventID())
		}
		r.logs.RequireAbsent(t, Secrets...)
	})

	for _, c := range f.Invalid {
		t.Run("Invalid/"+c.Name, func(t *testing.T) {
			t.Parallel()
			switch f.Refusal {
			case RefuseHTTP:
				refused(t, f, c)
			case DeadLetter:
				deadLettered(t, f, c)
			}
		})
	}
}

// rig is one adapter built on a publisher and a log capture.
type rig[In any] struct {
	deliver func(ctx context.Context, in In) Answer
	logs    *testkit.Logs
}

func start[In any](t *testing.T, f Intake[In], pub gateway.Publisher) rig[In] {
	t.Helper()
	logs := testkit.NewLogs()
	deliver := f.New(t, Wiring{Publisher: pub, Topics: Topics, Logger: logs.Logger()})
	if deliver == nil {
		t.Fatal("channeltest: New returned no deliver function")
	}
	return rig[In]{deliver: deliver, logs: logs}
}

// refused checks R38 for an HTTP channel: a 4xx JSON error, nothing
// published.
func refused[In any](t *testing.T, f Intake[In], c Case[In]) {
	t.Helper()
	pub := &testkit.Publisher{}
	r := start(t, f, pub)
	a := r.deliver(t.Context(), c.Build(t, newMessage()))
	if a.Acked || a.Status < 400 || a.Status > 499 {
		t.Fatalf("answered %s, want a 4xx refusal", a)
	}
	code := errorCode(t, a)
	if code == "unavailable" {
		t.Fatalf("refused as unavailable: the provider would retry what cannot succeed")
	}
	if n := pub.Calls(); n != 0 {
		t.Fatalf("refused input published in %d calls, want none (R38)", n)
	}
	r.logs.RequireAbsent(t, Secrets...)
}

// deadLettered checks R38 for a channel that cannot refuse: one record,
// on the deadletter topic, with a reason, acknowledged after it was
// written; no acknowledgement when even that record was not written.
func deadLettered[In any](t *testing.T, f Intake[In], c Case[In]) {
	t.Helper()
	pub := &testkit.Publisher{}
	r := start(t, f, pub)
	a := r.deliver(t.Context(), c.Build(t, newMessage()))
	if !a.Acked {
		t.Fatalf("answered %s, want the dead-lettered message acknowledged", a)
	}
	msgs := pub.Messages()
	if len(msgs) != 1 || msgs[0].Topic != Topics.Name(gateway.TopicDeadletter) {
		t.Fatalf("published %s, want exactly one record, on %s", topicsOf(msgs), Topics.Name(gateway.TopicDeadletter))
	}
	ev, dl, err := gateway.DecodeRecord[gateway.Deadletter](msgs[0].Value)
	if err != nil || ev.Type != gateway.TypeDeadletter || dl.Reason == "" || dl.Value == "" {
		t.Fatalf("deadletter record %+v %+v (%v), want type %s with the original and a reason", ev, dl, err, gateway.TypeDeadletter)
	}
	r.logs.RequireAbsent(t, Secrets...)

	failing := &testkit.Publisher{}
	failing.FailNext(1 << 30)
	r = start(t, f, failing)
	if a := r.deliver(t.Context(), c.Build(t, newMessage())); a.Acked {
		t.Fatalf("answered %s although the dead letter was not written: the message would be lost", a)
	}
	if failing.Calls() == 0 {
		t.Fatal("not acknowledged, but no dead letter was even tried")
	}
	r.logs.RequireAbsent(t, Secrets...)
}

// checkInbound checks that msg is the inbound record of m on channel ch
// and returns it.
func checkInbound(t *testing.T, ch gateway.Channel, m Message, msg gateway.Message) gateway.Inbound {
	t.Helper()
	ev, in, err := gateway.DecodeRecord[gateway.Inbound](msg.Value)
	if err != nil {
		t.Fatalf("published record is not an inbound record: %v", err)
	}
	if msg.Topic != Topics.Name(gateway.TopicInbound) || ev.Type != gateway.TypeInboundMessage {
		t.Fatalf("record of type %q on %q, want %s on %s", ev.Type, msg.Topic, gateway.TypeInboundMessage, Topics.Name(gateway.TopicInbound))
	}
	if in.Channel != ch || in.ProviderID != m.ID || in.From != m.From || in.Text != m.Text {
		t.Fatalf("record channel %q id %q from %q text %q, want %q %q %q %q", in.Channel, in.ProviderID, in.From, in.Text, ch, m.ID, m.From, m.Text)
	}
	if string(msg.Key) != gateway.ContactKey(ch, m.From) || ev.ID != in.EventID() {
		t.Fatalf("record key %q event id %q, want %q %q (R1, R2)", msg.Key, ev.ID, gateway.ContactKey(ch, m.From), in.EventID())
	}
	if err := in.Validate(); err != nil {
		t.Fatalf("published a record the worker refuses (R38): %v", err)
	}
	return in
}

// checkUnavailable checks an HTTP answer to a failed publish: 503 with
// Retry-After and the JSON error "unavailable", so the provider retries.
func checkUnavailable(t *testing.T, a Answer) {
	t.Helper()
	if a.Status != http.StatusServiceUnavailable {
		t.Fatalf("answered %s, want 503", a)
	}
	if a.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	if code := errorCode(t, a); code != "unavailable" {
		t.Errorf("error code %q, want unavailable", code)
	}
}

// errorCode checks that a is chatgate's JSON error and returns its code.
func errorCode(t *testing.T, a Answer) string {
	t.Helper()
	if ct := a.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("error Content-Type %q, want application/json", ct)
	}
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(a.Body, &body); err != nil || body.Error.Code == "" || body.Error.Message == "" {
		t.Fatalf("error body %q is not {\"error\":{\"code\",\"message\"}} (%v)", a.Body, err)
	}
	return body.Error.Code
}

func topicsOf(msgs []gateway.Message) string {
	ts := make([]string, len(msgs))
	for i, m := range msgs {
		ts[i] = m.Topic
	}
	return fmt.Sprintf("%d records %v", len(msgs), ts)
}

// String shows an answer in failures, with the start of its body.
func (a Answer) String() string {
	if a.Status == 0 {
		return fmt.Sprintf("acked=%v", a.Acked)
	}
	body := a.Body
	if len(body) > 200 {
		body = body[:200]
	}
	return fmt.Sprintf("HTTP %d %s", a.Status, body)
}

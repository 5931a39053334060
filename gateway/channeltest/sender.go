package channeltest

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/sender"
	"github.com/chatgate/chatgate/gateway/sender/sendertest"
	"github.com/chatgate/chatgate/gateway/testkit"
)

// Fault is how a fixture's stand-in for the provider's API answers one
// send.
type Fault int

const (
	// Accept takes the message and gives it a provider id.
	Accept Fault = iota
	// FailTemporarily fails in a way retrying can cure: a 5xx, a device
	// that is not connected.
	FailTemporarily
	// FailPermanently fails in a way retrying cannot cure: an invalid
	// recipient, a refused message.
	FailPermanently
	// RateLimit refuses for now and asks to wait (Sender.RetryAfter): a
	// 429 with Retry-After, WhatsApp's rate limit.
	RateLimit
)

// String names the fault, as the suite's subtests do.
func (f Fault) String() string {
	switch f {
	case Accept:
		return "Accept"
	case FailTemporarily:
		return "FailTemporarily"
	case FailPermanently:
		return "FailPermanently"
	case RateLimit:
		return "RateLimit"
	}
	return fmt.Sprintf("Fault(%d)", int(f))
}

// SendWiring is what the suite gives a fixture to build its provider with.
type SendWiring struct {
	// Logger captures everything the provider logs.
	Logger *slog.Logger
	// Answer says how the provider's API answers its call-th call (from
	// 0). The fixture's stand-in must ask it exactly once per call that
	// reaches the provider's API: the suite counts calls by it.
	Answer func(call int) Fault
}

// Sender is the fixture of a channel's send side.
type Sender struct {
	// Channel is the provider's channel, that of the outbound records.
	Channel gateway.Channel
	// RetryAfter is the wait the stand-in asks for when it answers
	// RateLimit (a Retry-After header, or what the provider's error
	// means), which Send must report as sender.Error.RetryAfter.
	RetryAfter time.Duration
	// New builds the provider on w, talking to a stand-in of its API.
	New func(t *testing.T, w SendWiring) sender.Provider
	// Outbound, if set, completes the suite's outbound message (to
	// Phone, text Text) with what the provider needs, e.g. a From.
	Outbound func(out *gateway.Outbound)
}

// retryAfterCap is the sender runner's MaxRetryAfter in the suite: short,
// so a provider's 30 s does not hold the test, yet far longer than the
// runner's own 1 ms backoff, so only an honoured Retry-After explains
// the wait.
const retryAfterCap = 100 * time.Millisecond

// RunSender runs the send side's conformance tests against f.
func RunSender(t *testing.T, f Sender) {
	t.Helper()
	if f.Channel == "" || f.New == nil || f.RetryAfter <= 0 {
		t.Fatal("channeltest: a Sender needs Channel, New and a RetryAfter")
	}
	for _, tc := range []struct {
		fault         Fault
		wantPermanent bool
	}{
		{Accept, false},
		{FailTemporarily, false},
		{FailPermanently, true},
		{RateLimit, false},
	} {
		t.Run("Send/"+tc.fault.String(), func(t *testing.T) {
			t.Parallel()
			s := newStandIn(t, f, func(int) Fault { return tc.fault })
			id, err := s.provider.Send(t.Context(), s.outbound(f, "send-"+tc.fault.String()))
			if n := s.calls(); n != 1 {
				t.Fatalf("provider API called %d times, want 1: retrying is the runner's job", n)
			}
			if tc.fault == Accept {
				if err != nil || id == "" {
					t.Fatalf("Send = %q, %v; want a provider id", id, err)
				}
				s.logs.RequireAbsent(t, Secrets...)
				return
			}
			var pe *sender.Error
			if !errors.As(err, &pe) {
				t.Fatalf("Send error %v (%T), want a *sender.Error", err, err)
			}
			if pe.Permanent != tc.wantPermanent {
				t.Errorf("Permanent = %v for %s, want %v (%v)", pe.Permanent, tc.fault, tc.wantPermanent, pe)
			}
			if tc.fault == RateLimit && pe.RetryAfter != f.RetryAfter {
				t.Errorf("RetryAfter = %s, want the %s the provider asked for", pe.RetryAfter, f.RetryAfter)
			}
			if tc.fault != RateLimit && pe.RetryAfter != 0 {
				t.Errorf("RetryAfter = %s although the provider asked for no wait", pe.RetryAfter)
			}
			s.logs.RequireAbsent(t, Secrets...)
		})
	}

	for _, tc := range []struct {
		name    string
		answers []Fault // then Accept
		want    gateway.DeliveryStatus
		calls   int
	}{
		{"TemporaryFailureIsRetried", []Fault{FailTemporarily}, gateway.StatusSent, 2},
		{"PermanentFailureIsNotRetried", []Fault{FailPermanently}, gateway.StatusFailed, 1},
		{"RetryAfterIsHonoured", []Fault{RateLimit}, gateway.StatusSent, 2},
	} {
		t.Run("Runner/"+tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStandIn(t, f, func(call int) Fault {
				if call < len(tc.answers) {
					return tc.answers[call]
				}
				return Accept
			})
			sink := &sendertest.StatusSink{}
			r, err := sender.New(sender.Config{
				Provider: s.provider, Log: &sendertest.SendLog{}, Publisher: sink, Topics: Topics,
				Logger: s.logs.Logger(), InitialBackoff: time.Millisecond, MaxElapsed: within, MaxRetryAfter: retryAfterCap,
			})
			if err != nil {
				t.Fatal(err)
			}
			out := s.outbound(f, "runner-"+tc.name)
			rec, err := out.Record("chatgate/conformance", Topics.Name(gateway.TopicOutbound))
			if err != nil {
				t.Fatal(err)
			}
			if err := r.HandleBatch(t.Context(), []gateway.Message{rec}); err != nil {
				t.Fatalf("HandleBatch: %v", err)
			}
			statuses := sink.Statuses()
			if len(statuses) != 1 || statuses[0].RequestID != out.RequestID || statuses[0].Status != tc.want {
				t.Fatalf("statuses %+v, want one %s for %s", statuses, tc.want, out.RequestID)
			}
			if tc.want == gateway.StatusFailed && statuses[0].ErrorCode == "" {
				t.Errorf("failed status %+v has no error code", statuses[0])
			}
			if n := s.calls(); n != tc.calls {
				t.Fatalf("provider API called %d times, want %d", n, tc.calls)
			}
			if tc.answers[0] == RateLimit {
				// A lower bound only: a slow machine makes the gap longer, never shorter.
				if gap, want := s.gap(), min(f.RetryAfter, retryAfterCap); gap < want {
					t.Errorf("retried %s after the rate limit, want at least %s", gap, want)
				}
			}
			if tc.want == gateway.StatusFailed && s.logs.Len() == 0 {
				t.Error("a failed send was not logged")
			}
			s.logs.RequireAbsent(t, Secrets...)
		})
	}
}

// standIn is one provider built on a scripted API and a log capture.
type standIn struct {
	provider sender.Provider
	logs     *testkit.Logs

	mu sync.Mutex
	at []time.Time // when each call asked for its answer
}

func newStandIn(t *testing.T, f Sender, script func(call int) Fault) *standIn {
	t.Helper()
	s := &standIn{logs: testkit.NewLogs()}
	answer := func(int) Fault {
		s.mu.Lock()
		n := len(s.at)
		s.at = append(s.at, time.Now())
		s.mu.Unlock()
		return script(n)
	}
	s.provider = f.New(t, SendWiring{Logger: s.logs.Logger(), Answer: answer})
	if s.provider == nil {
		t.Fatal("channeltest: New returned no provider")
	}
	if s.provider.Channel() != f.Channel {
		t.Fatalf("provider channel %q, want %q", s.provider.Channel(), f.Channel)
	}
	return s
}

func (s *standIn) calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.at)
}

// gap is the time between the first two calls.
func (s *standIn) gap() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.at) < 2 {
		return 0
	}
	return s.at[1].Sub(s.at[0])
}

// outbound is the message every test sends; each test has a send log of
// its own, so the request id need only name the test.
func (s *standIn) outbound(f Sender, name string) gateway.Outbound {
	out := gateway.Outbound{
		RequestID: "conformance-" + name, Channel: f.Channel,
		To: Phone, Text: Text, CreatedAt: time.Date(2026, 11, 22, 10, 30, 0, 0, time.UTC),
	}
	if f.Outbound != nil {
		f.Outbound(&out)
	}
	return out
}

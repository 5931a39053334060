package testkit_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/testkit"
)

// recordingTB stands in for *testing.T to see whether a helper fails the
// test; Fatalf ends the goroutine as testing's own does.
type recordingTB struct {
	testing.TB
	failed atomic.Bool
	msg    atomic.Value
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.failed.Store(true)
	r.msg.Store(fmt.Sprintf(format, args...))
}

func (r *recordingTB) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

// run calls f with a recordingTB in a goroutine of its own, as testing
// runs a test, and returns the TB once f is done.
func run(f func(tb testing.TB)) *recordingTB {
	tb := &recordingTB{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(tb)
	}()
	<-done
	return tb
}

func TestWaitFor(t *testing.T) {
	t.Parallel()
	t.Run("returns once the condition holds", func(t *testing.T) {
		t.Parallel()
		var n atomic.Int32
		tb := run(func(tb testing.TB) {
			testkit.WaitFor(tb, time.Minute, "three looks", func() bool { return n.Add(1) == 3 })
		})
		if tb.failed.Load() || n.Load() != 3 {
			t.Fatalf("failed %v after %d looks, want success at the third", tb.failed.Load(), n.Load())
		}
	})
	t.Run("fails the test at the deadline, naming what it awaited", func(t *testing.T) {
		t.Parallel()
		tb := run(func(tb testing.TB) {
			testkit.WaitFor(tb, 20*time.Millisecond, "the impossible", func() bool { return false })
		})
		if !tb.failed.Load() {
			t.Fatal("WaitFor returned although the condition never held")
		}
		if msg, _ := tb.msg.Load().(string); !strings.Contains(msg, "the impossible") {
			t.Fatalf("failure %q does not name what was awaited", msg)
		}
	})
}

func TestPublisher(t *testing.T) {
	t.Parallel()
	msg := func(v string) gateway.Message { return gateway.Message{Topic: "t", Value: []byte(v)} }
	t.Run("keeps what it accepted", func(t *testing.T) {
		t.Parallel()
		p := &testkit.Publisher{}
		if err := p.Publish(t.Context(), msg("a"), msg("b")); err != nil {
			t.Fatal(err)
		}
		if got := p.Messages(); len(got) != 2 || string(got[1].Value) != "b" || p.Calls() != 1 || p.Failures() != 0 {
			t.Fatalf("messages %v, %d calls, %d failures; want a and b in one call", got, p.Calls(), p.Failures())
		}
	})
	t.Run("FailNext fails the next calls and keeps nothing of them", func(t *testing.T) {
		t.Parallel()
		p := &testkit.Publisher{}
		p.FailNext(2)
		for i := range 2 {
			if err := p.Publish(t.Context(), msg("x")); !errors.Is(err, testkit.ErrInjected) {
				t.Fatalf("call %d: %v, want ErrInjected", i+1, err)
			}
		}
		if err := p.Publish(t.Context(), msg("y")); err != nil {
			t.Fatalf("third call: %v, want success", err)
		}
		if got := p.Messages(); len(got) != 1 || string(got[0].Value) != "y" || p.Calls() != 3 || p.Failures() != 2 {
			t.Fatalf("messages %v, %d calls, %d failures; want y after 2 failures in 3 calls", got, p.Calls(), p.Failures())
		}
	})
	t.Run("PublishFunc answers and its errors count as failures", func(t *testing.T) {
		t.Parallel()
		broken := errors.New("broker down")
		var seen context.Context
		type key struct{}
		p := &testkit.Publisher{PublishFunc: func(ctx context.Context, _ ...gateway.Message) error { seen = ctx; return broken }}
		ctx := context.WithValue(t.Context(), key{}, "caller")
		if err := p.Publish(ctx, msg("z")); !errors.Is(err, broken) {
			t.Fatalf("Publish = %v, want PublishFunc's error", err)
		}
		if seen == nil || seen.Value(key{}) != "caller" {
			t.Error("PublishFunc did not get the caller's context")
		}
		if len(p.Messages()) != 0 || p.Failures() != 1 {
			t.Fatalf("%d messages kept, %d failures; want none kept, one failure", len(p.Messages()), p.Failures())
		}
	})
}

func TestExactTime(t *testing.T) {
	t.Parallel()
	utc := time.Date(2026, 11, 22, 8, 30, 0, 0, time.UTC)
	sast := utc.In(time.FixedZone("SAST", 2*60*60))
	tests := []struct {
		name string
		a, b time.Time
		same bool
	}{
		{"one instant, one zone", utc, time.Date(2026, 11, 22, 8, 30, 0, 0, time.UTC), true},
		{"one instant, two zones", utc, sast, false},
		{"two instants", utc, utc.Add(time.Nanosecond), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if same := cmp.Diff(tt.a, tt.b, testkit.ExactTime) == ""; same != tt.same {
				t.Fatalf("%v and %v compared same = %v, want %v", tt.a, tt.b, same, tt.same)
			}
		})
	}
}

func TestLogs(t *testing.T) {
	t.Parallel()
	logs := testkit.NewLogs()
	log := logs.Logger().With("contact", "+27821234567").WithGroup("send")
	log.Log(t.Context(), slog.LevelDebug-8, "below debug", "text", "zebraquartz")
	log.DebugContext(t.Context(), "debug")
	log.ErrorContext(t.Context(), "error", "error", errors.New("boom"))
	if logs.Len() != 3 {
		t.Fatalf("%d records captured, want all 3 whatever their level:\n%s", logs.Len(), logs)
	}
	for _, want := range []string{"+27821234567", `"send":{"text":"zebraquartz"}`, "boom"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("capture lacks %s:\n%s", want, logs)
		}
	}
	if tb := run(func(tb testing.TB) { logs.RequireAbsent(tb, "nothing like this") }); tb.failed.Load() {
		t.Error("RequireAbsent failed on a string that is not there")
	}
	if tb := run(func(tb testing.TB) { logs.RequireAbsent(tb, "zebraquartz") }); !tb.failed.Load() {
		t.Error("RequireAbsent passed although the logs hold the secret")
	}
}

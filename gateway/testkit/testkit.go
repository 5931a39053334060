// Package testkit holds the few helpers chatgate's tests share, so that no
// package keeps a copy of its own: WaitFor polls with a deadline, Publisher
// captures what is published and fails when told to, and Logs captures
// every log record at every level. Tests import it; production code never
// does.
package testkit

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chatgate/chatgate/gateway"
)

// pollInterval is how often WaitFor looks again: short enough that a test
// waits little past the moment its condition holds, long enough not to
// busy the two cores the suite shares.
const pollInterval = 5 * time.Millisecond

// WaitFor polls cond until it holds, and fails the test at once when it
// still does not hold after within. what names the awaited state in the
// failure. Tests wait with it instead of sleeping: the deadline bounds a
// broken run, and a healthy run goes on as soon as cond holds.
func WaitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(pollInterval) // the polling interval, not a wait for an outcome
	}
}

// ExactTime makes cmp.Diff compare times as reflect.DeepEqual did for the
// values tests build and decode: the same instant in the same zone.
// cmp's default, Time.Equal, would call 10:30 SAST and 08:30 UTC equal,
// and tests that check a record's times are UTC rely on the difference.
var ExactTime = cmp.Comparer(func(a, b time.Time) bool {
	const zone = "Z07:00 MST"
	return a.Equal(b) && a.Format(zone) == b.Format(zone)
})

// ErrInjected is the error of the failures Publisher.FailNext injects.
var ErrInjected = errors.New("testkit: injected publish failure")

// Publisher is a gateway.Publisher for tests. It counts every call, keeps
// the messages of the calls that succeeded, and fails as told: the next n
// calls after FailNext(n), and any call PublishFunc answers with an error.
// A failed call keeps nothing, as a broker that refused the write. The
// zero value accepts everything; it is safe for concurrent use.
type Publisher struct {
	// PublishFunc, when set, answers every call FailNext did not fail;
	// a nil result accepts the messages. It runs without Publisher's
	// lock, so it may block (to hold a caller mid-publish) or call back.
	PublishFunc func(ctx context.Context, msgs ...gateway.Message) error

	mu       sync.Mutex
	calls    int
	failures int
	failNext int
	msgs     []gateway.Message
}

var _ gateway.Publisher = (*Publisher)(nil)

// Publish implements gateway.Publisher.
func (p *Publisher) Publish(ctx context.Context, msgs ...gateway.Message) error {
	p.mu.Lock()
	p.calls++
	if p.failNext > 0 {
		p.failNext--
		p.failures++
		p.mu.Unlock()
		return ErrInjected
	}
	fn := p.PublishFunc
	p.mu.Unlock()
	if fn != nil {
		if err := fn(ctx, msgs...); err != nil {
			p.mu.Lock()
			p.failures++
			p.mu.Unlock()
			return err
		}
	}
	p.mu.Lock()
	p.msgs = append(p.msgs, msgs...)
	p.mu.Unlock()
	return nil
}

// FailNext makes the next n calls fail with ErrInjected.
func (p *Publisher) FailNext(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failNext = n
}

// Calls is how many times Publish was called, failed calls included.
func (p *Publisher) Calls() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls
}

// Failures is how many calls returned an error.
func (p *Publisher) Failures() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.failures
}

// Messages returns the messages of the calls that succeeded, in order.
func (p *Publisher) Messages() []gateway.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.msgs)
}

// Logs captures every record of a logger at every level, rendered as
// JSON lines with all their attributes and groups, so a test can check
// what an operator would see (and what must never be there: phone
// numbers, message texts). Make one with NewLogs; it is safe for
// concurrent use.
type Logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
	log *slog.Logger
}

// NewLogs returns an empty capture.
func NewLogs() *Logs {
	l := &Logs{}
	// Below every named level, so Debug and any custom lower level are kept.
	all := slog.Level(math.MinInt)
	l.log = slog.New(slog.NewJSONHandler(lockedWriter{l}, &slog.HandlerOptions{Level: all, AddSource: false}))
	return l
}

// Logger returns the logger whose records l captures.
func (l *Logs) Logger() *slog.Logger { return l.log }

// String returns every captured record, one JSON object a line.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Len is how many records were captured.
func (l *Logs) Len() int { return strings.Count(l.String(), "\n") }

// RequireAbsent fails the test if any captured record contains one of
// secrets, naming the secret and showing the records.
func (l *Logs) RequireAbsent(t testing.TB, secrets ...string) {
	t.Helper()
	logged := l.String()
	for _, s := range secrets {
		if s != "" && strings.Contains(logged, s) {
			t.Errorf("logs contain %q:\n%s", s, logged)
		}
	}
}

type lockedWriter struct{ l *Logs }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.l.mu.Lock()
	defer w.l.mu.Unlock()
	return w.l.buf.Write(p)
}

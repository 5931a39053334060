package cloudapi

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"golang.org/x/time/rate"

	"github.com/chatgate/chatgate/gateway/sender"
)

var rateLimitWait = promauto.NewHistogramVec(prometheus.HistogramOpts{
	Name:    "chatgate_cloudapi_rate_limit_wait_seconds",
	Help:    "Time a WhatsApp Cloud API send waited for its number's throughput limit and the contact's pair limit.",
	Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
}, []string{"phone_number_id"})

// gate is one token bucket that Meta's rate-limit answers can also close
// for a while.
type gate struct {
	lim         *rate.Limiter
	pausedUntil time.Time
	lastUsed    time.Time
}

type pairKey struct{ number, recipient string }

// limiters hold the token buckets of the business numbers (their
// throughput, shared by every send from the number) and of each number and
// contact pair (Meta's pair rate limit), so bursts queue here instead of
// coming back as 130429 or 131056. The limits are per process: with several
// sender processes, give each its share of a number's throughput.
type limiters struct {
	pairEvery time.Duration
	pairBurst int
	now       func() time.Time

	mu        sync.Mutex
	numbers   map[string]*gate
	pairs     map[pairKey]*gate
	lastSweep time.Time
}

func newLimiters(pairEvery time.Duration, pairBurst int, now func() time.Time) *limiters {
	return &limiters{pairEvery: pairEvery, pairBurst: pairBurst, now: now, numbers: map[string]*gate{}, pairs: map[pairKey]*gate{}}
}

func (l *limiters) number(n Number) *gate {
	g, ok := l.numbers[n.PhoneNumberID]
	if !ok {
		mps := n.MessagesPerSecond
		if mps <= 0 {
			mps = DefaultMessagesPerSecond
		}
		// A burst of one spaces sends evenly: Meta counts throughput per
		// second, and a burst over it is answered 130429.
		g = &gate{lim: rate.NewLimiter(rate.Limit(mps), 1)}
		l.numbers[n.PhoneNumberID] = g
	}
	return g
}

func (l *limiters) pair(n Number, recipient string) *gate {
	k := pairKey{n.PhoneNumberID, recipient}
	g, ok := l.pairs[k]
	if !ok {
		lim := rate.NewLimiter(rate.Inf, 1)
		if l.pairEvery > 0 && l.pairBurst > 0 {
			lim = rate.NewLimiter(rate.Every(l.pairEvery), l.pairBurst)
		}
		g = &gate{lim: lim}
		l.pairs[k] = g
	}
	return g
}

// sweep drops pair buckets nobody used for longer than they take to refill:
// such a bucket is full, the same as a new one. Called with mu held.
func (l *limiters) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < time.Minute {
		return
	}
	l.lastSweep = now
	idle := time.Duration(l.pairBurst)*l.pairEvery + time.Minute
	for k, g := range l.pairs {
		if now.Sub(g.lastUsed) > idle && !g.pausedUntil.After(now) {
			delete(l.pairs, k)
		}
	}
}

// wait blocks until number n may send one more message to recipient, or
// ctx ends: first the pair's turn (which can be seconds away), then the
// number's (milliseconds), so a contact's queue does not hold the number's
// tokens.
func (l *limiters) wait(ctx context.Context, n Number, recipient string) error {
	start := time.Now()
	l.mu.Lock()
	now := l.now()
	l.sweep(now)
	pg, ng := l.pair(n, recipient), l.number(n)
	pg.lastUsed, ng.lastUsed = now, now
	l.mu.Unlock()
	for _, g := range []*gate{pg, ng} {
		if err := l.waitGate(ctx, g); err != nil {
			return err
		}
	}
	rateLimitWait.WithLabelValues(n.PhoneNumberID).Observe(time.Since(start).Seconds())
	return nil
}

func (l *limiters) waitGate(ctx context.Context, g *gate) error {
	l.mu.Lock()
	until := g.pausedUntil
	l.mu.Unlock()
	if d := until.Sub(l.now()); d > 0 {
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
			return sender.Temporary(CodeRateLimitWait, "Meta asked to slow down and the send's deadline comes first", d)
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("cloudapi send: wait for a rate limit: %w", ctx.Err())
		case <-t.C:
		}
	}
	if err := g.lim.Wait(ctx); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("cloudapi send: wait for a rate limit: %w", ctx.Err())
		}
		return sender.Temporary(CodeRateLimitWait, "the rate limit leaves no turn before the send's deadline", 0)
	}
	return nil
}

// pause closes the number's gate (scope pauseNumber) or the pair's
// (pausePair) for d, after Meta answered a rate limit: the retry, and every
// other send through the gate, waits it out.
func (l *limiters) pause(scope pauseScope, n Number, recipient string, d time.Duration) {
	if scope == pauseNone || d <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	g := l.number(n)
	if scope == pausePair {
		g = l.pair(n, recipient)
	}
	if until := l.now().Add(d); until.After(g.pausedUntil) {
		g.pausedUntil = until
	}
}

package twilio

import (
	"context"
	"fmt"
	"sync"
	"time"
	"unicode/utf16"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"golang.org/x/time/rate"

	"github.com/chatgate/chatgate/gateway/sender"
)

// CodeRateLimitWait: the send's context could not wait for its sender's turn.
const CodeRateLimitWait = "rate_limit_wait"

var rateLimitWait = promauto.NewHistogramVec(prometheus.HistogramOpts{
	Name:    "chatgate_twilio_rate_limit_wait_seconds",
	Help:    "Time a Twilio send waited for its sender's messages-per-second limit.",
	Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
}, []string{"origin"})

// limiters hold one token bucket per sender (number, short code, sender ID
// or messaging service), shared by every send from it, so a burst to many
// contacts queues here instead of overflowing Twilio's queue for the
// sender. The limits are per process: with several sender processes, give
// each its share of a sender's rate.
type limiters struct {
	mu    sync.Mutex
	byKey map[string]*rate.Limiter
}

func newLimiters() *limiters { return &limiters{byKey: map[string]*rate.Limiter{}} }

func (l *limiters) get(o Origin) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.byKey[o.Key()]
	if !ok {
		lim = rate.NewLimiter(rate.Inf, 1)
		if mps := o.MessagesPerSecond(); mps > 0 {
			// A burst of one spaces sends evenly: Twilio counts its rate per
			// second, and a sender's queue fills from bursts, not averages.
			lim = rate.NewLimiter(rate.Limit(mps), 1)
		}
		l.byKey[o.Key()] = lim
	}
	return lim
}

// wait blocks until o may send n more units (message segments for SMS,
// messages otherwise), or ctx ends. The units are taken one at a time, so n
// may exceed the bucket's burst and concurrent sends interleave fairly.
func (l *limiters) wait(ctx context.Context, o Origin, n int) error {
	lim := l.get(o)
	if lim.Limit() == rate.Inf {
		return nil
	}
	start := time.Now()
	for range max(n, 1) {
		if err := lim.Wait(ctx); err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("twilio send: wait for the rate limit of %s: %w", o.Key(), ctx.Err())
			}
			// The context's deadline comes before the turn: try again later.
			return sender.Temporary(CodeRateLimitWait, "the sender's rate limit leaves no turn before the deadline", 0)
		}
	}
	rateLimitWait.WithLabelValues(o.Key()).Observe(time.Since(start).Seconds())
	return nil
}

// gsm7 holds the GSM 03.38 characters: 1 for the basic set, 2 for the
// extension table (sent as escape + character).
var gsm7 = func() map[rune]int {
	const basic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
		"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	const extension = "\f^{}\\[~]|€"
	m := make(map[rune]int, len(basic)+len(extension))
	for _, r := range basic {
		m[r] = 1
	}
	for _, r := range extension {
		m[r] = 2
	}
	return m
}()

// smsSegments estimates how many segments an SMS body is sent as, which is
// what Twilio's per-sender rate counts: GSM-7 text fits 160 septets in one
// segment and 153 per segment when split; anything else is UCS-2, 70 UTF-16
// units in one segment and 67 per segment when split. Twilio's Smart
// Encoding may turn some UCS-2 text into GSM-7, so this errs on the side of
// more segments.
func smsSegments(body string) int {
	septets := 0
	for _, r := range body {
		n, ok := gsm7[r]
		if !ok {
			units := len(utf16.Encode([]rune(body)))
			return segments(units, 70, 67)
		}
		septets += n
	}
	return segments(septets, 160, 153)
}

func segments(units, single, perPart int) int {
	if units <= single {
		return 1
	}
	return (units + perPart - 1) / perPart
}

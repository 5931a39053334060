//go:build unix

package cloudapi_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chatgate/chatgate/channels/cloudapi"
	"github.com/chatgate/chatgate/channels/twilio"
	"github.com/chatgate/chatgate/gateway"
)

// benchConcurrency is the number of webhooks in flight, as Meta and Twilio
// deliver them to a busy gateway.
const benchConcurrency = 32

// benchRounds is how many times each path is measured, alternating.
const benchRounds = 3

// BenchmarkWebhookPaths measures one webhook from request to answer
// (signature check, parse, records, publish) for the Cloud API and for
// Twilio, side by side in one run, with benchConcurrency requests in
// flight. publisher=ack acknowledges at once, so the numbers are the
// handlers' own cost; publisher=kafka produces to the embedded broker
// (acks=all), as in production. Besides wall time per webhook, each
// result reports the process's CPU time per webhook (cpu-ns/op), which
// other load on the machine disturbs far less; the second result of each
// round reports the Cloud API's CPU time per webhook as a multiple of
// Twilio's in that round (cloudapi/twilio). docs/cloudapi.md has the
// numbers.
//
//	go test -run '^$' -bench BenchmarkWebhookPaths -benchtime 3s ./channels/cloudapi/
func BenchmarkWebhookPaths(b *testing.B) {
	cloudBody := webhook(messageValue(`{"from":"27821234567","id":"wamid.HBgLMjc4MjEyMzQ1NjcVAgASGBQzQTdGMkQ3RjE5QjE3QkI5NkM3RQA=","timestamp":"1700000000","type":"text","text":{"body":"Hello, my order has not arrived yet. Can you help?"}}`))
	cloudSig := cloudapi.Sign(testAppSecret, []byte(cloudBody))

	const twilioToken = "0123456789abcdef0123456789abcdef"
	const publicURL = "https://chat.example.com"
	form := url.Values{
		"MessageSid": {"SMe287d7109a5a925f182f0e07fe5b223b"}, "AccountSid": {"AC0123456789abcdef0123456789abcdef"},
		"From": {"whatsapp:+27821234567"}, "To": {"whatsapp:+250788123200"}, "Body": {"Hello, my order has not arrived yet. Can you help?"},
		"ProfileName": {"Kerry Fisher"}, "NumMedia": {"0"}, "WaId": {"27821234567"},
	}
	twilioBody := form.Encode()
	twilioSig := signTwilio(twilioToken, publicURL+twilio.MessagesPath, form)

	publishers := []struct {
		name string
		pub  func(b *testing.B) gateway.Publisher
	}{
		{"ack", func(*testing.B) gateway.Publisher {
			return gateway.PublisherFunc(func(context.Context, ...gateway.Message) error { return nil })
		}},
		{"kafka", func(b *testing.B) gateway.Publisher { return newProducer(b, startBroker(b).Addr()) }},
	}
	type path struct {
		name string
		h    func(pub gateway.Publisher) http.Handler
		req  func() *http.Request
	}
	paths := []path{
		{"twilio", func(pub gateway.Publisher) http.Handler {
			tw, err := twilio.NewWebhooks(twilio.Config{AccountSID: "AC0123456789abcdef0123456789abcdef", AuthToken: twilioToken, PublicURL: publicURL},
				twilio.WebhookOptions{Publisher: pub, Topics: topics})
			if err != nil {
				b.Fatal(err)
			}
			return tw.MessagesHandler()
		}, func() *http.Request {
			req := httptest.NewRequest(http.MethodPost, twilio.MessagesPath, strings.NewReader(twilioBody))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set(twilio.HeaderSignature, twilioSig)
			return req
		}},
		{"cloudapi", func(pub gateway.Publisher) http.Handler { return newWebhooks(b, pub).EventsHandler() }, func() *http.Request {
			req := httptest.NewRequest(http.MethodPost, cloudapi.WebhookPath, strings.NewReader(cloudBody))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set(cloudapi.HeaderSignature, cloudSig)
			return req
		}},
	}
	for _, pc := range publishers {
		b.Run("publisher="+pc.name, func(b *testing.B) {
			// Rounds alternate the two paths, and which goes first, so
			// drifting load on a shared machine weighs on both alike; each
			// measurement has its own publisher (a fresh broker), so no
			// path pays for the records the other left in memory.
			for round := 1; round <= benchRounds; round++ {
				order := []path{paths[0], paths[1]}
				if round%2 == 0 {
					order = []path{paths[1], paths[0]}
				}
				cpu := map[string]float64{}
				for _, p := range order {
					b.Run(fmt.Sprintf("round=%d/%s", round, p.name), func(b *testing.B) {
						cpu[p.name] = run(b, p.h(pc.pub(b)), p.req)
						if len(cpu) == 2 {
							b.ReportMetric(cpu["cloudapi"]/cpu["twilio"], "cloudapi/twilio")
						}
					})
				}
			}
		})
	}
}

// run serves requests from benchConcurrency goroutines, fails on any
// answer but 200, and returns (and reports) the CPU time per request.
func run(b *testing.B, h http.Handler, newReq func() *http.Request) float64 {
	b.Helper()
	b.SetParallelism(max(1, (benchConcurrency+runtime.GOMAXPROCS(0)-1)/runtime.GOMAXPROCS(0)))
	b.ReportAllocs()
	start := cpuTime(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, newReq())
			if rec.Code != http.StatusOK {
				b.Errorf("answer %d: %s", rec.Code, rec.Body.String())
				return
			}
		}
	})
	b.StopTimer()
	perOp := float64((cpuTime(b) - start).Nanoseconds()) / float64(b.N)
	b.ReportMetric(perOp, "cpu-ns/op")
	return perOp
}

// cpuTime is the CPU time (user and system) the process used so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// signTwilio is Twilio's X-Twilio-Signature: base64(HMAC-SHA1(token, URL +
// every parameter's name and value, sorted by name)).
func signTwilio(token, fullURL string, form url.Values) string {
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var sb strings.Builder
	sb.WriteString(fullURL)
	for _, k := range keys {
		sb.WriteString(k)
		sb.WriteString(form.Get(k))
	}
	m := hmac.New(sha1.New, []byte(token))
	m.Write([]byte(sb.String()))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

package twilio_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chatgate/chatgate/channels/twilio"
	"github.com/chatgate/chatgate/gateway"
)

// BenchmarkRateLimit sends through one number limited to N messages per
// second, with many concurrent senders, against a local stand-in that
// answers at once. The reported msgs/s should sit at N (the limit holds
// under a burst) and never above it; "unlimited" shows the stand-in's own
// ceiling. Run: go test -run='^$' -bench=RateLimit ./channels/twilio/
func BenchmarkRateLimit(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"sid":"SM1"}`))
	}))
	defer srv.Close()

	for _, rate := range []float64{50, 500, 5000, 0} {
		name := fmt.Sprintf("%g/s", rate)
		cfg := testConfig(public)
		cfg.APIURL = srv.URL
		cfg.Numbers = []twilio.Origin{{Channel: gateway.ChannelSMS, Address: "+12028831111", Rate: rate}}
		if rate == 0 {
			// A messaging service has no default limit in chatgate.
			name = "unlimited"
			cfg.MessagingServices = []twilio.Origin{{Channel: gateway.ChannelSMS, Address: "MG0123456789abcdef0123456789abcdef", Service: true}}
		}
		b.Run(name, func(b *testing.B) {
			p, err := twilio.NewProvider(cfg, gateway.ChannelSMS, twilio.ProviderOptions{})
			if err != nil {
				b.Fatal(err)
			}
			out := outboundSMS("bench", "hi")
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := p.Send(context.Background(), out); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

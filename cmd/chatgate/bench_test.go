package main

import (
	"context"
	"testing"

	"github.com/chatgate/chatgate/cmd/chatgate/internal/loadtest"
	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
)

// BenchmarkPipeline pushes b.N messages through the API channel of a real
// chatgate (embedded broker, test PostgreSQL) and waits for every
// message_added event on the tickets topic: the end-to-end rate.
func BenchmarkPipeline(b *testing.B) {
	s := startStack(b, startBroker(b), pgtest.URL(b))
	opts := loadtest.Options{
		Messages: max(b.N, 100), Concurrency: 64, Contacts: 500,
		Target: s.base, Token: testToken, Brokers: s.brokers, Topics: s.app.topics,
	}
	b.ResetTimer()
	res, err := loadtest.PushLoad(context.Background(), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(res.Rate(), "msgs/s")
	b.ReportMetric(float64(res.EventLatency.P50.Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(res.EventLatency.P99.Microseconds())/1000, "p99_ms")
}

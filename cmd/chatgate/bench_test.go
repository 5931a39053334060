package main

import (
	"context"
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
)

// BenchmarkPipeline pushes b.N messages through the API channel of a real
// chatgate (embedded broker, test PostgreSQL) and waits for every
// message_added event on the tickets topic: the end-to-end rate.
func BenchmarkPipeline(b *testing.B) {
	s := startStack(b, startBroker(b), pgtest.URL(b))
	opts := benchOptions{
		Messages: max(b.N, 100), Concurrency: 64, Contacts: 500, Timeout: 5 * time.Minute,
		Target: s.base, Token: testToken, Brokers: s.brokers,
	}
	b.ResetTimer()
	res, err := pushLoad(context.Background(), opts, s.app.topics)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(res.rate(), "msgs/s")
	b.ReportMetric(float64(res.EventLatency.P50.Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(res.EventLatency.P99.Microseconds())/1000, "p99_ms")
}

func TestBenchPercentiles(t *testing.T) {
	t.Parallel()
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	l := percentiles(ds)
	if l.P50 != 51*time.Millisecond || l.P99 != 100*time.Millisecond || l.Max != 100*time.Millisecond {
		t.Fatalf("percentiles %+v", l)
	}
	if (percentiles(nil) != latencies{}) {
		t.Fatal("percentiles of nothing")
	}
}

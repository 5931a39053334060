package loadtest

import (
	"testing"
	"time"
)

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
	if (percentiles(nil) != Latencies{}) {
		t.Fatal("percentiles of nothing")
	}
}

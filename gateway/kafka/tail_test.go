package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/kafka"
)

// ReadTopic reads what the topic holds when it is called, all of it or the
// selected offset ranges, and then ends: operators' commands must not hang.
func TestReadTopicReadsWhatExistsAndEnds(t *testing.T) {
	t.Parallel()
	brokers := startBroker(t)
	publish(t, brokers, 30, "r")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	parts, err := kafka.Partitions(ctx, brokers, topic)
	if err != nil || len(parts) != 3 {
		t.Fatalf("partitions %v (%v), want 3", parts, err)
	}
	read := func(t *testing.T, ranges []kafka.OffsetRange) map[int][]int64 {
		t.Helper()
		got := map[int][]int64{}
		err := kafka.ReadTopic(ctx, brokers, topic, ranges, func(m gateway.Message) error {
			got[m.Partition] = append(got[m.Partition], m.Offset)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	all := read(t, nil)
	total := 0
	for p, offs := range all {
		if !slices.IsSorted(offs) || offs[0] != 0 || int(offs[len(offs)-1]) != len(offs)-1 {
			t.Fatalf("partition %d offsets %v, want 0..n-1 in order", p, offs)
		}
		total += len(offs)
	}
	if total != 30 {
		t.Fatalf("read %d records, want 30", total)
	}

	p := parts[0]
	for p2, offs := range all {
		if len(offs) > len(all[p]) {
			p = p2
		}
	}
	n := int64(len(all[p]))
	cases := []struct {
		name string
		r    kafka.OffsetRange
		want []int64
	}{
		{"a middle range", kafka.OffsetRange{Partition: p, From: 1, To: 2}, []int64{1, 2}},
		{"to the end", kafka.OffsetRange{Partition: p, From: n - 1, To: -1}, []int64{n - 1}},
		{"past the end", kafka.OffsetRange{Partition: p, From: n + 5, To: -1}, nil},
		{"to beyond the end", kafka.OffsetRange{Partition: p, From: 0, To: n + 100}, all[p]},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := read(t, []kafka.OffsetRange{tc.r})
			if fmt.Sprint(got[p]) != fmt.Sprint(tc.want) || len(got) > 1 {
				t.Fatalf("read %v, want partition %d offsets %v", got, p, tc.want)
			}
		})
	}
	stop := errors.New("stop")
	if err := kafka.ReadTopic(ctx, brokers, topic, nil, func(gateway.Message) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("err = %v, want the callback's", err)
	}
	if err := kafka.ReadTopic(ctx, brokers, topic, []kafka.OffsetRange{{Partition: 9, To: -1}}, func(gateway.Message) error { return nil }); err == nil {
		t.Fatal("reading a partition that does not exist succeeded")
	}
}

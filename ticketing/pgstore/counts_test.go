package pgstore_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// R41: QueueTotals counts every department's queue, every agent's
// assigned conversations and the snoozed ones in one query.
func TestR41_QueueTotalsInOneQuery(t *testing.T) {
	t.Parallel()
	_, store, _ := visibilityWorld(t)
	type total struct {
		State, Department, Assignee string
		Count                       int
	}
	var got []total
	err := store.QueueTotals(context.Background(), func(state, dep, assignee string, n int) {
		got = append(got, total{state, dep, assignee, n})
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(got, func(a, b total) int {
		return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
	})
	want := []total{
		{"assigned", "", "ann", 1},
		{"assigned", "", "bob", 1},
		{"snoozed", "support", "", 1},
		{"snoozed", "support", "bob", 1},
		{"unassigned", "sales", "", 1},
		{"unassigned", "support", "", 2},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("queue totals\n got %+v\nwant %+v", got, want)
	}
}

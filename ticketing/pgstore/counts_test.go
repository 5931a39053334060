package pgstore_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/chatgate/chatgate/ticketing"
)

type queueTotal struct {
	State, Department, Assignee string
	Count                       int
}

func queueTotals(t *testing.T, store interface {
	QueueTotals(context.Context, func(state, department, assignee string, count int)) error
}) []queueTotal {
	t.Helper()
	var got []queueTotal
	err := store.QueueTotals(context.Background(), func(state, dep, assignee string, n int) {
		got = append(got, queueTotal{state, dep, assignee, n})
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(got, func(a, b queueTotal) int {
		return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
	})
	return got
}

// R17, R19, R22, R35, R41: QueueTotals counts every department's queue,
// every agent's assigned conversations and the snoozed ones in one query,
// leaving out, as the lists do, a conversation awaiting its contact's
// consent (night's "awaiting").
func TestR41_QueueTotalsInOneQuery(t *testing.T) {
	t.Parallel()
	_, store, _ := visibilityWorld(t)
	want := []queueTotal{
		{"assigned", "", "ann", 1},
		{"assigned", "", "bob", 1},
		{"snoozed", "support", "", 1},
		{"snoozed", "support", "bob", 1},
		{"unassigned", "night", "", 1},
		{"unassigned", "sales", "", 1},
		{"unassigned", "support", "", 2},
	}
	if got := queueTotals(t, store); !reflect.DeepEqual(got, want) {
		t.Fatalf("queue totals\n got %+v\nwant %+v", got, want)
	}
}

// R17, R19, R22, R41: the stream's counts, the queue totals each principal
// lists (ticketing.Scope.Listed), are the totals of its desk API lists:
// unassigned, assigned (its own; everyone's for supervisors and desks) and
// snoozed.
func TestR41_ListedTotalsAreTheListsTotals(t *testing.T) {
	t.Parallel()
	svc, store, _ := visibilityWorld(t)
	totals := queueTotals(t, store)
	for _, p := range []struct {
		role  ticketing.ActorRole
		agent string
	}{{ticketing.ActorSupervisor, "sue"}, {ticketing.ActorDesk, ""}, {ticketing.ActorAgent, "ann"}, {ticketing.ActorAgent, "bob"},
		{ticketing.ActorAgent, "cid"}, {ticketing.ActorAgent, "dan"}, {ticketing.ActorAgent, "eve"}} {
		sc := scope(t, svc, p.role, p.agent)
		for _, view := range []ticketing.View{ticketing.ViewUnassigned, ticketing.ViewAssigned, ticketing.ViewSnoozed} {
			listed := 0
			for _, tot := range totals {
				if tot.State == string(view) && sc.Listed(tot.State, tot.Department, tot.Assignee) {
					listed += tot.Count
				}
			}
			page, err := svc.List(context.Background(), ticketing.ListParams{View: view, Scope: sc, Limit: ticketing.MaxPageSize, Total: true})
			if err != nil {
				t.Fatal(err)
			}
			total := -1
			if page.Total != nil {
				total = *page.Total
			}
			if total != listed || len(page.Conversations) != listed {
				t.Errorf("%s %q, %s: the list holds %d (total %d), the listed totals say %d", p.role, p.agent, view, len(page.Conversations), total, listed)
			}
		}
	}
}

package stream

import (
	"context"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/testkit"
)

// counter is a CountFunc over rows the test changes, counting its calls.
type counter struct {
	calls atomic.Int32
	mu    sync.Mutex
	rows  []tally
}

func (c *counter) count(_ context.Context, add func(state, department, assignee string, n int)) error {
	c.calls.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.rows {
		add(r.state, r.department, r.assignee, r.count)
	}
	return nil
}

func (c *counter) set(rows ...tally) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rows = rows
}

// countsOf returns the next queue.counts of rd, passing other events.
func countsOf(t *testing.T, rd *reader) Counts {
	t.Helper()
	ev := rd.next(t, eventCounts)
	for ev.Event != eventCounts && ev.Event != "" {
		ev = rd.next(t, eventCounts)
	}
	if ev.Event != eventCounts || ev.hasID {
		t.Fatalf("want queue.counts without an id, got %v", ev)
	}
	var c Counts
	ev.decode(t, &c)
	return c
}

// R17, R18, R19, R22, R41: every client gets the counts its lists have,
// from one query per debounce window whatever the number of clients, and
// only when they changed.
func TestR41_QueueCountsFromOneQueryPerWindow(t *testing.T) {
	t.Parallel()
	cnt := &counter{}
	cnt.set(
		tally{"unassigned", "support", "", 3}, tally{"unassigned", "sales", "", 2}, tally{"unassigned", "", "", 1},
		tally{"assigned", "", "ann", 2}, tally{"assigned", "", "cid", 1},
		tally{"snoozed", "support", "", 1}, tally{"snoozed", "support", "bob", 1}, tally{"snoozed", "sales", "cid", 1},
	)
	r := newRig(t, newTopicLog(2), func(c *Config, _ *Handler) {
		c.Count, c.CountsDebounce = cnt.count, 30*time.Millisecond
	})
	readers := map[string]*reader{}
	for _, n := range []string{"ann", "bob", "cid", "dan", "sue", "desk"} {
		readers[n] = r.open(t, n, "")
	}
	for i := range 4 { // more clients change nothing about the queries
		readers["desk-"+string(rune('a'+i))] = r.open(t, "desk", "")
	}
	everything := Counts{Unassigned: 6, Snoozed: 3,
		Departments: []DepartmentCount{{"", 1}, {"sales", 2}, {"support", 3}},
		Agents:      []AgentCount{{"ann", 2}, {"cid", 1}}}
	want := map[string]Counts{
		"ann": {Unassigned: 4, Mine: 2, Snoozed: 1, Departments: []DepartmentCount{{"", 1}, {"support", 3}}},
		"bob": {Unassigned: 4, Mine: 0, Snoozed: 2, Departments: []DepartmentCount{{"", 1}, {"support", 3}}},
		"cid": {Unassigned: 3, Mine: 1, Snoozed: 1, Departments: []DepartmentCount{{"", 1}, {"sales", 2}}},
		"dan": {Unassigned: 1, Departments: []DepartmentCount{{"", 1}}},
		"sue": everything, "desk": everything,
	}
	for name, rd := range readers {
		w, ok := want[name]
		if !ok {
			w = everything
		}
		if got := countsOf(t, rd); !reflect.DeepEqual(got, w) {
			t.Errorf("%s: counts %+v, want %+v", name, got, w)
		}
	}
	if n := cnt.calls.Load(); n != 1 {
		t.Fatalf("%d count queries for %d clients, want 1", n, len(readers))
	}

	// ann accepts one of support's queue: one batch of events, one query.
	cnt.set(
		tally{"unassigned", "support", "", 2}, tally{"unassigned", "sales", "", 2}, tally{"unassigned", "", "", 1},
		tally{"assigned", "", "ann", 3}, tally{"assigned", "", "cid", 1},
		tally{"snoozed", "support", "", 1}, tally{"snoozed", "support", "bob", 1}, tally{"snoozed", "sales", "cid", 1},
	)
	var batch []gateway.Message
	for i := range 20 {
		batch = append(batch, ticket(t, i%2, gateway.TypeTicketAssigned, view(int64(100+i), "assigned", "support", "ann", "ann"), nil))
	}
	r.publish(t, batch...)
	if got := countsOf(t, readers["ann"]); got.Unassigned != 3 || got.Mine != 3 {
		t.Fatalf("ann after the accept: %+v", got)
	}
	if got := countsOf(t, readers["bob"]); got.Unassigned != 3 || got.Mine != 0 {
		t.Fatalf("bob after the accept: %+v", got)
	}
	if got := countsOf(t, readers["sue"]); got.Unassigned != 5 || !reflect.DeepEqual(got.Agents, []AgentCount{{"ann", 3}, {"cid", 1}}) {
		t.Fatalf("sue after the accept: %+v", got)
	}
	if n := cnt.calls.Load(); n != 2 {
		t.Fatalf("%d count queries after one batch, want 2", n)
	}
	// cid's counts did not change, so it was sent none: its next counts
	// are those of the next change.
	cnt.set(tally{"unassigned", "sales", "", 9})
	r.publish(t, ticket(t, 0, gateway.TypeTicketCreated, view(200, "unassigned", "sales", ""), nil))
	if got := countsOf(t, readers["cid"]); got.Unassigned != 9 || got.Mine != 0 {
		t.Fatalf("cid's next counts %+v, want those after the second change", got)
	}
}

// R41: events that move no queue (a message on an assigned conversation)
// run no count query.
func TestR41_QueueCountsOnlyForQueueChanges(t *testing.T) {
	t.Parallel()
	cnt := &counter{}
	cnt.set(tally{"assigned", "", "ann", 1})
	r := newRig(t, newTopicLog(1), func(c *Config, _ *Handler) {
		c.Count, c.CountsDebounce = cnt.count, 10*time.Millisecond
	})
	ann := r.open(t, "ann", "")
	countsOf(t, ann)
	r.publish(t, ticket(t, 0, gateway.TypeTicketAssigned, view(1, "assigned", "support", "ann", "ann"), nil))
	testkit.WaitFor(t, 10*time.Second, "the count after the assignment", func() bool { return cnt.calls.Load() == 2 })
	for range 5 {
		r.publish(t, ticket(t, 0, gateway.TypeTicketMessageAdded, view(1, "assigned", "support", "ann", "ann"), nil))
	}
	// The next queue change is counted by the third query: the messages
	// between ran none.
	cnt.set(tally{"assigned", "", "ann", 2})
	r.publish(t, ticket(t, 0, gateway.TypeTicketAssigned, view(2, "assigned", "support", "ann", "ann"), nil))
	if got := countsOf(t, ann); got.Mine != 2 {
		t.Fatalf("counts %+v", got)
	}
	if n := cnt.calls.Load(); n != 3 {
		t.Fatalf("%d count queries, want 3: messages on an assigned conversation move no queue", n)
	}
}

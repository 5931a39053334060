package stream

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway"
)

// readTickets reads n ticket events and returns them with their
// conversation ids.
func readTickets(t *testing.T, rd *reader, n int) ([]sse, []int64) {
	t.Helper()
	var evs []sse
	var ids []int64
	for range n {
		ev := rd.next(t)
		if ev.Event != eventTicket || !ev.hasID {
			t.Fatalf("want a ticket event with an id, got %v", ev)
		}
		_, id := ticketType(t, ev)
		evs, ids = append(evs, ev), append(ids, id)
	}
	return evs, ids
}

func seq(from, to int64) []int64 {
	var out []int64
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func equalIDs(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// publishConvs publishes one message_added of each conversation from..to,
// spread over the partitions, one record at a time.
func publishConvs(t *testing.T, r *rig, from, to int64) {
	t.Helper()
	for id := from; id <= to; id++ {
		r.publish(t, ticket(t, int(id)%r.log.parts, gateway.TypeTicketMessageAdded, view(id, "unassigned", "support", ""), nil))
	}
}

// R41: a client that reconnects with the id of the last event it got
// receives exactly the events it missed, in order, nothing twice: from an
// event's id, and from the ready event's id of a quiet stream.
func TestR41_LastEventIDResumesWithoutGaps(t *testing.T) {
	t.Parallel()
	r := newRig(t, newTopicLog(3))
	first := r.open(t, "sue", "")
	ready := first.next(t)
	if ready.Event != eventReady || !ready.hasID || ready.Data != `{"resumed":false}` {
		t.Fatalf("first event %+v, want ready with an id", ready)
	}
	publishConvs(t, r, 1, 6)
	got, ids := readTickets(t, first, 6)
	if !equalIDs(ids, seq(1, 6)) {
		t.Fatalf("conversations %v, want 1–6 in order", ids)
	}
	seen := map[string]bool{}
	for _, ev := range got {
		if seen[ev.ID] {
			t.Fatalf("id %s twice", ev.ID)
		}
		seen[ev.ID] = true
	}
	first.close()
	publishConvs(t, r, 7, 10) // while the client is away

	for _, tc := range []struct {
		name string
		id   string
		want []int64
	}{
		{"after the second event", got[1].ID, seq(3, 10)},
		{"after the last event it got", got[5].ID, seq(7, 10)},
		{"from the ready event of a fresh stream", ready.ID, seq(1, 10)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rd := r.open(t, "sue", tc.id)
			if ev := rd.next(t); ev.Event != eventReady || ev.Data != `{"resumed":true}` || ev.hasID {
				t.Fatalf("first event %+v, want ready resumed, keeping the client's id", ev)
			}
			_, ids := readTickets(t, rd, len(tc.want))
			if !equalIDs(ids, tc.want) {
				t.Fatalf("resumed with %v, want %v", ids, tc.want)
			}
		})
	}
	// A resumed client is live afterwards: the next event follows at once,
	// and nothing came in between.
	rd := r.open(t, "sue", got[5].ID, "last_event_id=ignored-when-the-header-is-set")
	rd.next(t)
	readTickets(t, rd, 4)
	publishConvs(t, r, 11, 11)
	if _, ids := readTickets(t, rd, 1); ids[0] != 11 {
		t.Fatalf("after catching up: conversation %d, want 11", ids[0])
	}
	// ?last_event_id= does what the header does, for clients that open a
	// new stream themselves.
	q := r.open(t, "sue", "", "last_event_id="+got[5].ID)
	q.next(t)
	if _, ids := readTickets(t, q, 5); !equalIDs(ids, seq(7, 11)) {
		t.Fatalf("resumed by query with %v, want 7–11", ids)
	}
}

// R41: beyond what the history holds (older than its window, or pushed out
// by its byte bound) a reconnecting client is told to resync, with an id
// it can resume from later, and then gets the live events.
func TestR41_ResyncBeyondTheHistory(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		cfg   func(*Config, *atomic.Int64)
		after func(*atomic.Int64)
	}{
		{"older than the window", func(c *Config, now *atomic.Int64) {
			c.History = 10 * time.Minute
			c.Now = func() time.Time { return testT0.Add(time.Duration(now.Load())) }
		}, func(now *atomic.Int64) { now.Store(int64(11 * time.Minute)) }},
		{"over the byte bound", func(c *Config, _ *atomic.Int64) {
			c.HistoryBytes = 3 * (entryOverhead + 600)
		}, func(*atomic.Int64) {}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var now atomic.Int64
			r := newRig(t, newTopicLog(2), func(c *Config, _ *Handler) { tc.cfg(c, &now) })
			first := r.open(t, "sue", "")
			first.next(t)
			publishConvs(t, r, 1, 3)
			got, _ := readTickets(t, first, 3)
			first.close()
			tc.after(&now)
			publishConvs(t, r, 4, 8) // pushes 1–3 out
			rd := r.open(t, "sue", got[0].ID)
			ev := rd.next(t)
			if ev.Event != eventResync || ev.Data != `{"reason":"gap"}` || !ev.hasID {
				t.Fatalf("first event %+v, want resync (gap) with an id", ev)
			}
			publishConvs(t, r, 9, 9)
			if _, ids := readTickets(t, rd, 1); ids[0] != 9 {
				t.Fatalf("after the resync: conversation %d, want the live 9", ids[0])
			}
			rd.close()
			// The resync's id is a place to resume from.
			again := r.open(t, "sue", ev.ID)
			if ev := again.next(t); ev.Event != eventReady || ev.Data != `{"resumed":true}` {
				t.Fatalf("resuming from the resync's id: %+v", ev)
			}
			if _, ids := readTickets(t, again, 1); ids[0] != 9 {
				t.Fatalf("from the resync's id: conversation %d, want 9", ids[0])
			}
		})
	}
}

// R41: a restarted process follows the topic from its end: a client that
// missed events while it was down is told to resync; one that missed
// nothing resumes.
func TestR41_ResyncAfterARestart(t *testing.T) {
	t.Parallel()
	log := newTopicLog(2)
	r := newRig(t, log)
	rd := r.open(t, "sue", "")
	rd.next(t)
	publishConvs(t, r, 1, 2)
	got, _ := readTickets(t, rd, 2)
	r.stop()
	// The stopping hub tells its clients when to come back, and closes.
	evs := rd.ended(t)
	if len(evs) == 0 || evs[len(evs)-1].Retry == "" {
		t.Fatalf("stream ended with %v, want a retry hint last", evs)
	}

	quiet := newRig(t, log) // nothing was published while it was down
	rd = quiet.open(t, "sue", got[1].ID)
	if ev := rd.next(t); ev.Event != eventReady || ev.Data != `{"resumed":true}` {
		t.Fatalf("nothing missed: first event %+v, want ready resumed", ev)
	}
	quiet.stop()

	log.append(ticket(t, 0, gateway.TypeTicketMessageAdded, view(3, "unassigned", "support", ""), nil))
	restarted := newRig(t, log)
	rd = restarted.open(t, "sue", got[1].ID)
	if ev := rd.next(t); ev.Event != eventResync || ev.Data != `{"reason":"gap"}` {
		t.Fatalf("missed an event while down: first event %+v, want resync (gap)", ev)
	}
}

// R38, R41: an id no chatgate wrote is refused with a JSON 400; the id of
// another version, or of a position past the topic's end (another topic
// or cluster), is told to resync.
func TestR41_UnknownEventIDs(t *testing.T) {
	t.Parallel()
	r := newRig(t, newTopicLog(2))
	publishConvs(t, r, 1, 2)
	other := base64.RawURLEncoding.EncodeToString([]byte{2, 1, 0, 5})
	future := position{0: 1000, 1: 1000}.encode()
	extra := position{0: 0, 1: 0, 7: 0}.encode()
	for _, tc := range []struct {
		name, id, resync string
		status           int
	}{
		{"not base64", "!!not-an-id!!", "", http.StatusBadRequest},
		{"truncated", position{0: 1, 1: 2}.encode()[:4], "", http.StatusBadRequest},
		{"too long", strings.Repeat("A", maxPositionLen+1), "", http.StatusBadRequest},
		{"another version", other, resyncUnknown, http.StatusOK},
		{"past the end of the topic", future, resyncUnknown, http.StatusOK},
		{"a partition the topic lacks", extra, resyncUnknown, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rd, status, body := openURL(t, r.srv.URL+"/v1/stream", "sue", tc.id)
			if status != tc.status {
				t.Fatalf("status %d (%s), want %d", status, body, tc.status)
			}
			if rd == nil {
				var e struct {
					Error struct {
						Code    string `json:"code"`
						Details []struct {
							Field string `json:"field"`
						} `json:"details"`
					} `json:"error"`
				}
				if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error.Code != CodeInvalidParameter ||
					len(e.Error.Details) != 1 || e.Error.Details[0].Field != "Last-Event-ID" {
					t.Fatalf("refusal %s (%v), want invalid_parameter naming Last-Event-ID", body, err)
				}
				return
			}
			if ev := rd.next(t); ev.Event != eventResync || ev.Data != `{"reason":"`+tc.resync+`"}` || !ev.hasID {
				t.Fatalf("first event %+v, want resync (%s)", ev, tc.resync)
			}
		})
	}
}

// R41: hubs of several processes on one topic give every event the same
// id, and a client resumes on one hub from the id another gave it.
func TestR41_SeveralHubsGiveTheSameIDs(t *testing.T) {
	t.Parallel()
	log := newTopicLog(3)
	a, b := newRig(t, log), newRig(t, log)
	ra, rb := a.open(t, "sue", ""), b.open(t, "sue", "")
	if ea, eb := ra.next(t), rb.next(t); ea.ID != eb.ID {
		t.Fatalf("ready ids differ: %s and %s", ea.ID, eb.ID)
	}
	var rest *reader
	for id := int64(1); id <= 6; id++ {
		log.append(ticket(t, int(id)%3, gateway.TypeTicketMessageAdded, view(id, "unassigned", "support", ""), nil))
		ga, _ := readTickets(t, ra, 1)
		gb, _ := readTickets(t, rb, 1)
		if ga[0].ID != gb[0].ID {
			t.Fatalf("conversation %d: ids %s and %s", id, ga[0].ID, gb[0].ID)
		}
		if id == 3 {
			// a's client goes, and comes back on b, and a new one on a.
			ra.close()
			rest = b.open(t, "sue", ga[0].ID)
			if ev := rest.next(t); ev.Event != eventReady || ev.Data != `{"resumed":true}` {
				t.Fatalf("resuming on another hub: %+v", ev)
			}
			ra = a.open(t, "sue", ga[0].ID)
			ra.next(t)
		}
	}
	if _, ids := readTickets(t, rest, 3); !equalIDs(ids, seq(4, 6)) {
		t.Fatalf("resumed on another hub with %v, want 4–6", ids)
	}
}

// R41: a client that resumes on a process further behind on the topic
// than the one that served it skips what it had and keeps its position
// in the ids it gets.
func TestR41_ResumeOnAProcessThatIsBehind(t *testing.T) {
	t.Parallel()
	log := newTopicLog(2)
	r := newRig(t, log)
	publishConvs(t, r, 1, 1)
	// The client was served by a process that has read two more records.
	ahead := r.log.end()
	ahead[1] += 2
	log.append(
		ticket(t, 0, gateway.TypeTicketMessageAdded, view(2, "unassigned", "support", ""), nil),
		ticket(t, 1, gateway.TypeTicketMessageAdded, view(3, "unassigned", "support", ""), nil),
		ticket(t, 1, gateway.TypeTicketMessageAdded, view(4, "unassigned", "support", ""), nil),
		ticket(t, 1, gateway.TypeTicketMessageAdded, view(5, "unassigned", "support", ""), nil),
	)
	// ahead now means: partition 0 up to conversation 1, partition 1 up to 4.
	rd := r.open(t, "sue", ahead.encode())
	if ev := rd.next(t); ev.Event != eventReady || ev.Data != `{"resumed":true}` {
		t.Fatalf("first event %+v", ev)
	}
	evs, ids := readTickets(t, rd, 2)
	if !equalIDs(ids, []int64{2, 5}) {
		t.Fatalf("got %v, want 2 (partition 0) and 5 (partition 1, after what it had)", ids)
	}
	for _, ev := range evs {
		p, err := decodePosition(ev.ID)
		if err != nil || p[1] < ahead[1] {
			t.Fatalf("id %s (%v) goes back behind the client's position %v", ev.ID, p, ahead)
		}
	}
}

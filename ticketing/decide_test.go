package ticketing

import (
	"fmt"
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway"
)

var t0 = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)

func inbound(id, text string, at time.Time) gateway.Inbound {
	return gateway.Inbound{Channel: gateway.ChannelAPI, ProviderID: id, From: "+27821234567", Text: text, ContactName: "Thandi", ReceivedAt: at}
}

func newState() *ContactState {
	return &ContactState{Contact: &Contact{ID: 7, Channel: gateway.ChannelAPI, Address: "+27821234567", CreatedAt: t0, UpdatedAt: t0}}
}

func eventTypes(effects []Effect) []string {
	var out []string
	for _, e := range effects {
		if ev, ok := e.(EmitTicketEvent); ok {
			out = append(out, ev.Type)
		}
	}
	return out
}

func TestR5_FirstMessageOpensUnassignedLiveChat(t *testing.T) {
	t.Parallel()
	st := newState()
	now := t0.Add(time.Second)
	effects := DecideInbound(st, inbound("m1", "hello", t0), Env{Now: now})

	if st.Open == nil {
		t.Fatal("no open conversation after the first message")
	}
	if st.Open.Kind != KindLiveChat || st.Open.State != StateUnassigned {
		t.Fatalf("conversation = %s/%s, want live_chat/unassigned", st.Open.Kind, st.Open.State)
	}
	if st.Open.ContactID != 7 || st.Open.MessageCount != 1 || !st.Open.LastInboundAt.Equal(t0) || !st.Open.CreatedAt.Equal(now) {
		t.Fatalf("conversation fields wrong: %+v", st.Open)
	}
	if st.Contact.Name != "Thandi" || !st.Contact.LastInboundAt.Equal(t0) {
		t.Fatalf("contact not updated: %+v", st.Contact)
	}
	got := eventTypes(effects)
	want := []string{gateway.TypeTicketCreated, gateway.TypeTicketMessageAdded}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("events = %v, want %v", got, want)
	}
	var stored []*Message
	var created int
	for _, e := range effects {
		switch e := e.(type) {
		case StoreMessage:
			stored = append(stored, e.Msg)
		case CreateConversation:
			created++
		case SaveConversation:
			t.Fatal("a new conversation must be created, not saved")
		}
	}
	if created != 1 || len(stored) != 1 {
		t.Fatalf("created=%d stored=%d, want 1 and 1", created, len(stored))
	}
	m := stored[0]
	if m.Conv != st.Open || m.Seq != 1 || m.Body != "hello" || m.ProviderID != "m1" || m.Direction != DirectionInbound || !m.SentAt.Equal(t0) || !m.StoredAt.Equal(now) {
		t.Fatalf("stored message wrong: %+v", m)
	}
}

func TestR5_LaterMessagesContinueTheOpenConversation(t *testing.T) {
	t.Parallel()
	for _, state := range []State{StateUnassigned, StateAssigned, StateSnoozed} {
		t.Run(string(state), func(t *testing.T) {
			t.Parallel()
			st := newState()
			open := &Conversation{ID: 42, ContactID: 7, Kind: KindLiveChat, State: state, CreatedAt: t0, MessageCount: 3}
			st.Open = open
			effects := DecideInbound(st, inbound("m4", "again", t0.Add(time.Minute)), Env{Now: t0.Add(2 * time.Minute)})
			if st.Open != open || open.MessageCount != 4 || !open.LastInboundAt.Equal(t0.Add(time.Minute)) {
				t.Fatalf("open conversation not continued: %+v", open)
			}
			got := eventTypes(effects)
			want := []string{gateway.TypeTicketMessageAdded}
			if state == StateSnoozed { // R15, R22: a message wakes a snoozed conversation
				want = []string{gateway.TypeTicketWoken, gateway.TypeTicketMessageAdded}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("events = %v, want %v", got, want)
			}
			for _, e := range effects {
				if _, ok := e.(CreateConversation); ok {
					t.Fatal("second conversation created for a contact with an open one")
				}
			}
		})
	}
}

func TestR2_MessagesOfABatchAreNumberedInOrder(t *testing.T) {
	t.Parallel()
	st := newState()
	var seqs []int
	for i, id := range []string{"a", "b", "c"} {
		for _, e := range DecideInbound(st, inbound(id, id, t0.Add(time.Duration(i)*time.Second)), Env{Now: t0.Add(time.Hour)}) {
			if sm, ok := e.(StoreMessage); ok {
				seqs = append(seqs, sm.Msg.Seq)
			}
		}
	}
	if len(seqs) != 3 || seqs[0] != 1 || seqs[1] != 2 || seqs[2] != 3 {
		t.Fatalf("seqs = %v, want [1 2 3]", seqs)
	}
}

func TestEventSnapshotsDoNotChangeAfterwards(t *testing.T) {
	t.Parallel()
	st := newState()
	first := DecideInbound(st, inbound("a", "one", t0), Env{Now: t0})
	DecideInbound(st, inbound("b", "two", t0.Add(time.Second)), Env{Now: t0.Add(time.Second)})
	for _, e := range first {
		if ev, ok := e.(EmitTicketEvent); ok && ev.Snapshot.MessageCount != 1 {
			t.Fatalf("snapshot of the first event changed: count %d", ev.Snapshot.MessageCount)
		}
	}
}

func TestOlderRedeliveredTimestampDoesNotMoveLastInboundBack(t *testing.T) {
	t.Parallel()
	st := newState()
	DecideInbound(st, inbound("late", "x", t0.Add(time.Hour)), Env{Now: t0.Add(time.Hour)})
	DecideInbound(st, inbound("early", "y", t0), Env{Now: t0.Add(time.Hour)})
	if !st.Contact.LastInboundAt.Equal(t0.Add(time.Hour)) || !st.Open.LastInboundAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("last inbound moved backwards: contact %v conv %v", st.Contact.LastInboundAt, st.Open.LastInboundAt)
	}
}

// Every ticket event carries the same snapshot, desk fields included, so a
// desk that rebuilds a conversation from its latest event (a delivery
// status, say) does not lose who works on it.
func TestSnapshotCarriesTheDeskFields(t *testing.T) {
	t.Parallel()
	c := Conversation{ID: 3, Kind: KindTicket, State: StateAssigned, Assignee: "ann", AssignedAt: t0, Unread: true, Participants: []string{"ann"}}
	v := conversationSnapshot(c, Contact{ID: 7, Channel: gateway.ChannelWhatsApp, Address: "+1", LastInboundAt: t0})
	if v.Assignee != "ann" || v.AssignedAt == nil || !v.AssignedAt.Equal(t0) || !v.Unread || len(v.Participants) != 1 ||
		v.WindowExpiresAt == nil || !v.WindowExpiresAt.Equal(t0.Add(24*time.Hour)) {
		t.Fatalf("snapshot %+v", v)
	}
}

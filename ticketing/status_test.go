package ticketing

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chatgate/chatgate/gateway"
)

func TestR32_AutoResponderIsStoredAsAQueuedOutboundMessage(t *testing.T) {
	t.Parallel()
	st := newState()
	effects := DecideInbound(st, msg("m1", "Hello", closedAt), unstaffed.env(t, closedAt))
	var sends []SendText
	for _, e := range effects {
		if s, ok := e.(SendText); ok {
			sends = append(sends, s)
		}
	}
	ms := stored(effects)
	if len(sends) != 2 || len(ms) != 3 {
		t.Fatalf("sends %d, stored %d; want 2 texts and 3 messages", len(sends), len(ms))
	}
	for i, s := range sends {
		m := ms[i+1]
		if s.Msg != m || m.RequestID != s.Outbound.RequestID || m.Direction != DirectionOutbound || m.SentBy != SentBySystem ||
			m.Status != gateway.StatusQueued || !m.StatusAt.Equal(closedAt) || m.Conv != st.Open || m.Body != s.Outbound.Text ||
			m.Seq != 1 || m.ProviderID != "" {
			t.Fatalf("text %d stored as %+v for %+v", i, m, s.Outbound)
		}
	}
	if st.Open.MessageCount != 1 {
		t.Fatalf("outbound texts counted: %d", st.Open.MessageCount)
	}
}

func TestR32_StatusesNeverMoveAMessageBackwards(t *testing.T) {
	t.Parallel()
	at := t0.Add(time.Minute)
	st := func(s gateway.DeliveryStatus, pid, code string) gateway.Status {
		return gateway.Status{Channel: gateway.ChannelSMS, Contact: "+1", RequestID: "r1", ProviderID: pid, Status: s, ErrorCode: code, At: at}
	}
	cases := []struct {
		name     string
		from     gateway.DeliveryStatus
		pid      string // the message's provider id before
		status   gateway.Status
		applied  bool
		want     gateway.DeliveryStatus
		wantPID  string
		wantCode string
	}{
		{"sent after queued", gateway.StatusQueued, "", st(gateway.StatusSent, "SM1", ""), true, gateway.StatusSent, "SM1", ""},
		{"delivered before sent stays delivered", gateway.StatusDelivered, "SM1", st(gateway.StatusSent, "SM1", ""), false, gateway.StatusDelivered, "SM1", ""},
		{"duplicate is a no-op", gateway.StatusDelivered, "SM1", st(gateway.StatusDelivered, "SM1", ""), false, gateway.StatusDelivered, "SM1", ""},
		{"late sent still teaches the provider id", gateway.StatusDelivered, "", st(gateway.StatusSent, "SM1", ""), false, gateway.StatusDelivered, "SM1", ""},
		{"provider id is never replaced", gateway.StatusSent, "SM1", st(gateway.StatusDelivered, "SM2", ""), true, gateway.StatusDelivered, "SM1", ""},
		{"failed after delivered", gateway.StatusDelivered, "SM1", st(gateway.StatusFailed, "SM1", "30003"), true, gateway.StatusFailed, "SM1", "30003"},
		{"read beats failed", gateway.StatusFailed, "SM1", st(gateway.StatusRead, "SM1", ""), true, gateway.StatusRead, "SM1", ""},
		{"failed after read stays read", gateway.StatusRead, "SM1", st(gateway.StatusFailed, "SM1", "30008"), false, gateway.StatusRead, "SM1", ""},
		{"queued after sending", gateway.StatusSending, "", st(gateway.StatusQueued, "", ""), false, gateway.StatusSending, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := &Message{Direction: DirectionOutbound, RequestID: "r1", ProviderID: tc.pid, Status: tc.from}
			if got := ApplyStatus(m, tc.status); got != tc.applied || m.Status != tc.want || m.ProviderID != tc.wantPID || m.ErrorCode != tc.wantCode {
				t.Errorf("%s: applied %v status %s pid %q code %q; want %v %s %q %q", tc.name, got, m.Status, m.ProviderID, m.ErrorCode,
					tc.applied, tc.want, tc.wantPID, tc.wantCode)
			}
			if tc.applied && !m.StatusAt.Equal(at) {
				t.Errorf("%s: status_at %v", tc.name, m.StatusAt)
			}
		})
	}
}

// R37: chatgate's own texts are part of the conversation: stored as
// outbound messages written by "system" and published as message_added,
// right after what caused them, like an agent's reply; a text refused to
// an opted-out contact too (its message shows the refusal), a text outside
// any conversation (HELP to a contact without one) without an event.
func TestR37_SystemTextsArePublishedAsMessages(t *testing.T) {
	t.Parallel()
	type added struct {
		direction, sentBy, text string
		status                  gateway.DeliveryStatus
	}
	addedOf := func(effects []Effect) []added {
		var out []added
		for _, e := range effects {
			if ev, ok := e.(EmitTicketEvent); ok && ev.Type == gateway.TypeTicketMessageAdded {
				out = append(out, added{string(ev.Msg.Direction), ev.Msg.SentBy, ev.Msg.Body, ev.Msg.Status})
			}
		}
		return out
	}
	cases := []struct {
		name   string
		decide func(t *testing.T) []Effect
		want   []added
	}{
		{"out of hours: the message, then the texts", func(t *testing.T) []Effect {
			return DecideInbound(newState(), msg("m1", "Hello", closedAt), unstaffed.env(t, closedAt))
		}, []added{
			{"inbound", "", "Hello", ""},
			{"outbound", SentBySystem, "We are closed.", gateway.StatusQueued},
			{"outbound", SentBySystem, DefaultTexts.LeaveMessagePrompt, gateway.StatusQueued},
		}},
		{"the intake timeout's confirmation", func(t *testing.T) []Effect {
			st := leaving(t)
			at := st.Open.IntakeClosesAt
			return DecideTimer(st, Timer{Kind: TimerIntakeClose, Conv: st.Open}, unstaffed.env(t, at))
		}, []added{{"outbound", SentBySystem, DefaultTexts.IntakeClosed, gateway.StatusQueued}}},
		{"refused to an opted-out contact", func(t *testing.T) []Effect {
			st := smsState()
			st.Contact.OptedOut = true
			return DecideInbound(st, smsMsg("s1", "Hello", closedAt), unstaffed.env(t, closedAt))
		}, []added{{"inbound", "", "Hello", ""}, {"outbound", SentBySystem, "We are closed.", gateway.StatusFailed}}},
		{"HELP outside any conversation: stored, no event", func(t *testing.T) []Effect {
			return DecideInbound(smsState(), smsMsg("s1", "HELP", closedAt), unstaffed.env(t, closedAt))
		}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			effects := tc.decide(t)
			if diff := cmp.Diff(tc.want, addedOf(effects), cmp.AllowUnexported(added{})); diff != "" {
				t.Fatalf("message_added (-want +got):\n%s", diff)
			}
			for _, m := range stored(effects) {
				if m.Direction == DirectionOutbound && m.SentBy != SentBySystem {
					t.Fatalf("text stored with author %q", m.SentBy)
				}
			}
		})
	}
	// A desk command's text carries the command's actor.
	st, conv := deskConv(StateAssigned, "ann")
	dec := DecideDesk(DeskInput{Command: cmd(TypeCommandReturn, "ann", nil), Conversation: conv, State: st}, deskEnv(t))
	last := dec.Effects[len(dec.Effects)-2].(EmitTicketEvent) // before the send
	if last.Type != gateway.TypeTicketMessageAdded || last.Msg.SentBy != SentBySystem || last.Desk == nil || last.Desk.Actor.AgentID != "ann" {
		t.Fatalf("return's text event %+v", last)
	}
}

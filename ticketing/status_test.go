package ticketing

import (
	"testing"
	"time"

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
		if s.Msg != m || m.RequestID != s.Outbound.RequestID || m.Direction != DirectionOutbound || m.SentBy != SentByAuto ||
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
		m := &Message{Direction: DirectionOutbound, RequestID: "r1", ProviderID: tc.pid, Status: tc.from}
		if got := ApplyStatus(m, tc.status); got != tc.applied || m.Status != tc.want || m.ProviderID != tc.wantPID || m.ErrorCode != tc.wantCode {
			t.Errorf("%s: applied %v status %s pid %q code %q; want %v %s %q %q", tc.name, got, m.Status, m.ProviderID, m.ErrorCode,
				tc.applied, tc.want, tc.wantPID, tc.wantCode)
		}
		if tc.applied && !m.StatusAt.Equal(at) {
			t.Errorf("%s: status_at %v", tc.name, m.StatusAt)
		}
	}
}

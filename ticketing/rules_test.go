package ticketing

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/testkit"
)

// The rule tests run on one department, "support", in Johannesburg (no
// DST; the DST cases use office() in New York): open Monday to Friday
// 08:00-17:00, agents ann and bob. 2026-11-23 is a Monday.
var (
	sast     = time.FixedZone("SAST", 2*3600)
	openNow  = time.Date(2026, 11, 23, 10, 0, 0, 0, sast).UTC()
	closedAt = time.Date(2026, 11, 23, 18, 0, 0, 0, sast).UTC()
)

const businessNumber = "+27600000000"

func support() Department {
	return Department{
		ID:       "support",
		TimeZone: "Africa/Johannesburg",
		Schedule: map[string][]string{
			"monday": {"08:00-17:00"}, "tuesday": {"08:00-17:00"}, "wednesday": {"08:00-17:00"},
			"thursday": {"08:00-17:00"}, "friday": {"08:00-17:00"},
		},
		Holidays:        []Closure{{Name: "Day of Reconciliation", From: "2026-12-16"}},
		Agents:          []string{"ann", "bob"},
		Routing:         Routing{Default: true},
		DefaultLanguage: "en",
		Texts: map[string]Texts{
			"en": {OutOfHours: "We are closed."},
			"af": {OutOfHours: "Ons is gesluit.", LeaveMessagePrompt: "Wil u 'n boodskap los? JA of NEE."},
		},
	}
}

// world is the environment of one test: departments, who is online, config.
type world struct {
	deps   []Department
	online []string // agents online with a fresh heartbeat
	cfg    Config
}

func (w world) env(t testing.TB, now time.Time) Env {
	t.Helper()
	var ps []Presence
	for _, a := range w.online {
		ps = append(ps, Presence{AgentID: a, Status: PresenceOnline, HeartbeatAt: now.Add(-30 * time.Second)})
	}
	deps := w.deps
	if deps == nil {
		deps = []Department{support()}
	}
	dir, err := NewDirectory(deps, ps)
	if err != nil {
		t.Fatal(err)
	}
	return Env{Now: now, Config: w.cfg, Directory: dir}
}

var (
	staffed   = world{online: []string{"ann"}}
	unstaffed = world{}
)

func msg(id, text string, at time.Time) gateway.Inbound {
	in := inbound(id, text, at)
	in.To = businessNumber
	return in
}

func texts(effects []Effect) []TextKind {
	var out []TextKind
	for _, e := range effects {
		if s, ok := e.(SendText); ok {
			out = append(out, s.Kind)
		}
	}
	return out
}

func reasons(effects []Effect) []string {
	var out []string
	for _, e := range effects {
		if ev, ok := e.(EmitTicketEvent); ok && ev.Reason != "" {
			out = append(out, ev.Type[len("chatgate.ticket."):]+":"+ev.Reason)
		}
	}
	return out
}

func count[T Effect](effects []Effect) int {
	n := 0
	for _, e := range effects {
		if _, ok := e.(T); ok {
			n++
		}
	}
	return n
}

func same(a, b any) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

// prompted returns a contact whose first message out of hours opened a
// conversation with a pending prompt.
func prompted(t *testing.T) *ContactState {
	t.Helper()
	st := newState()
	DecideInbound(st, msg("m1", "Hello, is anyone there?", closedAt), unstaffed.env(t, closedAt))
	if st.Open == nil || st.Open.Intake != IntakePrompted {
		t.Fatalf("setup: no prompt pending: %+v", st.Open)
	}
	return st
}

// leaving returns a contact who answered YES and is leaving messages.
func leaving(t *testing.T) *ContactState {
	t.Helper()
	st := prompted(t)
	DecideInbound(st, msg("m2", "yes", closedAt.Add(time.Minute)), unstaffed.env(t, closedAt.Add(time.Minute)))
	if st.Open.Intake != IntakeLeaving {
		t.Fatalf("setup: not leaving: %+v", st.Open)
	}
	return st
}

func openTicket(state State) *ContactState {
	st := newState()
	st.Open = &Conversation{ID: 50, ContactID: 7, Kind: KindTicket, State: state, DepartmentID: "support",
		BusinessAddress: businessNumber, CreatedAt: t0, UpdatedAt: t0, MessageCount: 4}
	return st
}

func TestR3_NewConversationIsRoutedAndKeepsItsDepartment(t *testing.T) {
	t.Parallel()
	w := world{online: []string{"ann", "sam"}, deps: []Department{
		support(),
		{ID: "sales", TimeZone: "UTC", Schedule: map[string][]string{"monday": {"00:00-24:00"}}, Agents: []string{"sam"},
			Routing: Routing{Numbers: []string{"+27600000001"}, Keywords: []string{"quote"}}},
	}}
	cases := []struct{ to, text, want string }{
		{"+27600000001", "hello", "sales"},
		{businessNumber, "I need a QUOTE", "sales"},
		{businessNumber, "hello", "support"},
	}
	for _, tc := range cases {
		t.Run(tc.text+" to "+tc.to, func(t *testing.T) {
			st := newState()
			in := msg("m1", tc.text, openNow)
			in.To = tc.to
			DecideInbound(st, in, w.env(t, openNow))
			if st.Open.DepartmentID != tc.want || st.Open.BusinessAddress != tc.to {
				t.Errorf("%q to %s: department %q address %q, want %s", tc.text, tc.to, st.Open.DepartmentID, st.Open.BusinessAddress, tc.want)
			}
			DecideInbound(st, msg("m2", "quote please", openNow.Add(time.Minute)), w.env(t, openNow.Add(time.Minute)))
			if st.Open.DepartmentID != tc.want {
				t.Errorf("later keyword moved the conversation to %s", st.Open.DepartmentID)
			}
		})
	}
}

func TestR4_R5_ReachabilityDecidesLiveChatOrPrompt(t *testing.T) {
	t.Parallel()
	ny := mustLoc(t, "America/New_York")
	nyAt := func(m time.Month, d, h, min, s int) time.Time { return time.Date(2026, m, d, h, min, s, 0, ny).UTC() }
	nyOffice := func() []Department { d := *office(t); d.Routing.Default = true; return []Department{d} }
	cases := []struct {
		name     string
		w        world
		now      time.Time
		liveChat bool
	}{
		{"open, agent online", staffed, openNow, true},
		{"open, no agent online", unstaffed, openNow, false},
		{"open, agent away", world{}, openNow, false},
		{"closed, agent online", staffed, closedAt, false},
		{"16:59:59", staffed, time.Date(2026, 11, 23, 16, 59, 59, 0, sast).UTC(), true},
		{"17:00:00", staffed, time.Date(2026, 11, 23, 17, 0, 0, 0, sast).UTC(), false},
		{"weekday holiday", staffed, time.Date(2026, 12, 16, 10, 0, 0, 0, sast).UTC(), false},
		{"day after the holiday", staffed, time.Date(2026, 12, 17, 10, 0, 0, 0, sast).UTC(), true},
		{"no departments at all", world{deps: []Department{}}, closedAt, true},
		{"department not routed (no default)", world{deps: []Department{{ID: "x", TimeZone: "UTC"}}}, closedAt, true},
		{"NY saturday 23:59:59", world{deps: nyOffice(), online: []string{"ann"}}, nyAt(11, 28, 23, 59, 59), true},
		{"NY sunday 00:00:00", world{deps: nyOffice(), online: []string{"ann"}}, nyAt(11, 29, 0, 0, 0), true},
		{"NY friday 23:59:59", world{deps: nyOffice(), online: []string{"ann"}}, nyAt(11, 27, 23, 59, 59), false},
		{"NY monday 00:00:00", world{deps: nyOffice(), online: []string{"ann"}}, nyAt(11, 30, 0, 0, 0), false},
		{"NY before spring forward 01:59:59 EST", world{deps: nyOffice(), online: []string{"ann"}}, nyAt(3, 8, 1, 59, 59), true},
		{"NY after spring forward 03:00:00 EDT", world{deps: nyOffice(), online: []string{"ann"}}, nyAt(3, 8, 3, 0, 0), false},
		{"NY second 01:30 of fall back", world{deps: nyOffice(), online: []string{"ann"}}, time.Date(2026, 11, 1, 6, 30, 0, 0, time.UTC), true},
		{"NY christmas eve holiday", world{deps: nyOffice(), online: []string{"ann"}}, nyAt(12, 24, 10, 0, 0), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := newState()
			effects := DecideInbound(st, msg("m1", "hi", tc.now), tc.w.env(t, tc.now))
			gotLive := st.Open.Intake == IntakeNone && st.Open.Kind == KindLiveChat
			if gotLive != tc.liveChat {
				t.Errorf("%s: live chat = %v (intake %q), want %v", tc.name, gotLive, st.Open.Intake, tc.liveChat)
			}
			if tc.liveChat && len(texts(effects)) != 0 {
				t.Errorf("%s: live chat sent %v", tc.name, texts(effects))
			}
			if st.Open.State != StateUnassigned {
				t.Errorf("%s: state %s, want unassigned", tc.name, st.Open.State)
			}
		})
	}
	// A one-off closure of two hours on an ordinary Tuesday.
	w := world{online: []string{"ann"}, deps: []Department{support()}}
	w.deps[0].Closures = []Closure{{Name: "fire drill", From: "2026-11-24T10:00", To: "2026-11-24T12:00"}}
	for at, want := range map[time.Time]Intake{
		time.Date(2026, 11, 24, 9, 59, 59, 0, sast).UTC():  IntakeNone,
		time.Date(2026, 11, 24, 10, 0, 0, 0, sast).UTC():   IntakePrompted,
		time.Date(2026, 11, 24, 11, 59, 59, 0, sast).UTC(): IntakePrompted,
		time.Date(2026, 11, 24, 12, 0, 0, 0, sast).UTC():   IntakeNone,
	} {
		st := newState()
		DecideInbound(st, msg("m1", "hi", at), w.env(t, at))
		if st.Open.Intake != want {
			t.Errorf("closure, %s: intake %q, want %q", at.In(sast).Format(time.TimeOnly), st.Open.Intake, want)
		}
	}
}

func TestR6_OutOfHoursSendsAutoResponderThenPrompt(t *testing.T) {
	t.Parallel()
	cases := []struct {
		lang              string
		wantOOH, wantLang string
		wantPrompt        string
	}{
		{"", "We are closed.", "en", DefaultTexts.LeaveMessagePrompt},
		{"af", "Ons is gesluit.", "af", "Wil u 'n boodskap los? JA of NEE."},
		{"fr", "We are closed.", "en", DefaultTexts.LeaveMessagePrompt},
	}
	for _, tc := range cases {
		t.Run(tc.lang, func(t *testing.T) {
			st := newState()
			st.Contact.LanguageOverride = tc.lang
			effects := DecideInbound(st, msg("m1", "Hello", closedAt), unstaffed.env(t, closedAt))
			c := st.Open
			if c.Kind != KindLiveChat || c.State != StateUnassigned || c.Intake != IntakePrompted || !c.IntakeCloseOnDecline ||
				!c.PromptExpiresAt.Equal(closedAt.Add(DefaultPromptExpiry)) || c.MessageCount != 1 || c.DepartmentID != "support" {
				t.Fatalf("lang %q: conversation %+v", tc.lang, c)
			}
			if !same(eventTypes(effects), []string{gateway.TypeTicketCreated, gateway.TypeTicketMessageAdded,
				gateway.TypeTicketMessageAdded, gateway.TypeTicketMessageAdded}) { // the message, then both texts (R37)
				t.Fatalf("events %v", eventTypes(effects))
			}
			var sends []SendText
			for _, e := range effects {
				if s, ok := e.(SendText); ok {
					sends = append(sends, s)
				}
			}
			if len(sends) != 2 || sends[0].Kind != TextOutOfHours || sends[1].Kind != TextLeaveMessagePrompt {
				t.Fatalf("sends = %v, want out_of_hours then prompt", texts(effects))
			}
			o := sends[0].Outbound
			if o.Text != tc.wantOOH || sends[0].Language != tc.wantLang || sends[1].Outbound.Text != tc.wantPrompt ||
				o.Channel != gateway.ChannelAPI || o.To != "+27821234567" || o.From != businessNumber ||
				o.RequestID != "auto:api:m1:out_of_hours" || sends[1].Outbound.RequestID != "auto:api:m1:leave_message_prompt" ||
				sends[0].Conv != c || !o.CreatedAt.Equal(closedAt) {
				t.Fatalf("lang %q: sends %+v", tc.lang, sends)
			}
			if err := o.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestR6_ReplayedMessageYieldsTheSameRequestIDs(t *testing.T) {
	t.Parallel()
	ids := func() []string {
		var out []string
		for _, e := range DecideInbound(newState(), msg("wamid.1", "hi", closedAt), unstaffed.env(t, closedAt.Add(time.Hour))) {
			if s, ok := e.(SendText); ok {
				out = append(out, s.Outbound.RequestID)
			}
		}
		return out
	}
	if a, b := ids(), ids(); !same(a, b) || len(a) != 2 {
		t.Fatalf("request ids differ between runs: %v %v", a, b)
	}
}

func TestR7_YesLetsTheContactLeaveSeveralMessagesInOneTicket(t *testing.T) {
	t.Parallel()
	for _, yes := range []string{"YES", "yes", "Yes", " yes ", "y e s", "yEs\n", "\tYES\t"} {
		st := prompted(t)
		conv := st.Open
		now := closedAt.Add(time.Minute)
		effects := DecideInbound(st, msg("m2", yes, now), unstaffed.env(t, now))
		if st.Open != conv || conv.Kind != KindTicket || conv.Intake != IntakeLeaving || conv.State != StateUnassigned ||
			!conv.PromptExpiresAt.IsZero() || !conv.IntakeClosesAt.Equal(now.Add(DefaultIntakeClose)) {
			t.Fatalf("%q: conversation %+v", yes, conv)
		}
		if !same(eventTypes(effects), []string{gateway.TypeTicketMessageAdded, gateway.TypeTicketIntakeStarted}) || len(texts(effects)) != 0 {
			t.Fatalf("%q: events %v texts %v", yes, eventTypes(effects), texts(effects))
		}
		for i, text := range []string{"My order 1234 is late", "It was due Friday"} {
			at := now.Add(time.Duration(i+1) * time.Minute)
			effects := DecideInbound(st, msg(fmt.Sprint("m", i+3), text, at), unstaffed.env(t, at))
			if st.Open != conv || count[CreateConversation](effects) != 0 || len(texts(effects)) != 0 {
				t.Fatalf("%q: message %d left the ticket or got a reply", yes, i)
			}
		}
		if conv.MessageCount != 4 { // the message that started the session, YES, and two more
			t.Fatalf("%q: ticket holds %d messages, want 4", yes, conv.MessageCount)
		}
	}
}

func TestR8_NoWhilePromptedEndsTheSessionAsAClosedChat(t *testing.T) {
	t.Parallel()
	for _, no := range []string{"NO", "no", " No ", "n o", "nO\r\n"} {
		st := prompted(t)
		conv := st.Open
		now := closedAt.Add(time.Minute)
		effects := DecideInbound(st, msg("m2", no, now), unstaffed.env(t, now))
		if st.Open != nil || st.Last != conv || conv.State != StateClosed || conv.Kind != KindLiveChat ||
			conv.CloseReason != ReasonConsentDeclined || !conv.ArchiveAt.IsZero() || conv.Intake != IntakeNone ||
			!conv.PromptExpiresAt.IsZero() || conv.MessageCount != 2 {
			t.Fatalf("%q: conversation %+v", no, conv)
		}
		if !same(texts(effects), []TextKind{TextConsentDeclined}) || !same(reasons(effects), []string{"closed:consent_declined"}) {
			t.Fatalf("%q: texts %v reasons %v", no, texts(effects), reasons(effects))
		}
	}
}

func TestR9_AnyOtherReplyWhilePromptedResendsThePrompt(t *testing.T) {
	t.Parallel()
	for _, other := range []string{"maybe", "yes please", "YES!", "nope", "//end", ""} {
		st := prompted(t)
		conv := st.Open
		now := closedAt.Add(5 * time.Minute)
		effects := DecideInbound(st, msg("m2", other, now), unstaffed.env(t, now))
		if conv.Intake != IntakePrompted || conv.State != StateUnassigned || conv.MessageCount != 2 ||
			!conv.PromptExpiresAt.Equal(now.Add(DefaultPromptExpiry)) {
			t.Fatalf("%q: conversation %+v", other, conv)
		}
		if !same(texts(effects), []TextKind{TextLeaveMessagePrompt}) {
			t.Fatalf("%q: texts %v, want the prompt again", other, texts(effects))
		}
	}
	// The prompt is re-sent even if an agent came online meanwhile: a
	// running session is finished before the hours are looked at again.
	st := prompted(t)
	if effects := DecideInbound(st, msg("m2", "hello?", openNow.Add(24*time.Hour)), staffed.env(t, openNow.Add(24*time.Hour))); !same(texts(effects), []TextKind{TextLeaveMessagePrompt}) {
		t.Fatalf("texts %v", texts(effects))
	}
}

func TestR10_UnansweredPromptExpiresAfterTheInactivityTime(t *testing.T) {
	t.Parallel()
	w := world{cfg: Config{PromptExpiry: 30 * time.Minute}}
	st := newState()
	DecideInbound(st, msg("m1", "hi", closedAt), w.env(t, closedAt))
	conv := st.Open
	due := closedAt.Add(30 * time.Minute)
	if !conv.PromptExpiresAt.Equal(due) || !conv.NextDue().Equal(due) {
		t.Fatalf("prompt expiry %v, want %v", conv.PromptExpiresAt, due)
	}
	if len(DueTimers(conv, due.Add(-time.Nanosecond))) != 0 || DecideTimer(st, Timer{TimerPromptExpiry, conv}, w.env(t, due.Add(-time.Second))) != nil {
		t.Fatal("timer fired early")
	}
	timers := DueTimers(conv, due)
	if len(timers) != 1 || timers[0].Kind != TimerPromptExpiry {
		t.Fatalf("due timers %v", timers)
	}
	effects := DecideTimer(st, timers[0], w.env(t, due))
	if conv.State != StateClosed || conv.CloseReason != ReasonPromptExpired || conv.Intake != IntakeNone || st.Open != nil ||
		!conv.NextDue().IsZero() || len(texts(effects)) != 0 || !same(reasons(effects), []string{"closed:prompt_expired"}) {
		t.Fatalf("after expiry: %+v, effects %v %v", conv, reasons(effects), texts(effects))
	}
	if DecideTimer(st, Timer{TimerPromptExpiry, conv}, w.env(t, due.Add(time.Minute))) != nil {
		t.Fatal("an expired timer fired twice")
	}
	// On an open ticket the session runs on (R13), expiry leaves the ticket open.
	st = openTicket(StateAssigned)
	DecideInbound(st, msg("m1", "hi", closedAt), w.env(t, closedAt))
	effects = DecideTimer(st, Timer{TimerPromptExpiry, st.Open}, w.env(t, due))
	if st.Open == nil || st.Open.State != StateAssigned || st.Open.Intake != IntakeNone || !same(reasons(effects), []string{"intake_closed:prompt_expired"}) {
		t.Fatalf("ticket after expiry: %+v %v", st.Open, reasons(effects))
	}
}

func TestR11_NoAfterYesIsAnOrdinaryMessage(t *testing.T) {
	t.Parallel()
	st := leaving(t)
	conv := st.Open
	now := closedAt.Add(3 * time.Minute)
	effects := DecideInbound(st, msg("m3", "No", now), unstaffed.env(t, now))
	if st.Open != conv || conv.State != StateUnassigned || conv.Intake != IntakeLeaving || conv.MessageCount != 3 ||
		!conv.IntakeClosesAt.Equal(now.Add(DefaultIntakeClose)) || len(texts(effects)) != 0 ||
		!same(eventTypes(effects), []string{gateway.TypeTicketMessageAdded}) {
		t.Fatalf("NO after YES: %+v events %v texts %v", conv, eventTypes(effects), texts(effects))
	}
}

func TestR12_EndClosesTheIntakeAndTheTicketWaits(t *testing.T) {
	t.Parallel()
	for _, end := range []string{"//end", "//END", " //end ", "// end", "//End\n"} {
		st := leaving(t)
		conv := st.Open
		now := closedAt.Add(4 * time.Minute)
		effects := DecideInbound(st, msg("m9", end, now), unstaffed.env(t, now))
		if st.Open != conv || conv.Kind != KindTicket || conv.State != StateUnassigned || conv.Intake != IntakeNone ||
			!conv.NextDue().IsZero() || !same(texts(effects), []TextKind{TextIntakeClosed}) ||
			!same(reasons(effects), []string{"intake_closed:ended_by_contact"}) {
			t.Fatalf("%q: %+v %v %v", end, conv, texts(effects), reasons(effects))
		}
		// The next message after //end starts over: out of hours, a new prompt on the open ticket (R13).
		later := now.Add(time.Hour)
		effects = DecideInbound(st, msg("m10", "one more thing", later), unstaffed.env(t, later))
		if st.Open != conv || conv.Intake != IntakePrompted || conv.IntakeCloseOnDecline || !same(texts(effects), []TextKind{TextOutOfHours, TextLeaveMessagePrompt}) {
			t.Fatalf("%q: after //end: %+v %v", end, conv, texts(effects))
		}
	}
	// "//end" inside a longer message is just a message.
	st := leaving(t)
	DecideInbound(st, msg("m9", "thanks //end", closedAt.Add(2*time.Minute)), unstaffed.env(t, closedAt.Add(2*time.Minute)))
	if st.Open.Intake != IntakeLeaving {
		t.Fatal("//end inside a message ended the session")
	}
}

func TestR12_IntakeClosesTenMinutesAfterTheLastMessage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg   Config
		after time.Duration
	}{{Config{}, 10 * time.Minute}, {Config{IntakeClose: 3 * time.Minute}, 3 * time.Minute}} {
		w := world{cfg: tc.cfg}
		st := newState()
		DecideInbound(st, msg("m1", "hi", closedAt), w.env(t, closedAt))
		DecideInbound(st, msg("m2", "YES", closedAt.Add(time.Minute)), w.env(t, closedAt.Add(time.Minute)))
		last := closedAt.Add(2*time.Minute + 30*time.Second)
		DecideInbound(st, msg("m3", "details", last), w.env(t, last))
		conv := st.Open
		due := last.Add(tc.after)
		if !conv.IntakeClosesAt.Equal(due) {
			t.Fatalf("intake closes at %v, want %v", conv.IntakeClosesAt, due)
		}
		if DecideTimer(st, Timer{TimerIntakeClose, conv}, w.env(t, due.Add(-time.Second))) != nil {
			t.Fatal("intake closed early")
		}
		effects := DecideTimer(st, Timer{TimerIntakeClose, conv}, w.env(t, due))
		if conv.Intake != IntakeNone || conv.State != StateUnassigned || conv.Kind != KindTicket ||
			!same(reasons(effects), []string{"intake_closed:intake_timeout"}) || !same(texts(effects), []TextKind{TextIntakeClosed}) {
			t.Fatalf("after timeout: %+v %v %v", conv, reasons(effects), texts(effects))
		}
		for _, e := range effects {
			if s, ok := e.(SendText); ok && s.Outbound.RequestID != fmt.Sprintf("auto:api:timer:%d:%d:intake_closed", conv.ID, due.UnixNano()) {
				t.Fatalf("timer request id %q", s.Outbound.RequestID)
			}
		}
	}
}

func TestR13_OpenTicketAbsorbsNewMessagesWhenNoAgentCanBeReached(t *testing.T) {
	t.Parallel()
	for _, state := range []State{StateUnassigned, StateAssigned} {
		st := openTicket(state)
		ticket := st.Open
		effects := DecideInbound(st, msg("m5", "Any news?", closedAt), unstaffed.env(t, closedAt))
		if st.Open != ticket || count[CreateConversation](effects) != 0 || ticket.MessageCount != 5 || ticket.State != state ||
			ticket.Kind != KindTicket || ticket.Intake != IntakePrompted || ticket.IntakeCloseOnDecline {
			t.Fatalf("%s: %+v", state, ticket)
		}
		if !same(texts(effects), []TextKind{TextOutOfHours, TextLeaveMessagePrompt}) {
			t.Fatalf("%s: texts %v", state, texts(effects))
		}
		// NO keeps the ticket (it existed before the session); YES would continue it.
		effects = DecideInbound(st, msg("m6", "no", closedAt.Add(time.Minute)), unstaffed.env(t, closedAt.Add(time.Minute)))
		if st.Open != ticket || ticket.State != state || !same(reasons(effects), []string{"intake_closed:consent_declined"}) {
			t.Fatalf("%s: after NO: %+v %v", state, ticket, reasons(effects))
		}
		effects = DecideInbound(st, msg("m7", "hi again", closedAt.Add(2*time.Minute)), unstaffed.env(t, closedAt.Add(2*time.Minute)))
		effects = append(effects, DecideInbound(st, msg("m8", "Yes", closedAt.Add(3*time.Minute)), unstaffed.env(t, closedAt.Add(3*time.Minute)))...)
		if st.Open != ticket || ticket.Intake != IntakeLeaving || ticket.MessageCount != 8 || count[CreateConversation](effects) != 0 {
			t.Fatalf("%s: second session: %+v", state, ticket)
		}
	}
}

func TestR14_LiveChatClosesTheOpenTicket(t *testing.T) {
	t.Parallel()
	for _, state := range []State{StateUnassigned, StateAssigned} {
		st := openTicket(state)
		ticket := st.Open
		effects := DecideInbound(st, msg("m5", "Hi, are you there now?", openNow), staffed.env(t, openNow))
		if ticket.State != StateClosed || ticket.CloseReason != ReasonSupersededByChat || !ticket.ClosedAt.Equal(openNow) ||
			!ticket.ArchiveAt.Equal(openNow.Add(DefaultArchiveAfter)) || ticket.MessageCount != 4 {
			t.Fatalf("%s: ticket %+v", state, ticket)
		}
		chat := st.Open
		if chat == ticket || chat.Kind != KindLiveChat || chat.State != StateUnassigned || chat.MessageCount != 1 || st.Last != ticket || chat.DepartmentID != "support" {
			t.Fatalf("%s: chat %+v", state, chat)
		}
		if !same(eventTypes(effects), []string{gateway.TypeTicketClosed, gateway.TypeTicketCreated, gateway.TypeTicketMessageAdded}) ||
			!same(reasons(effects), []string{"closed:superseded_by_chat"}) || len(texts(effects)) != 0 {
			t.Fatalf("%s: events %v %v", state, eventTypes(effects), reasons(effects))
		}
		// The close is written before the new chat is inserted (one open per contact).
		var order []string
		for _, e := range effects {
			switch e := e.(type) {
			case SaveConversation:
				order = append(order, fmt.Sprint("save:", e.Conv.State))
			case CreateConversation:
				order = append(order, "create")
			}
		}
		if order[0] != "save:closed" {
			t.Fatalf("%s: effect order %v", state, order)
		}
	}
}

func TestR15_ClosedReopensWithinTheWindowDeletedNever(t *testing.T) {
	t.Parallel()
	closedTicket := func(state State, closedFor time.Duration, archived bool) *ContactState {
		st := newState()
		st.Last = &Conversation{ID: 60, ContactID: 7, Kind: KindTicket, State: state, DepartmentID: "support",
			ClosedAt: openNow.Add(-closedFor), CloseReason: "resolved", ArchiveAt: openNow.Add(-closedFor + DefaultArchiveAfter), MessageCount: 3}
		if archived {
			st.Last.ArchivedAt, st.Last.ArchiveAt = openNow.Add(-time.Hour), time.Time{}
		}
		return st
	}
	cases := []struct {
		name     string
		st       *ContactState
		cfg      Config
		reopened bool
	}{
		{"closed an hour ago", closedTicket(StateClosed, time.Hour, false), Config{}, true},
		{"closed exactly 7 days ago", closedTicket(StateClosed, DefaultReopenWindow, false), Config{}, true},
		{"closed 7 days and a second ago", closedTicket(StateClosed, DefaultReopenWindow+time.Second, false), Config{}, false},
		{"configured window of 1 day", closedTicket(StateClosed, 25*time.Hour, false), Config{ReopenWindow: 24 * time.Hour}, false},
		{"deleted a minute ago", closedTicket(StateDeleted, time.Minute, false), Config{}, false},
		{"archived", closedTicket(StateClosed, time.Hour, true), Config{}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, w := range []world{staffed, unstaffed} {
				w.cfg = tc.cfg
				old := tc.st.Last
				st := &ContactState{Contact: tc.st.Contact, Last: &Conversation{}}
				*st.Last = *old
				effects := DecideInbound(st, msg("m1", "about my ticket", openNow), w.env(t, openNow))
				got := st.Open.ID == 60
				if got != tc.reopened {
					t.Errorf("%s (online %v): reopened = %v, want %v", tc.name, w.online, got, tc.reopened)
					continue
				}
				if !got {
					if count[CreateConversation](effects) != 1 || st.Last.State != old.State {
						t.Errorf("%s: no new conversation or old one touched", tc.name)
					}
					continue
				}
				c := st.Open
				if c.State != StateUnassigned || !c.ClosedAt.IsZero() || c.CloseReason != "" || !c.ArchiveAt.IsZero() || c.MessageCount != 4 || st.Last != nil {
					t.Errorf("%s: reopened conversation %+v", tc.name, c)
				}
				types := eventTypes(effects)
				if types[0] != gateway.TypeTicketReopened {
					t.Errorf("%s: events %v", tc.name, types)
				}
				if len(w.online) == 0 && (c.Intake != IntakePrompted || !c.IntakeCloseOnDecline) {
					t.Errorf("%s: out of hours reopen not prompted: %+v", tc.name, c)
				}
				if len(w.online) > 0 && c.Kind != KindLiveChat {
					t.Errorf("%s: reopened with an agent reachable as %s", tc.name, c.Kind)
				}
			}
		})
	}
}

func TestR15_R22_MessageWakesASnoozedConversation(t *testing.T) {
	t.Parallel()
	for _, from := range []State{StateUnassigned, StateAssigned} {
		st := newState()
		st.Open = &Conversation{ID: 70, ContactID: 7, Kind: KindLiveChat, State: StateSnoozed, SnoozedFrom: from,
			SnoozeUntil: openNow.Add(time.Hour), DepartmentID: "support"}
		effects := DecideInbound(st, msg("m1", "hello again", openNow), staffed.env(t, openNow))
		c := st.Open
		if c.ID != 70 || c.State != from || !c.SnoozeUntil.IsZero() || c.SnoozedFrom != "" ||
			!same(reasons(effects), []string{"woken:contact_wrote"}) {
			t.Fatalf("from %s: %+v %v", from, c, reasons(effects))
		}
	}
}

func TestR16_SpamContactIsQuarantined(t *testing.T) {
	t.Parallel()
	for _, w := range []world{staffed, unstaffed} {
		st := newState()
		st.Contact.Spam = true
		effects := DecideInbound(st, msg("m1", "BUY NOW", closedAt), w.env(t, closedAt))
		if st.Open != nil || len(eventTypes(effects)) != 0 || len(texts(effects)) != 0 || count[CreateConversation](effects) != 0 {
			t.Fatalf("spam opened or sent something: %v %v", eventTypes(effects), texts(effects))
		}
		var stored []*Message
		for _, e := range effects {
			if s, ok := e.(StoreMessage); ok {
				stored = append(stored, s.Msg)
			}
		}
		if len(stored) != 1 || stored[0].Conv != nil || stored[0].Body != "BUY NOW" {
			t.Fatalf("spam message not stored alone: %+v", stored)
		}
	}
}

func TestR22_SnoozeLastsFiveMinutesToADayAndWakesOnTime(t *testing.T) {
	t.Parallel()
	cases := []struct {
		d  time.Duration
		ok bool
	}{{5*time.Minute - time.Second, false}, {5 * time.Minute, true}, {24 * time.Hour, true}, {24*time.Hour + time.Second, false}}
	for _, tc := range cases {
		t.Run(tc.d.String(), func(t *testing.T) {
			st := openTicket(StateAssigned)
			effects, err := DecideSnooze(st, openNow.Add(tc.d), staffed.env(t, openNow))
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrSnoozeOutOfRange)) {
				t.Fatalf("snooze %v: err %v", tc.d, err)
			}
			if !tc.ok {
				return
			}
			if st.Open.State != StateSnoozed || st.Open.SnoozedFrom != StateAssigned || !same(eventTypes(effects), []string{gateway.TypeTicketSnoozed}) {
				t.Fatalf("snooze %v: %+v", tc.d, st.Open)
			}
			due := openNow.Add(tc.d)
			effects = DecideTimer(st, Timer{TimerSnoozeWake, st.Open}, staffed.env(t, due))
			if st.Open.State != StateAssigned || !same(reasons(effects), []string{"woken:snooze_expired"}) {
				t.Fatalf("wake %v: %+v %v", tc.d, st.Open, reasons(effects))
			}
		})
	}
	st := openTicket(StateClosed)
	if _, err := DecideSnooze(st, openNow.Add(time.Hour), staffed.env(t, openNow)); !errors.Is(err, ErrNotOpen) {
		t.Fatalf("snoozing a closed conversation: %v", err)
	}
}

func TestR27_ClosedTicketsAreArchivedAfterNinetyDays(t *testing.T) {
	t.Parallel()
	st := openTicket(StateUnassigned)
	ticket := st.Open
	DecideInbound(st, msg("m1", "hi", openNow), staffed.env(t, openNow)) // R14 closes the ticket
	due := openNow.Add(DefaultArchiveAfter)
	if !ticket.ArchiveAt.Equal(due) {
		t.Fatalf("archive at %v, want %v", ticket.ArchiveAt, due)
	}
	if len(DueTimers(ticket, due.Add(-time.Second))) != 0 {
		t.Fatal("archive due early")
	}
	effects := DecideTimer(&ContactState{Contact: st.Contact, Last: ticket}, Timer{TimerArchive, ticket}, staffed.env(t, due))
	if !ticket.ArchivedAt.Equal(due) || ticket.State != StateClosed || !ticket.ArchiveAt.IsZero() || !same(eventTypes(effects), []string{gateway.TypeTicketArchived}) {
		t.Fatalf("archive: %+v %v", ticket, eventTypes(effects))
	}
	// Live chats closed by NO are not tickets and are not archived.
	st = prompted(t)
	DecideInbound(st, msg("m2", "no", closedAt), unstaffed.env(t, closedAt))
	if !st.Last.ArchiveAt.IsZero() {
		t.Fatal("a declined chat was scheduled for archiving")
	}
}

// TestEveryChangeIsInTheLastEvent drives a whole out-of-hours conversation
// and checks that the last event of each conversation carries its final
// state, so a desk can rebuild the conversation from events alone.
func TestEveryChangeIsInTheLastEvent(t *testing.T) {
	t.Parallel()
	st := openTicket(StateAssigned)
	var all []Effect
	step := func(effects []Effect) { all = append(all, effects...) }
	at := closedAt
	for i, text := range []string{"hi", "what?", "yes", "my order", "no", "//end"} {
		at = at.Add(time.Minute)
		step(DecideInbound(st, msg(fmt.Sprint("m", i), text, at), unstaffed.env(t, at)))
	}
	at = at.Add(time.Hour)
	step(DecideInbound(st, msg("m9", "again", at), unstaffed.env(t, at)))
	step(DecideTimer(st, Timer{TimerPromptExpiry, st.Open}, unstaffed.env(t, st.Open.PromptExpiresAt)))
	step(DecideInbound(st, msg("m10", "now?", openNow.Add(24*time.Hour)), staffed.env(t, openNow.Add(24*time.Hour))))
	last := map[*Conversation]Conversation{}
	for _, e := range all {
		if ev, ok := e.(EmitTicketEvent); ok {
			last[ev.Conv] = ev.Snapshot
		}
	}
	if len(last) != 2 {
		t.Fatalf("events for %d conversations, want the ticket and the new chat", len(last))
	}
	for conv, snap := range last {
		if diff := cmp.Diff(snap, *conv, testkit.ExactTime); diff != "" {
			t.Errorf("conversation %d: final state differs from its last event's (-event +final):\n%s", conv.ID, diff)
		}
	}
}

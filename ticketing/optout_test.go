package ticketing

import (
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway"
)

// The R33 tests use the rule tests' department and clock (rules_test.go)
// with an SMS contact.

const smsContact = "+27821234567"

func smsMsg(id, text string, at time.Time) gateway.Inbound {
	return gateway.Inbound{Channel: gateway.ChannelSMS, ProviderID: id, From: smsContact, To: businessNumber, Text: text, ReceivedAt: at}
}

func smsState() *ContactState {
	return &ContactState{Contact: &Contact{ID: 9, Channel: gateway.ChannelSMS, Address: smsContact, CreatedAt: t0, UpdatedAt: t0}}
}

// smsPrompted returns an SMS contact whose first message out of hours left
// a prompt pending.
func smsPrompted(t *testing.T) *ContactState {
	t.Helper()
	st := smsState()
	DecideInbound(st, smsMsg("s1", "Hello?", closedAt), unstaffed.env(t, closedAt))
	if st.Open == nil || st.Open.Intake != IntakePrompted {
		t.Fatalf("setup: no prompt pending: %+v", st.Open)
	}
	st.Open.ID = 100
	return st
}

func stored(effects []Effect) []*Message {
	var out []*Message
	for _, e := range effects {
		if s, ok := e.(StoreMessage); ok {
			out = append(out, s.Msg)
		}
	}
	return out
}

func TestR33_OptOutKeywordsOnSMSMarkTheContactAndOpenNoTicket(t *testing.T) {
	t.Parallel()
	for _, text := range []string{"STOP", "stop", "  Stop\n", "STOPALL", "UNSUBSCRIBE", "cancel", "END", "quit", "REVOKE", "OptOut"} {
		for _, w := range []world{staffed, unstaffed} {
			st := smsState()
			effects := DecideInbound(st, smsMsg("k1", text, closedAt), w.env(t, closedAt))
			if !st.Contact.OptedOut || !st.Contact.OptedOutAt.Equal(closedAt) {
				t.Fatalf("%q: contact not opted out: %+v", text, st.Contact)
			}
			if st.Open != nil || count[CreateConversation](effects) != 0 || len(texts(effects)) != 0 || len(eventTypes(effects)) != 0 {
				t.Fatalf("%q: opened or sent something: %v %v", text, eventTypes(effects), texts(effects))
			}
			if ms := stored(effects); len(ms) != 1 || ms[0].Conv != nil || ms[0].Body != text || ms[0].Direction != DirectionInbound {
				t.Fatalf("%q: keyword not stored alone: %+v", text, ms)
			}
			if count[SaveContact](effects) != 1 {
				t.Fatalf("%q: contact not saved", text)
			}
		}
	}
}

func TestR33_OptOutIsPublishedOnTheContactsConversation(t *testing.T) {
	t.Parallel()
	// An open conversation takes the keyword like a reaction: no wake-up,
	// no session step, the prompt stays pending.
	st := smsPrompted(t)
	conv := st.Open
	at := closedAt.Add(time.Minute)
	effects := DecideInbound(st, smsMsg("k1", "STOP", at), unstaffed.env(t, at))
	if !same(eventTypes(effects), []string{gateway.TypeTicketMessageAdded, gateway.TypeTicketContactOptedOut}) {
		t.Fatalf("events %v", eventTypes(effects))
	}
	if !same(reasons(effects), []string{"contact_opted_out:keyword"}) || len(texts(effects)) != 0 {
		t.Fatalf("reasons %v texts %v", reasons(effects), texts(effects))
	}
	if st.Open != conv || conv.Intake != IntakePrompted || !conv.PromptExpiresAt.Equal(closedAt.Add(DefaultPromptExpiry)) || conv.MessageCount != 2 {
		t.Fatalf("conversation changed beyond the message: %+v", conv)
	}
	for _, e := range effects {
		if ev, ok := e.(EmitTicketEvent); ok && ev.Type == gateway.TypeTicketContactOptedOut && (ev.Msg == nil || ev.Msg.Body != "STOP" || !ev.Contact.OptedOut) {
			t.Fatalf("opt-out event without its message or flag: %+v", ev)
		}
	}

	// A closed conversation is where the change is published; the keyword
	// does not reopen it (R15 does not apply).
	st = smsState()
	last := &Conversation{ID: 5, ContactID: 9, Kind: KindLiveChat, State: StateClosed, ClosedAt: closedAt.Add(-time.Hour), CreatedAt: t0}
	st.Last = last
	effects = DecideInbound(st, smsMsg("k2", "unsubscribe", closedAt), unstaffed.env(t, closedAt))
	if st.Open != nil || last.State != StateClosed || !same(eventTypes(effects), []string{gateway.TypeTicketContactOptedOut}) {
		t.Fatalf("closed conversation: open %v state %s events %v", st.Open, last.State, eventTypes(effects))
	}

	// Opting out twice changes nothing the second time: no event.
	effects = DecideInbound(st, smsMsg("k3", "STOP", closedAt), unstaffed.env(t, closedAt))
	if len(eventTypes(effects)) != 0 || !st.Contact.OptedOut {
		t.Fatalf("second STOP: %v", eventTypes(effects))
	}
}

func TestR33_KeywordsAreWholeMessagesOnSMSOnly(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		channel gateway.Channel
		text    string
	}{
		{"more words", gateway.ChannelSMS, "stop it"},
		{"punctuation", gateway.ChannelSMS, "STOP."},
		{"inner space", gateway.ChannelSMS, "S TOP"},
		{"whatsapp", gateway.ChannelWhatsApp, "STOP"},
		{"whatsapp cancel", gateway.ChannelWhatsApp, "cancel"},
		{"api", gateway.ChannelAPI, "UNSUBSCRIBE"},
		{"help on whatsapp", gateway.ChannelWhatsApp, "HELP"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := smsState()
			st.Contact.Channel = tc.channel
			in := smsMsg("m1", tc.text, openNow)
			in.Channel = tc.channel
			effects := DecideInbound(st, in, staffed.env(t, openNow))
			if st.Contact.OptedOut || st.Open == nil || count[CreateConversation](effects) != 1 || len(texts(effects)) != 0 {
				t.Fatalf("%s: %q was taken as a keyword: opted out %v, open %v, texts %v", tc.name, tc.text, st.Contact.OptedOut, st.Open, texts(effects))
			}
		})
	}
}

func TestR33_StartOptsBackIn(t *testing.T) {
	t.Parallel()
	for _, text := range []string{"START", "start", " Unstop ", "YES", "yes"} {
		st := smsState()
		st.Contact.OptedOut, st.Contact.OptedOutAt = true, t0
		st.Last = &Conversation{ID: 5, ContactID: 9, Kind: KindTicket, State: StateClosed, ClosedAt: closedAt.Add(-time.Hour), CreatedAt: t0}
		effects := DecideInbound(st, smsMsg("k1", text, closedAt), unstaffed.env(t, closedAt))
		if st.Contact.OptedOut || !st.Contact.OptedOutAt.IsZero() {
			t.Fatalf("%q: still opted out", text)
		}
		if st.Open != nil || len(texts(effects)) != 0 || !same(reasons(effects), []string{"contact_opted_in:keyword"}) {
			t.Fatalf("%q: open %v texts %v events %v", text, st.Open, texts(effects), reasons(effects))
		}
	}
	// START from a contact that is not opted out: stored, nothing else.
	st := smsState()
	effects := DecideInbound(st, smsMsg("k2", "START", closedAt), unstaffed.env(t, closedAt))
	if st.Open != nil || len(eventTypes(effects)) != 0 || len(texts(effects)) != 0 || len(stored(effects)) != 1 {
		t.Fatalf("START while opted in: %v %v", eventTypes(effects), texts(effects))
	}
}

// YES is the prompt's answer (R7) for every contact that is not opted out,
// and an opt-in keyword only for one that is. An opted-out contact is never
// prompted, so the two meet only when STOP came after the prompt: then the
// first YES opts back in and the prompt is still pending; the next YES
// consents.
func TestR33_R7_YesConsentsUnlessTheContactIsOptedOut(t *testing.T) {
	t.Parallel()
	st := smsPrompted(t)
	at := closedAt.Add(time.Minute)
	effects := DecideInbound(st, smsMsg("y1", " yes ", at), unstaffed.env(t, at))
	if st.Open.Intake != IntakeLeaving || st.Open.Kind != KindTicket || st.Contact.OptedOut ||
		!same(eventTypes(effects), []string{gateway.TypeTicketMessageAdded, gateway.TypeTicketIntakeStarted}) {
		t.Fatalf("YES while prompted did not consent: %+v %v", st.Open, eventTypes(effects))
	}

	st = smsPrompted(t)
	DecideInbound(st, smsMsg("k1", "STOP", at), unstaffed.env(t, at))
	at = at.Add(time.Minute)
	effects = DecideInbound(st, smsMsg("y2", "YES", at), unstaffed.env(t, at))
	if st.Contact.OptedOut || st.Open.Intake != IntakePrompted || st.Open.Kind != KindLiveChat ||
		!same(eventTypes(effects), []string{gateway.TypeTicketMessageAdded, gateway.TypeTicketContactOptedIn}) {
		t.Fatalf("YES while opted out: opted out %v, %+v, %v", st.Contact.OptedOut, st.Open, eventTypes(effects))
	}
	at = at.Add(time.Minute)
	effects = DecideInbound(st, smsMsg("y3", "YES", at), unstaffed.env(t, at))
	if st.Open.Intake != IntakeLeaving || !same(eventTypes(effects), []string{gateway.TypeTicketMessageAdded, gateway.TypeTicketIntakeStarted}) {
		t.Fatalf("second YES did not consent: %+v %v", st.Open, eventTypes(effects))
	}
}

func TestR33_HelpAnswersWithTheDepartmentsHelpText(t *testing.T) {
	t.Parallel()
	dep := support()
	dep.Texts["en"] = Texts{OutOfHours: "We are closed.", Help: "Call 0800 123 456."}
	w := world{deps: []Department{dep}}
	for _, text := range []string{"HELP", "help", " Info "} {
		st := smsState()
		effects := DecideInbound(st, smsMsg("h1", text, closedAt), w.env(t, closedAt))
		if st.Open != nil || count[CreateConversation](effects) != 0 || len(eventTypes(effects)) != 0 {
			t.Fatalf("%q opened a conversation: %v", text, eventTypes(effects))
		}
		var send *SendText
		for _, e := range effects {
			if s, ok := e.(SendText); ok {
				send = &s
			}
		}
		if send == nil || send.Kind != TextHelp || send.Outbound.Text != "Call 0800 123 456." || send.Outbound.RequestID != "auto:sms:h1:help" ||
			send.Outbound.From != businessNumber || send.Outbound.To != smsContact || send.Conv != nil {
			t.Fatalf("%q: help text %+v", text, send)
		}
		if ms := stored(effects); len(ms) != 2 || ms[1] != send.Msg || ms[1].Direction != DirectionOutbound || ms[1].Status != gateway.StatusQueued {
			t.Fatalf("%q: stored %+v", text, ms)
		}
	}
	// In an open conversation: the keyword and the answer land in it, the
	// prompt stays pending and is not re-sent (R9 does not apply).
	st := smsPrompted(t)
	at := closedAt.Add(time.Minute)
	effects := DecideInbound(st, smsMsg("h2", "HELP", at), unstaffed.env(t, at))
	if !same(texts(effects), []TextKind{TextHelp}) || st.Open.Intake != IntakePrompted || !st.Open.PromptExpiresAt.Equal(closedAt.Add(DefaultPromptExpiry)) {
		t.Fatalf("HELP while prompted: %v %+v", texts(effects), st.Open)
	}
	if ms := stored(effects); len(ms) != 2 || ms[0].Conv != st.Open || ms[1].Conv != st.Open || ms[1].Seq != 2 {
		t.Fatalf("HELP while prompted stored %+v", ms)
	}
}

func TestR33_NothingIsSentToAnOptedOutContact(t *testing.T) {
	t.Parallel()
	// Out of hours: the message waits in a conversation, no prompt is
	// pending, and the out-of-hours text is stored as refused.
	st := smsState()
	st.Contact.OptedOut = true
	effects := DecideInbound(st, smsMsg("m1", "Is my order shipped?", closedAt), unstaffed.env(t, closedAt))
	if count[SendText](effects) != 0 || st.Open == nil || st.Open.Intake != IntakeNone || !st.Open.PromptExpiresAt.IsZero() {
		t.Fatalf("opted-out contact: sends %d, open %+v", count[SendText](effects), st.Open)
	}
	ms := stored(effects)
	if len(ms) != 2 || ms[1].Direction != DirectionOutbound || ms[1].Status != gateway.StatusFailed ||
		ms[1].ErrorCode != ErrorCodeOptedOut || ms[1].RequestID != "auto:sms:m1:out_of_hours" || ms[1].Conv != st.Open {
		t.Fatalf("refusal not recorded: %+v", ms)
	}
	// HELP: refused too.
	effects = DecideInbound(st, smsMsg("h1", "HELP", closedAt), unstaffed.env(t, closedAt))
	if count[SendText](effects) != 0 || len(stored(effects)) != 2 || stored(effects)[1].ErrorCode != ErrorCodeOptedOut {
		t.Fatalf("HELP to an opted-out contact: %+v", stored(effects))
	}
	// A session that was running when the contact opted out sends nothing
	// when it closes (R12's text is refused).
	st = smsPrompted(t)
	DecideInbound(st, smsMsg("y1", "YES", closedAt), unstaffed.env(t, closedAt))
	DecideInbound(st, smsMsg("k1", "STOP", closedAt), unstaffed.env(t, closedAt))
	due := st.Open.IntakeClosesAt
	effects = DecideTimer(st, Timer{Kind: TimerIntakeClose, Conv: st.Open}, unstaffed.env(t, due))
	if count[SendText](effects) != 0 || len(stored(effects)) != 1 || stored(effects)[0].ErrorCode != ErrorCodeOptedOut {
		t.Fatalf("intake close to an opted-out contact: %+v", effects)
	}
}

func TestR33_ProviderOptOutMarksTheSMSContact(t *testing.T) {
	t.Parallel()
	st := smsState()
	st.Open = &Conversation{ID: 3, ContactID: 9, Kind: KindLiveChat, State: StateUnassigned, CreatedAt: t0}
	effects := DecideProviderOptOut(st, Env{Now: openNow})
	if !st.Contact.OptedOut || !st.Contact.OptedOutAt.Equal(openNow) || count[SaveContact](effects) != 1 ||
		!same(reasons(effects), []string{"contact_opted_out:provider_opted_out"}) {
		t.Fatalf("21610: %+v %v", st.Contact, reasons(effects))
	}
	if effects := DecideProviderOptOut(st, Env{Now: openNow}); len(effects) != 0 {
		t.Fatalf("already opted out: %v", effects)
	}
	wa := smsState()
	wa.Contact.Channel = gateway.ChannelWhatsApp
	if effects := DecideProviderOptOut(wa, Env{Now: openNow}); len(effects) != 0 || wa.Contact.OptedOut {
		t.Fatalf("whatsapp contact marked: %v", effects)
	}
	none := smsState() // no conversation: the flag, no event
	if effects := DecideProviderOptOut(none, Env{Now: openNow}); !none.Contact.OptedOut || len(eventTypes(effects)) != 0 {
		t.Fatalf("no conversation: %v", effects)
	}
}

func TestR33_SpamContactsKeywordSetsTheFlagSilently(t *testing.T) {
	t.Parallel()
	st := smsState()
	st.Contact.Spam = true
	effects := DecideInbound(st, smsMsg("k1", "STOP", closedAt), unstaffed.env(t, closedAt))
	if !st.Contact.OptedOut || len(eventTypes(effects)) != 0 || len(texts(effects)) != 0 || len(stored(effects)) != 1 {
		t.Fatalf("spam STOP: %+v %v", st.Contact, effects)
	}
}

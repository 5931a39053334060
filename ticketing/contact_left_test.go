package ticketing

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway"
)

// liveChat returns a contact chatting with the support department while
// an agent can be reached (R5), and the world the chat is decided in.
func liveChat(t *testing.T) (*ContactState, world) {
	t.Helper()
	dep := support()
	dep.EndKeywords = map[string][]string{"af": {"//klaar"}, "en": {"bye bye"}}
	w := world{deps: []Department{dep}, online: []string{"ann"}}
	st := newState()
	DecideInbound(st, msg("m1", "Hello", openNow), w.env(t, openNow))
	if st.Open == nil || st.Open.Kind != KindLiveChat || st.Open.Intake != IntakeNone {
		t.Fatalf("setup: no live chat: %+v", st.Open)
	}
	return st, w
}

func endChat(id string, at time.Time) gateway.Inbound {
	in := msg(id, "", at)
	in.Kind = gateway.KindEndChat
	return in
}

// R24: a contact ends a live chat with an end keyword (//end always; a
// department's own per language) or the API channel's end_chat. The
// message is stored, the desk is told (contact_left with the reason), the
// contact is told how to come back; the chat stays open.
func TestR24_ContactEndsTheLiveChat(t *testing.T) {
	t.Parallel()
	at := openNow.Add(time.Minute)
	cases := []struct {
		name   string
		lang   string
		in     gateway.Inbound
		reason string // "" when the chat is not ended
	}{
		{"//end", "", msg("m2", "//end", at), ReasonEndKeyword},
		{"//END with spaces", "", msg("m2", " // E N D ", at), ReasonEndKeyword},
		{"the department's keyword of the default language", "", msg("m2", "Bye Bye", at), ReasonEndKeyword},
		{"the department's keyword of the contact's language", "af", msg("m2", "//KLAAR", at), ReasonEndKeyword},
		{"another language's keyword is an ordinary message", "", msg("m2", "//klaar", at), ""},
		{"//end inside a sentence is an ordinary message", "", msg("m2", "I will write //end later", at), ""},
		{"the API channel's end_chat", "", endChat("m2", at), ReasonEndChat},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st, w := liveChat(t)
			st.Contact.LanguageOverride = tc.lang
			effects := DecideInbound(st, tc.in, w.env(t, at))
			conv := st.Open
			if conv == nil || conv.State != StateUnassigned || conv.MessageCount != 2 {
				t.Fatalf("the chat must stay open with the message stored: %+v", conv)
			}
			if tc.reason == "" {
				if !conv.ContactLeftAt.IsZero() || !reflect.DeepEqual(eventTypes(effects), []string{gateway.TypeTicketMessageAdded}) {
					t.Fatalf("ordinary message: left at %v, events %v", conv.ContactLeftAt, eventTypes(effects))
				}
				return
			}
			want := []string{gateway.TypeTicketMessageAdded, gateway.TypeTicketContactLeft, gateway.TypeTicketMessageAdded}
			if !reflect.DeepEqual(eventTypes(effects), want) || !reflect.DeepEqual(reasons(effects), []string{"contact_left:" + tc.reason}) {
				t.Fatalf("events %v reasons %v, want %v with %s", eventTypes(effects), reasons(effects), want, tc.reason)
			}
			if !conv.ContactLeftAt.Equal(at) || !reflect.DeepEqual(texts(effects), []TextKind{TextContactLeft}) {
				t.Fatalf("left at %v, texts %v", conv.ContactLeftAt, texts(effects))
			}
			left := effects[len(effects)-4].(EmitTicketEvent) // contact_left, then the text's message and send
			if left.Msg == nil || left.Msg.ProviderID != "m2" || left.Snapshot.ContactLeftAt.IsZero() {
				t.Fatalf("contact_left %+v", left)
			}
		})
	}
}

// R24: ended again, the message is only stored; the contact's next message
// resumes the same conversation (contact_returned) and replies go out again.
func TestR24_ContactReturnsToTheSameConversation(t *testing.T) {
	t.Parallel()
	st, w := liveChat(t)
	at := openNow.Add(time.Minute)
	DecideInbound(st, msg("m2", "//end", at), w.env(t, at))
	conv := st.Open
	if effects := DecideInbound(st, endChat("m3", at), w.env(t, at)); !reflect.DeepEqual(eventTypes(effects), []string{gateway.TypeTicketMessageAdded}) || len(texts(effects)) != 0 {
		t.Fatalf("ending again: events %v texts %v", eventTypes(effects), texts(effects))
	}
	reply := Command{Type: TypeCommandReply, RequestID: "r", ConversationID: conv.ID, AgentID: "ann", Reply: &Reply{Text: "Still there?"}}
	if d := DecideReply(ReplyInput{Command: reply, Conversation: conv, State: st}, w.env(t, at)); d.Rejection == nil || d.Rejection.Code != CodeContactEndedChat {
		t.Fatalf("reply after the contact left: %+v", d.Rejection)
	}
	// Out of hours by now: the same conversation resumes, and the rules of
	// an open live chat go on (here: the prompt, R6).
	later := closedAt
	effects := DecideInbound(st, msg("m4", "Sorry, one more thing", later), unstaffed.env(t, later))
	if st.Open != conv || !conv.ContactLeftAt.IsZero() || conv.Intake != IntakePrompted {
		t.Fatalf("after writing again: %+v", st.Open)
	}
	if ev := eventTypes(effects); len(ev) < 2 || ev[0] != gateway.TypeTicketContactReturned || ev[1] != gateway.TypeTicketMessageAdded {
		t.Fatalf("events %v, want contact_returned then message_added first", ev)
	}
	if d := DecideReply(ReplyInput{Command: reply, Conversation: conv, State: st}, staffed.env(t, later)); d.Rejection != nil {
		t.Fatalf("reply after the contact returned: %v", d.Rejection)
	}
}

// R24 and R12: in a leave-a-message session //end (and end_chat) keep
// their R12 meaning; while the prompt is pending //end is "anything else"
// (R9) and end_chat declines (R8); with no live chat an end_chat opens
// nothing and //end is an ordinary message.
func TestR24_EndOutsideALiveChat(t *testing.T) {
	t.Parallel()
	at := closedAt.Add(2 * time.Minute)
	cases := []struct {
		name    string
		state   func(t *testing.T) *ContactState
		in      gateway.Inbound
		events  []string
		reasons []string
		texts   []TextKind
		check   func(t *testing.T, st *ContactState)
	}{
		{"//end while leaving messages ends the session (R12)", leaving, msg("m3", "//end", at),
			[]string{gateway.TypeTicketMessageAdded, gateway.TypeTicketIntakeClosed, gateway.TypeTicketMessageAdded},
			[]string{"intake_closed:" + ReasonEndedByContact}, []TextKind{TextIntakeClosed}, nil},
		{"end_chat while leaving messages ends the session too", leaving, endChat("m3", at),
			[]string{gateway.TypeTicketMessageAdded, gateway.TypeTicketIntakeClosed, gateway.TypeTicketMessageAdded},
			[]string{"intake_closed:" + ReasonEndedByContact}, []TextKind{TextIntakeClosed}, nil},
		{"//end while prompted re-sends the prompt (R9)", prompted, msg("m2", "//end", at),
			[]string{gateway.TypeTicketMessageAdded, gateway.TypeTicketMessageAdded}, nil, []TextKind{TextLeaveMessagePrompt}, nil},
		{"end_chat while prompted declines (R8)", prompted, endChat("m2", at),
			[]string{gateway.TypeTicketMessageAdded, gateway.TypeTicketClosed, gateway.TypeTicketMessageAdded},
			[]string{"closed:" + ReasonConsentDeclined}, []TextKind{TextConsentDeclined}, nil},
		{"end_chat with an open ticket is kept in it", func(*testing.T) *ContactState { return openTicket(StateUnassigned) }, endChat("m9", at),
			[]string{gateway.TypeTicketMessageAdded}, nil, nil, func(t *testing.T, st *ContactState) {
				if st.Open.State != StateUnassigned || st.Open.Kind != KindTicket || !st.Open.ContactLeftAt.IsZero() {
					t.Fatalf("ticket %+v", st.Open)
				}
			}},
		{"end_chat without a conversation opens none", func(*testing.T) *ContactState { return newState() }, endChat("m1", at),
			nil, nil, nil, func(t *testing.T, st *ContactState) {
				if st.Open != nil {
					t.Fatalf("opened %+v", st.Open)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := tc.state(t)
			effects := DecideInbound(st, tc.in, unstaffed.env(t, at))
			if !reflect.DeepEqual(eventTypes(effects), tc.events) || !reflect.DeepEqual(reasons(effects), tc.reasons) ||
				!reflect.DeepEqual(texts(effects), tc.texts) {
				t.Fatalf("events %v reasons %v texts %v\nwant   %v %v %v", eventTypes(effects), reasons(effects), texts(effects), tc.events, tc.reasons, tc.texts)
			}
			if tc.check != nil {
				tc.check(t, st)
			}
		})
	}
}

func TestR24_EndKeywordValidation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		keywords map[string][]string
		problem  string // "" when valid
	}{
		{map[string][]string{"pt-br": {"//fim"}}, ""},
		{map[string][]string{"xx-yy-zz": {"//fim"}}, "end_keywords.xx-yy-zz: unknown language"},
		{map[string][]string{"en": {" "}}, "end_keywords.en[0]: empty keyword"},
		{map[string][]string{"en": {"y e s"}}, "answers the leave-a-message prompt"},
		{map[string][]string{"en": {"stop"}}, "SMS opt-out, opt-in or help keyword"},
		{map[string][]string{"en": {"//" + strings.Repeat("x", MaxEndKeywordLen)}}, "longer than"},
	} {
		t.Run(fmt.Sprint(tc.keywords), func(t *testing.T) {
			d := support()
			d.EndKeywords = tc.keywords
			err := d.Validate()
			switch {
			case tc.problem == "" && err != nil:
				t.Errorf("%v: %v", tc.keywords, err)
			case tc.problem != "" && (err == nil || !strings.Contains(err.Error(), tc.problem)):
				t.Errorf("%v: %v, want a problem %q", tc.keywords, err, tc.problem)
			}
			if tc.problem == "" && d.EndKeywords["pt_BR"] == nil {
				t.Errorf("languages not normalized: %v", d.EndKeywords)
			}
		})
	}
}

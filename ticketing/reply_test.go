package ticketing

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/testkit"
	"github.com/chatgate/chatgate/templates"
)

// The reply tests run at replyNow; the contact last wrote at wrote, so on
// WhatsApp its window is open until wrote+24h.
var (
	wrote    = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	replyNow = wrote.Add(2 * time.Hour)
	late     = wrote.Add(30 * time.Hour) // the window closed 6 hours earlier
)

const contentSID = "HX0123456789abcdef0123456789abcdef"

func tpl(name, lang string, scope templates.ChannelScope, status templates.Status, version int, body string) *templates.Template {
	return &templates.Template{
		Name: name, Language: lang, Category: templates.CategoryUtility, Channel: scope,
		Body: body, Status: status, Version: version, Twilio: templates.TwilioRef{ContentSID: contentSID},
	}
}

func liveLookup(t *templates.Template) TemplateLookup { return TemplateLookup{Current: t, Live: t} }

var shipped = tpl("order_shipped", "en", templates.ScopeAny, templates.StatusApproved, 1, "Hi {{1}}, order {{2}} has shipped.")

func textReply(text string) Command {
	return Command{Type: TypeCommandReply, RequestID: "r-1", ConversationID: 7, AgentID: "ann", Reply: &Reply{Text: text}}
}

func templateReply(name string, vars map[string]string) Command {
	return Command{Type: TypeCommandReply, RequestID: "r-1", ConversationID: 7, AgentID: "ann",
		Reply: &Reply{Template: &TemplateReply{Name: name, Language: "en", Variables: vars}}}
}

// replyState is contact 1 on channel with conversation 7 in state s.
func replyState(channel gateway.Channel, s State) (*ContactState, *Conversation) {
	c := &Contact{ID: 1, Channel: channel, Address: "+27821234567", LastInboundAt: wrote, Language: "en"}
	conv := &Conversation{ID: 7, ContactID: 1, Kind: KindLiveChat, State: s, MessageCount: 3, LastInboundAt: wrote,
		BusinessAddress: businessNumber, DepartmentID: "support", CreatedAt: wrote}
	st := &ContactState{Contact: c}
	if s.Open() {
		st.Open = conv
	} else {
		conv.ClosedAt, conv.CloseReason = wrote.Add(time.Hour), "resolved"
		st.Last = conv
	}
	return st, conv
}

func sendOf(t *testing.T, effects []Effect) SendText {
	t.Helper()
	var sends []SendText
	for _, e := range effects {
		if s, ok := e.(SendText); ok {
			sends = append(sends, s)
		}
	}
	if len(sends) != 1 {
		t.Fatalf("%d sends in %v, want 1", len(sends), effects)
	}
	return sends[0]
}

func replyEventTypes(effects []Effect) []string {
	var out []string
	for _, e := range effects {
		if ev, ok := e.(EmitTicketEvent); ok {
			out = append(out, ev.Type)
		}
	}
	return out
}

func TestR28_FreeTextOnlyInsideTheWindow(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		channel gateway.Channel
		wrote   time.Time
		now     time.Time
		code    string // "" accepted
	}{
		{"whatsapp inside the window", gateway.ChannelWhatsApp, wrote, replyNow, ""},
		{"whatsapp 1ns before 24h", gateway.ChannelWhatsApp, wrote, wrote.Add(24*time.Hour - time.Nanosecond), ""},
		{"whatsapp exactly 24h", gateway.ChannelWhatsApp, wrote, wrote.Add(24 * time.Hour), CodeTemplateRequired},
		{"whatsapp 1ns after 24h", gateway.ChannelWhatsApp, wrote, wrote.Add(24*time.Hour + time.Nanosecond), CodeTemplateRequired},
		{"whatsapp contact never wrote", gateway.ChannelWhatsApp, time.Time{}, replyNow, CodeTemplateRequired},
		{"sms has no window", gateway.ChannelSMS, wrote, late, ""},
		{"api has no window", gateway.ChannelAPI, time.Time{}, late, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st, conv := replyState(tc.channel, StateUnassigned)
			st.Contact.LastInboundAt = tc.wrote
			d := DecideReply(ReplyInput{Command: textReply("Your parcel left today."), Conversation: conv, State: st}, Env{Now: tc.now})
			if d.Err != nil {
				t.Fatal(d.Err)
			}
			if tc.code != "" {
				if d.Rejection == nil || d.Rejection.Code != tc.code || len(d.Effects) != 0 {
					t.Fatalf("decision = %+v, want rejection %s and no effects", d, tc.code)
				}
				r := d.Rejection
				if !errors.Is(r, ErrTemplateRequired) || r.Templates == nil || r.Channel != tc.channel || r.Language != "en" {
					t.Fatalf("rejection %+v: want the offers' channel and language and an (empty) offer list", r)
				}
				if tc.wrote.IsZero() != (r.WindowClosedAt == nil) {
					t.Fatalf("window_closed_at = %v for last inbound %v", r.WindowClosedAt, tc.wrote)
				}
				if r.WindowClosedAt != nil && !r.WindowClosedAt.Equal(tc.wrote.Add(24*time.Hour)) {
					t.Fatalf("window_closed_at = %v, want %v", r.WindowClosedAt, tc.wrote.Add(24*time.Hour))
				}
				return
			}
			if d.Rejection != nil {
				t.Fatalf("rejected: %v", d.Rejection)
			}
			send := sendOf(t, d.Effects)
			o := send.Outbound
			if o.Text != "Your parcel left today." || o.Template != nil || o.RequestID != "desk:r-1" || o.To != "+27821234567" ||
				o.From != businessNumber || o.Channel != tc.channel || send.Msg != d.Message || send.Conv != conv {
				t.Fatalf("send = %+v", send)
			}
			m := d.Message
			if m.Direction != DirectionOutbound || m.SentBy != "agent:ann" || m.RequestID != "desk:r-1" || m.Conv != conv ||
				m.Seq != 3 || m.Status != gateway.StatusQueued || m.Body != o.Text {
				t.Fatalf("message = %+v", m)
			}
			if got := replyEventTypes(d.Effects); !reflect.DeepEqual(got, []string{gateway.TypeTicketMessageAdded}) {
				t.Fatalf("events = %v", got)
			}
			if conv.MessageCount != 3 || !conv.LastMessageAt.Equal(tc.now) || conv.State != StateUnassigned {
				t.Fatalf("conversation = %+v", conv)
			}
		})
	}
}

func TestR29_TemplateReplies(t *testing.T) {
	t.Parallel()
	draftEdit := tpl("order_shipped", "en", templates.ScopeAny, templates.StatusDraft, 2, "Hello {{1}}: {{2}} shipped.")
	vars := map[string]string{"1": "Ana", "2": "A-17"}
	for _, tc := range []struct {
		name    string
		channel gateway.Channel
		cmd     Command
		lookup  TemplateLookup
		code    string
		check   func(t *testing.T, r *Rejection)
	}{
		{name: "approved template outside the window", channel: gateway.ChannelWhatsApp, cmd: templateReply("order_shipped", vars), lookup: liveLookup(shipped)},
		{name: "the live version is sent while an edit waits", channel: gateway.ChannelWhatsApp, cmd: templateReply("order_shipped", vars),
			lookup: TemplateLookup{Current: draftEdit, Live: shipped}},
		{name: "unknown template", channel: gateway.ChannelWhatsApp, cmd: templateReply("nope", vars), code: CodeTemplateNotFound},
		{name: "draft template", channel: gateway.ChannelWhatsApp, cmd: templateReply("order_shipped", vars),
			lookup: TemplateLookup{Current: draftEdit}, code: CodeTemplateNotApproved,
			check: func(t *testing.T, r *Rejection) {
				if r.TemplateStatus != templates.StatusDraft {
					t.Fatalf("template_status = %q", r.TemplateStatus)
				}
			}},
		{name: "sms template on whatsapp", channel: gateway.ChannelWhatsApp, cmd: templateReply("order_shipped", vars),
			lookup: liveLookup(tpl("order_shipped", "en", templates.ScopeSMS, templates.StatusApproved, 1, "Hi {{1}}, {{2}}")), code: CodeTemplateNotForChannel},
		{name: "missing, extra and empty variables", channel: gateway.ChannelWhatsApp,
			cmd: templateReply("order_shipped", map[string]string{"1": " ", "3": "x"}), lookup: liveLookup(shipped), code: CodeInvalidVariables,
			check: func(t *testing.T, r *Rejection) {
				want := &templates.VariableError{Missing: []string{"2"}, Extra: []string{"3"}, Empty: []string{"1"}}
				if diff := cmp.Diff(want, r.Variables); diff != "" {
					t.Fatalf("variables (-want +got):\n%s", diff)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st, conv := replyState(tc.channel, StateAssigned)
			d := DecideReply(ReplyInput{Command: tc.cmd, Conversation: conv, State: st, Template: tc.lookup}, Env{Now: late})
			if d.Err != nil {
				t.Fatal(d.Err)
			}
			if tc.code != "" {
				if d.Rejection == nil || d.Rejection.Code != tc.code || len(d.Effects) != 0 {
					t.Fatalf("decision = %+v, want rejection %s", d, tc.code)
				}
				if tc.check != nil {
					tc.check(t, d.Rejection)
				}
				return
			}
			if d.Rejection != nil {
				t.Fatalf("rejected: %v", d.Rejection)
			}
			o := sendOf(t, d.Effects).Outbound
			if o.Text != "Hi Ana, order A-17 has shipped." || d.Message.Body != o.Text {
				t.Fatalf("text = %q", o.Text)
			}
			ot := o.Template
			if ot == nil || ot.Name != "order_shipped" || ot.Language != "en" || ot.TwilioContentSID != contentSID ||
				ot.TwilioContentVariables != `{"1":"Ana","2":"A-17"}` {
				t.Fatalf("outbound template = %+v", ot)
			}
			var wa templates.WhatsAppTemplate
			if err := json.Unmarshal(ot.WhatsApp, &wa); err != nil || wa.Name != "order_shipped" || wa.Language.Code != "en" ||
				len(wa.Components) != 1 || wa.Components[0].Parameters[1].Text != "A-17" {
				t.Fatalf("whatsapp template = %s (%v)", ot.WhatsApp, err)
			}
			if *d.Template != (TemplateRef{Name: "order_shipped", Language: "en", Version: 1}) {
				t.Fatalf("template ref = %+v", d.Template)
			}
		})
	}
}

func TestR29_TemplateLookupFailureLeavesTheCommandUndecided(t *testing.T) {
	t.Parallel()
	st, conv := replyState(gateway.ChannelWhatsApp, StateAssigned)
	boom := errors.New("templates unavailable")
	d := DecideReply(ReplyInput{Command: templateReply("order_shipped", nil), Conversation: conv, State: st, Template: TemplateLookup{Err: boom}}, Env{Now: late})
	if !errors.Is(d.Err, boom) || d.Rejection != nil || len(d.Effects) != 0 {
		t.Fatalf("decision = %+v, want the lookup error", d)
	}
}

func TestReplyRefusals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		setup func(st *ContactState, conv *Conversation) *Conversation
		code  string
		check func(t *testing.T, r *Rejection)
	}{
		{"unknown conversation", func(*ContactState, *Conversation) *Conversation { return nil }, CodeConversationNotFound, nil},
		{"R16 spam contact", func(st *ContactState, c *Conversation) *Conversation { st.Contact.Spam = true; return c }, CodeContactSpam, nil},
		{"R33 opted-out contact", func(st *ContactState, c *Conversation) *Conversation { st.Contact.OptedOut = true; return c }, CodeContactOptedOut, nil},
		{"deleted conversation", func(st *ContactState, c *Conversation) *Conversation {
			c.State, st.Open, st.Last = StateDeleted, nil, c
			return c
		}, CodeConversationClosed, func(t *testing.T, r *Rejection) {
			if r.State != StateDeleted {
				t.Fatalf("state = %q", r.State)
			}
		}},
		{"R24 contact ended the live chat", func(st *ContactState, c *Conversation) *Conversation {
			c.ContactLeftAt = wrote
			return c
		}, CodeContactEndedChat, nil},
		{"closed conversation of a contact with an open one", func(st *ContactState, c *Conversation) *Conversation {
			old := &Conversation{ID: 3, ContactID: 1, Kind: KindTicket, State: StateClosed, ClosedAt: wrote}
			return old
		}, CodeConversationClosed, func(t *testing.T, r *Rejection) {
			if r.OpenConversationID != 7 || r.State != StateClosed {
				t.Fatalf("rejection = %+v, want the open conversation 7", r)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st, conv := replyState(gateway.ChannelWhatsApp, StateUnassigned)
			target := tc.setup(st, conv)
			d := DecideReply(ReplyInput{Command: textReply("hello"), Conversation: target, State: st}, Env{Now: replyNow})
			if d.Err != nil || d.Rejection == nil || d.Rejection.Code != tc.code || len(d.Effects) != 0 {
				t.Fatalf("decision = %+v, want rejection %s", d, tc.code)
			}
			if !errors.Is(d.Rejection, ErrCommandRejected) {
				t.Fatal("a rejection must match ErrCommandRejected")
			}
			if tc.check != nil {
				tc.check(t, d.Rejection)
			}
		})
	}
}

func TestR24_IntakeEndedByContactStillTakesReplies(t *testing.T) {
	t.Parallel()
	// //end ends a message-leaving session, not a live chat: the ticket
	// waits for an agent, whose reply must go out (R12).
	st := leaving(t)
	at := closedAt.Add(2 * time.Minute)
	DecideInbound(st, msg("m3", "//end", at), unstaffed.env(t, at))
	conv := st.Open
	if conv == nil || conv.Kind != KindTicket || conv.Intake != IntakeNone || !conv.ContactLeftAt.IsZero() {
		t.Fatalf("after //end: %+v", conv)
	}
	cmd := textReply("We are on it.")
	cmd.ConversationID = conv.ID
	if d := DecideReply(ReplyInput{Command: cmd, Conversation: conv, State: st}, unstaffed.env(t, at)); d.Rejection != nil {
		t.Fatalf("rejected: %v", d.Rejection)
	}
}

func TestR31_ReachingOutFromAClosedConversation(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"1": "Ana", "2": "A-17"}
	for _, tc := range []struct {
		name    string
		channel gateway.Channel
		cmd     Command
		code    string
	}{
		{"whatsapp template starts a new conversation", gateway.ChannelWhatsApp, templateReply("order_shipped", vars), ""},
		{"whatsapp free text outside the window needs a template", gateway.ChannelWhatsApp, textReply("Are you there?"), CodeTemplateRequired},
		{"sms free text starts a new conversation", gateway.ChannelSMS, textReply("Are you there?"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st, closed := replyState(tc.channel, StateClosed)
			in := ReplyInput{Command: tc.cmd, Conversation: closed, State: st, Template: liveLookup(shipped)}
			d := DecideReply(in, Env{Now: late})
			if tc.code != "" {
				if d.Rejection == nil || d.Rejection.Code != tc.code {
					t.Fatalf("decision = %+v, want %s", d, tc.code)
				}
				return
			}
			if d.Rejection != nil || d.Err != nil {
				t.Fatalf("decision = %+v", d)
			}
			conv := d.Conversation
			if conv == closed || conv.State != StateClosed || conv.CloseReason != ReasonAwaitingContact || !conv.ClosedAt.Equal(late) ||
				conv.Kind != KindLiveChat || conv.BusinessAddress != businessNumber || conv.DepartmentID != "support" || conv.ContactID != 1 {
				t.Fatalf("outreach conversation = %+v", conv)
			}
			if count[CreateConversation](d.Effects) != 1 || st.Last != conv || st.Open != nil {
				t.Fatalf("effects %v, state %+v: want one new conversation, the contact's latest", d.Effects, st)
			}
			if got := replyEventTypes(d.Effects); !reflect.DeepEqual(got, []string{gateway.TypeTicketCreated, gateway.TypeTicketMessageAdded}) {
				t.Fatalf("events = %v", got)
			}
			if s := sendOf(t, d.Effects); s.Conv != conv || s.Outbound.From != businessNumber {
				t.Fatalf("send = %+v", s)
			}

			// A second outreach before the contact answers joins it.
			in.Command.RequestID = "r-2"
			again := DecideReply(in, Env{Now: late.Add(time.Hour)})
			if again.Rejection != nil || again.Conversation != conv || count[CreateConversation](again.Effects) != 0 ||
				!conv.ClosedAt.Equal(late.Add(time.Hour)) {
				t.Fatalf("second outreach = %+v, want it in conversation %+v", again, conv)
			}
		})
	}
}

func TestCommandValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		cmd    Command
		code   string
		fields []string
	}{
		{"valid text", textReply("hi"), "", nil},
		{"valid template", templateReply("order_shipped", nil), "", nil},
		{"everything missing", Command{Type: TypeCommandReply}, CodeInvalidCommand, []string{"request_id", "conversation_id", "agent_id", "text"}},
		{"blank text", textReply("  "), CodeInvalidCommand, []string{"text"}},
		{"text and template", Command{Type: TypeCommandReply, RequestID: "r", ConversationID: 1, AgentID: "a",
			Reply: &Reply{Text: "x", Template: &TemplateReply{Name: "n", Language: "en"}}}, CodeInvalidCommand, []string{"text"}},
		{"template without name and language", Command{Type: TypeCommandReply, RequestID: "r", ConversationID: 1, AgentID: "a",
			Reply: &Reply{Template: &TemplateReply{}}}, CodeInvalidCommand, []string{"template.name", "template.language"}},
		{"bad language", Command{Type: TypeCommandReply, RequestID: "r", ConversationID: 1, AgentID: "a",
			Reply: &Reply{Template: &TemplateReply{Name: "n", Language: "english!"}}}, CodeInvalidCommand, []string{"template.language"}},
		{"unknown type", Command{Type: "chatgate.command.dance", RequestID: "r", ConversationID: 1, AgentID: "a"}, CodeUnsupportedCommand, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := tc.cmd.Validate()
			if tc.code == "" {
				if r != nil {
					t.Fatalf("Validate = %v", r)
				}
				return
			}
			if r == nil || r.Code != tc.code {
				t.Fatalf("Validate = %v, want %s", r, tc.code)
			}
			var fields []string
			for _, f := range r.Fields {
				fields = append(fields, f.Field)
			}
			if !reflect.DeepEqual(fields, tc.fields) {
				t.Fatalf("fields = %v, want %v", fields, tc.fields)
			}
		})
	}
}

func TestCommandRecordRoundTrip(t *testing.T) {
	t.Parallel()
	cmd := templateReply("order_shipped", map[string]string{"1": "Ana"})
	m, err := cmd.Record("desk", "chatgate.commands", replyNow)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Key) != "7" {
		t.Fatalf("key = %q, want the conversation id", m.Key)
	}
	got, err := DecodeCommand(m)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(cmd, got, testkit.ExactTime); diff != "" {
		t.Fatalf("decoded (-want +got):\n%s", diff)
	}
	m.Key = []byte("8")
	if _, err := DecodeCommand(m); err == nil {
		t.Fatal("a command keyed by another conversation must not decode")
	}
}

func TestCommandFingerprint(t *testing.T) {
	t.Parallel()
	a := templateReply("order_shipped", map[string]string{"1": "Ana", "2": "A-17"})
	b := templateReply("order_shipped", map[string]string{"2": "A-17", "1": "Ana"})
	b.Template.Language = "EN"
	if a.Fingerprint() != b.Fingerprint() {
		t.Fatal("the same command spelt differently must have one fingerprint")
	}
	c := templateReply("order_shipped", map[string]string{"1": "Ana", "2": "A-18"})
	if a.Fingerprint() == c.Fingerprint() || textReply("a").Fingerprint() == textReply("b").Fingerprint() {
		t.Fatal("different commands must have different fingerprints")
	}
}

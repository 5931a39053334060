package ticketing

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway"
)

// lisbon is a department for Portuguese and Brazilian contacts: its
// default language is English, its numbers' prefixes say otherwise.
func lisbon() Department {
	d := support()
	d.LanguagesByPrefix = map[string]string{"+351": "pt-pt", "+55": "pt_BR", "+5511": "es"}
	d.Texts = map[string]Texts{
		"en":    {OutOfHours: "We are closed."},
		"pt_PT": {OutOfHours: "Estamos fechados."},
		"pt_BR": {OutOfHours: "Estamos fechados, volte amanhã."},
	}
	return d
}

// R34: a contact's language is the profile's, else the channel's, else
// the department's mapping of number prefixes (longest wins), else the
// department's default; the choice and its source are on the contact and
// in every snapshot, and they pick the texts.
func TestR34_ContactLanguageAndItsSource(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name               string
		address, override  string
		channel            string // Inbound.Language
		deps               []Department
		wantLang, wantText string
		wantSource         LanguageSource
	}{
		{"the department's default", "+27821234567", "", "", nil, "en", "We are closed.", LanguageFromDepartmentDefault},
		{"a Portuguese number", "+351912345678", "", "", nil, "pt_PT", "Estamos fechados.", LanguageFromNumberPrefix},
		{"a Brazilian number", "+5521987654321", "", "", nil, "pt_BR", "Estamos fechados, volte amanhã.", LanguageFromNumberPrefix},
		{"the longest prefix wins", "+5511987654321", "", "", nil, "es", "We are closed.", LanguageFromNumberPrefix},
		{"the channel's language wins over the prefix", "+351912345678", "", "pt_BR", nil, "pt_BR", "Estamos fechados, volte amanhã.", LanguageFromChannel},
		{"the profile wins over the channel", "+351912345678", "en", "pt_BR", nil, "en", "We are closed.", LanguageFromProfile},
		// Without departments an agent can always be reached: no text.
		{"no department: unknown", "+351912345678", "", "", []Department{}, "", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			deps := tc.deps
			if deps == nil {
				deps = []Department{lisbon()}
			}
			w := world{deps: deps}
			env := w.env(t, closedAt)
			if len(deps) == 0 {
				env.Directory = nil
			}
			st := newState()
			st.Contact.Address, st.Contact.LanguageOverride = tc.address, tc.override
			in := msg("m1", "Olá", closedAt)
			in.From, in.Language = tc.address, tc.channel
			effects := DecideInbound(st, in, env)
			c := st.Contact
			if c.Language != tc.wantLang || c.LanguageSource != tc.wantSource {
				t.Fatalf("language %q from %q, want %q from %q", c.Language, c.LanguageSource, tc.wantLang, tc.wantSource)
			}
			var sent []string
			for _, e := range effects {
				switch e := e.(type) {
				case SendText:
					sent = append(sent, e.Outbound.Text)
				case EmitTicketEvent:
					if cv := Snapshot(e.Snapshot, e.Contact).Contact; cv.Language != tc.wantLang || cv.LanguageSource != string(tc.wantSource) {
						t.Fatalf("%s shows the contact %+v", e.Type, cv)
					}
				}
			}
			if (tc.wantText == "") != (len(sent) == 0) || (len(sent) > 0 && sent[0] != tc.wantText) {
				t.Fatalf("texts %q, want %q first", sent, tc.wantText)
			}
			if tc.channel != "" && c.ChannelLanguage != tc.channel {
				t.Fatalf("channel language %q not kept", c.ChannelLanguage)
			}
		})
	}
}

// R34: a message without a language keeps the one the channel reported
// before; the templates offered on template_required follow the language.
func TestR34_LanguageIsKeptAndPicksTheTemplatesOffered(t *testing.T) {
	t.Parallel()
	w := world{deps: []Department{lisbon()}, online: []string{"ann"}}
	st := newState()
	st.Contact.Channel, st.Contact.Address = gateway.ChannelWhatsApp, "+27821234567"
	first := msg("m1", "Olá", openNow)
	first.Channel, first.From, first.Language = gateway.ChannelWhatsApp, "+27821234567", "pt_BR"
	DecideInbound(st, first, w.env(t, openNow))
	second := first
	second.ProviderID, second.Language = "m2", ""
	DecideInbound(st, second, w.env(t, openNow))
	if st.Contact.Language != "pt_BR" || st.Contact.LanguageSource != LanguageFromChannel {
		t.Fatalf("after a message without language: %q from %q", st.Contact.Language, st.Contact.LanguageSource)
	}
	later := openNow.Add(25 * time.Hour)
	reply := Command{Type: TypeCommandReply, RequestID: "r", ConversationID: st.Open.ID, AgentID: "ann", Reply: &Reply{Text: "Olá!"}}
	d := DecideReply(ReplyInput{Command: reply, Conversation: st.Open, State: st}, w.env(t, later))
	if d.Rejection == nil || d.Rejection.Code != CodeTemplateRequired || d.Rejection.Language != "pt_BR" {
		t.Fatalf("rejection %+v, want template_required for pt_BR", d.Rejection)
	}
}

// R34: a desk or ops sets (or removes) the language on the contact's
// profile: the contact is saved and contact_updated published on its
// current conversation with the actor; the same language again changes
// nothing.
func TestR34_ProfileOverride(t *testing.T) {
	t.Parallel()
	w := world{deps: []Department{lisbon()}}
	st := newState()
	st.Contact.Address = "+351912345678"
	DecideInbound(st, msg("m1", "Olá", closedAt), w.env(t, closedAt))
	actor := Actor{Role: ActorOps}
	effects := DecideContactLanguage(st, "en", actor, w.env(t, closedAt))
	if st.Contact.Language != "en" || st.Contact.LanguageSource != LanguageFromProfile || count[SaveContact](effects) != 1 {
		t.Fatalf("after the override: %+v, %d saves", st.Contact, count[SaveContact](effects))
	}
	if !reflect.DeepEqual(eventTypes(effects), []string{gateway.TypeTicketContactUpdated}) || !reflect.DeepEqual(reasons(effects), []string{"contact_updated:language"}) {
		t.Fatalf("events %v %v", eventTypes(effects), reasons(effects))
	}
	if ev := effects[len(effects)-1].(EmitTicketEvent); ev.Desk == nil || ev.Desk.Actor.Role != ActorOps || ev.Contact.Language != "en" {
		t.Fatalf("event %+v", ev)
	}
	if again := DecideContactLanguage(st, "en", actor, w.env(t, closedAt)); len(again) != 0 {
		t.Fatalf("the same language again: %v", again)
	}
	DecideContactLanguage(st, "", actor, w.env(t, closedAt))
	if st.Contact.Language != "pt_PT" || st.Contact.LanguageSource != LanguageFromNumberPrefix {
		t.Fatalf("after removing the override: %q from %q", st.Contact.Language, st.Contact.LanguageSource)
	}
	// A contact without any conversation is only saved.
	alone := newState()
	if e := DecideContactLanguage(alone, "af", actor, w.env(t, closedAt)); len(eventTypes(e)) != 0 || count[SaveContact](e) != 1 || alone.Contact.Language != "af" {
		t.Fatalf("contact without conversation: %v %+v", eventTypes(e), alone.Contact)
	}
}

func TestR34_LanguagesByPrefixValidation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		prefixes map[string]string
		problem  string
	}{
		{map[string]string{"+351": "pt-pt"}, ""},
		{map[string]string{"351": "pt_PT"}, "languages_by_prefix.351: not a number prefix"},
		{map[string]string{"+35a": "pt_PT"}, "not a number prefix"},
		{map[string]string{"+": "pt_PT"}, "not a number prefix"},
		{map[string]string{"+351": "portuguese"}, `languages_by_prefix.+351: unknown language "portuguese"`},
	} {
		t.Run(fmt.Sprint(tc.prefixes), func(t *testing.T) {
			d := support()
			d.LanguagesByPrefix = tc.prefixes
			err := d.Validate()
			switch {
			case tc.problem == "" && (err != nil || d.LanguagesByPrefix["+351"] != "pt_PT"):
				t.Errorf("%v: %v, normalized %v", tc.prefixes, err, d.LanguagesByPrefix)
			case tc.problem != "" && (err == nil || !strings.Contains(err.Error(), tc.problem)):
				t.Errorf("%v: %v, want %q", tc.prefixes, err, tc.problem)
			}
		})
	}
}

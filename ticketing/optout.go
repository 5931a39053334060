package ticketing

import (
	"errors"
	"strings"
	"time"

	"github.com/chatgate/chatgate/gateway"
)

// Opt-out changes (R33) are published as gateway.TypeTicketContactOptedOut
// and TypeTicketContactOptedIn on the contact's open conversation, else on
// its most recent one; a contact with no conversation at all has nothing a
// desk could show, and the change is only stored on the contact.

// Reasons of opt-out events.
const (
	// ReasonKeyword: the contact sent an opt-out or opt-in keyword; the
	// event's message is that keyword when it landed in the conversation.
	ReasonKeyword = "keyword"
	// ReasonProviderOptedOut: the provider refused a send because the
	// contact had opted out with it (Twilio 21610).
	ReasonProviderOptedOut = "provider_opted_out"
)

// ErrorCodeOptedOut is the error code of an outbound message refused before
// sending because its contact opted out (R33).
const ErrorCodeOptedOut = "opted_out"

// TwilioOptedOutCode is Twilio's error for a send to a number that replied
// STOP to the sender; a failed status with it marks an SMS contact opted out.
const TwilioOptedOutCode = "21610"

// ErrOptedOut refuses a send to an opted-out contact (R33). Desk replies and
// templates must check Contact.OptedOut and refuse with it, as the
// auto-responders do.
var ErrOptedOut = errors.New("the contact opted out: nothing is sent until it replies START")

// Senders of outbound messages (Message.SentBy) chatgate itself sets.
const (
	// SentBySystem marks chatgate's own texts: auto-responders, prompts,
	// confirmations (R37). Stored before 0009 as "auto".
	SentBySystem = "system"
	SentByPhone  = "phone" // sent from the business's own WhatsApp phone
)

type keyword int

const (
	keywordNone keyword = iota
	keywordOptOut
	keywordOptIn
	keywordHelp
)

// optOutKeywords are the SMS industry's (and Twilio's) opt-out words;
// optInKeywords opt back in. YES is an opt-in keyword only for an opted-out
// contact: for everyone else it answers the leave-a-message prompt (R7).
var (
	optOutKeywords = map[string]bool{"STOP": true, "STOPALL": true, "UNSUBSCRIBE": true, "CANCEL": true,
		"END": true, "QUIT": true, "REVOKE": true, "OPTOUT": true}
	optInKeywords = map[string]bool{"START": true, "UNSTOP": true}
	helpKeywords  = map[string]bool{"HELP": true, "INFO": true}
)

// OptOutChannel reports whether keywords opt contacts out on channel ch: on
// SMS, where carriers and Twilio define them. Not on WhatsApp, where a
// contact blocks the business in the app and "cancel" or "end" alone are
// ordinary requests to a support desk, nor on the API channel, whose front
// end has its own controls.
func OptOutChannel(ch gateway.Channel) bool { return ch == gateway.ChannelSMS }

// keywordOf classifies a message of contact c: the whole text, trimmed and
// in any case, is one of the keywords, on an opt-out channel.
func keywordOf(c *Contact, in gateway.Inbound) keyword {
	if !OptOutChannel(in.Channel) || in.EffectiveKind() != gateway.KindText {
		return keywordNone
	}
	word := strings.ToUpper(strings.TrimSpace(in.Text))
	switch {
	case optOutKeywords[word]:
		return keywordOptOut
	case optInKeywords[word], word == "YES" && c.OptedOut:
		return keywordOptIn
	case helpKeywords[word]:
		return keywordHelp
	}
	return keywordNone
}

// keyword handles an SMS keyword (R33). The message lands in the open
// conversation like a reaction would (no wake-up, no session step, no
// timer moved) or, without one, outside any conversation; STOP and START
// change the contact's flag and publish the change; HELP is answered with
// the department's help text.
func (d *decider) keyword(kw keyword, in gateway.Inbound) {
	conv, msg := d.keywordMessage(in)
	switch kw {
	case keywordOptOut, keywordOptIn:
		if !d.setOptedOut(kw == keywordOptOut) {
			return
		}
		typ := gateway.TypeTicketContactOptedIn
		if kw == keywordOptOut {
			typ = gateway.TypeTicketContactOptedOut
		}
		if target := d.current(); target != nil {
			var m *Message
			if target == conv {
				m = msg
			}
			d.emit(typ, target, m, ReasonKeyword)
		}
	case keywordHelp:
		dep := d.env.Directory.Route(in.To, in.Text)
		if c := d.current(); c != nil && c.DepartmentID != "" {
			dep = d.env.Directory.Get(c.DepartmentID)
		}
		from := in.To
		if conv != nil && conv.BusinessAddress != "" {
			from = conv.BusinessAddress
		}
		d.sendText(conv, dep, from, TextHelp, in.ProviderID)
	}
}

// keywordMessage stores a keyword message in the open conversation (with
// its message_added event), or alone when none is open.
func (d *decider) keywordMessage(in gateway.Inbound) (*Conversation, *Message) {
	conv := d.st.Open
	if conv == nil {
		msg := d.message(nil, in)
		d.effects = append(d.effects, StoreMessage{Msg: msg})
		return nil, msg
	}
	msg := d.addMessage(conv, in)
	d.save(conv)
	d.emit(gateway.TypeTicketMessageAdded, conv, msg, "")
	return conv, msg
}

// current returns the contact's open conversation, else its last one.
func (d *decider) current() *Conversation {
	if d.st.Open != nil {
		return d.st.Open
	}
	return d.st.Last
}

// setOptedOut sets the contact's flag and reports whether it changed. The
// contact is saved by touchContact's SaveContact (the same pointer).
func (d *decider) setOptedOut(out bool) bool {
	c := d.st.Contact
	if c.OptedOut == out {
		return false
	}
	c.OptedOut, c.OptedOutAt, c.UpdatedAt = out, time.Time{}, d.now
	if out {
		c.OptedOutAt = d.now
	}
	return true
}

// DecideProviderOptOut applies a failed status with the provider's opt-out
// code (TwilioOptedOutCode) to the contact in st: on an opt-out channel the
// contact is marked opted out, as if it had sent STOP, and the change is
// published with reason ReasonProviderOptedOut. Elsewhere, or when the
// contact is opted out already, it does nothing: on WhatsApp no keyword
// could opt the contact back in.
func DecideProviderOptOut(st *ContactState, env Env) []Effect {
	if !OptOutChannel(st.Contact.Channel) || st.Contact.OptedOut {
		return nil
	}
	d := newDecider(st, env)
	d.setOptedOut(true)
	d.effects = append(d.effects, SaveContact{Contact: st.Contact})
	if conv := d.current(); conv != nil {
		d.emit(gateway.TypeTicketContactOptedOut, conv, nil, ReasonProviderOptedOut)
	}
	return d.effects
}

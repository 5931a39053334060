package ticketing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/templates"
)

// DeskConfig is what the desk reply path and the window warning need
// besides the store.
type DeskConfig struct {
	// Templates finds the templates agents send and those offered when a
	// free text is refused (R28). Needed for template replies and offers.
	Templates templates.Store
	// Fallback orders the languages of the templates offered for a
	// conversation's language (docs/templates.md, "Language fallback").
	Fallback templates.FallbackOrder
	// WindowClosingLead is how long before WhatsApp's window closes
	// chatgate.ticket.window_closing is published for conversations still
	// waiting on an agent. Zero means DefaultWindowClosingLead (1 hour);
	// negative turns the warning off.
	WindowClosingLead time.Duration
}

func (c DeskConfig) windowClosingLead() time.Duration {
	if c.WindowClosingLead == 0 {
		return DefaultWindowClosingLead
	}
	return c.WindowClosingLead
}

// TextDeskReply labels an agent's reply among the texts the worker sends.
const TextDeskReply TextKind = "desk_reply"

// ReasonAwaitingContact closes a conversation an agent started by reaching
// out (R31): it stays closed until the contact answers, and the answer
// reopens it (R15) as a live chat whose history starts with the outreach.
const ReasonAwaitingContact = "awaiting_contact"

// SentByAgentPrefix prefixes the acting agent's id in Message.SentBy, so an
// agent's id never reads as one of the automatic senders.
const SentByAgentPrefix = "agent:"

// OutboundRequestID derives the send's request id (R32) from the client's
// request id: the same command never makes two sends.
func OutboundRequestID(clientRequestID string) string { return "desk:" + clientRequestID }

// TemplateLookup is what the shell found for a command's template.
type TemplateLookup struct {
	// Current is the current version; nil when no template has the name
	// and language.
	Current *templates.Template
	// Live is the approved version, the one sent; nil when none is approved.
	Live *templates.Template
	// Err is a failure to look up: the command cannot be decided now.
	Err error
}

// ReplyInput is a reply command with the state it is decided on.
type ReplyInput struct {
	Command Command
	// Conversation is the named conversation; nil when none has the id.
	Conversation *Conversation
	// State is the conversation's contact with its open conversation, or
	// else its latest one. Decisions advance it in place, so the next
	// command of the batch sees the result.
	State *ContactState
	// Template is the lookup of the command's template (template replies).
	Template TemplateLookup
	// Agent is the acting agent's settings: with Sign on, its free text
	// carries its name (R25).
	Agent AgentSettings
}

// ReplyDecision is what DecideReply decided: effects for the shell, or a
// rejection, or an error that leaves the command undecided.
type ReplyDecision struct {
	Effects []Effect
	// Conversation and Message are where the reply was stored; Snapshot
	// is the conversation right after the reply.
	Conversation *Conversation
	Snapshot     Conversation
	Message      *Message
	AgentID      string
	// Template is the template copy sent, for template replies.
	Template  *TemplateRef
	Rejection *Rejection
	Err       error
}

func (d ReplyDecision) view() *ReplyMessage {
	return &ReplyMessage{
		MessageView:       messageView(d.Message),
		ConversationID:    d.Conversation.ID,
		AgentID:           d.AgentID,
		OutboundRequestID: d.Message.RequestID,
		Template:          d.Template,
	}
}

func reject(code, format string, args ...any) ReplyDecision {
	return ReplyDecision{Rejection: &Rejection{Code: code, Message: fmt.Sprintf(format, args...)}}
}

// DecideReply decides an agent's reply (a valid TypeCommandReply command).
// It does no I/O and reads no clock. The checks, in order:
//
//   - the conversation exists; its contact is not spam (R16) nor opted out
//     (R33); it is not deleted; the contact did not end the live chat (R24);
//   - a closed conversation is replied to only when the contact has no open
//     one (the reply belongs there);
//   - a template exists, has an approved version (R29), fits the channel
//     and renders with exactly its variables (R29);
//   - free text goes out only inside WhatsApp's window (R28); SMS and the
//     API channel have none.
//
// The reply is stored as an outbound message of the conversation, published
// as message_added and sent. A reply to a closed conversation reaches out
// (R31): it starts a new conversation, closed with ReasonAwaitingContact
// until the contact answers — or joins the one a previous outreach started
// and the contact has not answered yet. What may reach out is what the
// window allows: a template always, free text on WhatsApp only inside the
// window, anything on SMS.
func DecideReply(in ReplyInput, env Env) ReplyDecision {
	c, conv, st := in.Command, in.Conversation, in.State
	if conv == nil || st == nil || st.Contact == nil {
		return reject(CodeConversationNotFound, "conversation %d does not exist", c.ConversationID)
	}
	contact := st.Contact
	role := c.Role
	if role == "" {
		role = ActorDesk
	}
	switch {
	case role == ActorAgent && !Permitted(role, c.AgentID, conv, env.Directory) && !MayJoin(c.AgentID, conv, env.Directory):
		code, msg := refuseJoin(c.AgentID, conv, env.Directory)
		return reject(code, "%s", msg)
	case role == ActorSupervisor && !env.Directory.Get(conv.DepartmentID).Policy().SupervisorsReply:
		// R36: supervisors comment, agents write to the contact.
		return reject(CodePolicyForbidsSupervisorReply, "department %s does not let supervisors write to the contact: comment instead, or assign it to an agent", deptName(conv.DepartmentID))
	case contact.Spam:
		return reject(CodeContactSpam, "the contact of conversation %d is marked as spam: nothing is sent to it", conv.ID)
	case contact.OptedOut:
		return reject(CodeContactOptedOut, "the contact of conversation %d opted out: nothing is sent to it until it opts back in", conv.ID)
	case conv.State == StateDeleted:
		d := reject(CodeConversationClosed, "conversation %d is deleted", conv.ID)
		d.Rejection.State = conv.State
		return d
	case contactEndedChat(conv):
		return reject(CodeContactEndedChat, "the contact ended the chat of conversation %d: it can only be resolved or deleted", conv.ID)
	case !conv.State.Open() && st.Open != nil:
		d := reject(CodeConversationClosed, "conversation %d is %s; the contact's open conversation is %d", conv.ID, conv.State, st.Open.ID)
		d.Rejection.State, d.Rejection.OpenConversationID = conv.State, st.Open.ID
		return d
	}

	text := c.Text
	var outTpl *gateway.OutboundTemplate
	var ref *TemplateRef
	if tr := c.Template; tr != nil {
		lk := in.Template
		switch {
		case lk.Err != nil:
			return ReplyDecision{Err: fmt.Errorf("template %s (%s): %w", tr.Name, tr.Language, lk.Err)}
		case lk.Current == nil:
			return reject(CodeTemplateNotFound, "no template %q in language %q", tr.Name, tr.Language)
		case lk.Live == nil:
			d := reject(CodeTemplateNotApproved, "template %s (%s) is %s: only approved templates are sent", lk.Current.Name, lk.Current.Language, lk.Current.Status)
			d.Rejection.TemplateStatus = lk.Current.Status
			return d
		}
		t := lk.Live
		if t.Channel != templates.ScopeAny && !strings.EqualFold(string(t.Channel), string(contact.Channel)) {
			return reject(CodeTemplateNotForChannel, "template %s (%s) is for %s, the conversation is on %s", t.Name, t.Language, t.Channel, contact.Channel)
		}
		r, err := templates.RenderForSend(t, tr.Variables)
		if err != nil {
			var ve *templates.VariableError
			if errors.As(err, &ve) {
				d := reject(CodeInvalidVariables, "%s", ve.Error())
				d.Rejection.Variables = ve
				return d
			}
			// An approved copy that no longer renders (stored before a rule
			// changed) cannot be sent either.
			d := reject(CodeTemplateNotApproved, "template %s (%s) cannot be sent: %v", t.Name, t.Language, err)
			d.Rejection.TemplateStatus = t.Status
			return d
		}
		wa, err := json.Marshal(r.WhatsApp)
		if err != nil {
			return ReplyDecision{Err: fmt.Errorf("template %s (%s): whatsapp object: %w", t.Name, t.Language, err)}
		}
		text = r.Text
		outTpl = &gateway.OutboundTemplate{
			Name: r.Name, Language: r.Language,
			TwilioContentSID: r.Twilio.ContentSID, TwilioContentVariables: r.Twilio.ContentVariables,
			WhatsApp: wa,
		}
		ref = &TemplateRef{Name: r.Name, Language: r.Language, Version: r.Version}
	} else if w := WindowAt(contact.Channel, contact.LastInboundAt, env.Now); !w.Open {
		d := reject(CodeTemplateRequired, "the WhatsApp window of conversation %d is closed: send an approved template", conv.ID)
		if !w.ExpiresAt.IsZero() {
			closed := w.ExpiresAt
			d.Rejection.WindowClosedAt = &closed
			d.Rejection.Message = fmt.Sprintf("the WhatsApp window of conversation %d closed at %s: send an approved template", conv.ID, closed.Format(time.RFC3339))
		} else {
			d.Rejection.Message = fmt.Sprintf("the contact of conversation %d never wrote, so no WhatsApp window is open: send an approved template", conv.ID)
		}
		// R34: the templates offered follow the contact's language, as the
		// conversation's department resolves it now (it may have been
		// transferred, or the department's mapping changed); with nothing
		// to resolve from, the language last resolved.
		lang, src := ResolveLanguage(contact, env.Directory.Get(conv.DepartmentID))
		if src == "" {
			lang = contact.Language
		}
		d.Rejection.Channel, d.Rejection.Language = contact.Channel, lang
		d.Rejection.Templates = []TemplateOffer{}
		return d
	}

	if in.Agent.Sign && outTpl == nil {
		// R25: the agent's name is shown with its free text (an approved
		// template is sent as approved).
		text = in.Agent.Signature() + ": " + text
	}
	d := newDecider(st, env)
	d.actor = &Actor{AgentID: c.AgentID, Role: role}
	target := conv
	if !conv.State.Open() {
		target = d.reachOut(conv)
	}
	target.UpdatedAt = d.now
	target.LastMessageAt = d.now
	if d.join(target, c.AgentID) && target != d.created {
		// R25: a second agent writes on the conversation.
		d.emitDesk(gateway.TypeTicketAgentJoined, target, "", &DeskEvent{AgentID: c.AgentID})
	}
	msg := &Message{
		Conv:      target,
		ContactID: contact.ID,
		Channel:   contact.Channel,
		Direction: DirectionOutbound,
		RequestID: OutboundRequestID(c.RequestID),
		SentBy:    SentByAgentPrefix + c.AgentID,
		Body:      text,
		// Outbound messages share the seq of the message they follow
		// (MessageCount counts the contact's messages).
		Seq:      target.MessageCount,
		SentAt:   d.now,
		StoredAt: d.now,
		Status:   gateway.StatusQueued,
		StatusAt: d.now,
	}
	d.effects = append(d.effects, StoreMessage{Msg: msg})
	d.save(target)
	if target == d.created {
		d.emit(gateway.TypeTicketCreated, target, nil, ReasonAwaitingContact)
	}
	d.emit(gateway.TypeTicketMessageAdded, target, msg, "")
	d.effects = append(d.effects, SendText{Kind: TextDeskReply, Language: contact.Language, Conv: target, Msg: msg, Outbound: gateway.Outbound{
		RequestID: msg.RequestID,
		Channel:   contact.Channel,
		To:        contact.Address,
		From:      target.BusinessAddress,
		Text:      text,
		Template:  outTpl,
		CreatedAt: d.now,
	}})
	return ReplyDecision{Effects: d.effects, Conversation: target, Snapshot: *target, Message: msg, AgentID: c.AgentID, Template: ref}
}

// reachOut returns the conversation a reply to the closed conversation from
// lands in (R31): the contact's latest conversation if an earlier outreach
// started it and the contact has not answered, else a new conversation,
// closed with ReasonAwaitingContact, routed like from. Either way the
// reopen window (R15) counts from now, so the contact's answer reopens it.
func (d *decider) reachOut(from *Conversation) *Conversation {
	now := d.now
	if last := d.st.Last; last != nil && last.State == StateClosed && last.CloseReason == ReasonAwaitingContact && last.ArchivedAt.IsZero() {
		last.ClosedAt = now
		return last
	}
	conv := &Conversation{
		ContactID:       d.st.Contact.ID,
		Kind:            KindLiveChat,
		State:           StateClosed,
		CreatedAt:       now,
		UpdatedAt:       now,
		LastMessageAt:   now,
		ClosedAt:        now,
		CloseReason:     ReasonAwaitingContact,
		DepartmentID:    from.DepartmentID,
		BusinessAddress: from.BusinessAddress,
	}
	d.created = conv
	d.st.Last = conv
	d.effects = append(d.effects, CreateConversation{Conv: conv})
	return conv
}

func deptName(id string) string {
	if id == "" {
		return "(none)"
	}
	return id
}

// contactEndedChat reports whether the contact ended the live chat conv,
// which then refuses replies until an agent resolves or deletes it or the
// contact writes again (R24).
func contactEndedChat(conv *Conversation) bool {
	return conv.State.Open() && !conv.ContactLeftAt.IsZero()
}

type templateKey struct{ name, language string }

// templateLookups are the lookups of a batch's templates, one per name and
// language.
type templateLookups map[templateKey]TemplateLookup

func (l templateLookups) get(c Command) TemplateLookup {
	if c.Reply == nil || c.Template == nil {
		return TemplateLookup{}
	}
	lang, _ := templates.NormalizeLanguage(c.Template.Language)
	return l[templateKey{c.Template.Name, lang}]
}

// lookupTemplates reads the current and live versions of the templates the
// commands name, once per name and language.
func (s *Service) lookupTemplates(ctx context.Context, cmds []Command) templateLookups {
	out := templateLookups{}
	for _, c := range cmds {
		if c.Reply == nil || c.Template == nil || strings.TrimSpace(c.Template.Name) == "" {
			continue
		}
		lang, err := templates.NormalizeLanguage(c.Template.Language)
		if err != nil {
			continue // Validate refuses it
		}
		k := templateKey{c.Template.Name, lang}
		if _, ok := out[k]; !ok {
			out[k] = s.lookupTemplate(ctx, k)
		}
	}
	return out
}

func (s *Service) lookupTemplate(ctx context.Context, k templateKey) TemplateLookup {
	store := s.Desk.Templates
	if store == nil {
		return TemplateLookup{Err: errors.New("no template store configured")}
	}
	row, err := store.Get(ctx, &templates.GetParams{Name: k.name, Language: k.language})
	switch {
	case errors.Is(err, templates.ErrNotFound):
		return TemplateLookup{}
	case err != nil:
		return TemplateLookup{Err: err}
	}
	lk := TemplateLookup{Current: &row.Template}
	switch row.LiveVersion {
	case 0:
	case row.Version:
		lk.Live = lk.Current
	default:
		live, err := store.Get(ctx, &templates.GetParams{Name: k.name, Language: k.language, Version: row.LiveVersion})
		if err != nil {
			return TemplateLookup{Err: err}
		}
		lk.Live = &live.Template
	}
	return lk
}

// offers returns the approved templates that fit a conversation on channel
// in language lang (templates.Store.Approved), with their variables; never
// nil.
func (s *Service) offers(ctx context.Context, channel gateway.Channel, lang string) ([]TemplateOffer, error) {
	if s.Desk.Templates == nil {
		return []TemplateOffer{}, nil
	}
	ts, err := s.Desk.Templates.Approved(ctx, string(channel), lang, s.Desk.Fallback)
	if err != nil {
		return nil, fmt.Errorf("templates for %s (%s): %w", channel, lang, err)
	}
	out := make([]TemplateOffer, 0, len(ts))
	for _, t := range ts {
		vars, _ := templates.ParseVariables(t.Body) // approved copies validate
		names := vars.Names
		if names == nil {
			names = []string{}
		}
		out = append(out, TemplateOffer{Name: t.Name, Language: t.Language, Category: t.Category, Body: t.Body, Variables: names})
	}
	return out, nil
}

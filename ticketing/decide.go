package ticketing

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/chatgate/chatgate/gateway"
)

// Config holds the configurable times of the rules. Zero fields take the
// defaults of WithDefaults.
type Config struct {
	// PromptExpiry is the live-chat inactivity time: a leave-a-message
	// prompt not answered for this long expires (R10). Default 15 minutes.
	PromptExpiry time.Duration
	// IntakeClose ends a message-leaving session this long after the
	// contact's last message (R12). Default 10 minutes.
	IntakeClose time.Duration
	// ReopenWindow is how long after closing a message reopens a
	// conversation instead of starting a new one (R15). Default 7 days.
	ReopenWindow time.Duration
	// ArchiveAfter archives closed tickets this long after closing (R27).
	// Default 90 days.
	ArchiveAfter time.Duration
	// PresenceTTL is how long an agent's "online" counts without a new
	// heartbeat (R4). Default 2 minutes.
	PresenceTTL time.Duration
}

// Default rule times.
const (
	DefaultPromptExpiry = 15 * time.Minute
	DefaultIntakeClose  = 10 * time.Minute
	DefaultReopenWindow = 7 * 24 * time.Hour
	DefaultArchiveAfter = 90 * 24 * time.Hour
	DefaultPresenceTTL  = 2 * time.Minute
	MinSnooze           = 5 * time.Minute // R22
	MaxSnooze           = 24 * time.Hour  // R22
)

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.PromptExpiry, DefaultPromptExpiry)
	def(&c.IntakeClose, DefaultIntakeClose)
	def(&c.ReopenWindow, DefaultReopenWindow)
	def(&c.ArchiveAfter, DefaultArchiveAfter)
	def(&c.PresenceTTL, DefaultPresenceTTL)
	return c
}

// Validate refuses negative times, naming the field.
func (c Config) Validate() error {
	var errs []error
	for name, v := range map[string]time.Duration{
		"prompt_expiry": c.PromptExpiry, "intake_close": c.IntakeClose, "reopen_window": c.ReopenWindow,
		"archive_after": c.ArchiveAfter, "presence_ttl": c.PresenceTTL,
	} {
		if v < 0 {
			errs = append(errs, fmt.Errorf("%s: %v is negative", name, v))
		}
	}
	return errors.Join(errs...)
}

// Env is what a decision may depend on besides the contact's state. The
// clock is passed in: nothing in the core reads time itself.
type Env struct {
	Now    time.Time
	Config Config
	// Directory holds the departments and presence. Nil, or a message no
	// department is routed to, means an agent can always be reached: every
	// message opens or continues an unassigned live chat.
	Directory *Directory
}

// Effect is one thing a decision asks the shell to do. The shell applies the
// effects of a whole batch in one transaction.
type Effect interface{ effect() }

// CreateConversation asks the shell to insert Conv (its ID is allocated then).
type CreateConversation struct{ Conv *Conversation }

// SaveConversation asks the shell to persist Conv's current fields.
type SaveConversation struct{ Conv *Conversation }

// SaveContact asks the shell to persist Contact's current fields.
type SaveContact struct{ Contact *Contact }

// StoreMessage asks the shell to insert Msg.
type StoreMessage struct{ Msg *Message }

// EmitTicketEvent asks the shell to publish a chatgate.ticket.* event through
// the outbox. Snapshot is the conversation as it was right after the change;
// Conv is the live conversation, read only for the id allocated later.
type EmitTicketEvent struct {
	Type     string
	Conv     *Conversation
	Snapshot Conversation
	Contact  Contact
	Msg      *Message
	Reason   string
	// Desk holds the acting agent and the details of a desk event; nil for
	// events of rules and timers.
	Desk *DeskEvent
}

// SendText asks the shell to send an auto-responder text to the contact: an
// outbound record through the outbox. Outbound.ConversationID is filled from
// Conv once its id is allocated. Outbound.RequestID is derived from what
// triggered the text, so a replayed batch sends nothing twice (R32).
//
// Msg is the outbound message stored for it by a StoreMessage effect that
// precedes the SendText (status queued); Outbound.MessageID is filled from
// it, so statuses find the message by request id (status.go). Conv is nil
// for a text that answers a keyword outside any conversation (HELP, R33).
type SendText struct {
	Kind     TextKind
	Language string
	Conv     *Conversation
	Outbound gateway.Outbound
	Msg      *Message
}

func (CreateConversation) effect() {}
func (SaveConversation) effect()   {}
func (SaveContact) effect()        {}
func (StoreMessage) effect()       {}
func (EmitTicketEvent) effect()    {}
func (SendText) effect()           {}

// decider collects the effects of one decision.
type decider struct {
	st      *ContactState
	env     Env
	cfg     Config
	now     time.Time
	created *Conversation // created by this decision: inserted, never "saved"
	effects []Effect
	actor   *Actor // the agent carrying out a desk command; nil for rules and timers
}

func newDecider(st *ContactState, env Env) decider {
	return decider{st: st, env: env, cfg: env.Config.WithDefaults(), now: env.Now.UTC(), effects: make([]Effect, 0, 8)}
}

// DecideInbound applies the rules to one inbound message of the contact in
// st and returns the effects. It advances st in place (st is the shell's
// working copy for the batch), so the next message of the same contact in the
// batch sees the result. It does no I/O and reads no clock.
//
// The order of the checks: spam (R16); SMS opt-out, opt-in and help
// keywords (R33, optout.go); a snoozed conversation wakes (R15,
// R22); a running leave-a-message session takes the message whatever the
// hours (R7–R12); on an open live chat, an end keyword or the channel's
// end_chat ends it for the contact, and the contact's next message resumes
// it (R24); otherwise the department's reachability decides between a
// live chat (R5, R14) and the out-of-hours prompt (R6, R13), on the open
// conversation, a closed one reopened (R15), or a new one.
func DecideInbound(st *ContactState, in gateway.Inbound, env Env) []Effect {
	d := newDecider(st, env)
	d.touchContact(in)
	kw := keywordOf(st.Contact, in)
	if st.Contact.Spam {
		// R16: stored, outside any conversation; no event, nothing sent.
		// An opt-out keyword still sets the flag (R33), silently.
		if kw == keywordOptOut || kw == keywordOptIn {
			d.setOptedOut(kw == keywordOptOut)
		}
		d.effects = append(d.effects, StoreMessage{Msg: d.message(nil, in)})
		return d.effects
	}
	// The department of the conversation at hand: the open one's, a
	// reopenable one's (R15), else the one a new conversation goes to (R3).
	// It decides the contact's language (R34) before anything is sent or
	// published.
	conv := st.Open
	var reopen *Conversation
	if conv == nil && d.reopenable(st.Last) {
		reopen = st.Last
	}
	var dep *Department
	switch {
	case conv != nil:
		dep = env.Directory.Get(conv.DepartmentID)
	case reopen != nil:
		dep = env.Directory.Get(reopen.DepartmentID)
	}
	if dep == nil {
		dep = env.Directory.Route(in.To, in.Text)
	}
	d.resolveLanguage(dep)
	if kw != keywordNone {
		// R33: SMS keywords are commands to chatgate, not messages for an
		// agent: they open, reopen or wake no conversation.
		d.keyword(kw, in)
		return d.effects
	}
	if passive(in) {
		// Reactions, edits and revokes refer to an earlier message: they are
		// kept with the open conversation but trigger no rule.
		if st.Open == nil {
			d.effects = append(d.effects, StoreMessage{Msg: d.message(nil, in)})
			return d.effects
		}
		msg := d.addMessage(st.Open, in)
		d.save(st.Open)
		d.emit(gateway.TypeTicketMessageAdded, st.Open, msg, "")
		return d.effects
	}

	if conv != nil && conv.State == StateSnoozed {
		d.wake(conv, ReasonContactWrote)
	}
	if conv != nil && conv.Intake != IntakeNone {
		d.session(conv, in)
		return d.effects
	}
	if conv != nil && conv.Kind == KindLiveChat {
		if reason := d.endsChat(conv, in); reason != "" {
			d.leave(conv, in, reason)
			return d.effects
		}
		if !conv.ContactLeftAt.IsZero() {
			// R24: the contact writes again before an agent resolved or
			// deleted the chat: the same conversation resumes, and the
			// message goes on as any message of an open live chat.
			conv.ContactLeftAt = time.Time{}
			conv.UpdatedAt = d.now
			d.save(conv)
			d.emit(gateway.TypeTicketContactReturned, conv, nil, "")
		}
	}
	if in.EffectiveKind() == gateway.KindEndChat {
		// No live chat to end (none open, or a ticket waiting for an
		// agent): kept with the open conversation, like a reaction, and
		// nothing else happens; it opens no conversation.
		if conv == nil {
			d.effects = append(d.effects, StoreMessage{Msg: d.message(nil, in)})
			return d.effects
		}
		msg := d.addMessage(conv, in)
		d.save(conv)
		d.emit(gateway.TypeTicketMessageAdded, conv, msg, "")
		return d.effects
	}

	reachable := dep == nil || env.Directory.Reachable(dep, d.now, d.cfg.PresenceTTL)

	if reachable {
		switch {
		case conv != nil && conv.Kind == KindTicket:
			d.close(conv, ReasonSupersededByChat) // R14
			conv = d.create(KindLiveChat, dep, in)
		case conv != nil: // R5: continue the live chat
		case reopen != nil:
			conv = reopen
			conv.Kind = KindLiveChat
			d.reopen(conv)
		default:
			conv = d.create(KindLiveChat, dep, in)
		}
		d.assign(conv, dep, in)
		d.inbound(conv, in)
		return d.effects
	}

	// R6: nobody can be reached. The message lands in the open conversation
	// (merged into an open ticket, R13), a reopened one, or a new one, and
	// the contact is asked whether to leave a message.
	keepOnDecline := conv != nil && conv.Kind == KindTicket
	switch {
	case conv != nil:
	case reopen != nil:
		conv = reopen
		d.reopen(conv)
	default:
		conv = d.create(KindLiveChat, dep, in)
	}
	d.assign(conv, dep, in)
	if st.Contact.OptedOut {
		// R33: an opted-out contact cannot receive the prompt, so none is
		// pending (its YES opts it back in, never consents, see optout.go);
		// the message waits in the conversation and the out-of-hours text is
		// recorded as refused.
		d.inbound(conv, in)
		d.send(conv, TextOutOfHours, in.ProviderID)
		return d.effects
	}
	conv.Intake = IntakePrompted
	conv.IntakeCloseOnDecline = !keepOnDecline
	conv.PromptExpiresAt = d.now.Add(d.cfg.PromptExpiry)
	d.inbound(conv, in)
	d.send(conv, TextOutOfHours, in.ProviderID)
	d.send(conv, TextLeaveMessagePrompt, in.ProviderID)
	return d.effects
}

// endsChat returns why in ends the live chat conv (R24): the contact wrote
// one of its department's end keywords (ReasonEndKeyword), or its channel
// sent end_chat (ReasonEndChat); "" when it does not.
func (d *decider) endsChat(conv *Conversation, in gateway.Inbound) string {
	switch in.EffectiveKind() {
	case gateway.KindEndChat:
		return ReasonEndChat
	case gateway.KindText:
		if d.env.Directory.Get(conv.DepartmentID).IsEndKeyword(d.st.Contact.Language, in.Text) {
			return ReasonEndKeyword
		}
	}
	return ""
}

// leave records that the contact ended the live chat conv (R24): the
// message is stored, the desk is told (contact_left, with the message) and
// the contact gets the contact_left text, which says that writing again
// continues the chat. The chat stays open: replies are refused and agents
// may only resolve or delete it until the contact writes again. Ending a
// chat already ended only stores the message.
func (d *decider) leave(conv *Conversation, in gateway.Inbound, reason string) {
	msg := d.addMessage(conv, in)
	d.save(conv)
	d.emit(gateway.TypeTicketMessageAdded, conv, msg, "")
	if !conv.ContactLeftAt.IsZero() {
		return
	}
	conv.ContactLeftAt = d.now
	d.emit(gateway.TypeTicketContactLeft, conv, msg, reason)
	d.send(conv, TextContactLeft, in.ProviderID)
}

// session handles a message while a leave-a-message session runs (R7–R12).
// The channel's end_chat is an answer too: NO while the prompt is pending
// (the contact left without agreeing), //end while leaving messages.
func (d *decider) session(conv *Conversation, in gateway.Inbound) {
	reply := normalizeReply(in.Text)
	if in.EffectiveKind() == gateway.KindEndChat {
		reply = "NO"
		if conv.Intake == IntakeLeaving {
			reply = "//END"
		}
	} else if conv.Intake == IntakeLeaving && d.env.Directory.Get(conv.DepartmentID).IsEndKeyword(d.st.Contact.Language, in.Text) {
		reply = "//END" // the department's own end keyword ends the session too
	}
	switch conv.Intake {
	case IntakePrompted:
		switch reply {
		case "YES": // R7
			if conv.AwaitingConsent() {
				conv.QueuedAt = d.now // R35: it enters the unassigned queue now
			}
			d.inbound(conv, in)
			conv.Kind = KindTicket
			conv.Intake = IntakeLeaving
			conv.PromptExpiresAt = time.Time{}
			conv.IntakeClosesAt = d.now.Add(d.cfg.IntakeClose)
			d.save(conv)
			d.emit(gateway.TypeTicketIntakeStarted, conv, nil, "")
		case "NO": // R8
			d.inbound(conv, in)
			d.endPrompt(conv, ReasonConsentDeclined)
			d.send(conv, TextConsentDeclined, in.ProviderID)
		default: // R9
			conv.PromptExpiresAt = d.now.Add(d.cfg.PromptExpiry)
			d.inbound(conv, in)
			d.send(conv, TextLeaveMessagePrompt, in.ProviderID)
		}
	case IntakeLeaving:
		if reply == "//END" { // R12
			d.inbound(conv, in)
			d.endIntake(conv, ReasonEndedByContact)
			d.send(conv, TextIntakeClosed, in.ProviderID)
			return
		}
		// R11: anything else, NO included, is a message of the ticket.
		conv.IntakeClosesAt = d.now.Add(d.cfg.IntakeClose)
		d.inbound(conv, in)
	}
}

// endPrompt ends a prompt that was declined or expired: the conversation
// opened for it is closed as a chat (R8, R10); an open ticket the session
// ran on stays as it was.
func (d *decider) endPrompt(conv *Conversation, reason string) {
	conv.Intake = IntakeNone
	conv.PromptExpiresAt = time.Time{}
	if conv.IntakeCloseOnDecline {
		conv.IntakeCloseOnDecline = false
		d.close(conv, reason)
		return
	}
	d.save(conv)
	d.emit(gateway.TypeTicketIntakeClosed, conv, nil, reason)
}

// endIntake ends a message-leaving session; the ticket stays in its queue (R12).
func (d *decider) endIntake(conv *Conversation, reason string) {
	conv.Intake = IntakeNone
	conv.IntakeCloseOnDecline = false
	conv.IntakeClosesAt = time.Time{}
	conv.UpdatedAt = d.now
	d.save(conv)
	d.emit(gateway.TypeTicketIntakeClosed, conv, nil, reason)
}

func (d *decider) touchContact(in gateway.Inbound) {
	contact := d.st.Contact
	if in.ContactName != "" && in.ContactName != contact.Name {
		contact.Name = in.ContactName
	}
	if in.Language != "" {
		// R34: the channel's word for the contact's language, the last one
		// reported; a message without it keeps the one known.
		contact.ChannelLanguage = in.Language
	}
	if sent := in.ReceivedAt.UTC(); sent.After(contact.LastInboundAt) {
		contact.LastInboundAt = sent
	}
	contact.UpdatedAt = d.now
	d.effects = append(d.effects, SaveContact{Contact: contact})
}

func (d *decider) create(kind Kind, dep *Department, in gateway.Inbound) *Conversation {
	conv := &Conversation{
		ContactID:       d.st.Contact.ID,
		Kind:            kind,
		State:           StateUnassigned,
		CreatedAt:       d.now,
		QueuedAt:        d.now,
		BusinessAddress: in.To,
	}
	if dep != nil {
		conv.DepartmentID = dep.ID
	}
	if d.st.Open != nil {
		d.st.Last = d.st.Open
	}
	d.st.Open = conv
	d.created = conv
	d.effects = append(d.effects, CreateConversation{Conv: conv})
	return conv
}

// assign fills the department and business address of a conversation that
// has none yet (one opened before departments were configured).
func (d *decider) assign(conv *Conversation, dep *Department, in gateway.Inbound) {
	if conv.DepartmentID == "" && dep != nil {
		conv.DepartmentID = dep.ID
	}
	if conv.BusinessAddress == "" {
		conv.BusinessAddress = in.To
	}
}

func (d *decider) reopenable(c *Conversation) bool {
	return c != nil && c.State == StateClosed && c.ArchivedAt.IsZero() && !c.ClosedAt.IsZero() &&
		!d.now.After(c.ClosedAt.Add(d.cfg.ReopenWindow))
}

// reopen turns the contact's last, closed conversation into its open one (R15).
func (d *decider) reopen(conv *Conversation) {
	conv.State = StateUnassigned
	conv.ClosedAt = time.Time{}
	conv.CloseReason = ""
	conv.ClosedBy = ""
	conv.Assignee, conv.AssignedAt = "", time.Time{}
	conv.QueuedAt = d.now
	conv.ArchiveAt = time.Time{}
	conv.ContactLeftAt = time.Time{}
	conv.UpdatedAt = d.now
	d.st.Open, d.st.Last = conv, nil
	d.save(conv)
	d.emit(gateway.TypeTicketReopened, conv, nil, "")
}

// wake returns a snoozed conversation to the state it was snoozed from (R22).
func (d *decider) wake(conv *Conversation, reason string) {
	conv.State = conv.SnoozedFrom
	if conv.State == "" || !conv.State.Open() || conv.State == StateSnoozed {
		conv.State = StateUnassigned
	}
	conv.SnoozedFrom = ""
	conv.SnoozeUntil = time.Time{}
	conv.UpdatedAt = d.now
	d.save(conv)
	d.emit(gateway.TypeTicketWoken, conv, nil, reason)
}

// close closes conv with reason; a closed ticket is archived later (R27).
func (d *decider) close(conv *Conversation, reason string) {
	conv.State = StateClosed
	conv.ClosedAt = d.now
	conv.CloseReason = reason
	conv.Intake = IntakeNone
	conv.IntakeCloseOnDecline = false
	conv.PromptExpiresAt, conv.IntakeClosesAt, conv.SnoozeUntil = time.Time{}, time.Time{}, time.Time{}
	conv.SnoozedFrom = ""
	conv.ArchiveAt = time.Time{}
	if conv.Kind == KindTicket {
		conv.ArchiveAt = d.now.Add(d.cfg.ArchiveAfter)
	}
	conv.UpdatedAt = d.now
	if d.st.Open == conv {
		d.st.Open, d.st.Last = nil, conv
	}
	d.save(conv)
	d.emit(gateway.TypeTicketClosed, conv, nil, reason)
}

// inbound adds the message to conv and emits its events: created first for
// a conversation this decision opened, then message_added.
func (d *decider) inbound(conv *Conversation, in gateway.Inbound) {
	msg := d.addMessage(conv, in)
	d.save(conv)
	if conv == d.created {
		d.emit(gateway.TypeTicketCreated, conv, nil, "")
	}
	d.emit(gateway.TypeTicketMessageAdded, conv, msg, "")
}

func (d *decider) addMessage(conv *Conversation, in gateway.Inbound) *Message {
	sent := in.ReceivedAt.UTC()
	conv.MessageCount++
	conv.Unread = true // R23: a new message of the contact is unread
	conv.UpdatedAt = d.now
	conv.LastMessageAt = d.now
	if sent.After(conv.LastInboundAt) {
		conv.LastInboundAt = sent
	}
	msg := d.message(conv, in)
	d.effects = append(d.effects, StoreMessage{Msg: msg})
	return msg
}

func (d *decider) message(conv *Conversation, in gateway.Inbound) *Message {
	m := &Message{
		Conv:       conv,
		ContactID:  d.st.Contact.ID,
		Channel:    in.Channel,
		Direction:  DirectionInbound,
		ProviderID: in.ProviderID,
		Body:       in.Text,
		SentAt:     in.ReceivedAt.UTC(),
		StoredAt:   d.now,
	}
	if conv != nil {
		m.Seq = conv.MessageCount
	}
	return m
}

func (d *decider) save(conv *Conversation) {
	if conv != d.created {
		d.effects = append(d.effects, SaveConversation{Conv: conv})
	}
}

func (d *decider) emit(typ string, conv *Conversation, msg *Message, reason string) {
	var desk *DeskEvent
	if d.actor != nil {
		desk = &DeskEvent{Actor: d.actor}
	}
	d.effects = append(d.effects, EmitTicketEvent{Type: typ, Conv: conv, Snapshot: *conv, Contact: *d.st.Contact, Msg: msg, Reason: reason, Desk: desk})
}

// send asks for the department's text of kind in the contact's language.
// trigger (an inbound provider id, or a timer's identity) makes the request
// id deterministic.
func (d *decider) send(conv *Conversation, kind TextKind, trigger string) {
	d.sendText(conv, d.env.Directory.Get(conv.DepartmentID), conv.BusinessAddress, kind, trigger)
}

// sendText stores the text as an outbound message of conv (nil: outside any
// conversation), written by SentBySystem and published as message_added
// like an agent's reply (R37), and sends it from the business address
// from. To an opted-out contact nothing is sent (R33): the message is
// stored as failed with ErrorCodeOptedOut, so the refusal shows in the
// conversation's history.
func (d *decider) sendText(conv *Conversation, dep *Department, from string, kind TextKind, trigger string) {
	c := d.st.Contact
	d.resolveLanguage(dep) // a desk command's or a timer's department may differ from the last message's
	text, lang := dep.Text(kind, c.Language)
	out := gateway.Outbound{
		RequestID: "auto:" + string(c.Channel) + ":" + trigger + ":" + string(kind),
		Channel:   c.Channel,
		To:        c.Address,
		From:      from,
		Text:      text,
		CreatedAt: d.now,
	}
	msg := &Message{
		Conv:      conv,
		ContactID: c.ID,
		Channel:   c.Channel,
		Direction: DirectionOutbound,
		RequestID: out.RequestID,
		SentBy:    SentBySystem,
		Body:      text,
		SentAt:    d.now,
		StoredAt:  d.now,
		Status:    gateway.StatusQueued,
		StatusAt:  d.now,
	}
	if conv != nil {
		// Outbound messages do not count in MessageCount (the contact's
		// messages); they share the seq of the message they follow, and a
		// conversation's history is ordered by (seq, id).
		msg.Seq = conv.MessageCount
	}
	if c.OptedOut {
		msg.Status, msg.ErrorCode, msg.ErrorMessage = gateway.StatusFailed, ErrorCodeOptedOut, ErrOptedOut.Error()
	}
	d.effects = append(d.effects, StoreMessage{Msg: msg})
	if conv != nil {
		d.emit(gateway.TypeTicketMessageAdded, conv, msg, "")
	}
	if c.OptedOut {
		return
	}
	d.effects = append(d.effects, SendText{Kind: kind, Language: lang, Conv: conv, Outbound: out, Msg: msg})
}

// normalizeReply folds a reply for matching YES, NO and //end: case and
// every space are ignored (R7, R8, R12), nothing else.
func normalizeReply(text string) string {
	return strings.ToUpper(strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, text))
}

func passive(in gateway.Inbound) bool {
	switch in.EffectiveKind() {
	case gateway.KindReaction, gateway.KindEdit, gateway.KindRevoke:
		return true
	}
	return false
}

// TimerKind names one of a conversation's timers.
type TimerKind string

// Timers, each a due-time field of Conversation.
const (
	TimerPromptExpiry TimerKind = "prompt_expiry" // PromptExpiresAt, R10
	TimerIntakeClose  TimerKind = "intake_close"  // IntakeClosesAt, R12
	TimerSnoozeWake   TimerKind = "snooze_wake"   // SnoozeUntil, R22
	TimerArchive      TimerKind = "archive"       // ArchiveAt, R27
)

// Timer is one due timer of a conversation of the contact.
type Timer struct {
	Kind TimerKind
	Conv *Conversation
}

// DueAt returns the due time of kind on c (zero when not scheduled).
func (c *Conversation) DueAt(kind TimerKind) time.Time {
	switch kind {
	case TimerPromptExpiry:
		return c.PromptExpiresAt
	case TimerIntakeClose:
		return c.IntakeClosesAt
	case TimerSnoozeWake:
		return c.SnoozeUntil
	case TimerArchive:
		return c.ArchiveAt
	}
	return time.Time{}
}

// NextDue returns the earliest due time of c's timers, zero if none.
func (c *Conversation) NextDue() time.Time {
	var next time.Time
	for _, k := range []TimerKind{TimerPromptExpiry, TimerIntakeClose, TimerSnoozeWake, TimerArchive} {
		if t := c.DueAt(k); !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	return next
}

// DueTimers lists c's timers due at now, earliest first.
func DueTimers(c *Conversation, now time.Time) []Timer {
	var out []Timer
	for _, k := range []TimerKind{TimerPromptExpiry, TimerIntakeClose, TimerSnoozeWake, TimerArchive} {
		if t := c.DueAt(k); !t.IsZero() && !t.After(now) {
			out = append(out, Timer{Kind: k, Conv: c})
		}
	}
	for i := 1; i < len(out); i++ { // at most four: insertion sort
		for j := i; j > 0 && out[j].Conv.DueAt(out[j].Kind).Before(out[j-1].Conv.DueAt(out[j-1].Kind)); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// DecideTimer fires one timer of a conversation of the contact in st
// (st.Open or st.Last is timer.Conv). A timer whose field was cleared or
// moved past env.Now, or whose conversation left the state it was set for,
// does nothing, so a stale or repeated firing is harmless.
func DecideTimer(st *ContactState, timer Timer, env Env) []Effect {
	d := newDecider(st, env)
	conv := timer.Conv
	due := conv.DueAt(timer.Kind)
	if due.IsZero() || due.After(d.now) {
		return nil
	}
	trigger := "timer:" + strconv.FormatInt(conv.ID, 10) + ":" + strconv.FormatInt(due.UnixNano(), 10)
	switch timer.Kind {
	case TimerPromptExpiry: // R10
		if conv.Intake != IntakePrompted {
			conv.PromptExpiresAt = time.Time{}
			d.save(conv)
			break
		}
		conv.UpdatedAt = d.now
		d.endPrompt(conv, ReasonPromptExpired)
	case TimerIntakeClose: // R12
		if conv.Intake != IntakeLeaving {
			conv.IntakeClosesAt = time.Time{}
			d.save(conv)
			break
		}
		d.endIntake(conv, ReasonIntakeTimeout)
		d.send(conv, TextIntakeClosed, trigger)
	case TimerSnoozeWake: // R22
		if conv.State != StateSnoozed {
			conv.SnoozeUntil = time.Time{}
			d.save(conv)
			break
		}
		d.wake(conv, ReasonSnoozeExpired)
	case TimerArchive: // R27
		conv.ArchiveAt = time.Time{}
		if conv.State != StateClosed || conv.Kind != KindTicket || !conv.ArchivedAt.IsZero() {
			d.save(conv)
			break
		}
		conv.ArchivedAt = d.now
		conv.UpdatedAt = d.now
		d.save(conv)
		d.emit(gateway.TypeTicketArchived, conv, nil, "")
	}
	return d.effects
}

// ErrSnoozeOutOfRange refuses a snooze shorter than MinSnooze or longer
// than MaxSnooze (R22).
var ErrSnoozeOutOfRange = errors.New("snooze must last between 5 minutes and 24 hours")

// ErrNotOpen refuses a command on a conversation that is not open.
var ErrNotOpen = errors.New("conversation is not open")

// DecideSnooze hides the contact's open conversation until until (R22): it
// comes back then (TimerSnoozeWake) or when the contact writes.
func DecideSnooze(st *ContactState, until time.Time, env Env) ([]Effect, error) {
	d := newDecider(st, env)
	conv := st.Open
	if conv == nil || (conv.State != StateUnassigned && conv.State != StateAssigned) {
		return nil, ErrNotOpen
	}
	if dur := until.Sub(d.now); dur < MinSnooze || dur > MaxSnooze {
		return nil, fmt.Errorf("%w: %v", ErrSnoozeOutOfRange, dur.Round(time.Second))
	}
	conv.SnoozedFrom = conv.State
	conv.State = StateSnoozed
	conv.SnoozeUntil = until.UTC()
	conv.UpdatedAt = d.now
	d.save(conv)
	d.emit(gateway.TypeTicketSnoozed, conv, nil, "")
	return d.effects, nil
}

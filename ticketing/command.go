package ticketing

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/templates"
)

// Command types: the CloudEvents type of a record on the commands topic.
// (They belong beside the other record types in gateway; they live here
// until the record contract takes them.)
const (
	// TypeCommandReply asks to send an agent's reply on a conversation:
	// free text, or an approved template with its variables (R28–R31).
	TypeCommandReply = "chatgate.command.reply"
)

// Limits on command fields.
const (
	MaxRequestIDLen = 128
	// MaxAgentIDLen is gateway's: agent ids follow gateway.CheckAgentID.
	MaxAgentIDLen = gateway.MaxAgentIDLen
	// MaxVariableNameLen bounds the name of a template variable given.
	MaxVariableNameLen = 64
)

var commandsHandled = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "chatgate_worker_commands_total",
	Help: "Desk commands decided, by type and result (accepted, rejected, replayed).",
}, []string{"type", "result"})

// Command is one desk command: an acting agent asks for something on one
// conversation. Every command carries a client request id and is
// idempotent on it: the same request id again returns the first outcome
// and changes nothing.
//
// On the commands topic a command is a CloudEvent whose type is Type, keyed
// by the conversation id, with the header fields and the type's payload
// side by side in its data:
//
//	{"request_id":"r-1","conversation_id":42,"agent_id":"ann","text":"Hello"}
type Command struct {
	// Type is the command type, e.g. TypeCommandReply; on Kafka the
	// CloudEvents type.
	Type string `json:"-"`
	// RequestID is the client's idempotency key, unique per command.
	RequestID string `json:"request_id"`
	// ConversationID names the conversation the command is about.
	ConversationID int64 `json:"conversation_id"`
	// AgentID is the acting agent.
	AgentID string `json:"agent_id"`
	// Role is the role the command is carried out with: set by the HTTP
	// API from the token; empty (ActorDesk) for records of the commands
	// topic, which only trusted desk services write. Not part of the
	// command's content (Fingerprint).
	Role ActorRole `json:"-"`
	// Reply is the payload of TypeCommandReply; its Text is also the text
	// of TypeCommandComment.
	*Reply
	// DeskArgs is the payload of the other desk commands (desk.go).
	*DeskArgs
}

// Reply is what an agent sends: free text, or a template.
type Reply struct {
	// Text is free text (R28: only inside the window on WhatsApp).
	Text string `json:"text,omitempty"`
	// Template names an approved template to send instead.
	Template *TemplateReply `json:"template,omitempty"`
}

// TemplateReply names a template and fills its variables.
type TemplateReply struct {
	// Name and Language (any spelling; stored canonically) name the copy.
	Name     string `json:"name"`
	Language string `json:"language"`
	// Variables are the values keyed by variable name ("1", "first_name").
	Variables map[string]string `json:"variables,omitempty"`
}

// Key returns the command's Kafka key: the conversation id, or for an
// agent-scoped command (AgentScoped) "agent:" and the agent id.
func (c Command) Key() string {
	if AgentScoped(c.Type) {
		return "agent:" + c.AgentID
	}
	return strconv.FormatInt(c.ConversationID, 10)
}

// EventID is deterministic per request, so a command published twice is
// deduplicated by id as well as by request id.
func (c Command) EventID() string { return "command:" + c.RequestID }

// Record encodes the command as its record for topic, keyed by conversation.
func (c Command) Record(source, topic string, at time.Time) (gateway.Message, error) {
	return gateway.EncodeRecord(topic, c.Key(), c.EventID(), source, c.Type, c.Key(), at, c)
}

// FieldProblem names one problem with one field of a command; Field uses
// the JSON names ("template.language").
type FieldProblem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Validate checks the command's shape (not the conversation's state). It
// returns a *Rejection with CodeInvalidCommand or CodeUnsupportedCommand,
// listing every problem, or nil.
//
// It applies gateway's rules of R38 to every field, so a command it
// accepts holds nothing PostgreSQL refuses: the request id is a key, the
// agent ids follow gateway.CheckAgentID, texts refuse control characters
// other than tab and line breaks, names refuse all of them. A command it
// refuses is answered invalid_command and never reaches the store, on the
// commands topic as over HTTP.
func (c *Command) Validate() *Rejection {
	var probs []FieldProblem
	add := func(field, msg string) {
		if msg != "" {
			probs = append(probs, FieldProblem{Field: field, Message: msg})
		}
	}
	text := func(field, v string, max int) {
		if strings.TrimSpace(v) == "" {
			add(field, "is required")
			return
		}
		add(field, gateway.CheckText(v, max))
	}
	if !knownCommand(c.Type) {
		return &Rejection{Code: CodeUnsupportedCommand, Message: fmt.Sprintf("command type %q is not supported", clip(c.Type))}
	}
	if c.RequestID == "" {
		add("request_id", "is required")
	}
	add("request_id", gateway.CheckKey(c.RequestID, MaxRequestIDLen))
	switch {
	case AgentScoped(c.Type) && c.ConversationID != 0:
		add("conversation_id", "must be absent: the command is about the agent")
	case !AgentScoped(c.Type) && c.ConversationID <= 0:
		add("conversation_id", "must be a conversation id (a positive number)")
	}
	add("agent_id", gateway.CheckAgentID(c.AgentID))
	if c.Type != TypeCommandReply {
		c.validateDesk(add, text)
		return rejectionOf(probs)
	}
	switch r := c.Reply; {
	case r == nil || (r.Text == "" && r.Template == nil):
		add("text", "text or template is required")
	case r.Text != "" && r.Template != nil:
		add("text", "give text or template, not both")
	case r.Template == nil:
		text("text", r.Text, gateway.MaxTextLen)
	default:
		if strings.TrimSpace(r.Template.Name) == "" {
			add("template.name", "is required")
		} else {
			// A name that breaks the name rule is left to the lookup
			// (template_not_found); one the store cannot even look up is not.
			add("template.name", gateway.CheckKey(r.Template.Name, templates.MaxNameLength))
		}
		if strings.TrimSpace(r.Template.Language) == "" {
			add("template.language", "is required")
		} else if _, err := templates.NormalizeLanguage(r.Template.Language); err != nil {
			add("template.language", clip(err.Error()))
		}
		// Values are judged by rendering (invalid_variables); a name is
		// echoed in that rejection, which is stored, so it must be storable.
		for _, name := range slices.Sorted(maps.Keys(r.Template.Variables)) {
			if p := gateway.CheckKey(name, MaxVariableNameLen); p != "" || name == "" {
				add("template.variables", "names a variable that cannot be one: "+cmp.Or(p, "is empty"))
				break
			}
		}
	}
	return rejectionOf(probs)
}

// clip bounds a client's value quoted back in a rejection message.
func clip(s string) string {
	if utf8.RuneCountInString(s) <= 64 {
		return s
	}
	return string([]rune(s)[:64]) + "…"
}

// validateDesk checks the payload of a desk command type.
func (c *Command) validateDesk(add func(field, msg string), text func(field, v string, max int)) {
	a := c.DeskArgs
	if a == nil {
		a = &DeskArgs{}
	}
	switch c.Type {
	case TypeCommandComment:
		if c.Reply == nil {
			add("text", "is required")
			break
		}
		text("text", c.Text, MaxCommentLen)
		if c.Template != nil {
			add("template", "a comment is text only")
		}
	case TypeCommandQuickAccept:
		if a.Count < 1 || a.Count > MaxQuickAccept {
			add("count", fmt.Sprintf("must be between 1 and %d", MaxQuickAccept))
		}
	case TypeCommandTransfer:
		switch {
		case (a.ToAgent == "") == (a.ToDepartment == ""):
			add("to_agent", "give to_agent or to_department, exactly one")
		case a.ToAgent != "":
			add("to_agent", gateway.CheckAgentID(a.ToAgent))
		default:
			add("to_department", CheckDepartmentID(a.ToDepartment))
		}
	case TypeCommandSnooze:
		switch {
		case (a.Until == nil) == (a.DurationSeconds == 0):
			add("until", "give until or duration_seconds, exactly one")
		case a.DurationSeconds > maxDurationSeconds || a.DurationSeconds < -maxDurationSeconds:
			// Multiplied into a time.Duration it would wrap around, and a
			// wrapped value can land inside the allowed range.
			add("duration_seconds", "is out of range: a snooze lasts 300 to 86400 seconds")
		}
	case TypeCommandRead:
		if a.Read == nil {
			add("read", "is required (true: read, false: unread)")
		}
	case TypeCommandSign:
		if a.Sign == nil {
			add("sign", "is required (true: on, false: off)")
		}
		add("display_name", gateway.CheckLine(a.DisplayName, MaxDisplayNameLen))
	}
}

// maxDurationSeconds is the largest duration_seconds a time.Duration holds.
const maxDurationSeconds = int64(math.MaxInt64 / time.Second)

func rejectionOf(probs []FieldProblem) *Rejection {
	if len(probs) == 0 {
		return nil
	}
	msgs := make([]string, len(probs))
	for i, p := range probs {
		msgs[i] = p.Field + " " + p.Message
	}
	return &Rejection{Code: CodeInvalidCommand, Message: "invalid command: " + strings.Join(msgs, "; "), Fields: probs}
}

// Fingerprint identifies the command's content, so that a request id used
// again for a different command is refused rather than answered with the
// outcome of another one.
func (c Command) Fingerprint() string {
	v := struct {
		Type string `json:"type"`
		Command
	}{c.Type, c}
	if v.Reply != nil && v.Template != nil {
		t := *v.Template
		if lang, err := templates.NormalizeLanguage(t.Language); err == nil {
			t.Language = lang
		}
		v.Reply = &Reply{Template: &t}
	}
	raw, _ := json.Marshal(v) // maps are marshalled with sorted keys: deterministic
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// DecodeCommand parses a record of the commands topic. A record that is not
// a CloudEvent, or whose data has no request id or conversation id, or
// whose key is not the conversation id, cannot be answered and is an error
// (the worker dead-letters it); any other problem is left to Validate, so
// that the desk hears of it as a rejection.
func DecodeCommand(m gateway.Message) (Command, error) {
	ev, c, err := gateway.DecodeRecord[Command](m.Value)
	if err != nil {
		return Command{}, err
	}
	c.Type = ev.Type
	switch {
	case strings.TrimSpace(c.RequestID) == "":
		return Command{}, errors.New("command without request_id")
	case AgentScoped(c.Type) && strings.TrimSpace(c.AgentID) == "":
		return Command{}, errors.New("agent command without agent_id")
	case !AgentScoped(c.Type) && c.ConversationID <= 0:
		return Command{}, errors.New("command without conversation_id")
	}
	if string(m.Key) != c.Key() {
		// Keys decide ordering: a record keyed otherwise may overtake the
		// conversation's earlier commands.
		return Command{}, fmt.Errorf("record key %q is not the command's key %q", m.Key, c.Key())
	}
	return c, nil
}

// Rejection codes: why a command was refused. Clients branch on the code;
// a published code does not change meaning.
const (
	// CodeInvalidCommand: the command is malformed; Fields name each problem.
	CodeInvalidCommand = "invalid_command"
	// CodeUnsupportedCommand: this version does not know the command type.
	CodeUnsupportedCommand = "unsupported_command"
	// CodeRequestIDReused: the request id was used before for another command.
	CodeRequestIDReused = "request_id_reused"
	// CodeConversationNotFound: no conversation has the id.
	CodeConversationNotFound = "conversation_not_found"
	// CodeConversationClosed: the conversation is closed or deleted and the
	// reply cannot reach out from it (R31); State says which.
	CodeConversationClosed = "conversation_closed"
	// CodeContactEndedChat: the contact ended the live chat; the agent can
	// only resolve or delete it (R24).
	CodeContactEndedChat = "contact_ended_chat"
	// CodeContactSpam: the contact is marked as spam; nothing is sent to it (R16).
	CodeContactSpam = "contact_spam"
	// CodeContactOptedOut: the contact opted out; nothing is sent to it (R33).
	CodeContactOptedOut = "contact_opted_out"
	// CodeTemplateRequired: free text outside WhatsApp's window (R28);
	// WindowClosedAt and Templates say when it closed and what may be sent.
	CodeTemplateRequired = "template_required"
	// CodeTemplateNotFound: no template has the name and language.
	CodeTemplateNotFound = "template_not_found"
	// CodeTemplateNotApproved: the template has no approved version (R29);
	// TemplateStatus is the current version's status.
	CodeTemplateNotApproved = "template_not_approved"
	// CodeTemplateNotForChannel: the template's channel scope excludes the
	// conversation's channel.
	CodeTemplateNotForChannel = "template_not_for_channel"
	// CodeInvalidVariables: variables missing, extra, empty or not UTF-8
	// (R29); Variables names each.
	CodeInvalidVariables = "invalid_variables"
)

// ErrCommandRejected is matched by every *Rejection.
var ErrCommandRejected = errors.New("command rejected")

// ErrTemplateRequired is matched by a *Rejection with CodeTemplateRequired.
var ErrTemplateRequired = errors.New("template required: the WhatsApp window is closed")

// Rejection says why a command was refused: a stable code, a message for
// people, and the details that code carries.
type Rejection struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Fields name the malformed fields (CodeInvalidCommand).
	Fields []FieldProblem `json:"fields,omitempty"`
	// WindowClosedAt is when the window closed (CodeTemplateRequired);
	// absent when the contact never wrote.
	WindowClosedAt *time.Time `json:"window_closed_at,omitempty"`
	// Templates are the approved templates that fit the conversation's
	// channel and language (CodeTemplateRequired; present, maybe empty).
	Templates []TemplateOffer `json:"templates,omitzero"`
	// Variables names the refused variables (CodeInvalidVariables).
	Variables *templates.VariableError `json:"variables,omitempty"`
	// Channel and Language are the conversation's, which Templates fit
	// (CodeTemplateRequired).
	Channel  gateway.Channel `json:"channel,omitempty"`
	Language string          `json:"language,omitempty"`
	// TemplateStatus is the status of a template that cannot be sent.
	TemplateStatus templates.Status `json:"template_status,omitempty"`
	// State is the conversation's state (CodeConversationClosed).
	State State `json:"state,omitempty"`
	// OpenConversationID is the contact's open conversation, where a reply
	// belongs instead (CodeConversationClosed, CodeOpenConversationExists).
	OpenConversationID int64 `json:"open_conversation_id,omitempty"`
	// Assignee is the agent who has the conversation (CodeAlreadyAssigned).
	Assignee string `json:"assignee,omitempty"`
	// Agent is the transfer's agent (CodeAgentUnavailable).
	Agent string `json:"agent,omitempty"`
	// Department is the transfer's department (CodeDepartmentUnavailable).
	Department string `json:"department,omitempty"`
}

// Error returns "code: message".
func (r *Rejection) Error() string { return r.Code + ": " + r.Message }

// Is matches ErrCommandRejected, and ErrTemplateRequired for its code.
func (r *Rejection) Is(target error) bool {
	return target == ErrCommandRejected || (target == ErrTemplateRequired && r.Code == CodeTemplateRequired)
}

// TemplateOffer is an approved template an agent may send instead of free
// text, with the variables it needs.
type TemplateOffer struct {
	Name      string             `json:"name"`
	Language  string             `json:"language"`
	Category  templates.Category `json:"category"`
	Body      string             `json:"body"`
	Variables []string           `json:"variables"`
}

// Outcome is the result of a command, stored under its request id and
// returned again, unchanged, for the same request id.
type Outcome struct {
	RequestID      string `json:"request_id"`
	Type           string `json:"type"`
	ConversationID int64  `json:"conversation_id"` // as the command named it
	AgentID        string `json:"agent_id"`
	// Accepted is true when the command was carried out; otherwise
	// Rejection says why not.
	Accepted  bool       `json:"accepted"`
	Rejection *Rejection `json:"rejection,omitempty"`
	// Message is the stored reply (TypeCommandReply).
	Message *ReplyMessage `json:"message,omitempty"`
	// Conversation is the conversation right after the command: for a
	// reply the one it was stored in, the one named or a new one (R31).
	Conversation *ConversationSnapshot `json:"conversation,omitempty"`
	// Conversations are the conversations a quick accept assigned, oldest
	// first; empty when the queue had none.
	Conversations []ConversationSnapshot `json:"conversations,omitzero"`
	// Comment is the comment added (TypeCommandComment).
	Comment *Comment `json:"comment,omitempty"`
	// Agent is the agent's settings after TypeCommandSign.
	Agent *AgentSettings `json:"agent,omitempty"`
	// Replayed is true when the outcome is that of an earlier command with
	// the same request id; nothing was done this time. Not stored.
	Replayed bool `json:"-"`
}

// ReplyMessage is an agent's stored outbound message.
type ReplyMessage struct {
	gateway.MessageView
	ConversationID int64  `json:"conversation_id"`
	AgentID        string `json:"agent_id"`
	// OutboundRequestID is the request id of the send (R32), derived from
	// the command's request id.
	OutboundRequestID string       `json:"outbound_request_id"`
	Template          *TemplateRef `json:"template,omitempty"`
}

// TemplateRef names the template copy a message was rendered from.
type TemplateRef struct {
	Name     string `json:"name"`
	Language string `json:"language"`
	Version  int    `json:"version"`
}

// CommandRejected is the data of a chatgate.command.rejected event on the
// tickets topic, keyed by the conversation id the command named. Reason is
// the rejection code, where ticket events carry their reason; the rejection
// with its details is nested, so that no field of it reads as a field of a
// ticket event (a ticket event's "message" is a message object).
type CommandRejected struct {
	RequestID      string    `json:"request_id"`
	Command        string    `json:"command"`
	ConversationID int64     `json:"conversation_id"`
	AgentID        string    `json:"agent_id"`
	Reason         string    `json:"reason"`
	Rejection      Rejection `json:"rejection"`
}

// StoredOutcome is an outcome as the store keeps it.
type StoredOutcome struct {
	Fingerprint string
	Outcome     []byte // JSON of Outcome
}

// CommandLoad is the state a batch of commands decides on.
type CommandLoad struct {
	// Conversations by id: the named ones that exist, plus the open (or
	// else latest) conversation of each of their contacts. One row is one
	// *Conversation, whichever way it was asked for.
	Conversations map[int64]*Conversation
	// States by contact id: the contact, locked until the transaction ends,
	// with its open conversation or else its latest one.
	States map[int64]*ContactState
	// Outcomes stored for the batch's request ids.
	Outcomes map[string]StoredOutcome
	// Departments and Presence are what transfers (R21), queues (R17) and
	// the contact's texts need: every stored department and the online
	// agents.
	Departments []Department
	Presence    []Presence
	// Agents are the stored settings of the batch's agents (R25); an agent
	// without a row is missing.
	Agents map[string]AgentSettings
}

// CommandLoadRequest names what a batch of commands reads.
type CommandLoadRequest struct {
	ConversationIDs []int64
	RequestIDs      []string
	AgentIDs        []string
}

// QueueClaim asks for the oldest unassigned conversations of a queue (R18).
type QueueClaim struct {
	// Scope limits the queue to an agent's departments (R17); a Scope with
	// All set claims from every department.
	Scope Scope
	// Limit is how many to claim at most.
	Limit int
	// Exclude are conversations the batch already decided on.
	Exclude []int64
}

// CommandRecord is one outcome to store under its request id.
type CommandRecord struct {
	RequestID      string
	Type           string
	ConversationID int64
	AgentID        string
	Fingerprint    string
	Outcome        []byte
	At             time.Time
}

// MessageTemplate is the template reference of a stored message.
type MessageTemplate struct {
	MessageID int64
	Template  TemplateRef
}

// CommandWrites is what a batch of commands writes besides its Changes.
type CommandWrites struct {
	Outcomes  []CommandRecord
	Templates []MessageTemplate
	// Agents are settings to store (TypeCommandSign), created when missing.
	Agents []AgentSettings
}

// ErrDuplicateRequest reports that another transaction stored an outcome
// for a request id of the batch first; running the batch again answers the
// command from that outcome.
var ErrDuplicateRequest = errors.New("request id stored concurrently")

// CommandTx is the work commands do in a batch's transaction. StoreTx
// embeds it.
type CommandTx interface {
	// LoadCommands locks the contacts of the named conversations (in a fixed
	// order) and returns them with the conversations, the outcomes already
	// stored for the request ids, the directory and the agents' settings.
	LoadCommands(ctx context.Context, req CommandLoadRequest) (CommandLoad, error)
	// ClaimQueue locks up to Limit unassigned conversations of the queue,
	// oldest first (queued_at, id), with their contacts, skipping rows
	// another transaction holds (FOR UPDATE SKIP LOCKED), so concurrent
	// quick accepts never get the same conversation and none waits (R18).
	// Each state's Open is the claimed conversation.
	ClaimQueue(ctx context.Context, q QueueClaim) ([]*ContactState, error)
	// SaveCommands stores the outcomes, the template references of stored
	// messages and agents' settings. A request id stored meanwhile by
	// another transaction fails with ErrDuplicateRequest.
	SaveCommands(ctx context.Context, w CommandWrites) error
	// ClaimWindowClosing locks up to limit unassigned WhatsApp conversations
	// whose last inbound message arrived after after and at or before upTo,
	// and which were not warned for that message's window, earliest first,
	// with their contacts, skipping rows others hold (SKIP LOCKED).
	ClaimWindowClosing(ctx context.Context, after, upTo time.Time, limit int) (WindowClaim, error)
	// MarkWindowWarned records the warnings published.
	MarkWindowWarned(ctx context.Context, ws []WindowWarning) error
}

// handleCommands handles the batch's records of the commands topic, inside
// the batch's transaction. Records that cannot be answered (not a command,
// no request id or conversation id, wrong key) are dead-lettered with the
// reason; every other command ends in an outcome: carried out, or refused
// with a chatgate.command.rejected event.
//
// Quick accepts are returned, not run: the caller runs them with
// runBatchCommands as the batch's last step (splitQuickAccepts).
func (s *Service) handleCommands(ctx context.Context, tx StoreTx, msgs []gateway.Message, now time.Time, ch *Changes) (quick []Command, err error) {
	if s.Directory != nil {
		if msgs, err = s.presenceCommands(ctx, msgs, now, ch); err != nil {
			return nil, err
		}
	}
	cmds := make([]Command, 0, len(msgs))
	for _, m := range msgs {
		c, err := DecodeCommand(m)
		if err != nil {
			rec, derr := s.deadletter(ctx, m, fmt.Errorf("command record: %w", err), now)
			if derr != nil {
				return nil, derr
			}
			ch.Outbox = append(ch.Outbox, rec)
			continue
		}
		cmds = append(cmds, c)
	}
	cmds, quick = splitQuickAccepts(cmds)
	return quick, s.runBatchCommands(ctx, tx, cmds, now, ch)
}

// runBatchCommands runs commands of a worker batch after the batch's
// earlier changes.
func (s *Service) runBatchCommands(ctx context.Context, tx StoreTx, cmds []Command, now time.Time, ch *Changes) error {
	if len(cmds) == 0 {
		return nil
	}
	// The batch's inbound changes are written first, so the commands see
	// the conversations as the batch left them, and apply allocates ids for
	// the commands' rows only.
	if !ch.empty() {
		if err := tx.Save(ctx, ch); err != nil {
			return err
		}
		*ch = Changes{}
	}
	lookups := s.lookupTemplates(ctx, cmds)
	_, err := s.runCommands(ctx, tx, cmds, now, lookups, true, ch)
	return err
}

// splitQuickAccepts separates the quick accepts of a batch's commands: they
// claim conversations with SKIP LOCKED and run last in the batch's
// transaction, after every step that waits for a lock, so a transaction
// holding claimed rows never waits for another (no deadlock with inbound
// batches).
func splitQuickAccepts(cmds []Command) (rest, quick []Command) {
	for _, c := range cmds {
		if c.Type == TypeCommandQuickAccept {
			quick = append(quick, c)
		} else {
			rest = append(rest, c)
		}
	}
	return rest, quick
}

// Execute carries out one command synchronously, in its own transaction,
// with the same decisions as the commands topic: the desk HTTP API's path.
// A refused command is an Outcome with a Rejection, not an error; errors
// are failures to decide (database, template store), after which nothing
// was done. The same request id again returns the first outcome, with
// Replayed set.
func (s *Service) Execute(ctx context.Context, cmd Command) (Outcome, error) {
	if rej := cmd.Validate(); rej != nil {
		return Outcome{RequestID: cmd.RequestID, Type: cmd.Type, ConversationID: cmd.ConversationID, AgentID: cmd.AgentID, Rejection: rej}, nil
	}
	// Templates are looked up before the transaction: a transaction waiting
	// for a second pool connection while holding its first could starve
	// the pool under load.
	lookups := s.lookupTemplates(ctx, []Command{cmd})
	var out Outcome
	run := func() error {
		return s.Store.InTx(ctx, func(tx StoreTx) error {
			ch := &Changes{}
			outs, err := s.runCommands(ctx, tx, []Command{cmd}, s.Now().UTC(), lookups, false, ch)
			if err != nil {
				return err
			}
			out = outs[0]
			if ch.empty() {
				return nil
			}
			return tx.Save(ctx, ch)
		})
	}
	err := run()
	if errors.Is(err, ErrDuplicateRequest) {
		// The same request id was just stored through another conversation:
		// the retry reads that outcome.
		err = run()
	}
	if err != nil {
		return Outcome{}, fmt.Errorf("execute %s %s: %w", cmd.Type, cmd.RequestID, err)
	}
	if out.Rejection != nil && out.Rejection.Code == CodeTemplateRequired {
		// Offers are read after the commit, for the reason above.
		offers, err := s.offers(ctx, out.Rejection.Channel, out.Rejection.Language)
		if err != nil {
			return Outcome{}, fmt.Errorf("execute %s %s: %w", cmd.Type, cmd.RequestID, err)
		}
		out.Rejection.Templates = offers
	}
	return out, nil
}

// runCommands decides cmds in order on one load of their state, writes the
// outcomes and fills ch with the changes and outbox records. withOffers
// reads the templates a template_required rejection offers now (the
// worker); without, the caller does after commit (Execute).
func (s *Service) runCommands(ctx context.Context, tx StoreTx, cmds []Command, now time.Time, lookups templateLookups, withOffers bool, ch *Changes) ([]Outcome, error) {
	var req CommandLoadRequest
	for _, c := range cmds {
		if c.Validate() != nil {
			// Refused below without any state; its ids must not reach the
			// store, which would fail the whole batch on a NUL (R38).
			continue
		}
		if !AgentScoped(c.Type) && c.ConversationID > 0 {
			req.ConversationIDs = append(req.ConversationIDs, c.ConversationID)
		}
		req.RequestIDs = append(req.RequestIDs, c.RequestID)
		if c.AgentID != "" {
			req.AgentIDs = append(req.AgentIDs, c.AgentID)
		}
	}
	load, err := tx.LoadCommands(ctx, req)
	if err != nil {
		return nil, err
	}
	if load.Agents == nil {
		load.Agents = map[string]AgentSettings{}
	}
	env := Env{Now: now, Config: s.Config, Directory: s.deskDirectory(ctx, load.Departments, load.Presence)}
	outs := make([]Outcome, len(cmds))
	decs := make([]*ReplyDecision, len(cmds))
	desks := make([]*DeskDecision, len(cmds))
	quick := make([][]ConversationSnapshot, len(cmds))
	dupOf := make([]int, len(cmds)) // index of the batch's first command with the same request id, or -1
	first := map[string]int{}
	offered := map[templateKey][]TemplateOffer{} // by channel and language
	var effects []Effect
	var w CommandWrites
	for i, c := range cmds {
		dupOf[i] = -1
		outs[i] = Outcome{RequestID: c.RequestID, Type: c.Type, ConversationID: c.ConversationID, AgentID: c.AgentID}
		if stored, ok := load.Outcomes[c.RequestID]; ok {
			if outs[i], err = replayOf(outs[i], stored.Fingerprint == c.Fingerprint(), stored.Outcome); err != nil {
				return nil, err
			}
			continue
		}
		if j, ok := first[c.RequestID]; ok {
			if cmds[j].Fingerprint() == c.Fingerprint() {
				dupOf[i] = j // answered with j's outcome once it is complete
			} else {
				outs[i], _ = replayOf(outs[i], false, nil)
			}
			continue
		}
		first[c.RequestID] = i
		if rej := c.Validate(); rej != nil {
			outs[i].Rejection = rej
			continue
		}
		var st *ContactState
		conv := load.Conversations[c.ConversationID]
		if conv != nil {
			st = load.States[conv.ContactID]
		}
		switch c.Type {
		case TypeCommandReply:
			dec := DecideReply(ReplyInput{Command: c, Conversation: conv, State: st, Template: lookups.get(c), Agent: load.Agents[c.AgentID]}, env)
			if dec.Err != nil {
				return nil, dec.Err
			}
			if rej := dec.Rejection; rej != nil {
				if rej.Code == CodeTemplateRequired && withOffers {
					k := templateKey{string(rej.Channel), rej.Language}
					if _, ok := offered[k]; !ok {
						if offered[k], err = s.offers(ctx, rej.Channel, rej.Language); err != nil {
							return nil, err
						}
					}
					rej.Templates = offered[k]
				}
				outs[i].Rejection = rej
				continue
			}
			decs[i] = &dec
			effects = append(effects, dec.Effects...)
		case TypeCommandSign:
			set := AgentSettings{AgentID: c.AgentID, Sign: *c.Sign, DisplayName: c.DisplayName}
			load.Agents[c.AgentID] = set
			w.Agents = append(w.Agents, set)
			outs[i].Agent = &set
		case TypeCommandQuickAccept:
			claimed, err := s.claimQueue(ctx, tx, c, env.Directory, &load)
			if err != nil {
				return nil, err
			}
			eff, taken := DecideQuickAccept(c, claimed, env)
			effects = append(effects, eff...)
			quick[i] = make([]ConversationSnapshot, 0, len(taken))
			for _, v := range taken {
				quick[i] = append(quick[i], Snapshot(*v, *load.States[v.ContactID].Contact))
			}
		default:
			dec := DecideDesk(DeskInput{Command: c, Conversation: conv, State: st}, env)
			if dec.Rejection != nil {
				outs[i].Rejection = dec.Rejection
				continue
			}
			desks[i] = &dec
			effects = append(effects, dec.Effects...)
		}
		outs[i].Accepted = true
	}
	// One apply for the whole batch: ids are allocated in one round trip.
	if err := s.apply(ctx, tx, effects, ch); err != nil {
		return nil, err
	}

	for i, c := range cmds {
		o := &outs[i]
		switch {
		case decs[i] != nil:
			dec := decs[i]
			o.Message = dec.view()
			snap := dec.Snapshot
			snap.ID = dec.Conversation.ID // allocated by apply for a new conversation
			cv := Snapshot(snap, *load.States[dec.Conversation.ContactID].Contact)
			o.Conversation = &cv
			if dec.Template != nil {
				w.Templates = append(w.Templates, MessageTemplate{MessageID: dec.Message.ID, Template: *dec.Template})
			}
		case desks[i] != nil:
			dec := desks[i]
			cv := Snapshot(dec.Snapshot, *load.States[dec.Conversation.ContactID].Contact)
			o.Conversation, o.Comment = &cv, dec.Comment
		case quick[i] != nil:
			o.Conversations = quick[i]
		case dupOf[i] >= 0:
			*o = outs[dupOf[i]]
			o.Replayed = true
		}
		if o.Accepted && !o.Replayed {
			commandsHandled.WithLabelValues(typeLabel(c.Type), "accepted").Inc()
		}
		if o.Replayed {
			commandsHandled.WithLabelValues(typeLabel(c.Type), "replayed").Inc()
			continue // answered before: nothing is done, stored or published again
		}
		if o.Rejection != nil {
			rec, err := rejectedRecord(c, *o.Rejection, now)
			if err != nil {
				return nil, err
			}
			ch.Outbox = append(ch.Outbox, rec)
			commandsHandled.WithLabelValues(typeLabel(c.Type), "rejected").Inc()
			if code := o.Rejection.Code; code == CodeRequestIDReused || code == CodeUnsupportedCommand || code == CodeInvalidCommand {
				// Not stored: the request id belongs to another command, or
				// the command was not understood, and its corrected form
				// may use the same request id (as over HTTP).
				continue
			}
		}
		raw, err := json.Marshal(o)
		if err != nil {
			return nil, fmt.Errorf("encode outcome of %s: %w", c.RequestID, err)
		}
		w.Outcomes = append(w.Outcomes, CommandRecord{
			RequestID: c.RequestID, Type: c.Type, ConversationID: c.ConversationID, AgentID: c.AgentID,
			Fingerprint: c.Fingerprint(), Outcome: raw, At: now,
		})
	}
	if len(w.Outcomes) == 0 && len(w.Templates) == 0 && len(w.Agents) == 0 {
		return outs, nil
	}
	if len(w.Templates) > 0 {
		// The messages the template references belong to are inserted by Save.
		if err := tx.Save(ctx, ch); err != nil {
			return nil, err
		}
		*ch = Changes{}
	}
	if err := tx.SaveCommands(ctx, w); err != nil {
		return nil, err
	}
	return outs, nil
}

// claimQueue claims the conversations a quick accept may take (R18): the
// oldest of the agent's queue (R17; a supervisor's queue is every
// department), none the batch decided on already, and merges them into
// load, reusing the batch's copy of a contact it loaded.
func (s *Service) claimQueue(ctx context.Context, tx StoreTx, c Command, dir *Directory, load *CommandLoad) ([]*ContactState, error) {
	scope := ScopeOf(c.Role, c.AgentID, dir)
	if c.Role != ActorSupervisor {
		// A desk acts for the agent: the agent's queue.
		scope = ScopeOf(ActorAgent, c.AgentID, dir)
	}
	var exclude []int64
	for id, v := range load.Conversations {
		if v.State != StateUnassigned {
			exclude = append(exclude, id)
		}
	}
	claimed, err := tx.ClaimQueue(ctx, QueueClaim{Scope: scope, Limit: c.Count, Exclude: exclude})
	if err != nil {
		return nil, err
	}
	out := make([]*ContactState, 0, len(claimed))
	for _, st := range claimed {
		if known := load.States[st.Contact.ID]; known != nil {
			if known.Open == nil || known.Open.ID != st.Open.ID {
				continue // the batch closed or replaced it meanwhile
			}
			st = known
		} else {
			load.States[st.Contact.ID] = st
		}
		if v := load.Conversations[st.Open.ID]; v != nil && v != st.Open {
			continue
		}
		load.Conversations[st.Open.ID] = st.Open
		out = append(out, st)
	}
	return out, nil
}

// deskDirectory indexes departments and presence for desk commands: unlike
// routing, transfers need presence even when no department is configured.
func (s *Service) deskDirectory(ctx context.Context, deps []Department, presence []Presence) *Directory {
	dir, err := NewDirectory(deps, presence)
	if err != nil {
		s.logger().WarnContext(ctx, "stored departments do not validate; invalid ones are ignored", "err", err)
	}
	return dir
}

// typeLabel bounds the metric's type label: command types come from clients.
func typeLabel(typ string) string {
	if knownCommand(typ) {
		return typ
	}
	return "unsupported"
}

// replayOf answers a request id seen before: with the stored outcome when
// the command is the same, or a CodeRequestIDReused rejection when it is
// not.
func replayOf(out Outcome, same bool, stored []byte) (Outcome, error) {
	if !same {
		out.Rejection = &Rejection{Code: CodeRequestIDReused, Message: fmt.Sprintf("request id %q was used before for a different command", out.RequestID)}
		return out, nil
	}
	var prev Outcome
	if err := json.Unmarshal(stored, &prev); err != nil {
		return Outcome{}, fmt.Errorf("stored outcome of %s: %w", out.RequestID, err)
	}
	prev.Replayed = true
	return prev, nil
}

func rejectedRecord(c Command, r Rejection, now time.Time) (OutboxRecord, error) {
	key := c.Key()
	id := "command:" + c.RequestID + ":rejected"
	if r.Code == CodeRequestIDReused {
		id += ":" + c.Fingerprint()
	}
	return outboxRecord(gateway.TopicTickets, key, id, gateway.TypeCommandRejected, key, now, CommandRejected{
		RequestID: c.RequestID, Command: c.Type, ConversationID: c.ConversationID, AgentID: c.AgentID, Reason: r.Code, Rejection: r,
	})
}

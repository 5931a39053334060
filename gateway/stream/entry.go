package stream

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"

	"github.com/chatgate/chatgate/gateway"
)

// Notification kinds (the "kind" of a notification event).
const (
	// NoticeMentioned: a comment mentions the agent (@ann, R23).
	NoticeMentioned = "mentioned"
	// NoticeAssigned: the conversation was assigned to the agent by someone
	// else: another agent, a supervisor, a desk service or a rule.
	NoticeAssigned = "assigned"
	// NoticeTransferred: the conversation was transferred to the agent (R21).
	NoticeTransferred = "transferred"
	// NoticeContactLeft: the contact of the agent's conversation ended the
	// chat (R24): only resolve or delete remain.
	NoticeContactLeft = "contact_left"
)

// entry is one event of the tickets topic in the hub's history, parsed
// once for every client.
type entry struct {
	seq    uint64 // place in the hub's history
	part   int
	offset int64
	id     string    // the position right after this record, encoded
	at     time.Time // when the hub read it: the history ages by it
	size   int       // what it costs the history's byte bound

	typ     string
	eventID string    // the CloudEvent's id
	time    time.Time // the CloudEvent's time: when the change happened
	convID  int64
	// after is the conversation right after the change; nil for a command
	// rejection, which carries none.
	after *gateway.ConversationView
	// before is what decided who saw the conversation right before the
	// change, when that differs from after: the hub's memory of its last
	// event, or what the event itself says (see beforeOf). nil when the
	// change moved nothing that visibility reads, or when it is unknown.
	before *gateway.ConversationView
	// known is a rejection's conversation as the hub last saw it.
	known *gateway.ConversationView
	// rejected is the agent whose command a rejection refused.
	rejected string

	data    []byte // the record, a CloudEvent: the `ticket` event's data
	removed []byte // the `ticket.removed` data, when before is set
	notices []notice
}

// notice is a notification for one agent.
type notice struct {
	agent string
	data  []byte
}

// eventData is what the hub reads of a ticket event's data (docs/events.md,
// docs/desk.md): the conversation, and the desk details that decide
// notifications; the message is not read, it is sent as it is.
type eventData struct {
	Conversation *gateway.ConversationView `json:"conversation"`
	Actor        *struct {
		AgentID string `json:"agent_id"`
	} `json:"actor"`
	Transfer *struct {
		FromAgent      string `json:"from_agent"`
		ToAgent        string `json:"to_agent"`
		FromDepartment string `json:"from_department"`
		ToDepartment   string `json:"to_department"`
	} `json:"transfer"`
	Comment *struct {
		ID       string   `json:"id"`
		AgentID  string   `json:"agent_id"`
		Mentions []string `json:"mentions"`
	} `json:"comment"`
	// chatgate.command.rejected
	ConversationID int64  `json:"conversation_id"`
	AgentID        string `json:"agent_id"`
}

func (d *eventData) actor() string {
	if d.Actor == nil {
		return ""
	}
	return d.Actor.AgentID
}

// noticeData is the data of a notification event.
type noticeData struct {
	Kind           string    `json:"kind"`
	ConversationID int64     `json:"conversation_id"`
	EventID        string    `json:"event_id"`
	Type           string    `json:"type"`
	At             time.Time `json:"at"`
	// By is the agent who acted, when one did.
	By        string `json:"by,omitempty"`
	CommentID string `json:"comment_id,omitempty"`
}

// removedData is the data of a ticket.removed event: which conversation
// left the client's sight, and by which event, but nothing of its state.
type removedData struct {
	ConversationID int64     `json:"conversation_id"`
	EventID        string    `json:"event_id"`
	Type           string    `json:"type"`
	At             time.Time `json:"at"`
}

// parse reads one record of the tickets topic. It returns nil for what a
// desk is not sent: records that are not chatgate events, other types,
// ticket events without a conversation.
func parse(m gateway.Message) (*entry, *eventData) {
	ev, d, err := gateway.DecodeRecord[eventData](m.Value)
	if err != nil {
		return nil, nil
	}
	e := &entry{part: m.Partition, offset: m.Offset, typ: ev.Type, eventID: ev.ID, time: ev.Time, data: m.Value}
	switch {
	case ev.Type == gateway.TypeCommandRejected:
		if d.AgentID == "" && d.ConversationID == 0 {
			return nil, nil
		}
		e.convID, e.rejected = d.ConversationID, d.AgentID
	case strings.HasPrefix(ev.Type, "chatgate.ticket."):
		if d.Conversation == nil || d.Conversation.ID <= 0 {
			return nil, nil
		}
		e.convID, e.after = d.Conversation.ID, d.Conversation
	default:
		return nil, nil
	}
	// SSE ends a data line at a line break; JSON has them only as
	// whitespace, which compacting removes.
	if bytes.ContainsAny(e.data, "\r\n") {
		var buf bytes.Buffer
		if err := json.Compact(&buf, e.data); err != nil {
			return nil, nil
		}
		e.data = buf.Bytes()
	}
	e.notices = notices(ev, &d)
	return e, &d
}

// notices returns the per-agent notifications of an event (R23, R41): the
// agents a comment mentions, the assignee of a conversation someone else
// assigned, the agent a conversation was transferred to, and the assignee
// of a chat the contact ended (R24). Nobody is notified of their own act.
func notices(ev gateway.Event, d *eventData) []notice {
	var out []notice
	add := func(agent, kind, by, comment string) {
		if agent == "" || agent == by {
			return
		}
		for _, n := range out {
			if n.agent == agent {
				return
			}
		}
		raw, err := json.Marshal(noticeData{Kind: kind, ConversationID: d.Conversation.ID, EventID: ev.ID, Type: ev.Type, At: ev.Time, By: by, CommentID: comment})
		if err != nil {
			return // a struct of plain fields always marshals
		}
		out = append(out, notice{agent: agent, data: raw})
	}
	if d.Conversation == nil {
		return nil
	}
	switch ev.Type {
	case gateway.TypeTicketCommentAdded:
		if c := d.Comment; c != nil {
			for _, m := range c.Mentions {
				add(m, NoticeMentioned, c.AgentID, c.ID)
			}
		}
	case gateway.TypeTicketAssigned:
		add(d.Conversation.Assignee, NoticeAssigned, d.actor(), "")
	case gateway.TypeTicketTransferred:
		if d.Transfer != nil {
			add(d.Transfer.ToAgent, NoticeTransferred, d.actor(), "")
		}
	case gateway.TypeTicketContactLeft:
		add(d.Conversation.Assignee, NoticeContactLeft, "", "")
	}
	return out
}

// visState is what visibility reads of a conversation
// (ticketing.Scope.Visible): the hub remembers it per conversation to tell
// who saw a conversation before a change.
type visState struct {
	State, Department, Assignee, ClosedBy string
	Participants                          []string
}

func stateOf(v *gateway.ConversationView) visState {
	return visState{State: v.State, Department: v.Department, Assignee: v.Assignee, ClosedBy: v.ClosedBy, Participants: v.Participants}
}

func (s visState) equal(o visState) bool {
	if s.State != o.State || s.Department != o.Department || s.Assignee != o.Assignee || s.ClosedBy != o.ClosedBy ||
		len(s.Participants) != len(o.Participants) {
		return false
	}
	for i, p := range s.Participants {
		if o.Participants[i] != p {
			return false
		}
	}
	return true
}

// queued reports whether s and o are counted alike by the queue counts.
func (s visState) queued(o visState) bool {
	return s.State == o.State && s.Department == o.Department && s.Assignee == o.Assignee
}

func (s visState) view(id int64) *gateway.ConversationView {
	return &gateway.ConversationView{ID: id, State: s.State, Department: s.Department, Assignee: s.Assignee,
		ClosedBy: s.ClosedBy, Participants: s.Participants}
}

// beforeOf says what visibility read of a conversation just before the
// change of an event, for a conversation the hub has no memory of: from
// the event's own details where they say it (a transfer names where it
// came from; an assignment takes a conversation from its department's
// queue; a close keeps the assignee of the open conversation). For other
// events it cannot tell, and only who sees the conversation after the
// change is sent the event.
func beforeOf(typ string, d *eventData, after visState) (visState, bool) {
	b := after
	switch typ {
	case gateway.TypeTicketTransferred:
		if d.Transfer == nil {
			return visState{}, false
		}
		b.Assignee, b.Department, b.State = d.Transfer.FromAgent, d.Transfer.FromDepartment, "unassigned"
		if b.Assignee != "" {
			b.State = "assigned"
		}
	case gateway.TypeTicketAssigned:
		b.State, b.Assignee = "unassigned", ""
	case gateway.TypeTicketClosed:
		b.State, b.ClosedBy = "unassigned", ""
		if b.Assignee != "" {
			b.State = "assigned"
		}
	default:
		return visState{}, false
	}
	return b, true
}

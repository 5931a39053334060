package ticketing

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chatgate/chatgate/gateway"
)

// Scope is what a reader sees, and which queue a quick accept claims from
// (R17, R19): everything (supervisors, desk services), or an agent's own
// conversations and its queue.
type Scope struct {
	// All is set for supervisors and desk services: every conversation.
	All bool
	// Agent is the acting agent: "me" of "assigned to me", "closed by me".
	Agent string
	// Mine are the departments Agent works in; Known every configured
	// department. An unassigned conversation is in the agent's queue when
	// no department is configured, or its department is one of Mine, or it
	// has none or one that is not Known (Directory.InQueueOf).
	Mine, Known []string
	// Joinable are the departments of Mine whose policy lets agents join a
	// colleague's conversation (R36): the agent sees their open
	// conversations (MayJoin).
	Joinable []string
}

// ScopeOf returns the scope of agent acting with role on dir's departments.
func ScopeOf(role ActorRole, agent string, dir *Directory) Scope {
	sc := Scope{All: role != ActorAgent, Agent: agent, Mine: []string{}, Known: []string{}, Joinable: joinable(agent, dir)}
	for _, d := range dir.Departments() {
		sc.Known = append(sc.Known, d.ID)
		if slices.Contains(d.Agents, agent) {
			sc.Mine = append(sc.Mine, d.ID)
		}
	}
	return sc
}

// View names one of the desk's lists.
type View string

// The lists of GET /v1/tickets/… (R17, R19, R20, R22).
const (
	// ViewUnassigned: the unassigned queue, most recently queued first (R17),
	// without the conversations awaiting the contact's consent (R35).
	ViewUnassigned View = "unassigned"
	// ViewAssigned: assigned conversations, most recently assigned first;
	// for a supervisor without an agent, grouped by agent (R19).
	ViewAssigned View = "assigned"
	// ViewClosed: closed conversations, most recently closed first (R20).
	ViewClosed View = "closed"
	// ViewSnoozed: snoozed conversations, soonest back first (R22).
	ViewSnoozed View = "snoozed"
)

// Page sizes of the lists.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
	// MaxHistory bounds the messages and events of one conversation's
	// history in one answer.
	MaxHistory = 2000
)

// Order is the order of the unassigned queue's list (R36).
type Order string

// Orders of the unassigned list.
const (
	// OrderNewest: most recently queued first (R17), the default.
	OrderNewest Order = "newest"
	// OrderOldest: longest waiting first, the order quick accept takes.
	OrderOldest Order = "oldest"
)

// Cursor is the position after the last row of a page, in the list's
// order: its time (queued, assigned, closed or snooze time), id, for the
// grouped assigned list the agent, and the order it was read in (a cursor
// of one order does not continue the other).
type Cursor struct {
	At    time.Time `json:"t"`
	ID    int64     `json:"i"`
	Agent string    `json:"a,omitempty"`
	Order Order     `json:"o,omitempty"`
}

// Encode returns the cursor as an opaque URL-safe token.
func (c Cursor) Encode() string {
	raw, _ := json.Marshal(c) // a struct of plain fields always marshals
	return base64.RawURLEncoding.EncodeToString(raw)
}

// ErrInvalidCursor refuses a cursor that no page returned.
var ErrInvalidCursor = errors.New("invalid cursor")

// DecodeCursor parses a token of Encode.
func DecodeCursor(s string) (*Cursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidCursor, err)
	}
	var c Cursor
	if err := json.Unmarshal(raw, &c); err != nil || c.ID <= 0 {
		return nil, fmt.Errorf("%w: not a cursor of this list", ErrInvalidCursor)
	}
	return &c, nil
}

// ListParams asks for one page of a list.
type ListParams struct {
	View  View
	Scope Scope
	// Agent filters: for ViewAssigned whose conversations (an agent's own
	// always), for ViewClosed who closed them ("closed by me", R20).
	Agent string
	// After is the cursor of the previous page; nil for the first.
	After *Cursor
	// Limit is the page size, 1–MaxPageSize.
	Limit int
	// Order is the unassigned list's order; empty means OrderNewest. The
	// other lists have one order each.
	Order Order
	// Total asks for the number of conversations in the whole list (every
	// page), counted with the same filter (R36): the queues' counts the
	// quick-accept buttons show.
	Total bool
}

// Page is one page of a list.
type Page struct {
	Conversations []ConversationSnapshot `json:"conversations"`
	// Next is the cursor of the next page; nil on the last.
	Next *Cursor `json:"-"`
	// Total is the number of conversations of the whole list when asked
	// for (ListParams.Total).
	Total *int `json:"-"`
}

// AgentCount is how many conversations one agent has (R19).
type AgentCount struct {
	AgentID string `json:"agent_id"`
	Count   int    `json:"count"`
}

// HistoryMessage is a stored message of a conversation's history; its
// MessageView's SentBy says who wrote an outbound one ("system", "phone" or
// "agent:<id>").
type HistoryMessage struct {
	gateway.MessageView
	Status gateway.DeliveryStatus `json:"status,omitempty"`
	// Template is the template copy it was rendered from.
	Template *TemplateRef `json:"template,omitempty"`
}

// HistoryEvent is a ticket event of a conversation's history.
type HistoryEvent struct {
	ID     string    `json:"id"`
	Type   string    `json:"type"`
	Actor  string    `json:"actor,omitempty"`
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at"`
	// Details are the event's desk fields (transfer, comment, …).
	Details json.RawMessage `json:"details,omitempty"`
}

// ConversationDetail is one conversation with its history.
type ConversationDetail struct {
	Conversation ConversationSnapshot `json:"conversation"`
	Messages     []HistoryMessage     `json:"messages"`
	Events       []HistoryEvent       `json:"events"`
	// Truncated is set when the history held more than MaxHistory
	// messages or events: the latest are returned.
	Truncated bool `json:"truncated,omitempty"`
}

// SearchParams asks for conversations matching Query (R26): "#ID", a
// contact's address (a number, "whatsapp:+2782…"), or words of its
// messages or the contact's name.
type SearchParams struct {
	Query string
	Scope Scope
	After *Cursor
	Limit int
}

// QueryStore reads the desk's lists. pgstore.Store implements it.
type QueryStore interface {
	// List returns one page of a list in its stable order.
	List(ctx context.Context, p ListParams) (Page, error)
	// AssignedCounts counts the assigned conversations per agent, by agent id.
	AssignedCounts(ctx context.Context) ([]AgentCount, error)
	// Detail returns one conversation with its history, the latest
	// MaxHistory messages and events; nil when none has the id.
	Detail(ctx context.Context, id int64) (*ConversationDetail, *Conversation, error)
	// Search returns one page of matches, newest conversation first.
	Search(ctx context.Context, p SearchParams) (Page, error)
}

// ErrConversationNotFound is returned for a conversation that does not
// exist or that the reader may not see (an agent asking for another
// agent's conversation is not told it exists).
var ErrConversationNotFound = errors.New("conversation not found")

func (s *Service) queries() (QueryStore, error) {
	if s.Queries != nil {
		return s.Queries, nil
	}
	if q, ok := s.Store.(QueryStore); ok {
		return q, nil
	}
	return nil, errors.New("the store answers no desk queries")
}

// ScopeFor returns what agent acting with role sees, on the stored
// departments.
func (s *Service) ScopeFor(ctx context.Context, role ActorRole, agent string) (Scope, error) {
	var deps []Department
	if s.Directory != nil {
		var err error
		if deps, err = s.Directory.ListDepartments(ctx); err != nil {
			return Scope{}, fmt.Errorf("scope of %s: %w", agent, err)
		}
	}
	return ScopeOf(role, agent, s.deskDirectory(ctx, deps, nil)), nil
}

// List returns one page of a list as the scope sees it: an agent's
// unassigned queue (R17), its own assigned conversations whatever Agent
// says (R19), closed ones it closed or had (R20), snoozed ones of its own
// or its queue; everything for supervisors and desks.
func (s *Service) List(ctx context.Context, p ListParams) (Page, error) {
	q, err := s.queries()
	if err != nil {
		return Page{}, err
	}
	if p.Limit <= 0 {
		p.Limit = DefaultPageSize
	}
	p.Limit = min(p.Limit, MaxPageSize)
	if !p.Scope.All && p.View == ViewAssigned {
		p.Agent = p.Scope.Agent // R19: an agent sees only its own
	}
	if p.Order == "" {
		p.Order = OrderNewest
	}
	if p.Order != OrderNewest && p.View != ViewUnassigned {
		return Page{}, fmt.Errorf("list %s: only the unassigned list takes an order", p.View)
	}
	if p.After != nil && cursorOrder(p.After) != p.Order {
		return Page{}, fmt.Errorf("%w: the cursor is of the %s order", ErrInvalidCursor, cursorOrder(p.After))
	}
	page, err := q.List(ctx, p)
	if err != nil {
		return Page{}, fmt.Errorf("list %s: %w", p.View, err)
	}
	return page, nil
}

func cursorOrder(c *Cursor) Order {
	if c.Order == "" {
		return OrderNewest
	}
	return c.Order
}

// AssignedCounts counts the assigned conversations per agent (R19,
// supervisors).
func (s *Service) AssignedCounts(ctx context.Context) ([]AgentCount, error) {
	q, err := s.queries()
	if err != nil {
		return nil, err
	}
	return q.AssignedCounts(ctx)
}

// Conversation returns one conversation with its history, if the scope may
// see it (Permitted); otherwise ErrConversationNotFound.
func (s *Service) Conversation(ctx context.Context, sc Scope, id int64) (*ConversationDetail, error) {
	q, err := s.queries()
	if err != nil {
		return nil, err
	}
	d, conv, err := q.Detail(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("conversation %d: %w", id, err)
	}
	if d == nil || !sc.Sees(conv) {
		return nil, fmt.Errorf("%w: %d", ErrConversationNotFound, id)
	}
	return d, nil
}

// Search finds conversations by "#ID", contact address or words (R26),
// among those the scope sees.
func (s *Service) Search(ctx context.Context, p SearchParams) (Page, error) {
	q, err := s.queries()
	if err != nil {
		return Page{}, err
	}
	if p.Limit <= 0 {
		p.Limit = DefaultPageSize
	}
	p.Limit = min(p.Limit, MaxPageSize)
	page, err := q.Search(ctx, p)
	if err != nil {
		return Page{}, fmt.Errorf("search: %w", err)
	}
	return page, nil
}

// Sees reports whether the scope may see conv: the queries' visibility,
// the same as Permitted or MayJoin.
func (sc Scope) Sees(conv *Conversation) bool {
	if sc.All {
		return true
	}
	if conv.Assignee == sc.Agent || conv.ClosedBy == sc.Agent || slices.Contains(conv.Participants, sc.Agent) {
		return true
	}
	if !conv.State.Open() || conv.AwaitingConsent() {
		return false
	}
	return (conv.Assignee == "" && sc.inQueue(conv.DepartmentID)) || slices.Contains(sc.Joinable, conv.DepartmentID)
}

func (sc Scope) inQueue(dep string) bool {
	return len(sc.Known) == 0 || dep == "" || slices.Contains(sc.Mine, dep) || !slices.Contains(sc.Known, dep)
}

// SearchKind is what a search query looks for.
type SearchKind int

// Search kinds (R26).
const (
	SearchText    SearchKind = iota // words of messages or the contact's name
	SearchID                        // "#42"
	SearchContact                   // an address: "+27 82 123 4567", "whatsapp:+27821234567"
)

var (
	idQuery    = regexp.MustCompile(`^#\s*([0-9]{1,18})$`)
	phoneQuery = regexp.MustCompile(`^\+?[0-9][0-9 ().-]{3,}$`)
)

// ParseSearch says what a query looks for: the id, the contact (channel,
// when given, and the address spellings to match), or words.
func ParseSearch(q string) (kind SearchKind, id int64, channel gateway.Channel, addresses []string) {
	q = strings.TrimSpace(q)
	if m := idQuery.FindStringSubmatch(q); m != nil {
		id, _ = strconv.ParseInt(m[1], 10, 64)
		return SearchID, id, "", nil
	}
	if ch, addr, ok := strings.Cut(q, ":"); ok && gateway.Channel(ch).Valid() && addr != "" {
		return SearchContact, 0, gateway.Channel(ch), []string{strings.TrimSpace(addr)}
	}
	if phoneQuery.MatchString(q) {
		digits := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, q)
		return SearchContact, 0, "", []string{"+" + digits, digits}
	}
	return SearchText, 0, "", nil
}

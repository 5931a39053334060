package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/ticketing"
)

var _ ticketing.QueryStore = (*Store)(nil)

// The desk's lists (R17–R22): each reads one partial index of 0008 in its
// order, so a page costs an index range scan whatever the table's size.
// Parameters are named: the scope's @all (supervisor, desk), @me (the
// agent), @mine (its departments), @known (every configured department),
// and each list's own (@t, @id, @agent, @limit); bind numbers those a
// statement uses, so each variant (first page, next page) is one statement
// whose parameters are all used.
const (
	listColumns = conversationColumnList + `, ` + contactColumns

	// The agent's queue (R17): no department configured, or one of its
	// departments, or none, or one that no longer exists.
	sqlInQueue = `(cardinality(@known::text[]) = 0 OR v.department_id = '' OR v.department_id = ANY(@mine::text[])
       OR v.department_id <> ALL(@known::text[]))`

	// R35: not a conversation that waits for its contact's answer to the
	// prompt (ticketing.Conversation.AwaitingConsent); the queue's index
	// has the same condition.
	sqlNotAwaitingConsent = `NOT (v.intake = 'prompted' AND v.intake_close_on_decline)`

	// R36: a department whose open conversations the agent may join.
	sqlJoinable = `v.department_id = ANY(@joinable::text[])`

	// What a scope sees: ticketing.Scope.Sees.
	sqlSees = `(@all OR v.assignee = @me OR v.closed_by = @me OR @me = ANY(v.participants)
       OR (v.state IN ('unassigned', 'assigned', 'snoozed') AND ` + sqlNotAwaitingConsent + `
           AND ((v.assignee = '' AND ` + sqlInQueue + `) OR ` + sqlJoinable + `)))`

	sqlListUnassigned = `
SELECT ` + listColumns + `
FROM conversations v JOIN contacts c ON c.id = v.contact_id
WHERE v.state = 'unassigned' AND ` + sqlNotAwaitingConsent + ` AND (@all OR ` + sqlInQueue + `)`
	sqlUnassignedAfter = ` AND (v.queued_at, v.id) < (@t, @id)`
	sqlUnassignedOrder = ` ORDER BY v.queued_at DESC, v.id DESC LIMIT @limit`
	// order=oldest (R36): the same index read forwards.
	sqlUnassignedOldestAfter = ` AND (v.queued_at, v.id) > (@t, @id)`
	sqlUnassignedOldestOrder = ` ORDER BY v.queued_at, v.id LIMIT @limit`

	// One agent's (R19).
	sqlListAssigned = `
SELECT ` + listColumns + `
FROM conversations v JOIN contacts c ON c.id = v.contact_id
WHERE v.state = 'assigned' AND v.assignee = @agent AND (@all OR v.assignee = @me)`
	sqlAssignedAfter = ` AND (v.assigned_at, v.id) < (@t, @id)`
	sqlAssignedOrder = ` ORDER BY v.assigned_at DESC, v.id DESC LIMIT @limit`

	// Everyone's, grouped by agent (supervisors, R19).
	sqlListAssignedAll = `
SELECT ` + listColumns + `
FROM conversations v JOIN contacts c ON c.id = v.contact_id
WHERE v.state = 'assigned' AND @all`
	sqlAssignedAllAfter = ` AND v.assignee >= @agent AND (v.assignee > @agent OR (v.assigned_at, v.id) < (@t, @id))`
	sqlAssignedAllOrder = ` ORDER BY v.assignee, v.assigned_at DESC, v.id DESC LIMIT @limit`

	// R20; sqlClosedBy for "closed by me".
	sqlListClosed = `
SELECT ` + listColumns + `
FROM conversations v JOIN contacts c ON c.id = v.contact_id
WHERE v.state = 'closed' AND (@all OR v.closed_by = @me OR v.assignee = @me)`
	sqlClosedBy    = ` AND v.closed_by = @agent`
	sqlClosedAfter = ` AND (v.closed_at, v.id) < (@t, @id)`
	sqlClosedOrder = ` ORDER BY v.closed_at DESC, v.id DESC LIMIT @limit`

	// R22: soonest back first.
	sqlListSnoozed = `
SELECT ` + listColumns + `
FROM conversations v JOIN contacts c ON c.id = v.contact_id
WHERE v.state = 'snoozed' AND (@all OR v.assignee = @me OR (v.assignee = '' AND ` + sqlNotAwaitingConsent + ` AND ` + sqlInQueue + `))`
	sqlSnoozedAfter = ` AND (v.snooze_until, v.id) > (@t, @id)`
	sqlSnoozedOrder = ` ORDER BY v.snooze_until, v.id LIMIT @limit`

	sqlAssignedCounts = `
SELECT assignee, count(*) FROM conversations WHERE state = 'assigned' GROUP BY assignee ORDER BY assignee`

	sqlDetailConversation = `
SELECT ` + listColumns + `
FROM conversations v JOIN contacts c ON c.id = v.contact_id
WHERE v.id = $1`

	// The latest MaxHistory+1 messages (one more tells that some were left
	// out), returned oldest first.
	sqlDetailMessages = `
SELECT * FROM (
    SELECT m.id, m.direction, coalesce(m.provider_id, ''), m.body, m.sent_at, m.stored_at, m.seq, m.sent_by,
           m.status, m.template::text
    FROM messages m WHERE m.conversation_id = $1
    ORDER BY m.seq DESC, m.id DESC LIMIT $2
) x ORDER BY seq, id`

	sqlDetailEvents = `
SELECT * FROM (
    SELECT e.id, e.event_id, e.type, e.actor, e.reason, e.at, e.data::text
    FROM conversation_events e WHERE e.conversation_id = $1
    ORDER BY e.id DESC LIMIT $2
) x ORDER BY id`

	// R26. Words: messages through messages_body_fts and contact names
	// through contacts_name_fts ('simple': no stemming, any language),
	// newest conversation first.
	sqlSearchText = `
WITH q AS (SELECT websearch_to_tsquery('simple', @query) AS q),
hits AS (
    SELECT m.conversation_id AS id FROM messages m, q
    WHERE to_tsvector('simple', m.body) @@ q.q AND m.conversation_id IS NOT NULL
    UNION
    SELECT v.id FROM contacts c JOIN conversations v ON v.contact_id = c.id, q
    WHERE to_tsvector('simple', c.name) @@ q.q
)
SELECT ` + listColumns + `
FROM hits h JOIN conversations v ON v.id = h.id JOIN contacts c ON c.id = v.contact_id
WHERE v.state <> 'deleted' AND v.id < @before AND ` + sqlSees + `
ORDER BY v.id DESC LIMIT @limit`

	// R26, by contact: its address through contacts_address, in any of
	// the spellings of the query (and on the channel, when given).
	sqlSearchContact = `
SELECT ` + listColumns + `
FROM contacts c JOIN conversations v ON v.contact_id = c.id
WHERE c.address = ANY(@addresses::text[]) AND (@channel = '' OR c.channel = @channel)
  AND v.state <> 'deleted' AND v.id < @before AND ` + sqlSees + `
ORDER BY v.id DESC LIMIT @limit`

	// R26, "#ID".
	sqlSearchID = `
SELECT ` + listColumns + `
FROM conversations v JOIN contacts c ON c.id = v.contact_id
WHERE v.id = @id AND v.id < @before AND ` + sqlSees + `
LIMIT @limit`
)

func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

// List implements ticketing.QueryStore.
func (s *Store) List(ctx context.Context, p ticketing.ListParams) (ticketing.Page, error) {
	named := map[string]any{"@limit": p.Limit + 1, "@agent": p.Agent}
	if p.After != nil {
		named["@t"], named["@id"] = p.After.At, p.After.ID
		if p.View == ticketing.ViewAssigned && p.Agent == "" {
			named["@agent"] = p.After.Agent
		}
	}
	var sql, after, order string
	switch p.View {
	case ticketing.ViewUnassigned:
		sql, after, order = sqlListUnassigned, sqlUnassignedAfter, sqlUnassignedOrder
		if p.Order == ticketing.OrderOldest {
			after, order = sqlUnassignedOldestAfter, sqlUnassignedOldestOrder
		}
	case ticketing.ViewAssigned:
		sql, after, order = sqlListAssigned, sqlAssignedAfter, sqlAssignedOrder
		if p.Agent == "" {
			sql, after, order = sqlListAssignedAll, sqlAssignedAllAfter, sqlAssignedAllOrder
		}
	case ticketing.ViewClosed:
		sql, after, order = sqlListClosed, sqlClosedAfter, sqlClosedOrder
		if p.Agent != "" {
			sql += sqlClosedBy
		}
	case ticketing.ViewSnoozed:
		sql, after, order = sqlListSnoozed, sqlSnoozedAfter, sqlSnoozedOrder
	default:
		return ticketing.Page{}, fmt.Errorf("unknown view %q", p.View)
	}
	base := sql
	if p.After != nil {
		sql += after
	}
	sql, args := bind(sql+order, p.Scope, named)
	page, err := s.page(ctx, sql, args, p.Limit, func(v *ticketing.Conversation) ticketing.Cursor {
		switch p.View {
		case ticketing.ViewAssigned:
			return ticketing.Cursor{At: v.AssignedAt, ID: v.ID, Agent: v.Assignee}
		case ticketing.ViewClosed:
			return ticketing.Cursor{At: v.ClosedAt, ID: v.ID}
		case ticketing.ViewSnoozed:
			return ticketing.Cursor{At: v.SnoozeUntil, ID: v.ID}
		}
		c := ticketing.Cursor{At: v.QueuedAt, ID: v.ID}
		if p.Order == ticketing.OrderOldest {
			c.Order = p.Order
		}
		return c
	})
	if err != nil {
		return ticketing.Page{}, fmt.Errorf("list %s: %w", p.View, err)
	}
	if p.Total {
		// R36: the whole list's count, with the list's filter (scope,
		// agent) and none of the page's (cursor, limit).
		if !strings.Contains(base, "SELECT "+listColumns) {
			return ticketing.Page{}, fmt.Errorf("count %s: the list's statement has no column list to replace", p.View)
		}
		countSQL, countArgs := bind(strings.Replace(base, "SELECT "+listColumns, "SELECT count(*)", 1), p.Scope, named)
		var n int
		if err := s.pool.QueryRow(ctx, countSQL, countArgs...).Scan(&n); err != nil {
			return ticketing.Page{}, fmt.Errorf("count %s: %w", p.View, err)
		}
		page.Total = &n
	}
	return page, nil
}

var namedParam = regexp.MustCompile(`@[a-z]+`)

// bind numbers the named parameters sql uses, in order of first use, and
// returns the statement with its arguments.
func bind(sql string, sc ticketing.Scope, named map[string]any) (string, []any) {
	named["@all"], named["@me"], named["@mine"], named["@known"] = sc.All, sc.Agent, nonNil(sc.Mine), nonNil(sc.Known)
	named["@joinable"] = nonNil(sc.Joinable)
	var args []any
	num := map[string]string{}
	sql = namedParam.ReplaceAllStringFunc(sql, func(name string) string {
		if n, ok := num[name]; ok {
			return n
		}
		args = append(args, named[name])
		num[name] = "$" + strconv.Itoa(len(args))
		return num[name]
	})
	return sql, args
}

// page runs a list query that asks for limit+1 rows: the extra row says a
// next page exists.
func (s *Store) page(ctx context.Context, sql string, args []any, limit int, cursor func(*ticketing.Conversation) ticketing.Cursor) (ticketing.Page, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return ticketing.Page{}, err
	}
	defer rows.Close()
	page := ticketing.Page{Conversations: []ticketing.ConversationSnapshot{}}
	var last *ticketing.Conversation
	for rows.Next() {
		v, c := &ticketing.Conversation{}, &ticketing.Contact{}
		vd, vdone := conversationDest(v)
		cd, cdone := contactDest(c)
		if err := rows.Scan(append(vd, cd...)...); err != nil {
			return ticketing.Page{}, err
		}
		vdone()
		cdone()
		if len(page.Conversations) == limit {
			cur := cursor(last)
			page.Next = &cur
			break
		}
		page.Conversations = append(page.Conversations, ticketing.Snapshot(*v, *c))
		last = v
	}
	return page, rows.Err()
}

// AssignedCounts implements ticketing.QueryStore.
func (s *Store) AssignedCounts(ctx context.Context) ([]ticketing.AgentCount, error) {
	rows, err := s.pool.Query(ctx, sqlAssignedCounts)
	if err != nil {
		return nil, fmt.Errorf("assigned counts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ticketing.AgentCount, error) {
		var a ticketing.AgentCount
		err := r.Scan(&a.AgentID, &a.Count)
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("assigned counts: %w", err)
	}
	return out, nil
}

// Detail implements ticketing.QueryStore: the conversation, its messages
// and its events in one round trip.
func (s *Store) Detail(ctx context.Context, id int64) (*ticketing.ConversationDetail, *ticketing.Conversation, error) {
	var conv *ticketing.Conversation
	d := &ticketing.ConversationDetail{Messages: []ticketing.HistoryMessage{}, Events: []ticketing.HistoryEvent{}}
	b := &pgx.Batch{}
	b.Queue(sqlDetailConversation, id).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			v, c := &ticketing.Conversation{}, &ticketing.Contact{}
			vd, vdone := conversationDest(v)
			cd, cdone := contactDest(c)
			if err := rows.Scan(append(vd, cd...)...); err != nil {
				return err
			}
			vdone()
			cdone()
			conv, d.Conversation = v, ticketing.Snapshot(*v, *c)
		}
		return rows.Err()
	})
	b.Queue(sqlDetailMessages, id, ticketing.MaxHistory+1).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var m ticketing.HistoryMessage
			var status string
			var tpl pgtype.Text
			if err := rows.Scan(&m.ID, &m.Direction, &m.ProviderID, &m.Text, &m.SentAt, &m.StoredAt, &m.Seq, &m.SentBy, &status, &tpl); err != nil {
				return err
			}
			m.SentAt, m.StoredAt, m.Status = m.SentAt.UTC(), m.StoredAt.UTC(), gateway.DeliveryStatus(status)
			if tpl.Valid {
				m.Template = &ticketing.TemplateRef{}
				if err := json.Unmarshal([]byte(tpl.String), m.Template); err != nil {
					return fmt.Errorf("template of message %d: %w", m.ID, err)
				}
			}
			d.Messages = append(d.Messages, m)
		}
		return rows.Err()
	})
	b.Queue(sqlDetailEvents, id, ticketing.MaxHistory+1).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var e ticketing.HistoryEvent
			var rowID int64
			var data string
			if err := rows.Scan(&rowID, &e.ID, &e.Type, &e.Actor, &e.Reason, &e.At, &data); err != nil {
				return err
			}
			e.At = e.At.UTC()
			if data != "{}" {
				e.Details = json.RawMessage(data)
			}
			d.Events = append(d.Events, e)
		}
		return rows.Err()
	})
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, nil, fmt.Errorf("conversation %d: %w", id, err)
	}
	if conv == nil {
		return nil, nil, nil
	}
	if len(d.Messages) > ticketing.MaxHistory {
		d.Messages, d.Truncated = d.Messages[1:], true
	}
	if len(d.Events) > ticketing.MaxHistory {
		d.Events, d.Truncated = d.Events[1:], true
	}
	return d, conv, nil
}

// Search implements ticketing.QueryStore.
func (s *Store) Search(ctx context.Context, p ticketing.SearchParams) (ticketing.Page, error) {
	before := int64(math.MaxInt64)
	if p.After != nil {
		before = p.After.ID
	}
	named := map[string]any{"@before": before, "@limit": p.Limit + 1}
	var sql string
	switch kind, id, channel, addrs := ticketing.ParseSearch(p.Query); kind {
	case ticketing.SearchID:
		sql, named["@id"] = sqlSearchID, id
	case ticketing.SearchContact:
		sql, named["@addresses"], named["@channel"] = sqlSearchContact, addrs, string(channel)
	default:
		if strings.TrimSpace(p.Query) == "" {
			return ticketing.Page{}, errors.New("empty query")
		}
		sql, named["@query"] = sqlSearchText, p.Query
	}
	sql, args := bind(sql, p.Scope, named)
	page, err := s.page(ctx, sql, args, p.Limit, func(v *ticketing.Conversation) ticketing.Cursor {
		return ticketing.Cursor{ID: v.ID}
	})
	if err != nil {
		return ticketing.Page{}, fmt.Errorf("search: %w", err)
	}
	return page, nil
}

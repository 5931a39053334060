// Package pgstore implements ticketing.Store on PostgreSQL with pgx. Every
// batch of the worker costs a handful of round trips whatever its size: reads
// and writes are multi-row statements (unnest over arrays) sent as pipelined
// pgx batches.
package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/postgres"
	"github.com/chatgate/chatgate/ticketing"
)

// Store is the ticketing store on a pgx pool.
type Store struct {
	pool *pgxpool.Pool
}

var _ ticketing.Store = (*Store)(nil)

// New returns a store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// InTx runs fn in a read-committed transaction: the contact row locks taken
// by Load serialise writers of one contact, which is all the rules need.
func (s *Store) InTx(ctx context.Context, fn func(tx ticketing.StoreTx) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return fn(&storeTx{tx: tx}) })
}

type storeTx struct {
	tx pgx.Tx
}

const (
	// Missing contacts are created first; existing ones are not rewritten.
	sqlInsertContacts = `
INSERT INTO contacts (channel, address, name, created_at, updated_at)
SELECT u.channel, u.address, u.name, now(), now()
FROM unnest($1::text[], $2::text[], $3::text[]) AS u(channel, address, name)
ORDER BY u.channel, u.address
ON CONFLICT (channel, address) DO NOTHING`

	contactColumns = `c.id, c.channel, c.address, c.name, c.created_at, c.updated_at, c.last_inbound_at, c.spam, c.language,
       c.opted_out, c.opted_out_at, c.language_source, c.language_override, c.channel_language`

	// Locked in a fixed order so two batches sharing contacts cannot deadlock.
	sqlLockContacts = `
SELECT ` + contactColumns + `
FROM contacts c
JOIN unnest($1::text[], $2::text[]) AS u(channel, address) ON c.channel = u.channel AND c.address = u.address
ORDER BY c.channel, c.address
FOR UPDATE OF c`

	conversationColumnList = `v.id, v.contact_id, v.kind, v.state, v.created_at, v.updated_at, v.last_message_at,
       v.last_inbound_at, v.message_count, v.closed_at, coalesce(v.close_reason, ''), v.department_id,
       v.business_address, v.intake, v.intake_close_on_decline, v.prompt_expires_at, v.intake_closes_at,
       v.snooze_until, v.snoozed_from, v.archive_at, v.archived_at, v.assignee, v.assigned_at, v.closed_by,
       v.unread, v.participants, v.queued_at, v.contact_left_at`

	// Per contact: its open conversation (through the one-open partial
	// unique index) or else its latest one (R15 may reopen it), one indexed
	// probe each.
	sqlCurrentConversations = `
SELECT v.*
FROM contacts c
JOIN unnest($1::text[], $2::text[]) AS u(channel, address) ON c.channel = u.channel AND c.address = u.address
CROSS JOIN LATERAL (
    (SELECT ` + conversationColumnList + ` FROM conversations v
     WHERE v.contact_id = c.id AND v.state IN ('unassigned', 'assigned', 'snoozed') LIMIT 1)
    UNION ALL
    (SELECT ` + conversationColumnList + ` FROM conversations v
     WHERE v.contact_id = c.id ORDER BY v.id DESC LIMIT 1)
    LIMIT 1
) v`

	sqlDepartmentDocs = `SELECT doc FROM departments ORDER BY id`

	// Only online agents matter for reachability; the core checks the TTL.
	sqlOnlineAgents = `SELECT id, status, heartbeat_at FROM agents WHERE status = 'online'`

	// The timer sweep: due conversations with their contacts, both locked;
	// rows another sweeper or a worker batch holds are skipped, never
	// waited for, so sweepers cannot deadlock with batches or each other.
	sqlClaimTimers = `
SELECT ` + conversationColumnList + `, ` + contactColumns + `
FROM conversations v
JOIN contacts c ON c.id = v.contact_id
WHERE v.next_due_at <= $1
ORDER BY v.next_due_at
LIMIT $2
FOR UPDATE OF v, c SKIP LOCKED`

	sqlKnownMessages = `
SELECT m.channel, m.provider_id
FROM messages m
JOIN unnest($1::text[], $2::text[]) AS u(channel, provider_id) ON m.channel = u.channel AND m.provider_id = u.provider_id`

	sqlAllocateIDs = `
SELECT ARRAY(SELECT nextval('conversations_id_seq') FROM generate_series(1, $1)),
       ARRAY(SELECT nextval('messages_id_seq') FROM generate_series(1, $2))`

	sqlUpdateContacts = `
UPDATE contacts c SET name = u.name, updated_at = u.updated_at, last_inbound_at = u.last_inbound_at,
    opted_out = u.opted_out, opted_out_at = u.opted_out_at, spam = u.spam, language = u.language,
    language_source = u.language_source, language_override = u.language_override, channel_language = u.channel_language
FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::bool[], $6::timestamptz[], $7::bool[],
            $8::text[], $9::text[], $10::text[], $11::text[])
     AS u(id, name, updated_at, last_inbound_at, opted_out, opted_out_at, spam, language, language_source,
          language_override, channel_language)
WHERE c.id = u.id`

	sqlInsertConversations = `
INSERT INTO conversations (id, contact_id, kind, state, created_at, updated_at, last_message_at,
                           last_inbound_at, message_count, closed_at, close_reason, department_id,
                           business_address, intake, intake_close_on_decline, prompt_expires_at,
                           intake_closes_at, snooze_until, snoozed_from, archive_at, archived_at, assignee,
                           assigned_at, closed_by, unread, participants, queued_at, contact_left_at)
SELECT u.id, u.contact_id, u.kind, u.state, u.created_at, u.updated_at, u.last_message_at, u.last_inbound_at,
       u.message_count, u.closed_at, u.close_reason, u.department_id, u.business_address, u.intake,
       u.intake_close_on_decline, u.prompt_expires_at, u.intake_closes_at, u.snooze_until, u.snoozed_from,
       u.archive_at, u.archived_at, u.assignee, u.assigned_at, u.closed_by, u.unread,
       ARRAY(SELECT jsonb_array_elements_text(u.participants::jsonb)), u.queued_at, u.contact_left_at
FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[],
            $7::timestamptz[], $8::timestamptz[], $9::int[], $10::timestamptz[], $11::text[], $12::text[],
            $13::text[], $14::text[], $15::bool[], $16::timestamptz[], $17::timestamptz[],
            $18::timestamptz[], $19::text[], $20::timestamptz[], $21::timestamptz[], $22::text[],
            $23::timestamptz[], $24::text[], $25::bool[], $26::text[], $27::timestamptz[], $28::timestamptz[])
     AS u(id, contact_id, kind, state, created_at, updated_at, last_message_at, last_inbound_at, message_count,
          closed_at, close_reason, department_id, business_address, intake, intake_close_on_decline,
          prompt_expires_at, intake_closes_at, snooze_until, snoozed_from, archive_at, archived_at, assignee,
          assigned_at, closed_by, unread, participants, queued_at, contact_left_at)`

	sqlUpdateConversations = `
UPDATE conversations v SET kind = u.kind, state = u.state, updated_at = u.updated_at,
    last_message_at = u.last_message_at, last_inbound_at = u.last_inbound_at,
    message_count = u.message_count, closed_at = u.closed_at, close_reason = u.close_reason,
    department_id = u.department_id, business_address = u.business_address, intake = u.intake,
    intake_close_on_decline = u.intake_close_on_decline, prompt_expires_at = u.prompt_expires_at,
    intake_closes_at = u.intake_closes_at, snooze_until = u.snooze_until, snoozed_from = u.snoozed_from,
    archive_at = u.archive_at, archived_at = u.archived_at, assignee = u.assignee, assigned_at = u.assigned_at,
    closed_by = u.closed_by, unread = u.unread, participants = ARRAY(SELECT jsonb_array_elements_text(u.participants::jsonb)),
    queued_at = u.queued_at, contact_left_at = u.contact_left_at
FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[],
            $7::timestamptz[], $8::timestamptz[], $9::int[], $10::timestamptz[], $11::text[], $12::text[],
            $13::text[], $14::text[], $15::bool[], $16::timestamptz[], $17::timestamptz[],
            $18::timestamptz[], $19::text[], $20::timestamptz[], $21::timestamptz[], $22::text[],
            $23::timestamptz[], $24::text[], $25::bool[], $26::text[], $27::timestamptz[], $28::timestamptz[])
     AS u(id, contact_id, kind, state, created_at, updated_at, last_message_at, last_inbound_at, message_count,
          closed_at, close_reason, department_id, business_address, intake, intake_close_on_decline,
          prompt_expires_at, intake_closes_at, snooze_until, snoozed_from, archive_at, archived_at, assignee,
          assigned_at, closed_by, unread, participants, queued_at, contact_left_at)
WHERE v.id = u.id`

	sqlInsertMessages = `
INSERT INTO messages (id, conversation_id, contact_id, channel, direction, provider_id, body, seq, sent_at, stored_at,
                      request_id, sent_by, status, status_rank, error_code, error_message, status_at)
SELECT u.id, u.conversation_id, u.contact_id, u.channel, u.direction, NULLIF(u.provider_id, ''), u.body, u.seq,
       u.sent_at, u.stored_at, NULLIF(u.request_id, ''), u.sent_by, u.status, u.status_rank, u.error_code,
       u.error_message, u.status_at
FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[],
            $8::int[], $9::timestamptz[], $10::timestamptz[], $11::text[], $12::text[], $13::text[],
            $14::smallint[], $15::text[], $16::text[], $17::timestamptz[])
     AS u(id, conversation_id, contact_id, channel, direction, provider_id, body, seq, sent_at, stored_at,
          request_id, sent_by, status, status_rank, error_code, error_message, status_at)`

	// After the conversations they belong to, in the same batch.
	sqlInsertEvents = `
INSERT INTO conversation_events (conversation_id, event_id, type, actor, reason, data, at)
SELECT u.conversation_id, u.event_id, u.type, u.actor, u.reason, u.data::jsonb, u.at
FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[])
     AS u(conversation_id, event_id, type, actor, reason, data, at)`

	sqlInsertOutbox = `
INSERT INTO outbox (topic, key, value)
SELECT * FROM unnest($1::text[], $2::bytea[], $3::bytea[])`

	sqlNotify = `SELECT pg_notify('` + postgres.OutboxNotifyChannel + `', '')`
)

func (t *storeTx) Load(ctx context.Context, req ticketing.LoadRequest) (ticketing.LoadResult, error) {
	refs := append([]ticketing.ContactRef(nil), req.Contacts...)
	sort.Slice(refs, func(i, j int) bool {
		if refs[i].Channel != refs[j].Channel {
			return refs[i].Channel < refs[j].Channel
		}
		return refs[i].Address < refs[j].Address
	})
	chans := make([]string, len(refs))
	addrs := make([]string, len(refs))
	names := make([]string, len(refs))
	for i, r := range refs {
		chans[i], addrs[i], names[i] = string(r.Channel), r.Address, r.Name
	}
	mChans := make([]string, len(req.Messages))
	mIDs := make([]string, len(req.Messages))
	for i, m := range req.Messages {
		mChans[i], mIDs[i] = string(m.Channel), m.ProviderID
	}

	res := ticketing.LoadResult{
		States: make(map[string]*ticketing.ContactState, len(refs)),
		Known:  make(map[ticketing.MessageRef]bool),
	}
	b := &pgx.Batch{}
	b.Queue(sqlInsertContacts, chans, addrs, names)
	b.Queue(sqlLockContacts, chans, addrs).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			c, err := scanContact(rows)
			if err != nil {
				return err
			}
			res.States[c.Key()] = &ticketing.ContactState{Contact: c}
		}
		return rows.Err()
	})
	// Read after the locks above were granted, so a batch that waited for
	// another worker's transaction sees what that one committed.
	byContact := map[int64]*ticketing.Conversation{}
	b.Queue(sqlCurrentConversations, chans, addrs).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			v, err := scanConversation(rows)
			if err != nil {
				return err
			}
			byContact[v.ContactID] = v
		}
		return rows.Err()
	})
	queueDirectory(b, &res.Departments, &res.Presence)
	b.Queue(sqlKnownMessages, mChans, mIDs).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var ch, id string
			if err := rows.Scan(&ch, &id); err != nil {
				return err
			}
			res.Known[ticketing.MessageRef{Channel: gateway.Channel(ch), ProviderID: id}] = true
		}
		return rows.Err()
	})
	if err := t.tx.SendBatch(ctx, b).Close(); err != nil {
		return ticketing.LoadResult{}, fmt.Errorf("load batch state: %w", err)
	}
	for _, st := range res.States {
		if v := byContact[st.Contact.ID]; v != nil && v.State.Open() {
			st.Open = v
		} else {
			st.Last = v
		}
	}
	for _, r := range refs {
		if res.States[r.Key()] == nil {
			return ticketing.LoadResult{}, fmt.Errorf("load batch state: contact %s was not created", r.Key())
		}
	}
	return res, nil
}

// queueDirectory reads the departments and the online agents in the same
// pipelined batch as the rest of a load.
func queueDirectory(b *pgx.Batch, deps *[]ticketing.Department, presence *[]ticketing.Presence) {
	b.Queue(sqlDepartmentDocs).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var doc []byte
			if err := rows.Scan(&doc); err != nil {
				return err
			}
			var d ticketing.Department
			if err := json.Unmarshal(doc, &d); err != nil {
				return fmt.Errorf("department document: %w", err)
			}
			*deps = append(*deps, d)
		}
		return rows.Err()
	})
	b.Queue(sqlOnlineAgents).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var p ticketing.Presence
			var status string
			if err := rows.Scan(&p.AgentID, &status, &p.HeartbeatAt); err != nil {
				return err
			}
			p.Status, p.HeartbeatAt = ticketing.PresenceStatus(status), p.HeartbeatAt.UTC()
			*presence = append(*presence, p)
		}
		return rows.Err()
	})
}

// contactDest and conversationDest return scan destinations for
// contactColumns and conversationColumnList, and a func that finishes the
// value after the scan, so one row can hold both.
func contactDest(c *ticketing.Contact) ([]any, func()) {
	var ch, langSource string
	var lastIn, optedOutAt pgtype.Timestamptz
	return []any{&c.ID, &ch, &c.Address, &c.Name, &c.CreatedAt, &c.UpdatedAt, &lastIn, &c.Spam, &c.Language,
			&c.OptedOut, &optedOutAt, &langSource, &c.LanguageOverride, &c.ChannelLanguage}, func() {
			c.Channel, c.LanguageSource = gateway.Channel(ch), ticketing.LanguageSource(langSource)
			c.CreatedAt, c.UpdatedAt, c.LastInboundAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC(), timeOf(lastIn)
			c.OptedOutAt = timeOf(optedOutAt)
		}
}

func conversationDest(v *ticketing.Conversation) ([]any, func()) {
	var kind, state, intake, snoozedFrom string
	var lastIn, closedAt, promptExp, intakeClose, snooze, archive, archived, assignedAt, queuedAt, leftAt pgtype.Timestamptz
	return []any{&v.ID, &v.ContactID, &kind, &state, &v.CreatedAt, &v.UpdatedAt, &v.LastMessageAt,
			&lastIn, &v.MessageCount, &closedAt, &v.CloseReason, &v.DepartmentID, &v.BusinessAddress, &intake,
			&v.IntakeCloseOnDecline, &promptExp, &intakeClose, &snooze, &snoozedFrom, &archive, &archived,
			&v.Assignee, &assignedAt, &v.ClosedBy, &v.Unread, &v.Participants, &queuedAt, &leftAt}, func() {
			v.AssignedAt, v.QueuedAt, v.ContactLeftAt = timeOf(assignedAt), timeOf(queuedAt), timeOf(leftAt)
			if len(v.Participants) == 0 {
				v.Participants = nil
			}
			v.Kind, v.State, v.Intake, v.SnoozedFrom = ticketing.Kind(kind), ticketing.State(state), ticketing.Intake(intake), ticketing.State(snoozedFrom)
			v.CreatedAt, v.UpdatedAt, v.LastMessageAt = v.CreatedAt.UTC(), v.UpdatedAt.UTC(), v.LastMessageAt.UTC()
			v.LastInboundAt, v.ClosedAt = timeOf(lastIn), timeOf(closedAt)
			v.PromptExpiresAt, v.IntakeClosesAt, v.SnoozeUntil = timeOf(promptExp), timeOf(intakeClose), timeOf(snooze)
			v.ArchiveAt, v.ArchivedAt = timeOf(archive), timeOf(archived)
		}
}

func scanContact(rows pgx.Rows) (*ticketing.Contact, error) {
	c := &ticketing.Contact{}
	dest, done := contactDest(c)
	if err := rows.Scan(dest...); err != nil {
		return nil, err
	}
	done()
	return c, nil
}

func scanConversation(rows pgx.Rows) (*ticketing.Conversation, error) {
	v := &ticketing.Conversation{}
	dest, done := conversationDest(v)
	if err := rows.Scan(dest...); err != nil {
		return nil, err
	}
	done()
	return v, nil
}

// ClaimTimers locks the conversations with a timer due at now, and their
// contacts, skipping locked rows; see ticketing.StoreTx.
func (t *storeTx) ClaimTimers(ctx context.Context, now time.Time, limit int) (ticketing.TimerClaim, error) {
	claim := ticketing.TimerClaim{Contacts: map[int64]*ticketing.Contact{}}
	b := &pgx.Batch{}
	b.Queue(sqlClaimTimers, now, limit).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			v, c := &ticketing.Conversation{}, &ticketing.Contact{}
			vd, vdone := conversationDest(v)
			cd, cdone := contactDest(c)
			if err := rows.Scan(append(vd, cd...)...); err != nil {
				return err
			}
			vdone()
			cdone()
			if known := claim.Contacts[c.ID]; known != nil {
				c = known
			}
			claim.Contacts[c.ID] = c
			claim.Conversations = append(claim.Conversations, v)
		}
		return rows.Err()
	})
	queueDirectory(b, &claim.Departments, &claim.Presence)
	if err := t.tx.SendBatch(ctx, b).Close(); err != nil {
		return ticketing.TimerClaim{}, fmt.Errorf("claim timers: %w", err)
	}
	return claim, nil
}

func (t *storeTx) AllocateIDs(ctx context.Context, conversations, messages int) ([]int64, []int64, error) {
	var convIDs, msgIDs []int64
	if err := t.tx.QueryRow(ctx, sqlAllocateIDs, conversations, messages).Scan(&convIDs, &msgIDs); err != nil {
		return nil, nil, fmt.Errorf("allocate ids: %w", err)
	}
	if len(convIDs) != conversations || len(msgIDs) != messages {
		return nil, nil, errors.New("allocate ids: sequence returned the wrong number of ids")
	}
	return convIDs, msgIDs, nil
}

func (t *storeTx) Save(ctx context.Context, ch *ticketing.Changes) error {
	b := &pgx.Batch{}
	if n := len(ch.Contacts); n > 0 {
		ids, names := make([]int64, n), make([]string, n)
		updated, lastIn := make([]time.Time, n), make([]pgtype.Timestamptz, n)
		optedOut, optedOutAt, spam := make([]bool, n), make([]pgtype.Timestamptz, n), make([]bool, n)
		langs, sources, overrides, reported := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		for i, c := range ch.Contacts {
			ids[i], names[i], updated[i], lastIn[i] = c.ID, c.Name, c.UpdatedAt, tstz(c.LastInboundAt)
			optedOut[i], optedOutAt[i], spam[i] = c.OptedOut, tstz(c.OptedOutAt), c.Spam
			langs[i], sources[i], overrides[i], reported[i] = c.Language, string(c.LanguageSource), c.LanguageOverride, c.ChannelLanguage
		}
		b.Queue(sqlUpdateContacts, ids, names, updated, lastIn, optedOut, optedOutAt, spam, langs, sources, overrides, reported)
	}
	// Updates first: a ticket closed by a new chat (R14) must be closed
	// before the chat is inserted, or the one-open index refuses the chat.
	if len(ch.Conversations) > 0 {
		b.Queue(sqlUpdateConversations, conversationColumns(ch.Conversations).args()...)
	}
	if len(ch.NewConversations) > 0 {
		b.Queue(sqlInsertConversations, conversationColumns(ch.NewConversations).args()...)
	}
	if len(ch.Messages) > 0 {
		b.Queue(sqlInsertMessages, messageColumns(ch.Messages)...)
	}
	queueStatusChanges(b, &ch.Statuses)
	if n := len(ch.Events); n > 0 {
		convs, ids, types, actors, reasons := make([]int64, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		data, ats := make([]string, n), make([]time.Time, n)
		for i, e := range ch.Events {
			convs[i], ids[i], types[i], actors[i], reasons[i] = e.ConversationID, e.EventID, e.Type, e.Actor, e.Reason
			data[i], ats[i] = string(e.Data), e.At
		}
		b.Queue(sqlInsertEvents, convs, ids, types, actors, reasons, data, ats)
	}
	if n := len(ch.Outbox); n > 0 {
		topics, keys, values := make([]string, n), make([][]byte, n), make([][]byte, n)
		for i, r := range ch.Outbox {
			topics[i], keys[i], values[i] = string(r.Topic), r.Key, r.Value
		}
		b.Queue(sqlInsertOutbox, topics, keys, values)
		b.Queue(sqlNotify)
	}
	if err := t.tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("save batch: %w", err)
	}
	return nil
}

type convColumns struct {
	ids, contactIDs                 []int64
	kinds, states                   []string
	created, updated                []time.Time
	lastMsg                         []time.Time
	lastIn, closed                  []pgtype.Timestamptz
	counts                          []int32
	reasons                         []pgtype.Text
	departments, addresses, intakes []string
	closeOnDecline                  []bool
	promptExp, intakeClose, snooze  []pgtype.Timestamptz
	snoozedFrom                     []string
	archive, archived               []pgtype.Timestamptz
	assignees, closedBy             []string
	assignedAt, queuedAt, leftAt    []pgtype.Timestamptz
	unread                          []bool
	participants                    []string // JSON arrays
}

// args returns the columns in the order of sqlInsertConversations and
// sqlUpdateConversations.
func (c convColumns) args() []any {
	return []any{c.ids, c.contactIDs, c.kinds, c.states, c.created, c.updated, c.lastMsg, c.lastIn, c.counts,
		c.closed, c.reasons, c.departments, c.addresses, c.intakes, c.closeOnDecline, c.promptExp, c.intakeClose,
		c.snooze, c.snoozedFrom, c.archive, c.archived, c.assignees, c.assignedAt, c.closedBy, c.unread,
		c.participants, c.queuedAt, c.leftAt}
}

func conversationColumns(vs []*ticketing.Conversation) convColumns {
	n := len(vs)
	ts := func() []pgtype.Timestamptz { return make([]pgtype.Timestamptz, n) }
	c := convColumns{
		ids: make([]int64, n), contactIDs: make([]int64, n), kinds: make([]string, n), states: make([]string, n),
		created: make([]time.Time, n), updated: make([]time.Time, n), lastMsg: make([]time.Time, n),
		lastIn: ts(), closed: ts(), counts: make([]int32, n), reasons: make([]pgtype.Text, n),
		departments: make([]string, n), addresses: make([]string, n), intakes: make([]string, n),
		closeOnDecline: make([]bool, n), promptExp: ts(), intakeClose: ts(), snooze: ts(),
		snoozedFrom: make([]string, n), archive: ts(), archived: ts(),
		assignees: make([]string, n), closedBy: make([]string, n), assignedAt: ts(), queuedAt: ts(), leftAt: ts(),
		unread: make([]bool, n), participants: make([]string, n),
	}
	for i, v := range vs {
		c.ids[i], c.contactIDs[i], c.kinds[i], c.states[i] = v.ID, v.ContactID, string(v.Kind), string(v.State)
		c.created[i], c.updated[i], c.lastMsg[i] = v.CreatedAt, v.UpdatedAt, v.LastMessageAt
		c.lastIn[i], c.closed[i], c.counts[i] = tstz(v.LastInboundAt), tstz(v.ClosedAt), int32(v.MessageCount)
		c.reasons[i] = pgtype.Text{String: v.CloseReason, Valid: v.CloseReason != ""}
		c.departments[i], c.addresses[i], c.intakes[i] = v.DepartmentID, v.BusinessAddress, string(v.Intake)
		c.closeOnDecline[i], c.snoozedFrom[i] = v.IntakeCloseOnDecline, string(v.SnoozedFrom)
		c.promptExp[i], c.intakeClose[i], c.snooze[i] = tstz(v.PromptExpiresAt), tstz(v.IntakeClosesAt), tstz(v.SnoozeUntil)
		c.archive[i], c.archived[i] = tstz(v.ArchiveAt), tstz(v.ArchivedAt)
		c.assignees[i], c.closedBy[i], c.unread[i] = v.Assignee, v.ClosedBy, v.Unread
		c.assignedAt[i], c.queuedAt[i], c.leftAt[i] = tstz(v.AssignedAt), tstz(v.QueuedAt), tstz(v.ContactLeftAt)
		c.participants[i] = "[]"
		if len(v.Participants) > 0 {
			raw, _ := json.Marshal(v.Participants) // strings always marshal
			c.participants[i] = string(raw)
		}
	}
	return c
}

func tstz(t time.Time) pgtype.Timestamptz {
	return pgtype.Timestamptz{Time: t, Valid: !t.IsZero()}
}

func timeOf(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

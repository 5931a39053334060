package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chatgate/chatgate/gateway/postgres"
	"github.com/chatgate/chatgate/ticketing"
)

const (
	// The contacts of the named conversations, locked in the same order as
	// Load locks contacts, so commands serialise with the contact's inbound
	// batches and with each other.
	sqlLockCommandContacts = `
SELECT ` + contactColumns + `
FROM contacts c
WHERE c.id IN (SELECT v.contact_id FROM conversations v WHERE v.id = ANY($1::bigint[]))
ORDER BY c.channel, c.address
FOR UPDATE OF c`

	// The named conversations (current = false), and per contact its open
	// conversation or else its latest one (current = true), one indexed
	// probe each, as in sqlCurrentConversations.
	sqlCommandConversations = `
SELECT ` + conversationColumnList + `, false
FROM conversations v
WHERE v.id = ANY($1::bigint[])
UNION ALL
SELECT cur.*, true
FROM (SELECT DISTINCT contact_id FROM conversations WHERE id = ANY($1::bigint[])) x
CROSS JOIN LATERAL (
    (SELECT ` + conversationColumnList + ` FROM conversations v
     WHERE v.contact_id = x.contact_id AND v.state IN ('unassigned', 'assigned', 'snoozed') LIMIT 1)
    UNION ALL
    (SELECT ` + conversationColumnList + ` FROM conversations v
     WHERE v.contact_id = x.contact_id ORDER BY v.id DESC LIMIT 1)
    LIMIT 1
) cur`

	sqlCommandOutcomes = `
SELECT request_id, fingerprint, outcome::text FROM desk_commands WHERE request_id = ANY($1::text[])`

	sqlInsertCommandOutcomes = `
INSERT INTO desk_commands (request_id, type, conversation_id, agent_id, fingerprint, outcome, created_at)
SELECT u.request_id, u.type, u.conversation_id, u.agent_id, u.fingerprint, u.outcome::jsonb, u.created_at
FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::timestamptz[])
     AS u(request_id, type, conversation_id, agent_id, fingerprint, outcome, created_at)`

	sqlAgentSettings = `SELECT id, sign, display_name FROM agents WHERE id = ANY($1::text[])`

	// An agent's settings; a missing agent is created offline (its presence
	// is set by its desk, R4), with a heartbeat at the epoch so that any
	// real presence report overwrites it.
	sqlUpsertAgentSettings = `
INSERT INTO agents (id, status, heartbeat_at, updated_at, sign, display_name)
SELECT u.id, 'offline', 'epoch', now(), u.sign, u.display_name
FROM unnest($1::text[], $2::bool[], $3::text[]) AS u(id, sign, display_name)
ON CONFLICT (id) DO UPDATE SET sign = excluded.sign, display_name = excluded.display_name`

	// R18: the oldest unassigned conversations of the queue (R35: none
	// awaiting its contact's consent; R24: none its contact left), locked with
	// their contacts; rows another transaction holds are skipped, never
	// waited for. The LIMIT sits above the row locks, so a row another
	// quick accept took meanwhile (re-checked after its commit) does not
	// count, and the next free one is taken instead: none is skipped.
	// The queue's scope: $1 every department; else the agent's queue (no
	// department configured, or its departments $2, or none, or one not
	// among the configured $3).
	sqlClaimQueue = `
SELECT ` + conversationColumnList + `, ` + contactColumns + `
FROM conversations v
JOIN contacts c ON c.id = v.contact_id
WHERE v.state = 'unassigned' AND NOT (v.intake = 'prompted' AND v.intake_close_on_decline) AND NOT c.spam
  AND v.contact_left_at IS NULL
  AND ($1 OR cardinality($3::text[]) = 0 OR v.department_id = '' OR v.department_id = ANY($2::text[])
       OR v.department_id <> ALL($3::text[]))
  AND v.id <> ALL($5::bigint[])
ORDER BY v.queued_at, v.id
LIMIT $4
FOR UPDATE OF v, c SKIP LOCKED`

	sqlSetMessageTemplates = `
UPDATE messages m SET template = u.template::jsonb
FROM unnest($1::bigint[], $2::text[]) AS u(id, template)
WHERE m.id = u.id`

	// Unassigned WhatsApp conversations whose last inbound message is in
	// ($1, $2], that were not warned for it and whose contact is still in
	// the chat (R24: nobody answers a contact that left),
	// through conversations_window_warning; rows others hold are skipped.
	sqlClaimWindowClosing = `
SELECT ` + conversationColumnList + `, ` + contactColumns + `
FROM conversations v
JOIN contacts c ON c.id = v.contact_id
WHERE v.state = 'unassigned' AND v.last_inbound_at IS NOT NULL
  AND v.window_warned_for IS DISTINCT FROM v.last_inbound_at
  AND NOT (v.intake = 'prompted' AND v.intake_close_on_decline)
  AND v.last_inbound_at > $1 AND v.last_inbound_at <= $2
  AND c.channel = 'whatsapp' AND v.contact_left_at IS NULL
ORDER BY v.last_inbound_at
LIMIT $3
FOR UPDATE OF v, c SKIP LOCKED`

	sqlMarkWindowWarned = `
UPDATE conversations v SET window_warned_for = u.at
FROM unnest($1::bigint[], $2::timestamptz[]) AS u(id, at)
WHERE v.id = u.id`
)

// LoadCommands locks the contacts of the named conversations and reads the
// conversations and stored outcomes, in one round trip; see
// ticketing.CommandTx.
func (t *storeTx) LoadCommands(ctx context.Context, req ticketing.CommandLoadRequest) (ticketing.CommandLoad, error) {
	conversationIDs, requestIDs := req.ConversationIDs, req.RequestIDs
	if conversationIDs == nil {
		conversationIDs = []int64{}
	}
	load := ticketing.CommandLoad{
		Conversations: map[int64]*ticketing.Conversation{},
		States:        map[int64]*ticketing.ContactState{},
		Outcomes:      map[string]ticketing.StoredOutcome{},
		Agents:        map[string]ticketing.AgentSettings{},
	}
	type current struct{ contactID, convID int64 }
	var currents []current
	b := &pgx.Batch{}
	b.Queue(sqlLockCommandContacts, conversationIDs).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			c, err := scanContact(rows)
			if err != nil {
				return err
			}
			load.States[c.ID] = &ticketing.ContactState{Contact: c}
		}
		return rows.Err()
	})
	b.Queue(sqlCommandConversations, conversationIDs).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			v := &ticketing.Conversation{}
			dest, done := conversationDest(v)
			var isCurrent bool
			if err := rows.Scan(append(dest, &isCurrent)...); err != nil {
				return err
			}
			done()
			if _, ok := load.Conversations[v.ID]; !ok {
				load.Conversations[v.ID] = v // one row, one pointer
			}
			if isCurrent {
				currents = append(currents, current{v.ContactID, v.ID})
			}
		}
		return rows.Err()
	})
	b.Queue(sqlCommandOutcomes, requestIDs).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var id, fp, outcome string
			if err := rows.Scan(&id, &fp, &outcome); err != nil {
				return err
			}
			load.Outcomes[id] = ticketing.StoredOutcome{Fingerprint: fp, Outcome: []byte(outcome)}
		}
		return rows.Err()
	})
	queueDirectory(b, &load.Departments, &load.Presence)
	if len(req.AgentIDs) > 0 {
		b.Queue(sqlAgentSettings, req.AgentIDs).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var a ticketing.AgentSettings
				if err := rows.Scan(&a.AgentID, &a.Sign, &a.DisplayName); err != nil {
					return err
				}
				load.Agents[a.AgentID] = a
			}
			return rows.Err()
		})
	}
	if err := t.tx.SendBatch(ctx, b).Close(); err != nil {
		return ticketing.CommandLoad{}, fmt.Errorf("load commands: %w", err)
	}
	for _, cur := range currents {
		st := load.States[cur.contactID]
		if st == nil {
			return ticketing.CommandLoad{}, fmt.Errorf("load commands: contact %d of conversation %d was not locked", cur.contactID, cur.convID)
		}
		if v := load.Conversations[cur.convID]; v.State.Open() {
			st.Open = v
		} else {
			st.Last = v
		}
	}
	return load, nil
}

// SaveCommands stores outcomes and message template references; see
// ticketing.CommandTx.
func (t *storeTx) SaveCommands(ctx context.Context, w ticketing.CommandWrites) error {
	b := &pgx.Batch{}
	if n := len(w.Outcomes); n > 0 {
		ids, types, agents, fps, outcomes := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		convs, ats := make([]int64, n), make([]time.Time, n)
		for i, o := range w.Outcomes {
			ids[i], types[i], convs[i], agents[i], fps[i], outcomes[i], ats[i] = o.RequestID, o.Type, o.ConversationID, o.AgentID, o.Fingerprint, string(o.Outcome), o.At
		}
		b.Queue(sqlInsertCommandOutcomes, ids, types, convs, agents, fps, outcomes, ats)
	}
	if n := len(w.Templates); n > 0 {
		ids, refs := make([]int64, n), make([]string, n)
		for i, m := range w.Templates {
			raw, err := json.Marshal(m.Template)
			if err != nil {
				return fmt.Errorf("save commands: template of message %d: %w", m.MessageID, err)
			}
			ids[i], refs[i] = m.MessageID, string(raw)
		}
		b.Queue(sqlSetMessageTemplates, ids, refs)
	}
	if n := len(w.Agents); n > 0 {
		ids, signs, names := make([]string, n), make([]bool, n), make([]string, n)
		for i, a := range w.Agents {
			ids[i], signs[i], names[i] = a.AgentID, a.Sign, a.DisplayName
		}
		b.Queue(sqlUpsertAgentSettings, ids, signs, names)
	}
	if err := t.tx.SendBatch(ctx, b).Close(); err != nil {
		if postgres.IsUniqueViolation(err, "desk_commands_pkey") {
			return fmt.Errorf("save commands: %w", ticketing.ErrDuplicateRequest)
		}
		return fmt.Errorf("save commands: %w", err)
	}
	return nil
}

// ClaimWindowClosing locks the conversations whose window warning is due;
// see ticketing.CommandTx.
func (t *storeTx) ClaimWindowClosing(ctx context.Context, after, upTo time.Time, limit int) (ticketing.WindowClaim, error) {
	claim := ticketing.WindowClaim{Contacts: map[int64]*ticketing.Contact{}}
	rows, err := t.tx.Query(ctx, sqlClaimWindowClosing, after, upTo, limit)
	if err != nil {
		return claim, fmt.Errorf("claim window closing: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		v, c := &ticketing.Conversation{}, &ticketing.Contact{}
		vd, vdone := conversationDest(v)
		cd, cdone := contactDest(c)
		if err := rows.Scan(append(vd, cd...)...); err != nil {
			return claim, fmt.Errorf("claim window closing: %w", err)
		}
		vdone()
		cdone()
		claim.Contacts[c.ID] = c // one open conversation per contact: no sharing to keep
		claim.Conversations = append(claim.Conversations, v)
	}
	if err := rows.Err(); err != nil {
		return claim, fmt.Errorf("claim window closing: %w", err)
	}
	return claim, nil
}

// MarkWindowWarned records published window warnings; see
// ticketing.CommandTx.
func (t *storeTx) MarkWindowWarned(ctx context.Context, ws []ticketing.WindowWarning) error {
	ids, ats := make([]int64, len(ws)), make([]time.Time, len(ws))
	for i, w := range ws {
		ids[i], ats[i] = w.ConversationID, w.LastInboundAt
	}
	if _, err := t.tx.Exec(ctx, sqlMarkWindowWarned, ids, ats); err != nil {
		return fmt.Errorf("mark window warned: %w", err)
	}
	return nil
}

// ClaimQueue locks the oldest unassigned conversations of the queue with
// their contacts, skipping locked rows; see ticketing.CommandTx.
func (t *storeTx) ClaimQueue(ctx context.Context, q ticketing.QueueClaim) ([]*ticketing.ContactState, error) {
	nonNil := func(v []string) []string {
		if v == nil {
			return []string{}
		}
		return v
	}
	exclude := q.Exclude
	if exclude == nil {
		exclude = []int64{}
	}
	rows, err := t.tx.Query(ctx, sqlClaimQueue, q.Scope.All, nonNil(q.Scope.Mine), nonNil(q.Scope.Known), q.Limit, exclude)
	if err != nil {
		return nil, fmt.Errorf("claim queue: %w", err)
	}
	defer rows.Close()
	var out []*ticketing.ContactState
	for rows.Next() {
		v, c := &ticketing.Conversation{}, &ticketing.Contact{}
		vd, vdone := conversationDest(v)
		cd, cdone := contactDest(c)
		if err := rows.Scan(append(vd, cd...)...); err != nil {
			return nil, fmt.Errorf("claim queue: %w", err)
		}
		vdone()
		cdone()
		// One open conversation per contact: no contact is claimed twice.
		out = append(out, &ticketing.ContactState{Contact: c, Open: v})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim queue: %w", err)
	}
	return out, nil
}

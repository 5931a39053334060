package pgstore

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/ticketing"
)

const (
	// statusMatched names the messages a batch of statuses is about: by
	// request id ($1), by (channel, provider id) ($2, $3), or by a provider
	// id the send log (0002) already tied to a request id — the sender
	// records it before publishing the status that carries it, so a WhatsApp
	// receipt that overtakes that status still finds its message.
	statusMatched = `
WITH matched AS (
    SELECT m.id FROM messages m WHERE m.request_id = ANY($1::text[])
    UNION
    SELECT m.id FROM messages m
    JOIN unnest($2::text[], $3::text[]) AS u(channel, provider_id)
      ON m.channel = u.channel AND m.provider_id = u.provider_id
    UNION
    SELECT m.id FROM sends s
    JOIN unnest($2::text[], $3::text[]) AS u(channel, provider_id)
      ON s.channel = u.channel AND s.provider_id = u.provider_id
    JOIN messages m ON m.request_id = s.request_id
)`

	// A message without a provider id yet takes the send log's, so a
	// receipt naming it finds the message.
	sqlStatusMessages = statusMatched + `
SELECT m.id, m.conversation_id, m.contact_id, m.channel, m.direction, coalesce(m.provider_id, s.provider_id, ''), m.body,
       m.seq, m.sent_at, m.stored_at, coalesce(m.request_id, ''), m.sent_by, m.status, m.error_code, m.error_message,
       m.status_at
FROM messages m
LEFT JOIN sends s ON s.request_id = m.request_id
WHERE m.id IN (SELECT id FROM matched)
ORDER BY m.id`

	sqlStatusConversations = statusMatched + `
SELECT ` + conversationColumnList + `
FROM conversations v
WHERE v.id IN (SELECT m.conversation_id FROM messages m JOIN matched USING (id))`

	sqlPendingStatuses = `
SELECT p.id, p.channel, p.contact, p.request_id, p.provider_id, p.status, p.provider_status, p.error_code,
       p.error_message, p.at, p.received_at
FROM pending_statuses p
WHERE p.id IN (
    SELECT q.id FROM pending_statuses q WHERE q.request_id = ANY($1::text[]) AND q.request_id <> ''
    UNION
    SELECT q.id FROM pending_statuses q
    JOIN unnest($2::text[], $3::text[]) AS u(channel, provider_id)
      ON q.channel = u.channel AND q.provider_id = u.provider_id
    WHERE q.provider_id <> '')
ORDER BY p.id`

	// The rank guard holds in SQL too: whatever the caller computed, a
	// status replaces only a lower-ranked one, and a provider id is only
	// ever set once.
	sqlUpdateMessageStatuses = `
UPDATE messages m SET
    provider_id   = coalesce(m.provider_id, nullif(u.provider_id, '')),
    status        = CASE WHEN u.status_rank > m.status_rank THEN u.status ELSE m.status END,
    error_code    = CASE WHEN u.status_rank > m.status_rank THEN u.error_code ELSE m.error_code END,
    error_message = CASE WHEN u.status_rank > m.status_rank THEN u.error_message ELSE m.error_message END,
    status_at     = CASE WHEN u.status_rank > m.status_rank THEN u.status_at ELSE m.status_at END,
    status_rank   = greatest(m.status_rank, u.status_rank)
FROM unnest($1::bigint[], $2::text[], $3::text[], $4::smallint[], $5::text[], $6::text[], $7::timestamptz[])
     AS u(id, provider_id, status, status_rank, error_code, error_message, status_at)
WHERE m.id = u.id`

	sqlInsertPendingStatuses = `
INSERT INTO pending_statuses (channel, contact, request_id, provider_id, status, status_rank, provider_status,
                              error_code, error_message, at, received_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::smallint[], $7::text[],
                     $8::text[], $9::text[], $10::timestamptz[], $11::timestamptz[])
ON CONFLICT (channel, request_id, provider_id, status) DO NOTHING`

	sqlDeletePendingStatuses = `DELETE FROM pending_statuses WHERE id = ANY($1::bigint[])`
)

// LoadStatuses creates the missing contacts of phone messages, locks the
// contacts in a fixed order (as Load does) and reads the messages,
// conversations and pending statuses the request names, in one pipelined
// round trip; see ticketing.StatusTx.
func (t *storeTx) LoadStatuses(ctx context.Context, req ticketing.StatusRequest) (ticketing.StatusLoad, error) {
	res := ticketing.StatusLoad{
		Contacts:      make(map[string]*ticketing.Contact, len(req.Contacts)),
		Conversations: map[int64]*ticketing.Conversation{},
	}
	b := &pgx.Batch{}
	if len(req.Create) > 0 {
		chans, addrs, names := contactArrays(req.Create)
		b.Queue(sqlInsertContacts, chans, addrs, names)
	}
	chans, addrs, _ := contactArrays(req.Contacts)
	b.Queue(sqlLockContacts, chans, addrs).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			c, err := scanContact(rows)
			if err != nil {
				return err
			}
			res.Contacts[c.Key()] = c
		}
		return rows.Err()
	})
	// Read after the locks were granted, like Load.
	addConv := func(rows pgx.Rows) error {
		for rows.Next() {
			v, err := scanConversation(rows)
			if err != nil {
				return err
			}
			res.Conversations[v.ID] = v
		}
		return rows.Err()
	}
	b.Queue(sqlCurrentConversations, chans, addrs).Query(addConv)
	pChans, pIDs := make([]string, len(req.Providers)), make([]string, len(req.Providers))
	for i, r := range req.Providers {
		pChans[i], pIDs[i] = string(r.Channel), r.ProviderID
	}
	rids := req.RequestIDs
	if rids == nil {
		rids = []string{}
	}
	b.Queue(sqlStatusConversations, rids, pChans, pIDs).Query(addConv)
	type msgConv struct {
		m    *ticketing.Message
		conv int64
	}
	var found []msgConv
	b.Queue(sqlStatusMessages, rids, pChans, pIDs).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			m := &ticketing.Message{}
			var conv pgtype.Int8
			var ch, dir, status string
			var statusAt pgtype.Timestamptz
			if err := rows.Scan(&m.ID, &conv, &m.ContactID, &ch, &dir, &m.ProviderID, &m.Body, &m.Seq, &m.SentAt,
				&m.StoredAt, &m.RequestID, &m.SentBy, &status, &m.ErrorCode, &m.ErrorMessage, &statusAt); err != nil {
				return err
			}
			m.Channel, m.Direction, m.Status = gateway.Channel(ch), ticketing.Direction(dir), gateway.DeliveryStatus(status)
			m.SentAt, m.StoredAt, m.StatusAt = m.SentAt.UTC(), m.StoredAt.UTC(), timeOf(statusAt)
			found = append(found, msgConv{m: m, conv: conv.Int64})
		}
		return rows.Err()
	})
	b.Queue(sqlPendingStatuses, rids, pChans, pIDs).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var p ticketing.PendingStatus
			var ch, status string
			s := &p.Status
			if err := rows.Scan(&p.ID, &ch, &s.Contact, &s.RequestID, &s.ProviderID, &status, &s.ProviderStatus,
				&s.ErrorCode, &s.ErrorMessage, &s.At, &p.ReceivedAt); err != nil {
				return err
			}
			s.Channel, s.Status, s.At, p.ReceivedAt = gateway.Channel(ch), gateway.DeliveryStatus(status), s.At.UTC(), p.ReceivedAt.UTC()
			res.Pending = append(res.Pending, p)
		}
		return rows.Err()
	})
	if err := t.tx.SendBatch(ctx, b).Close(); err != nil {
		return ticketing.StatusLoad{}, fmt.Errorf("load statuses: %w", err)
	}
	for _, f := range found {
		if f.conv != 0 {
			f.m.Conv = res.Conversations[f.conv]
		}
		res.Messages = append(res.Messages, f.m)
	}
	return res, nil
}

// contactArrays returns refs as parallel arrays sorted by (channel,
// address), the order every contact lock is taken in.
func contactArrays(refs []ticketing.ContactRef) (chans, addrs, names []string) {
	refs = append([]ticketing.ContactRef(nil), refs...)
	sort.Slice(refs, func(i, j int) bool {
		if refs[i].Channel != refs[j].Channel {
			return refs[i].Channel < refs[j].Channel
		}
		return refs[i].Address < refs[j].Address
	})
	chans, addrs, names = make([]string, len(refs)), make([]string, len(refs)), make([]string, len(refs))
	for i, r := range refs {
		chans[i], addrs[i], names[i] = string(r.Channel), r.Address, r.Name
	}
	return chans, addrs, names
}

// queueStatusChanges queues the writes of a batch's statuses into Save's
// pipelined batch, after the new messages are inserted.
func queueStatusChanges(b *pgx.Batch, c *ticketing.StatusChanges) {
	if n := len(c.Updated); n > 0 {
		ids, pids, statuses := make([]int64, n), make([]string, n), make([]string, n)
		ranks, codes, texts, ats := make([]int16, n), make([]string, n), make([]string, n), make([]pgtype.Timestamptz, n)
		for i, m := range c.Updated {
			ids[i], pids[i], statuses[i], ranks[i] = m.ID, m.ProviderID, string(m.Status), int16(m.Status.Rank())
			codes[i], texts[i], ats[i] = m.ErrorCode, m.ErrorMessage, tstz(m.StatusAt)
		}
		b.Queue(sqlUpdateMessageStatuses, ids, pids, statuses, ranks, codes, texts, ats)
	}
	if n := len(c.Pending); n > 0 {
		chans, contacts, rids, pids := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		statuses, ranks, pstatuses := make([]string, n), make([]int16, n), make([]string, n)
		codes, texts, ats, received := make([]string, n), make([]string, n), make([]time.Time, n), make([]time.Time, n)
		for i, p := range c.Pending {
			s := p.Status
			chans[i], contacts[i], rids[i], pids[i] = string(s.Channel), s.Contact, s.RequestID, s.ProviderID
			statuses[i], ranks[i], pstatuses[i] = string(s.Status), int16(s.Status.Rank()), s.ProviderStatus
			codes[i], texts[i], ats[i], received[i] = s.ErrorCode, s.ErrorMessage, s.At, p.ReceivedAt
		}
		b.Queue(sqlInsertPendingStatuses, chans, contacts, rids, pids, statuses, ranks, pstatuses, codes, texts, ats, received)
	}
	if len(c.Resolved) > 0 {
		b.Queue(sqlDeletePendingStatuses, c.Resolved)
	}
}

// messageColumns returns ch.Messages as the arrays of sqlInsertMessages.
func messageColumns(ms []*ticketing.Message) []any {
	n := len(ms)
	ids, convIDs, contactIDs := make([]int64, n), make([]pgtype.Int8, n), make([]int64, n)
	chans, dirs, pids, bodies := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	seqs, sent, stored := make([]int32, n), make([]time.Time, n), make([]time.Time, n)
	rids, sentBy, statuses, ranks := make([]string, n), make([]string, n), make([]string, n), make([]int16, n)
	codes, texts, statusAt := make([]string, n), make([]string, n), make([]pgtype.Timestamptz, n)
	for i, m := range ms {
		ids[i], contactIDs[i] = m.ID, m.ContactID
		if m.Conv != nil {
			convIDs[i] = pgtype.Int8{Int64: m.Conv.ID, Valid: true}
		}
		chans[i], dirs[i], pids[i], bodies[i] = string(m.Channel), string(m.Direction), m.ProviderID, m.Body
		seqs[i], sent[i], stored[i] = int32(m.Seq), m.SentAt, m.StoredAt
		rids[i], sentBy[i], statuses[i], ranks[i] = m.RequestID, m.SentBy, string(m.Status), int16(m.Status.Rank())
		codes[i], texts[i], statusAt[i] = m.ErrorCode, m.ErrorMessage, tstz(m.StatusAt)
	}
	return []any{ids, convIDs, contactIDs, chans, dirs, pids, bodies, seqs, sent, stored,
		rids, sentBy, statuses, ranks, codes, texts, statusAt}
}

package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/chatgate/chatgate/ticketing"
)

const (
	// One contact by id, locked as Load locks contacts (a single row: no
	// ordering to keep).
	sqlLockContact = `
SELECT ` + contactColumns + `
FROM contacts c
WHERE c.id = $1
FOR UPDATE OF c`

	// The contact's open conversation, else its latest one, as in
	// sqlCurrentConversations; read after the lock above.
	sqlContactConversation = `
(SELECT ` + conversationColumnList + ` FROM conversations v
 WHERE v.contact_id = $1 AND v.state IN ('unassigned', 'assigned', 'snoozed') LIMIT 1)
UNION ALL
(SELECT ` + conversationColumnList + ` FROM conversations v
 WHERE v.contact_id = $1 ORDER BY v.id DESC LIMIT 1)
LIMIT 1`
)

// LoadContact locks one contact and reads its current conversation and
// the directory in one round trip; see ticketing.ContactTx.
func (t *storeTx) LoadContact(ctx context.Context, id int64) (*ticketing.ContactState, []ticketing.Department, []ticketing.Presence, error) {
	var st *ticketing.ContactState
	var conv *ticketing.Conversation
	var deps []ticketing.Department
	var presence []ticketing.Presence
	b := &pgx.Batch{}
	b.Queue(sqlLockContact, id).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			c, err := scanContact(rows)
			if err != nil {
				return err
			}
			st = &ticketing.ContactState{Contact: c}
		}
		return rows.Err()
	})
	b.Queue(sqlContactConversation, id).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			v, err := scanConversation(rows)
			if err != nil {
				return err
			}
			conv = v
		}
		return rows.Err()
	})
	queueDirectory(b, &deps, &presence)
	if err := t.tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, nil, nil, fmt.Errorf("load contact %d: %w", id, err)
	}
	if st == nil {
		return nil, nil, nil, fmt.Errorf("%w: %d", ticketing.ErrContactNotFound, id)
	}
	if conv != nil && conv.State.Open() {
		st.Open = conv
	} else {
		st.Last = conv
	}
	return st, deps, presence, nil
}

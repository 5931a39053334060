package pgstore

import (
	"context"
	"fmt"
)

// sqlQueueTotals counts the conversations the desk's lists hold, in one
// statement for every department and agent: the unassigned queue per
// department (R17), the assigned conversations per agent (R19) and the
// snoozed ones per department and assignee (R22), leaving out, as the
// lists do, those that wait for the contact's consent (R35). Each part
// reads its own partial index of 0008, so the cost follows the open
// conversations, not the table. The live stream derives every client's
// quick-accept counts from these rows (R41, ticketing.Scope.Listed),
// instead of one count per client.
const sqlQueueTotals = `
SELECT 'unassigned', v.department_id, '', count(*) FROM conversations v
WHERE v.state = 'unassigned' AND ` + sqlNotAwaitingConsent + ` GROUP BY v.department_id
UNION ALL
SELECT 'assigned', '', v.assignee, count(*) FROM conversations v WHERE v.state = 'assigned' GROUP BY v.assignee
UNION ALL
SELECT 'snoozed', v.department_id, v.assignee, count(*) FROM conversations v
WHERE v.state = 'snoozed' AND (v.assignee <> '' OR ` + sqlNotAwaitingConsent + `) GROUP BY v.department_id, v.assignee`

// QueueTotals counts the unassigned conversations per department, the
// assigned ones per agent (department empty) and the snoozed ones per
// department and assignee, as the desk's lists hold them, in one query, and
// passes each non-empty group to add. Its signature uses only built-in types so that gateway/stream's
// Config.Count can take it as it is.
func (s *Store) QueueTotals(ctx context.Context, add func(state, department, assignee string, count int)) error {
	rows, err := s.pool.Query(ctx, sqlQueueTotals)
	if err != nil {
		return fmt.Errorf("queue totals: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var state, dep, assignee string
		var n int
		if err := rows.Scan(&state, &dep, &assignee, &n); err != nil {
			return fmt.Errorf("queue totals: %w", err)
		}
		add(state, dep, assignee, n)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("queue totals: %w", err)
	}
	return nil
}

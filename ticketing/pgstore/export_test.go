package pgstore

import "github.com/chatgate/chatgate/ticketing"

// ListSQL returns the statement and arguments List runs, for EXPLAIN in
// the benchmarks.
func ListSQL(p ticketing.ListParams) (string, []any) {
	named := map[string]any{"@limit": p.Limit + 1, "@agent": p.Agent}
	sql, order := sqlListUnassigned, sqlUnassignedOrder
	if p.After != nil {
		named["@t"], named["@id"] = p.After.At, p.After.ID
		sql += sqlUnassignedAfter
	}
	return bind(sql+order, p.Scope, named)
}

// ClaimQueueSQL is the quick accept's claim.
const ClaimQueueSQL = sqlClaimQueue

// SearchTextSQL returns the word search's statement and arguments.
func SearchTextSQL(q string, sc ticketing.Scope) (string, []any) {
	return bind(sqlSearchText, sc, map[string]any{"@query": q, "@before": int64(1 << 62), "@limit": 51})
}

package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chatgate/chatgate/ticketing"
)

var _ ticketing.DirectoryStore = (*Store)(nil)

const (
	// Edits of the department set are serialised; readers (worker batches)
	// are not blocked: SHARE ROW EXCLUSIVE conflicts with itself and with
	// writers only.
	sqlLockDepartments = `LOCK TABLE departments IN SHARE ROW EXCLUSIVE MODE`

	sqlAllDepartments = `SELECT id, doc FROM departments ORDER BY id`

	sqlInsertDepartment = `
INSERT INTO departments (id, doc, version, created_at, updated_at) VALUES ($1, $2, 1, $3, $3)`

	// jsonb equality is semantic (key order, spacing), so an unchanged
	// document is not rewritten and keeps its version.
	sqlUpdateDepartment = `
UPDATE departments SET doc = $2, version = version + 1, updated_at = $3
WHERE id = $1 AND doc IS DISTINCT FROM $2::jsonb`

	sqlDeleteDepartment = `DELETE FROM departments WHERE id = $1`

	sqlUpsertPresence = `
INSERT INTO agents (id, status, heartbeat_at, updated_at) VALUES ($1, $2, $3, $3)
ON CONFLICT (id) DO UPDATE SET status = excluded.status, heartbeat_at = excluded.heartbeat_at,
    updated_at = excluded.updated_at
WHERE agents.heartbeat_at <= excluded.heartbeat_at`
)

// EditDepartments implements ticketing.DirectoryStore.
func (s *Store) EditDepartments(ctx context.Context, now time.Time, edit func([]ticketing.Department) ([]ticketing.Department, error)) (ticketing.DepartmentChanges, error) {
	var changes ticketing.DepartmentChanges
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		changes = ticketing.DepartmentChanges{}
		if _, err := tx.Exec(ctx, sqlLockDepartments); err != nil {
			return err
		}
		current, err := listDepartments(ctx, tx)
		if err != nil {
			return err
		}
		// edit gets its own copy: it may change the slice in place, and
		// current is compared with its result below.
		next, err := edit(slices.Clone(current))
		if err != nil {
			return err
		}
		stored := map[string]bool{}
		for _, d := range current {
			stored[d.ID] = true
		}
		keep := map[string]bool{}
		for _, d := range next {
			keep[d.ID] = true
			doc, err := json.Marshal(d)
			if err != nil {
				return fmt.Errorf("department %s: %w", d.ID, err)
			}
			if !stored[d.ID] {
				if _, err := tx.Exec(ctx, sqlInsertDepartment, d.ID, doc, now); err != nil {
					return err
				}
				changes.Created = append(changes.Created, d.ID)
				continue
			}
			tag, err := tx.Exec(ctx, sqlUpdateDepartment, d.ID, doc, now)
			if err != nil {
				return err
			}
			if tag.RowsAffected() > 0 {
				changes.Updated = append(changes.Updated, d.ID)
			} else {
				changes.Unchanged = append(changes.Unchanged, d.ID)
			}
		}
		for _, d := range current {
			if !keep[d.ID] {
				if _, err := tx.Exec(ctx, sqlDeleteDepartment, d.ID); err != nil {
					return err
				}
				changes.Deleted = append(changes.Deleted, d.ID)
			}
		}
		return nil
	})
	if err != nil {
		return ticketing.DepartmentChanges{}, fmt.Errorf("edit departments: %w", err)
	}
	for _, ids := range [][]string{changes.Created, changes.Updated, changes.Deleted, changes.Unchanged} {
		sort.Strings(ids)
	}
	return changes, nil
}

// ListDepartments implements ticketing.DirectoryStore.
func (s *Store) ListDepartments(ctx context.Context) ([]ticketing.Department, error) {
	deps, err := listDepartments(ctx, s.pool)
	if err != nil {
		return nil, fmt.Errorf("list departments: %w", err)
	}
	return deps, nil
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func listDepartments(ctx context.Context, q querier) ([]ticketing.Department, error) {
	rows, err := q.Query(ctx, sqlAllDepartments)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (ticketing.Department, error) {
		var id string
		var doc []byte
		var d ticketing.Department
		if err := row.Scan(&id, &doc); err != nil {
			return d, err
		}
		if err := json.Unmarshal(doc, &d); err != nil {
			return d, fmt.Errorf("department %s: %w", id, err)
		}
		return d, nil
	})
}

// SetPresence implements ticketing.DirectoryStore. A report older than the
// stored one (a delayed command) does not overwrite it.
func (s *Store) SetPresence(ctx context.Context, p ticketing.Presence) error {
	if _, err := s.pool.Exec(ctx, sqlUpsertPresence, p.AgentID, string(p.Status), p.HeartbeatAt); err != nil {
		return fmt.Errorf("set presence of %s: %w", p.AgentID, err)
	}
	return nil
}

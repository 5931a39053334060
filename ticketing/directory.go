package ticketing

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// ErrDepartmentNotFound is returned for an unknown department id.
var ErrDepartmentNotFound = errors.New("department not found")

// ErrInvalidPresence refuses an unknown presence status or an agent id that
// breaks gateway.CheckAgentID.
var ErrInvalidPresence = errors.New("invalid presence")

// ApplyDepartments stores deps declaratively (chatgate departments apply,
// PUT /v1/departments): each one is validated, the resulting set is
// validated as a whole (unique numbers and keywords, one default), and only
// what differs is written, so applying the same file twice changes nothing.
// With prune, stored departments missing from deps are deleted.
func (s *Service) ApplyDepartments(ctx context.Context, deps []Department, prune bool) (DepartmentChanges, error) {
	next := make([]Department, len(deps))
	var errs []error
	seen := map[string]bool{}
	for i, d := range deps {
		if err := d.Validate(); err != nil {
			errs = append(errs, err)
		}
		if seen[d.ID] {
			errs = append(errs, &ValidationError{Department: d.ID, Problems: []string{"id: listed twice"}})
		}
		seen[d.ID] = true
		next[i] = d
	}
	if err := errors.Join(errs...); err != nil {
		return DepartmentChanges{}, err
	}
	return s.Directory.EditDepartments(ctx, s.Now().UTC(), func(current []Department) ([]Department, error) {
		merged := slices.Clone(next)
		if !prune {
			for _, c := range current {
				if !seen[c.ID] {
					merged = append(merged, c)
				}
			}
		}
		if _, err := NewDirectory(merged, nil); err != nil {
			return nil, err
		}
		return merged, nil
	})
}

// DeleteDepartment removes one department. Its conversations keep their
// department id and are treated as unrouted until routed again.
func (s *Service) DeleteDepartment(ctx context.Context, id string) error {
	_, err := s.Directory.EditDepartments(ctx, s.Now().UTC(), func(current []Department) ([]Department, error) {
		i := slices.IndexFunc(current, func(d Department) bool { return d.ID == id })
		if i < 0 {
			return nil, fmt.Errorf("%w: %q", ErrDepartmentNotFound, id)
		}
		return slices.Delete(current, i, i+1), nil
	})
	return err
}

// Departments lists the stored departments sorted by id.
func (s *Service) Departments(ctx context.Context) ([]Department, error) {
	return s.Directory.ListDepartments(ctx)
}

// Department returns one stored department.
func (s *Service) Department(ctx context.Context, id string) (Department, error) {
	deps, err := s.Directory.ListDepartments(ctx)
	if err != nil {
		return Department{}, err
	}
	for _, d := range deps {
		if d.ID == id {
			return d, nil
		}
	}
	return Department{}, fmt.Errorf("%w: %q", ErrDepartmentNotFound, id)
}

// SetPresence records an agent's presence (PUT /v1/agents/{id}/presence, or
// a presence command). Each call is also the agent's heartbeat: an online
// agent not refreshed within Config.PresenceTTL stops counting (R4).
func (s *Service) SetPresence(ctx context.Context, agentID string, status PresenceStatus) error {
	if err := checkPresence(agentID, status); err != nil {
		return err
	}
	return s.Directory.SetPresence(ctx, Presence{AgentID: agentID, Status: status, HeartbeatAt: s.Now().UTC()})
}

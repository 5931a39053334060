package opsapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/chatgate/chatgate/ticketing"
)

// ErrDryRun refuses a write through a plan service other than a department
// edit (presence cannot be planned).
var ErrDryRun = errors.New("dry run: nothing is written")

// NewPlanService returns a ticketing.Service whose department edits run
// every check ApplyDepartments and DeleteDepartment run, on the departments
// stored in dir, and report what would change without writing anything:
// `chatgate departments apply --dry-run` and PUT /v1/departments?dry_run=true.
//
// A department counts as updated when its JSON document differs from the
// stored one, which is what the store compares too.
func NewPlanService(dir ticketing.DirectoryStore, now func() time.Time) *ticketing.Service {
	return &ticketing.Service{Directory: planStore{dir: dir}, Now: now}
}

// planStore is a ticketing.DirectoryStore that reads through dir and
// writes nothing.
type planStore struct{ dir ticketing.DirectoryStore }

var _ ticketing.DirectoryStore = planStore{}

func (p planStore) EditDepartments(ctx context.Context, _ time.Time, edit func([]ticketing.Department) ([]ticketing.Department, error)) (ticketing.DepartmentChanges, error) {
	current, err := p.dir.ListDepartments(ctx)
	if err != nil {
		return ticketing.DepartmentChanges{}, err
	}
	stored := make(map[string][]byte, len(current))
	for _, d := range current {
		doc, err := json.Marshal(d)
		if err != nil {
			return ticketing.DepartmentChanges{}, fmt.Errorf("department %s: %w", d.ID, err)
		}
		stored[d.ID] = doc
	}
	// edit may modify the slice it is given; it gets its own copy.
	next, err := edit(append([]ticketing.Department(nil), current...))
	if err != nil {
		return ticketing.DepartmentChanges{}, err
	}
	var ch ticketing.DepartmentChanges
	keep := map[string]bool{}
	for _, d := range next {
		keep[d.ID] = true
		doc, err := json.Marshal(d)
		if err != nil {
			return ticketing.DepartmentChanges{}, fmt.Errorf("department %s: %w", d.ID, err)
		}
		old, ok := stored[d.ID]
		switch {
		case !ok:
			ch.Created = append(ch.Created, d.ID)
		case bytes.Equal(old, doc):
			ch.Unchanged = append(ch.Unchanged, d.ID)
		default:
			ch.Updated = append(ch.Updated, d.ID)
		}
	}
	for _, d := range current {
		if !keep[d.ID] {
			ch.Deleted = append(ch.Deleted, d.ID)
		}
	}
	for _, ids := range [][]string{ch.Created, ch.Updated, ch.Deleted, ch.Unchanged} {
		slices.Sort(ids) // as the store reports them
	}
	return ch, nil
}

func (p planStore) ListDepartments(ctx context.Context) ([]ticketing.Department, error) {
	return p.dir.ListDepartments(ctx)
}

func (p planStore) SetPresence(context.Context, ticketing.Presence) error {
	return ErrDryRun
}

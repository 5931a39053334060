package templates

import (
	"context"
	"errors"
	"fmt"
)

// ApplyAction says what Apply does to one template.
type ApplyAction string

// The apply actions.
const (
	// ApplyCreated: the template did not exist; it is created (version 1).
	ApplyCreated ApplyAction = "created"
	// ApplyUpdated: the content differs; a new version is stored.
	ApplyUpdated ApplyAction = "updated"
	// ApplyStatusChanged: the content is the same, the status changes.
	ApplyStatusChanged ApplyAction = "status_changed"
	// ApplyUnchanged: nothing to do.
	ApplyUnchanged ApplyAction = "unchanged"
)

// ApplyResult is what Apply did, or Plan would do, to one template.
type ApplyResult struct {
	// Name and Language (canonical) identify the template.
	Name     string `json:"name"`
	Language string `json:"language"`
	// Action is what was done.
	Action ApplyAction `json:"action"`
	// Version and Status are the current version's afterwards (for a
	// plan: what they would be).
	Version int    `json:"version"`
	Status  Status `json:"status"`
}

// ApplyReport lists one result per template of the file, in file order.
type ApplyReport struct {
	// Results are in the order of the templates given.
	Results []ApplyResult `json:"results"`
}

// Count returns how many results have action a.
func (r *ApplyReport) Count(a ApplyAction) int {
	n := 0
	for _, res := range r.Results {
		if res.Action == a {
			n++
		}
	}
	return n
}

// Changed reports whether any template was (or would be) changed.
func (r *ApplyReport) Changed() bool {
	return r.Count(ApplyUnchanged) != len(r.Results)
}

// applyStep is the plan for one template.
type applyStep struct {
	want    Template // normalised, Status draft
	status  Status   // the file's status, "" to leave it
	current *Row     // nil when the template does not exist
	write   ApplyAction
	path    []Status // status changes after the write, in order
}

// Plan works out what Apply would do with want, without changing anything.
// It fails before any change with a *ValidationError (ErrInvalid) whose
// fields are "templates[i].…" when an entry is invalid, names a template
// twice, or asks for a status its template cannot reach (ErrIllegalTransition
// is named in the message); store errors are returned as they are.
func Plan(ctx context.Context, s Store, want []Template) (*ApplyReport, error) {
	steps, err := plan(ctx, s, want)
	if err != nil {
		return nil, err
	}
	report := &ApplyReport{Results: make([]ApplyResult, len(steps))}
	for i, st := range steps {
		res := ApplyResult{Name: st.want.Name, Language: st.want.Language, Action: st.write, Version: 1, Status: StatusDraft}
		switch st.write {
		case ApplyUpdated:
			res.Version = st.current.Version + 1
		case ApplyUnchanged:
			res.Version, res.Status = st.current.Version, st.current.Status
		}
		if len(st.path) > 0 {
			res.Status = st.path[len(st.path)-1]
			if st.write == ApplyUnchanged {
				res.Action = ApplyStatusChanged
			}
		}
		report.Results[i] = res
	}
	return report, nil
}

// Apply makes the store hold want, declaratively: a template missing from
// the store is created, one whose content differs gets a new version, and
// one whose status differs from a status given in want is moved there
// along the lifecycle (draft → approved → disabled, draft → rejected).
// Entries with an empty Status leave the status alone (new versions are
// drafts); Version is ignored. Applying the same templates again changes
// nothing. Templates of the store that want does not name are left alone.
//
// Everything is checked first (see Plan), so an invalid file changes
// nothing. The writes are one store call each: if one fails, Apply returns
// the results so far with the error, and running it again finishes the job.
func Apply(ctx context.Context, s Store, want []Template) (*ApplyReport, error) {
	steps, err := plan(ctx, s, want)
	if err != nil {
		return nil, err
	}
	report := &ApplyReport{}
	for _, st := range steps {
		t := st.want
		res := ApplyResult{Name: t.Name, Language: t.Language, Action: st.write}
		var row *Row
		switch st.write {
		case ApplyCreated:
			row, err = s.Create(ctx, &CreateParams{Template: t})
		case ApplyUpdated:
			row, err = s.Update(ctx, &UpdateParams{Template: t})
		default:
			row = st.current
		}
		for _, to := range st.path {
			if err != nil {
				break
			}
			row, err = s.SetStatus(ctx, &SetStatusParams{Name: t.Name, Language: t.Language, Status: to})
			if st.write == ApplyUnchanged {
				res.Action = ApplyStatusChanged
			}
		}
		if err != nil {
			return report, fmt.Errorf("apply template %s (%s): %w", t.Name, t.Language, err)
		}
		// After a status change the row is the version that changed, which
		// is the live one for a disable; report the current version.
		if len(st.path) > 0 {
			if row, err = s.Get(ctx, &GetParams{Name: t.Name, Language: t.Language}); err != nil {
				return report, fmt.Errorf("apply template %s (%s): %w", t.Name, t.Language, err)
			}
		}
		res.Version, res.Status = row.Version, row.Status
		report.Results = append(report.Results, res)
	}
	return report, nil
}

// Export returns the current version of every template in the store, in
// (name, language) order, ready for MarshalFile. Applying the result to the
// same store changes nothing. Only current versions are exported: an
// approved version waiting behind a newer draft is not.
func Export(ctx context.Context, s Store) ([]Template, error) {
	var (
		out []Template
		p   = ListParams{Limit: MaxPageSize}
	)
	for {
		res, err := s.List(ctx, &p)
		if err != nil {
			return nil, fmt.Errorf("export templates: %w", err)
		}
		for _, r := range res.Rows {
			out = append(out, r.Template)
		}
		if res.NextCursor == "" {
			return out, nil
		}
		p.Cursor = res.NextCursor
	}
}

func plan(ctx context.Context, s Store, want []Template) ([]applyStep, error) {
	var (
		errs  []FieldError
		steps = make([]applyStep, len(want))
		seen  = map[[2]string]int{}
	)
	for i, t := range want {
		prefix := fmt.Sprintf("templates[%d].", i)
		st := &steps[i]
		st.status = t.Status
		if st.status != "" && !st.status.Valid() {
			errs = append(errs, FieldError{Field: prefix + "status", Code: CodeInvalid,
				Message: fmt.Sprintf("%q is not one of draft, approved, rejected, disabled", st.status)})
		}
		t.Status, t.Version = StatusDraft, 0
		t.Normalize()
		var ve *ValidationError
		if err := t.Validate(); errors.As(err, &ve) {
			for _, fe := range ve.Errors {
				fe.Field = prefix + fe.Field
				errs = append(errs, fe)
			}
		}
		key := [2]string{t.Name, t.Language}
		if j, dup := seen[key]; dup && t.Name != "" {
			errs = append(errs, FieldError{Field: prefix + "name", Code: CodeDuplicate,
				Message: fmt.Sprintf("%s (%s) is also templates[%d]", t.Name, t.Language, j)})
		} else {
			seen[key] = i
		}
		st.want = t
	}
	if len(errs) > 0 {
		return nil, &ValidationError{Errors: errs}
	}

	for i := range steps {
		st := &steps[i]
		t := &st.want
		cur, err := s.Get(ctx, &GetParams{Name: t.Name, Language: t.Language})
		switch {
		case errors.Is(err, ErrNotFound):
			st.write = ApplyCreated
		case err != nil:
			return nil, fmt.Errorf("plan template %s (%s): %w", t.Name, t.Language, err)
		default:
			st.current = cur
			st.write = ApplyUnchanged
			if !SameContent(&cur.Template, t) {
				st.write = ApplyUpdated
			}
		}
		from := StatusDraft
		if st.write == ApplyUnchanged {
			from = cur.Status
			// Same content, but a rejected or disabled version cannot come
			// back: a new version of it can.
			final := from == StatusRejected || from == StatusDisabled
			if final && st.status != "" && st.status != from && (st.status == StatusDraft || statusPath(StatusDraft, st.status) != nil) {
				st.write, from = ApplyUpdated, StatusDraft
			}
		}
		if st.status == "" || st.status == from {
			continue
		}
		st.path = statusPath(from, st.status)
		if st.path == nil {
			errs = append(errs, FieldError{Field: fmt.Sprintf("templates[%d].status", i), Code: CodeInvalid,
				Message: fmt.Sprintf("%s (%s) is %s and cannot become %s (%v); change its content to make a new draft, or change the status in the file",
					t.Name, t.Language, from, st.status, ErrIllegalTransition)})
		}
	}
	if len(errs) > 0 {
		return nil, &ValidationError{Errors: errs}
	}
	return steps, nil
}

// statusPath returns the shortest list of statuses that leads from from to
// to along the lifecycle (to last), or nil if there is none.
func statusPath(from, to Status) []Status {
	prev := map[Status]Status{from: ""}
	queue := []Status{from}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		if s == to && s != from {
			var path []Status
			for ; s != from; s = prev[s] {
				path = append([]Status{s}, path...)
			}
			return path
		}
		for _, next := range allowedTransitions[s] {
			if _, ok := prev[next]; !ok {
				prev[next] = s
				queue = append(queue, next)
			}
		}
	}
	return nil
}

package cloudapi

import (
	"context"
	"errors"
	"fmt"

	"github.com/chatgate/chatgate/templates"
)

// TemplateStore is what Sync and ApplyTemplateStatus need of chatgate's
// template store; templates.Store (templates/pgstore) has these methods.
type TemplateStore interface {
	Get(ctx context.Context, p *templates.GetParams) (*templates.Row, error)
	Create(ctx context.Context, p *templates.CreateParams) (*templates.Row, error)
	Update(ctx context.Context, p *templates.UpdateParams) (*templates.Row, error)
	SetStatus(ctx context.Context, p *templates.SetStatusParams) (*templates.Row, error)
}

// TemplateSource lists the message templates of the WABAs to sync;
// *TemplateClient is one.
type TemplateSource interface {
	Templates(ctx context.Context) ([]MetaTemplate, error)
}

// TemplateClient lists the templates of every WABA of a Config's numbers.
type TemplateClient struct {
	Client *Client
	// WABAIDs are the accounts to list, in order (Config.WABAIDs()).
	WABAIDs []string
}

// Templates lists the templates of every WABA, in order.
func (tc *TemplateClient) Templates(ctx context.Context) ([]MetaTemplate, error) {
	if len(tc.WABAIDs) == 0 {
		return nil, errors.New("list templates: no WABA id configured (Numbers[].WABAID)")
	}
	var out []MetaTemplate
	for _, id := range tc.WABAIDs {
		ts, err := tc.Client.ListTemplates(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, ts...)
	}
	return out, nil
}

// SyncAction says what Sync does, or would do, to one template.
type SyncAction string

// The sync actions.
const (
	// SyncCreated: chatgate did not have the template; it is created and
	// moved to Meta's status.
	SyncCreated SyncAction = "created"
	// SyncUpdated: the content differs (or a rejected or disabled version
	// must come back); a new version is stored and moved to Meta's status.
	SyncUpdated SyncAction = "updated"
	// SyncStatusChanged: the content is the same, the status follows Meta's.
	SyncStatusChanged SyncAction = "status_changed"
	// SyncUnchanged: chatgate already agrees with Meta.
	SyncUnchanged SyncAction = "unchanged"
	// SyncSkipped: the template cannot be represented or imported; Problem says why.
	SyncSkipped SyncAction = "skipped"
)

// SyncItem is what Sync did, or would do, to one of Meta's templates.
type SyncItem struct {
	WABAID     string `json:"waba_id,omitempty"`
	TemplateID string `json:"template_id,omitempty"`
	Name       string `json:"name"`
	Language   string `json:"language"`
	// MetaStatus is Meta's word; Status chatgate's status afterwards (for a
	// plan, what it would be) and FromStatus before ("" when created).
	MetaStatus string           `json:"meta_status"`
	Action     SyncAction       `json:"action"`
	FromStatus templates.Status `json:"from_status,omitempty"`
	Status     templates.Status `json:"status,omitempty"`
	// Version is the current version afterwards (for a plan, what it would be).
	Version int `json:"version,omitempty"`
	// Reason is Meta's rejection reason, when rejected.
	Reason string `json:"reason,omitempty"`
	// Notes say what chatgate's model does not keep; Problem why it was skipped.
	Notes   []string `json:"notes,omitempty"`
	Problem string   `json:"problem,omitempty"`
}

// Plan is the outcome of Sync: one item per template Meta listed, in
// Meta's order.
type Plan struct {
	DryRun bool       `json:"dry_run"`
	Items  []SyncItem `json:"items"`
}

// Count returns how many items have action a.
func (p *Plan) Count(a SyncAction) int {
	n := 0
	for _, it := range p.Items {
		if it.Action == a {
			n++
		}
	}
	return n
}

// Changed reports whether the sync changed (or would change) anything.
func (p *Plan) Changed() bool {
	return p.Count(SyncCreated)+p.Count(SyncUpdated)+p.Count(SyncStatusChanged) > 0
}

// syncStep is the plan of one template.
type syncStep struct {
	item  SyncItem
	want  templates.Template
	write SyncAction // SyncCreated, SyncUpdated or "" (no write)
	path  []templates.Status
}

// Sync makes chatgate's templates follow Meta's: every template Meta lists
// is created or updated (content from Meta, status mapped by MapMetaStatus,
// the channel scope and Twilio reference kept from chatgate's copy) and
// moved along chatgate's lifecycle to Meta's status; a rejected or
// disabled version that Meta approves again comes back as a new version.
// Templates Meta does not list are left alone, and so are templates Meta
// lists as paused, disabled or deleted that chatgate never had. Running it
// again changes nothing.
//
// With dryRun it only reads: the Plan says what a run would do. Otherwise
// the writes are one store call each; if one fails, Sync returns the plan
// so far with the error, and running it again finishes the job.
func Sync(ctx context.Context, src TemplateSource, store TemplateStore, dryRun bool) (*Plan, error) {
	metas, err := src.Templates(ctx)
	if err != nil {
		return nil, fmt.Errorf("sync templates: %w", err)
	}
	steps := make([]syncStep, 0, len(metas))
	seen := map[[2]string]string{}
	for _, mt := range metas {
		st, err := planTemplate(ctx, store, mt, seen)
		if err != nil {
			return nil, fmt.Errorf("sync templates: %w", err)
		}
		steps = append(steps, st)
	}
	plan := &Plan{DryRun: dryRun}
	for _, st := range steps {
		if !dryRun {
			if err := applyStep(ctx, store, &st); err != nil {
				return plan, fmt.Errorf("sync template %s (%s): %w", st.item.Name, st.item.Language, err)
			}
		}
		plan.Items = append(plan.Items, st.item)
	}
	return plan, nil
}

func planTemplate(ctx context.Context, store TemplateStore, mt MetaTemplate, seen map[[2]string]string) (syncStep, error) {
	st := syncStep{item: SyncItem{WABAID: mt.WABAID, TemplateID: mt.ID, Name: mt.Name, Language: mt.Language, MetaStatus: mt.Status}}
	if mt.RejectedReason != "" && mt.RejectedReason != "NONE" {
		st.item.Reason = mt.RejectedReason
	}
	skip := func(problem string) (syncStep, error) {
		st.item.Action, st.item.Problem = SyncSkipped, problem
		return st, nil
	}
	lang, err := templates.NormalizeLanguage(mt.Language)
	if err != nil {
		return skip(fmt.Sprintf("language %q is not a language tag", clip(mt.Language, 32)))
	}
	st.item.Language = lang
	key := [2]string{mt.Name, lang}
	if waba, dup := seen[key]; dup {
		return skip(fmt.Sprintf("also listed by WABA %s; the first one is synced", waba))
	}
	seen[key] = mt.WABAID

	var cur *templates.Row
	switch row, err := store.Get(ctx, &templates.GetParams{Name: mt.Name, Language: lang}); {
	case errors.Is(err, templates.ErrNotFound):
	case err != nil:
		return syncStep{}, fmt.Errorf("template %s (%s): %w", mt.Name, lang, err)
	default:
		cur = row
	}
	var curT *templates.Template
	if cur != nil {
		curT = &cur.Template
	}
	conv := ConvertTemplate(mt, curT)
	st.item.Notes = conv.Notes
	if conv.Problem != "" {
		return skip(conv.Problem)
	}
	want := conv.Template.Status
	st.want = conv.Template
	st.item.Status = want

	if cur == nil {
		if want == templates.StatusDisabled {
			return skip("not sendable at Meta (" + mt.Status + ") and not in chatgate: not imported")
		}
		st.write, st.item.Action, st.item.Version = SyncCreated, SyncCreated, 1
		st.path = statusPath(templates.StatusDraft, want)
		return st, nil
	}
	st.item.FromStatus, st.item.Version = cur.Status, cur.Version
	from := cur.Status
	final := from == templates.StatusRejected || from == templates.StatusDisabled
	switch {
	case !templates.SameContent(&cur.Template, &st.want):
		st.write, from = SyncUpdated, templates.StatusDraft
	case final && want != from && want != templates.StatusDisabled:
		// A version that was rejected or disabled cannot come back; a new
		// version with the same content can.
		st.write, from = SyncUpdated, templates.StatusDraft
	}
	if want != from {
		st.path = statusPath(from, want)
		if st.path == nil {
			// Approved in chatgate, pending at Meta (an edit under review):
			// the approved version stays live until Meta decides.
			st.item.Notes = append(st.item.Notes, fmt.Sprintf("chatgate's %s version is kept until Meta decides (%s)", from, mt.Status))
			st.item.Status = from
		}
	}
	switch {
	case st.write == SyncUpdated:
		st.item.Action, st.item.Version = SyncUpdated, cur.Version+1
	case len(st.path) > 0:
		st.item.Action = SyncStatusChanged
	default:
		st.item.Action = SyncUnchanged
	}
	return st, nil
}

func applyStep(ctx context.Context, store TemplateStore, st *syncStep) error {
	var row *templates.Row
	var err error
	t := st.want
	switch st.write {
	case SyncCreated:
		row, err = store.Create(ctx, &templates.CreateParams{Template: t})
	case SyncUpdated:
		row, err = store.Update(ctx, &templates.UpdateParams{Template: t})
	}
	if err != nil {
		return err
	}
	for _, to := range st.path {
		if row, err = store.SetStatus(ctx, &templates.SetStatusParams{Name: t.Name, Language: t.Language, Status: to}); err != nil {
			return err
		}
	}
	if row != nil {
		// After a status change the row is the version that changed; the
		// current one is what a desk sees.
		cur, err := store.Get(ctx, &templates.GetParams{Name: t.Name, Language: t.Language})
		if err != nil {
			return err
		}
		st.item.Version, st.item.Status = cur.Version, cur.Status
	}
	return nil
}

// ApplyTemplateStatus moves the template of a status update to its new
// status along chatgate's lifecycle (a new version when a rejected or
// disabled one is approved again). An update that does not change whether
// the template may be sent (FLAGGED) changes nothing. A template chatgate
// does not have is an error matched by IsUnknownTemplate: run Sync to
// import it with its content.
func ApplyTemplateStatus(ctx context.Context, store TemplateStore, u TemplateStatusUpdate) (SyncItem, error) {
	item := SyncItem{WABAID: u.WABAID, TemplateID: u.TemplateID, Name: u.Name, Language: u.Language, MetaStatus: u.Event, Action: SyncUnchanged}
	if u.Event == "REJECTED" {
		item.Reason = u.Reason
	}
	cur, err := store.Get(ctx, &templates.GetParams{Name: u.Name, Language: u.Language})
	switch {
	case errors.Is(err, templates.ErrNotFound):
		return item, fmt.Errorf("template %s (%s): %w", u.Name, u.Language, errNoTemplate)
	case err != nil:
		return item, fmt.Errorf("template %s (%s): %w", u.Name, u.Language, err)
	}
	item.FromStatus, item.Status, item.Version = cur.Status, cur.Status, cur.Version
	if u.Status == "" || u.Status == cur.Status {
		return item, nil
	}
	st := syncStep{item: item, want: cur.Template}
	from := cur.Status
	if (from == templates.StatusRejected || from == templates.StatusDisabled) && u.Status != templates.StatusDisabled {
		st.write, st.item.Action, from = SyncUpdated, SyncUpdated, templates.StatusDraft
	}
	st.path = statusPath(from, u.Status)
	if st.path == nil && st.write == "" {
		st.item.Notes = append(st.item.Notes, fmt.Sprintf("chatgate's %s version is kept until Meta decides (%s)", from, u.Event))
		return st.item, nil
	}
	if st.write == "" {
		st.item.Action = SyncStatusChanged
	}
	st.want.Status, st.want.Version = templates.StatusDraft, 0
	if err := applyStep(ctx, store, &st); err != nil {
		return st.item, fmt.Errorf("template %s (%s): %w", u.Name, u.Language, err)
	}
	return st.item, nil
}

// statusPath is the shortest list of statuses from from to to along
// templates.Transition (to last), nil when there is none or from is to.
func statusPath(from, to templates.Status) []templates.Status {
	all := []templates.Status{templates.StatusDraft, templates.StatusApproved, templates.StatusRejected, templates.StatusDisabled}
	prev := map[templates.Status]templates.Status{from: ""}
	queue := []templates.Status{from}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		if s == to && s != from {
			var path []templates.Status
			for ; s != from; s = prev[s] {
				path = append([]templates.Status{s}, path...)
			}
			return path
		}
		for _, next := range all {
			if _, ok := prev[next]; !ok && templates.Transition(s, next) == nil {
				prev[next] = s
				queue = append(queue, next)
			}
		}
	}
	return nil
}

// errNoTemplate is wrapped by ApplyTemplateStatus for a template chatgate
// does not have.
var errNoTemplate = errors.New("template not in chatgate")

// IsUnknownTemplate reports whether err is ApplyTemplateStatus's answer
// for a template chatgate does not have yet (run a sync to import it).
func IsUnknownTemplate(err error) bool { return errors.Is(err, errNoTemplate) }

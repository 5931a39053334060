package templates

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Errors of the store contract, in addition to ErrNotFound and ErrDuplicate.
var (
	// ErrNotDraft reports that only a draft may be deleted and the current
	// version of the template is not one.
	ErrNotDraft = errors.New("template is not a draft")
	// ErrInvalidCursor reports a List cursor that the store did not issue.
	ErrInvalidCursor = errors.New("invalid list cursor")
	// ErrLanguageRequired reports that a template exists in several
	// languages and the caller did not say which one it means.
	ErrLanguageRequired = errors.New("template exists in several languages: say which one")
)

// Page sizes of List.
const (
	// DefaultPageSize is used when ListParams.Limit is 0.
	DefaultPageSize = 50
	// MaxPageSize bounds ListParams.Limit; larger limits are lowered to it.
	MaxPageSize = 200
)

// Row is one stored version of a template, as a Store returns it.
type Row struct {
	Template
	// LiveVersion is the approved version of (Name, Language), the one that
	// is sent, or 0 if none is approved. It differs from Version while an
	// edit of an approved template waits for approval.
	LiveVersion int `json:"live_version"`
	// CreatedAt is when this version was written.
	CreatedAt time.Time `json:"created_at"`
	// UpdatedAt is when this version's status last changed (CreatedAt if never).
	UpdatedAt time.Time `json:"updated_at"`
}

// CreateParams are the arguments of Store.Create.
type CreateParams struct {
	// Template is stored as version 1, a draft; its Status and Version are
	// ignored. It must be normalised and valid.
	Template Template
	// At stamps the new row; the zero time means the database's clock.
	At time.Time
}

// UpdateParams are the arguments of Store.Update.
type UpdateParams struct {
	// Template is stored as the next version of (Name, Language), a draft;
	// its Status and Version are ignored. It must be normalised and valid.
	Template Template
	// At stamps the new row; the zero time means the database's clock.
	At time.Time
}

// GetParams are the arguments of Store.Get.
type GetParams struct {
	// Name and Language (canonical) identify the template.
	Name     string
	Language string
	// Version picks one version; 0 means the current (latest) one.
	Version int
}

// ListParams are the arguments of Store.List: filters on the current
// versions, all optional and combined with AND, and the page.
type ListParams struct {
	// Status keeps templates whose current version has this status.
	Status Status
	// Language keeps one canonical language.
	Language string
	// Channel keeps templates usable on a channel: "whatsapp" or "sms" also
	// match templates scoped "any"; "any" matches only those.
	Channel ChannelScope
	// Category keeps one category.
	Category Category
	// Name keeps one exact name.
	Name string
	// NamePrefix keeps names starting with it.
	NamePrefix string
	// Limit is the page size: 0 means DefaultPageSize, more than
	// MaxPageSize means MaxPageSize.
	Limit int
	// Cursor is ListResult.NextCursor of the previous page; "" starts at the
	// beginning.
	Cursor string
}

// ListResult is one page of Store.List.
type ListResult struct {
	// Rows are the current versions, ordered by name, then language.
	Rows []*Row
	// NextCursor fetches the next page; "" when this is the last one.
	NextCursor string
}

// SetStatusParams are the arguments of Store.SetStatus.
type SetStatusParams struct {
	// Name and Language (canonical) identify the template.
	Name     string
	Language string
	// Status is the target: approved or rejected act on the current
	// version; disabled acts on the approved (live) version, or on the
	// current version when none is approved (and is then refused).
	Status Status
	// At stamps the change; the zero time means the database's clock.
	At time.Time
}

// DeleteDraftParams are the arguments of Store.DeleteDraft.
type DeleteDraftParams struct {
	// Name and Language (canonical) identify the template.
	Name     string
	Language string
}

// Store keeps templates and their versions. Implementations translate their
// own errors into this package's: ErrNotFound, ErrDuplicate, ErrNotDraft,
// ErrInvalidCursor, ErrIllegalTransition (a *TransitionError).
type Store interface {
	// Create stores a new template as version 1, a draft. It fails with
	// ErrDuplicate if (Name, Language) exists.
	Create(ctx context.Context, p *CreateParams) (*Row, error)
	// Update stores the next version of an existing template as a draft and
	// makes it current; the approved version, if any, stays live. It fails
	// with ErrNotFound if (Name, Language) does not exist.
	Update(ctx context.Context, p *UpdateParams) (*Row, error)
	// Get returns one version, by default the current one, or ErrNotFound.
	Get(ctx context.Context, p *GetParams) (*Row, error)
	// List returns a page of current versions matching the filters.
	List(ctx context.Context, p *ListParams) (*ListResult, error)
	// SetStatus changes a status along the lifecycle (see Transition) and
	// returns the changed row. Approving a version disables the previously
	// approved version of the same (Name, Language), which it replaces.
	SetStatus(ctx context.Context, p *SetStatusParams) (*Row, error)
	// DeleteDraft deletes the current version if it is a draft (else
	// ErrNotDraft); the previous version, if any, becomes current again.
	// It returns the deleted row.
	DeleteDraft(ctx context.Context, p *DeleteDraftParams) (*Row, error)
	// Approved returns the approved templates that fit a conversation on
	// channel in language lang (see FallbackOrder.Fits), one per name: the
	// copy in the first language of fallback.Chain(lang) that has an
	// approved copy. With lang empty (unknown) it returns every approved
	// copy that fits the channel. Sorted by name, then language.
	Approved(ctx context.Context, channel, lang string, fallback FallbackOrder) ([]*Template, error)
}

// LanguageRequiredError reports a template that exists in several languages
// when the caller named none. It matches ErrLanguageRequired.
type LanguageRequiredError struct {
	// Name is the template name.
	Name string
	// Languages are the template's languages, sorted.
	Languages []string
}

// Error lists the languages to choose from.
func (e *LanguageRequiredError) Error() string {
	return fmt.Sprintf("template %q exists in languages %s: say which one", e.Name, strings.Join(e.Languages, ", "))
}

// Is reports whether target is ErrLanguageRequired.
func (e *LanguageRequiredError) Is(target error) bool { return target == ErrLanguageRequired }

// ResolveLanguage returns the canonical language an ops request about the
// template called name means: lang normalised when given; otherwise the
// template's only language. It fails with ErrInvalidLanguage for a language
// that cannot be normalised, ErrNotFound when the template does not exist,
// and a *LanguageRequiredError (ErrLanguageRequired) when it exists in
// several languages.
func ResolveLanguage(ctx context.Context, s Store, name, lang string) (string, error) {
	if strings.TrimSpace(lang) != "" {
		canon, err := NormalizeLanguage(lang)
		if err != nil {
			return "", err
		}
		return canon, nil
	}
	res, err := s.List(ctx, &ListParams{Name: name, Limit: MaxPageSize})
	if err != nil {
		return "", fmt.Errorf("languages of template %q: %w", name, err)
	}
	switch len(res.Rows) {
	case 0:
		return "", fmt.Errorf("template %q: %w", name, ErrNotFound)
	case 1:
		return res.Rows[0].Language, nil
	}
	langs := make([]string, len(res.Rows))
	for i, r := range res.Rows {
		langs[i] = r.Language
	}
	slices.Sort(langs)
	return "", &LanguageRequiredError{Name: name, Languages: langs}
}

// SameContent reports whether a and b have the same content: everything
// ops write (category, channel, texts, buttons, provider references) but
// name, language, status and version. Both should be normalised.
func SameContent(a, b *Template) bool {
	return a.Category == b.Category &&
		a.Channel == b.Channel &&
		a.Header == b.Header &&
		a.Body == b.Body &&
		a.Footer == b.Footer &&
		slices.Equal(a.Buttons, b.Buttons) &&
		a.Twilio == b.Twilio &&
		a.WhatsApp == b.WhatsApp
}

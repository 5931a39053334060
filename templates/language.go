package templates

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/chatgate/chatgate/gateway"
)

// NormalizeLanguage returns the canonical form of a language tag; it is
// gateway.NormalizeLanguage, kept here because templates are where most
// callers meet languages.
func NormalizeLanguage(s string) (string, error) { return gateway.NormalizeLanguage(s) }

// FallbackOrder configures which languages are tried, in order, when a
// template is not available in the conversation's language. For a language
// L the order is:
//
//  1. L itself;
//  2. Alternatives[L], in the order given;
//  3. the parents of L, dropping the last subtag each time
//     (zh_Hant_TW → zh_Hant → zh; pt_BR → pt), unless NoParents is set;
//  4. Default, if set.
//
// Languages are compared in canonical form and each is tried once. The zero
// value tries L and then its parents.
type FallbackOrder struct {
	// Default is the last language tried, typically the business's main
	// language ("en").
	Default string
	// Alternatives lists, per language, other languages to try before its
	// parents (for example "pt_PT": {"pt_BR"}).
	Alternatives map[string][]string
	// NoParents turns off step 3.
	NoParents bool
}

// Validate checks that every language of f can be normalised, naming the
// first that cannot.
func (f FallbackOrder) Validate() error {
	var errs []error
	if f.Default != "" {
		if _, err := NormalizeLanguage(f.Default); err != nil {
			errs = append(errs, fmt.Errorf("fallback default: %w", err))
		}
	}
	for k, alts := range f.Alternatives {
		if _, err := NormalizeLanguage(k); err != nil {
			errs = append(errs, fmt.Errorf("fallback alternatives key: %w", err))
		}
		for _, a := range alts {
			if _, err := NormalizeLanguage(a); err != nil {
				errs = append(errs, fmt.Errorf("fallback alternatives of %q: %w", k, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Chain returns the canonical languages to try for lang, in order (see
// FallbackOrder). An empty or unparsable lang contributes nothing, so the
// chain is then only Default (or empty). Unparsable configured languages are
// skipped; Validate reports them.
func (f FallbackOrder) Chain(lang string) []string {
	var chain []string
	add := func(l string) {
		c, err := NormalizeLanguage(l)
		if err != nil {
			return
		}
		for _, have := range chain {
			if have == c {
				return
			}
		}
		chain = append(chain, c)
	}
	if canon, err := NormalizeLanguage(lang); err == nil {
		add(canon)
		// Sorted so that keys spelt differently ("pt-PT", "pt_PT") give one
		// stable order.
		for _, k := range slices.Sorted(maps.Keys(f.Alternatives)) {
			if kc, err := NormalizeLanguage(k); err == nil && kc == canon {
				for _, a := range f.Alternatives[k] {
					add(a)
				}
			}
		}
		if !f.NoParents {
			for i := strings.LastIndexByte(canon, '_'); i > 0; i = strings.LastIndexByte(canon, '_') {
				canon = canon[:i]
				add(canon)
			}
		}
	}
	if f.Default != "" {
		add(f.Default)
	}
	return chain
}

// Resolve picks the template called name for lang from candidates, trying
// the languages of fallback.Chain(lang) in order. Status is not considered:
// a disabled template in the exact language is returned rather than
// silently replaced by another language, and Sendable then says why it
// cannot be sent; filter candidates first to resolve among approved ones.
// If several candidates share the name and language, the highest Version
// wins. When nothing matches, Resolve returns a *NotFoundError (ErrNotFound)
// listing the languages tried.
func Resolve(candidates []*Template, name, lang string, fallback FallbackOrder) (*Template, error) {
	chain := fallback.Chain(lang)
	for _, l := range chain {
		var best *Template
		for _, t := range candidates {
			if t == nil || t.Name != name {
				continue
			}
			if tl, err := NormalizeLanguage(t.Language); err != nil || tl != l {
				continue
			}
			if best == nil || t.Version > best.Version {
				best = t
			}
		}
		if best != nil {
			return best, nil
		}
	}
	return nil, &NotFoundError{Name: name, Tried: chain}
}

// Fits reports whether t may be offered for a conversation on channel in
// language lang: t is approved, its scope is ScopeAny or channel, and its
// language is in f.Chain(lang). An empty lang (language unknown) fits every
// language.
func (f FallbackOrder) Fits(t *Template, channel, lang string) bool {
	if t == nil || t.Status != StatusApproved {
		return false
	}
	if t.Channel != ScopeAny && !strings.EqualFold(string(t.Channel), strings.TrimSpace(channel)) {
		return false
	}
	if strings.TrimSpace(lang) == "" {
		return true
	}
	tl, err := NormalizeLanguage(t.Language)
	if err != nil {
		return false
	}
	for _, l := range f.Chain(lang) {
		if l == tl {
			return true
		}
	}
	return false
}

// Fits is FallbackOrder{}.Fits: the template's language must be lang or one
// of its parents (a "pt" template fits a "pt_BR" conversation, not the
// reverse). Use FallbackOrder.Fits to also allow a default language.
func Fits(t *Template, channel, lang string) bool {
	return FallbackOrder{}.Fits(t, channel, lang)
}

func allASCIIDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

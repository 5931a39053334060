package templates

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// NormalizeLanguage returns the canonical form of a language tag: the
// primary language (2–3 letters) in lowercase, then an optional script
// (4 letters) in title case, then an optional region (2 letters in
// uppercase, or 3 digits), joined by "_". Hyphens and underscores are both
// accepted as separators and surrounding spaces are ignored, so "pt-br",
// "PT_br" and " pt_BR " all give "pt_BR". Other subtags (variants,
// extensions) are refused with ErrInvalidLanguage.
//
// The underscore form is WhatsApp's template language code, so canonical
// languages can be sent to WhatsApp and Twilio unchanged.
func NormalizeLanguage(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("%w: empty", ErrInvalidLanguage)
	}
	parts := strings.FieldsFunc(s, func(r rune) bool { return r == '-' || r == '_' })
	// FieldsFunc drops empty fields; a tag like "pt--BR" or "_pt" is malformed.
	if strings.Count(s, "-")+strings.Count(s, "_") != len(parts)-1 {
		return "", fmt.Errorf("%w: %q has an empty subtag", ErrInvalidLanguage, s)
	}
	lang := parts[0]
	if len(lang) < 2 || len(lang) > 3 || !allASCIILetters(lang) {
		return "", fmt.Errorf("%w: %q: primary language must be 2 or 3 letters", ErrInvalidLanguage, s)
	}
	out := []string{strings.ToLower(lang)}
	rest := parts[1:]
	if len(rest) > 0 && len(rest[0]) == 4 && allASCIILetters(rest[0]) {
		out = append(out, strings.ToUpper(rest[0][:1])+strings.ToLower(rest[0][1:]))
		rest = rest[1:]
	}
	if len(rest) > 0 {
		r := rest[0]
		switch {
		case len(r) == 2 && allASCIILetters(r):
			out = append(out, strings.ToUpper(r))
		case len(r) == 3 && allASCIIDigits(r):
			out = append(out, r)
		default:
			return "", fmt.Errorf("%w: %q: %q is neither a script nor a region", ErrInvalidLanguage, s, r)
		}
		rest = rest[1:]
	}
	if len(rest) > 0 {
		return "", fmt.Errorf("%w: %q: unexpected subtag %q", ErrInvalidLanguage, s, rest[0])
	}
	return strings.Join(out, "_"), nil
}

func allASCIILetters(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20 // fold ASCII upper case onto lower case
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

func allASCIIDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

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

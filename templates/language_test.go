package templates_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/chatgate/chatgate/templates"
)

func TestNormalizeLanguage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{in: "en", want: "en"},
		{in: "EN", want: "en"},
		{in: "pt_BR", want: "pt_BR"},
		{in: "pt-BR", want: "pt_BR"},
		{in: "pt-br", want: "pt_BR"},
		{in: "PT_br", want: "pt_BR"},
		{in: " en-US ", want: "en_US"},
		{in: "fil", want: "fil"},
		{in: "zh-hant-tw", want: "zh_Hant_TW"},
		{in: "zh_HANT", want: "zh_Hant"},
		{in: "es-419", want: "es_419"},
		{in: "", wantErr: true},
		{in: "e", wantErr: true},
		{in: "engl", wantErr: true},
		{in: "e1", wantErr: true},
		{in: "pt-", wantErr: true},
		{in: "-pt", wantErr: true},
		{in: "pt--BR", wantErr: true},
		{in: "pt-B", wantErr: true},
		{in: "pt-BRA", wantErr: true},
		{in: "pt-41", wantErr: true},
		{in: "de-DE-1996", wantErr: true},
		{in: "zh-Hant-TW-x", wantErr: true},
		{in: "pt BR", wantErr: true},
		{in: "ñe", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := templates.NormalizeLanguage(tt.in)
			if tt.wantErr {
				if !errors.Is(err, templates.ErrInvalidLanguage) {
					t.Fatalf("NormalizeLanguage(%q) = %q, %v; want ErrInvalidLanguage", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("NormalizeLanguage(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
			// Canonical form is a fixed point.
			if again, err := templates.NormalizeLanguage(got); err != nil || again != got {
				t.Fatalf("NormalizeLanguage(%q) = %q, %v; not a fixed point", got, again, err)
			}
		})
	}
}

func TestFallbackChain(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		f    templates.FallbackOrder
		lang string
		want []string
	}{
		{"zero value: exact then parent", templates.FallbackOrder{}, "pt-BR", []string{"pt_BR", "pt"}},
		{"default last", templates.FallbackOrder{Default: "en"}, "pt_BR", []string{"pt_BR", "pt", "en"}},
		{"default normalised", templates.FallbackOrder{Default: "EN-us"}, "pt_BR", []string{"pt_BR", "pt", "en_US"}},
		{"default equal to lang tried once", templates.FallbackOrder{Default: "en"}, "en", []string{"en"}},
		{"default equal to parent tried once", templates.FallbackOrder{Default: "pt"}, "pt_BR", []string{"pt_BR", "pt"}},
		{"script and region parents", templates.FallbackOrder{}, "zh_Hant_TW", []string{"zh_Hant_TW", "zh_Hant", "zh"}},
		{"no parents", templates.FallbackOrder{Default: "en", NoParents: true}, "pt_BR", []string{"pt_BR", "en"}},
		{"alternatives before parents", templates.FallbackOrder{
			Default:      "en",
			Alternatives: map[string][]string{"pt-PT": {"pt-BR"}, "es": {"pt"}},
		}, "pt_pt", []string{"pt_PT", "pt_BR", "pt", "en"}},
		{"alternatives of other languages ignored", templates.FallbackOrder{
			Alternatives: map[string][]string{"es": {"pt"}},
		}, "en_GB", []string{"en_GB", "en"}},
		{"unparsable configured language skipped", templates.FallbackOrder{
			Default:      "???",
			Alternatives: map[string][]string{"en": {"x", "de"}},
		}, "en", []string{"en", "de"}},
		{"empty lang: default only", templates.FallbackOrder{Default: "en"}, "", []string{"en"}},
		{"invalid lang: default only", templates.FallbackOrder{Default: "en"}, "english!", []string{"en"}},
		{"empty lang, no default: nothing", templates.FallbackOrder{}, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.f.Chain(tt.lang); !slices.Equal(got, tt.want) {
				t.Fatalf("Chain(%q) = %q, want %q", tt.lang, got, tt.want)
			}
		})
	}
}

func TestFallbackValidate(t *testing.T) {
	t.Parallel()
	good := templates.FallbackOrder{Default: "en", Alternatives: map[string][]string{"pt_PT": {"pt-BR"}}}
	if err := good.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	for _, bad := range []templates.FallbackOrder{
		{Default: "english"},
		{Alternatives: map[string][]string{"x": {"en"}}},
		{Alternatives: map[string][]string{"en": {"en-"}}},
	} {
		if err := bad.Validate(); !errors.Is(err, templates.ErrInvalidLanguage) {
			t.Errorf("Validate(%+v) = %v, want ErrInvalidLanguage", bad, err)
		}
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	mk := func(name, lang string, version int, status templates.Status) *templates.Template {
		return &templates.Template{Name: name, Language: lang, Version: version, Status: status}
	}
	ptBR := mk("welcome", "pt_BR", 1, templates.StatusApproved)
	pt := mk("welcome", "pt", 1, templates.StatusApproved)
	en := mk("welcome", "en", 1, templates.StatusApproved)
	enV3 := mk("welcome", "en", 3, templates.StatusApproved)
	enOther := mk("goodbye", "en", 1, templates.StatusApproved)
	ptBRDisabled := mk("welcome", "pt-br", 2, templates.StatusDisabled)
	all := []*templates.Template{nil, enOther, en, pt, ptBR}
	fb := templates.FallbackOrder{Default: "en"}

	tests := []struct {
		name       string
		candidates []*templates.Template
		tmpl, lang string
		fallback   templates.FallbackOrder
		want       *templates.Template
		wantTried  []string
	}{
		{"exact", all, "welcome", "pt_BR", fb, ptBR, nil},
		{"exact, other spelling", all, "welcome", "pt-br", fb, ptBR, nil},
		{"parent", []*templates.Template{en, pt}, "welcome", "pt_BR", fb, pt, nil},
		{"default", []*templates.Template{en}, "welcome", "pt_BR", fb, en, nil},
		{"default when language unknown", []*templates.Template{pt, en}, "welcome", "", fb, en, nil},
		{"highest version wins", []*templates.Template{en, enV3, en}, "welcome", "en", fb, enV3, nil},
		{"status ignored: disabled exact beats approved parent", []*templates.Template{pt, ptBRDisabled}, "welcome", "pt_BR", fb, ptBRDisabled, nil},
		{"alternative before parent", []*templates.Template{pt, ptBR}, "welcome", "pt_PT",
			templates.FallbackOrder{Alternatives: map[string][]string{"pt_PT": {"pt_BR"}}}, ptBR, nil},
		{"not found lists languages", []*templates.Template{enOther}, "welcome", "pt-BR", fb, nil, []string{"pt_BR", "pt", "en"}},
		{"not found without default", []*templates.Template{en}, "welcome", "pt_BR", templates.FallbackOrder{}, nil, []string{"pt_BR", "pt"}},
		{"name is exact", all, "Welcome", "en", fb, nil, []string{"en"}},
		{"no candidates", nil, "welcome", "en", fb, nil, []string{"en"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := templates.Resolve(tt.candidates, tt.tmpl, tt.lang, tt.fallback)
			if tt.want != nil {
				if err != nil || got != tt.want {
					t.Fatalf("Resolve() = %+v, %v; want %+v", got, err, tt.want)
				}
				return
			}
			var nf *templates.NotFoundError
			if !errors.Is(err, templates.ErrNotFound) || !errors.As(err, &nf) {
				t.Fatalf("Resolve() = %+v, %v; want *NotFoundError", got, err)
			}
			if got != nil {
				t.Fatalf("Resolve() returned %+v with an error", got)
			}
			if nf.Name != tt.tmpl || !slices.Equal(nf.Tried, tt.wantTried) {
				t.Fatalf("NotFoundError = %+v, want name %q tried %q", nf, tt.tmpl, tt.wantTried)
			}
		})
	}
}

func TestR28_Fits(t *testing.T) {
	t.Parallel()
	mk := func(lang string, scope templates.ChannelScope, status templates.Status) *templates.Template {
		return &templates.Template{Name: "t", Language: lang, Channel: scope, Status: status}
	}
	tests := []struct {
		name          string
		tmpl          *templates.Template
		channel, lang string
		fallback      *templates.FallbackOrder // nil: package-level Fits
		want          bool
	}{
		{"approved, whatsapp, exact language", mk("en", templates.ScopeWhatsApp, templates.StatusApproved), "whatsapp", "en", nil, true},
		{"scope any fits whatsapp", mk("en", templates.ScopeAny, templates.StatusApproved), "whatsapp", "en", nil, true},
		{"scope any fits sms", mk("en", templates.ScopeAny, templates.StatusApproved), "sms", "en", nil, true},
		{"scope any fits api", mk("en", templates.ScopeAny, templates.StatusApproved), "api", "en", nil, true},
		{"channel case-insensitive", mk("en", templates.ScopeWhatsApp, templates.StatusApproved), "WhatsApp", "en", nil, true},
		{"sms template not on whatsapp", mk("en", templates.ScopeSMS, templates.StatusApproved), "whatsapp", "en", nil, false},
		{"whatsapp template not on sms", mk("en", templates.ScopeWhatsApp, templates.StatusApproved), "sms", "en", nil, false},
		{"draft", mk("en", templates.ScopeAny, templates.StatusDraft), "whatsapp", "en", nil, false},
		{"rejected", mk("en", templates.ScopeAny, templates.StatusRejected), "whatsapp", "en", nil, false},
		{"disabled", mk("en", templates.ScopeAny, templates.StatusDisabled), "whatsapp", "en", nil, false},
		{"nil", nil, "whatsapp", "en", nil, false},
		{"parent language fits", mk("pt", templates.ScopeAny, templates.StatusApproved), "whatsapp", "pt-BR", nil, true},
		{"other spelling fits", mk("pt-br", templates.ScopeAny, templates.StatusApproved), "whatsapp", "pt_BR", nil, true},
		{"child language does not fit parent", mk("pt_BR", templates.ScopeAny, templates.StatusApproved), "whatsapp", "pt", nil, false},
		{"other language", mk("en", templates.ScopeAny, templates.StatusApproved), "whatsapp", "pt_BR", nil, false},
		{"default language fits with fallback", mk("en", templates.ScopeAny, templates.StatusApproved), "whatsapp", "pt_BR",
			&templates.FallbackOrder{Default: "en"}, true},
		{"unknown conversation language fits all", mk("de", templates.ScopeAny, templates.StatusApproved), "whatsapp", "", nil, true},
		{"unparsable template language", mk("??", templates.ScopeAny, templates.StatusApproved), "whatsapp", "en", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got bool
			if tt.fallback == nil {
				got = templates.Fits(tt.tmpl, tt.channel, tt.lang)
			} else {
				got = tt.fallback.Fits(tt.tmpl, tt.channel, tt.lang)
			}
			if got != tt.want {
				t.Fatalf("Fits(%+v, %q, %q) = %v, want %v", tt.tmpl, tt.channel, tt.lang, got, tt.want)
			}
		})
	}
}

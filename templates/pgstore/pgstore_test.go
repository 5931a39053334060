package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
	"github.com/chatgate/chatgate/templates"
	"github.com/chatgate/chatgate/templates/pgstore"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var t0 = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)

func tmpl(name, lang string) templates.Template {
	t := templates.Template{
		Name:     name,
		Language: lang,
		Category: templates.CategoryUtility,
		Channel:  templates.ScopeWhatsApp,
		Header:   "Order update",
		Body:     "Hi {{1}}, order {{2}} has shipped.",
		Buttons:  []templates.QuickReply{{Text: "Track"}, {Text: "Help"}},
		Twilio:   templates.TwilioRef{ContentSID: "HX0123456789abcdef0123456789abcdef"},
		WhatsApp: templates.WhatsAppRef{Name: "order_shipped_v2", Namespace: "ns"},
	}
	t.Normalize()
	return t
}

func newStore(t *testing.T) *pgstore.Store {
	t.Helper()
	return pgstore.New(pgtest.Pool(t))
}

func mustCreate(t *testing.T, s *pgstore.Store, tm templates.Template) *templates.Row {
	t.Helper()
	row, err := s.Create(context.Background(), &templates.CreateParams{Template: tm, At: t0})
	if err != nil {
		t.Fatalf("Create(%s, %s) = %v", tm.Name, tm.Language, err)
	}
	return row
}

func mustStatus(t *testing.T, s *pgstore.Store, name, lang string, st templates.Status, at time.Time) *templates.Row {
	t.Helper()
	row, err := s.SetStatus(context.Background(), &templates.SetStatusParams{Name: name, Language: lang, Status: st, At: at})
	if err != nil {
		t.Fatalf("SetStatus(%s, %s, %s) = %v", name, lang, st, err)
	}
	return row
}

func TestCreateAndGet(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	want := tmpl("order_shipped", "pt_BR")
	want.Status = templates.StatusApproved // ignored: a new template is a draft
	want.Version = 9                       // ignored: a new template is version 1
	row := mustCreate(t, s, want)

	want.Status, want.Version = templates.StatusDraft, 1
	if row.Template.Name != want.Name || !templates.SameContent(&row.Template, &want) ||
		row.Status != templates.StatusDraft || row.Version != 1 || row.LiveVersion != 0 {
		t.Fatalf("Create() = %+v, want %+v", row, want)
	}
	if !row.CreatedAt.Equal(t0) || !row.UpdatedAt.Equal(t0) || row.CreatedAt.Location() != time.UTC {
		t.Fatalf("timestamps = %v, %v, want %v UTC", row.CreatedAt, row.UpdatedAt, t0)
	}
	got, err := s.Get(ctx, &templates.GetParams{Name: "order_shipped", Language: "pt_BR"})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(*got) != fmt.Sprint(*row) {
		t.Fatalf("Get() = %+v\nwant %+v", got, row)
	}

	// Without buttons and with the database's clock.
	bare := tmpl("bare", "en")
	bare.Buttons, bare.Header = nil, ""
	r2, err := s.Create(ctx, &templates.CreateParams{Template: bare})
	if err != nil {
		t.Fatal(err)
	}
	if r2.Buttons != nil || r2.CreatedAt.IsZero() {
		t.Fatalf("bare Create() = %+v", r2)
	}
}

func TestCreateDuplicate(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	mustCreate(t, s, tmpl("welcome", "en"))
	other := tmpl("welcome", "en")
	other.Body = "Something else"
	_, err := s.Create(context.Background(), &templates.CreateParams{Template: other})
	if !errors.Is(err, templates.ErrDuplicate) {
		t.Fatalf("second Create() = %v, want ErrDuplicate", err)
	}
	// Same name in another language is another template.
	mustCreate(t, s, tmpl("welcome", "pt_BR"))
}

func TestGetNotFound(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	mustCreate(t, s, tmpl("welcome", "en"))
	for _, p := range []templates.GetParams{
		{Name: "nope", Language: "en"},
		{Name: "welcome", Language: "pt"},
		{Name: "welcome", Language: "en", Version: 2},
	} {
		if _, err := s.Get(context.Background(), &p); !errors.Is(err, templates.ErrNotFound) {
			t.Errorf("Get(%+v) = %v, want ErrNotFound", p, err)
		}
	}
}

func TestR30_UpdateCreatesDraftVersion(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()

	if _, err := s.Update(ctx, &templates.UpdateParams{Template: tmpl("nope", "en")}); !errors.Is(err, templates.ErrNotFound) {
		t.Fatalf("Update(missing) = %v, want ErrNotFound", err)
	}

	mustCreate(t, s, tmpl("welcome", "en"))
	mustStatus(t, s, "welcome", "en", templates.StatusApproved, t0.Add(time.Minute))
	edit := tmpl("welcome", "en")
	edit.Body = "Hello {{1}}, order {{2}} is on its way."
	v2, err := s.Update(ctx, &templates.UpdateParams{Template: edit, At: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if v2.Version != 2 || v2.Status != templates.StatusDraft || v2.Body != edit.Body || v2.LiveVersion != 1 {
		t.Fatalf("Update() = %+v, want version 2 draft with live version 1", v2)
	}
	cur, err := s.Get(ctx, &templates.GetParams{Name: "welcome", Language: "en"})
	if err != nil || cur.Version != 2 {
		t.Fatalf("Get(current) = %+v, %v; want version 2", cur, err)
	}
	v1, err := s.Get(ctx, &templates.GetParams{Name: "welcome", Language: "en", Version: 1})
	if err != nil || v1.Status != templates.StatusApproved || v1.Body == edit.Body {
		t.Fatalf("Get(version 1) = %+v, %v; want the approved original, unchanged", v1, err)
	}
	// The approved version is still what is sent while the edit waits.
	appr, err := s.Approved(ctx, "whatsapp", "en", templates.FallbackOrder{})
	if err != nil || len(appr) != 1 || appr[0].Version != 1 {
		t.Fatalf("Approved() = %+v, %v; want version 1", appr, err)
	}
}

func TestConcurrentUpdatesGetConsecutiveVersions(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	mustCreate(t, s, tmpl("busy", "en"))
	const n = 8
	var wg sync.WaitGroup
	versions := make([]int, n)
	for i := range n {
		wg.Go(func() {
			edit := tmpl("busy", "en")
			edit.Body = fmt.Sprintf("edit %d", i)
			row, err := s.Update(ctx, &templates.UpdateParams{Template: edit})
			if err != nil {
				t.Error(err)
				return
			}
			versions[i] = row.Version
		})
	}
	wg.Wait()
	slices.Sort(versions)
	for i, v := range versions {
		if v != i+2 {
			t.Fatalf("versions = %v, want 2…%d", versions, n+1)
		}
	}
}

func TestR29_StatusLifecycle(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	mustCreate(t, s, tmpl("welcome", "en"))

	// A draft cannot be disabled.
	_, err := s.SetStatus(ctx, &templates.SetStatusParams{Name: "welcome", Language: "en", Status: templates.StatusDisabled})
	var te *templates.TransitionError
	if !errors.As(err, &te) || te.From != templates.StatusDraft || te.To != templates.StatusDisabled {
		t.Fatalf("disable draft = %v, want *TransitionError draft→disabled", err)
	}

	at := t0.Add(time.Minute)
	v1 := mustStatus(t, s, "welcome", "en", templates.StatusApproved, at)
	if v1.Status != templates.StatusApproved || v1.LiveVersion != 1 || !v1.UpdatedAt.Equal(at) || !v1.CreatedAt.Equal(t0) {
		t.Fatalf("approve = %+v", v1)
	}
	if _, err := s.SetStatus(ctx, &templates.SetStatusParams{Name: "welcome", Language: "en", Status: templates.StatusApproved}); !errors.Is(err, templates.ErrIllegalTransition) {
		t.Fatalf("approve twice = %v, want ErrIllegalTransition", err)
	}

	// Approving an edit disables the version it replaces.
	edit := tmpl("welcome", "en")
	edit.Body = "v2"
	if _, err := s.Update(ctx, &templates.UpdateParams{Template: edit}); err != nil {
		t.Fatal(err)
	}
	v2 := mustStatus(t, s, "welcome", "en", templates.StatusApproved, at)
	if v2.Version != 2 || v2.LiveVersion != 2 {
		t.Fatalf("approve v2 = %+v", v2)
	}
	old, _ := s.Get(ctx, &templates.GetParams{Name: "welcome", Language: "en", Version: 1})
	if old.Status != templates.StatusDisabled || old.LiveVersion != 2 {
		t.Fatalf("v1 after approving v2 = %+v, want disabled", old)
	}

	// Rejecting an edit leaves the approved version live.
	edit.Body = "v3"
	if _, err := s.Update(ctx, &templates.UpdateParams{Template: edit}); err != nil {
		t.Fatal(err)
	}
	v3 := mustStatus(t, s, "welcome", "en", templates.StatusRejected, at)
	if v3.Version != 3 || v3.Status != templates.StatusRejected || v3.LiveVersion != 2 {
		t.Fatalf("reject v3 = %+v", v3)
	}

	// Disabling acts on the live version even though v3 is current.
	dis := mustStatus(t, s, "welcome", "en", templates.StatusDisabled, at)
	if dis.Version != 2 || dis.Status != templates.StatusDisabled || dis.LiveVersion != 0 {
		t.Fatalf("disable = %+v, want version 2 disabled", dis)
	}
	if _, err := s.SetStatus(ctx, &templates.SetStatusParams{Name: "welcome", Language: "en", Status: templates.StatusDisabled}); !errors.As(err, &te) || te.From != templates.StatusRejected {
		t.Fatalf("disable again = %v, want *TransitionError from rejected", err)
	}
	if _, err := s.SetStatus(ctx, &templates.SetStatusParams{Name: "nope", Language: "en", Status: templates.StatusApproved}); !errors.Is(err, templates.ErrNotFound) {
		t.Fatalf("approve missing = %v, want ErrNotFound", err)
	}
}

func TestR30_DeleteDraft(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	del := func(name string) error {
		_, err := s.DeleteDraft(ctx, &templates.DeleteDraftParams{Name: name, Language: "en"})
		return err
	}
	if err := del("nope"); !errors.Is(err, templates.ErrNotFound) {
		t.Fatalf("DeleteDraft(missing) = %v, want ErrNotFound", err)
	}

	mustCreate(t, s, tmpl("welcome", "en"))
	mustStatus(t, s, "welcome", "en", templates.StatusApproved, t0)
	if err := del("welcome"); !errors.Is(err, templates.ErrNotDraft) {
		t.Fatalf("DeleteDraft(approved) = %v, want ErrNotDraft", err)
	}

	// Deleting a pending edit makes the approved version current again.
	edit := tmpl("welcome", "en")
	edit.Body = "v2"
	if _, err := s.Update(ctx, &templates.UpdateParams{Template: edit}); err != nil {
		t.Fatal(err)
	}
	if err := del("welcome"); err != nil {
		t.Fatal(err)
	}
	cur, err := s.Get(ctx, &templates.GetParams{Name: "welcome", Language: "en"})
	if err != nil || cur.Version != 1 || cur.Status != templates.StatusApproved {
		t.Fatalf("current after deleting the edit = %+v, %v; want version 1 approved", cur, err)
	}

	// Deleting the only version removes the template; the name is free again.
	mustCreate(t, s, tmpl("scratch", "en"))
	if err := del("scratch"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, &templates.GetParams{Name: "scratch", Language: "en"}); !errors.Is(err, templates.ErrNotFound) {
		t.Fatalf("Get(deleted) = %v, want ErrNotFound", err)
	}
	mustCreate(t, s, tmpl("scratch", "en"))
}

func TestR30_ListFiltersAndPages(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	add := func(name, lang string, ch templates.ChannelScope, cat templates.Category, st templates.Status) {
		tm := tmpl(name, lang)
		tm.Channel, tm.Category = ch, cat
		if ch == templates.ScopeSMS {
			tm.Buttons = nil
		}
		mustCreate(t, s, tm)
		if st != templates.StatusDraft {
			mustStatus(t, s, name, tm.Language, st, t0)
		}
	}
	add("a_promo", "en", templates.ScopeWhatsApp, templates.CategoryMarketing, templates.StatusApproved)
	add("a_promo", "pt_BR", templates.ScopeWhatsApp, templates.CategoryMarketing, templates.StatusDraft)
	add("a_x", "en", templates.ScopeSMS, templates.CategoryUtility, templates.StatusRejected)
	add("ab", "en", templates.ScopeAny, templates.CategoryAuthentication, templates.StatusApproved)
	add("b_code", "es", templates.ScopeSMS, templates.CategoryAuthentication, templates.StatusDraft)

	names := func(p templates.ListParams) []string {
		t.Helper()
		res, err := s.List(ctx, &p)
		if err != nil {
			t.Fatalf("List(%+v) = %v", p, err)
		}
		var out []string
		for _, r := range res.Rows {
			out = append(out, r.Name+"/"+r.Language)
		}
		return out
	}
	tests := []struct {
		p    templates.ListParams
		want []string
	}{
		{templates.ListParams{}, []string{"a_promo/en", "a_promo/pt_BR", "a_x/en", "ab/en", "b_code/es"}},
		{templates.ListParams{Status: templates.StatusApproved}, []string{"a_promo/en", "ab/en"}},
		{templates.ListParams{Language: "en"}, []string{"a_promo/en", "a_x/en", "ab/en"}},
		{templates.ListParams{Channel: templates.ScopeSMS}, []string{"a_x/en", "ab/en", "b_code/es"}},
		{templates.ListParams{Channel: templates.ScopeAny}, []string{"ab/en"}},
		{templates.ListParams{Category: templates.CategoryAuthentication}, []string{"ab/en", "b_code/es"}},
		// "_" is not a wildcard: "a_" does not match "ab".
		{templates.ListParams{NamePrefix: "a_"}, []string{"a_promo/en", "a_promo/pt_BR", "a_x/en"}},
		{templates.ListParams{Name: "a_promo"}, []string{"a_promo/en", "a_promo/pt_BR"}},
		{templates.ListParams{Name: "a_promo", Status: templates.StatusDraft}, []string{"a_promo/pt_BR"}},
		{templates.ListParams{Language: "fr"}, nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%+v", tt.p), func(t *testing.T) {
			if got := names(tt.p); !slices.Equal(got, tt.want) {
				t.Errorf("List(%+v) = %v, want %v", tt.p, got, tt.want)
			}
		})
	}

	// Pages of two, following the cursor, give every row once, in order.
	var all []string
	p := templates.ListParams{Limit: 2}
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("cursor does not end")
		}
		res, err := s.List(ctx, &p)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Rows) > 2 {
			t.Fatalf("page of %d rows, limit 2", len(res.Rows))
		}
		for _, r := range res.Rows {
			all = append(all, r.Name+"/"+r.Language)
		}
		if res.NextCursor == "" {
			break
		}
		p.Cursor = res.NextCursor
	}
	if want := names(templates.ListParams{}); !slices.Equal(all, want) {
		t.Fatalf("paged = %v, want %v", all, want)
	}

	if _, err := s.List(ctx, &templates.ListParams{Cursor: "!!"}); !errors.Is(err, templates.ErrInvalidCursor) {
		t.Fatalf("List(bad cursor) = %v, want ErrInvalidCursor", err)
	}
}

func TestListLimitIsBounded(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	for i := range templates.MaxPageSize + 1 {
		tm := tmpl(fmt.Sprintf("t%03d", i), "en")
		if _, err := s.Create(ctx, &templates.CreateParams{Template: tm}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := s.List(ctx, &templates.ListParams{Limit: 10_000})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != templates.MaxPageSize || res.NextCursor == "" {
		t.Fatalf("List(limit 10000) = %d rows, cursor %q; want %d and a cursor", len(res.Rows), res.NextCursor, templates.MaxPageSize)
	}
	res, err = s.List(ctx, &templates.ListParams{})
	if err != nil || len(res.Rows) != templates.DefaultPageSize {
		t.Fatalf("List(no limit) = %d rows, %v; want %d", len(res.Rows), err, templates.DefaultPageSize)
	}
}

func TestR28_ApprovedFitsConversation(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	add := func(name, lang string, ch templates.ChannelScope, approve bool) {
		tm := tmpl(name, lang)
		tm.Channel = ch
		if ch == templates.ScopeSMS {
			tm.Buttons = nil
		}
		mustCreate(t, s, tm)
		if approve {
			mustStatus(t, s, name, tm.Language, templates.StatusApproved, t0)
		}
	}
	add("greet", "pt_BR", templates.ScopeWhatsApp, true)
	add("greet", "pt", templates.ScopeWhatsApp, true)
	add("greet", "en", templates.ScopeWhatsApp, true)
	add("only_pt", "pt", templates.ScopeAny, true)
	add("only_en", "en", templates.ScopeWhatsApp, true)
	add("sms_only", "pt_BR", templates.ScopeSMS, true)
	add("draft", "pt_BR", templates.ScopeWhatsApp, false)

	key := func(ts []*templates.Template) []string {
		var out []string
		for _, t := range ts {
			out = append(out, t.Name+"/"+t.Language)
		}
		return out
	}
	withEn := templates.FallbackOrder{Default: "en"}
	tests := []struct {
		channel, lang string
		fallback      templates.FallbackOrder
		want          []string
	}{
		// One copy per name: the best language of the chain.
		{"whatsapp", "pt_BR", templates.FallbackOrder{}, []string{"greet/pt_BR", "only_pt/pt"}},
		{"whatsapp", "pt-br", withEn, []string{"greet/pt_BR", "only_en/en", "only_pt/pt"}},
		{"WhatsApp", "pt", templates.FallbackOrder{}, []string{"greet/pt", "only_pt/pt"}},
		{"sms", "pt_BR", templates.FallbackOrder{}, []string{"only_pt/pt", "sms_only/pt_BR"}},
		{"whatsapp", "fr", templates.FallbackOrder{}, nil},
		// Language unknown: every approved copy that fits the channel.
		{"whatsapp", "", templates.FallbackOrder{}, []string{"greet/en", "greet/pt", "greet/pt_BR", "only_en/en", "only_pt/pt"}},
		{"api", "", templates.FallbackOrder{}, []string{"only_pt/pt"}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %s %+v", tt.channel, tt.lang, tt.fallback), func(t *testing.T) {
			got, err := s.Approved(ctx, tt.channel, tt.lang, tt.fallback)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(key(got), tt.want) {
				t.Errorf("Approved(%s, %q, %+v) = %v, want %v", tt.channel, tt.lang, tt.fallback, key(got), tt.want)
			}
			for _, tm := range got {
				if err := templates.Sendable(tm); err != nil {
					t.Errorf("Approved returned an unsendable template: %v", err)
				}
			}
		})
	}
}

func TestResolveLanguage(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	mustCreate(t, s, tmpl("one", "en"))
	mustCreate(t, s, tmpl("two", "en"))
	mustCreate(t, s, tmpl("two", "pt_BR"))

	if l, err := templates.ResolveLanguage(ctx, s, "one", ""); err != nil || l != "en" {
		t.Fatalf("ResolveLanguage(one) = %q, %v", l, err)
	}
	if l, err := templates.ResolveLanguage(ctx, s, "two", "PT-br"); err != nil || l != "pt_BR" {
		t.Fatalf("ResolveLanguage(two, PT-br) = %q, %v", l, err)
	}
	_, err := templates.ResolveLanguage(ctx, s, "two", "")
	var lr *templates.LanguageRequiredError
	if !errors.As(err, &lr) || !errors.Is(err, templates.ErrLanguageRequired) || !slices.Equal(lr.Languages, []string{"en", "pt_BR"}) {
		t.Fatalf("ResolveLanguage(two) = %v, want LanguageRequiredError [en pt_BR]", err)
	}
	if _, err := templates.ResolveLanguage(ctx, s, "none", ""); !errors.Is(err, templates.ErrNotFound) {
		t.Fatalf("ResolveLanguage(none) = %v, want ErrNotFound", err)
	}
	if _, err := templates.ResolveLanguage(ctx, s, "one", "english"); !errors.Is(err, templates.ErrInvalidLanguage) {
		t.Fatalf("ResolveLanguage(one, english) = %v, want ErrInvalidLanguage", err)
	}
}

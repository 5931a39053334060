package cloudapi_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/chatgate/chatgate/channels/cloudapi"
	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
	"github.com/chatgate/chatgate/gateway/testkit"
	"github.com/chatgate/chatgate/templates"
	"github.com/chatgate/chatgate/templates/pgstore"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// fakeStore is an in-memory cloudapi.TemplateStore with the lifecycle of
// templates.Store: versions, drafts, one approved (live) version.
type fakeStore struct {
	mu     sync.Mutex
	rows   map[[2]string][]*templates.Row
	writes []string
}

var _ cloudapi.TemplateStore = (*fakeStore)(nil)

func newFakeStore() *fakeStore { return &fakeStore{rows: map[[2]string][]*templates.Row{}} }

func (s *fakeStore) Get(_ context.Context, p *templates.GetParams) (*templates.Row, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	vs := s.rows[[2]string{p.Name, p.Language}]
	if len(vs) == 0 {
		return nil, templates.ErrNotFound
	}
	r := *vs[len(vs)-1]
	return &r, nil
}

func (s *fakeStore) Create(_ context.Context, p *templates.CreateParams) (*templates.Row, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := [2]string{p.Template.Name, p.Template.Language}
	if len(s.rows[k]) > 0 {
		return nil, templates.ErrDuplicate
	}
	if err := p.Template.Validate(); err != nil {
		return nil, err
	}
	r := &templates.Row{Template: p.Template}
	r.Status, r.Version = templates.StatusDraft, 1
	s.rows[k] = []*templates.Row{r}
	s.writes = append(s.writes, "create "+k[0]+" "+k[1])
	c := *r
	return &c, nil
}

func (s *fakeStore) Update(_ context.Context, p *templates.UpdateParams) (*templates.Row, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := [2]string{p.Template.Name, p.Template.Language}
	vs := s.rows[k]
	if len(vs) == 0 {
		return nil, templates.ErrNotFound
	}
	r := &templates.Row{Template: p.Template}
	r.Status, r.Version = templates.StatusDraft, vs[len(vs)-1].Version+1
	s.rows[k] = append(vs, r)
	s.writes = append(s.writes, "update "+k[0]+" "+k[1])
	c := *r
	return &c, nil
}

func (s *fakeStore) SetStatus(_ context.Context, p *templates.SetStatusParams) (*templates.Row, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := [2]string{p.Name, p.Language}
	vs := s.rows[k]
	if len(vs) == 0 {
		return nil, templates.ErrNotFound
	}
	target := vs[len(vs)-1]
	if p.Status == templates.StatusDisabled {
		for _, v := range vs {
			if v.Status == templates.StatusApproved {
				target = v
			}
		}
	}
	if err := templates.Transition(target.Status, p.Status); err != nil {
		return nil, err
	}
	if p.Status == templates.StatusApproved {
		for _, v := range vs {
			if v.Status == templates.StatusApproved {
				v.Status = templates.StatusDisabled
			}
		}
	}
	target.Status = p.Status
	s.writes = append(s.writes, fmt.Sprintf("status %s %s v%d %s", k[0], k[1], target.Version, p.Status))
	c := *target
	return &c, nil
}

func (s *fakeStore) written() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.writes...)
}

// source is a fixed TemplateSource.
type source []cloudapi.MetaTemplate

func (s source) Templates(context.Context) ([]cloudapi.MetaTemplate, error) { return s, nil }

func meta(name, lang, status, body string) cloudapi.MetaTemplate {
	return cloudapi.MetaTemplate{ID: "9" + name, Name: name, Language: lang, Category: "UTILITY", Status: status, WABAID: "8856996819413533",
		Components: []cloudapi.MetaComponent{{Type: "BODY", Text: body}}}
}

// The listing reads every page through the after cursor, against the
// configured base URL, with the token; the "next" URL (which could point
// anywhere) is not followed.
func TestListTemplatesPages(t *testing.T) {
	t.Parallel()
	g := newGraph(t)
	g.Answer = func(w http.ResponseWriter, r *http.Request, _ []byte) {
		if r.URL.Path != "/"+cloudapi.DefaultGraphVersion+"/8856996819413533/message_templates" || r.URL.Query().Get("fields") == "" {
			w.WriteHeader(404)
			return
		}
		switch r.URL.Query().Get("after") {
		case "":
			_, _ = io.WriteString(w, `{"data":[{"name":"order_shipped","language":"en_US","status":"APPROVED","category":"UTILITY","id":"1",`+
				`"components":[{"type":"BODY","text":"Hi {{1}}, order {{2}} shipped."}]}],`+
				`"paging":{"cursors":{"before":"B","after":"QVFIU"},"next":"https://evil.example/next?access_token=stolen"}}`)
		case "QVFIU":
			_, _ = io.WriteString(w, `{"data":[{"name":"promo","language":"pt_BR","status":"REJECTED","rejected_reason":"PROMOTIONAL","category":"MARKETING","id":"2",`+
				`"components":[{"type":"BODY","text":"Oferta"}]}],"paging":{"cursors":{"before":"C","after":"END"}}}`)
		default:
			w.WriteHeader(400)
		}
	}
	tc := &cloudapi.TemplateClient{Client: newClient(t, g, nil), WABAIDs: []string{"8856996819413533"}}
	got, err := tc.Templates(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "order_shipped" || got[1].RejectedReason != "PROMOTIONAL" || got[1].WABAID != "8856996819413533" {
		t.Fatalf("templates %+v", got)
	}
	reqs := g.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	for _, r := range reqs {
		if r.Auth != "Bearer "+testAccessToken {
			t.Errorf("request %s without the token", r.Query)
		}
	}
}

// The pure conversion of Meta's templates to chatgate's model.
func TestConvertTemplate(t *testing.T) {
	t.Parallel()
	full := cloudapi.MetaTemplate{Name: "order_shipped", Language: "pt_BR", Category: "UTILITY", Status: "APPROVED", ParameterFormat: "NAMED",
		Components: []cloudapi.MetaComponent{
			{Type: "HEADER", Format: "TEXT", Text: "Your order"},
			{Type: "BODY", Text: "Olá {{first_name}}, o pedido {{order}} foi enviado."},
			{Type: "FOOTER", Text: "Acme"},
			{Type: "BUTTONS", Buttons: []cloudapi.MetaButton{{Type: "QUICK_REPLY", Text: "Obrigado"}, {Type: "URL", Text: "Track", URL: "https://t.example/{{1}}"}}},
		}}
	cases := []struct {
		name    string
		mt      cloudapi.MetaTemplate
		current *templates.Template
		want    templates.Template
		notes   int
		problem string
	}{
		{"full", full, nil, templates.Template{Name: "order_shipped", Language: "pt_BR", Category: templates.CategoryUtility, Channel: templates.ScopeWhatsApp,
			Header: "Your order", Body: "Olá {{first_name}}, o pedido {{order}} foi enviado.", Footer: "Acme",
			Buttons: []templates.QuickReply{{Text: "Obrigado"}}, Status: templates.StatusApproved}, 1, ""},
		{"keeps chatgate's scope and Twilio reference", meta("hello", "en", "PENDING", "Hello"),
			&templates.Template{Name: "hello", Language: "en", Channel: templates.ScopeAny, Twilio: templates.TwilioRef{ContentSID: "HX00000000000000000000000000000001"}},
			templates.Template{Name: "hello", Language: "en", Category: templates.CategoryUtility, Channel: templates.ScopeAny, Body: "Hello",
				Status: templates.StatusDraft, Twilio: templates.TwilioRef{ContentSID: "HX00000000000000000000000000000001"}}, 0, ""},
		{"image header", cloudapi.MetaTemplate{Name: "promo", Language: "en_US", Category: "MARKETING", Status: "PAUSED",
			Components: []cloudapi.MetaComponent{{Type: "HEADER", Format: "IMAGE"}, {Type: "BODY", Text: "Sale"}}},
			nil, templates.Template{Name: "promo", Language: "en_US", Category: templates.CategoryMarketing, Channel: templates.ScopeWhatsApp, Body: "Sale",
				Status: templates.StatusDisabled}, 1, ""},
		{"header variable", cloudapi.MetaTemplate{Name: "h", Language: "en", Category: "UTILITY", Status: "APPROVED",
			Components: []cloudapi.MetaComponent{{Type: "HEADER", Format: "TEXT", Text: "Hi {{1}}"}, {Type: "BODY", Text: "x"}}},
			nil, templates.Template{}, 0, "variable"},
		{"unknown status", meta("x", "en", "IN_ORBIT", "x"), nil, templates.Template{}, 0, "IN_ORBIT"},
		{"invalid body", meta("x", "en", "APPROVED", "Hi {{1}} {{3}}"), nil, templates.Template{}, 0, "body"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := cloudapi.ConvertTemplate(tc.mt, tc.current)
			if tc.problem != "" {
				if !strings.Contains(c.Problem, tc.problem) {
					t.Fatalf("problem %q, want it to mention %q", c.Problem, tc.problem)
				}
				return
			}
			if c.Problem != "" || len(c.Notes) != tc.notes || !reflect.DeepEqual(c.Template, tc.want) {
				t.Fatalf("converted %+v (notes %q, problem %q)\nwant %+v", c.Template, c.Notes, c.Problem, tc.want)
			}
		})
	}
	for meta, want := range map[string]templates.Status{"APPROVED": templates.StatusApproved, "REINSTATED": templates.StatusApproved,
		"PENDING": templates.StatusDraft, "IN_APPEAL": templates.StatusDraft, "REJECTED": templates.StatusRejected,
		"PAUSED": templates.StatusDisabled, "DISABLED": templates.StatusDisabled, "PENDING_DELETION": templates.StatusDisabled} {
		if got, ok := cloudapi.MapMetaStatus(meta); !ok || got != want {
			t.Errorf("MapMetaStatus(%s) = %s, %v; want %s", meta, got, ok, want)
		}
	}
	if _, ok := cloudapi.MapMetaStatus("FLAGGED"); ok {
		t.Error("FLAGGED changes nothing about sending, so it maps to no status")
	}
}

// R50: the sync creates, updates and moves templates to Meta's status,
// idempotently, and a dry run writes nothing.
func TestR50_TemplateSync(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store := newFakeStore()
	seed := func(tpl templates.Template, path ...templates.Status) {
		tpl.Normalize()
		if _, err := store.Create(ctx, &templates.CreateParams{Template: tpl}); err != nil {
			t.Fatal(err)
		}
		for _, s := range path {
			if _, err := store.SetStatus(ctx, &templates.SetStatusParams{Name: tpl.Name, Language: tpl.Language, Status: s}); err != nil {
				t.Fatal(err)
			}
		}
	}
	wa := func(name, lang, body string) templates.Template {
		return templates.Template{Name: name, Language: lang, Category: templates.CategoryUtility, Channel: templates.ScopeWhatsApp, Body: body}
	}
	seed(wa("awaiting", "en", "Waiting"))                              // draft, Meta approved it
	seed(wa("edited", "en", "Old text"), templates.StatusApproved)     // Meta has new text
	seed(wa("back", "en", "Back again"), templates.StatusRejected)     // rejected, Meta approves on appeal
	seed(wa("same", "en", "Same"), templates.StatusApproved)           // nothing to do
	seed(wa("paused", "en", "Paused"), templates.StatusApproved)       // Meta paused it
	seed(wa("review", "en", "Under review"), templates.StatusApproved) // Meta reviews an edit of the same text
	src := source{
		meta("new_one", "en_US", "APPROVED", "Hi {{1}}"),
		meta("new_pending", "en", "PENDING", "Soon"),
		meta("new_rejected", "en", "REJECTED", "Buy now"),
		meta("new_paused", "en", "PAUSED", "Gone"),
		meta("awaiting", "en", "APPROVED", "Waiting"),
		meta("edited", "en", "APPROVED", "New text"),
		meta("back", "en", "APPROVED", "Back again"),
		meta("same", "en", "APPROVED", "Same"),
		meta("paused", "en", "PAUSED", "Paused"),
		meta("review", "en", "PENDING", "Under review"),
		meta("bad", "en", "APPROVED", "{{2}}"),
		meta("new_one", "en_US", "APPROVED", "Hi {{1}}"), // listed twice (two WABAs)
	}
	src[11].WABAID = "2"
	src[2].RejectedReason = "PROMOTIONAL"
	want := []struct {
		action  cloudapi.SyncAction
		status  templates.Status
		version int
	}{
		{cloudapi.SyncCreated, templates.StatusApproved, 1},
		{cloudapi.SyncCreated, templates.StatusDraft, 1},
		{cloudapi.SyncCreated, templates.StatusRejected, 1},
		{cloudapi.SyncSkipped, "", 0},
		{cloudapi.SyncStatusChanged, templates.StatusApproved, 1},
		{cloudapi.SyncUpdated, templates.StatusApproved, 2},
		{cloudapi.SyncUpdated, templates.StatusApproved, 2},
		{cloudapi.SyncUnchanged, templates.StatusApproved, 1},
		{cloudapi.SyncStatusChanged, templates.StatusDisabled, 1},
		{cloudapi.SyncUnchanged, templates.StatusApproved, 1},
		{cloudapi.SyncSkipped, "", 0},
		{cloudapi.SyncSkipped, "", 0},
	}
	check := func(t *testing.T, plan *cloudapi.Plan) {
		t.Helper()
		if len(plan.Items) != len(want) {
			t.Fatalf("%d items, want %d", len(plan.Items), len(want))
		}
		for i, it := range plan.Items {
			w := want[i]
			if it.Action != w.action || (w.action != cloudapi.SyncSkipped && (it.Status != w.status || it.Version != w.version)) {
				t.Errorf("item %d %s: %s → %s v%d, want %s → %s v%d (%q %q)", i, it.Name, it.Action, it.Status, it.Version, w.action, w.status, w.version, it.Problem, it.Notes)
			}
		}
		if plan.Items[2].Reason != "PROMOTIONAL" || plan.Items[5].FromStatus != templates.StatusApproved {
			t.Errorf("rejection reason %q, from status %q", plan.Items[2].Reason, plan.Items[5].FromStatus)
		}
	}

	before := len(store.written())
	dry, err := cloudapi.Sync(ctx, src, store, true)
	if err != nil {
		t.Fatal(err)
	}
	if !dry.DryRun || len(store.written()) != before {
		t.Fatalf("the dry run wrote %q", store.written()[before:])
	}
	check(t, dry)

	plan, err := cloudapi.Sync(ctx, src, store, false)
	if err != nil {
		t.Fatal(err)
	}
	check(t, plan)
	if r, _ := store.Get(ctx, &templates.GetParams{Name: "edited", Language: "en"}); r.Body != "New text" || r.Status != templates.StatusApproved {
		t.Errorf("edited is %+v", r)
	}

	again, err := cloudapi.Sync(ctx, src, store, false)
	if err != nil {
		t.Fatal(err)
	}
	if again.Changed() {
		t.Fatalf("a second sync changed %+v", again.Items)
	}
}

// The sync against templates/pgstore on a real PostgreSQL: the interface
// cloudapi needs is the store's, and its lifecycle agrees.
func TestTemplateSyncOnPostgres(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store := pgstore.New(pgtest.Pool(t))
	src := source{meta("order_shipped", "en_US", "APPROVED", "Hi {{1}}, order {{2}} shipped."), meta("promo", "en", "REJECTED", "Sale")}
	if _, err := cloudapi.Sync(ctx, src, store, false); err != nil {
		t.Fatal(err)
	}
	src[1] = meta("promo", "en", "APPROVED", "Sale")
	plan, err := cloudapi.Sync(ctx, src, store, false)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Items[0].Action != cloudapi.SyncUnchanged || plan.Items[1].Action != cloudapi.SyncUpdated || plan.Items[1].Status != templates.StatusApproved {
		t.Fatalf("second sync %+v", plan.Items)
	}
	approved, err := store.Approved(ctx, "whatsapp", "en", templates.FallbackOrder{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range approved {
		names = append(names, a.Name)
	}
	if !reflect.DeepEqual(names, []string{"promo"}) {
		t.Fatalf("approved in en: %q", names)
	}
	// A template status webhook, applied to the same store.
	item, err := cloudapi.ApplyTemplateStatus(ctx, store, cloudapi.TemplateStatusUpdate{Name: "order_shipped", Language: "en_US", Event: "PAUSED", Status: templates.StatusDisabled})
	if err != nil || item.Action != cloudapi.SyncStatusChanged || item.Status != templates.StatusDisabled {
		t.Fatalf("apply PAUSED: %+v, %v", item, err)
	}
	item, err = cloudapi.ApplyTemplateStatus(ctx, store, cloudapi.TemplateStatusUpdate{Name: "order_shipped", Language: "en_US", Event: "REINSTATED", Status: templates.StatusApproved})
	if err != nil || item.Action != cloudapi.SyncUpdated || item.Status != templates.StatusApproved || item.Version != 2 {
		t.Fatalf("apply REINSTATED: %+v, %v", item, err)
	}
}

// R50: the message_template_status_update webhook moves the template along
// chatgate's lifecycle; an unknown template and FLAGGED change nothing.
func TestR50_TemplateStatusWebhook(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store := newFakeStore()
	tpl := templates.Template{Name: "order_shipped", Language: "en_US", Category: templates.CategoryUtility, Channel: templates.ScopeWhatsApp, Body: "Shipped"}
	tpl.Normalize()
	if _, err := store.Create(ctx, &templates.CreateParams{Template: tpl}); err != nil {
		t.Fatal(err)
	}
	var unknown []string
	w := newWebhooks(t, &testkit.Publisher{}, func(o *cloudapi.WebhookOptions) {
		o.TemplateStatus = func(ctx context.Context, us []cloudapi.TemplateStatusUpdate) error {
			for _, u := range us {
				if _, err := cloudapi.ApplyTemplateStatus(ctx, store, u); cloudapi.IsUnknownTemplate(err) {
					unknown = append(unknown, u.Name)
				} else if err != nil {
					return err
				}
			}
			return nil
		}
	})
	for _, step := range []struct {
		event string
		want  templates.Status
	}{
		{"APPROVED", templates.StatusApproved},
		{"FLAGGED", templates.StatusApproved},
		{"PAUSED", templates.StatusDisabled},
		{"REINSTATED", templates.StatusApproved},
	} {
		if rec := serve(w.EventsHandler(), post(templateUpdate(step.event, "NONE"))); rec.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", step.event, rec.Code, rec.Body.String())
		}
		r, err := store.Get(ctx, &templates.GetParams{Name: "order_shipped", Language: "en_US"})
		if err != nil || r.Status != step.want {
			t.Fatalf("after %s: %+v, %v; want %s", step.event, r, err, step.want)
		}
	}
	if rec := serve(w.EventsHandler(), post(strings.Replace(templateUpdate("APPROVED", "NONE"), "order_shipped", "not_here", 1))); rec.Code != http.StatusOK {
		t.Fatalf("unknown template: %d", rec.Code)
	}
	if !reflect.DeepEqual(unknown, []string{"not_here"}) {
		t.Fatalf("unknown templates %q", unknown)
	}
}

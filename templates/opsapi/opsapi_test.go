package opsapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
	"github.com/chatgate/chatgate/templates"
	"github.com/chatgate/chatgate/templates/opsapi"
	"github.com/chatgate/chatgate/templates/pgstore"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var t0 = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)

// api serves the template routes on a fresh database.
type api struct {
	t *testing.T
	h http.Handler
}

func newAPI(t *testing.T) *api {
	t.Helper()
	return newAPIOn(t, pgstore.New(pgtest.Pool(t)))
}

func newAPIOn(t *testing.T, s templates.Store) *api {
	t.Helper()
	mux := http.NewServeMux()
	h := &opsapi.Handlers{Store: s, Now: func() time.Time { return t0 }}
	h.Mount(mux.Handle, nil)
	return &api{t: t, h: mux}
}

// response is a recorded answer with its JSON body decoded loosely.
type response struct {
	status int
	header http.Header
	raw    string
	body   map[string]any
}

func (a *api) do(method, path string, body any) response {
	a.t.Helper()
	var rd *bytes.Reader
	switch b := body.(type) {
	case nil:
		rd = bytes.NewReader(nil)
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		js, err := json.Marshal(b)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(js)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	res := response{status: rec.Code, header: rec.Header(), raw: rec.Body.String()}
	if rec.Body.Len() > 0 {
		if err := json.Unmarshal(rec.Body.Bytes(), &res.body); err != nil {
			a.t.Fatalf("%s %s: body is not a JSON object: %v\n%s", method, path, err, rec.Body)
		}
	}
	return res
}

// want checks the status and, for errors, the error code.
func (r response) want(t *testing.T, status int, code string) response {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.raw)
	}
	if code != "" {
		if got := r.errorCode(); got != code {
			t.Fatalf("error code %q, want %q; body %s", got, code, r.raw)
		}
	}
	return r
}

func (r response) errorCode() string {
	e, _ := r.body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// details returns "field:code" of every error detail.
func (r response) details() []string {
	e, _ := r.body["error"].(map[string]any)
	ds, _ := e["details"].([]any)
	var out []string
	for _, d := range ds {
		m := d.(map[string]any)
		out = append(out, fmt.Sprintf("%v:%v", m["field"], m["code"]))
	}
	return out
}

func (r response) num(key string) int {
	f, _ := r.body[key].(float64)
	return int(f)
}

func (r response) str(key string) string {
	s, _ := r.body[key].(string)
	return s
}

func shipped(lang string) map[string]any {
	return map[string]any{
		"name":     "order_shipped",
		"language": lang,
		"category": "utility",
		"channel":  "whatsapp",
		"header":   "Order update",
		"body":     "Hi {{1}}, order {{2}} has shipped.",
		"buttons":  []map[string]string{{"text": "Track"}},
		"twilio":   map[string]string{"content_sid": "HX0123456789abcdef0123456789abcdef"},
	}
}

func TestRoutesAreStable(t *testing.T) {
	t.Parallel()
	var got []string
	(&opsapi.Handlers{}).Mount(func(p string, _ http.Handler) { got = append(got, p) }, func(h http.Handler) http.Handler { return h })
	want := []string{
		"GET /v1/templates", "POST /v1/templates", "GET /v1/templates/{name}", "PUT /v1/templates/{name}",
		"DELETE /v1/templates/{name}", "POST /v1/templates/{name}/approve", "POST /v1/templates/{name}/reject",
		"POST /v1/templates/{name}/disable", "POST /v1/templates/{name}/preview",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("routes = %v\nwant %v", got, want)
	}
}

func TestR30_CreateAndGet(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	body := shipped("pt-br")
	body["status"] = "approved" // read-only: ignored
	r := a.do("POST", "/v1/templates", body).want(t, http.StatusCreated, "")
	if r.str("language") != "pt_BR" || r.str("status") != "draft" || r.num("version") != 1 || r.num("live_version") != 0 {
		t.Fatalf("created = %s", r.raw)
	}
	if r.str("created_at") != "2026-11-22T09:00:00Z" {
		t.Fatalf("created_at = %q, want the injected clock", r.str("created_at"))
	}
	if loc := r.header.Get("Location"); loc != "/v1/templates/order_shipped?language=pt_BR" {
		t.Fatalf("Location = %q", loc)
	}

	// One language: ?language= may be left out.
	g := a.do("GET", "/v1/templates/order_shipped", nil).want(t, http.StatusOK, "")
	if g.raw != r.raw {
		t.Fatalf("GET = %s\nwant %s", g.raw, r.raw)
	}
	a.do("GET", "/v1/templates/order_shipped?language=PT_br&version=1", nil).want(t, http.StatusOK, "")

	a.do("POST", "/v1/templates", shipped("en")).want(t, http.StatusCreated, "")
	r = a.do("GET", "/v1/templates/order_shipped", nil).want(t, http.StatusBadRequest, "language_required")
	if !strings.Contains(r.raw, "en, pt_BR") {
		t.Fatalf("language_required does not list the languages: %s", r.raw)
	}
	a.do("GET", "/v1/templates/order_shipped?language=en", nil).want(t, http.StatusOK, "")
}

func TestGetErrors(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.do("POST", "/v1/templates", shipped("en")).want(t, http.StatusCreated, "")
	a.do("GET", "/v1/templates/nope", nil).want(t, http.StatusNotFound, "template_not_found")
	a.do("GET", "/v1/templates/order_shipped?language=fr", nil).want(t, http.StatusNotFound, "template_not_found")
	a.do("GET", "/v1/templates/order_shipped?version=7", nil).want(t, http.StatusNotFound, "template_not_found")
	r := a.do("GET", "/v1/templates/order_shipped?language=english", nil).want(t, http.StatusBadRequest, "invalid_parameter")
	if !slices.Equal(r.details(), []string{"language:invalid"}) {
		t.Fatalf("details = %v", r.details())
	}
	r = a.do("GET", "/v1/templates/order_shipped?version=x", nil).want(t, http.StatusBadRequest, "invalid_parameter")
	if !slices.Equal(r.details(), []string{"version:invalid"}) {
		t.Fatalf("details = %v", r.details())
	}
}

func TestR29_CreateRefusals(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.do("POST", "/v1/templates", shipped("en")).want(t, http.StatusCreated, "")
	a.do("POST", "/v1/templates", shipped("EN")).want(t, http.StatusConflict, "template_exists")

	bad := shipped("en")
	bad["name"] = "Order-Shipped"
	bad["body"] = "Hi {{1}} and {{3}}"
	bad["buttons"] = []map[string]string{{"text": "A label that is far too long"}}
	r := a.do("POST", "/v1/templates", bad).want(t, http.StatusUnprocessableEntity, "invalid_template")
	want := []string{"name:invalid", "body:numbering_gap", "buttons[0].text:too_long"}
	if !slices.Equal(r.details(), want) {
		t.Fatalf("details = %v, want %v", r.details(), want)
	}

	a.do("POST", "/v1/templates", "{").want(t, http.StatusBadRequest, "invalid_json")
	req := httptest.NewRequest("POST", "/v1/templates", strings.NewReader("name=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnsupportedMediaType {
		t.Fatalf("form body: status %d, want 415", rec.Code)
	}
}

// R38: a GET answer can be edited and sent back (its read-only fields are
// known), but a field no template has is refused, naming it.
func TestR38_TemplateBodiesRefuseUnknownFields(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	bad := shipped("en")
	bad["bodytext"] = "typo"
	r := a.do("POST", "/v1/templates", bad).want(t, http.StatusBadRequest, "unknown_field")
	if !strings.Contains(r.raw, `"field":"bodytext"`) {
		t.Fatalf("unknown_field does not name the field: %s", r.raw)
	}
	a.do("GET", "/v1/templates/order_shipped", nil).want(t, http.StatusNotFound, "template_not_found")

	created := a.do("POST", "/v1/templates", shipped("en")).want(t, http.StatusCreated, "")
	edited := created.body
	edited["body"] = "Hello {{1}}, order {{2}} is on its way."
	r = a.do("PUT", "/v1/templates/order_shipped", edited).want(t, http.StatusOK, "")
	if r.num("version") != 2 {
		t.Fatalf("PUT of an edited GET answer = %s", r.raw)
	}
	edited["twilio"] = map[string]string{"content_sid": "HX0123456789abcdef0123456789abcdef", "sid": "x"}
	a.do("PUT", "/v1/templates/order_shipped", edited).want(t, http.StatusBadRequest, "unknown_field")
}

func TestR30_UpdateMakesNewVersion(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.do("PUT", "/v1/templates/order_shipped?language=en", shipped("en")).want(t, http.StatusNotFound, "template_not_found")
	a.do("POST", "/v1/templates", shipped("en")).want(t, http.StatusCreated, "")
	a.do("POST", "/v1/templates/order_shipped/approve", nil).want(t, http.StatusOK, "")

	edit := shipped("en")
	delete(edit, "name") // the path names it
	edit["body"] = "Hello {{1}}, order {{2}} is on its way."
	r := a.do("PUT", "/v1/templates/order_shipped", edit).want(t, http.StatusOK, "")
	if r.num("version") != 2 || r.str("status") != "draft" || r.num("live_version") != 1 {
		t.Fatalf("PUT = %s", r.raw)
	}
	// The same PUT again changes nothing.
	r = a.do("PUT", "/v1/templates/order_shipped", edit).want(t, http.StatusOK, "")
	if r.num("version") != 2 {
		t.Fatalf("repeated PUT made version %d", r.num("version"))
	}

	edit["name"] = "other_name"
	r = a.do("PUT", "/v1/templates/order_shipped", edit).want(t, http.StatusUnprocessableEntity, "invalid_template")
	if !slices.Equal(r.details(), []string{"name:invalid"}) {
		t.Fatalf("details = %v", r.details())
	}
	edit["name"] = "order_shipped"
	edit["body"] = "{{2}}"
	r = a.do("PUT", "/v1/templates/order_shipped", edit).want(t, http.StatusUnprocessableEntity, "invalid_template")
	if !slices.Equal(r.details(), []string{"body:numbering_start"}) {
		t.Fatalf("details = %v", r.details())
	}
}

func TestUpdateBringsBackADisabledTemplate(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.do("POST", "/v1/templates", shipped("en")).want(t, http.StatusCreated, "")
	a.do("POST", "/v1/templates/order_shipped/approve", nil).want(t, http.StatusOK, "")
	a.do("POST", "/v1/templates/order_shipped/disable", nil).want(t, http.StatusOK, "")
	// Same content over a disabled version: a new draft to approve again.
	r := a.do("PUT", "/v1/templates/order_shipped", shipped("en")).want(t, http.StatusOK, "")
	if r.num("version") != 2 || r.str("status") != "draft" {
		t.Fatalf("PUT over disabled = %s", r.raw)
	}
}

func TestR29_StatusRoutes(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.do("POST", "/v1/templates/nope/approve", nil).want(t, http.StatusNotFound, "template_not_found")
	a.do("POST", "/v1/templates", shipped("en")).want(t, http.StatusCreated, "")

	r := a.do("POST", "/v1/templates/order_shipped/disable", nil).want(t, http.StatusConflict, "illegal_transition")
	if !strings.Contains(r.raw, `from \"draft\" to \"disabled\"`) {
		t.Fatalf("illegal_transition message: %s", r.raw)
	}
	r = a.do("POST", "/v1/templates/order_shipped/approve?language=en", nil).want(t, http.StatusOK, "")
	if r.str("status") != "approved" || r.num("live_version") != 1 {
		t.Fatalf("approve = %s", r.raw)
	}
	a.do("POST", "/v1/templates/order_shipped/reject", nil).want(t, http.StatusConflict, "illegal_transition")
	r = a.do("POST", "/v1/templates/order_shipped/disable", nil).want(t, http.StatusOK, "")
	if r.str("status") != "disabled" || r.num("live_version") != 0 {
		t.Fatalf("disable = %s", r.raw)
	}

	// Reject needs a draft.
	a.do("POST", "/v1/templates", shipped("pt_BR")).want(t, http.StatusCreated, "")
	a.do("POST", "/v1/templates/order_shipped/reject", nil).want(t, http.StatusBadRequest, "language_required")
	r = a.do("POST", "/v1/templates/order_shipped/reject?language=pt-BR", nil).want(t, http.StatusOK, "")
	if r.str("status") != "rejected" {
		t.Fatalf("reject = %s", r.raw)
	}
}

func TestR30_DeleteDraft(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.do("DELETE", "/v1/templates/nope", nil).want(t, http.StatusNotFound, "template_not_found")
	a.do("POST", "/v1/templates", shipped("en")).want(t, http.StatusCreated, "")
	a.do("POST", "/v1/templates/order_shipped/approve", nil).want(t, http.StatusOK, "")
	a.do("DELETE", "/v1/templates/order_shipped", nil).want(t, http.StatusConflict, "not_a_draft")

	edit := shipped("en")
	edit["body"] = "changed"
	a.do("PUT", "/v1/templates/order_shipped", edit).want(t, http.StatusOK, "")
	r := a.do("DELETE", "/v1/templates/order_shipped?language=en", nil).want(t, http.StatusNoContent, "")
	if r.raw != "" {
		t.Fatalf("204 with a body: %s", r.raw)
	}
	g := a.do("GET", "/v1/templates/order_shipped", nil).want(t, http.StatusOK, "")
	if g.num("version") != 1 || g.str("status") != "approved" {
		t.Fatalf("after deleting the draft = %s", g.raw)
	}
}

func TestR30_List(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	r := a.do("GET", "/v1/templates", nil).want(t, http.StatusOK, "")
	if r.raw != "{\"templates\":[]}\n" {
		t.Fatalf("empty list = %q", r.raw)
	}
	for _, lang := range []string{"en", "pt_BR", "es"} {
		a.do("POST", "/v1/templates", shipped(lang)).want(t, http.StatusCreated, "")
	}
	sms := shipped("en")
	sms["name"], sms["channel"], sms["category"] = "otp_code", "sms", "authentication"
	delete(sms, "buttons")
	a.do("POST", "/v1/templates", sms).want(t, http.StatusCreated, "")
	a.do("POST", "/v1/templates/otp_code/approve", nil).want(t, http.StatusOK, "")

	keys := func(r response) []string {
		var out []string
		ts, _ := r.body["templates"].([]any)
		for _, x := range ts {
			m := x.(map[string]any)
			out = append(out, fmt.Sprintf("%v/%v", m["name"], m["language"]))
		}
		return out
	}
	tests := []struct {
		query string
		want  []string
	}{
		{"", []string{"order_shipped/en", "order_shipped/es", "order_shipped/pt_BR", "otp_code/en"}},
		{"?status=approved", []string{"otp_code/en"}},
		{"?language=pt-br", []string{"order_shipped/pt_BR"}},
		{"?channel=sms&category=authentication", []string{"otp_code/en"}},
		{"?name_prefix=order_", []string{"order_shipped/en", "order_shipped/es", "order_shipped/pt_BR"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			r := a.do("GET", "/v1/templates"+tt.query, nil).want(t, http.StatusOK, "")
			if got := keys(r); !slices.Equal(got, tt.want) {
				t.Errorf("GET /v1/templates%s = %v, want %v", tt.query, got, tt.want)
			}
		})
	}

	var paged []string
	next := "/v1/templates?limit=3"
	for next != "" {
		r := a.do("GET", next, nil).want(t, http.StatusOK, "")
		paged = append(paged, keys(r)...)
		next = ""
		if c := r.str("next_cursor"); c != "" {
			next = "/v1/templates?limit=3&cursor=" + c
		}
	}
	if !slices.Equal(paged, tests[0].want) {
		t.Fatalf("paged = %v", paged)
	}

	r = a.do("GET", "/v1/templates?status=live&channel=fax&category=x&language=english&limit=0", nil).
		want(t, http.StatusBadRequest, "invalid_parameter")
	want := []string{"status:invalid", "channel:invalid", "category:invalid", "language:invalid", "limit:invalid"}
	if !slices.Equal(r.details(), want) {
		t.Fatalf("details = %v, want %v", r.details(), want)
	}
	r = a.do("GET", "/v1/templates?cursor=zzz", nil).want(t, http.StatusBadRequest, "invalid_parameter")
	if !slices.Equal(r.details(), []string{"cursor:invalid"}) {
		t.Fatalf("details = %v", r.details())
	}
}

func TestR29_Preview(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.do("POST", "/v1/templates/nope/preview", map[string]any{}).want(t, http.StatusNotFound, "template_not_found")
	body := shipped("en")
	body["footer"] = "Shop"
	a.do("POST", "/v1/templates", body).want(t, http.StatusCreated, "")

	// A draft can be previewed; values are inserted literally.
	r := a.do("POST", "/v1/templates/order_shipped/preview", map[string]any{
		"variables": map[string]string{"1": "Ana", "2": "{{1}}"},
	}).want(t, http.StatusOK, "")
	if r.str("text") != "Order update\n\nHi Ana, order {{1}} has shipped.\n\nShop" || r.str("status") != "draft" || r.num("version") != 1 {
		t.Fatalf("preview = %s", r.raw)
	}
	tw, _ := r.body["twilio"].(map[string]any)
	if tw["content_variables"] != `{"1":"Ana","2":"{{1}}"}` {
		t.Fatalf("twilio = %v", tw)
	}

	r = a.do("POST", "/v1/templates/order_shipped/preview", map[string]any{
		"language":  "en",
		"variables": map[string]string{"1": " ", "3": "x"},
	}).want(t, http.StatusUnprocessableEntity, "invalid_variables")
	want := []string{"variables.2:missing", "variables.3:extra", "variables.1:empty"}
	if !slices.Equal(r.details(), want) {
		t.Fatalf("details = %v, want %v", r.details(), want)
	}
	if !strings.Contains(r.raw, "missing 2; extra 3; empty 1") {
		t.Fatalf("message: %s", r.raw)
	}

	a.do("POST", "/v1/templates/order_shipped/preview", map[string]any{"version": 3}).want(t, http.StatusNotFound, "template_not_found")
	a.do("POST", "/v1/templates/order_shipped/preview", map[string]any{"version": -1}).want(t, http.StatusBadRequest, "invalid_parameter")
	a.do("POST", "/v1/templates/order_shipped/preview", "").want(t, http.StatusBadRequest, "invalid_json")
}

// failingStore fails every List; the other methods are not used.
type failingStore struct {
	templates.Store
	ListFunc func(context.Context, *templates.ListParams) (*templates.ListResult, error)
}

func (s failingStore) List(ctx context.Context, p *templates.ListParams) (*templates.ListResult, error) {
	return s.ListFunc(ctx, p)
}

func TestStoreFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err    error
		status int
		code   string
	}{
		{errors.New("boom: secret detail"), http.StatusInternalServerError, "internal"},
		{fmt.Errorf("list: %w", gateway.ErrUnavailable), http.StatusServiceUnavailable, "unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			a := newAPIOn(t, failingStore{ListFunc: func(context.Context, *templates.ListParams) (*templates.ListResult, error) {
				return nil, tt.err
			}})
			r := a.do("GET", "/v1/templates", nil).want(t, tt.status, tt.code)
			if strings.Contains(r.raw, "secret") {
				t.Fatalf("internal error text leaked: %s", r.raw)
			}
		})
	}
}

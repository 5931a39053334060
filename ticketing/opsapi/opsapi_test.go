package opsapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/chatgate/chatgate/gateway/httpapi"
	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
	"github.com/chatgate/chatgate/ticketing"
	"github.com/chatgate/chatgate/ticketing/opsapi"
	"github.com/chatgate/chatgate/ticketing/pgstore"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC) // a Monday

// api serves the routes on a fresh database, unauthenticated.
type api struct {
	t    *testing.T
	h    http.Handler
	pool *pgxpool.Pool
}

func newAPI(t *testing.T) *api {
	t.Helper()
	pool := pgtest.Pool(t)
	store := pgstore.New(pool)
	now := func() time.Time { return t0 }
	h := &opsapi.Handlers{
		Service:     &ticketing.Service{Store: store, Directory: store, Now: now},
		Plan:        opsapi.NewPlanService(store, now),
		PresenceTTL: 90 * time.Second,
	}
	mux := http.NewServeMux()
	h.Mount(mux.Handle, nil)
	return &api{t: t, h: mux, pool: pool}
}

type response struct {
	status int
	header http.Header
	raw    []byte
}

// decode decodes the body into v.
func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.raw, v); err != nil {
		t.Fatalf("body is not the expected JSON: %v\n%s", err, r.raw)
	}
}

// apiError is chatgate's error body.
type apiError struct {
	Error struct {
		Code    string          `json:"code"`
		Message string          `json:"message"`
		Details []opsapi.Detail `json:"details"`
	} `json:"error"`
}

func (r response) err(t *testing.T) apiError {
	t.Helper()
	var e apiError
	r.decode(t, &e)
	return e
}

func (a *api) do(method, path string, body any) response {
	a.t.Helper()
	return doOn(a.t, a.h, method, path, body, "")
}

func doOn(t *testing.T, h http.Handler, method, path string, body any, token string) response {
	t.Helper()
	var rd *bytes.Reader
	switch b := body.(type) {
	case nil:
		rd = bytes.NewReader(nil)
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		js, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(js)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return response{status: rec.Code, header: rec.Header(), raw: rec.Body.Bytes()}
}

func (a *api) must(method, path string, body any, status int) response {
	a.t.Helper()
	res := a.do(method, path, body)
	if res.status != status {
		a.t.Fatalf("%s %s: %d, want %d\n%s", method, path, res.status, status, res.raw)
	}
	return res
}

// version reads a department's stored version, 0 when absent.
func (a *api) version(id string) int {
	a.t.Helper()
	var v int
	err := a.pool.QueryRow(context.Background(), `SELECT coalesce((SELECT version FROM departments WHERE id = $1), 0)`, id).Scan(&v)
	if err != nil {
		a.t.Fatal(err)
	}
	return v
}

func support() ticketing.Department {
	return ticketing.Department{
		ID:       "support",
		Name:     "Customer support",
		TimeZone: "Africa/Johannesburg",
		Schedule: map[string][]string{"monday": {"08:00-12:00", "13:00-17:00"}, "friday": {"08:00-16:00"}},
		Holidays: []ticketing.Closure{{Name: "Christmas", From: "2026-12-25", To: "2026-12-26"}},
		Agents:   []string{"ann", "bob"},
		Routing:  ticketing.Routing{Numbers: []string{"+27600000000"}, Default: true},
		Texts:    map[string]ticketing.Texts{"en": {OutOfHours: "We are closed."}, "pt-br": {OutOfHours: "Estamos fechados."}},
	}
}

func sales() ticketing.Department {
	return ticketing.Department{
		ID:       "sales",
		TimeZone: "Europe/Lisbon",
		Schedule: map[string][]string{"tuesday": {"09:00-18:00"}},
		Agents:   []string{"carla"},
		Routing:  ticketing.Routing{Keywords: []string{"buy", "price"}},
	}
}

func TestR3_DepartmentCRUD(t *testing.T) {
	t.Parallel()
	a := newAPI(t)

	var set opsapi.SetBody
	a.must("GET", "/v1/departments", nil, 200).decode(t, &set)
	if set.Departments == nil || len(set.Departments) != 0 {
		t.Fatalf("empty list = %+v, want []", set)
	}

	res := a.must("PUT", "/v1/departments/support", support(), 201)
	if loc := res.header.Get("Location"); loc != "/v1/departments/support" {
		t.Fatalf("Location %q", loc)
	}
	var got ticketing.Department
	res.decode(t, &got)
	if _, ok := got.Texts["pt_BR"]; !ok || got.ID != "support" {
		t.Fatalf("stored department not normalized: %+v", got)
	}

	// The same PUT again: 200, nothing written (the version stays).
	a.must("PUT", "/v1/departments/support", support(), 200)
	if v := a.version("support"); v != 1 {
		t.Fatalf("version after an identical PUT = %d, want 1", v)
	}
	// The id may be left out of the body: the path names it.
	changed := support()
	changed.ID, changed.Name = "", "Support"
	a.must("PUT", "/v1/departments/support", changed, 200).decode(t, &got)
	if got.Name != "Support" || a.version("support") != 2 {
		t.Fatalf("update: %+v version %d", got, a.version("support"))
	}

	var one ticketing.Department
	a.must("GET", "/v1/departments/support", nil, 200).decode(t, &one)
	if !reflect.DeepEqual(one, got) {
		t.Fatalf("GET = %+v, want %+v", one, got)
	}
	a.must("PUT", "/v1/departments/sales", sales(), 201)
	a.must("GET", "/v1/departments", nil, 200).decode(t, &set)
	if len(set.Departments) != 2 || set.Departments[0].ID != "sales" || set.Departments[1].ID != "support" {
		t.Fatalf("list = %+v, want sales and support by id", set)
	}

	a.must("DELETE", "/v1/departments/sales", nil, 204)
	for _, req := range [][2]string{{"GET", "/v1/departments/sales"}, {"DELETE", "/v1/departments/sales"}} {
		e := a.must(req[0], req[1], nil, 404).err(t)
		if e.Error.Code != opsapi.CodeDepartmentNotFound || !strings.Contains(e.Error.Message, "sales") {
			t.Fatalf("%s %s after delete: %+v", req[0], req[1], e)
		}
	}
}

func TestR3_InvalidDepartmentNamesTheField(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	bad := support()
	bad.TimeZone = "Mars/Olympus_Mons"
	bad.Schedule = map[string][]string{
		"monday":   {"13:00-12:00"},
		"tuesday":  {"09:00-12:00", "11:00-13:00"},
		"funday":   {"09:00-10:00"},
		"thursday": {"9-5"},
	}
	bad.Texts = map[string]ticketing.Texts{"not a language": {}}
	e := a.must("PUT", "/v1/departments/support", bad, 422).err(t)
	if e.Error.Code != opsapi.CodeInvalidDepartment {
		t.Fatalf("code %q", e.Error.Code)
	}
	fields := map[string]string{}
	for _, d := range e.Error.Details {
		fields[d.Field] = d.Message
		if d.Department != "support" {
			t.Errorf("detail %+v does not name the department", d)
		}
	}
	for _, want := range []string{"time_zone", "schedule.monday[0]", "schedule.tuesday", "schedule.funday", "schedule.thursday[0]", "texts.not a language"} {
		if fields[want] == "" {
			t.Errorf("no detail for %q in %+v", want, e.Error.Details)
		}
	}
	if !strings.Contains(fields["time_zone"], "Mars/Olympus_Mons") || !strings.Contains(fields["schedule.tuesday"], "overlap") {
		t.Errorf("messages do not say what is wrong: %+v", fields)
	}
	if v := a.version("support"); v != 0 {
		t.Fatalf("an invalid department was stored")
	}

	other := sales()
	e = a.must("PUT", "/v1/departments/support", other, 422).err(t)
	if len(e.Error.Details) != 1 || e.Error.Details[0].Field != "id" {
		t.Fatalf("id mismatch: %+v", e)
	}
	if e := a.must("PUT", "/v1/departments/support", `{"time_zone": 5}`, 400).err(t); e.Error.Code != httpapi.CodeInvalidJSON {
		t.Fatalf("wrong type: %+v", e)
	}
	if e := a.must("PUT", "/v1/departments/Not%20An%20Id", `{"time_zone":"UTC"}`, 422).err(t); e.Error.Details[0].Field != "id" {
		t.Fatalf("bad id: %+v", e)
	}
}

func TestR3_ApplySetIsDeclarativeAndIdempotent(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	apply := func(query string, deps ...ticketing.Department) opsapi.ApplyResult {
		t.Helper()
		var res opsapi.ApplyResult
		if deps == nil {
			deps = []ticketing.Department{}
		}
		a.must("PUT", "/v1/departments"+query, opsapi.SetBody{Departments: deps}, 200).decode(t, &res)
		return res
	}
	want := func(got opsapi.ApplyResult, created, updated, deleted, unchanged string) {
		t.Helper()
		s := func(ids []string) string { return strings.Join(ids, ",") }
		if s(got.Created) != created || s(got.Updated) != updated || s(got.Deleted) != deleted || s(got.Unchanged) != unchanged {
			t.Fatalf("changes = %+v, want created %q updated %q deleted %q unchanged %q", got, created, updated, deleted, unchanged)
		}
	}

	// A dry run reports, writes nothing.
	res := apply("?dry_run=true", support(), sales())
	want(res, "sales,support", "", "", "")
	if !res.DryRun || a.version("support") != 0 {
		t.Fatalf("dry run wrote: %+v", res)
	}
	want(apply("", support(), sales()), "sales,support", "", "", "")
	// The same set again changes nothing; nor does a GET answer sent back.
	want(apply("", support(), sales()), "", "", "", "sales,support")
	var set opsapi.SetBody
	a.must("GET", "/v1/departments", nil, 200).decode(t, &set)
	want(apply("", set.Departments...), "", "", "", "sales,support")
	if a.version("support") != 1 || a.version("sales") != 1 {
		t.Fatal("an unchanged department was rewritten")
	}

	// Without prune, departments missing from the set are kept.
	s2 := sales()
	s2.Agents = append(s2.Agents, "dan")
	want(apply("", s2), "", "sales", "", "support")
	want(apply("?dry_run=1&prune=true", s2), "", "", "support", "sales")
	if a.version("support") != 1 {
		t.Fatal("a dry run with prune deleted")
	}
	want(apply("?prune=true", s2), "", "", "support", "sales")
	a.must("GET", "/v1/departments/support", nil, 404)

	// A body without the set is refused, not read as an empty set (with
	// prune it would delete everything); an explicit empty set with prune
	// deletes everything.
	for _, body := range []string{`{}`, `{"departments":null}`} {
		if e := a.must("PUT", "/v1/departments?prune=true", body, 422).err(t); e.Error.Details[0].Field != "departments" {
			t.Fatalf("%s: %+v", body, e)
		}
	}
	want(apply("?prune=true"), "", "", "sales", "")

	if e := a.must("PUT", "/v1/departments?prune=maybe", `{"departments":[]}`, 400).err(t); e.Error.Code != opsapi.CodeInvalidParameter ||
		e.Error.Details[0].Field != "prune" {
		t.Fatalf("prune=maybe: %+v", e)
	}
}

func TestR3_ApplySetValidatesTheWholeSet(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.must("PUT", "/v1/departments/support", support(), 201)

	// A second default, a number routed twice, and one invalid department:
	// every problem is reported, nothing is applied.
	s := sales()
	s.Routing = ticketing.Routing{Default: true, Numbers: []string{"+27600000000"}}
	broken := ticketing.Department{ID: "broken", TimeZone: "UTC", Schedule: map[string][]string{"monday": {"18:00-09:00"}}}
	e := a.must("PUT", "/v1/departments", opsapi.SetBody{Departments: []ticketing.Department{s, broken}}, 422).err(t)
	if e.Error.Code != opsapi.CodeInvalidDepartment {
		t.Fatalf("code %q", e.Error.Code)
	}
	got := map[string]opsapi.Detail{}
	for _, d := range e.Error.Details {
		got[d.Field] = d
	}
	if d, ok := got["departments[1].schedule.monday[0]"]; !ok || d.Department != "broken" {
		t.Fatalf("no detail for the broken interval: %+v", e.Error.Details)
	}
	// Each department validates alone here: set-level problems come only
	// once every department is valid.
	e = a.must("PUT", "/v1/departments", opsapi.SetBody{Departments: []ticketing.Department{s}}, 422).err(t)
	var routing []string
	for _, d := range e.Error.Details {
		routing = append(routing, d.Field)
	}
	slices.Sort(routing)
	if len(routing) == 0 || !slices.ContainsFunc(routing, func(f string) bool { return strings.Contains(f, "routing.") }) {
		t.Fatalf("set-level clash not reported by field: %+v", e.Error.Details)
	}
	a.must("GET", "/v1/departments/sales", nil, 404)

	// The same id twice.
	e = a.must("PUT", "/v1/departments", opsapi.SetBody{Departments: []ticketing.Department{sales(), sales()}}, 422).err(t)
	if !slices.ContainsFunc(e.Error.Details, func(d opsapi.Detail) bool { return strings.HasSuffix(d.Field, ".id") && d.Department == "sales" }) {
		t.Fatalf("duplicate id not reported: %+v", e.Error.Details)
	}
}

func TestR4_PresenceIsSetByTheDesk(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	var res opsapi.PresenceResult
	a.must("PUT", "/v1/agents/ann/presence", opsapi.PresenceBody{Status: ticketing.PresenceOnline}, 200).decode(t, &res)
	if res != (opsapi.PresenceResult{AgentID: "ann", Status: "online", TTLSeconds: 90}) {
		t.Fatalf("answer %+v", res)
	}
	var status string
	var beat time.Time
	if err := a.pool.QueryRow(context.Background(), `SELECT status, heartbeat_at FROM agents WHERE id = 'ann'`).Scan(&status, &beat); err != nil {
		t.Fatal(err)
	}
	if status != "online" || !beat.Equal(t0) {
		t.Fatalf("stored %s at %v", status, beat)
	}
	a.must("PUT", "/v1/agents/ann/presence", `{"status":"away"}`, 200)
	if err := a.pool.QueryRow(context.Background(), `SELECT status FROM agents WHERE id = 'ann'`).Scan(&status); err != nil || status != "away" {
		t.Fatalf("after away: %s %v", status, err)
	}

	for _, body := range []string{`{"status":"busy"}`, `{"status":""}`, `{}`, `{"status":"ONLINE"}`} {
		e := a.must("PUT", "/v1/agents/ann/presence", body, 422).err(t)
		if e.Error.Code != opsapi.CodeInvalidPresence || len(e.Error.Details) != 1 || e.Error.Details[0].Field != "status" {
			t.Errorf("%s: %+v", body, e)
		}
	}
	if e := a.must("PUT", "/v1/agents/ann/presence", `{"status":`, 400).err(t); e.Error.Code != httpapi.CodeInvalidJSON {
		t.Errorf("bad json: %+v", e)
	}
}

// Departments are the ops role's, presence the desk's.
func TestRoutesAdmitTheirRoles(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	store := pgstore.New(pool)
	h := &opsapi.Handlers{Service: &ticketing.Service{Store: store, Directory: store, Now: func() time.Time { return t0 }}}
	auth := httpapi.NewAuthenticator(map[string]httpapi.Role{"ops": httpapi.RoleOps, "desk": httpapi.RoleDesk})
	mux := http.NewServeMux()
	h.Mount(mux.Handle, func(h http.Handler, roles ...httpapi.Role) http.Handler { return auth.Require(h, roles...) })

	cases := []struct {
		method, path string
		body         any
		token        string
		status       int
	}{
		{"GET", "/v1/departments", nil, "", 401},
		{"GET", "/v1/departments", nil, "desk", 403},
		{"GET", "/v1/departments", nil, "ops", 200},
		{"PUT", "/v1/departments/support", support(), "desk", 403},
		{"PUT", "/v1/departments/support", support(), "ops", 201},
		{"PUT", "/v1/departments", `{"departments":[]}`, "desk", 403},
		{"DELETE", "/v1/departments/support", nil, "desk", 403},
		{"PUT", "/v1/agents/ann/presence", opsapi.PresenceBody{Status: "online"}, "ops", 403},
		{"PUT", "/v1/agents/ann/presence", opsapi.PresenceBody{Status: "online"}, "desk", 200},
		{"PUT", "/v1/departments?dry_run=true", `{"departments":[]}`, "ops", 400}, // no Plan service
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path+" as "+c.token, func(t *testing.T) {
			if res := doOn(t, mux, c.method, c.path, c.body, c.token); res.status != c.status {
				t.Errorf("%s %s as %q: %d, want %d\n%s", c.method, c.path, c.token, res.status, c.status, res.raw)
			}
		})
	}
}

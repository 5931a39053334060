package opsapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chatgate/chatgate/gateway/hostile"
)

// departmentBody is support() as JSON with the field at path set to
// literal (a JSON value as raw bytes).
func departmentBody(t *testing.T, path, literal string) string {
	t.Helper()
	raw, err := json.Marshal(support())
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	switch path {
	case "name", "time_zone":
		doc[path] = json.RawMessage(literal)
	case "agents[0]":
		doc["agents"] = json.RawMessage(`[` + literal + `]`)
	case "routing.numbers[0]":
		doc["routing"] = json.RawMessage(`{"numbers":[` + literal + `],"default":true}`)
	case "texts.en.out_of_hours":
		doc["texts"] = json.RawMessage(`{"en":{"out_of_hours":` + literal + `}}`)
	case "holidays[0].name":
		doc["holidays"] = json.RawMessage(`[{"name":` + literal + `,"from":"2026-12-25"}]`)
	}
	out, err := json.Marshal(doc) // RawMessage values are copied, invalid bytes included
	if err != nil {
		// json.Marshal checks RawMessage is valid JSON; invalid UTF-8 inside
		// a string passes as is, which is what the test wants.
		t.Fatal(err)
	}
	return string(out)
}

// TestR38_HostileCorpusAtTheDepartmentAndPresenceRoutes sends every
// hostile value in the fields of a department, in the department path, in
// an agent's presence path and status. Every answer is a 4xx with
// chatgate's error, or a success where the field's rule accepts the value
// (and then it is stored as sent); never a 5xx.
func TestR38_HostileCorpusAtTheDepartmentAndPresenceRoutes(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	judge := func(what string, r response, want int) {
		t.Helper()
		if r.status != want {
			t.Errorf("%s: status %d, want %d; %.200s", what, r.status, want, r.raw)
			return
		}
		if r.status >= 400 && !strings.Contains(string(r.raw), `"error":{"code":`) {
			t.Errorf("%s: not chatgate's JSON error: %.200s", what, r.raw)
		}
	}
	// accepts per field: the classes it stores as sent (200 or 201).
	accepts := map[string][]hostile.Class{
		"name":                  {hostile.Empty, hostile.Padded, hostile.Path, hostile.Whitespace, hostile.Unicode},
		"texts.en.out_of_hours": {hostile.Empty, hostile.Blank, hostile.Long, hostile.Padded, hostile.Path, hostile.Whitespace, hostile.Unicode},
		"holidays[0].name":      {hostile.Empty, hostile.Padded, hostile.Path, hostile.Whitespace, hostile.Unicode},
		"agents[0]":             {},
		"routing.numbers[0]":    {hostile.Path, hostile.Whitespace, hostile.Unicode},
		"time_zone":             {},
	}
	for _, h := range hostile.JSONStrings() {
		for field, ok := range accepts {
			want := http.StatusUnprocessableEntity
			switch {
			case h.Class == hostile.InvalidUTF8 || h.Class == hostile.LoneSurrogate:
				want = http.StatusBadRequest
			case h.Class == hostile.Huge && strings.HasPrefix(field, "texts"):
				want = http.StatusUnprocessableEntity // 1 MB fits the 4 MiB body; the text limit is 4096
			}
			for _, c := range ok {
				if h.Class == c {
					want = http.StatusOK
				}
			}
			r := a.do("PUT", "/v1/departments/support", departmentBody(t, field, h.Literal))
			if want == http.StatusOK && (r.status == http.StatusCreated || r.status == http.StatusOK) {
				continue
			}
			judge("PUT "+field+" "+h.Name, r, want)
		}
	}
	// What was accepted last is what is stored.
	var name string
	if err := a.pool.QueryRow(context.Background(), `SELECT doc->>'name' FROM departments WHERE id = 'support'`).Scan(&name); err != nil {
		t.Fatal(err)
	}
	a.must("PUT", "/v1/departments/support", departmentBody(t, "name", `" Support/Ops "`), http.StatusOK)
	if err := a.pool.QueryRow(context.Background(), `SELECT doc->>'name' FROM departments WHERE id = 'support'`).Scan(&name); err != nil || name != " Support/Ops " {
		t.Fatalf("stored name %q (%v), want it as sent", name, err)
	}

	for _, h := range hostile.Strings() {
		if h.Class == hostile.Empty {
			continue // another route
		}
		p := url.PathEscape(h.Value)
		judge("GET department "+h.Name, a.do("GET", "/v1/departments/"+p, nil), http.StatusBadRequest)
		judge("DELETE department "+h.Name, a.do("DELETE", "/v1/departments/"+p, nil), http.StatusBadRequest)
		judge("PUT department path "+h.Name, a.do("PUT", "/v1/departments/"+p, `{"time_zone":"UTC"}`), http.StatusUnprocessableEntity)
		judge("presence path "+h.Name, a.do("PUT", "/v1/agents/"+p+"/presence", `{"status":"online"}`), http.StatusBadRequest)
	}
	for _, h := range hostile.JSONStrings() {
		want := http.StatusUnprocessableEntity
		switch h.Class {
		case hostile.InvalidUTF8, hostile.LoneSurrogate:
			want = http.StatusBadRequest
		case hostile.Huge:
			want = http.StatusRequestEntityTooLarge
		}
		judge("presence status "+h.Name, a.do("PUT", "/v1/agents/ann/presence", `{"status":`+h.Literal+`}`), want)
	}
	judge("unknown field in a presence body", a.do("PUT", "/v1/agents/ann/presence", `{"status":"online","until":"later"}`), http.StatusBadRequest)
}

// TestR38_NULInTheDepartmentOrPresencePathIsA400 is the defect:
// /v1/agents/%00/presence (and /v1/departments/%00) answered 500.
func TestR38_NULInTheDepartmentOrPresencePathIsA400(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	for _, p := range []string{"/v1/agents/%00/presence", "/v1/agents/a%2Fb/presence", "/v1/agents/" + strings.Repeat("a", 300) + "/presence"} {
		e := a.must("PUT", p, `{"status":"online"}`, http.StatusBadRequest).err(t)
		if e.Error.Code != "invalid_parameter" || len(e.Error.Details) != 1 || e.Error.Details[0].Field != "id" {
			t.Errorf("%s: %+v, want invalid_parameter naming id", p, e.Error)
		}
	}
	for _, method := range []string{"GET", "DELETE"} {
		e := a.must(method, "/v1/departments/%00", nil, http.StatusBadRequest).err(t)
		if e.Error.Code != "invalid_parameter" || e.Error.Details[0].Field != "id" {
			t.Errorf("%s: %+v", method, e.Error)
		}
	}
}

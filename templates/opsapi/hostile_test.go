package opsapi_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/chatgate/chatgate/gateway/hostile"
)

// raw sends a body whose bytes are given as is (hostile.Literal keeps
// bytes json.Marshal would replace).
func (a *api) raw(method, path, body string) response {
	a.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	return response{status: rec.Code, header: rec.Header(), raw: rec.Body.String()}
}

// templateBody is shipped's body as JSON with field set to literal.
func templateBody(name, field, literal string) string {
	fields := map[string]string{
		"name": fmt.Sprintf("%q", name), "language": `"en"`, "category": `"utility"`, "channel": `"whatsapp"`,
		"header": `"Order update"`, "body": `"Hi {{1}}, order {{2}} has shipped."`, "buttons": `[{"text":"Track"}]`,
	}
	switch field {
	case "buttons[0].text":
		fields["buttons"] = `[{"text":` + literal + `}]`
	case "whatsapp.namespace":
		fields["whatsapp"] = `{"namespace":` + literal + `}`
	default:
		fields[field] = literal
	}
	var b strings.Builder
	b.WriteString("{")
	first := true
	for _, k := range []string{"name", "language", "category", "channel", "header", "body", "footer", "buttons", "whatsapp"} {
		if v, ok := fields[k]; ok {
			if !first {
				b.WriteString(",")
			}
			first = false
			fmt.Fprintf(&b, "%q:%s", k, v)
		}
	}
	return b.String() + "}"
}

// TestR38_HostileCorpusAtTheTemplateRoutes sends every hostile value of
// the corpus in every field of a template, in the path's name, in the
// list's filters and in preview variables. Every answer is a 4xx with
// chatgate's JSON error, or a 2xx for a value the template rules accept,
// which is then stored as sent; never a 5xx.
func TestR38_HostileCorpusAtTheTemplateRoutes(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.do("POST", "/v1/templates", shipped("en")).want(t, http.StatusCreated, "")

	judge := func(what string, r response, want int) {
		t.Helper()
		if r.status != want {
			t.Errorf("%s: status %d, want %d; body %.200s", what, r.status, want, r.raw)
		}
		if r.status >= 400 && !strings.Contains(r.raw, `"error":{"code":`) {
			t.Errorf("%s: not chatgate's JSON error: %.200s", what, r.raw)
		}
		if r.status >= 500 {
			t.Errorf("%s: a 5xx for bad input", what)
		}
	}
	// accepts says which classes each body field stores as sent (201).
	accepts := map[string]map[hostile.Class]bool{
		"name":               {},
		"body":               {hostile.Long: true, hostile.Padded: true, hostile.Path: true, hostile.Whitespace: true, hostile.Unicode: true},
		"header":             {hostile.Empty: true, hostile.Blank: true, hostile.Padded: true, hostile.Path: true, hostile.Whitespace: true, hostile.Unicode: true},
		"footer":             {hostile.Empty: true, hostile.Blank: true, hostile.Padded: true, hostile.Path: true, hostile.Whitespace: true, hostile.Unicode: true},
		"buttons[0].text":    {hostile.Padded: true, hostile.Path: true, hostile.Whitespace: true, hostile.Unicode: true},
		"whatsapp.namespace": {hostile.Empty: true, hostile.Path: true, hostile.Whitespace: true, hostile.Unicode: true},
	}
	n := 0
	for _, h := range hostile.JSONStrings() {
		for field, ok := range accepts {
			n++
			name := fmt.Sprintf("hostile_%d", n)
			want := http.StatusUnprocessableEntity
			switch {
			case h.Class == hostile.InvalidUTF8 || h.Class == hostile.LoneSurrogate:
				want = http.StatusBadRequest
			case h.Class == hostile.Huge:
				want = http.StatusRequestEntityTooLarge
			case ok[h.Class]:
				want = http.StatusCreated
			}
			r := a.raw("POST", "/v1/templates", templateBody(name, field, h.Literal))
			judge(fmt.Sprintf("create, %s in %s", h.Name, field), r, want)
			if r.status == http.StatusCreated {
				var sent string
				if err := json.Unmarshal([]byte(h.Literal), &sent); err != nil {
					t.Fatal(err)
				}
				got := a.do("GET", "/v1/templates/"+name, nil).want(t, http.StatusOK, "")
				if v := storedField(got.body, field); v != sent {
					t.Errorf("create, %s in %s: stored %q, want the value as sent", h.Name, field, v)
				}
			}
		}
	}

	for _, h := range hostile.Strings() {
		if h.Class == hostile.Empty {
			continue // /v1/templates/ is another route
		}
		p := "/v1/templates/" + url.PathEscape(h.Value)
		judge("GET "+h.Name, a.do("GET", p, nil), http.StatusBadRequest)
		judge("PUT "+h.Name, a.do("PUT", p, shipped("en")), http.StatusBadRequest)
		judge("DELETE "+h.Name, a.do("DELETE", p, nil), http.StatusBadRequest)
		judge("approve "+h.Name, a.do("POST", p+"/approve", nil), http.StatusBadRequest)
		judge("preview "+h.Name, a.do("POST", p+"/preview", map[string]any{}), http.StatusBadRequest)

		wantList := http.StatusBadRequest
		judge("name_prefix "+h.Name, a.do("GET", "/v1/templates?name_prefix="+url.QueryEscape(h.Value), nil), wantList)
		if h.Class == hostile.Padded { // " ann " is the language "ann"
			wantList = http.StatusOK
		}
		judge("language "+h.Name, a.do("GET", "/v1/templates?language="+url.QueryEscape(h.Value), nil), wantList)
		// A blank language is no language: the template's only one is meant.
		wantGet := map[hostile.Class]int{hostile.Padded: http.StatusNotFound, hostile.Blank: http.StatusOK}[h.Class]
		if wantGet == 0 {
			wantGet = http.StatusBadRequest
		}
		judge("get with language "+h.Name, a.do("GET", "/v1/templates/order_shipped?language="+url.QueryEscape(h.Value), nil), wantGet)
		judge("cursor "+h.Name, a.do("GET", "/v1/templates?cursor="+url.QueryEscape(h.Value), nil), http.StatusBadRequest)
	}
	for _, h := range hostile.JSONStrings() {
		want := http.StatusUnprocessableEntity
		switch {
		case h.Class == hostile.InvalidUTF8 || h.Class == hostile.LoneSurrogate:
			want = http.StatusBadRequest
		case h.Class == hostile.Huge:
			want = http.StatusRequestEntityTooLarge
		case h.Class != hostile.Empty && h.Class != hostile.Blank && h.Class != hostile.Control:
			want = http.StatusOK // a value the template takes literally
		}
		judge("preview value "+h.Name, a.raw("POST", "/v1/templates/order_shipped/preview", `{"variables":{"1":`+h.Literal+`,"2":"42"}}`), want)
		if h.Class != hostile.Huge && h.Class != hostile.InvalidUTF8 && h.Class != hostile.LoneSurrogate {
			judge("preview variable name "+h.Name, a.raw("POST", "/v1/templates/order_shipped/preview", `{"variables":{"1":"a","2":"b",`+h.Literal+`:"c"}}`),
				http.StatusUnprocessableEntity)
		}
	}
	for _, num := range hostile.JSONNumbers() {
		judge("preview version "+num.Name, a.raw("POST", "/v1/templates/order_shipped/preview", `{"version":`+num.Text+`}`), http.StatusBadRequest)
	}
	// A cursor is opaque, but a crafted one still gets a 4xx: one naming a
	// template with a NUL reaches the database, which refuses it as data.
	crafted := "/v1/templates?cursor=" + url.QueryEscape(base64URL("order\x00/en"))
	if r := a.do("GET", crafted, nil); r.status < 400 || r.status >= 500 {
		t.Errorf("crafted cursor: status %d, want a 4xx; body %s", r.status, r.raw)
	}
}

// storedField reads field of a template as GET answers it.
func storedField(body map[string]any, field string) string {
	switch field {
	case "buttons[0].text":
		bs, _ := body["buttons"].([]any)
		if len(bs) == 0 {
			return ""
		}
		v, _ := bs[0].(map[string]any)["text"].(string)
		return v
	case "whatsapp.namespace":
		wa, _ := body["whatsapp"].(map[string]any)
		v, _ := wa["namespace"].(string)
		return v
	}
	v, _ := body[field].(string)
	return v
}

func base64URL(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// TestR38_NULInTheTemplatePathIsA400 is the defect: /v1/templates/%00
// answered 500 (PostgreSQL refused the name).
func TestR38_NULInTheTemplatePathIsA400(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	r := a.do("GET", "/v1/templates/%00", nil).want(t, http.StatusBadRequest, "invalid_parameter")
	if got := r.details(); len(got) != 1 || got[0] != "name:invalid" {
		t.Fatalf("details = %v, want name:invalid", got)
	}
	a.do("POST", "/v1/templates/a%00b/approve", nil).want(t, http.StatusBadRequest, "invalid_parameter")
}

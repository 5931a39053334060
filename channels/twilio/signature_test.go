package twilio_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/chatgate/chatgate/gateway/testkit"
)

// vectorForm is a signature vector's parameters as a form.
func vectorForm(params [][2]string) url.Values {
	form := url.Values{}
	for _, kv := range params {
		form.Add(kv[0], kv[1])
	}
	return form
}

// The test's own signer agrees with all 53 recorded vectors, so the
// requests other tests sign with it are signed as Twilio signs.
func TestSignatureVectors_TestSignerMatchesTwilio(t *testing.T) {
	t.Parallel()
	vectors := fixtures(t).SignatureVectors
	if len(vectors) != 53 {
		t.Fatalf("%d signature vectors, want 53", len(vectors))
	}
	for _, v := range vectors {
		if got := sign(v.AuthToken, v.URL, vectorForm(v.Params)); got != v.Expected {
			t.Errorf("%s: signature %s, want %s", v.FromCase, got, v.Expected)
		}
	}
}

// Every vector passes the webhooks' signature check (twilio-go's
// RequestValidator against the public URL plus the request's path and
// query), and the same request with a changed signature, parameter or
// query is refused with 403 before anything is published.
func TestSignatureVectors_ThroughWebhooks(t *testing.T) {
	t.Parallel()
	for _, v := range fixtures(t).SignatureVectors {
		t.Run(v.FromCase, func(t *testing.T) {
			t.Parallel()
			u, err := url.Parse(v.URL)
			if err != nil {
				t.Fatal(err)
			}
			base, target := u.Scheme+"://"+u.Host, u.RequestURI()
			form := vectorForm(v.Params)

			tampered := url.Values{}
			for k, vs := range form {
				tampered[k] = append([]string(nil), vs...)
			}
			tampered.Set("Body", tampered.Get("Body")+"!")
			for _, tc := range []struct {
				name   string
				target string
				body   string
				sig    string
				ok     bool
			}{
				{"as recorded", target, form.Encode(), v.Expected, true},
				{"other signature", target, form.Encode(), flip(v.Expected), false},
				{"other parameter", target, tampered.Encode(), v.Expected, false},
				{"other query", target + map[bool]string{true: "&x=1", false: "?x=1"}[u.RawQuery != ""], form.Encode(), v.Expected, false},
			} {
				t.Run(tc.name, func(t *testing.T) {
					pub := &testkit.Publisher{}
					w := newWebhooks(t, testConfig(base), pub)
					h := w.MessagesHandler()
					if strings.Contains(u.Path, "/status") {
						h = w.StatusHandler()
					}
					req := httptest.NewRequest(http.MethodPost, tc.target, strings.NewReader(tc.body))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					req.Header.Set("X-Twilio-Signature", tc.sig)
					rec := serve(h, req)
					if got := rec.Code != http.StatusForbidden; got != tc.ok {
						t.Errorf("%s: status %d, body %s", tc.name, rec.Code, rec.Body.String())
					}
					if !tc.ok {
						if e := decodeError(t, rec); e.Error.Code != "invalid_signature" {
							t.Errorf("%s: code %q, want invalid_signature", tc.name, e.Error.Code)
						}
						if n := len(pub.Messages()); n != 0 {
							t.Errorf("%s: %d records published for a refused request", tc.name, n)
						}
					}
				})
			}
		})
	}
}

// flip changes the signature's first character, keeping it base64.
func flip(sig string) string {
	if sig == "" {
		return "A"
	}
	c := byte('A')
	if sig[0] == 'A' {
		c = 'B'
	}
	return string(c) + sig[1:]
}

package blob_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway/blob"
)

var (
	signKey  = []byte("0123456789abcdef0123456789abcdef")
	otherKey = []byte("fedcba9876543210fedcba9876543210")
)

func newSigner(t *testing.T, clock *fakeClock, mutate ...func(*blob.SignerOptions)) *blob.Signer {
	t.Helper()
	o := blob.SignerOptions{Key: signKey, BaseURL: "https://chat.example.com/", TTL: 10 * time.Minute, Now: clock.Now}
	for _, m := range mutate {
		m(&o)
	}
	s, err := blob.NewSigner(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// signedParts splits a signed URL into its id and query.
func signedParts(t *testing.T, raw string) (string, url.Values) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	id, ok := strings.CutPrefix(u.Path, "/v1/media/")
	if !ok {
		t.Fatalf("path %q", u.Path)
	}
	id, ok = strings.CutSuffix(id, "/content")
	if !ok {
		t.Fatalf("path %q", u.Path)
	}
	return id, u.Query()
}

func TestR40_SignedMediaURLs(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	clock := newClock(start)
	s := newSigner(t, clock)
	raw, exp, err := s.URL("m_42")
	if err != nil {
		t.Fatal(err)
	}
	wantExp := start.Add(10 * time.Minute)
	if !exp.Equal(wantExp) {
		t.Fatalf("expires %v, want %v", exp, wantExp)
	}
	if !strings.HasPrefix(raw, "https://chat.example.com/v1/media/m_42/content?expires=1795338600&sig=") {
		t.Fatalf("URL %q", raw)
	}
	id, q := signedParts(t, raw)

	tamper := func(key, value string) url.Values {
		c := url.Values{}
		for k, v := range q {
			c[k] = append([]string(nil), v...)
		}
		c.Set(key, value)
		return c
	}
	sig := q.Get("sig")
	flipped := []byte(sig)
	flipped[3] ^= 1 // still base64url, another MAC
	cases := []struct {
		name  string
		id    string
		query url.Values
		at    time.Duration // since start
		want  error
	}{
		{"valid", id, q, 0, nil},
		{"valid just before expiry", id, q, 10*time.Minute - time.Second, nil},
		{"expired at expiry", id, q, 10 * time.Minute, blob.ErrURLExpired},
		{"expired later", id, q, 24 * time.Hour, blob.ErrURLExpired},
		{"other id", "m_43", q, 0, blob.ErrURLInvalid},
		{"id with traversal", "../m_42", q, 0, blob.ErrURLInvalid},
		{"expiry moved later", id, tamper("expires", "1795342200"), 0, blob.ErrURLInvalid},
		{"expiry with leading zero", id, tamper("expires", "0"+q.Get("expires")), 0, blob.ErrURLInvalid},
		{"expiry not a number", id, tamper("expires", "soon"), 0, blob.ErrURLInvalid},
		{"signature changed", id, tamper("sig", string(flipped)), 0, blob.ErrURLInvalid},
		{"signature cut", id, tamper("sig", sig[:20]), 0, blob.ErrURLInvalid},
		{"signature not base64", id, tamper("sig", "!!!"), 0, blob.ErrURLInvalid},
		{"no signature", id, url.Values{"expires": q["expires"]}, 0, blob.ErrURLInvalid},
		{"no expiry", id, url.Values{"sig": q["sig"]}, 0, blob.ErrURLInvalid},
		{"two signatures", id, url.Values{"expires": q["expires"], "sig": {sig, sig}}, 0, blob.ErrURLInvalid},
		{"expired and tampered says invalid", "m_43", q, time.Hour, blob.ErrURLInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			at := newClock(start.Add(tc.at))
			v := newSigner(t, at)
			if err := v.Verify(tc.id, tc.query); !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}

	t.Run("wrong key", func(t *testing.T) {
		t.Parallel()
		v := newSigner(t, clock, func(o *blob.SignerOptions) { o.Key = otherKey })
		if err := v.Verify(id, q); !errors.Is(err, blob.ErrURLInvalid) {
			t.Fatalf("Verify = %v", err)
		}
	})
	t.Run("rotated key still verifies", func(t *testing.T) {
		t.Parallel()
		v := newSigner(t, clock, func(o *blob.SignerOptions) { o.Key, o.PreviousKeys = otherKey, [][]byte{signKey} })
		if err := v.Verify(id, q); err != nil {
			t.Fatalf("Verify = %v", err)
		}
	})
	t.Run("no token in the URL", func(t *testing.T) {
		t.Parallel()
		if strings.Contains(raw, string(signKey)) || strings.Contains(strings.ToLower(raw), "token") {
			t.Fatalf("URL %q carries a secret", raw)
		}
	})
}

func TestR40_SignerKeepsABasePath(t *testing.T) {
	t.Parallel()
	s := newSigner(t, newClock(time.Unix(1_800_000_000, 0)), func(o *blob.SignerOptions) { o.BaseURL = "https://example.com/chatgate" })
	raw, _, err := s.URL("abc")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(raw, "https://example.com/chatgate/v1/media/abc/content?") {
		t.Fatalf("URL %q", raw)
	}
}

func TestNewSignerChecksItsOptions(t *testing.T) {
	t.Parallel()
	for name, mutate := range map[string]func(*blob.SignerOptions){
		"short key":          func(o *blob.SignerOptions) { o.Key = []byte("short") },
		"short previous key": func(o *blob.SignerOptions) { o.PreviousKeys = [][]byte{[]byte("short")} },
		"no base URL":        func(o *blob.SignerOptions) { o.BaseURL = "" },
		"relative base URL":  func(o *blob.SignerOptions) { o.BaseURL = "/media" },
		"base URL query":     func(o *blob.SignerOptions) { o.BaseURL = "https://example.com/?a=b" },
		"base URL userinfo":  func(o *blob.SignerOptions) { o.BaseURL = "https://user:pw@example.com" },
		"ftp base URL":       func(o *blob.SignerOptions) { o.BaseURL = "ftp://example.com" },
		"negative TTL":       func(o *blob.SignerOptions) { o.TTL = -time.Minute },
		"TTL over a week":    func(o *blob.SignerOptions) { o.TTL = 8 * 24 * time.Hour },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			o := blob.SignerOptions{Key: signKey, BaseURL: "https://example.com"}
			mutate(&o)
			if _, err := blob.NewSigner(o); err == nil {
				t.Fatal("no error")
			}
		})
	}
	s, err := blob.NewSigner(blob.SignerOptions{Key: signKey, BaseURL: "https://example.com"})
	if err != nil || s.TTL() != blob.DefaultURLTTL {
		t.Fatalf("defaults: %v, %v", s, err)
	}
}

func TestR40_SignerRefusesIDsThatNeedEscaping(t *testing.T) {
	t.Parallel()
	s := newSigner(t, newClock(time.Unix(1_800_000_000, 0)))
	for _, id := range []string{"", ".", "..", "a/b", "a b", "a?b", "%2e", strings.Repeat("a", 129), "é"} {
		if _, _, err := s.URL(id); err == nil {
			t.Errorf("URL(%q): no error", id)
		}
	}
}

package blob

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Signed URL errors, for the handler that serves media to providers: both
// mean "refuse", but an expired URL is worth telling apart in logs.
var (
	// ErrURLExpired: the signature is right and its time is up.
	ErrURLExpired = errors.New("signed media URL expired")
	// ErrURLInvalid: no, a malformed or a wrong signature or expiry.
	ErrURLInvalid = errors.New("signed media URL invalid")
)

// Signed URL parameters and limits.
const (
	// QueryExpires carries the expiry in Unix seconds; QuerySig the
	// signature (unpadded base64url of an HMAC-SHA256).
	QueryExpires = "expires"
	QuerySig     = "sig"
	// DefaultURLTTL is how long a signed URL is valid by default: long
	// enough for Twilio or Meta to fetch the media a send names (they do
	// within seconds, and retry for a few minutes), short enough that a
	// URL copied out of a provider's log is soon useless.
	DefaultURLTTL = 15 * time.Minute
	// MaxURLTTL bounds the configurable validity.
	MaxURLTTL = 7 * 24 * time.Hour
	// MinSignerKeyBytes is the shortest HMAC key accepted (256 bits).
	MinSignerKeyBytes = 32
	// maxMediaIDLen bounds the id in a signed URL.
	maxMediaIDLen = 128
	// signContext separates these signatures from any other use of the key.
	signContext = "chatgate-media-url-v1"
)

// SignerOptions configure a Signer.
type SignerOptions struct {
	// Key signs new URLs (HMAC-SHA256); at least MinSignerKeyBytes bytes.
	Key []byte
	// PreviousKeys still verify, so a key can be rotated without breaking
	// the URLs issued just before.
	PreviousKeys [][]byte
	// BaseURL is chatgate's public URL as providers reach it
	// (CHATGATE_PUBLIC_URL), e.g. "https://chat.example.com"; a path is
	// kept ("https://example.com/chatgate").
	BaseURL string
	// TTL is how long a URL is valid; default DefaultURLTTL, at most
	// MaxURLTTL.
	TTL time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Signer makes the short-lived URLs that providers fetch outbound media
// from (R40): <base>/v1/media/{id}/content?expires=<unix>&sig=<hmac>. The
// signature covers the id and the expiry, so neither can be changed, and
// the URL holds no bearer token: a leaked URL gives that one file until it
// expires, nothing else.
type Signer struct {
	keys [][]byte
	base string
	ttl  time.Duration
	now  func() time.Time
}

// NewSigner checks the options and returns a Signer.
func NewSigner(o SignerOptions) (*Signer, error) {
	if len(o.Key) < MinSignerKeyBytes {
		return nil, fmt.Errorf("media URL signer: key is %d bytes, want at least %d", len(o.Key), MinSignerKeyBytes)
	}
	keys := [][]byte{append([]byte(nil), o.Key...)}
	for i, k := range o.PreviousKeys {
		if len(k) < MinSignerKeyBytes {
			return nil, fmt.Errorf("media URL signer: previous key %d is %d bytes, want at least %d", i, len(k), MinSignerKeyBytes)
		}
		keys = append(keys, append([]byte(nil), k...))
	}
	u, err := url.Parse(o.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("media URL signer: base URL %q: want http(s)://host[/path] without query or credentials", o.BaseURL)
	}
	switch {
	case o.TTL == 0:
		o.TTL = DefaultURLTTL
	case o.TTL < time.Second || o.TTL > MaxURLTTL:
		return nil, fmt.Errorf("media URL signer: TTL %s is not between 1s and %s", o.TTL, MaxURLTTL)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Signer{keys: keys, base: strings.TrimRight(o.BaseURL, "/"), ttl: o.TTL, now: o.Now}, nil
}

// TTL is how long the URLs this Signer makes are valid.
func (s *Signer) TTL() time.Duration { return s.ttl }

// URL returns the signed URL of media id and when it expires. The id is
// chosen by the caller (the media id of the desk API); it must be 1–128
// characters from A–Z a–z 0–9 . _ ~ - (but not "." or ".."), so that it
// stands in a path unescaped and means the same to every router.
func (s *Signer) URL(id string) (string, time.Time, error) {
	if err := checkMediaID(id); err != nil {
		return "", time.Time{}, err
	}
	exp := s.now().Add(s.ttl).Truncate(time.Second)
	expires := strconv.FormatInt(exp.Unix(), 10)
	sig := base64.RawURLEncoding.EncodeToString(mac(s.keys[0], id, expires))
	return s.base + "/v1/media/" + id + "/content?" + QueryExpires + "=" + expires + "&" + QuerySig + "=" + sig, exp, nil
}

// Verify checks the expires and sig parameters of a request for media id:
// ErrURLInvalid unless the signature is one of this Signer's keys' over
// exactly this id and expiry (compared in constant time), ErrURLExpired if
// it is and the expiry has passed.
func (s *Signer) Verify(id string, query url.Values) error {
	if checkMediaID(id) != nil || len(query[QueryExpires]) != 1 || len(query[QuerySig]) != 1 {
		return ErrURLInvalid
	}
	expires, sigText := query.Get(QueryExpires), query.Get(QuerySig)
	exp, ok := parseUnix(expires)
	if !ok {
		return ErrURLInvalid
	}
	sig, err := base64.RawURLEncoding.DecodeString(sigText)
	if err != nil || len(sig) != sha256.Size {
		return ErrURLInvalid
	}
	valid := false
	for _, k := range s.keys {
		// Every key is tried, so the time taken does not say which matched.
		if hmac.Equal(sig, mac(k, id, expires)) {
			valid = true
		}
	}
	if !valid {
		return ErrURLInvalid
	}
	if !s.now().Before(time.Unix(exp, 0)) {
		return ErrURLExpired
	}
	return nil
}

func mac(key []byte, id, expires string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(signContext + "\n" + id + "\n" + expires))
	return h.Sum(nil)
}

// parseUnix accepts canonical decimal Unix seconds only: no sign, no
// leading zeros, no spaces, so one expiry has exactly one spelling.
func parseUnix(s string) (int64, bool) {
	if s == "" || len(s) > 12 || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

func checkMediaID(id string) error {
	if id == "" || len(id) > maxMediaIDLen || id == "." || id == ".." {
		return fmt.Errorf("media id %q: want 1-%d of A-Z a-z 0-9 . _ ~ -", id, maxMediaIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '~' || c == '-') {
			return fmt.Errorf("media id %q: want 1-%d of A-Z a-z 0-9 . _ ~ -", id, maxMediaIDLen)
		}
	}
	return nil
}

package cloudapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
)

// HeaderSignature carries Meta's signature of a webhook body:
// "sha256=" and the hex HMAC-SHA256 of the raw body keyed with the app secret.
const HeaderSignature = "X-Hub-Signature-256"

const signaturePrefix = "sha256="

// Errors of VerifySignature, for logs; the webhook answers all of them 403.
var (
	ErrSignatureMissing   = errors.New("X-Hub-Signature-256 is missing")
	ErrSignatureMalformed = errors.New(`X-Hub-Signature-256 is not "sha256=" and 64 hex digits`)
	ErrSignatureMismatch  = errors.New("X-Hub-Signature-256 does not match the body")
)

// Sign returns the X-Hub-Signature-256 value of body under appSecret, as
// Meta computes it (for tests and stand-ins).
func Sign(appSecret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(appSecret))
	m.Write(body)
	return signaturePrefix + hex.EncodeToString(m.Sum(nil))
}

// VerifySignature checks header (the X-Hub-Signature-256 value) against
// body, in constant time once the header has the right shape.
func VerifySignature(appSecret string, body []byte, header string) error {
	if header == "" {
		return ErrSignatureMissing
	}
	hexSig, ok := strings.CutPrefix(header, signaturePrefix)
	if !ok || len(hexSig) != 2*sha256.Size {
		return ErrSignatureMalformed
	}
	got := make([]byte, sha256.Size)
	if _, err := hex.Decode(got, []byte(hexSig)); err != nil {
		return ErrSignatureMalformed
	}
	m := hmac.New(sha256.New, []byte(appSecret))
	m.Write(body)
	if !hmac.Equal(got, m.Sum(nil)) {
		return ErrSignatureMismatch
	}
	return nil
}

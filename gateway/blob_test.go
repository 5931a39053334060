package gateway_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/chatgate/chatgate/gateway"
)

func TestR39_MediaKindOf(t *testing.T) {
	t.Parallel()
	for ct, want := range map[string]gateway.MediaKind{
		"image/jpeg":                gateway.MediaImage,
		"image/heic":                gateway.MediaImage,
		"IMAGE/PNG":                 gateway.MediaImage,
		"image/webp":                gateway.MediaSticker,
		"image/svg+xml":             gateway.MediaDocument,
		"audio/ogg; codecs=opus":    gateway.MediaAudio,
		"audio/amr":                 gateway.MediaAudio,
		"video/3gpp":                gateway.MediaVideo,
		"video/mp4":                 gateway.MediaVideo,
		"application/pdf":           gateway.MediaDocument,
		"text/vcard":                gateway.MediaDocument,
		"text/plain; charset=utf-8": gateway.MediaDocument,
		"":                          gateway.MediaDocument,
		"not a type":                gateway.MediaDocument,
	} {
		if got := gateway.MediaKindOf(ct); got != want {
			t.Errorf("MediaKindOf(%q) = %q, want %q", ct, got, want)
		}
	}
}

func TestValidBlobID(t *testing.T) {
	t.Parallel()
	sha := strings.Repeat("0123456789abcdef", 4)
	for id, want := range map[string]bool{
		sha:                     true,
		strings.ToUpper(sha):    false,
		sha[:63]:                false,
		sha + "0":               false,
		"":                      false,
		"../" + sha[3:]:         false,
		sha[:62] + "g0":         false,
		strings.Repeat("/", 64): false,
	} {
		if got := gateway.ValidBlobID(id); got != want {
			t.Errorf("ValidBlobID(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestBlobTooLargeErrorIsErrBlobTooLarge(t *testing.T) {
	t.Parallel()
	err := fmt.Errorf("store blob: %w", &gateway.BlobTooLargeError{Limit: 5 << 20})
	if !errors.Is(err, gateway.ErrBlobTooLarge) {
		t.Fatal("errors.Is is false")
	}
	if errors.Is(err, gateway.ErrBlobNotFound) {
		t.Fatal("it is also not found")
	}
	if !strings.Contains(err.Error(), "5242880") {
		t.Fatalf("message %q does not say the limit", err)
	}
}

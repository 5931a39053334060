package blob_test

import (
	"mime"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/blob"
)

// Run with: go test -run '^$' -fuzz FuzzSniff ./gateway/blob/ (the seed
// corpus, testdata/fuzz/FuzzSniff and testdata/media, runs in every go test).
func FuzzSniff(f *testing.F) {
	entries, err := os.ReadDir(filepath.Join("testdata", "media"))
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("testdata", "media", e.Name()))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[:min(len(b), 256)], "application/octet-stream")
	}
	f.Fuzz(func(t *testing.T, data []byte, declared string) {
		ct := blob.Sniff(data, declared)
		if _, _, err := mime.ParseMediaType(ct); err != nil {
			t.Fatalf("Sniff = %q, not a media type: %v", ct, err)
		}
		if again := blob.Sniff(data, declared); again != ct {
			t.Fatalf("not deterministic: %q then %q", ct, again)
		}
		if len(data) > blob.SniffLen {
			if head := blob.Sniff(data[:blob.SniffLen], declared); head != ct {
				t.Fatalf("looked past SniffLen: %q vs %q on the head", ct, head)
			}
		}
		// A declared type only ever names a container the bytes cannot
		// tell apart; it never makes unknown bytes something else.
		if plain := blob.Sniff(data, ""); plain != ct {
			ok := (plain == "application/x-ole-storage" && strings.HasPrefix(ct, "application/")) ||
				(plain == "text/plain; charset=utf-8" && strings.HasPrefix(ct, "text/"))
			if !ok {
				t.Fatalf("declared %q turned %q into %q", declared, plain, ct)
			}
		}
		_ = gateway.MediaKindOf(ct)
	})
}

// Run with: go test -run '^$' -fuzz FuzzSanitizeFileName ./gateway/blob/
func FuzzSanitizeFileName(f *testing.F) {
	for _, s := range []string{
		"receipt.pdf", "../../etc/passwd", `C:\x\y.jpg`, "photo\u202Egpj.exe", ".bashrc", "CON.txt",
		"a\x00b", strings.Repeat("ü", 300) + ".docx", "...", "caf\xe9", " . ",
	} {
		f.Add(s, "application/pdf")
	}
	f.Fuzz(func(t *testing.T, name, contentType string) {
		got := blob.SanitizeFileName(name, contentType)
		switch {
		case got == "":
			t.Fatal("empty")
		case !utf8.ValidString(got):
			t.Fatalf("%q is not UTF-8", got)
		case len(got) > blob.MaxFileNameBytes:
			t.Fatalf("%d bytes", len(got))
		case strings.ContainsAny(got, `/\<>:"|?*`):
			t.Fatalf("%q has a separator or reserved character", got)
		case strings.HasPrefix(got, ".") || strings.HasPrefix(got, " "):
			t.Fatalf("%q starts with a dot or space", got)
		case strings.HasSuffix(got, ".") || strings.HasSuffix(got, " "):
			t.Fatalf("%q ends with a dot or space", got)
		}
		for _, r := range got {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError {
				t.Fatalf("%q holds %U", got, r)
			}
		}
		if again := blob.SanitizeFileName(got, contentType); again != got {
			t.Fatalf("not idempotent: %q then %q", got, again)
		}
	})
}

package blob_test

import (
	"strings"
	"testing"

	"github.com/chatgate/chatgate/gateway/blob"
)

func TestR39_SanitizeFileName(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("ü", 200) // 400 bytes
	cases := []struct {
		name, in, contentType, want string
	}{
		{"plain name kept", "Invoice 2026-11.pdf", "application/pdf", "Invoice 2026-11.pdf"},
		{"unicode kept", "Quittung Müller – Nov.pdf", "application/pdf", "Quittung Müller – Nov.pdf"},
		{"unix path", "../../etc/passwd", "text/plain", "passwd"},
		{"windows path", `C:\Users\thandi\Desktop\receipt.jpg`, "image/jpeg", "receipt.jpg"},
		{"trailing slash", "photos/", "image/jpeg", "photos"},
		{"leading dots", "...hidden.txt", "text/plain", "hidden.txt"},
		{"dotfile", ".bashrc", "text/plain", "bashrc"},
		{"trailing dots and spaces", "report.pdf. . ", "application/pdf", "report.pdf"},
		{"NUL and controls dropped", "evil\x00name\x1b[31m.txt", "text/plain", "evilname[31m.txt"},
		{"newlines dropped", "a\r\nb.txt", "text/plain", "ab.txt"},
		{"right-to-left override dropped", "photo\u202Egpj.exe", "application/octet-stream", "photogpj.exe"},
		{"zero-width space dropped", "in\u200Bvoice.pdf", "application/pdf", "invoice.pdf"},
		{"invalid UTF-8 replaced", "caf\xe9.txt", "text/plain", "caf_.txt"},
		{"reserved characters", `what?<is>"this":*|.txt`, "text/plain", "what__is__this____.txt"},
		{"exotic spaces folded", "a\u00A0\u3000  b.txt", "text/plain", "a b.txt"},
		{"windows device name", "CON.txt", "text/plain", "_CON.txt"},
		{"windows device name, any case", "lpt1", "text/plain", "_lpt1"},
		{"empty from sniffed image", "", "image/jpeg", "image.jpg"},
		{"empty from sniffed voice note", "", "audio/ogg", "audio.ogg"},
		{"empty from sniffed sticker", "", "image/webp", "sticker.webp"},
		{"empty from sniffed docx", "", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "document.docx"},
		{"empty from unknown type", "", "application/x-whatever", "document.bin"},
		{"only dots", "....", "application/pdf", "document.pdf"},
		{"only a path", "/../", "image/png", "image.png"},
		{"extension kept when cut", long + ".pdf", "application/pdf", strings.Repeat("ü", 125) + ".pdf"},
		{"no extension, cut on a rune", strings.Repeat("ü", 300), "text/plain", strings.Repeat("ü", 127)},
		{"long extension is not kept whole", "a." + strings.Repeat("x", 300), "text/plain", "a." + strings.Repeat("x", 253)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := blob.SanitizeFileName(tc.in, tc.contentType)
			if got != tc.want {
				t.Fatalf("SanitizeFileName(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if len(got) > blob.MaxFileNameBytes {
				t.Fatalf("%d bytes", len(got))
			}
			if again := blob.SanitizeFileName(got, tc.contentType); again != got {
				t.Fatalf("not idempotent: %q then %q", got, again)
			}
		})
	}
}

func TestExtension(t *testing.T) {
	t.Parallel()
	for ct, want := range map[string]string{
		"image/jpeg":                 ".jpg",
		"audio/ogg; codecs=opus":     ".ogg",
		"text/plain; charset=utf-8":  ".txt",
		"text/vcard":                 ".vcf",
		"application/x-unknown-type": ".bin",
		"garbage":                    ".bin",
	} {
		if got := blob.Extension(ct); got != want {
			t.Errorf("Extension(%q) = %q, want %q", ct, got, want)
		}
	}
}

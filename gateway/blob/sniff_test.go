package blob_test

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/chatgate/chatgate/gateway/blob"
)

// TestR39_SniffRealMedia sniffs files real encoders wrote (testdata/media).
func TestR39_SniffRealMedia(t *testing.T) {
	t.Parallel()
	for file, want := range map[string]string{
		"voice-note.ogg":   "audio/ogg",
		"audio-vorbis.ogg": "audio/ogg",
		"video-theora.ogv": "video/ogg",
		"audio-id3.mp3":    "audio/mpeg",
		"audio-noid3.mp3":  "audio/mpeg",
		"audio.aac":        "audio/aac",
		"audio.m4a":        "audio/mp4",
		"audio.flac":       "audio/flac",
		"audio.wav":        "audio/wave",
		"video.mp4":        "video/mp4",
		"video.mov":        "video/quicktime",
		"video.3gp":        "video/3gpp",
		"video.3g2":        "video/3gpp2",
		"video.webm":       "video/webm",
		"sticker.webp":     "image/webp",
		"photo.jpg":        "image/jpeg",
		"image.png":        "image/png",
		"image.gif":        "image/gif",
		"image.tiff":       "image/tiff",
	} {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			b, err := os.ReadFile(filepath.Join("testdata", "media", file))
			if err != nil {
				t.Fatal(err)
			}
			// Declared as something else: the bytes decide.
			if got := blob.Sniff(b, "application/octet-stream"); got != want {
				t.Fatalf("Sniff = %q, want %q", got, want)
			}
		})
	}
}

// officeZip builds an Office Open XML or OpenDocument file as Word,
// LibreOffice or a streaming writer lays it out.
func officeZip(t *testing.T, mimetype string, names ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	if mimetype != "" {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: "mimetype", Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(mimetype)); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range names {
		w, err := zw.Create(name) // deflated, sizes in a data descriptor
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(bytes.Repeat([]byte(`<?xml version="1.0"?><x/>`), 40)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestR39_SniffSignatures(t *testing.T) {
	t.Parallel()
	ole := []byte("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\x00\x00\x00\x00\x00\x00\x00\x00")
	cases := []struct {
		name     string
		data     []byte
		declared string
		want     string
	}{
		{"amr", []byte("#!AMR\n\x3c\x48\xf5\x1f"), "", "audio/amr"},
		{"amr-wb", []byte("#!AMR-WB\n\x04\x10"), "", "audio/amr-wb"},
		{"heic from an iPhone", []byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"), "image/jpeg", "image/heic"},
		{"heif with heic brand", []byte("\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic"), "", "image/heic"},
		{"plain heif", []byte("\x00\x00\x00\x14ftypmif1\x00\x00\x00\x00mif1"), "", "image/heif"},
		{"avif", []byte("\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf"), "", "image/avif"},
		{"mp4 with an mp42 brand", []byte("\x00\x00\x00\x18ftypXYZ1\x00\x00\x00\x00mp42isom"), "", "video/mp4"},
		{"pdf", []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"), "application/octet-stream", "application/pdf"},
		{"docx, Word's order", officeZip(t, "", "[Content_Types].xml", "_rels/.rels", "word/document.xml"), "", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
		{"docx, LibreOffice's order", officeZip(t, "", "_rels/.rels", "docProps/app.xml", "word/styles.xml", "[Content_Types].xml"), "", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
		{"xlsx", officeZip(t, "", "[Content_Types].xml", "_rels/.rels", "xl/workbook.xml"), "application/zip", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
		{"pptx", officeZip(t, "", "[Content_Types].xml", "_rels/.rels", "ppt/presentation.xml"), "", "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
		{"odt", officeZip(t, "application/vnd.oasis.opendocument.text", "content.xml"), "", "application/vnd.oasis.opendocument.text"},
		{"ods", officeZip(t, "application/vnd.oasis.opendocument.spreadsheet", "content.xml"), "", "application/vnd.oasis.opendocument.spreadsheet"},
		{"odt template is just a zip", officeZip(t, "application/vnd.oasis.opendocument.text-template", "content.xml"), "", "application/zip"},
		{"other zip", officeZip(t, "", "photos/1.jpg", "photos/2.jpg"), "", "application/zip"},
		{"vcard", []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Thandi\r\nEND:VCARD\r\n"), "text/plain", "text/vcard"},
		{"vcard with BOM, lower case", []byte("\xEF\xBB\xBF\r\nbegin:vcard\nversion:4.0\n"), "", "text/vcard"},
		{"calendar", []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"), "", "text/calendar"},
		{"legacy Word, declared", ole, "application/msword", "application/msword"},
		{"legacy Excel, declared with parameters", ole, "application/vnd.ms-excel; name=a.xls", "application/vnd.ms-excel"},
		{"OLE declared as a photo", ole, "image/jpeg", "application/x-ole-storage"},
		{"csv, declared", []byte("name,amount\nThandi,12\n"), "text/csv", "text/csv; charset=utf-8"},
		{"text declared as html stays text", []byte("hello"), "text/html", "text/plain; charset=utf-8"},
		{"a program disguised as a pdf", []byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"), "application/pdf", "application/octet-stream"},
		{"an ELF disguised as a photo", []byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00"), "image/jpeg", "application/octet-stream"},
		{"html is not an image", []byte("<!DOCTYPE html><html><script>alert(1)</script>"), "image/png", "text/html; charset=utf-8"},
		{"0xFF bytes are not mp3", []byte("\xFF\xFF\xFF\xFF\xFF\xFF"), "audio/mpeg", "text/plain"},
		{"latin-1 text is not utf-8", []byte("caf\xe9 cr\xe8me"), "", "text/plain"},
		{"utf-8 cut in a character", append(bytes.Repeat([]byte("a"), blob.SniffLen-1), "é"...), "", "text/plain; charset=utf-8"},
		{"short ogg", []byte("OggS"), "", "audio/ogg"},
		{"empty", nil, "image/jpeg", "text/plain; charset=utf-8"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := blob.Sniff(tc.data, tc.declared); got != tc.want {
				t.Fatalf("Sniff = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSniffLooksAtSniffLenBytesOnly(t *testing.T) {
	t.Parallel()
	// A docx whose word/ entry starts past SniffLen is only a zip: the
	// limit is real, and Sniff does not read the whole content.
	padding := bytes.Repeat([]byte{'x'}, blob.SniffLen)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "[Content_Types].xml", Method: zip.Store})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(padding); err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Create("word/document.xml"); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if got := blob.Sniff(buf.Bytes(), ""); got != "application/zip" {
		t.Fatalf("Sniff = %q", got)
	}
}

package blob

import (
	"bytes"
	"encoding/binary"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"
)

// SniffLen is how many leading bytes Sniff looks at. net/http's sniffer
// needs 512; Office documents need more, because the entry that tells a
// Word file from a spreadsheet (word/…, xl/…) may come after a few other
// zip entries.
const SniffLen = 16 << 10

// Content types Sniff returns beyond net/http's.
const (
	typeOctetStream = "application/octet-stream"
	typeUTF8Text    = "text/plain; charset=utf-8"
	typeZip         = "application/zip"
	typeOLE         = "application/x-ole-storage"
	typeDocx        = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	typeXlsx        = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	typePptx        = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
	typeVCard       = "text/vcard"
	typeCalendar    = "text/calendar"
)

// Sniff returns the content type of content that starts with head (at
// most SniffLen bytes are looked at). It knows what WhatsApp and Twilio
// send that net/http.DetectContentType does not: Ogg/Opus voice notes,
// MP3 without ID3, AAC, AMR, the ISO media family (MP4, 3GPP, M4A, HEIC,
// AVIF, QuickTime), FLAC, TIFF, Office Open XML and OpenDocument files,
// vCards and calendars.
//
// declared, the type the sender claimed, is only used to name a container
// the bytes cannot tell apart: an OLE2 compound file declared as a legacy
// Word, Excel or PowerPoint file, or text declared as CSV. A declared type
// never turns unknown bytes into a known type, so a program declared as a
// PDF stays application/octet-stream.
func Sniff(head []byte, declared string) string {
	if len(head) > SniffLen {
		head = head[:SniffLen]
	}
	ct := sniffSignature(head)
	if ct == "" {
		ct = http.DetectContentType(head)
	}
	if ct == typeUTF8Text && !validUTF8Prefix(head) {
		// net/http calls any text without control bytes UTF-8; Latin-1
		// or random high bytes are not.
		ct = "text/plain"
	}
	return refine(ct, declared)
}

// validUTF8Prefix reports whether b is valid UTF-8, but for a character
// cut off at its end (b may be the first SniffLen bytes of more).
func validUTF8Prefix(b []byte) bool {
	for i := 0; i < utf8.UTFMax && len(b) > 0; i++ {
		if utf8.Valid(b) {
			return true
		}
		b = b[:len(b)-1]
	}
	return utf8.Valid(b)
}

// sniffSignature knows the signatures net/http does not, or names
// differently; "" lets net/http decide.
func sniffSignature(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte("OggS")):
		return sniffOgg(b)
	case bytes.HasPrefix(b, []byte("#!AMR-WB\n")):
		return "audio/amr-wb"
	case bytes.HasPrefix(b, []byte("#!AMR\n")):
		return "audio/amr"
	case bytes.HasPrefix(b, []byte("fLaC")):
		return "audio/flac"
	case bytes.HasPrefix(b, []byte("ADIF")):
		return "audio/aac"
	case bytes.HasPrefix(b, []byte("II*\x00")), bytes.HasPrefix(b, []byte("MM\x00*")):
		return "image/tiff"
	case bytes.HasPrefix(b, []byte("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1")):
		return typeOLE
	case bytes.HasPrefix(b, []byte("PK\x03\x04")):
		return sniffZip(b)
	}
	if len(b) >= 12 && string(b[4:8]) == "ftyp" {
		if ct := sniffISOMedia(b); ct != "" {
			return ct
		}
	}
	if ct := sniffMPEGAudio(b); ct != "" {
		return ct
	}
	return sniffText(b)
}

// sniffOgg tells audio from video by the codec of the first packet, which
// follows the first page's header (27 bytes and a segment table).
func sniffOgg(b []byte) string {
	if len(b) > 26 {
		packet := b[min(len(b), 27+int(b[26])):]
		if bytes.HasPrefix(packet, []byte("\x80theora")) {
			return "video/ogg"
		}
	}
	// Opus (voice notes), Vorbis, Speex, FLAC, or too short to tell: in a
	// chat an Ogg file is audio.
	return "audio/ogg"
}

// sniffMPEGAudio recognises an MPEG audio frame header (MP3 without an
// ID3 tag) or an AAC ADTS header at the start.
func sniffMPEGAudio(b []byte) string {
	if len(b) < 4 || b[0] != 0xFF || b[1]&0xE0 != 0xE0 {
		return ""
	}
	if b[1]&0xF6 == 0xF0 { // 12-bit sync, layer 00: ADTS
		if (b[2]>>2)&0x0F > 12 { // sampling frequency index 13-15 is reserved
			return ""
		}
		return "audio/aac"
	}
	version, layer := (b[1]>>3)&3, (b[1]>>1)&3
	bitrate, rate := b[2]>>4, (b[2]>>2)&3
	if version == 1 || layer == 0 || bitrate == 0x0F || rate == 3 { // reserved values
		return ""
	}
	return "audio/mpeg"
}

// sniffISOMedia reads the brands of an ISO base media file's ftyp box.
func sniffISOMedia(b []byte) string {
	size := int(binary.BigEndian.Uint32(b[:4]))
	if size < 16 || size > len(b) {
		size = len(b)
	}
	major := string(b[8:12])
	var compatible []string
	for i := 16; i+4 <= size; i += 4 {
		compatible = append(compatible, string(b[i:i+4]))
	}
	has := func(brands ...string) bool {
		for _, c := range compatible {
			for _, br := range brands {
				if c == br {
					return true
				}
			}
		}
		return false
	}
	switch {
	case major == "heic" || major == "heix" || major == "heim" || major == "heis":
		return "image/heic"
	case major == "hevc" || major == "hevx" || major == "hevm" || major == "hevs":
		return "image/heic-sequence"
	case major == "avif" || major == "avis":
		return "image/avif"
	case major == "mif1" || major == "msf1":
		switch {
		case has("heic", "heix"):
			return "image/heic"
		case has("avif"):
			return "image/avif"
		}
		return "image/heif"
	case strings.HasPrefix(major, "3g2"):
		return "video/3gpp2"
	case strings.HasPrefix(major, "3gp"), strings.HasPrefix(major, "3gg"),
		strings.HasPrefix(major, "3ge"), strings.HasPrefix(major, "3gs"), strings.HasPrefix(major, "3gr"):
		return "video/3gpp"
	case major == "M4A " || major == "M4B " || major == "M4P " || major == "F4A " || major == "F4B ":
		return "audio/mp4"
	case major == "qt  ":
		return "video/quicktime"
	case major == "crx ": // Canon raw photos share the box layout
		return ""
	case strings.HasPrefix(major, "iso"), strings.HasPrefix(major, "mp4"), major == "avc1", major == "M4V ",
		major == "M4VH", major == "M4VP", major == "dash", major == "mmp4", major == "MSNV", major == "NDAS",
		major == "f4v ", major == "kddi", has("isom", "mp41", "mp42"):
		return "video/mp4"
	}
	return ""
}

// sniffZip tells Office Open XML and OpenDocument files from other zip
// archives by the names of the entries in head. It scans for local file
// headers rather than walking them, because writers that stream (data
// descriptors) leave the sizes in the headers zero.
func sniffZip(b []byte) string {
	const localHeader = "PK\x03\x04"
	for off := 0; ; {
		i := bytes.Index(b[off:], []byte(localHeader))
		if i < 0 {
			return typeZip
		}
		h := b[off+i:]
		off += i + len(localHeader)
		if len(h) < 30 {
			return typeZip
		}
		nameLen := int(binary.LittleEndian.Uint16(h[26:28]))
		extraLen := int(binary.LittleEndian.Uint16(h[28:30]))
		if nameLen == 0 || 30+nameLen > len(h) {
			continue
		}
		name := string(h[30 : 30+nameLen])
		switch {
		case strings.HasPrefix(name, "word/"):
			return typeDocx
		case strings.HasPrefix(name, "xl/"):
			return typeXlsx
		case strings.HasPrefix(name, "ppt/"):
			return typePptx
		case name == "mimetype" && binary.LittleEndian.Uint16(h[8:10]) == 0: // stored, per the ODF spec
			data := h[min(len(h), 30+nameLen+extraLen):]
			for _, t := range []string{
				"application/vnd.oasis.opendocument.text",
				"application/vnd.oasis.opendocument.spreadsheet",
				"application/vnd.oasis.opendocument.presentation",
				"application/epub+zip",
			} {
				// The template variants (…-template) share a prefix; match whole.
				if bytes.HasPrefix(data, []byte(t)) && !bytes.HasPrefix(data[len(t):], []byte("-")) {
					return t
				}
			}
		}
	}
}

// sniffText recognises vCards and calendars, which net/http calls plain
// text. Shared contacts arrive as .vcf files on every channel.
func sniffText(b []byte) string {
	t := bytes.TrimPrefix(b, []byte("\xEF\xBB\xBF"))
	t = bytes.TrimLeft(t, " \t\r\n")
	if len(t) > 16 {
		t = t[:16]
	}
	switch upper := strings.ToUpper(string(t)); {
	case strings.HasPrefix(upper, "BEGIN:VCARD"):
		return typeVCard
	case strings.HasPrefix(upper, "BEGIN:VCALENDAR"):
		return typeCalendar
	}
	return ""
}

// refine lets the declared type name a container the bytes cannot tell
// apart (see Sniff).
func refine(sniffed, declared string) string {
	d, _, err := mime.ParseMediaType(declared)
	if err != nil {
		d = ""
	}
	switch sniffed {
	case typeOLE:
		switch d {
		case "application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint",
			"application/vnd.ms-outlook", "application/vnd.visio":
			return d
		}
	case typeUTF8Text:
		if d == "text/csv" || d == "text/tab-separated-values" {
			return d + "; charset=utf-8"
		}
	}
	return sniffed
}

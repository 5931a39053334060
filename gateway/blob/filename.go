package blob

import (
	"mime"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/chatgate/chatgate/gateway"
)

// MaxFileNameBytes bounds a sanitised file name: what every common
// filesystem accepts as one path component.
const MaxFileNameBytes = 255

// maxExtBytes is the longest extension kept whole when a name is cut.
const maxExtBytes = 16

// extensions names files of the content types Sniff returns. It is ours
// rather than mime.ExtensionsByType's, which depends on the machine's
// mime.types and so differs between hosts.
var extensions = map[string]string{
	"image/jpeg":                    ".jpg",
	"image/png":                     ".png",
	"image/gif":                     ".gif",
	"image/webp":                    ".webp",
	"image/bmp":                     ".bmp",
	"image/tiff":                    ".tiff",
	"image/heic":                    ".heic",
	"image/heic-sequence":           ".heics",
	"image/heif":                    ".heif",
	"image/avif":                    ".avif",
	"image/x-icon":                  ".ico",
	"audio/ogg":                     ".ogg",
	"audio/mpeg":                    ".mp3",
	"audio/aac":                     ".aac",
	"audio/mp4":                     ".m4a",
	"audio/amr":                     ".amr",
	"audio/amr-wb":                  ".awb",
	"audio/flac":                    ".flac",
	"audio/wave":                    ".wav",
	"audio/aiff":                    ".aiff",
	"audio/basic":                   ".au",
	"audio/midi":                    ".mid",
	"video/mp4":                     ".mp4",
	"video/3gpp":                    ".3gp",
	"video/3gpp2":                   ".3g2",
	"video/quicktime":               ".mov",
	"video/webm":                    ".webm",
	"video/ogg":                     ".ogv",
	"video/avi":                     ".avi",
	"application/pdf":               ".pdf",
	typeDocx:                        ".docx",
	typeXlsx:                        ".xlsx",
	typePptx:                        ".pptx",
	"application/msword":            ".doc",
	"application/vnd.ms-excel":      ".xls",
	"application/vnd.ms-powerpoint": ".ppt",
	"application/vnd.oasis.opendocument.text":         ".odt",
	"application/vnd.oasis.opendocument.spreadsheet":  ".ods",
	"application/vnd.oasis.opendocument.presentation": ".odp",
	"application/epub+zip":                            ".epub",
	typeZip:                                           ".zip",
	"application/x-gzip":                              ".gz",
	"application/x-rar-compressed":                    ".rar",
	"application/wasm":                                ".wasm",
	"application/postscript":                          ".ps",
	"font/woff":                                       ".woff",
	"font/woff2":                                      ".woff2",
	"font/ttf":                                        ".ttf",
	"font/otf":                                        ".otf",
	typeVCard:                                         ".vcf",
	typeCalendar:                                      ".ics",
	"text/plain":                                      ".txt",
	"text/csv":                                        ".csv",
	"text/tab-separated-values":                       ".tsv",
	"text/html":                                       ".html",
	"text/xml":                                        ".xml",
}

// Extension returns the file extension (with its dot) of a content type,
// ".bin" when it has none of its own.
func Extension(contentType string) string {
	mt, _, err := mime.ParseMediaType(contentType)
	if err == nil {
		if ext, ok := extensions[mt]; ok {
			return ext
		}
	}
	return ".bin"
}

// windowsReserved are names Windows refuses for a file whatever the
// extension; an agent saving the download there would get an error.
var windowsReserved = map[string]bool{
	"CON": true, "PRN": true, "AUX": true, "NUL": true,
	"COM1": true, "COM2": true, "COM3": true, "COM4": true, "COM5": true, "COM6": true, "COM7": true, "COM8": true, "COM9": true,
	"LPT1": true, "LPT2": true, "LPT3": true, "LPT4": true, "LPT5": true, "LPT6": true, "LPT7": true, "LPT8": true, "LPT9": true,
}

// SanitizeFileName turns a file name a sender declared into one that is
// safe to store, show and offer for download: valid UTF-8, its last path
// component only (no / or \), no control or invisible formatting
// characters (such as the right-to-left override that disguises
// "photo\u202Egpj.exe"), none of Windows' reserved characters or names, no
// leading dots or spaces, no trailing dots or spaces, at most
// MaxFileNameBytes bytes with the extension kept. A name that is empty
// afterwards is made from the kind and extension of contentType, the
// sniffed type: "image.jpg", "document.pdf".
func SanitizeFileName(name, contentType string) string {
	name = strings.ToValidUTF8(name, "_")
	// Only the last component: a sender's directories mean nothing here.
	name = strings.ReplaceAll(name, `\`, "/")
	name = strings.TrimRight(name, "/")
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	var b strings.Builder
	space := false
	for _, r := range name {
		switch {
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r), unicode.Is(unicode.Co, r), r == utf8.RuneError:
			continue // invisible or meaningless: drop
		case unicode.IsSpace(r):
			// Any run of (possibly exotic) spaces becomes one plain space.
			if !space {
				b.WriteByte(' ')
			}
			space = true
			continue
		case strings.ContainsRune(`<>:"|?*`, r):
			r = '_'
		}
		space = false
		b.WriteRune(r)
	}
	name = strings.Trim(b.String(), " ")
	name = strings.TrimLeft(name, ". ")
	name = strings.TrimRight(name, ". ")
	if name == "" {
		return string(gateway.MediaKindOf(contentType)) + Extension(contentType)
	}
	ext := path.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	if len(ext) > maxExtBytes {
		stem, ext = name, ""
	}
	if windowsReserved[strings.ToUpper(strings.TrimRight(stem, " "))] {
		stem = "_" + stem
	}
	if len(stem)+len(ext) > MaxFileNameBytes {
		stem = truncateUTF8(stem, MaxFileNameBytes-len(ext))
		stem = strings.TrimRight(stem, ". ")
		if stem == "" {
			stem = string(gateway.MediaKindOf(contentType))
		}
	}
	return stem + ext
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

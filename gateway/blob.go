package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"mime"
	"strings"
	"time"
)

// Errors of a BlobStore, for callers to branch on with errors.Is.
var (
	// ErrBlobNotFound: no blob has that hash (never stored, or deleted).
	ErrBlobNotFound = errors.New("blob not found")
	// ErrBlobTooLarge: a Put read more bytes than its limit; nothing was
	// kept. The error is a *BlobTooLargeError, which says the limit.
	ErrBlobTooLarge = errors.New("blob too large")
	// ErrInvalidBlobID: a hash that is not 64 lowercase hexadecimal digits.
	// Stores check it before they touch storage, so a key can never name
	// anything but a blob.
	ErrInvalidBlobID = errors.New("invalid blob id: want 64 lowercase hex digits (sha256)")
)

// BlobTooLargeError is the error of a Put that went over its size limit.
// errors.Is(err, ErrBlobTooLarge) holds for it.
type BlobTooLargeError struct {
	// Limit is the size limit in bytes that the content went over.
	Limit int64
}

func (e *BlobTooLargeError) Error() string {
	return fmt.Sprintf("blob too large: more than %d bytes", e.Limit)
}

// Is makes errors.Is(err, ErrBlobTooLarge) true.
func (e *BlobTooLargeError) Is(target error) bool { return target == ErrBlobTooLarge }

// ValidBlobID reports whether id is a blob key: the lowercase hex sha256 of
// the content (64 characters from 0-9a-f). Being that and nothing else is
// what makes a key safe against path traversal by construction.
func ValidBlobID(id string) bool {
	if len(id) != 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// MediaKind is what an attachment is to a person: the desk shows an image
// inline, plays audio and video, offers a document for download.
type MediaKind string

// Media kinds (R39).
const (
	MediaImage    MediaKind = "image"
	MediaAudio    MediaKind = "audio"
	MediaVideo    MediaKind = "video"
	MediaDocument MediaKind = "document"
	MediaSticker  MediaKind = "sticker"
)

// MediaKindOf maps a content type (parameters allowed) to its kind.
// image/webp is a sticker, because that is what WhatsApp sends as webp;
// a channel that knows better (whatsmeow's StickerMessage or ImageMessage)
// sets the kind itself. SVG is a document, not an image: it can carry
// script, so a desk must not render it inline. Anything unknown is a
// document.
func MediaKindOf(contentType string) MediaKind {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(contentType))
	}
	switch {
	case mt == "image/webp":
		return MediaSticker
	case mt == "image/svg+xml":
		return MediaDocument
	case strings.HasPrefix(mt, "image/"):
		return MediaImage
	case strings.HasPrefix(mt, "audio/"):
		return MediaAudio
	case strings.HasPrefix(mt, "video/"):
		return MediaVideo
	}
	return MediaDocument
}

// BlobRef is what records and events carry for stored media instead of its
// bytes (R39): the content address and what is known about the content.
// ContentType is sniffed from the bytes by the store; DeclaredContentType
// is what the sender claimed, kept for the record but never trusted.
type BlobRef struct {
	// SHA256 is the lowercase hex sha256 of the bytes and the blob's key.
	SHA256 string `json:"sha256"`
	// Size is the number of bytes.
	Size int64 `json:"size"`
	// ContentType is the type sniffed from the bytes.
	ContentType string `json:"content_type"`
	// DeclaredContentType is the type the sender declared, if any.
	DeclaredContentType string `json:"declared_content_type,omitempty"`
	// FileName is the declared file name, sanitised (never a path), or
	// one made from the sniffed type when none was declared.
	FileName string `json:"file_name"`
	// Kind is MediaKindOf(ContentType).
	Kind MediaKind `json:"kind"`
}

// BlobPut describes content to store: what its sender declared about it
// and how much of it the caller is willing to keep.
type BlobPut struct {
	// ContentType is the declared content type (recorded, not trusted).
	ContentType string
	// FileName is the declared file name, sanitised before it is recorded.
	FileName string
	// MaxBytes bounds the content: reading more aborts the Put with a
	// *BlobTooLargeError and keeps nothing. Zero or less: the store's
	// default limit.
	MaxBytes int64
}

// BlobInfo is what a store knows about one stored blob.
type BlobInfo struct {
	SHA256 string
	Size   int64
	// StoredAt is when the blob was last stored: its first Put, or a later
	// Put of the same bytes, which refreshes it so that garbage collection
	// does not delete a blob that was just referenced again.
	StoredAt time.Time
}

// BlobReader reads one stored blob. Seek and ReadAt make it fit for
// http.ServeContent and range requests; the caller closes it.
type BlobReader interface {
	io.ReadSeekCloser
	io.ReaderAt
	// Info describes the blob being read.
	Info() BlobInfo
}

// BlobStore keeps media bytes outside Kafka and PostgreSQL, addressed by
// their sha256 (R39, R40). Implementations: gateway/blob's filesystem and
// S3-compatible stores. All methods are safe for concurrent use.
type BlobStore interface {
	// Put streams r into the store and returns its reference. The bytes
	// are never held in memory whole; a reader sees a blob complete or
	// not at all. The same bytes stored twice are kept once: the second
	// Put returns the same SHA256 and refreshes StoredAt.
	Put(ctx context.Context, r io.Reader, p BlobPut) (BlobRef, error)
	// Open returns a reader of the blob; ErrBlobNotFound if there is none.
	Open(ctx context.Context, sha256 string) (BlobReader, error)
	// Stat describes the blob; ErrBlobNotFound if there is none.
	Stat(ctx context.Context, sha256 string) (BlobInfo, error)
	// Delete removes the blob if it was last stored before cutoff (any
	// time when cutoff is zero) and reports whether it did. A blob stored
	// again since cutoff is kept: that is how garbage collection avoids
	// deleting bytes that a concurrent Put has just handed out again.
	// ErrBlobNotFound if there is no such blob.
	Delete(ctx context.Context, sha256 string, cutoff time.Time) (bool, error)
	// List yields every stored blob, in no particular order; blobs still
	// being written are not listed. Stop early by breaking out of the loop.
	List(ctx context.Context) iter.Seq2[BlobInfo, error]
}

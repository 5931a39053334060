package whatsapp

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"go.mau.fi/whatsmeow"

	"github.com/chatgate/chatgate/gateway"
)

// Downloader fetches and decrypts the attachment of a media message.
// *whatsmeow.Client implements it.
type Downloader interface {
	Download(ctx context.Context, msg whatsmeow.DownloadableMessage) ([]byte, error)
}

// BlobStore keeps media outside Kafka; records carry the URL Put returns.
// Keys are content-addressed, so storing the same attachment again (a
// redelivered message) overwrites it with the same bytes and URL.
// An S3-compatible store implements the same two methods.
type BlobStore interface {
	// Put stores the content of r under key and returns the URL that
	// records reference it by.
	Put(ctx context.Context, key, contentType string, r io.Reader) (url string, err error)
}

// FileStore is a BlobStore on the local filesystem, the default.
type FileStore struct {
	// Dir is where blobs are written, created on demand.
	Dir string
	// BaseURL, when set, is the URL prefix under which Dir is served
	// (e.g. "https://media.example.com/whatsapp"); otherwise URLs are file:// URLs.
	BaseURL string
}

var _ BlobStore = (*FileStore)(nil)

// Put writes r to Dir/key through a temporary file and a rename, so a
// reader never sees half a blob.
func (fs *FileStore) Put(ctx context.Context, key, _ string, r io.Reader) (string, error) {
	if key == "" || strings.Contains(key, "..") || filepath.IsAbs(key) {
		return "", fmt.Errorf("blob key %q: want a relative path without ..", key)
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	path := filepath.Join(fs.Dir, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return "", fmt.Errorf("store blob %s: %w", key, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".blob-*")
	if err != nil {
		return "", fmt.Errorf("store blob %s: %w", key, err)
	}
	_, err = io.Copy(tmp, r)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return "", fmt.Errorf("store blob %s: %w", key, err)
	}
	if fs.BaseURL != "" {
		return strings.TrimRight(fs.BaseURL, "/") + "/" + key, nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("store blob %s: %w", key, err)
	}
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String(), nil
}

// UnavailableMediaURL prefixes the URL of an attachment that could not be
// stored: "unavailable:gone" (WhatsApp no longer has it),
// "unavailable:too_large", "unavailable:corrupt". The record still says
// what was sent (type, name, size, caption), so an agent can ask again.
const UnavailableMediaURL = "unavailable:"

// DefaultMaxMediaBytes is the largest attachment MediaSaver downloads.
const DefaultMaxMediaBytes = 64 << 20

// MediaSaver downloads attachments and puts them into a blob store.
type MediaSaver struct {
	Downloader Downloader
	Store      BlobStore
	// MaxBytes bounds the attachment size (as WhatsApp announces it);
	// larger ones are referenced as "unavailable:too_large". Default
	// DefaultMaxMediaBytes.
	MaxBytes int64
}

// mediaInfo is what every whatsmeow media message has.
type mediaInfo interface {
	whatsmeow.DownloadableMessage
	GetMimetype() string
	GetFileLength() uint64
}

// errMediaUnavailable marks a download that will never succeed; the
// message is recorded with an unavailable: URL rather than retried forever.
type errMediaUnavailable struct{ reason string }

func (e errMediaUnavailable) Error() string { return "media unavailable: " + e.reason }

// save downloads one attachment and returns its reference. Errors are
// temporary (the event is not acknowledged and WhatsApp redelivers it);
// permanent failures become an unavailable: URL instead.
func (ms *MediaSaver) save(ctx context.Context, msgID string, m mediaInfo, fileName string) (gateway.Media, error) {
	ref := gateway.Media{
		ContentType: m.GetMimetype(),
		FileName:    fileName,
		Size:        int64(m.GetFileLength()),
		SHA256:      hex.EncodeToString(m.GetFileSHA256()),
	}
	if ms == nil || ms.Downloader == nil || ms.Store == nil {
		return ref, errors.New("media: no downloader or blob store configured")
	}
	max := ms.MaxBytes
	if max <= 0 {
		max = DefaultMaxMediaBytes
	}
	if ref.Size > max {
		ref.URL = UnavailableMediaURL + "too_large"
		return ref, nil
	}
	data, err := ms.Downloader.Download(ctx, m)
	if err != nil {
		if reason, permanent := classifyDownloadError(err); permanent {
			ref.URL = UnavailableMediaURL + reason
			return ref, nil
		}
		return ref, fmt.Errorf("download media of %s: %w", msgID, err)
	}
	if ref.Size == 0 {
		ref.Size = int64(len(data))
	}
	key := "whatsapp/" + blobName(msgID, ref.SHA256) + extensionFor(ref.ContentType, fileName)
	u, err := ms.Store.Put(ctx, key, ref.ContentType, bytes.NewReader(data))
	if err != nil {
		return ref, fmt.Errorf("store media of %s: %w", msgID, err)
	}
	ref.URL = u
	return ref, nil
}

func blobName(msgID, sha string) string {
	if sha != "" {
		return sha
	}
	return "id-" + hex.EncodeToString([]byte(msgID))
}

func extensionFor(contentType, fileName string) string {
	if ext := filepath.Ext(fileName); ext != "" && len(ext) <= 10 && !strings.ContainsAny(ext, `/\`) {
		return strings.ToLower(ext)
	}
	base, _, _ := strings.Cut(contentType, ";")
	switch strings.TrimSpace(base) {
	case "image/jpeg":
		return ".jpg"
	case "audio/ogg":
		return ".ogg"
	case "video/mp4":
		return ".mp4"
	case "image/webp":
		return ".webp"
	}
	if exts, err := mime.ExtensionsByType(base); err == nil && len(exts) > 0 {
		return exts[0]
	}
	return ""
}

// classifyDownloadError says whether a download failure is final.
func classifyDownloadError(err error) (reason string, permanent bool) {
	switch {
	case errors.Is(err, whatsmeow.ErrMediaDownloadFailedWith403),
		errors.Is(err, whatsmeow.ErrMediaDownloadFailedWith404),
		errors.Is(err, whatsmeow.ErrMediaDownloadFailedWith410),
		errors.Is(err, whatsmeow.ErrNoURLPresent),
		errors.Is(err, whatsmeow.ErrMediaNotAvailableOnPhone):
		return "gone", true
	case errors.Is(err, whatsmeow.ErrFileLengthMismatch),
		errors.Is(err, whatsmeow.ErrInvalidMediaHMAC),
		errors.Is(err, whatsmeow.ErrTooShortFile),
		errors.Is(err, whatsmeow.ErrInvalidMediaSHA256),
		errors.Is(err, whatsmeow.ErrInvalidMediaEncSHA256),
		errors.Is(err, whatsmeow.ErrUnknownMediaType),
		errors.Is(err, whatsmeow.ErrNothingDownloadableFound):
		return "corrupt", true
	}
	var e errMediaUnavailable
	if errors.As(err, &e) {
		return e.reason, true
	}
	return "", false
}

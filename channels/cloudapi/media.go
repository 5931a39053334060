package cloudapi

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"

	"github.com/chatgate/chatgate/gateway"
)

// Errors of DownloadMedia that no retry can overcome; the media step
// records the attachment as unavailable instead of trying again.
var (
	// ErrMediaGone: Meta no longer has the media (it keeps inbound media
	// for 30 days) or never had it.
	ErrMediaGone = errors.New("media gone")
	// ErrMediaTooLarge: the media is larger than Config.MaxMediaBytes.
	ErrMediaTooLarge = errors.New("media too large")
	// ErrMediaCorrupt: the bytes do not match the size or SHA-256 Meta announced.
	ErrMediaCorrupt = errors.New("media corrupt")
)

// MediaID returns the Graph API media id of a record's media URL
// ("cloudapi-media:ID"), and whether it is one.
func MediaID(ref string) (string, bool) {
	id, ok := strings.CutPrefix(ref, MediaRefPrefix)
	if q := strings.IndexByte(id, '?'); q >= 0 {
		id = id[:q]
	}
	return id, ok && isGraphID(id)
}

// MediaInfo is what the Graph API says about one media id.
type MediaInfo struct {
	ID       string `json:"id"`
	URL      string `json:"url"` // short-lived; needs the access token
	MimeType string `json:"mime_type"`
	SHA256   string `json:"sha256"`
	FileSize int64  `json:"file_size"`
}

// Media is a media download in progress: read Body to its end, then close
// it. Reading past the announced size or MaxMediaBytes, or to an end whose
// SHA-256 differs from Info's, fails with ErrMediaTooLarge or ErrMediaCorrupt.
type Media struct {
	Info MediaInfo
	Body io.ReadCloser
}

// MediaInfo looks up a media id: GET /{media-id}.
func (c *Client) MediaInfo(ctx context.Context, mediaID string) (MediaInfo, error) {
	if !isGraphID(mediaID) {
		return MediaInfo{}, fmt.Errorf("media id %q: %w", clip(mediaID, 64), ErrMediaGone)
	}
	var mi MediaInfo
	err := c.call(ctx, http.MethodGet, "/"+mediaID, nil, nil, "", &mi)
	var ge *GraphError
	switch {
	case errors.As(err, &ge) && (ge.HTTPStatus == http.StatusNotFound || ge.Code == 100):
		return MediaInfo{}, fmt.Errorf("media %s: %w (%w)", mediaID, ErrMediaGone, err)
	case err != nil:
		return MediaInfo{}, fmt.Errorf("media %s: %w", mediaID, err)
	case mi.URL == "":
		return MediaInfo{}, fmt.Errorf("media %s: the Graph API gave no URL: %w", mediaID, ErrMediaGone)
	}
	return mi, nil
}

// DownloadMedia streams the bytes of a media id: the media's URL from
// MediaInfo, then a GET of it with the access token, two requests as Meta
// documents. The bytes are not buffered; the caller streams Body into the
// blob store. Errors: ErrMediaGone, ErrMediaTooLarge (permanent), or a
// *GraphError / *TransportError (retry later).
func (c *Client) DownloadMedia(ctx context.Context, mediaID string) (*Media, error) {
	mi, err := c.MediaInfo(ctx, mediaID)
	if err != nil {
		return nil, err
	}
	if c.maxMedia > 0 && mi.FileSize > c.maxMedia {
		return nil, fmt.Errorf("media %s of %d bytes: %w (limit %d)", mediaID, mi.FileSize, ErrMediaTooLarge, c.maxMedia)
	}
	u, err := url.Parse(mi.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("media %s: the Graph API gave a URL that is not http(s)", mediaID)
	}
	resp, wrote, err := c.do(ctx, http.MethodGet, mi.URL, nil, nil, "")
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("download media %s: %w", mediaID, ctx.Err())
		}
		return nil, &TransportError{Wrote: wrote, Err: err}
	}
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		_ = resp.Body.Close()
		return nil, fmt.Errorf("media %s: HTTP %d: %w", mediaID, resp.StatusCode, ErrMediaGone)
	case resp.StatusCode/100 != 2:
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
		return nil, fmt.Errorf("download media %s: %w", mediaID, parseGraphError(resp.StatusCode, resp.Header, data, c.now()))
	}
	if mi.FileSize == 0 && resp.ContentLength > 0 {
		if c.maxMedia > 0 && resp.ContentLength > c.maxMedia {
			_ = resp.Body.Close()
			return nil, fmt.Errorf("media %s of %d bytes: %w (limit %d)", mediaID, resp.ContentLength, ErrMediaTooLarge, c.maxMedia)
		}
	}
	if mi.MimeType == "" {
		mi.MimeType = resp.Header.Get("Content-Type")
	}
	return &Media{Info: mi, Body: &checkedBody{rc: resp.Body, want: mi.FileSize, max: c.maxMedia, sha: mi.SHA256, h: sha256.New()}}, nil
}

// checkedBody checks a download's size and digest as it is read.
type checkedBody struct {
	rc   io.ReadCloser
	want int64 // announced size, 0 unknown
	max  int64
	sha  string // announced SHA-256, hex or base64; "" unknown
	h    hash.Hash
	n    int64
}

func (b *checkedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.n += int64(n)
	b.h.Write(p[:n])
	switch {
	case b.max > 0 && b.n > b.max:
		return n, fmt.Errorf("%w: more than %d bytes", ErrMediaTooLarge, b.max)
	case b.want > 0 && b.n > b.want:
		return n, fmt.Errorf("%w: more than the %d bytes announced", ErrMediaCorrupt, b.want)
	}
	if errors.Is(err, io.EOF) {
		if b.want > 0 && b.n != b.want {
			return n, fmt.Errorf("%w: %d bytes, %d announced", ErrMediaCorrupt, b.n, b.want)
		}
		if b.sha != "" && !digestMatches(b.sha, b.h.Sum(nil)) {
			return n, fmt.Errorf("%w: SHA-256 differs from the one announced", ErrMediaCorrupt)
		}
	}
	return n, err
}

func (b *checkedBody) Close() error { return b.rc.Close() }

// digestMatches compares an announced digest, hex or base64 (Meta has
// used both), with sum.
func digestMatches(announced string, sum []byte) bool {
	if d, err := hex.DecodeString(announced); err == nil && len(d) == len(sum) {
		return string(d) == string(sum)
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if d, err := enc.DecodeString(announced); err == nil && len(d) == len(sum) {
			return string(d) == string(sum)
		}
	}
	return true // not a digest chatgate can read: do not refuse the media for it
}

// StoreMedia is the media step's call for one inbound attachment whose URL
// is a media reference ("cloudapi-media:ID"): the bytes are downloaded
// (DownloadMedia) and streamed into store, never held whole, and the
// stored reference is returned. The declared content type and file name
// of m (from the webhook) go with the bytes; the store sniffs the real
// type. ErrMediaGone, ErrMediaTooLarge (also when the store's own limit
// is passed) and ErrMediaCorrupt are final: nothing is kept and no retry
// can help. Other errors are worth a retry.
func (c *Client) StoreMedia(ctx context.Context, store gateway.BlobStore, m gateway.Media) (gateway.BlobRef, error) {
	id, ok := MediaID(m.URL)
	if !ok {
		return gateway.BlobRef{}, fmt.Errorf("store media: %q is not a Cloud API media reference: %w", clip(m.URL, 64), ErrMediaGone)
	}
	dl, err := c.DownloadMedia(ctx, id)
	if err != nil {
		return gateway.BlobRef{}, err
	}
	defer func() { _ = dl.Body.Close() }()
	ct := m.ContentType
	if ct == "" {
		ct = dl.Info.MimeType
	}
	ref, err := store.Put(ctx, dl.Body, gateway.BlobPut{ContentType: ct, FileName: m.FileName, MaxBytes: c.maxMedia})
	switch {
	case errors.Is(err, gateway.ErrBlobTooLarge) && !errors.Is(err, ErrMediaTooLarge):
		return gateway.BlobRef{}, fmt.Errorf("store media %s: %w (%w)", id, ErrMediaTooLarge, err)
	case err != nil:
		return gateway.BlobRef{}, fmt.Errorf("store media %s: %w", id, err)
	}
	return ref, nil
}

// UploadMedia uploads r as media of the business number phoneNumberID
// (POST /{phone-number-id}/media, multipart) and returns the media id to
// send it by. It streams r; bound the call with ctx.
func (c *Client) UploadMedia(ctx context.Context, phoneNumberID, contentType, fileName string, r io.Reader) (string, error) {
	if !isGraphID(phoneNumberID) {
		return "", fmt.Errorf("upload media: phone number id %q is not a Graph API id", clip(phoneNumberID, 64))
	}
	if contentType == "" || strings.ContainsAny(contentType, "\r\n\"") {
		return "", errors.New("upload media: a content type is required")
	}
	if fileName == "" {
		fileName = "file"
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := writeUpload(mw, contentType, fileName, r)
		if err == nil {
			err = mw.Close()
		}
		_ = pw.CloseWithError(err)
	}()
	var ans struct {
		ID string `json:"id"`
	}
	err := c.callWithin(ctx, 0, http.MethodPost, "/"+phoneNumberID+"/media", nil, pr, mw.FormDataContentType(), &ans)
	_ = pr.CloseWithError(errors.New("upload finished")) // stop the writer if the call ended early
	if err != nil {
		return "", fmt.Errorf("upload media: %w", err)
	}
	if ans.ID == "" {
		return "", errors.New("upload media: the Graph API answered without a media id")
	}
	return ans.ID, nil
}

func writeUpload(mw *multipart.Writer, contentType, fileName string, r io.Reader) error {
	for _, f := range [][2]string{{"messaging_product", "whatsapp"}, {"type", contentType}} {
		if err := mw.WriteField(f[0], f[1]); err != nil {
			return err
		}
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, strings.Map(func(r rune) rune {
		if r < 0x20 || r == '"' || r == '\\' {
			return '_'
		}
		return r
	}, fileName)))
	h.Set("Content-Type", contentType)
	part, err := mw.CreatePart(h)
	if err != nil {
		return err
	}
	_, err = io.Copy(part, r)
	return err
}

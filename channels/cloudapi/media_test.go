package cloudapi_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/chatgate/chatgate/channels/cloudapi"
	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/blob"
)

func newClient(t testing.TB, g *graphStandIn, f func(*cloudapi.Config)) *cloudapi.Client {
	t.Helper()
	cfg := testConfig(g.URL)
	if f != nil {
		f(&cfg)
	}
	c, err := cloudapi.NewClient(cfg, cloudapi.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// R50: media through the Graph API: media id → URL → bytes, both requests
// with the access token, streamed and checked against the size and SHA-256
// Meta announced; what can never be fetched is a permanent error.
func TestR50_MediaDownload(t *testing.T) {
	t.Parallel()
	content := bytes.Repeat([]byte("voice note "), 5000)
	sum := sha256.Sum256(content)
	cases := []struct {
		name     string
		info     func(base string) (int, string)
		bytes    func(w http.ResponseWriter)
		maxBytes int64
		want     error // nil: the content
	}{
		{"hex digest", func(base string) (int, string) {
			return 200, `{"url":"` + base + `/lookaside/1?ext=1&hash=x","mime_type":"audio/ogg","sha256":"` + hex.EncodeToString(sum[:]) + `","file_size":` + strconv.Itoa(len(content)) + `,"id":"1001","messaging_product":"whatsapp"}`
		}, nil, 0, nil},
		{"base64 digest, size unknown", func(base string) (int, string) {
			return 200, `{"url":"` + base + `/lookaside/1","mime_type":"audio/ogg","sha256":"` + base64.StdEncoding.EncodeToString(sum[:]) + `","id":"1001"}`
		}, nil, 0, nil},
		{"gone from the Graph API", func(string) (int, string) {
			return 404, `{"error":{"message":"Unsupported get request. Object with ID '1001' does not exist","code":100,"error_subcode":33}}`
		}, nil, 0, cloudapi.ErrMediaGone},
		{"gone from the media host", func(base string) (int, string) {
			return 200, `{"url":"` + base + `/lookaside/1","mime_type":"audio/ogg","id":"1001"}`
		}, func(w http.ResponseWriter) { w.WriteHeader(404) }, 0, cloudapi.ErrMediaGone},
		{"too large as announced", func(base string) (int, string) {
			return 200, `{"url":"` + base + `/lookaside/1","mime_type":"audio/ogg","file_size":` + strconv.Itoa(len(content)) + `,"id":"1001"}`
		}, nil, 1000, cloudapi.ErrMediaTooLarge},
		{"too large as streamed", func(base string) (int, string) {
			return 200, `{"url":"` + base + `/lookaside/1","mime_type":"audio/ogg","id":"1001"}`
		}, func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "audio/ogg")
			w.(http.Flusher).Flush()
			_, _ = w.Write(content)
		}, 1000, cloudapi.ErrMediaTooLarge},
		{"wrong digest", func(base string) (int, string) {
			return 200, `{"url":"` + base + `/lookaside/1","mime_type":"audio/ogg","sha256":"` + strings.Repeat("00", 32) + `","id":"1001"}`
		}, nil, 0, cloudapi.ErrMediaCorrupt},
		{"short", func(base string) (int, string) {
			return 200, `{"url":"` + base + `/lookaside/1","mime_type":"audio/ogg","file_size":` + strconv.Itoa(len(content)+1) + `,"id":"1001"}`
		}, nil, 0, cloudapi.ErrMediaCorrupt},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := newGraph(t)
			g.Answer = func(w http.ResponseWriter, r *http.Request, _ []byte) {
				switch r.URL.Path {
				case "/" + cloudapi.DefaultGraphVersion + "/1001":
					status, body := tc.info(g.URL)
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(status)
					_, _ = io.WriteString(w, body)
				case "/lookaside/1":
					if tc.bytes != nil {
						tc.bytes(w)
						return
					}
					_, _ = w.Write(content)
				default:
					w.WriteHeader(500)
				}
			}
			c := newClient(t, g, func(c *cloudapi.Config) { c.MaxMediaBytes = tc.maxBytes })
			var got []byte
			m, err := c.DownloadMedia(t.Context(), "1001")
			if err == nil {
				got, err = io.ReadAll(m.Body)
				_ = m.Body.Close()
			}
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("err = %v, want %v", err, tc.want)
				}
				return
			}
			if err != nil || !bytes.Equal(got, content) || m.Info.MimeType != "audio/ogg" {
				t.Fatalf("download: %d bytes (%s), %v", len(got), m.Info.MimeType, err)
			}
			for _, r := range g.requests() {
				if r.Auth != "Bearer "+testAccessToken {
					t.Errorf("%s without the access token", r.Path)
				}
			}
		})
	}
	if id, ok := cloudapi.MediaID("cloudapi-media:1001"); !ok || id != "1001" {
		t.Errorf("MediaID = %q, %v", id, ok)
	}
	if _, ok := cloudapi.MediaID("https://example.com/x.jpg"); ok {
		t.Error("a URL is not a media reference")
	}
}

// Media by id: the upload streams the file as multipart with its type and
// name, and the id Meta returns is what a send uses.
func TestMediaUpload(t *testing.T) {
	t.Parallel()
	g := newGraph(t)
	type upload struct{ product, typ, name, ct, content string }
	got := make(chan upload, 1)
	g.Answer = func(w http.ResponseWriter, r *http.Request, body []byte) {
		_, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || r.URL.Path != "/"+cloudapi.DefaultGraphVersion+"/"+testNumberID+"/media" {
			w.WriteHeader(400)
			return
		}
		mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		var u upload
		for {
			p, err := mr.NextPart()
			if err != nil {
				break
			}
			b, _ := io.ReadAll(p)
			switch p.FormName() {
			case "messaging_product":
				u.product = string(b)
			case "type":
				u.typ = string(b)
			case "file":
				u.name, u.ct, u.content = p.FileName(), p.Header.Get("Content-Type"), string(b)
			}
		}
		got <- u
		_ = json.NewEncoder(w).Encode(map[string]string{"id": "4490709327384033"})
	}
	c := newClient(t, g, nil)
	id, err := c.UploadMedia(t.Context(), testNumberID, "application/pdf", "quote.pdf", strings.NewReader("%PDF-1.7 quote"))
	if err != nil || id != "4490709327384033" {
		t.Fatalf("upload = %q, %v", id, err)
	}
	want := upload{"whatsapp", "application/pdf", "quote.pdf", "application/pdf", "%PDF-1.7 quote"}
	if u := <-got; u != want {
		t.Fatalf("upload %+v, want %+v", u, want)
	}
	if _, err := c.UploadMedia(t.Context(), "not-an-id", "image/png", "x.png", strings.NewReader("x")); err == nil {
		t.Fatal("upload to a malformed phone number id succeeded")
	}
}

// The media step's call: an inbound attachment's bytes from the Graph API
// into the blob store (the real filesystem store), streamed, with the
// declared type and name; what can never be stored keeps nothing.
func TestR50_StoreMediaInTheBlobStore(t *testing.T) {
	t.Parallel()
	content := append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte("invoice "), 4000)...)
	sum := sha256.Sum256(content)
	g := newGraph(t)
	g.Answer = func(w http.ResponseWriter, r *http.Request, _ []byte) {
		switch r.URL.Path {
		case "/" + cloudapi.DefaultGraphVersion + "/1005":
			_, _ = io.WriteString(w, `{"url":"`+g.URL+`/lookaside/5","mime_type":"application/pdf","sha256":"`+hex.EncodeToString(sum[:])+`","file_size":`+strconv.Itoa(len(content))+`,"id":"1005"}`)
		case "/lookaside/5":
			_, _ = w.Write(content)
		default:
			w.WriteHeader(404)
		}
	}
	store, err := blob.NewFileStore(t.TempDir(), blob.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, g, nil)
	ref, err := c.StoreMedia(t.Context(), store, gateway.Media{URL: "cloudapi-media:1005", ContentType: "application/pdf", FileName: "invoice 42.pdf"})
	if err != nil {
		t.Fatal(err)
	}
	if ref.SHA256 != hex.EncodeToString(sum[:]) || ref.Size != int64(len(content)) || ref.Kind != gateway.MediaDocument || ref.FileName == "" {
		t.Fatalf("ref %+v", ref)
	}
	rd, err := store.Open(t.Context(), ref.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rd)
	_ = rd.Close()
	if !bytes.Equal(got, content) {
		t.Fatal("stored bytes differ")
	}

	small := newClient(t, g, func(c *cloudapi.Config) { c.MaxMediaBytes = 100 })
	if _, err := small.StoreMedia(t.Context(), store, gateway.Media{URL: "cloudapi-media:1005"}); !errors.Is(err, cloudapi.ErrMediaTooLarge) {
		t.Fatalf("over the limit: %v, want ErrMediaTooLarge", err)
	}
	if _, err := c.StoreMedia(t.Context(), store, gateway.Media{URL: "https://example.com/x.pdf"}); !errors.Is(err, cloudapi.ErrMediaGone) {
		t.Fatalf("not a media reference: %v, want ErrMediaGone", err)
	}
	if _, err := c.StoreMedia(t.Context(), store, gateway.Media{URL: "cloudapi-media:999"}); !errors.Is(err, cloudapi.ErrMediaGone) {
		t.Fatalf("unknown media: %v, want ErrMediaGone", err)
	}
	n := 0
	for _, err := range store.List(t.Context()) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 1 {
		t.Fatalf("%d blobs stored, want 1", n)
	}
}

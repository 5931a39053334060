package blob_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/blob"
)

// TestR39_S3Store runs the store suite against a real MinIO server.
func TestR39_S3Store(t *testing.T) {
	t.Parallel()
	minioEndpoint(t) // skip (or fail under CI) once, here, when there is no server
	runStoreSuite(t, func(t *testing.T) storeUnderTest {
		o := s3Options(t)
		o.PartSize = blob.MinS3PartSize // several parts for the larger tests
		rec := &uploadRecorder{next: http.DefaultTransport}
		o.Transport = rec
		s, err := blob.NewS3Store(t.Context(), o)
		if err != nil {
			t.Fatal(err)
		}
		raw := rawClient(t)
		return storeUnderTest{store: s, leftovers: func(t *testing.T) []string {
			return s3Leftovers(t, raw, o.Bucket, "media/tmp/", rec.keys()...)
		}}
	})
}

// rawClient talks to the test server directly, to look behind the store.
func rawClient(t *testing.T) *minio.Client {
	t.Helper()
	c, err := minio.New(strings.TrimPrefix(minioEndpoint(t), "http://"), &minio.Options{
		Creds: credentials.NewStaticV4(minioUser, minioSecret, ""), Region: "us-east-1", BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// s3Leftovers lists temporary objects under prefix, and the incomplete
// multipart uploads to uploadKeys. MinIO lists uploads of one exact key
// only, not by prefix, so the keys come from an uploadRecorder.
func s3Leftovers(t *testing.T, c *minio.Client, bucket, prefix string, uploadKeys ...string) []string {
	t.Helper()
	var out []string
	for oi := range c.ListObjects(t.Context(), bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if oi.Err != nil {
			t.Fatal(oi.Err)
		}
		out = append(out, "object "+oi.Key)
	}
	for _, key := range uploadKeys {
		for up := range c.ListIncompleteUploads(t.Context(), bucket, key, false) {
			if up.Err != nil {
				t.Fatal(up.Err)
			}
			out = append(out, "upload "+up.Key)
		}
	}
	return out
}

// uploadRecorder is the store's HTTP transport in tests: it notes the
// key of every multipart upload the store starts (POST ?uploads).
type uploadRecorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	seen []string
}

func (u *uploadRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPost && r.URL.Query().Has("uploads") {
		// Path style: /bucket/key.
		_, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		u.mu.Lock()
		u.seen = append(u.seen, key)
		u.mu.Unlock()
	}
	return u.next.RoundTrip(r)
}

func (u *uploadRecorder) keys() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.seen...)
}

func TestS3StoreKeysAndPrefix(t *testing.T) {
	t.Parallel()
	s := newS3Store(t)
	raw := rawClient(t)
	ref, err := s.Put(t.Context(), bytes.NewReader([]byte("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Thandi\r\nEND:VCARD\r\n")),
		gateway.BlobPut{ContentType: "text/x-vcard"})
	if err != nil {
		t.Fatal(err)
	}
	if ref.ContentType != "text/vcard" || ref.FileName != "document.vcf" {
		t.Fatalf("ref = %+v", ref)
	}
	var keys []string
	for oi := range raw.ListObjects(t.Context(), s.Bucket(), minio.ListObjectsOptions{Recursive: true}) {
		if oi.Err != nil {
			t.Fatal(oi.Err)
		}
		keys = append(keys, oi.Key)
	}
	want := "media/blobs/" + ref.SHA256[:2] + "/" + ref.SHA256[2:4] + "/" + ref.SHA256
	if len(keys) != 1 || keys[0] != want {
		t.Fatalf("bucket holds %v, want [%s]", keys, want)
	}
}

// TestS3StoreAbortsAnOversizedUpload looks at what the store did on the
// wire: one multipart upload started, and nothing of it left.
func TestS3StoreAbortsAnOversizedUpload(t *testing.T) {
	t.Parallel()
	rec := &uploadRecorder{next: http.DefaultTransport}
	s := newS3Store(t, func(o *blob.S3Options) { o.Transport, o.PartSize = rec, blob.MinS3PartSize })
	_, err := s.Put(t.Context(), newPatternReader(12<<20), gateway.BlobPut{MaxBytes: 11 << 20})
	if !errors.Is(err, gateway.ErrBlobTooLarge) {
		t.Fatalf("err = %v", err)
	}
	keys := rec.keys()
	if len(keys) != 1 || !strings.HasPrefix(keys[0], "media/tmp/put-") {
		t.Fatalf("multipart uploads started: %v, want one to media/tmp/", keys)
	}
	if got := s3Leftovers(t, rawClient(t), s.Bucket(), "media/", keys...); len(got) != 0 {
		t.Fatalf("left %v", got)
	}
}

func TestS3StoreSweepTemp(t *testing.T) {
	t.Parallel()
	o := s3Options(t)
	s, err := blob.NewS3Store(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	raw := rawClient(t)
	// What a crash would leave: a completed temporary object and an
	// upload that was neither completed nor aborted.
	if _, err := raw.PutObject(t.Context(), o.Bucket, "media/tmp/put-crashed", bytes.NewReader([]byte("half")), 4, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	const interrupted = "media/tmp/put-interrupted"
	core := minio.Core{Client: raw}
	if _, err := core.NewMultipartUpload(t.Context(), o.Bucket, interrupted, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	// A cutoff in the past keeps both.
	if n, err := s.SweepTemp(t.Context(), time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("SweepTemp before: %d, %v", n, err)
	}
	if got := s3Leftovers(t, raw, o.Bucket, "media/tmp/", interrupted); len(got) != 2 {
		t.Fatalf("leftovers %v, want both kept", got)
	}
	if _, err := s.SweepTemp(t.Context(), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// The object goes. MinIO cannot list uploads by prefix, so the upload
	// is left to MinIO's own expiry of stale uploads (on AWS, SweepTemp
	// finds it; a lifecycle rule also does).
	got := s3Leftovers(t, raw, o.Bucket, "media/tmp/", interrupted)
	if len(got) != 1 || got[0] != "upload "+interrupted {
		t.Fatalf("left %v, want only the upload MinIO does not list", got)
	}
}

func TestNewS3StoreChecksItsOptions(t *testing.T) {
	t.Parallel()
	base := s3Options(t)
	for name, tc := range map[string]struct {
		mutate func(*blob.S3Options)
		want   string
	}{
		"no endpoint":        {func(o *blob.S3Options) { o.Endpoint = "" }, "Endpoint is required"},
		"endpoint with path": {func(o *blob.S3Options) { o.Endpoint += "/bucket" }, "without a path"},
		"no bucket":          {func(o *blob.S3Options) { o.Bucket = "" }, "Bucket is required"},
		"small parts":        {func(o *blob.S3Options) { o.PartSize = 1 << 20 }, "PartSize"},
		"huge limit":         {func(o *blob.S3Options) { o.MaxBytes = 6 << 30 }, "MaxBytes"},
		"missing bucket":     {func(o *blob.S3Options) { o.CreateBucket = false }, "does not exist"},
		"wrong secret":       {func(o *blob.S3Options) { o.SecretAccessKey = "wrong-secret-key" }, "bucket"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			o := base
			o.Bucket = "t-" + randomHex(t, 8)
			tc.mutate(&o)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			_, err := blob.NewS3Store(ctx, o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one saying %q", err, tc.want)
			}
		})
	}
}

package blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/chatgate/chatgate/gateway"
)

// S3 part sizes. S3 refuses parts under 5 MiB (but the last); the client
// holds one part in memory while it uploads it, so the part size is what a
// large Put costs in memory.
const (
	MinS3PartSize     int64 = 5 << 20
	DefaultS3PartSize int64 = 8 << 20
	// maxS3Bytes is the largest object one server-side copy can copy.
	maxS3Bytes int64 = 5 << 30
	// smallPutBytes: content up to this size is read whole and stored with
	// one PUT under its final key (its hash is known before the upload);
	// larger content streams through a multipart upload to a temporary key.
	smallPutBytes = 1 << 20
)

// S3Options configure an S3Store.
type S3Options struct {
	// Endpoint is the server: a URL ("https://s3.eu-west-1.amazonaws.com",
	// "http://127.0.0.1:9000") or host:port, which means https. Required.
	Endpoint string
	// Bucket holds the blobs. Required; it must exist unless CreateBucket.
	Bucket string
	// Region of the bucket; empty lets the client ask the server.
	Region string
	// AccessKeyID and SecretAccessKey are static credentials. Empty: the
	// usual chain (AWS_* and MINIO_* variables, ~/.aws/credentials, then
	// the instance's IAM role).
	AccessKeyID     string
	SecretAccessKey string
	// SessionToken goes with temporary static credentials.
	SessionToken string
	// PathStyle addresses the bucket in the path (host/bucket/key), as
	// MinIO and most self-hosted servers want, rather than as a virtual
	// host (bucket.host/key); false lets the client choose by endpoint.
	PathStyle bool
	// Prefix is prepended to every key ("chatgate/" keeps the blobs apart
	// from other data in a shared bucket). A slash is added if missing.
	Prefix string
	// PartSize of multipart uploads: what one large Put holds in memory.
	// Default DefaultS3PartSize; at least MinS3PartSize.
	PartSize int64
	// MaxBytes is the size limit of a Put that names none; default
	// DefaultMaxBytes, at most 5 GiB (one server-side copy).
	MaxBytes int64
	// CreateBucket creates Bucket when it does not exist (development and
	// tests; production buckets are made with their policies by operators).
	CreateBucket bool
	// Transport for the HTTP requests; default a clone of
	// http.DefaultTransport.
	Transport http.RoundTripper
}

// S3Store is a BlobStore in a bucket of an S3-compatible server (AWS S3,
// MinIO, Ceph, Garage, R2, …). Blobs are objects named
// <prefix>blobs/ab/cd/<sha256>. Small content is hashed in memory and PUT
// under that name at once; larger content streams through a multipart
// upload to <prefix>tmp/<random> while it is hashed, and is then copied
// server-side to its name, so a reader never sees a blob in part. Storing
// the same bytes again writes the object again with the same bytes,
// which refreshes its time for garbage collection.
type S3Store struct {
	client   *minio.Client
	bucket   string
	prefix   string
	partSize int64
	maxBytes int64
	bufs     sync.Pool // *[]byte of smallPutBytes+1
}

var _ gateway.BlobStore = (*S3Store)(nil)

// NewS3Store connects to the bucket and checks that it exists (or makes
// it, with CreateBucket), so a wrong endpoint, key or name fails at start
// rather than at the first attachment.
func NewS3Store(ctx context.Context, o S3Options) (*S3Store, error) {
	host, secure, err := parseEndpoint(o.Endpoint)
	if err != nil {
		return nil, err
	}
	if o.Bucket == "" {
		return nil, errors.New("blob s3 store: Bucket is required")
	}
	switch {
	case o.PartSize == 0:
		o.PartSize = DefaultS3PartSize
	case o.PartSize < MinS3PartSize:
		return nil, fmt.Errorf("blob s3 store: PartSize %d is below S3's minimum of %d", o.PartSize, MinS3PartSize)
	}
	switch {
	case o.MaxBytes <= 0:
		o.MaxBytes = DefaultMaxBytes
	case o.MaxBytes > maxS3Bytes:
		return nil, fmt.Errorf("blob s3 store: MaxBytes %d is above %d", o.MaxBytes, maxS3Bytes)
	}
	if o.Prefix != "" && !strings.HasSuffix(o.Prefix, "/") {
		o.Prefix += "/"
	}
	if strings.HasPrefix(o.Prefix, "/") {
		return nil, fmt.Errorf("blob s3 store: Prefix %q must not start with a slash", o.Prefix)
	}
	creds := credentials.NewStaticV4(o.AccessKeyID, o.SecretAccessKey, o.SessionToken)
	if o.AccessKeyID == "" {
		creds = credentials.NewChainCredentials([]credentials.Provider{
			&credentials.EnvAWS{}, &credentials.EnvMinio{}, &credentials.FileAWSCredentials{}, &credentials.IAM{},
		})
	}
	lookup := minio.BucketLookupAuto
	if o.PathStyle {
		lookup = minio.BucketLookupPath
	}
	transport := o.Transport
	if transport == nil {
		transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	client, err := minio.New(host, &minio.Options{
		Creds: creds, Secure: secure, Region: o.Region, BucketLookup: lookup, Transport: transport,
	})
	if err != nil {
		return nil, fmt.Errorf("blob s3 store %s: %w", o.Endpoint, err)
	}
	ok, err := client.BucketExists(ctx, o.Bucket)
	if err != nil {
		return nil, fmt.Errorf("blob s3 store %s: bucket %s: %w", o.Endpoint, o.Bucket, err)
	}
	if !ok {
		if !o.CreateBucket {
			return nil, fmt.Errorf("blob s3 store %s: bucket %s does not exist", o.Endpoint, o.Bucket)
		}
		if err := client.MakeBucket(ctx, o.Bucket, minio.MakeBucketOptions{Region: o.Region}); err != nil {
			return nil, fmt.Errorf("blob s3 store %s: create bucket %s: %w", o.Endpoint, o.Bucket, err)
		}
	}
	s := &S3Store{client: client, bucket: o.Bucket, prefix: o.Prefix, partSize: o.PartSize, maxBytes: o.MaxBytes}
	s.bufs.New = func() any { b := make([]byte, smallPutBytes+1); return &b }
	return s, nil
}

// parseEndpoint splits an endpoint into the host:port the client wants and
// whether it speaks TLS.
func parseEndpoint(ep string) (host string, secure bool, err error) {
	if ep == "" {
		return "", false, errors.New("blob s3 store: Endpoint is required")
	}
	if !strings.Contains(ep, "://") {
		return ep, true, nil
	}
	u, err := url.Parse(ep)
	if err != nil {
		return "", false, fmt.Errorf("blob s3 store: Endpoint %q: %w", ep, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return "", false, fmt.Errorf("blob s3 store: Endpoint %q: want http(s)://host[:port] without a path", ep)
	}
	return u.Host, u.Scheme == "https", nil
}

// Bucket is the bucket the store keeps its blobs in.
func (s *S3Store) Bucket() string { return s.bucket }

func (s *S3Store) key(sha string) (string, error) {
	if !gateway.ValidBlobID(sha) {
		return "", fmt.Errorf("blob %q: %w", sha, gateway.ErrInvalidBlobID)
	}
	return s.prefix + blobsDir + "/" + shard(sha), nil
}

// Put implements gateway.BlobStore.
func (s *S3Store) Put(ctx context.Context, r io.Reader, p gateway.BlobPut) (gateway.BlobRef, error) {
	in := newIntake(ctx, r, limitFor(p, s.maxBytes))
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	buf := *bp
	n, err := io.ReadFull(in, buf)
	switch {
	case in.err != nil:
		return gateway.BlobRef{}, fmt.Errorf("store blob: %w", in.err)
	case err == nil: // more than smallPutBytes: stream it
		return s.putLarge(ctx, in, buf[:n], p)
	case !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF):
		return gateway.BlobRef{}, fmt.Errorf("store blob: %w", err)
	}
	ref := in.ref(p)
	key, err := s.key(ref.SHA256)
	if err != nil {
		return gateway.BlobRef{}, err
	}
	if _, err := s.client.PutObject(ctx, s.bucket, key, bytes.NewReader(buf[:n]), int64(n),
		minio.PutObjectOptions{ContentType: typeOctetStream, DisableMultipart: true}); err != nil {
		return gateway.BlobRef{}, fmt.Errorf("store blob %s: %w", ref.SHA256, err)
	}
	return ref, nil
}

// putLarge streams head and the rest of in to a temporary object, then
// copies it to its name. A failed or oversized upload is aborted by the
// client (no parts are left), and the temporary object is always removed.
func (s *S3Store) putLarge(ctx context.Context, in *intake, head []byte, p gateway.BlobPut) (gateway.BlobRef, error) {
	tmp := s.prefix + tmpDir + "/" + tmpPutPrefix + randomSuffix()
	// Cleanup must happen even when ctx was what ended the upload.
	cleanupCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	_, err := s.client.PutObject(ctx, s.bucket, tmp, io.MultiReader(bytes.NewReader(head), in), -1,
		minio.PutObjectOptions{ContentType: typeOctetStream, PartSize: uint64(s.partSize)})
	if err != nil {
		// The client aborts its multipart upload but ignores a failure to;
		// try once more, and make sure no object was completed either.
		_ = s.client.RemoveIncompleteUpload(cleanupCtx, s.bucket, tmp)
		_ = s.client.RemoveObject(cleanupCtx, s.bucket, tmp, minio.RemoveObjectOptions{})
		switch {
		case in.err != nil:
			err = in.err // ours (too large, cancelled) rather than how the client saw it
		case ctx.Err() != nil:
			err = ctx.Err()
		}
		return gateway.BlobRef{}, fmt.Errorf("store blob: %w", err)
	}
	defer func() { _ = s.client.RemoveObject(cleanupCtx, s.bucket, tmp, minio.RemoveObjectOptions{}) }()
	ref := in.ref(p)
	key, err := s.key(ref.SHA256)
	if err != nil {
		return gateway.BlobRef{}, err
	}
	if _, err := s.client.CopyObject(ctx, minio.CopyDestOptions{Bucket: s.bucket, Object: key},
		minio.CopySrcOptions{Bucket: s.bucket, Object: tmp}); err != nil {
		return gateway.BlobRef{}, fmt.Errorf("store blob %s: %w", ref.SHA256, err)
	}
	return ref, nil
}

// s3Reader is an open blob: minio's Object reads, seeks (a new ranged GET
// from the offset) and reads at offsets.
type s3Reader struct {
	*minio.Object
	info gateway.BlobInfo
}

func (r *s3Reader) Info() gateway.BlobInfo { return r.info }

// Open implements gateway.BlobStore. The object is fetched as it is read;
// ctx bounds the whole reading.
func (s *S3Store) Open(ctx context.Context, sha string) (gateway.BlobReader, error) {
	key, err := s.key(sha)
	if err != nil {
		return nil, err
	}
	obj, err := s.client.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, s3Error(sha, err)
	}
	oi, err := obj.Stat()
	if err != nil {
		_ = obj.Close()
		return nil, s3Error(sha, err)
	}
	return &s3Reader{Object: obj, info: s3Info(sha, oi)}, nil
}

// Stat implements gateway.BlobStore.
func (s *S3Store) Stat(ctx context.Context, sha string) (gateway.BlobInfo, error) {
	key, err := s.key(sha)
	if err != nil {
		return gateway.BlobInfo{}, err
	}
	oi, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return gateway.BlobInfo{}, s3Error(sha, err)
	}
	return s3Info(sha, oi), nil
}

func s3Info(sha string, oi minio.ObjectInfo) gateway.BlobInfo {
	return gateway.BlobInfo{SHA256: sha, Size: oi.Size, StoredAt: oi.LastModified.UTC()}
}

func s3Error(sha string, err error) error {
	if e := minio.ToErrorResponse(err); e.Code == minio.NoSuchKey || e.StatusCode == http.StatusNotFound {
		return fmt.Errorf("blob %s: %w", sha, gateway.ErrBlobNotFound)
	}
	return fmt.Errorf("blob %s: %w", sha, err)
}

// Delete implements gateway.BlobStore. S3 has no conditional delete that
// every server supports, so the time is checked with a HEAD just before
// the DELETE: a Put of the same bytes that lands between the two is lost
// with the blob. GC only deletes blobs unreferenced for its whole grace
// period, which makes that a Put of long-forgotten bytes within
// milliseconds of their collection.
func (s *S3Store) Delete(ctx context.Context, sha string, cutoff time.Time) (bool, error) {
	key, err := s.key(sha)
	if err != nil {
		return false, err
	}
	oi, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return false, s3Error(sha, err)
	}
	if !cutoff.IsZero() && !oi.LastModified.Before(cutoff) {
		return false, nil
	}
	if err := s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{}); err != nil {
		return false, s3Error(sha, err)
	}
	return true, nil
}

// List implements gateway.BlobStore.
func (s *S3Store) List(ctx context.Context) iter.Seq2[gateway.BlobInfo, error] {
	return func(yield func(gateway.BlobInfo, error) bool) {
		ctx, cancel := context.WithCancel(ctx) // stops the client's listing if the loop breaks
		defer cancel()
		root := s.prefix + blobsDir + "/"
		for oi := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: root, Recursive: true}) {
			if oi.Err != nil {
				yield(gateway.BlobInfo{}, fmt.Errorf("list blobs: %w", oi.Err))
				return
			}
			sha := oi.Key[strings.LastIndexByte(oi.Key, '/')+1:]
			if !gateway.ValidBlobID(sha) || oi.Key != root+shard(sha) {
				continue // not one of ours
			}
			if !yield(s3Info(sha, oi), nil) {
				return
			}
		}
	}
}

// SweepTemp removes temporary objects of large Puts that a crash left
// behind, and multipart uploads to them that were never completed or
// aborted, if older than cutoff. A bucket lifecycle rule that aborts
// incomplete multipart uploads after a day does the second as well, on
// servers that support one.
func (s *S3Store) SweepTemp(ctx context.Context, cutoff time.Time) (int, error) {
	root := s.prefix + tmpDir + "/"
	removed := 0
	var errs []error
	for oi := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: root, Recursive: true}) {
		if oi.Err != nil {
			return removed, fmt.Errorf("sweep blob temp objects: %w", oi.Err)
		}
		if !oi.LastModified.Before(cutoff) {
			continue
		}
		if err := s.client.RemoveObject(ctx, s.bucket, oi.Key, minio.RemoveObjectOptions{}); err != nil {
			errs = append(errs, fmt.Errorf("remove blob temp object %s: %w", oi.Key, err))
			continue
		}
		removed++
	}
	for up := range s.client.ListIncompleteUploads(ctx, s.bucket, root, true) {
		if up.Err != nil {
			if e := minio.ToErrorResponse(up.Err); e.Code == "NotImplemented" {
				break // the server cannot list uploads by prefix; its lifecycle rules must do it
			}
			errs = append(errs, fmt.Errorf("list incomplete blob uploads: %w", up.Err))
			break
		}
		if !up.Initiated.Before(cutoff) {
			continue
		}
		if err := s.client.RemoveIncompleteUpload(ctx, s.bucket, up.Key); err != nil {
			errs = append(errs, fmt.Errorf("abort blob upload %s: %w", up.Key, err))
			continue
		}
		removed++
	}
	return removed, errors.Join(errs...)
}
